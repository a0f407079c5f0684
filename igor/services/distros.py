"""Distros: ``distro create|show|edit|del`` (reference §1.7, §2.4, §6, §8.6; seed "Image Management").

A distro is one boot image plus what it boots with (kernel args, and a kickstart for a local-boot image), owned by
a user and shared with groups:

* **private**: the owner's private group plus groups the owner chose (the owner must be a member of each; ``all``
  is refused);
* **public**: owned by igor-admin and shared with ``all`` (users cannot undo it);
* **default** (admins): the single distro used when a reservation names neither a distro nor a profile and for
  maintenance; owned by igor-admin and shared with igor-admin's private group only; setting one clears the last;
* **deprecated** (elevated admins, on a public distro): shared with ``admins`` only, so users no longer see it.

Who may *use* a distro (see it, build a profile or a reservation on it) is :func:`may_use`: public, owned, or
shared with one of the user's groups — the one rule reservations, profiles and ``GET /igor`` all apply. Edits and
deletions are authorized with Igor v2's facts (``distros:D:edit:*`` and ``distros:D:delete,view`` for the owner's
private group, ``distros:D:view`` for every group it is shared with), which :func:`regrant` keeps in step with the
owner and groups after every change.

Uploads, staged files and orphaned images go through the image side (``ImageService``) only in
:meth:`DistroService._register_upload`, :meth:`DistroService._register_staged` and
:meth:`DistroService._drop_image_if_orphan`, all called outside any database session because the image service
runs its own (and holds the image store's lock).

A distro can also be made from files an admin staged on the server (``kstaged``/``istaged``, elevated admins only,
as for ``image register``; v2's client sent them but its server refused them, reference §11 item 13). The staged
files are linked into the image store and removed only once the distro exists, so a refused create leaves them
where they were.

Where Igor v2 misbehaves this module does not: a copied distro keeps the copied description and kernel args unless
new ones are given (v2 overwrote them with the empty form values); ``imageID``, ``kernel`` and ``initrd`` filters
work (v2 rejected or mis-queried them, reference §11 item 13); a kickstart on a netboot image is refused instead
of silently dropped; every refusal is a 4xx (v2 answered several with 500).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pony.orm import db_session

from igor import permissions as perms
from igor.errors import BadInput, Conflict, Forbidden, NotFound
from igor.rules import check_description, check_image_ref, check_initrd_info, check_resource_name
from igor.services.context import (
    ADMINS_GROUP,
    ALL_GROUP,
    IGOR_ADMIN,
    PRIVATE_PREFIX,
    Principal,
    ServiceContext,
    find,
    require,
)
from igor.services.images import STAGED_PAIR, check_pair

if TYPE_CHECKING:
    from pathlib import Path

    from igor.imagestore import Upload
    from igor.services.images import ImageService
    from igor.services.reservations import ReservationService

log = logging.getLogger("igor.distros")

KIND = "distro"
#: The one-source rule of ``POST /igor/distros`` (v2's message).
NO_SOURCE = ("a new distro must have ONE of the following: existing distro, existing image, image ref, or kernel "
             "file AND initrd file")
UPLOAD_DISABLED = ("uploading images is not permitted, see an admin for assistance with registering a new image to "
                   "get an image reference value")
STAGED_ADMINS_ONLY = "creating a distro from staged files (kstaged, istaged) is restricted to admins"
#: A kickstart with new image files (v2's refusal; {} says where the files come from).
LOCAL_SEPARATELY = ("distro image intended for local install/boot must be registered as a separate step (by an "
                    "admin: igor image register --local-boot), not {} with a kickstart")
MAX_KERNEL_ARGS = 1024
#: The sources of a new distro, in v2's order of precedence (we refuse more than one instead).
SOURCES = ("copyDistro", "useDistroImage", "imageRef")


# -- rules shared with reservations, profiles and the landing view ------------------------------------------------


def may_use(user: Any, distro: Any) -> bool:
    """Whether ``user`` may see and use ``distro``: it is public, theirs, or shared with one of their groups
    (inside a db_session). Elevation is not considered here: callers that show everything to elevated admins
    say so themselves; reservations and profiles always judge the *owner's* access, as Igor v2 does."""
    if user is None or distro is None:
        return False
    if distro.is_public or distro.owner == user:
        return True
    mine = {g.id for g in user.groups}
    return any(g.id in mine for g in distro.groups)


