"""``/igor/hosts/{hostName}`` (edit, delete) and ``/igor/hosts-ctrl/block`` (block, unblock) — admin operations
on hosts (reference §1.4, §2.4, §4.9) — and ``/igor/hosts-ctrl/power`` (power on, off, cycle; §4.11).

As in Igor v2, authorization of the admin operations is decided before the body is read (v2's authz layer runs
ahead of its validators), so a caller who may not act is told so whatever they sent. Power is authorized by the
service once it knows the hosts (v2 checked it in its handler too).

A power request whose hosts failed answers ``hosts with errors: [...]`` with the hosts' problems, and ``data``
keeps ``hosts`` (every target) and adds ``errors`` (host → problem): 502 when drivers or commands failed (a BMC,
hypervisor or script downstream of Igor), 501 when some hosts have no power control configured at all (then
nothing was powered). v2 answered 500 for both.
"""

from __future__ import annotations

import falcon

from igor.api.envelope import respond
from igor.api.params import Field
from igor.api.resources import Op, Resource


class HostItem(Resource):
    OPS = {
        "patch": Op("Edit a host (admin): hostname, ip, mac, eth, boot (bios or uefi), hostPolicy (\"\" for the "
                    "default policy); igor-clusters.yaml is rewritten, the old one kept as a timestamped .bak",
                    auth="admin",
                    body=(Field("hostname", max_len=253, doc="the real host name (power, permissions)"),
                          Field("ip", max_len=64, doc="IPv4 or IPv6 address"),
                          Field("mac", max_len=17, doc="six hex pairs, unique"),
                          Field("eth", max_len=24, doc="switch port, e.g. Et4/1/1"),
                          Field("boot", max_len=8, doc="bios or uefi"),
                          Field("hostPolicy", max_len=64, doc="an existing host policy; empty for the default"))),
        "delete": Op("Delete a host (admin); refused while it is in any reservation", auth="admin"),
    }

    def on_patch(self, req: falcon.Request, resp: falcon.Response, hostName: str) -> None:  # noqa: N803
        principal = self.principal(req)
        self.services.hosts.authorize(principal, hostName, "edit")
        data = self.body(req, "patch")
        respond(resp, 200, self.services.hosts.edit(principal, hostName, data))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, hostName: str) -> None:  # noqa: N803
        respond(resp, 200, self.services.hosts.delete(self.principal(req), hostName))


class HostBlock(Resource):
    OPS = {"patch": Op("Block (block=true) or unblock (block=false) hosts (elevated admins only): blocked hosts "
                       "cannot be newly reserved or extended onto; running reservations keep running",
                       auth="admin", data=("hosts",),
                       body=(Field("hosts", required=True, doc="host expression, e.g. kn[3-5,9]"),
                             Field("block", bool, required=True)))}

    def on_patch(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = self.principal(req)
        self.services.hosts.require_block(principal)
        data = self.body(req, "patch")
        names, message = self.services.hosts.block(principal, data["hosts"], data["block"])
        respond(resp, 200, message, {"hosts": names})


class HostPower(Resource):
    OPS = {"patch": Op("Power hosts on, off or through a cycle (cmd), named by a host expression (hosts) or a "
                       "reservation (resName), exactly one of them. Elevated admins may power any host; others the "
                       "hosts of active reservations they own or share through the reservation's group",
                       data=("hosts", "cmd", "errors"),
                       also={501: "some hosts have no power control configured: nothing was powered",
                             502: "some hosts failed (data.errors says why); the others were powered"},
                       body=(Field("cmd", required=True, max_len=16, doc="on, off or cycle"),
                             Field("hosts", doc="host expression, e.g. kn[3-5,9]"),
                             Field("resName", max_len=64, doc="a reservation: all its hosts")))}

    def on_patch(self, req: falcon.Request, resp: falcon.Response) -> None:
        data = self.body(req, "patch")
        outcome = self.services.host_power.power(self.principal(req), data["cmd"], hosts=data.get("hosts"),
                                                 res_name=data.get("resName"))
        code = 200 if not outcome.errors else 501 if outcome.unconfigured else 502
        respond(resp, code, outcome.message, outcome.to_json())


ROUTES: tuple[tuple[str, type[Resource]], ...] = (
    ("/igor/hosts/{hostName}", HostItem),
    ("/igor/hosts-ctrl/block", HostBlock),
    ("/igor/hosts-ctrl/power", HostPower),
)
