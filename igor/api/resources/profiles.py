"""``/igor/profiles`` and ``/igor/profiles/{profileName}``.

A profile is addressed per owner (``igor.services.profiles``): the item routes act on the caller's own profile of
that name; an elevated admin may name another owner with ``?owner=NAME``.
"""

from __future__ import annotations

import falcon

from igor.api.envelope import NO_RESULTS, respond
from igor.api.params import Field
from igor.api.resources import Op, Resource

OWNER = Field("owner", max_len=32, doc="elevated admins: whose profile (default: your own; needed only when several "
                                       "users have a profile of that name)")


class ProfileCollection(Resource):
    OPS = {
        "post": Op("Create one of your profiles: a distro you may use plus kernel args appended after the distro's",
                   ok=201, data=("profile",),
                   body=(Field("name", required=True, max_len=64, doc="3-24 characters, not starting tpf_"),
                         Field("distro", required=True, max_len=64),
                         Field("description", max_len=256), Field("kernelArgs", max_len=1024))),
        "get": Op("Show your profiles (every user's when elevated), temporary profiles of reservations included",
                  data=("profiles",),
                  query=(Field("name", repeat=True), Field("owner", repeat=True, doc="others' only when elevated"),
                         Field("kernelArgs", repeat=True, csv=False), Field("distro", repeat=True))),
    }

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        view = self.services.profiles.create(self.principal(req), self.body(req, "post"))
        respond(resp, 201, f"profile '{view.name}' created", {"profile": [view.to_json()]})

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        views = self.services.profiles.show(self.principal(req), self.query(req, "get"))
        respond(resp, 200, "" if views else NO_RESULTS, {"profiles": [v.to_json() for v in views]})


class ProfileItem(Resource):
    OPS = {
        "patch": Op("Edit one of your profiles: rename, description, kernel args. A reservation's temporary profile "
                    "becomes permanent", query=(OWNER,),
                    body=(Field("name", max_len=64, doc="new name, not starting tpf_"),
                          Field("description", max_len=256), Field("kernelArgs", max_len=1024))),
        "delete": Op("Delete one of your profiles; refused while a reservation uses it", query=(OWNER,)),
    }

    def on_patch(self, req: falcon.Request, resp: falcon.Response, profileName: str) -> None:  # noqa: N803
        q = self.query(req, "patch")
        data = self.body(req, "patch")
        respond(resp, 200, self.services.profiles.edit(self.principal(req), profileName, data, owner=q.get("owner")))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, profileName: str) -> None:  # noqa: N803
        q = self.query(req, "delete")
        respond(resp, 200, self.services.profiles.delete(self.principal(req), profileName, owner=q.get("owner")))


ROUTES: tuple[tuple[str, type[Resource]], ...] = (
    ("/igor/profiles", ProfileCollection),
    ("/igor/profiles/{profileName}", ProfileItem),
)
