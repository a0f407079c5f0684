"""The Falcon application: ``create_app(services)`` lists every route once and wires middleware and error
handlers; ``openapi_document()`` describes the same routes from the resources' declared operations.
"""

from __future__ import annotations

from typing import Any

import falcon

from igor import __version__
from igor.api import envelope, forms
from igor.api.middleware import Authenticate, CheckQuery, RequestId, RequireJson, ServerMode
from igor.api.resources import (
    Op,
    Resource,
    distros,
    hosts_ctrl,
    images,
    kickstarts,
    policies,
    profiles,
    show,
    stats,
    sync,
)
from igor.api.resources.auth import AuthReset, Elevate, Login
from igor.api.resources.cluster import Clusters, Hosts, Motd
from igor.api.resources.groups import GroupCollection, GroupItem
from igor.api.resources.meta import Health, OpenApi, PublicSettings, Settings
from igor.api.resources.reservations import ReservationCollection, ReservationItem, Speculate
from igor.api.resources.users import UserCollection, UserItem
from igor.errors import IgorError
from igor.services import Services

#: Every route of the API: (path template, resource class). The single list both the app and the document use.
ROUTES: tuple[tuple[str, type[Resource]], ...] = (
    ("/igor/health", Health),
    ("/igor/openapi.json", OpenApi),
    ("/igor/login", Login),
    ("/igor/elevate", Elevate),
    ("/igor/authreset", AuthReset),
    ("/igor/config/public", PublicSettings),
    ("/igor/config", Settings),
    ("/igor/users", UserCollection),
    ("/igor/users/{userName}", UserItem),
    ("/igor/groups", GroupCollection),
    ("/igor/groups/{groupName}", GroupItem),
    ("/igor/clusters", Clusters),
    ("/igor/clusters/motd", Motd),
    ("/igor/hosts", Hosts),
    ("/igor/reservations", ReservationCollection),
    ("/igor/reservations/speculate", Speculate),
    ("/igor/reservations/{resName}", ReservationItem),
    *policies.ROUTES,
    *hosts_ctrl.ROUTES,
    *show.ROUTES,
    *images.ROUTES,
    *kickstarts.ROUTES,
    *distros.ROUTES,
    *profiles.ROUTES,
    *sync.ROUTES,
    *stats.ROUTES,
)


def create_app(services: Services) -> falcon.App:
    """The API application for one server process."""
    middleware: list[Any] = [RequestId(), ServerMode(services.config.server.mode), Authenticate(services),
                              RequireJson(), CheckQuery()]
    app = falcon.App(middleware=middleware)
    json = envelope.OrjsonHandler()  # the show payload at size M is megabytes: stdlib json alone costs 40+ ms
    app.req_options.media_handlers.update({falcon.MEDIA_JSON: json})
    app.resp_options.media_handlers.update({falcon.MEDIA_JSON: json})
    app.req_options.media_handlers[falcon.MEDIA_MULTIPART] = forms.multipart_handler()
    app.req_options.strip_url_path_trailing_slash = True
    document = openapi_document()
    for path, cls in ROUTES:
        resource = OpenApi(services, document) if cls is OpenApi else cls(services)
        app.add_route(path, resource)
    app.add_error_handler(Exception, envelope.handle_unexpected)
    app.add_error_handler(falcon.HTTPError, envelope.handle_http_error)
    app.add_error_handler(IgorError, envelope.handle_igor_error)
    return app


#: gunicorn answers a request line (method, path and query) longer than its limit (4094 bytes) itself, with an HTML
#: page, before the request reaches Igor: any operation can get it, so every operation documents it.
_URI_TOO_LONG: dict[str, Any] = {
    "description": "request line longer than the server accepts (answered by gunicorn, not enveloped)",
    "content": {"text/html": {"schema": {"type": "string"}}}}

_AUTH_DOC: dict[str, list[dict[str, list[str]]]] = {
    "none": [], "basic": [{"basic": []}], "user": [{"bearer": []}], "admin": [{"bearer": []}]}


