"""``/igor/users`` and ``/igor/users/{userName}``."""

from __future__ import annotations

import falcon

from igor.api.envelope import NO_RESULTS, respond
from igor.api.params import Field
from igor.api.resources import Op, Resource


class UserCollection(Resource):
    OPS = {
        "post": Op("Create a user (admin)", auth="admin", ok=201, data=("user",),
                   body=(Field("name", required=True, max_len=32), Field("email", required=True, max_len=255),
                         Field("fullName", max_len=64))),
        "get": Op("Show users (email and groups only for yourself, or when elevated)", data=("users",),
                  query=(Field("name", repeat=True, doc="user names"),)),
    }

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        data = self.body(req, "post")
        view = self.services.users.create(self.principal(req), data["name"], data["email"],
                                          data.get("fullName", ""))
        respond(resp, 201, f"igor user '{view.name}' created", {"user": [view.to_json()]})

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = self.query(req, "get")
        views = self.services.users.show(self.principal(req), q.get("name"))
        respond(resp, 200, "" if views else NO_RESULTS, {"users": [v.to_json() for v in views]})


class UserItem(Resource):
    OPS = {
        "patch": Op("Edit a user: {email}, {fullName}, {oldPassword, password} or {reset: true} (admin)",
                    body=(Field("email", max_len=255), Field("fullName", max_len=64),
                          Field("oldPassword", max_len=64), Field("password", max_len=64),
                          Field("reset", bool))),
        "delete": Op("Delete a user (admin)", auth="admin"),
    }

    def on_patch(self, req: falcon.Request, resp: falcon.Response, userName: str) -> None:  # noqa: N803
        data = self.body(req, "patch")
        respond(resp, 200, self.services.users.edit(self.principal(req), userName, data))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, userName: str) -> None:  # noqa: N803
        respond(resp, 200, self.services.users.delete(self.principal(req), userName))
