"""Boot images and kickstarts: ``image register|show|del`` and ``kickstart register|show|edit|del`` (reference
§1.7, §2.4, §8.5, §8.8). Admin-only, like every admin route: igor-admin or an elevated ``admins`` member.

Images. A kernel+initrd pair registered from an upload or from files an admin staged (``kstaged``/``istaged``,
deleted once registered). Its id is the SHA-1 of the two files, its name ``ki`` + 8 hex digits; registering an
identical pair again returns the image already registered (and the new copies are dropped), even when two
registrations race: on one host they are serialised by :meth:`ImageStore.lock`; across hosts the unique
``image_id`` column decides and the loser returns the winner's image. Unlike Igor v2 (§11 item 12) the breed the
admin gives is kept — detection only fills a blank — and the boot modes are stored. Detection
(``igor.imagedetect``: the kernel's version, the initrd's os-release) runs once per new image, synchronously and
bounded; when it finds nothing the image still registers, its initrd info ``unknown`` (an admin can set it with
``distro edit -i``). Deleting is refused while a distro uses the image (v2's message), and removes the image's
folder.

Kickstarts. Files under ``<tftpRoot>/kickstarts``; the name is the file name before its first ``.``. Both the
file name and the name are unique. ``edit`` replaces the file (an upload under another file name takes that file
name, v2's rule) and/or renames; deleting is refused while distros are linked to it.

Files are written (atomically) before the row that names them is committed and removed after the row that named
them is gone, so a row never names a file that was not completely written. Registrations, edits and deletions
of images and of kickstarts hold the store's lock, so on one host they never interleave.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pony.orm import CacheIndexError, CommitException, IntegrityError, TransactionIntegrityError, db_session, flush

from igor.errors import BadInput, Conflict, NotFound
from igor.imagedetect import UNKNOWN, ImageInfo, detect_image
from igor.imagestore import (
    BREEDS,
    DEFAULT_BREED,
    IMAGE_TYPE,
    ImageStore,
    Upload,
    check_breed,
    check_file_name,
    check_kickstart_text,
    hash_pair,
    image_name,
    image_paths,
    parse_boot,
)
from igor.services.context import Principal, ServiceContext, find, require_elevated

log = logging.getLogger("igor.images")

#: A kickstart's name: its file name before the first '.', or the name an edit gives it.
_KS_NAME = re.compile(r"[A-Za-z0-9_+~-]{1,64}")
#: What Pony raises when a unique column already holds the value (in the database, or in this session's cache).
_DUPLICATE = (TransactionIntegrityError, CommitException, IntegrityError, CacheIndexError)
#: The two-part sources of an image, and why a lone part is refused.
UPLOAD_PAIR = ("kernelFile", "initrdFile", "an upload needs both kernelFile and initrdFile")
STAGED_PAIR = ("kstaged", "istaged", "staged files need both kstaged and istaged")


class _RegisteredMeanwhile(Exception):
    """The image appeared between the look-up and the insert (another host registered it)."""


def _names(items: Iterable[str]) -> str:
    """A list of names the way Go's ``%v`` prints a []string: ``[a b]``."""
    return "[" + " ".join(items) + "]"


# -- views -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageView:
    """A registered image.

    Attributes:
        created: False when the registration found the identical pair already registered.
    """

    name: str
    image_id: str
    type: str
    kernel: str
    initrd: str
    breed: str
    local_boot: bool
    bios_boot: bool
    uefi_boot: bool
    kernel_info: str
    initrd_info: str
    distros: tuple[str, ...] = ()
    created: bool = True

    @property
    def boot(self) -> tuple[str, ...]:
        return tuple(m for m, on in (("bios", self.bios_boot), ("uefi", self.uefi_boot)) if on)

    @property
    def kernel_path(self) -> str:
        """The kernel relative to tftpRoot, as a PXE config names it."""
        return image_paths(self.image_id, self.kernel, self.initrd)[0]

    @property
    def initrd_path(self) -> str:
        return image_paths(self.image_id, self.kernel, self.initrd)[1]

    def to_json(self) -> dict[str, Any]:
        """Igor v2's ``DistroImageData``."""
        return {"name": self.name, "image_id": self.image_id, "image_type": self.type, "kernel": self.kernel,
                "initrd": self.initrd, "distros": list(self.distros), "breed": self.breed,
                "local": "yes" if self.local_boot else "no", "boot": list(self.boot)}


