"""Cross-cutting request handling: request ids, authentication, content types and ``server.mode``.

Authentication resolves ``Authorization: Bearer <token>`` (or the ``auth_token`` cookie) into a ``Principal`` on
``req.context.principal``; routes marked public skip it. Igor v2's CLI (user agent ``IgorCLI*``) gets a 307 to
``/igor/login`` when its token is missing or stale, everyone else a 401. In ``read-only`` mode only reads (and
logins) are accepted; in ``read-delete`` mode deletes too.
"""

from __future__ import annotations

import os
import secrets
import socket

import falcon

from igor.errors import BadInput, Forbidden, IgorError
from igor.services import Services
from igor.services.auth import Unauthorized

#: Paths anyone may call without a token.
PUBLIC_PATHS = frozenset({"/igor/health", "/igor/openapi.json", "/igor/config/public", "/igor/login",
                          "/igor/public"})
#: POST/PUT/PATCH on these take no JSON body (Basic auth, or nothing at all).
NO_BODY_PATHS = frozenset({"/igor/login", "/igor/clusters", "/igor/authreset", "/igor/elevate"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_WORKER = f"{socket.gethostname()}:{os.getpid()}"


class RequestId:
    """Give each request an id (or keep the caller's ``X-Request-Id``), echoed in the response."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        given = req.get_header("X-Request-Id") or ""
        req.context.request_id = given[:64] if given.isprintable() and given else secrets.token_hex(8)
        resp.set_header("X-Request-Id", req.context.request_id)
        resp.set_header("X-Igor-Worker", _WORKER)  # which server process answered (logs, coherence tests)


class ServerMode:
    """Enforce ``server.mode``: ``read-only`` accepts reads, ``read-delete`` reads and deletes."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if self.mode == "normal" or req.method in READ_METHODS or req.path == "/igor/login":
            return
        if self.mode == "read-delete" and req.method == "DELETE":
            return
        allowed = "reads" if self.mode == "read-only" else "reads and deletes"
        raise Forbidden(f"the server is in {self.mode} mode (maintenance): only {allowed} are accepted")


class Authenticate:
    """Resolve the caller's token into ``req.context.principal``."""

    def __init__(self, services: Services) -> None:
        self.services = services

    @staticmethod
    def token(req: falcon.Request) -> str:
        header = req.get_header("Authorization") or ""
        if header[:7].lower() == "bearer ":
            return header[7:].strip()
        cookies = req.get_cookie_values("auth_token") or []
        return cookies[0] if cookies else ""

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource: object,
                         params: dict) -> None:
        req.context.principal = None
        if resource is None or req.path in PUBLIC_PATHS or req.method == "OPTIONS":
            return
        try:
            req.context.principal = self.services.auth.resolve(self.token(req))
        except Unauthorized:
            if (req.user_agent or "").startswith("IgorCLI"):
                raise falcon.HTTPTemporaryRedirect("/igor/login") from None
            raise


class CheckQuery:
    """Refuse query parameters an operation does not declare, on every method (not only on GETs)."""

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource: object,
                         params: dict) -> None:
        ops = getattr(resource, "OPS", None)
        op = ops.get(req.method.lower()) if ops else None
        if op is None or not req.params:
            return
        known = {f.name for f in op.query}
        for key, raw in req.params.items():
            if key not in known:
                values = raw if isinstance(raw, list) else [raw]
                raise BadInput(f"unknown parameter '{key}' received: [{' '.join(values)[:64]}]")


class RequireJson:
    """POST/PUT/PATCH bodies must be JSON (415 otherwise), as in Igor v2 — or multipart/form-data on the
    operations that declare a form (``Op.form``: images, kickstarts, distros); an operation declaring both a form
    and a JSON body (distros: v2 clients send forms, ours may send JSON) takes either."""

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource: object,
                         params: dict) -> None:
        if req.method not in ("POST", "PUT", "PATCH") or req.path in NO_BODY_PATHS or resource is None:
            return
        if not req.content_length:
            return  # an empty body: the resource says "requested operation had no parameters"
        if not hasattr(resource, f"on_{req.method.lower()}"):
            return  # a method the route does not have: falcon answers 405, whatever the body
        ops = getattr(resource, "OPS", None)
        op = ops.get(req.method.lower()) if ops else None
        form = op is not None and bool(getattr(op, "form", None))
        want = ["multipart/form-data"] if form else []
        if not form or getattr(op, "body", None):  # an operation declaring both takes either (distros)
            want.append("application/json")
        ctype = (req.content_type or "").split(";")[0].strip().lower()
        if ctype not in want:
            raise IgorError(f"need content-type {' or '.join(repr(w) for w in want)}, but got "
                            f"'{req.content_type or ''}'", status=415)
