"""The file side of boot images and kickstarts — no database: where the files live, how uploads and staged files
get there, and the rules every file name obeys (reference §4.10, §8.5, §8.8).

Layout (the PXE writer builds its paths with :func:`image_paths`, relative to ``server.tftpRoot`` because TFTP
servers serve from there)::

    <tftpRoot>/igor_images/<imageId>/<kernel file name>     the image's files, <imageId> = 40 hex digits
    <tftpRoot>/igor_images/<imageId>/<initrd file name>
    <tftpRoot>/kickstarts/<kickstart file name>              served at /igor/cb/svc/ks/<file name>
    <imageStagePath>/<file name>                             files an admin staged for ``kstaged``/``istaged``
    <imageStagePath>/.upload-<uuid>                          uploads being received (no client name starts with '.')

Rules kept here:

* **Names.** Every uploaded or staged file name passes :func:`check_file_name`: a plain name (no ``/``, ``\\``,
  ``..``, NUL, control characters or whitespace, not starting with ``.``, at most :data:`MAX_NAME_LENGTH`
  characters, only letters, digits and ``. _ + ~ -``), so it is safe both as a path component and as a token in a
  pxelinux/grub line. Paths are also resolved and checked to stay inside their directory (a staged symlink
  pointing elsewhere is refused).
* **Atomic writes.** Every file is written to a hidden temporary name in its final directory and renamed into
  place, so a reader (the TFTP server, the callback server) sees the old file or the new one, never a part. A
  failure removes what it wrote.
* **Sizes.** Uploads stop at :data:`MAX_IMAGE_FILE_BYTES` per image file and :data:`MAX_KICKSTART_BYTES` per
  kickstart (neither Igor v2 nor our configuration has a key for it; :class:`ImageStore` takes both as
  arguments). A staged file over the image limit is refused the same way (413), and left where it is.
* **Identity.** An image id is the hex SHA-1 of the kernel bytes followed by the initrd bytes, read in chunks;
  its name is ``ki`` + the first 8 hex digits.
* **Breeds** (§8.5): ``debian freebsd generic nexenta redhat suse ubuntu unix vmware windows xen``;
  ``generic-linux`` is accepted as another spelling of ``generic`` (the PXE writer knows ``generic``, §11.12).
  Detection (``igor.imagedetect``) only fills a blank breed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from igor.errors import BadInput, IgorError, NotFound

log = logging.getLogger("igor.images")

IMAGES_DIR = "igor_images"
KICKSTARTS_DIR = "kickstarts"
IMAGE_TYPE = "ki"
#: Longest file name accepted anywhere (uploads, staged files, kickstarts).
MAX_NAME_LENGTH = 128
#: Largest kernel or initrd file accepted (a kernel is ~10 MiB, an installer or live initrd up to ~1-2 GiB).
MAX_IMAGE_FILE_BYTES = 4 << 30
#: Largest kickstart or preseed file accepted.
MAX_KICKSTART_BYTES = 1 << 20
CHUNK = 1 << 20

BREEDS = ("debian", "freebsd", "generic", "nexenta", "redhat", "suse", "ubuntu", "unix", "vmware", "windows", "xen")
BREED_ALIASES = {"generic-linux": "generic"}
DEFAULT_BREED = "generic"
BOOT_MODES = ("bios", "uefi")

UPLOAD_PREFIX = ".upload-"
_NAME_CHARS = re.compile(r"[A-Za-z0-9._+~-]+")
_IMAGE_ID = re.compile(r"[0-9a-f]{40}")


class FileTooLarge(IgorError):
    """An upload is larger than its limit (HTTP 413)."""

    status = 413


class StoreError(IgorError):
    """The server could not write or read its own files (disk full, permissions): not the caller's fault."""

    status = 500


# -- rules (no file system) ------------------------------------------------------------------------------------


