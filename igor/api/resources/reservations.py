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
        "patch": Op("Edit a reservation, one operation at a time: {extend} or {extendMax: true}, {drop}, "
                    "{addNodeList} or {addNodeCount}, {distro} or {profile}; or any of {name, description, owner, "
                    "group, kernelArgs} together. dryRun answers without writing. Owners may make every edit "
                    "(owner changes need elevation), group members only extend",
                    data=("reservation",),
                    body=(Field("extend", (str, float), doc="a duration string or the new end as epoch seconds"),
                          Field("extendMax", bool),
                          Field("drop", max_len=4096, doc="hosts to remove, e.g. kn[2-3] (not all of them)"),
                          Field("addNodeList", max_len=4096, doc="hosts to add over the same window, e.g. kn[5-6]"),
                          Field("addNodeCount", int, doc="how many hosts to add over the same window"),
                          Field("name", max_len=64, doc="new name, 3-24 characters"),
                          Field("description", max_len=256),
                          Field("owner", max_len=32, doc="new owner (elevated only)"),
                          Field("group", max_len=64, doc="new group, or none for the owner's private group"),
                          Field("distro", max_len=64, doc="switch to this distro (a new temporary profile)"),
                          Field("profile", max_len=64, doc="switch to this profile of the owner"),
                          Field("kernelArgs", max_len=1024, doc="kernel args of the temporary profile"),
                          Field("dryRun", bool, doc="decide but write nothing"))),
        "delete": Op("Delete a reservation (owner, group members, admins)"),
    }

    def on_patch(self, req: falcon.Request, resp: falcon.Response, resName: str) -> None:  # noqa: N803
        data = self.body(req, "patch")
        dry = bool(data.pop("dryRun", False))
        self.services.reservation_edits.check_combination(data)
        if "extend" in data:
            view, message, _ = self.services.reservations.extend_or_dry_run(
                self.principal(req), resName, extend=data["extend"], dry_run=dry)
        elif "extendMax" in data:
            if data["extendMax"] is not True:
                raise BadInput("invalid parameter 'extendMax': must be boolean=true to have effect")
            view, message, _ = self.services.reservations.extend_or_dry_run(
                self.principal(req), resName, extend_max=True, dry_run=dry)
        else:
            view, message, _ = self.services.reservation_edits.edit_or_dry_run(
                self.principal(req), resName, data, dry_run=dry)
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