def image_view(image: Any, *, created: bool = True) -> ImageView:
    """The view of a ``DistroImage`` entity (inside a db_session)."""
    return ImageView(name=image.name, image_id=image.image_id, type=image.type, kernel=image.kernel or "",
                     initrd=image.initrd or "", breed=image.breed or "", local_boot=image.local_boot,
                     bios_boot=image.bios_boot, uefi_boot=image.uefi_boot, kernel_info=image.kernel_info or "",
                     initrd_info=image.initrd_info or "", distros=tuple(sorted(d.name for d in image.distros)),
                     created=created)


@dataclass(frozen=True)
class KickstartView:
    name: str
    filename: str
    owner: str
    distros: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Igor v2's ``KickstartData``."""
        return {"name": self.name, "fileName": self.filename, "owner": self.owner}


def kickstart_view(ks: Any) -> KickstartView:
    return KickstartView(name=ks.name, filename=ks.filename, owner=ks.owner.name if ks.owner else "",
                         distros=tuple(sorted(d.name for d in ks.distros)))


def find_kickstart(db: Any, name: str) -> Any:
    """The ``Kickstart`` entity called ``name`` (inside a db_session), or None."""
    return find(db.Kickstart, name=name)


def delete_unlinked(store: ImageStore, what: str, name: str, lookup: Callable[[], Any], key: Callable[[Any], str],
                    remove: Callable[[str], None], *, refuse: bool = True) -> bool:
    """Delete the row ``lookup()`` finds (an image or a kickstart) unless distros use it, then its files —
    under the store's lock, the row's deletion committed before ``remove(key(row))`` runs.

    Args:
        refuse: raise when there is no such row or distros use it; else just return False.

    Raises:
        NotFound, Conflict: with v2's messages (when ``refuse``).
    """
    with store.lock():
        with db_session:
            row = lookup()
            if row is None:
                if refuse:
                    raise NotFound(f"{what} '{name}' not found")
                return False
            if row.distros:
                if refuse:
                    raise Conflict(f"cannot delete {what} while linked to existing distros. Delete the following "
                                   f"distros first: {_names(sorted(d.name for d in row.distros))}")
                return False
            files = key(row)
            row.delete()
        remove(files)
    return True


def check_pair(given: Iterable[str], pair: tuple[str, str, str]) -> bool:
    """Whether both parts of ``pair`` (:data:`UPLOAD_PAIR` or :data:`STAGED_PAIR`) are among ``given``; False
    when neither is.

    Raises:
        BadInput: only one is.
    """
    first, second, why = pair
    names = set(given)
    if (first in names) != (second in names):
        raise BadInput(f"required parameter '{second if first in names else first}' not found ({why})")
    return first in names


def check_kickstart_name(name: object) -> str:
    """1-64 of ``A-Za-z0-9_+~-``, not ``register`` (``/igor/kickstart/register`` is a route)."""
    if not isinstance(name, str) or not _KS_NAME.fullmatch(name):
        shown = name if isinstance(name, str) and len(name) <= 64 else "..."
        raise BadInput(f"'{shown}' is not a legal kickstart name (1-64 letters, digits, '_', '+', '~' or '-')")
    if name == "register":
        raise BadInput("kickstart name cannot be the restricted word 'register'")
    return name


# -- images ----------------------------------------------------------------------------------------------------