def check_file_name(name: object, what: str = "file") -> str:
    """A file name safe as a path component under Igor's directories and as a PXE config token.

    Args:
        name: the proposed name (an upload's file name, a ``kstaged`` value, ...).
        what: what it names, for the message (``kernel file``, ``staged initrd file``, ``kickstart file``).

    Returns:
        The name, unchanged.

    Raises:
        BadInput: naming the value and the rule it breaks.
    """
    if not isinstance(name, str) or not name:
        raise BadInput(f"{what} name cannot be empty")
    shown = _shown(name)
    if len(name) > MAX_NAME_LENGTH:
        raise BadInput(f"{what} name '{shown}' is longer than {MAX_NAME_LENGTH} characters")
    if "\0" in name:
        raise BadInput(f"{what} name '{shown}' contains a NUL byte")
    if "/" in name or "\\" in name:
        raise BadInput(f"{what} name '{shown}' must be a plain file name, without '/' or '\\'")
    if ".." in name:
        raise BadInput(f"{what} name '{shown}' must not contain '..'")
    if name.startswith("."):
        raise BadInput(f"{what} name '{shown}' must not start with '.'")
    if any(not c.isprintable() or c.isspace() for c in name):
        raise BadInput(f"{what} name '{shown}' must not contain spaces or control characters")
    if not _NAME_CHARS.fullmatch(name):
        raise BadInput(f"{what} name '{shown}' may use only letters, digits and '.', '_', '+', '~', '-'")
    return name


def _shown(name: str) -> str:
    text = name.encode("unicode_escape").decode("ascii")
    return text if len(text) <= 64 else text[:61] + "..."


def check_breed(breed: str | None) -> str | None:
    """A breed in its stored spelling, or None when blank (``generic-linux`` becomes ``generic``)."""
    if breed is None or not breed.strip():
        return None
    value = BREED_ALIASES.get(breed.strip().lower(), breed.strip().lower())
    if value not in BREEDS:
        raise BadInput(f"invalid breed '{_shown(breed)}': must be one of {', '.join(BREEDS)}")
    return value


def parse_boot(values: Iterable[str]) -> tuple[bool, bool]:
    """Boot modes (``bios``, ``uefi``; comma lists allowed) as ``(bios, uefi)``; at least one is required."""
    modes = [v.strip().lower() for value in values for v in value.split(",") if v.strip()]
    for mode in modes:
        if mode not in BOOT_MODES:
            raise BadInput(f"invalid boot type '{_shown(mode)}': must be bios or uefi")
    if not modes:
        raise BadInput("at least one value required for image boot type: bios, uefi")
    return "bios" in modes, "uefi" in modes


def check_image_id(image_id: str) -> str:
    if not _IMAGE_ID.fullmatch(image_id or ""):
        raise StoreError(f"stored image id '{_shown(image_id or '')}' is not 40 hex digits")
    return image_id


def image_name(image_id: str) -> str:
    """``ki`` + the first 8 hex digits of the id (e.g. ``kid942c59b``)."""
    return IMAGE_TYPE + image_id[:8]


def image_paths(image_id: str, kernel: str, initrd: str) -> tuple[str, str]:
    """The kernel and initrd paths relative to tftpRoot, as PXE configs name them
    (``igor_images/<id>/<kernel>``)."""
    return f"{IMAGES_DIR}/{image_id}/{kernel}", f"{IMAGES_DIR}/{image_id}/{initrd}"


def hash_pair(kernel: Path, initrd: Path) -> str:
    """Hex SHA-1 of the kernel's bytes followed by the initrd's, read in chunks."""
    digest = hashlib.sha1()  # noqa: S324 - an identity (v2's image id), not a security measure
    for path in (kernel, initrd):
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


