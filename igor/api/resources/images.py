"""``/igor/images/register``, ``/igor/images`` and ``/igor/images/{imageName}`` (admin only)."""

from __future__ import annotations

from typing import BinaryIO

import falcon

from igor.api.envelope import NO_RESULTS, respond
from igor.api.forms import Receive
from igor.api.params import FILE, Field
from igor.api.resources import Op, Resource
from igor.errors import BadInput
from igor.imagestore import BREEDS, MAX_NAME_LENGTH, FileTooLarge, Upload
from igor.services.images import STAGED_PAIR, UPLOAD_PAIR, check_pair

REGISTERED = "igor boot image files registered to refID: {}"
#: Said after REGISTERED when the identical pair was already registered (v2 said nothing different).
ALREADY = " (identical files were already registered)"
#: v2's message when neither uploads nor staged names are given.
NO_FILES = ("paths to either uploadable kernel/initrd files or staged files names are required for image "
            "registration")
#: Slack for the form's own bytes (boundaries, headers, text fields) over the two files.
FORM_SLACK = 1 << 20


class ImageRegister(Resource):
    OPS = {"post": Op(
        "Register a kernel+initrd pair as a boot image (admin): upload kernelFile and initrdFile, or name files "
        "already in server.imageStagePath with kstaged and istaged (deleted once registered; refused with 413, and "
        "left in place, when larger than an upload may be). Identical files registered before give back that "
        "image (200). The kernel version, the initrd's OS and (for a blank breed) the breed are detected",
        auth="admin", ok=201, data=("image",),
        also={200: "identical files were already registered: that image is returned"},
        form=(Field("kernelFile", FILE, doc="the kernel to upload"),
              Field("initrdFile", FILE, doc="the initrd to upload"),
              Field("kstaged", max_len=MAX_NAME_LENGTH, doc="name of a kernel file in the staging folder"),
              Field("istaged", max_len=MAX_NAME_LENGTH, doc="name of an initrd file in the staging folder"),
              Field("breed", max_len=32, doc=f"OS breed: {', '.join(BREEDS)} (blank: detected, else generic; "
                                             "needed for a local-boot image)"),
              Field("localBoot", bool, doc="the image installs to disk (its distros need a kickstart)"),
              Field("boot", list, required=True, max_len=16,
                    doc="boot modes: bios and/or uefi (repeat the part or give a comma list)")))}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        images = self.services.images
        principal = self.principal(req)
        images.authorize(principal)  # before anything is uploaded
        limit = images.store.max_image_bytes
        if req.content_length and req.content_length > 2 * limit + FORM_SLACK:
            raise FileTooLarge(f"request body is larger than two image files of at most {limit} bytes")

        def receive(stream: BinaryIO, filename: str | None, field: str) -> Upload:
            return images.store.receive(stream, filename, field=field, limit=limit)

        receiver: Receive = receive
        with self.form(req, "post", receiver) as form:
            values, files = form.values, form.files
            if any(k in files for k in UPLOAD_PAIR[:2]) and any(k in values for k in STAGED_PAIR[:2]):
                raise BadInput("give either kernelFile and initrdFile (uploads) or kstaged and istaged (staged "
                               "files), not both")
            opts = {"breed": values.get("breed"), "local_boot": values.get("localBoot", False),
                    "boot": values["boot"]}
            if check_pair(files, UPLOAD_PAIR):
                view = images.register_upload(principal, files["kernelFile"], files["initrdFile"], **opts)
            elif check_pair(values, STAGED_PAIR):
                view = images.register_staged(principal, values["kstaged"], values["istaged"], **opts)
            else:
                raise BadInput(NO_FILES)
        message = REGISTERED.format(view.name) + ("" if view.created else ALREADY)
        respond(resp, 201 if view.created else 200, message, {"image": view.to_json()})


class ImageCollection(Resource):
    OPS = {"get": Op("Show every boot image (admin), sorted by name", auth="admin", data=("distroImages",))}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.query(req, "get")
        views = self.services.images.show(self.principal(req))
        respond(resp, 200, "" if views else NO_RESULTS, {"distroImages": [v.to_json() for v in views]})


class ImageItem(Resource):
    OPS = {"delete": Op("Delete a boot image and its files (admin); refused while a distro uses it",
                        auth="admin")}

    def on_delete(self, req: falcon.Request, resp: falcon.Response, imageName: str) -> None:  # noqa: N803
        respond(resp, 200, self.services.images.delete(self.principal(req), imageName))


ROUTES: tuple[tuple[str, type[Resource]], ...] = (
    ("/igor/images/register", ImageRegister),
    ("/igor/images", ImageCollection),
    ("/igor/images/{imageName}", ImageItem),
)