class ImageService:
    """Image operations. ``store`` holds the files; ``detect`` says what a new kernel+initrd pair is."""

    def __init__(self, ctx: ServiceContext, store: ImageStore | None = None,
                 detect: Callable[[Path, Path], ImageInfo] = detect_image) -> None:
        self.ctx = ctx
        server = ctx.config.server
        self.store = store or ImageStore(server.tftp_root, server.image_stage_path)
        self.detect = detect

    @staticmethod
    def authorize(principal: Principal) -> None:
        """Refuse a caller who may not register images before anything is uploaded."""
        require_elevated(principal)

    def register_upload(self, principal: Principal, kernel: Upload, initrd: Upload, *, breed: str | None = None,
                        local_boot: bool = False, boot: Sequence[str] = ("bios",)) -> ImageView:
        """Register two uploaded files (received by :meth:`ImageStore.receive`); they are consumed."""
        try:
            return self.register_files(principal, kernel.path, initrd.path, breed=breed, local_boot=local_boot,
                                       boot=boot, kernel_name=kernel.filename, initrd_name=initrd.filename,
                                       consume=True)
        finally:
            kernel.discard()
            initrd.discard()

    def register_staged(self, principal: Principal, kstaged: str, istaged: str, *, breed: str | None = None,
                        local_boot: bool = False, boot: Sequence[str] = ("bios",)) -> ImageView:
        """Register two files an admin put in ``server.imageStagePath``; they are deleted once registered."""
        require_elevated(principal)
        kernel, initrd = self.staged_files(kstaged, istaged)
        return self.register_files(principal, kernel, initrd, breed=breed, local_boot=local_boot, boot=boot,
                                   consume=True)

    def staged_files(self, kstaged: str, istaged: str) -> tuple[Path, Path]:
        """The staged kernel and initrd (checked: safe names, regular files in the staging folder, not over the
        image size limit); the caller authorizes."""
        return self.store.staged(kstaged, "staged kernel file"), self.store.staged(istaged, "staged initrd file")

    def register_files(self, principal: Principal | None, kernel_path: Path, initrd_path: Path, *,
                       breed: str | None = None, local_boot: bool = False, boot: Sequence[str] = ("bios",),
                       kernel_name: str | None = None, initrd_name: str | None = None,
                       consume: bool = False, link: bool | None = None) -> ImageView:
        """Register a kernel and an initrd, or return the image already registered with identical files.

        Args:
            principal: the caller, who must be an elevated admin; None when the caller has already authorized
                the request (distro creation from an upload, gated by ``server.allowImageUpload``).
            kernel_path: the kernel file (anywhere readable).
            initrd_path: the initrd file.
            breed: one of :data:`igor.imagestore.BREEDS` (``generic-linux`` means ``generic``); blank: detected
                from the initrd's os-release or the kernel's version, else ``generic``. A local-boot image needs
                one given or detected.
            local_boot: the image installs to disk (its distros need a kickstart).
            boot: boot modes, ``bios`` and/or ``uefi`` (comma lists allowed); at least one.
            kernel_name: the kernel's file name in the image folder (default: ``kernel_path.name``).
            initrd_name: the initrd's file name (default: ``initrd_path.name``).
            consume: delete both source files once registered (or found already registered); otherwise they
                are left alone.
            link: hard-link the sources into the image folder instead of copying them (default: ``consume``);
                only for sources that are deleted once the caller is done with them.

        Returns:
            The image (``created`` False when it already existed; its settings are then the existing ones).

        Raises:
            Forbidden: the caller is not an elevated admin.
            BadInput: a bad breed, boot mode or file name, a missing or empty file, equal file names.
            Conflict: another image already has this image's name (the first 8 digits of its id).
        """
        if principal is not None:
            require_elevated(principal)
        chosen = check_breed(breed)
        bios, uefi = parse_boot(boot)
        kname = check_file_name(kernel_name or Path(kernel_path).name, "kernel file")
        iname = check_file_name(initrd_name or Path(initrd_path).name, "initrd file")
        if kname == iname:
            raise BadInput(f"the kernel and initrd files must have different names (both are '{kname}')")
        for path, what, name in ((kernel_path, "kernel", kname), (initrd_path, "initrd", iname)):
            if not Path(path).is_file():
                raise BadInput(f"{what} file '{name}' not found")
            if Path(path).stat().st_size == 0:
                raise BadInput(f"{what} file '{name}' is empty")
        image_id = hash_pair(Path(kernel_path), Path(initrd_path))

        def new_fields() -> dict[str, Any]:
            info = self._detect(Path(kernel_path), Path(initrd_path))
            detected = chosen or info.breed
            if detected is None and local_boot:
                raise BadInput("a local-boot image needs a breed (none was given and none was detected from the "
                               "kernel or initrd): one of " + ", ".join(BREEDS))
            return {"image_id": image_id, "type": IMAGE_TYPE, "name": image_name(image_id), "kernel": kname,
                    "initrd": iname, "breed": detected or DEFAULT_BREED, "local_boot": bool(local_boot),
                    "bios_boot": bios, "uefi_boot": uefi, "kernel_info": info.kernel_info,
                    "initrd_info": info.initrd_info}

        # detect outside the lock (it may read hundreds of MiB), and only for a pair not registered yet
        fields = new_fields() if self._existing(image_id) is None else None
        with self.store.lock():
            view = self._existing(image_id)
            if view is None:
                view = self._install(fields or new_fields(), Path(kernel_path), Path(initrd_path),
                                     link=consume if link is None else link)
        if consume:
            self.store.remove_files((Path(kernel_path), Path(initrd_path)))
        log.info("image %s %s (%s, %s)", view.name, "registered" if view.created else "already registered",
                 view.kernel, view.initrd)
        return view

    def _detect(self, kernel: Path, initrd: Path) -> ImageInfo:
        """What the pair is; whatever goes wrong, the image registers with nothing detected."""
        try:
            info = self.detect(kernel, initrd)
        except Exception:  # noqa: BLE001 - detection must never fail a registration
            log.exception("detection failed on %s and %s", kernel, initrd)
            return ImageInfo("", UNKNOWN, None)
        log.info("detected %s: kernel %s, initrd %s, breed %s", kernel.name, info.kernel_info or "?",
                 info.initrd_info, info.breed or "?")
        return info

    def _existing(self, image_id: str) -> ImageView | None:
        with db_session:
            image = self.ctx.db.DistroImage.get(image_id=image_id)
            return image_view(image, created=False) if image is not None else None

    def _install(self, fields: dict[str, Any], kernel: Path, initrd: Path, *, link: bool) -> ImageView:
        image_id = fields["image_id"]
        written = self.store.install_image(image_id, ((kernel, fields["kernel"]), (initrd, fields["initrd"])),
                                           link=link)
        try:
            with db_session:
                if self.ctx.db.DistroImage.get(image_id=image_id) is not None:
                    raise _RegisteredMeanwhile(image_id)
                other = self.ctx.db.DistroImage.get(name=fields["name"])
                if other is not None and other.image_id != image_id:
                    raise Conflict(f"image name '{fields['name']}' is already used by a different image "
                                   f"({other.image_id}); these files cannot be registered")
                image = self.ctx.db.DistroImage(**fields)
                flush()
                view = image_view(image)
        except (*_DUPLICATE, _RegisteredMeanwhile):
            # Another server host registered the same pair between our look-up and our insert.
            existing = self._existing(image_id)
            if existing is None:
                self.store.remove_files(written)
                raise
            self.store.remove_files(p for p in written if p.name not in (existing.kernel, existing.initrd))
            return existing
        except BaseException:
            self.store.remove_files(written)
            with contextlib.suppress(OSError):
                self.store.image_dir(image_id).rmdir()  # only if now empty
            raise
        return view

    def show(self, principal: Principal) -> list[ImageView]:
        """Every image, sorted by name."""
        require_elevated(principal)
        with db_session:
            return sorted((image_view(i) for i in self.ctx.db.DistroImage.select()), key=lambda v: v.name)

    def get(self, name: str) -> ImageView | None:
        """The image called ``name`` (no authorization: for other services)."""
        with db_session:
            image = find(self.ctx.db.DistroImage, name=name)
            return image_view(image) if image is not None else None

    def delete(self, principal: Principal, name: str) -> str:
        """Delete an image and its files; refused while a distro uses it."""
        require_elevated(principal)
        self._drop(name, refuse=True)
        log.info("image %s deleted", name)
        return ""

    def remove_if_orphan(self, name: str) -> bool:
        """Delete the image ``name`` with its files when no distro uses it any more (after a distro delete;
        call it outside any db_session, once the distro's deletion is committed). Returns whether it did."""
        if not self._drop(name, refuse=False):
            return False
        log.info("image %s deleted: no distro uses it any more", name)
        return True

    def _drop(self, name: str, *, refuse: bool) -> bool:
        return delete_unlinked(self.store, "image", name, lambda: find(self.ctx.db.DistroImage, name=name),
                               lambda image: image.image_id, self.store.remove_image, refuse=refuse)