# -- files -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    """A file received from a client, waiting in the staging folder under a hidden temporary name.

    Attributes:
        path: where it is now.
        filename: the name the client gave it (already checked).
        size: its size in bytes.
        field: the form part it came in.
    """

    path: Path
    filename: str
    size: int
    field: str = ""

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _tmp_beside(dest: Path) -> Path:
    return dest.parent / f".{dest.name[:64]}.tmp-{uuid.uuid4().hex}"


def write_stream(stream: BinaryIO, dest: Path, *, limit: int, what: str) -> int:
    """Copy ``stream`` into ``dest`` atomically (temporary file, then rename), refusing more than ``limit`` bytes.

    Returns:
        The number of bytes written.

    Raises:
        FileTooLarge: the stream holds more than ``limit`` bytes (nothing is left behind).
        StoreError: the file could not be written.
    """
    tmp = _tmp_beside(dest)
    size = 0
    try:
        with open(tmp, "xb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise FileTooLarge(f"{what} is larger than the limit of {limit} bytes")
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
    except OSError as exc:
        raise StoreError(f"could not store {what}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return size


def place_file(src: Path, dest: Path, *, link: bool) -> None:
    """Put a copy of ``src`` at ``dest`` atomically. With ``link``, a hard link is tried first (same file
    system, no copy); use it only when ``src`` is about to be deleted, since a link shares later edits."""
    tmp = _tmp_beside(dest)
    try:
        linked = False
        if link:
            try:
                os.link(src, tmp)
                linked = True
            except OSError:
                linked = False
        if not linked:
            with open(src, "rb") as fin, open(tmp, "xb") as fout:
                shutil.copyfileobj(fin, fout, CHUNK)
                fout.flush()
                os.fsync(fout.fileno())
        os.chmod(tmp, 0o644)  # read by the TFTP and callback servers
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _inside(directory: Path, name: str, what: str) -> Path:
    """``directory / name``, resolved, refused unless it is directly inside ``directory``."""
    base = directory.resolve()
    path = (base / name).resolve()
    if path.parent != base:
        raise BadInput(f"{what} '{_shown(name)}' is not inside {base}")
    return path


class ImageStore:
    """Image, kickstart and staging files under one tftpRoot and one staging folder.

    Args:
        tftp_root: ``server.tftpRoot``.
        stage_dir: ``server.imageStagePath`` (the folder itself).
        max_image_bytes: largest kernel or initrd upload.
        max_kickstart_bytes: largest kickstart upload.
    """

    def __init__(self, tftp_root: Path, stage_dir: Path, *, max_image_bytes: int = MAX_IMAGE_FILE_BYTES,
                 max_kickstart_bytes: int = MAX_KICKSTART_BYTES) -> None:
        self.tftp_root = Path(tftp_root)
        self.stage_dir = Path(stage_dir)
        self.max_image_bytes = max_image_bytes
        self.max_kickstart_bytes = max_kickstart_bytes

    @property
    def images_root(self) -> Path:
        return self.tftp_root / IMAGES_DIR

    @property
    def kickstarts_root(self) -> Path:
        return self.tftp_root / KICKSTARTS_DIR

    def _ensure(self, directory: Path) -> Path:
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"could not create {directory}: {exc.strerror or exc}") from None
        return directory

    # -- receiving and staging ---------------------------------------------------------------------------------

    def receive(self, stream: BinaryIO, filename: str | None, *, field: str, limit: int) -> Upload:
        """Stream one uploaded file into the staging folder under a hidden temporary name.

        Raises:
            BadInput: the file name is unsafe.
            FileTooLarge: the file is larger than ``limit``.
        """
        name = check_file_name(filename, f"'{field}' file")
        dest = self._ensure(self.stage_dir) / f"{UPLOAD_PREFIX}{uuid.uuid4().hex}"
        size = write_stream(stream, dest, limit=limit, what=f"file '{field}' ({_shown(name)})")
        return Upload(dest, name, size, field)

    def staged(self, name: str, what: str) -> Path:
        """The staged file ``name`` (``kstaged``/``istaged``): a regular file directly in the staging folder.

        Raises:
            BadInput: unsafe name, not in the staging folder, or not a regular file.
            NotFound: no such staged file (the message names the folder to put it in).
            FileTooLarge: larger than an upload may be (the file is left in place).
        """
        check_file_name(name, what)
        path = _inside(self.stage_dir, name, what)
        if not path.exists():
            raise NotFound(f"{what} '{name}' not found in the staging folder {self.stage_dir}")
        if not path.is_file():
            raise BadInput(f"{what} '{name}' is not a regular file")
        size = path.stat().st_size
        if size > self.max_image_bytes:
            raise FileTooLarge(f"{what} '{name}' is larger than the limit of {self.max_image_bytes} bytes "
                               f"({size} bytes)")
        return path

    # -- images ------------------------------------------------------------------------------------------------

    def image_dir(self, image_id: str) -> Path:
        return self.images_root / check_image_id(image_id)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Serialise image registrations and deletions of every process on this host (``flock`` on one file:
        per open file, so threads of one process exclude each other too)."""
        path = self._ensure(self.images_root) / ".igor-images.lock"
        with open(path, "a") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def install_image(self, image_id: str, files: Sequence[tuple[Path, str]], *, link: bool) -> list[Path]:
        """Put each ``(source, name)`` at ``igor_images/<image_id>/<name>`` atomically, leaving other files of
        that folder alone. On failure what was placed is removed again.

        Returns:
            The paths written.
        """
        names = [name for _, name in files]
        if len(set(names)) != len(names):
            raise BadInput(f"the kernel and initrd files must have different names (both are '{names[0]}')")
        directory = self._ensure(self.image_dir(image_id))
        written: list[Path] = []
        try:
            for src, name in files:
                dest = _inside(directory, check_file_name(name), "image file")
                place_file(src, dest, link=link)
                written.append(dest)
        except OSError as exc:
            self.remove_files(written)
            raise StoreError(f"could not store the image files in {directory}: {exc.strerror or exc}") from None
        except BaseException:
            self.remove_files(written)
            raise
        return written

    def has_image(self, image_id: str, kernel: str, initrd: str) -> bool:
        directory = self.image_dir(image_id)
        return (directory / kernel).is_file() and (directory / initrd).is_file()

    def remove_image(self, image_id: str) -> None:
        """Remove an image's folder: renamed aside first (atomic), then deleted."""
        directory = self.image_dir(image_id)
        trash = self.images_root / f".trash-{uuid.uuid4().hex}"
        try:
            os.rename(directory, trash)
        except FileNotFoundError:
            return
        except OSError as exc:
            log.error("could not remove image folder %s: %s", directory, exc)
            return
        shutil.rmtree(trash, ignore_errors=True)

    @staticmethod
    def remove_files(paths: Iterable[Path]) -> None:
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    # -- kickstarts --------------------------------------------------------------------------------------------

    def kickstart_path(self, filename: str) -> Path:
        return _inside(self._ensure(self.kickstarts_root), check_file_name(filename, "kickstart file"),
                       "kickstart file")

    def write_kickstart(self, filename: str, src: Path) -> Path:
        """Put ``src`` at ``kickstarts/<filename>`` atomically (replacing a file of that name)."""
        dest = self.kickstart_path(filename)
        try:
            place_file(src, dest, link=True)
        except OSError as exc:
            raise StoreError(f"could not store kickstart file '{filename}': {exc.strerror or exc}") from None
        return dest

    def rename_kickstart(self, old: str, new: str) -> None:
        try:
            os.replace(self.kickstart_path(old), self.kickstart_path(new))
        except FileNotFoundError:
            log.warning("kickstart file %s was missing when renamed to %s", old, new)
        except OSError as exc:
            raise StoreError(f"could not rename kickstart file '{old}': {exc.strerror or exc}") from None

    def remove_kickstart(self, filename: str) -> None:
        try:
            self.kickstart_path(filename).unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                log.error("could not remove kickstart file %s: %s", filename, exc)


def check_kickstart_text(path: Path, filename: str) -> None:
    """A kickstart or preseed is a text file: UTF-8 without NUL bytes."""
    data = path.read_bytes()
    if b"\0" in data:
        raise BadInput(f"kickstart file '{filename}' is not a text file (it contains NUL bytes)")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"kickstart file '{filename}' is not UTF-8 text") from None
    if not data.strip():
        raise BadInput(f"kickstart file '{filename}' is empty")
