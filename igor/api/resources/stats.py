"""``GET /igor/stats``: usage statistics from the reservation history (admins; reference §8.1)."""

from __future__ import annotations

import falcon

from igor.api.envelope import respond
from igor.api.params import Field
from igor.api.resources import Op, Resource


class Stats(Resource):
    OPS = {"get": Op(
        "Usage in a window of days: per owner and in all, reservations, nodes used, cancelled early, extensions, "
        "reservation time and node-hours (the records too with verbose=true)", auth="admin", data=("stats",),
        query=(Field("start", max_len=64, doc="the window's last day, 2006-Jan-02 or 2006-01-02 (00:00 UTC); "
                                               "default now"),
               Field("duration", int, doc="days the window reaches back from start: default 7, 0 = all history"),
               Field("verbose", bool, doc="also every history record and each owner's reservations"),
               Field("option", max_len=64, doc="Igor v2's option: only 'default'")))}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = self.query(req, "get")
        view = self.services.stats.stats(self.principal(req), start=q.get("start"), duration=q.get("duration"),
                                         verbose=bool(q.get("verbose")), option=q.get("option"))
        respond(resp, 200, "", {"stats": view.to_json()})


ROUTES: tuple[tuple[str, type[Resource]], ...] = (("/igor/stats", Stats),)
