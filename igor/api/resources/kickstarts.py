"""``/igor/kickstart/register``, ``/igor/kickstart`` and ``/igor/kickstart/{kickstartName}`` (admin only)."""

from __future__ import annotations

from typing import BinaryIO

import falcon

from igor.api.envelope import respond
from igor.api.forms import Receive
from igor.api.params import FILE, Field
from igor.api.resources import Op, Resource
from igor.imagestore import Upload

REGISTERED = "kickstart file registered successfully as: {}"
NONE_FOUND = "no kickstart file found"  # v2's message for an empty list


class _KickstartResource(Resource):
    def receiver(self) -> Receive:
        store = self.services.kickstarts.store

        def receive(stream: BinaryIO, filename: str | None, field: str) -> Upload:
            return store.receive(stream, filename, field=field, limit=store.max_kickstart_bytes)

        return receive


class KickstartRegister(_KickstartResource):
    OPS = {"post": Op("Register a kickstart or preseed file (admin); its name is the file name before the first "
                      "'.'", auth="admin", ok=201, data=("kickstart",),
                      form=(Field("kickstart", FILE, required=True, doc="the kickstart file (UTF-8 text)"),))}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = self.principal(req)
        self.services.kickstarts.authorize(principal)
        with self.form(req, "post", self.receiver()) as form:
            view = self.services.kickstarts.register(principal, form.files["kickstart"])
        respond(resp, 201, REGISTERED.format(view.name), {"kickstart": view.to_json()})


class KickstartCollection(Resource):
    OPS = {"get": Op("Show kickstarts (admin), sorted by name", auth="admin", data=("kickstarts",),
                     query=(Field("name", repeat=True, doc="kickstart names"),))}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = self.query(req, "get")
        views = self.services.kickstarts.show(self.principal(req), q.get("name", ()))
        respond(resp, 200, "" if views else NONE_FOUND, {"kickstarts": [v.to_json() for v in views]})


class KickstartItem(_KickstartResource):
    OPS = {
        "patch": Op("Replace a kickstart's file and/or rename it (admin). A file uploaded under another file name "
                    "becomes the kickstart's file", auth="admin",
                    form=(Field("kickstart", FILE, doc="the new file"),
                          Field("name", max_len=64, doc="the new name"))),
        "delete": Op("Delete a kickstart and its file (admin); refused while distros are linked to it",
                     auth="admin"),
    }

    def on_patch(self, req: falcon.Request, resp: falcon.Response, kickstartName: str) -> None:  # noqa: N803
        principal = self.principal(req)
        self.services.kickstarts.authorize(principal)
        with self.form(req, "patch", self.receiver()) as form:
            upload: Upload | None = form.files.get("kickstart")
            message = self.services.kickstarts.edit(principal, kickstartName, upload=upload,
                                                    new_name=form.values.get("name"))
        respond(resp, 200, message)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, kickstartName: str) -> None:  # noqa: N803
        respond(resp, 200, self.services.kickstarts.delete(self.principal(req), kickstartName))


ROUTES: tuple[tuple[str, type[Resource]], ...] = (
    ("/igor/kickstart/register", KickstartRegister),
    ("/igor/kickstart", KickstartCollection),
    ("/igor/kickstart/{kickstartName}", KickstartItem),
)
