"""``/igor/health``, ``/igor/openapi.json``, ``/igor/config`` and ``/igor/config/public``."""

from __future__ import annotations

from typing import Any

import falcon

from igor.api.envelope import respond
from igor.api.resources import Op, Resource


class Health(Resource):
    OPS = {"get": Op("Liveness and database reachability (no auth)", auth="none",
                     data=("ok", "database", "scheduleEpoch"), also={503: "database unreachable"})}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.query(req, "get")
        state = self.services.health()
        respond(resp, 200 if state["ok"] else 503, "ok" if state["ok"] else "database unreachable", state)


class OpenApi(Resource):
    OPS = {"get": Op("This document (OpenAPI 3)", auth="none")}

    def __init__(self, services: Any, document: dict[str, Any]) -> None:
        super().__init__(services)
        self.document = document

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.query(req, "get")
        resp.media = self.document


class PublicSettings(Resource):
    OPS = {"get": Op("Limits and features a client needs before logging in (no auth)", auth="none",
                     data=("igor",))}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.query(req, "get")
        respond(resp, 200, "", {"igor": self.services.settings.public()})


class Settings(Resource):
    OPS = {"get": Op("The server's whole configuration, passwords masked (admin)", auth="admin", data=("igor",))}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.query(req, "get")
        respond(resp, 200, "", {"igor": self.services.settings.full(self.principal(req))})