def _operation(path: str, method: str, op: Op) -> dict[str, Any]:
    out: dict[str, Any] = {"summary": op.summary, "operationId": f"{method}{_op_name(path)}",
                           "security": _AUTH_DOC[op.auth]}
    if op.auth == "admin":
        out["description"] = "Admin only: the caller must be igor-admin or an elevated member of admins."
    parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in _path_params(path)]
    for f in op.query:
        param: dict[str, Any] = {"name": f.name, "in": "query", "required": f.required, "schema": f.schema()}
        if f.repeat:
            param["style"], param["explode"] = "form", True
        if f.doc:
            param["description"] = f.doc
        parameters.append(param)
    if parameters:
        out["parameters"] = parameters
    if op.form:
        out["requestBody"] = {"required": any(f.required for f in op.form), "content": {forms.MULTIPART: {
            "schema": {"type": "object", "additionalProperties": False,
                       "properties": {f.name: _form_schema(f) for f in op.form},
                       **({"required": [f.name for f in op.form if f.required]}
                          if any(f.required for f in op.form) else {})}}}}
    if op.body:  # merged with the form's when an operation takes either (distros)
        body = out.setdefault("requestBody", {"required": False, "content": {}})
        body["required"] = body["required"] or any(f.required for f in op.body)
        body["content"]["application/json"] = {
            "schema": {"type": "object", "additionalProperties": False,
                       "properties": {f.name: f.schema() for f in op.body},
                       **({"required": [f.name for f in op.body if f.required]}
                          if any(f.required for f in op.body) else {})}}
    data_schema: dict[str, Any] = {"type": "object"}
    if op.data:
        data_schema["properties"] = {key: {} for key in op.data}
    if op.content != "application/json":
        text = {op.content: {"schema": {"type": "string"}}}
        out["responses"] = {str(op.ok): {"description": "success", "content": text}}
        for code, description in op.also.items():
            out["responses"][str(code)] = {"description": description,
                                           "content": {"text/plain": {"schema": {"type": "string"}}}}
        out["responses"]["414"] = _URI_TOO_LONG
        return out
    ok_schema = ({"$ref": "#/components/schemas/OpenApiDocument"} if path.endswith("openapi.json")
                 else _envelope_schema(data_schema))
    out["responses"] = {
        str(op.ok): {"description": "success", "content": {"application/json": {"schema": ok_schema}}},
        "4XX": {"description": "refused: the message says why",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}}}},
    }
    for code, description in op.also.items():
        out["responses"][str(code)] = {"description": description,
                                       "content": {"application/json": {"schema": _envelope_schema(data_schema)}}}
    out["responses"]["414"] = _URI_TOO_LONG
    return out


def _form_schema(f: Any) -> dict[str, Any]:
    """A form part's schema: files are binary strings; booleans and lists are sent as text parts."""
    schema = f.schema()
    if f.doc:
        schema["description"] = f.doc
    return schema


def _envelope_schema(data: dict[str, Any]) -> dict[str, Any]:
    return {"allOf": [{"$ref": "#/components/schemas/Envelope"}, {"type": "object", "properties": {"data": data}}]}


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _op_name(path: str) -> str:
    parts = [p.strip("{}").replace(".json", "").replace("-", "") for p in path.split("/")[2:]] or ["root"]
    return "".join(p[:1].upper() + p[1:] for p in parts)


def openapi_document() -> dict[str, Any]:
    """OpenAPI 3 description of every route in ``ROUTES``, built from each resource's ``OPS``."""
    paths: dict[str, Any] = {}
    for path, cls in ROUTES:
        paths[path] = {method: _operation(path, method, op) for method, op in cls.OPS.items()}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Igor", "version": __version__,
                 "description": "Node reservation manager. Every JSON answer is wrapped in Igor v2's envelope."},
        "paths": paths,
        "components": {
            "securitySchemes": {"basic": {"type": "http", "scheme": "basic"},
                                "bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Envelope": {"type": "object", "required": ["status", "message", "serverTime", "data"],
                             "properties": {"status": {"type": "string", "enum": ["success", "fail", "error"]},
                                            "message": {"type": "string"}, "serverTime": {"type": "string"},
                                            "data": {"type": "object"}}},
                "OpenApiDocument": {"type": "object", "required": ["openapi", "paths"]},
            },
        },
    }
