"""``/igor/reservations``, ``/igor/reservations/{resName}`` and ``/igor/reservations/speculate``."""

from __future__ import annotations

import falcon

from igor.api.envelope import NO_RESULTS, respond
from igor.api.params import Field
from igor.api.resources import Op, Resource
from igor.errors import BadInput

CREATE_FIELDS = (
    Field("name", required=True, max_len=64, doc="3-24 characters"),
    Field("nodeList", max_len=4096, doc="hosts by name, e.g. kn[1-4,7] (or nodeCount)"),
    Field("nodeCount", int, doc="how many hosts (or nodeList)"),
    Field("start", float, doc="start, epoch seconds (default now)"),
    Field("duration", (str, float), doc="a duration string (3d, 5h30m, 90) or the end as epoch seconds"),
    Field("group", max_len=64), Field("description", max_len=256), Field("owner", max_len=32),
    Field("distro", max_len=64), Field("profile", max_len=64), Field("kernelArgs", max_len=1024),
    Field("vlan", max_len=64), Field("noCycle", bool),
    Field("where", max_len=1024, doc="host attribute filter for nodeCount, e.g. gpu=a100,ram_gb>=256"),
    Field("dryRun", bool, doc="decide but write nothing"),
)


class ReservationCollection(Resource):
    OPS = {
        "post": Op("Create a reservation by name (nodeList) or by count (nodeCount); dryRun answers without "
                   "writing", ok=201, data=("reservation",), body=CREATE_FIELDS,
                   also={200: "dryRun: what would be created"}),
        "get": Op("Show reservations: your own and your groups' (all=true for every one)", data=("reservations",),
                  query=(Field("all", bool), Field("name", repeat=True), Field("owner", repeat=True),
                         Field("group", repeat=True), Field("distro", repeat=True), Field("profile", repeat=True))),
    }

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        data = self.body(req, "post")
        placed = self.services.reservations.create_or_dry_run(self.principal(req), data)
        view = placed.view
        if placed.dry_run:
            respond(resp, 200, f"dry run: reservation '{view.name}' would get {view.host_range}",
                    {"reservation": [view.to_json()]})
        else:
            respond(resp, 201, "", {"reservation": [view.to_json()]})

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = self.query(req, "get")
        views = self.services.reservations.show(self.principal(req), q)
        respond(resp, 200, "" if views else NO_RESULTS, {"reservations": [v.to_json() for v in views]})


class ReservationItem(Resource):
    OPS = {
        "patch": Op("Edit a reservation: {extend: duration or end epoch} or {extendMax: true}, with dryRun",
                    body=(Field("extend", (str, float), doc="a duration string or the new end as epoch seconds"),
                          Field("extendMax", bool), Field("dryRun", bool))),
        "delete": Op("Delete a reservation (owner, group members, admins)"),
    }

    def on_patch(self, req: falcon.Request, resp: falcon.Response, resName: str) -> None:  # noqa: N803
        data = self.body(req, "patch")
        dry = bool(data.pop("dryRun", False))
        if not data:
            raise BadInput("requested operation had no parameters")
        if "extend" in data and "extendMax" in data:
            raise BadInput("extend and extendMax cannot be used together")
        if "extend" in data:
            view, message, _ = self.services.reservations.extend_or_dry_run(
                self.principal(req), resName, extend=data["extend"], dry_run=dry)
        elif data.get("extendMax") is True:
            view, message, _ = self.services.reservations.extend_or_dry_run(
                self.principal(req), resName, extend_max=True, dry_run=dry)
        else:
            raise BadInput("invalid parameter 'extendMax': must be boolean=true to have effect")
        respond(resp, 200, message, {"reservation": [view.to_json()]})

    def on_delete(self, req: falcon.Request, resp: falcon.Response, resName: str) -> None:  # noqa: N803
        self.services.reservations.delete(self.principal(req), resName)
        respond(resp, 200, "")


class Speculate(Resource):
    OPS = {"get": Op("The earliest windows in which a request would be granted now", data=("windows",),
                     query=(Field("nodes", required=True, doc="a count (4) or hosts (kn[1-4])"),
                            Field("duration", doc="default scheduler.defaultReserveTime"),
                            Field("after", int, doc="epoch seconds (default now)"),
                            Field("limit", int, doc="1-100, default 10"),
                            Field("where", doc="host attribute filter for counts")))}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = self.query(req, "get")
        windows = self.services.reservations.speculate(self.principal(req), q["nodes"], q.get("duration"),
                                                       q.get("after"), q.get("limit", 10), q.get("where"))
        respond(resp, 200, "" if windows else "no window in the scheduling horizon would work",
                {"windows": windows})