# -- kickstarts ------------------------------------------------------------------------------------------------


class KickstartService:
    """Kickstart operations; files through the same :class:`ImageStore` as images (and under its lock)."""

    def __init__(self, ctx: ServiceContext, store: ImageStore) -> None:
        self.ctx = ctx
        self.store = store

    @staticmethod
    def authorize(principal: Principal) -> None:
        require_elevated(principal)

    def register(self, principal: Principal, upload: Upload) -> KickstartView:
        """Register an uploaded kickstart (consumed) under its file name; its name is the part before the
        first '.'."""
        require_elevated(principal)
        try:
            filename = check_file_name(upload.filename, "kickstart file")
            name = check_kickstart_name(filename.split(".")[0])
            check_kickstart_text(upload.path, filename)
            with self.store.lock(), db_session:
                db = self.ctx.db
                if db.Kickstart.get(filename=filename) is not None:
                    raise Conflict(f"a kickstart file already exists with file name: {filename}")
                if find_kickstart(db, name) is not None:
                    raise Conflict(f"a kickstart named '{name}' already exists")
                self.store.write_kickstart(filename, upload.path)
                ks = db.Kickstart(name=name, filename=filename, owner=find(db.User, name=principal.name))
                flush()
                view = kickstart_view(ks)
        except _DUPLICATE:  # another server host registered it between our check and our insert
            raise Conflict(f"a kickstart file already exists with file name: {upload.filename}") from None
        finally:
            upload.discard()
        log.info("kickstart %s registered (%s)", view.name, view.filename)
        return view

    def show(self, principal: Principal, names: Sequence[str] = ()) -> list[KickstartView]:
        """Kickstarts (those named, if any), sorted by name."""
        require_elevated(principal)
        with db_session:
            return sorted((kickstart_view(k) for k in self.ctx.db.Kickstart.select()
                           if not names or k.name in names), key=lambda v: v.name)

    def edit(self, principal: Principal, name: str, *, upload: Upload | None = None,
             new_name: str | None = None) -> str:
        """Replace the file and/or rename. An upload under another file name becomes the kickstart's file name
        (the old file is removed, v2's rule); one under the same file name replaces the content in place."""
        require_elevated(principal)
        try:
            with self.store.lock(), db_session:
                db = self.ctx.db
                ks = find_kickstart(db, name)
                if ks is None:
                    raise NotFound(f"kickstart '{name}' not found")
                if upload is None and new_name is None:
                    raise BadInput("no proposed changes to kickstart detected")
                changes: dict[str, Any] = {}
                if new_name is not None and new_name != ks.name:
                    check_kickstart_name(new_name)
                    if find_kickstart(db, new_name) is not None:
                        raise Conflict(f"a kickstart named '{new_name}' already exists")
                    changes["name"] = new_name
                old_file = ks.filename
                if upload is not None:
                    filename = check_file_name(upload.filename, "kickstart file")
                    check_kickstart_text(upload.path, filename)
                    if filename != old_file and db.Kickstart.get(filename=filename) is not None:
                        raise Conflict(f"a kickstart file already exists with file name: {filename}")
                    self.store.write_kickstart(filename, upload.path)
                    changes["filename"] = filename
                ks.set(**changes)
                flush()
            if changes.get("filename", old_file) != old_file:
                self.store.remove_kickstart(old_file)
        except _DUPLICATE:
            raise Conflict(f"kickstart '{name}' was changed concurrently; try again") from None
        finally:
            if upload is not None:
                upload.discard()
        log.info("kickstart %s updated: %s", name, ", ".join(sorted(changes)) or "nothing")
        return f"kickstart file updated successfully: {name}"

    def delete(self, principal: Principal, name: str) -> str:
        """Delete a kickstart and its file; refused while distros are linked to it."""
        require_elevated(principal)
        delete_unlinked(self.store, "kickstart", name, lambda: find_kickstart(self.ctx.db, name),
                        lambda ks: ks.filename, self.store.remove_kickstart)
        log.info("kickstart %s deleted", name)
        return ""


__all__ = ["STAGED_PAIR", "UPLOAD_PAIR", "ImageService", "ImageView", "KickstartService", "KickstartView",
           "check_kickstart_name", "check_pair", "delete_unlinked", "find_kickstart", "image_view", "kickstart_view"]
