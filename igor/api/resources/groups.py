"""``/igor/groups`` and ``/igor/groups/{groupName}``."""

from __future__ import annotations

import falcon

from igor.api.envelope import NO_RESULTS, respond
from igor.api.params import Field
from igor.api.resources import Op, Resource
from igor.errors import BadInput
from igor.services.ldapsync import GROUP_SYNC_OFF


class GroupCollection(Resource):
    OPS = {
        "post": Op("Create a group; the caller becomes an owner. With isLDAP, an LDAP-synced group: owners and "
                   "members come from the LDAP group of that name", ok=201, data=("group",),
                   also={503: "isLDAP: the LDAP server cannot be reached"},
                   body=(Field("name", required=True, max_len=64), Field("owners", list, max_len=1000),
                         Field("members", list, max_len=10000), Field("description", max_len=256),
                         Field("isLDAP", bool))),
        "get": Op("Groups the caller may see, split into those they own and those they belong to",
                  data=("owner", "member"),
                  query=(Field("name", repeat=True), Field("owner", repeat=True), Field("showMembers", bool))),
    }

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        data = self.body(req, "post")
        if data.get("isLDAP"):
            sync = self.services.ldap_sync
            if sync is None:
                raise BadInput(GROUP_SYNC_OFF)
            view = sync.create_group(self.principal(req), data["name"], data.get("description", ""),
                                     data.get("owners"), data.get("members"))
        else:
            view = self.services.groups.create(self.principal(req), data["name"], data.get("owners"),
                                               data.get("members"), data.get("description", ""))
        respond(resp, 201, f"igor group '{view.name}' created ", {"group": [view.to_json()]})

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = self.query(req, "get")
        split = self.services.groups.show(self.principal(req), q.get("name"), q.get("owner"),
                                          q.get("showMembers", False))
        data = {k: [v.to_json() for v in vs] for k, vs in split.items()}
        respond(resp, 200, "" if any(data.values()) else NO_RESULTS, data)


class GroupItem(Resource):
    OPS = {
        "patch": Op("Edit a group: name, description, and either addOwners/rmvOwners or add/remove",
                    body=(Field("name", max_len=64), Field("description", max_len=256),
                          Field("addOwners", list, max_len=1000), Field("rmvOwners", list, max_len=1000),
                          Field("add", list, max_len=10000), Field("remove", list, max_len=10000))),
        "delete": Op("Delete a group (owners, admin)"),
    }

    def on_patch(self, req: falcon.Request, resp: falcon.Response, groupName: str) -> None:  # noqa: N803
        data = self.body(req, "patch")
        respond(resp, 200, self.services.groups.edit(self.principal(req), groupName, data))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, groupName: str) -> None:  # noqa: N803
        respond(resp, 200, self.services.groups.delete(self.principal(req), groupName))
