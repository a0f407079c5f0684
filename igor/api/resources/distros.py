"""``/igor/distros`` and ``/igor/distros/{distroName}``.

Igor v2 sends distro creates and edits as multipart/form-data (a create may upload a kernel and an initrd); the
rest of this API speaks JSON, so these two operations take either: the same keys as form parts or as a JSON
object (files only in a form). Uploads are refused before a byte is stored unless ``server.allowImageUpload``.
"""

from __future__ import annotations

from typing import Any, BinaryIO

import falcon

from igor.api.envelope import NO_RESULTS, respond
from igor.api.params import FILE, Field
from igor.api.resources import Op, Resource
from igor.errors import BadInput
from igor.imagestore import MAX_NAME_LENGTH, FileTooLarge, Upload
from igor.services.images import UPLOAD_PAIR, check_pair

#: Longest text of a group-list part (a comma list); in JSON the most items.
GROUP_TEXT = 1024
#: Slack for the form's own bytes (boundaries, headers, text parts) over the two files.
FORM_SLACK = 1 << 20

CREATE_FORM = (
    Field("name", required=True, max_len=64, doc="3-24 characters"),
    Field("copyDistro", max_len=64, doc="source: one of your distros to copy (image, description, kernel args, and "
                                        "the kickstart of a local-boot image)"),
    Field("useDistroImage", max_len=64, doc="source: one of your distros whose image to use"),
    Field("imageRef", max_len=32, doc="source: a registered image (ki + 8 hex digits)"),
    Field("kernelFile", FILE, doc="source, with initrdFile: upload a new image (needs server.allowImageUpload)"),
    Field("initrdFile", FILE, doc="the initrd to upload with kernelFile"),
    Field("kstaged", max_len=MAX_NAME_LENGTH, doc="source, with istaged (elevated admins): a kernel file in "
                                                  "server.imageStagePath, removed once the distro exists"),
    Field("istaged", max_len=MAX_NAME_LENGTH, doc="the staged initrd file to use with kstaged"),
    Field("description", max_len=256),
    Field("distroGroups", list, max_len=GROUP_TEXT,
          doc="groups to share a private distro with (you must be a member of each; not 'all')"),
    Field("public", bool, doc="share with everyone: igor-admin becomes the owner (users cannot undo it)"),
    Field("default", bool, doc="admins: the default distro (for reservations naming none, and maintenance)"),
    Field("kernelArgs", max_len=1024, doc="kernel arguments (a profile's come after them)"),
    Field("kickstart", max_len=255, doc="a registered kickstart; required with a local-boot image"),
    Field("boot", list, max_len=16, doc="boot modes of an uploaded or staged image: bios and/or uefi (default "
                                        "bios)"),
)
EDIT_FORM = (
    Field("name", max_len=64, doc="new name"),
    Field("description", max_len=256),
    Field("initrdInfo", max_len=64, doc="admins: the OS of the image's initrd, as shown"),
    Field("owner", max_len=32, doc="new owner: a member of every group the distro is shared with"),
    Field("addGroup", list, max_len=GROUP_TEXT, doc="share with these groups too"),
    Field("removeGroup", list, max_len=GROUP_TEXT, doc="stop sharing with these groups"),
    Field("public", bool, doc="true: share with everyone (igor-admin becomes the owner)"),
    Field("deprecate", bool, doc="true (elevated admins, alone): a public distro is then shown to admins only"),
    Field("default", bool, doc="true (admins): make it the default distro"),
    Field("default_remove", bool, doc="true (admins): stop it being the default distro"),
    Field("kernelArgs", max_len=1024, doc="not while a reservation uses the distro"),
    Field("kickstart", max_len=255, doc="local-boot images only; not while a reservation uses the distro"),
)


def _json(req: falcon.Request) -> bool:
    return (req.content_type or "").split(";")[0].strip().lower() == falcon.MEDIA_JSON


def _no_file(stream: BinaryIO, filename: str | None, field: str) -> Upload:  # pragma: no cover - no FILE fields
    raise BadInput(f"invalid parameter '{field}': no file is expected here")


class DistroCollection(Resource):
    OPS = {
        "post": Op("Create a distro from ONE source (copyDistro, useDistroImage, imageRef, an uploaded "
                   "kernelFile+initrdFile, or files an admin staged: kstaged+istaged), private (shared with "
                   "distroGroups) or public. multipart/form-data as Igor v2 sends it, or JSON (no uploads)", ok=201,
                   data=("distro",),
                   form=CREATE_FORM, body=tuple(f for f in CREATE_FORM if f.type is not FILE)),
        "get": Op("Show the distros you may use (every one when elevated), narrowed by the filters",
                  data=("distros",),
                  query=(Field("name", repeat=True), Field("owner", repeat=True),
                         Field("group", repeat=True, doc="distros shared with any of these groups"),
                         Field("default", bool, doc="only the default distro (elevated admins)"),
                         Field("imageID", repeat=True, doc="image ids or image names (ki + 8 hex digits)"),
                         Field("kernel", repeat=True, doc="kernel file names"),
                         Field("initrd", repeat=True, doc="initrd file names"))),
    }

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = self.principal(req)
        distros = self.services.distros
        if _json(req):
            view = distros.create(principal, self.body(req, "post"))
        else:
            store = self.services.images.store
            limit = store.max_image_bytes
            if req.content_length and req.content_length > 2 * limit + FORM_SLACK:
                raise FileTooLarge(f"request body is larger than two image files of at most {limit} bytes")

            def receive(stream: BinaryIO, filename: str | None, field: str) -> Upload:
                distros.check_upload(principal)  # before the first byte is stored
                return store.receive(stream, filename, field=field, limit=limit)

            with self.form(req, "post", receive) as form:
                files = form.files
                upload = (files["kernelFile"], files["initrdFile"]) if check_pair(files, UPLOAD_PAIR) else None
                view = distros.create(principal, form.values, upload)
        respond(resp, 201, f"distro '{view.name}' created", {"distro": [view.to_json()]})

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = self.query(req, "get")
        views = self.services.distros.show(self.principal(req), q)
        respond(resp, 200, "" if views else NO_RESULTS, {"distros": [v.to_json() for v in views]})


class DistroItem(Resource):
    OPS = {
        "patch": Op("Edit a distro (its owner, or admins): rename, description, kernel args and kickstart (not while "
                    "a reservation uses it), owner, groups, public, default; deprecate (elevated admins, alone). "
                    "multipart/form-data as Igor v2 sends it, or JSON", form=EDIT_FORM, body=EDIT_FORM),
        "delete": Op("Delete a distro (its owner, or admins); refused while any profile uses it, temporary "
                     "profiles of reservations included. Its image goes too when no other distro uses it"),
    }

    def on_patch(self, req: falcon.Request, resp: falcon.Response, distroName: str) -> None:  # noqa: N803
        data: dict[str, Any]
        if _json(req):
            data = self.body(req, "patch")
        else:
            with self.form(req, "patch", _no_file) as form:
                data = form.values
        respond(resp, 200, self.services.distros.edit(self.principal(req), distroName, data))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, distroName: str) -> None:  # noqa: N803
        respond(resp, 200, self.services.distros.delete(self.principal(req), distroName))


ROUTES: tuple[tuple[str, type[Resource]], ...] = (
    ("/igor/distros", DistroCollection),
    ("/igor/distros/{distroName}", DistroItem),
)
