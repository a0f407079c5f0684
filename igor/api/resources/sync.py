"""``GET /igor/sync`` (admin): ``igor sync arista`` — the switch's VLANs against Igor's, corrected with ``force``
(reference §2.4, §8.3; :mod:`igor.services.vlansync`).

As in Igor v2 the caller is authorized before the parameters are looked at; an unknown ``cmd`` and VLANs being
off (``vlan.network`` empty) are 400. A switch that cannot be read is 502 (v2: 500), with the switch and the
command in the message.
"""

from __future__ import annotations

import falcon

from igor.api.envelope import respond
from igor.api.params import Field
from igor.api.resources import Op, Resource


class Sync(Resource):
    OPS = {"get": Op("Compare each host's VLAN on the switch with its reservation's (admin); with force, set the "
                     "switch to Igor's VLAN where they differ. Scope: a node expression or reservation names "
                     "(comma list); default: every host in a running reservation",
                     auth="admin", data=("sync",), also={502: "the switch could not be read"},
                     query=(Field("cmd", required=True, max_len=32, doc="the switch kind: arista"),
                            Field("force", bool, doc="correct the switch where it differs from Igor"),
                            Field("quiet", bool, doc="report only the hosts out of sync"),
                            Field("scope", doc="a node expression (dn[1-4]) or reservation names, comma list")))}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = self.principal(req)
        self.services.vlansync.authorize(principal)
        q = self.query(req, "get")
        report = self.services.vlansync.sync(principal, q["cmd"], force=q.get("force", False),
                                             quiet=q.get("quiet", False), scope=q.get("scope"))
        respond(resp, 200, "", {"sync": report.to_json()})


ROUTES: tuple[tuple[str, type[Resource]], ...] = (("/igor/sync", Sync),)
