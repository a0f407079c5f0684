"""``GET /igor`` (the landing view ``igor show`` draws) and ``GET /igor/public`` (CSV, when enabled)."""

from __future__ import annotations

import falcon

from igor.api.envelope import respond
from igor.api.resources import Op, Resource
from igor.errors import IgorError


class Show(Resource):
    OPS = {"get": Op("Everything igor show draws: cluster, hosts, every reservation, your profiles, distros and "
                     "groups", data=("show",))}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        respond(resp, 200, "", {"show": self.services.show.show(self.principal(req), encoded=True)})


class Public(Resource):
    OPS = {"get": Op("Every reservation as CSV (no auth; only when server.allowPublicShow)", auth="none",
                     content="text/csv", also={403: "not enabled on this server"})}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        try:
            text = self.services.show.public_csv()
        except IgorError as exc:
            resp.status = exc.status
            resp.content_type = falcon.MEDIA_TEXT
            resp.text = exc.message + "\n"
            return
        resp.content_type = "text/csv; charset=utf-8"
        resp.text = text


ROUTES: tuple[tuple[str, type[Resource]], ...] = (("/igor", Show), ("/igor/public", Public))