def check_kernel_args(value: Any, what: str = "kernel args") -> str:
    """Kernel args as stored: trimmed, at most 1024 characters, one line (they are written into PXE and GRUB
    config files line by line, so a new line or another control character could add a config line)."""
    if not isinstance(value, str):
        raise BadInput(f"invalid parameter 'kernelArgs': must be a string, got {type(value).__name__}")
    text = value.strip()
    if len(text) > MAX_KERNEL_ARGS:
        raise BadInput(f"{what} are longer than {MAX_KERNEL_ARGS} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise BadInput(f"{what} may not contain new lines, tabs or other control characters")
    return text


def users_of(distro: Any) -> list[str]:
    """Names of the reservations whose profile boots ``distro`` (every current or future one: ended ones are
    gone), sorted."""
    return sorted(r.name for p in distro.profiles for r in p.reservations)


def find_kickstart(db: Any, name: str) -> Any:
    """A kickstart by name, else by file name (v2's create looked up names, its edit file names)."""
    return find(db.Kickstart, name=name) or find(db.Kickstart, filename=name)


def regrant(db: Any, distro: Any, old_name: str | None = None) -> None:
    """Make the permission facts about ``distro`` match its owner and groups (inside a db_session).

    Every fact naming the distro (under ``old_name`` too, after a rename) is dropped, then the owner's private
    group gets ``distros:D:edit:*`` and ``distros:D:delete,view`` and each group ``distros:D:view``.
    """
    revoke(db, distro.name)
    if old_name is not None and old_name != distro.name:
        revoke(db, old_name)
    if distro.owner is not None:
        pug = find(db.Group, name=PRIVATE_PREFIX + distro.owner.name)
        if pug is not None:
            _grant(db, pug, perms.distro_owner_facts(distro.name))
    for group in distro.groups:
        _grant(db, group, perms.distro_group_facts(distro.name))


def revoke(db: Any, name: str) -> None:
    """Drop every fact about the distro ``name``."""
    prefix = f"{perms.RESOURCE_DISTROS}:{name}:"
    for row in db.Permission.select(lambda p: p.fact.startswith(prefix)):
        if perms.names_resource(row.fact, perms.RESOURCE_DISTROS, name):
            row.delete()


def _grant(db: Any, group: Any, facts: Iterable[str]) -> None:
    for fact in facts:
        if not db.Permission.exists(group=group, fact=fact):
            db.Permission(group=group, fact=fact)


def write_edits(*edits: tuple[Any, str, Any, str]) -> list[str]:
    """Write checked edits of a distro or profile: each ``(entity, attribute, value, what to say)`` whose value is
    not None is set. Returns what was said, in order (for the ``... updated: a; b`` message)."""
    said = []
    for entity, attribute, value, text in edits:
        if value is not None:
            setattr(entity, attribute, value)
            said.append(text)
    return said


def _go_list(names: Iterable[str]) -> str:
    """A list the way v2 prints a Go []string: ``[a b]``."""
    return "[" + " ".join(names) + "]"


# -- views --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DistroView:
    name: str
    is_default: bool
    is_public: bool
    deprecated: bool
    description: str
    owner: str
    groups: tuple[str, ...]
    image: str
    image_id: str
    image_type: str
    kernel: str
    initrd: str
    kernel_info: str
    initrd_info: str
    breed: str
    local_boot: bool
    kernel_args: str
    kickstart: str

    def to_json(self) -> dict[str, Any]:
        """Igor v2's DistroData (groups without private groups and ``all``), plus the image's name, OS facts and
        the deprecated flag."""
        return {"name": self.name, "isDefault": self.is_default, "description": self.description,
                "owner": self.owner, "groups": list(self.groups), "image_type": self.image_type,
                "kernel": self.kernel, "initrd": self.initrd, "kernelArgs": self.kernel_args,
                "kickstart": self.kickstart, "isPublic": self.is_public, "imageRef": self.image,
                "imageID": self.image_id, "kernelInfo": self.kernel_info, "initrdInfo": self.initrd_info,
                "breed": self.breed, "localBoot": self.local_boot, "deprecated": self.deprecated}


def distro_view(distro: Any) -> DistroView:
    image = distro.image
    return DistroView(
        name=distro.name, is_default=distro.is_default, is_public=distro.is_public, deprecated=distro.deprecated,
        description=distro.description or "", owner=distro.owner.name if distro.owner else "",
        groups=tuple(sorted(g.name for g in distro.groups if not g.is_user_private and g.name != ALL_GROUP)),
        image=image.name if image else "", image_id=image.image_id if image else "",
        image_type=image.type if image else "", kernel=(image.kernel or "") if image else "",
        initrd=(image.initrd or "") if image else "", kernel_info=(image.kernel_info or "") if image else "",
        initrd_info=(image.initrd_info or "") if image else "", breed=(image.breed or "") if image else "",
        local_boot=bool(image.local_boot) if image else False, kernel_args=distro.kernel_args or "",
        kickstart=distro.kickstart.name if distro.kickstart else "")


# -- the service --------------------------------------------------------------------------------------------------


class DistroService:
    """Distro operations.

    Args:
        ctx: the shared service context.
        images: the image service (uploads at create, orphaned images at delete); None leaves both out (uploads
            are then refused).
        reservations: for history records of reservations whose distro is renamed.
    """

    def __init__(self, ctx: ServiceContext, images: ImageService | None = None,
                 reservations: ReservationService | None = None) -> None:
        self.ctx = ctx
        self.images = images
        self.reservations = reservations

    # -- the image side: the only two calls into it ------------------------------------------------------------

    def _register_upload(self, kernel: Upload, initrd: Upload, boot: Sequence[str]) -> tuple[str, bool]:
        """Register an uploaded pair as an image (the uploads are consumed). Returns (image name, created)."""
        if self.images is None:
            raise Forbidden(UPLOAD_DISABLED)
        try:
            view = self.images.register_files(None, kernel.path, initrd.path, boot=boot or ("bios",),
                                              kernel_name=kernel.filename, initrd_name=initrd.filename,
                                              consume=True)
        finally:
            kernel.discard()
            initrd.discard()
        return view.name, view.created

    def _register_staged(self, files: tuple[Path, Path], boot: Sequence[str]) -> tuple[str, bool]:
        """Register staged files as an image, linked rather than moved (the caller removes them once the distro
        exists). Returns (image name, created)."""
        if self.images is None:  # pragma: no cover - _check_staged refused already
            raise Forbidden(STAGED_ADMINS_ONLY)
        view = self.images.register_files(None, files[0], files[1], boot=boot or ("bios",), link=True)
        return view.name, view.created

    def _drop_image_if_orphan(self, name: str) -> None:
        """Delete image ``name`` (and its files) when no distro uses it any more; call outside any session."""
        if self.images is not None and name:
            self.images.remove_if_orphan(name)

    # -- create -------------------------------------------------------------------------------------------------

    def check_upload(self, principal: Principal) -> None:
        """Refuse an upload before any of it is received: uploads need ``server.allowImageUpload``."""
        require(principal, "distros:*:create", kind=KIND)
        if not self.ctx.config.server.allow_image_upload or self.images is None:
            raise Forbidden(UPLOAD_DISABLED)

    def _check_staged(self, principal: Principal) -> None:
        """Staged files are the admins' (as for ``image register``): elevated admins only."""
        require(principal, "distros:*:create", kind=KIND)
        if not principal.elevated:
            if principal.admin_member:
                raise Forbidden("elevated access is required before running this command")
            raise Forbidden(STAGED_ADMINS_ONLY)
        if self.images is None:
            raise Forbidden(STAGED_ADMINS_ONLY)

    def create(self, principal: Principal, req: Mapping[str, Any],
               upload: tuple[Upload, Upload] | None = None) -> DistroView:
        """Create a distro from ``copyDistro``, ``useDistroImage``, ``imageRef``, an uploaded kernel+initrd or
        staged ones (``kstaged`` + ``istaged``, elevated admins).

        Args:
            principal: the caller.
            req: v2's keys: ``name`` (required), one source, ``description``, ``distroGroups``, ``public``,
                ``default``, ``kernelArgs``, ``kickstart``, ``boot`` (boot modes of an uploaded or staged image).
            upload: the received kernel and initrd, when the source is an upload (consumed either way).

        Raises:
            BadInput, Forbidden, NotFound, Conflict: with v2's messages (module docstring for the differences).
        """
        staged_files: tuple[Path, Path] | None = None
        try:
            sources = [k for k in SOURCES if req.get(k)]
            staged = check_pair([k for k in STAGED_PAIR[:2] if req.get(k)], STAGED_PAIR)
            if upload is not None:
                sources.append("kernelFile+initrdFile")
            if staged:
                sources.append("kstaged+istaged")
            if not sources:
                raise BadInput(NO_SOURCE)
            if len(sources) > 1:
                raise BadInput(f"a new distro takes ONE source; got {' and '.join(sources)}")
            if upload is None and not staged:
                return _made(self._create(principal, req, None))
            if upload is not None:
                self.check_upload(principal)
            else:
                self._check_staged(principal)
            if req.get("kickstart"):
                raise BadInput(LOCAL_SEPARATELY.format("uploaded" if upload is not None else "staged"))
            self._create(principal, req, None, check_only=True)  # refuse before hashing and storing the files
            if staged and self.images is not None:
                staged_files = self.images.staged_files(str(req["kstaged"]), str(req["istaged"]))
        except BaseException:
            if upload is not None:
                for part in upload:
                    part.discard()
            raise
        boot = list(req.get("boot") or ())
        if staged_files is not None:
            image, created = self._register_staged(staged_files, boot)
        elif upload is not None:
            image, created = self._register_upload(upload[0], upload[1], boot)
        else:  # pragma: no cover - staged files without an image service were refused by _check_staged
            raise Forbidden(STAGED_ADMINS_ONLY)
        try:
            view = _made(self._create(principal, req, image))
        except BaseException:
            if created:
                self._drop_image_if_orphan(image)
            raise
        if staged_files is not None and self.images is not None:
            self.images.store.remove_files(staged_files)  # v2: staged files go once registered
        return view

    @db_session
    def _create(self, principal: Principal, req: Mapping[str, Any], uploaded: str | None, *,
                check_only: bool = False) -> DistroView | None:
        """The create itself; with ``check_only`` every rule that does not need the (not yet registered)
        uploaded image is checked and nothing is written."""
        db = self.ctx.db
        require(principal, "distros:*:create", kind=KIND)
        name = check_resource_name(str(req.get("name", "")).strip(), KIND)
        if find(db.Distro, name=name) is not None:
            raise Conflict(f"distro name already in use: {name}")
        user = find(db.User, name=principal.name)
        image: Any = None
        description: str = ""
        kernel_args = ""
        kickstart: Any = None
        if req.get("copyDistro"):
            src = self._source(principal, user, str(req["copyDistro"]),
                               "must be the owner of the existing distro {} when using to create new")
            image, description, kernel_args = src.image, src.description or "", src.kernel_args or ""
            if image is not None and image.local_boot:
                kickstart = src.kickstart
        elif req.get("useDistroImage"):
            src = self._source(principal, user, str(req["useDistroImage"]),
                               "must be the owner of the existing distro {} to use its image in a new distro")
            image = src.image
        elif req.get("imageRef"):
            ref = check_image_ref(str(req["imageRef"]).strip())
            image = find(db.DistroImage, name=ref)
            if image is None:
                raise NotFound(f"image '{ref}' not found")
        elif uploaded is not None:
            image = db.DistroImage.get(name=uploaded)
        if image is None and not check_only:
            raise BadInput(f"distro '{req.get('copyDistro') or req.get('useDistroImage')}' has no image to use")
        if "description" in req:
            description = check_description(str(req["description"]))
        if "kernelArgs" in req:
            kernel_args = check_kernel_args(req["kernelArgs"])
        public, default = bool(req.get("public")), bool(req.get("default"))
        wanted = [g.strip() for g in (req.get("distroGroups") or []) if g.strip()]
        if default:
            if not principal.elevated:
                raise Forbidden("setting a Distro as default is restricted to admins")
            if public:
                raise BadInput("a distro cannot be both public and the default distro (the default distro belongs "
                               "to igor-admin and is shared with nobody)")
            if wanted:
                raise BadInput(f"the default distro cannot be assigned to groups: {','.join(wanted)}")
        admin = find(db.User, name=IGOR_ADMIN)
        if public:
            if any(g != ALL_GROUP for g in wanted):
                raise BadInput(f"a public distro cannot be assigned to specific groups: {','.join(wanted)}")
            owner, groups = admin, [find(db.Group, name=ALL_GROUP)]
        elif default:
            owner, groups = admin, [find(db.Group, name=PRIVATE_PREFIX + IGOR_ADMIN)]
        else:
            owner, groups = user, self._private_groups(user, wanted)
        ks_name = str(req.get("kickstart") or "").strip()
        if image is not None and image.local_boot:
            if not self.ctx.config.server.user_local_boot_dc and not principal.elevated:
                raise Forbidden("creation of local boot Distro is restricted to admins")
            if ks_name:
                kickstart = find_kickstart(db, ks_name)
                if kickstart is None:
                    raise NotFound(f"kickstart '{ks_name}' not found")
            if kickstart is None:
                raise BadInput("kickstart file name required when creating a local boot distro")
        elif ks_name and image is not None:
            raise BadInput("kickstart script can only be assigned to a distro with a local boot image "
                           f"(image '{image.name}' is netboot only)")
        if check_only:
            return None
        if default:
            for other in db.Distro.select(lambda d: d.is_default):
                other.is_default = False
        distro = db.Distro(name=name, is_default=default, is_public=public, description=description,
                           owner=owner, image=image, kickstart=kickstart, kernel_args=kernel_args)
        distro.groups.add([g for g in groups if g is not None])
        regrant(db, distro)
        log.info("distro %s created by %s from image %s", name, principal.name, image.name)
        return distro_view(distro)

    def _source(self, principal: Principal, user: Any, name: str, denied: str) -> Any:
        src = find(self.ctx.db.Distro, name=name.strip())
        if src is None:
            raise NotFound(f"distro '{name}' not found")
        if src.owner != user and not principal.elevated:
            raise Forbidden(denied.format(name))
        return src

    def _private_groups(self, owner: Any, wanted: list[str]) -> list[Any]:
        """A private distro's groups: the chosen ones (existing, the owner a member of each, not ``all``) and the
        owner's private group."""
        db = self.ctx.db
        if ALL_GROUP in wanted:
            raise BadInput(f"cannot add group '{ALL_GROUP}' to a non-public distro (make it public instead)")
        found = {n: find(db.Group, name=n) for n in dict.fromkeys(wanted)}
        missing = [n for n, g in found.items() if g is None]
        if missing:
            raise NotFound(f"error finding group(s) for distro: {','.join(missing)}")
        for n, g in found.items():
            if owner not in g.members:
                raise Forbidden(f"user is not a member of group {n} to include in new distro")
        pug = find(db.Group, name=PRIVATE_PREFIX + owner.name)
        out = [g for g in found.values() if g is not pug]
        return [*out, pug] if pug is not None else out

    # -- show ---------------------------------------------------------------------------------------------------

    @db_session
    def show(self, principal: Principal, filters: Mapping[str, Any] | None = None) -> list[DistroView]:
        """Distros the caller may use (every one when elevated), narrowed by ``name``, ``owner``, ``group``,
        ``default``, ``imageID`` (an image id or image name), ``kernel`` and ``initrd`` (file names), sorted."""
        filters = filters or {}
        if filters.get("default") and not principal.elevated:
            raise Forbidden("must be elevated to search for default distro")
        db = self.ctx.db
        user = find(db.User, name=principal.name)
        out = []
        for d in db.Distro.select():
            if not (principal.elevated or may_use(user, d)):
                continue
            if _selected(d, filters):
                out.append(distro_view(d))
        return sorted(out, key=lambda v: v.name)

    @db_session
    def names_for(self, principal: Principal) -> list[str]:
        """Names of the distros the caller may use (all when elevated), for the landing view."""
        db = self.ctx.db
        user = find(db.User, name=principal.name)
        return sorted(d.name for d in db.Distro.select() if principal.elevated or may_use(user, d))

    # -- edit ---------------------------------------------------------------------------------------------------

    @db_session
    def edit(self, principal: Principal, name: str, changes: Mapping[str, Any]) -> str:
        """Apply ``changes`` (v2's keys: ``name``, ``description``, ``initrdInfo``, ``owner``, ``addGroup``,
        ``removeGroup``, ``public``, ``deprecate`` (alone), ``default``, ``default_remove``, ``kernelArgs``,
        ``kickstart``) after checking every rule; nothing is written unless all pass."""
        db = self.ctx.db
        distro = find(db.Distro, name=name)
        require(principal, perms.fact(perms.RESOURCE_DISTROS, name, perms.ACTION_EDIT, perms.WILDCARD),
                kind=KIND, name=name, exists=distro is not None)
        if not changes:
            raise BadInput("requested operation had no parameters")
        for flag in ("public", "deprecate", "default", "default_remove"):
            if flag in changes and changes[flag] is not True:
                raise BadInput(f"'{str(changes[flag]).lower()}' is not an acceptable value for parameter "
                               f"\"{flag}\" (must be 'true')")
        if "deprecate" in changes:
            return self._deprecate(principal, distro, changes)
        old_name = distro.name
        new_name = str(changes["name"]).strip() if "name" in changes else None
        if new_name is not None and new_name != distro.name:
            check_resource_name(new_name, KIND)
            if find(db.Distro, name=new_name) is not None:
                raise Conflict(f"{new_name} already in use as distro name")
        elif new_name == distro.name:
            new_name = None
        description = check_description(str(changes["description"])) if "description" in changes else None
        initrd_info = None
        if "initrdInfo" in changes:
            if not principal.elevated:
                raise Forbidden("only admins can change the OS info of a distro's image")
            if distro.image is None:
                raise BadInput(f"distro '{name}' has no image")
            initrd_info = check_initrd_info(str(changes["initrdInfo"]))
        in_use = users_of(distro)
        kernel_args = None
        if "kernelArgs" in changes:
            kernel_args = check_kernel_args(changes["kernelArgs"])
            if in_use and kernel_args != (distro.kernel_args or ""):
                raise Conflict(f"distro kernel args cannot be updated while associated to active Reservations: "
                               f"{_go_list(in_use)}")
        kickstart = None
        if "kickstart" in changes:
            ks_name = str(changes["kickstart"]).strip()
            if distro.image is None or not distro.image.local_boot:
                raise BadInput("kickstart script can only be assigned to a distro with a local boot image")
            kickstart = find_kickstart(db, ks_name)
            if kickstart is None:
                raise NotFound(f"kickstart '{ks_name}' not found")
            if in_use and kickstart != distro.kickstart:
                raise Conflict(f"distro kickstart cannot be updated while associated to active Reservations: "
                               f"{_go_list(in_use)}")
        groups = set(distro.groups)
        owner = distro.owner
        make_public = "public" in changes and not distro.is_public
        if "public" in changes:
            clash = [k for k in ("owner", "addGroup", "removeGroup", "default") if k in changes]
            if clash:
                raise BadInput(f"public cannot be combined with {', '.join(clash)}: a public distro belongs to "
                               f"{IGOR_ADMIN} and is shared with everyone")
        if "default" in changes and "default_remove" in changes:
            raise BadInput("default and default_remove cannot be combined")
        if "owner" in changes:
            owner = self._new_owner(principal, distro, str(changes["owner"]).strip())
        add = [g.strip() for g in changes.get("addGroup") or [] if g.strip()]
        remove = [g.strip() for g in changes.get("removeGroup") or [] if g.strip()]
        if add:
            if distro.is_public:
                raise BadInput(f"a public distro cannot be assigned to specific groups: [{','.join(add)}]")
            if ALL_GROUP in add:
                raise Forbidden(f"cannot add the group '{ALL_GROUP}' to a non-public distro (make it public "
                                "instead)")
            groups |= set(self._groups(add))
        if remove:
            found = self._groups(remove)
            if distro.is_public and ALL_GROUP in remove:
                raise BadInput(f"cannot remove the '{ALL_GROUP}' group from a public distro")
            for n, g in zip(remove, found, strict=True):
                if g not in distro.groups:
                    raise BadInput(f"target distro \"{distro.name}\" does not contain group \"{n}\" - edit "
                                   "operation aborted")
                if distro.owner is not None and g.name == PRIVATE_PREFIX + distro.owner.name:
                    raise BadInput(f"the private group of the owner '{distro.owner.name}' cannot be removed from "
                                   "the distro")
            groups -= set(found)
        admin = find(db.User, name=IGOR_ADMIN)
        make_default = "default" in changes and not distro.is_default
        if "default" in changes or "default_remove" in changes:
            if not principal.elevated:
                raise Forbidden("setting a Distro as default is restricted to admins")
        if make_default:
            if distro.is_public:
                raise BadInput("a public distro cannot be made the default distro: copy it into a new distro "
                               "(copyDistro) and make that one the default")
            owner = admin
        if "default_remove" in changes and not distro.is_default:
            raise BadInput(f"distro '{distro.name}' is not the default distro")
        if owner is not distro.owner:
            if distro.owner is not None:
                groups.discard(find(db.Group, name=PRIVATE_PREFIX + distro.owner.name))
            if owner is not None and not make_default:
                groups.add(find(db.Group, name=PRIVATE_PREFIX + owner.name))
        if make_default:  # v2: igor-admin's private group only
            groups = {find(db.Group, name=PRIVATE_PREFIX + IGOR_ADMIN)}
        if make_public:
            owner, groups = admin, {find(db.Group, name=ALL_GROUP)}
        groups.discard(None)
        if owner is not None and owner.name != IGOR_ADMIN and not make_public:
            outside = sorted(g.name for g in groups if owner not in g.members and g.name != ALL_GROUP)
            if outside:
                raise BadInput(f"intended distro owner {owner.name} is not a member of group(s) "
                               f"{','.join(outside)}")

        # every rule passed: write
        said = write_edits((distro, "name", new_name, f"renamed to '{new_name}'"),
                           (distro, "description", description, "description updated"),
                           (distro.image, "initrd_info", initrd_info, "image OS info updated"),
                           (distro, "kernel_args", kernel_args, "kernel args updated"),
                           (distro, "kickstart", kickstart, f"kickstart is now '{getattr(kickstart, 'name', '')}'"))
        if make_default:
            for other in db.Distro.select(lambda d: d.is_default and d.id != distro.id):
                other.is_default = False
            distro.is_default = True
            said.append("it is now the default distro")
        if "default_remove" in changes:
            distro.is_default = False
            said.append("it is no longer the default distro")
        if make_public:
            distro.is_public = True
            distro.deprecated = False
            said.append("it is now public")
        if owner is not distro.owner:
            distro.owner = owner
            said.append(f"owner is now '{owner.name}'")
        if groups != set(distro.groups):
            distro.groups.clear()
            distro.groups.add(list(groups))
            shown = sorted(g.name for g in groups if not g.is_user_private and g.name != ALL_GROUP)
            said.append("groups are now " + (", ".join(shown) if shown else "none"))
        regrant(db, distro, old_name)
        if new_name is not None and self.reservations is not None:
            for res_name in in_use:
                self.reservations._history(db.Reservation.get(name=res_name), "updated:distro-rename")
        log.info("distro %s edited by %s: %s", old_name, principal.name, "; ".join(said) or "nothing")
        return f"distro '{old_name}' updated: " + ("; ".join(said) if said else "nothing changed")

    def _deprecate(self, principal: Principal, distro: Any, changes: Mapping[str, Any]) -> str:
        others = sorted(k for k in changes if k != "deprecate")
        if others:
            raise BadInput(f"deprecate must be given alone; found also {', '.join(others)}")
        if not principal.admin_member and not principal.is_igor_admin:
            raise Forbidden("deprecating a distro is restricted to admins")
        if not principal.elevated:
            raise Forbidden("non-elevated user cannot deprecate a distro")
        if not distro.is_public:
            raise BadInput("cannot deprecate a non-public distro")
        db = self.ctx.db
        distro.groups.clear()
        distro.groups.add(find(db.Group, name=ADMINS_GROUP))
        distro.is_public = False
        distro.deprecated = True
        regrant(db, distro)
        log.info("distro %s deprecated by %s", distro.name, principal.name)
        return f"distro '{distro.name}' deprecated: only admins can see and use it now"

    def _new_owner(self, principal: Principal, distro: Any, name: str) -> Any:
        if name == IGOR_ADMIN and not principal.elevated:
            raise BadInput(f"non-elevated user cannot transfer ownership of a distro to '{IGOR_ADMIN}'")
        user = find(self.ctx.db.User, name=name)
        if user is None:
            raise NotFound(f"user '{name}' not found")
        if user is distro.owner:
            return user
        if distro.is_public:
            raise BadInput(f"a public distro belongs to {IGOR_ADMIN}: its owner cannot be changed")
        if distro.is_default:
            raise BadInput(f"the default distro belongs to {IGOR_ADMIN}: its owner cannot be changed")
        return user

    def _groups(self, names: list[str]) -> list[Any]:
        found = [find(self.ctx.db.Group, name=n) for n in names]
        missing = [n for n, g in zip(names, found, strict=True) if g is None]
        if missing:
            raise NotFound(f"group(s) '{','.join(missing)}' not found")
        return found

    # -- delete -------------------------------------------------------------------------------------------------

    def delete(self, principal: Principal, name: str) -> str:
        """Delete a distro no profile uses (temporary profiles of reservations included); its image goes too
        when no other distro uses it."""
        image = self._delete(principal, name)
        self._drop_image_if_orphan(image)
        return f"distro '{name}' deleted"

    @db_session
    def _delete(self, principal: Principal, name: str) -> str:
        db = self.ctx.db
        distro = find(db.Distro, name=name)
        require(principal, perms.fact(perms.RESOURCE_DISTROS, name, perms.ACTION_DELETE), kind=KIND, name=name,
                exists=distro is not None)
        profiles = sorted(distro.profiles, key=lambda p: (p.name, p.owner.name))
        if profiles:
            said = []
            for p in profiles:
                used = sorted(r.name for r in p.reservations)
                said.append(f"{p.name} of {p.owner.name}" + (f" (reservation {', '.join(used)})" if used else ""))
            raise Conflict(f"cannot delete distro, currently attached to profile(s) {'; '.join(said)}. Delete "
                           "these profile(s) (or the reservations using them) before deleting this distro")
        image = distro.image.name if distro.image is not None else ""
        revoke(db, name)
        distro.groups.clear()
        distro.delete()
        log.info("distro %s deleted by %s", name, principal.name)
        return image


def _made(view: DistroView | None) -> DistroView:
    if view is None:  # pragma: no cover - only check-only creates return None
        raise RuntimeError("distro create returned nothing")
    return view


def _selected(distro: Any, filters: Mapping[str, Any]) -> bool:
    def wanted(key: str) -> list[str]:
        value = filters.get(key)
        return list(value) if value else []

    if wanted("name") and distro.name not in wanted("name"):
        return False
    if wanted("owner") and (distro.owner is None or distro.owner.name not in wanted("owner")):
        return False
    if wanted("group") and not {g.name for g in distro.groups} & set(wanted("group")):
        return False
    if filters.get("default") and not distro.is_default:
        return False
    image = distro.image
    if wanted("imageID") and (image is None or not {image.image_id, image.name} & set(wanted("imageID"))):
        return False
    if wanted("kernel") and (image is None or image.kernel not in wanted("kernel")):
        return False
    return not (wanted("initrd") and (image is None or image.initrd not in wanted("initrd")))


__all__ = ["DistroService", "DistroView", "check_kernel_args", "distro_view", "find_kickstart", "may_use",
           "regrant", "revoke", "users_of", "write_edits"]
