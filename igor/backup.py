"""``igor-server backup PATH`` and ``igor-server restore PATH [--force]``: a consistent snapshot of the database and
the image store in one ``.tar.gz``, and putting one back.

Archive layout (members in this order)::

    manifest.json                        format, Igor version, schema version, database kind, creation time,
                                         every other member with its size and sha256, DB-referenced files missing
    database.json                        a logical export of every entity table (all backends alike)
    files/igor_images/<imageId>/<name>   the image store (<tftpRoot>/igor_images)
    files/kickstarts/<name>              the kickstarts (<tftpRoot>/kickstarts)

Staged uploads (``server.imageStagePath``), hidden files (the store's lock file, temporary and trash files) and
boot files are not included.

Decisions:

* **One logical format for every backend.** ``database.json`` holds each entity's rows through Pony (column values,
  references as primary keys, each many-to-many link once), so a backup restores into SQLite, PostgreSQL or
  MySQL/MariaDB alike, whatever it was taken from (no ``pg_dump``/``mysqldump`` needed, nor their versions).
* **Consistency.** The image store's lock is held for the whole backup, so no registration or deletion of an image
  or kickstart is half-copied, and the database is read inside it: for SQLite from a copy taken with the online
  backup API (``sqlite3.Connection.backup``, one step, so a running server keeps working and the copy is one
  instant), for PostgreSQL in one ``REPEATABLE READ`` read-only transaction, for MySQL/MariaDB in one InnoDB
  transaction (``REPEATABLE READ``, its default). Reservations keep being written meanwhile; registrations wait.
* **Restore verifies before touching anything:** the manifest (format, schema version), every member's size and
  sha256, no member the manifest does not name; the files are extracted into a staging folder inside tftpRoot,
  the database is replaced in one transaction (rows re-inserted in dependency order, PostgreSQL sequences reset),
  then the staged folders are renamed into place. A target with data is refused unless ``force``. Stop the servers
  before restoring: a restore is refused, ``force`` or not, while a lifecycle worker holds its lease on the target
  database (an API-only ``--no-lifecycle`` server holds none and cannot be seen).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import sqlite3
import tarfile
import tempfile
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from pony.orm import Database, Json, db_session, flush

import igor
from igor.config import Config
from igor.db import SCHEMA_VERSION, bind_args, init_db
from igor.errors import IgorError
from igor.imagestore import CHUNK, IMAGES_DIR, KICKSTARTS_DIR, ImageStore

log = logging.getLogger("igor.backup")

FORMAT = "igor-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATABASE = "database.json"
FILES = "files/"
#: Entities whose rows an empty database already has (``init_db`` writes them): not "data" for the emptiness check.
_HOUSEKEEPING = ("Meta", "ScheduleEpoch", "ScheduleChange", "WorkerLease")


class BackupError(IgorError):
    """A backup could not be written or restored (the message names the problem); nothing was changed."""

    status = 500


@dataclass(frozen=True)
class BackupReport:
    path: Path
    rows: int
    files: int
    missing: tuple[str, ...]


# -- the database as rows ------------------------------------------------------------------------------------


def _order(db: Database) -> list[Any]:
    """Entities so that every entity comes after those its single-valued references point to."""
    entities = {e.__name__: e for e in db.entities.values()}
    deps = {name: {a.py_type.__name__ for a in e._attrs_ if a.reverse is not None and not a.is_collection
                   and a.py_type.__name__ != name}
            for name, e in entities.items()}
    order: list[str] = []
    while len(order) < len(entities):
        ready = sorted(n for n in entities if n not in order and deps[n] <= set(order))
        if not ready:  # pragma: no cover - the entities have no cycle of required references
            raise BackupError("the entities have a reference cycle")
        order.extend(ready)
    return [entities[n] for n in order]


def _owns_link(attr: Any) -> bool:
    """Each many-to-many link is stored on one side only (the lexically smaller entity.attribute)."""
    rev = attr.reverse
    return (attr.entity.__name__, attr.name) < (rev.entity.__name__, rev.name)


def _columns(entity: Any) -> list[Any]:
    return [a for a in entity._attrs_ if not a.is_collection or (a.reverse.is_collection and _owns_link(a))]


def _encode(attr: Any, value: Any) -> Any:
    if value is None:
        return None
    if attr.is_collection:
        return sorted(o.get_pk() for o in value)
    if attr.reverse is not None:
        return value.get_pk()
    if isinstance(value, datetime):
        return value.isoformat()
    if attr.py_type is Json:
        return json.loads(json.dumps(value))  # Pony's tracked list/dict → plain JSON
    return value


def export_rows(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Every row of every entity, as JSON-ready mappings (call inside one transaction for a consistent read)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for entity in _order(db):
        cols = _columns(entity)
        rows = [{a.name: _encode(a, getattr(obj, a.name)) for a in cols} for obj in entity.select()]
        pk = entity._pk_attrs_[0].name
        out[entity.__name__] = sorted(rows, key=lambda r: r[pk])
    return out


def _decode(attr: Any, value: Any) -> Any:
    if value is None:
        return None
    if attr.is_collection:
        return [attr.py_type[v] for v in value]
    if attr.reverse is not None:
        return attr.py_type[value]
    if attr.py_type is datetime:
        return datetime.fromisoformat(value)
    return value


def _data_tables(db: Database) -> list[str]:
    """The entities holding rows beyond what ``init_db`` writes into an empty database."""
    return [e._table_ for e in _order(db) if e.__name__ not in _HOUSEKEEPING and e.select().exists()]


def _wipe(db: Database) -> None:
    quote = db.provider.quote_name
    links = sorted({a.table for e in db.entities.values() for a in e._attrs_
                    if a.is_collection and a.reverse.is_collection})
    for table in links + [e._table_ for e in reversed(_order(db))]:
        db.execute(f"DELETE FROM {quote(table)}")


def import_rows(db: Database, data: dict[str, list[dict[str, Any]]]) -> int:
    """Replace every row with ``data`` (inside the caller's transaction); returns the number of rows written."""
    order = _order(db)
    known = {e.__name__ for e in order}
    if set(data) - known:
        raise BackupError(f"{DATABASE} names tables this igor-server does not have: "
                          f"{', '.join(sorted(set(data) - known))}")
    _wipe(db)
    count = 0
    links: list[tuple[Any, dict[str, Any]]] = []
    for entity in order:
        attrs = {a.name: a for a in _columns(entity)}
        for row in data.get(entity.__name__, []):
            unknown = set(row) - set(attrs)
            if unknown:
                raise BackupError(f"{DATABASE}: {entity.__name__} rows have unknown fields {sorted(unknown)}")
            values = {k: _decode(attrs[k], v) for k, v in row.items() if not attrs[k].is_collection}
            obj = entity(**values)
            links.append((obj, {k: v for k, v in row.items() if attrs[k].is_collection and v}))
            count += 1
        flush()
    for obj, sets in links:
        for name, pks in sets.items():
            getattr(obj, name).add(_decode(obj._adict_[name], pks))
    flush()
    if db.provider.dialect == "PostgreSQL":
        for entity in order:
            pk = entity._pk_attrs_[0]
            if pk.auto:
                table = entity._table_
                db.execute(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{pk.column}'), "
                           f"COALESCE(MAX(\"{pk.column}\"), 1), MAX(\"{pk.column}\") IS NOT NULL) FROM \"{table}\"")
    return count


# -- backup --------------------------------------------------------------------------------------------------


def _db_kind(url: str) -> str:
    return str(bind_args(url)["provider"])


@contextlib.contextmanager
def _snapshot(config: Config) -> Iterator[tuple[Database, str]]:
    """A database to read the snapshot from, inside a consistent read: for SQLite a copy made with the online
    backup API, else the live database in one repeatable-read transaction. Yields ``(db, kind)``."""
    url = config.database.url
    kind = _db_kind(url)
    if kind == "sqlite":
        source = Path(bind_args(url)["filename"])
        if not source.is_file():
            raise BackupError(f"database.url: no SQLite database at {source}")
        with tempfile.TemporaryDirectory(prefix="igor-backup-") as tmp:
            copy = Path(tmp) / "snapshot.db"
            src = sqlite3.connect(str(source), timeout=30)
            dst = sqlite3.connect(str(copy))
            try:
                src.backup(dst)  # pages=-1: one step, so it is one instant of the database
            finally:
                dst.close()
                src.close()
            db = init_db(f"sqlite:///{copy}", create=False)
            try:
                with db_session:
                    yield db, kind
            finally:
                db.disconnect()
        return
    db = init_db(url, create=False)
    try:
        with db_session:
            if kind == "postgres":
                db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            else:  # MySQL/MariaDB: InnoDB's default REPEATABLE READ; the snapshot starts at the first read
                db.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield db, kind
    finally:
        db.disconnect()


def _store(config: Config) -> ImageStore:
    return ImageStore(config.server.tftp_root, config.server.image_stage_path)


def _store_files(store: ImageStore) -> list[tuple[str, Path]]:
    """``(archive name, path)`` of every image and kickstart file (hidden names skipped)."""
    found: list[tuple[str, Path]] = []
    for sub in (IMAGES_DIR, KICKSTARTS_DIR):
        root = store.tftp_root / sub
        if not root.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                path = Path(dirpath) / name
                if not name.startswith(".") and path.is_file() and not path.is_symlink():
                    found.append((FILES + path.relative_to(store.tftp_root).as_posix(), path))
    return found


def _referenced(db: Database) -> list[str]:
    """Archive names of the files the database refers to (image kernels/initrds, kickstarts)."""
    names = []
    for image in db.DistroImage.select():
        for f in (image.kernel, image.initrd):
            if f:
                names.append(f"{FILES}{IMAGES_DIR}/{image.image_id}/{f}")
    names += [f"{FILES}{KICKSTARTS_DIR}/{k.filename}" for k in db.Kickstart.select()]
    return sorted(names)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _target(path: Path) -> Path:
    if path.is_dir():
        return path / f"igor-backup-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.tar.gz"
    if path.exists():
        raise BackupError(f"{path} already exists: choose a new file name (or a folder to write into)")
    if not path.parent.is_dir():
        raise BackupError(f"{path.parent} is not a folder")
    return path


def backup(config: Config, path: str | Path) -> BackupReport:
    """Write a backup of ``config``'s database and image store to ``path`` (a new file, or a folder to write
    ``igor-backup-<UTC time>.tar.gz`` into)."""
    dest = _target(Path(path))
    store = _store(config)
    tmp = dest.parent / f".{dest.name}.tmp-{uuid.uuid4().hex}"
    try:
        with store.lock(), _snapshot(config) as (db, kind):
            rows = export_rows(db)
            referenced = _referenced(db)
            data = json.dumps({"tables": rows}, sort_keys=True).encode()
            files = _store_files(store)
            entries = [{"path": DATABASE, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}]
            entries += [{"path": name, "size": p.stat().st_size, "sha256": _sha256(p)} for name, p in files]
            present = {name for name, _ in files}
            missing = [n for n in referenced if n not in present]
            manifest = {"format": FORMAT, "formatVersion": FORMAT_VERSION, "igorVersion": igor.__version__,
                        "schemaVersion": SCHEMA_VERSION, "databaseKind": kind,
                        "created": datetime.now(timezone.utc).isoformat(),
                        "rows": {k: len(v) for k, v in rows.items()}, "files": entries,
                        "missingFiles": missing}
            with open(tmp, "xb") as raw:
                with tarfile.open(fileobj=raw, mode="w:gz") as tar:
                    _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())
                    _add_bytes(tar, DATABASE, data)
                    for (name, p), entry in zip(files, entries[1:], strict=True):
                        info = tar.gettarinfo(str(p), arcname=name)
                        info.uid = info.gid = 0
                        info.uname = info.gname = ""
                        if info.size != entry["size"]:
                            raise BackupError(f"{p} changed while it was backed up")
                        with open(p, "rb") as fh:
                            tar.addfile(info, fh)
                raw.flush()
                os.fsync(raw.fileno())
        os.replace(tmp, dest)
    except OSError as exc:
        raise BackupError(f"could not write the backup {dest}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    for name in missing:
        log.warning("backup: %s is referenced by the database but missing from the image store", name)
    return BackupReport(dest, sum(len(v) for v in rows.values()), len(files), tuple(missing))


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o640
    info.mtime = int(datetime.now(timezone.utc).timestamp())
    tar.addfile(info, io.BytesIO(data))


# -- restore -------------------------------------------------------------------------------------------------


def _check_manifest(where: Path, manifest: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{where} is not an Igor backup (its {MANIFEST} is not an Igor backup manifest)")
    if manifest.get("formatVersion") != FORMAT_VERSION:
        raise BackupError(f"{where} has backup format version {manifest.get('formatVersion')!r}; this "
                          f"igor-server reads version {FORMAT_VERSION}")
    found = manifest.get("schemaVersion")
    if not isinstance(found, int):
        raise BackupError(f"{where}: the manifest has no schema version")
    written_by = f"Igor {manifest.get('igorVersion', '?')}"
    if found > SCHEMA_VERSION:
        raise BackupError(f"{where} was written by {written_by} with schema version {found}, newer than this "
                          f"igor-server's {SCHEMA_VERSION}: restore it with that version or a later one")
    if found < SCHEMA_VERSION:
        raise BackupError(f"{where} has schema version {found} and this igor-server uses {SCHEMA_VERSION}: no "
                          f"upgrade path from version {found} exists yet; restore it with {written_by}")
    try:
        entries = {str(e["path"]): {"size": int(e["size"]), "sha256": str(e["sha256"])} for e in manifest["files"]}
    except (KeyError, TypeError, ValueError):
        raise BackupError(f"{where}: the manifest's file list is unreadable") from None
    if DATABASE not in entries:
        raise BackupError(f"{where}: the manifest lists no {DATABASE}")
    return entries


def _safe_member(where: Path, info: tarfile.TarInfo) -> str:
    name = info.name
    parts = name.split("/")
    ok = (info.isfile() and not name.startswith("/") and ".." not in parts and "" not in parts
          and (name == DATABASE or (name.startswith(FILES) and len(parts) >= 3
                                    and parts[1] in (IMAGES_DIR, KICKSTARTS_DIR))))
    if not ok:
        raise BackupError(f"{where} holds a member Igor does not write: {name!r} (not an Igor backup?)")
    return name


def _copy_hashed(src: IO[bytes], dest: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(dest, "xb") as out:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return size, digest.hexdigest()


def _extract(where: Path, stage: Path) -> dict[str, Any]:
    """Verify the archive at ``where`` and extract it into ``stage``; returns the manifest."""
    if not where.is_file():
        raise BackupError(f"{where}: no such backup file")
    try:
        with tarfile.open(str(where), mode="r|gz") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST or not first.isfile():
                raise BackupError(f"{where} is not an Igor backup (it does not start with {MANIFEST})")
            fh = tar.extractfile(first)
            assert fh is not None
            try:
                manifest = json.loads(fh.read())
            except ValueError:
                raise BackupError(f"{where}: {MANIFEST} is not valid JSON") from None
            entries = _check_manifest(where, manifest)
            seen: set[str] = set()
            while (info := tar.next()) is not None:  # iterating the TarFile would start again at the manifest
                name = _safe_member(where, info)
                if name in seen or name not in entries:
                    raise BackupError(f"{where} holds {name!r}, which its manifest does not list")
                seen.add(name)
                dest = stage / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(info)
                assert src is not None
                size, digest = _copy_hashed(src, dest)
                if size != entries[name]["size"] or digest != entries[name]["sha256"]:
                    raise BackupError(f"{where} is corrupt: {name} does not match its checksum in the manifest")
    except (tarfile.TarError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise BackupError(f"{where} is corrupt or not an Igor backup (.tar.gz): {exc}") from None
    except OSError as exc:
        if isinstance(exc, (FileNotFoundError, PermissionError)):
            raise BackupError(f"could not read {where} or stage its files: {exc.strerror or exc}") from None
        raise BackupError(f"{where} is corrupt or not an Igor backup (.tar.gz): {exc}") from None
    absent = sorted(set(entries) - seen)
    if absent:
        raise BackupError(f"{where} is incomplete: the manifest lists {', '.join(absent[:5])} but the archive "
                          "does not hold it")
    return dict(manifest)


def _store_has_files(store: ImageStore) -> bool:
    return bool(_store_files(store))


def _swap_dirs(stage: Path, store: ImageStore) -> None:
    """Put the staged ``igor_images`` and ``kickstarts`` in place of the current ones (renames; undone on error)."""
    moved: list[tuple[Path, Path]] = []  # (from, to), to undo in reverse
    tag = uuid.uuid4().hex
    try:
        for sub in (IMAGES_DIR, KICKSTARTS_DIR):
            live, staged = store.tftp_root / sub, stage / FILES / sub
            staged.mkdir(parents=True, exist_ok=True)
            if live.exists():
                old = stage / f"old-{sub}-{tag}"
                os.rename(live, old)
                moved.append((live, old))
            os.rename(staged, live)
            moved.append((staged, live))
    except OSError as exc:
        for src, dst in reversed(moved):
            with contextlib.suppress(OSError):
                os.rename(dst, src)
        raise BackupError(f"could not put the restored files in {store.tftp_root}: {exc.strerror or exc}") from None
    for path in (store.tftp_root / IMAGES_DIR, store.tftp_root / KICKSTARTS_DIR):
        with contextlib.suppress(OSError):
            os.chmod(path, 0o755)


def _refuse_while_served(db: Database) -> None:
    """Refuse (even with ``force``) while a lifecycle worker holds the lease: a server runs on this database.

    An API-only server (``--no-lifecycle``) holds no lease and cannot be seen here; the admin stops it first.
    """
    from igor.worker import _wallclock

    with db_session:
        lease = db.WorkerLease.get(id=1)
        holder, expires = (lease.holder, lease.expires) if lease is not None else (None, None)
    if holder and expires is not None and expires > _wallclock():
        raise BackupError(f"a server is running on this database: its lifecycle worker ({holder}) holds the lease "
                          f"until {expires:%Y-%m-%d %H:%M:%S} UTC; stop every igor-server and igor-server worker "
                          "using it, then restore")


def restore(config: Config, path: str | Path, *, force: bool = False) -> BackupReport:
    """Replace ``config``'s database and image store with the backup at ``path``.

    Raises:
        BackupError: the file is missing, corrupt or not an Igor backup, its schema version is not this
            server's, or the target holds data and ``force`` is not given. Nothing has been changed then.
    """
    where = Path(path)
    store = _store(config)
    try:
        store.tftp_root.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=".igor-restore-", dir=store.tftp_root))
    except OSError as exc:
        raise BackupError(f"could not create a staging folder in {store.tftp_root}: {exc.strerror or exc}") from None
    try:
        manifest = _extract(where, stage)
        try:
            tables = json.loads((stage / DATABASE).read_bytes())["tables"]
            if not isinstance(tables, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise BackupError(f"{where}: {DATABASE} is not an Igor database export") from None
        db = init_db(config.database.url)
        try:
            _refuse_while_served(db)
            with store.lock():
                with db_session:
                    busy = _data_tables(db)
                if (busy or _store_has_files(store)) and not force:
                    what = f"tables {', '.join(busy)}" if busy else f"image files under {store.tftp_root}"
                    raise BackupError(f"the target is not empty ({what} hold data): restore with --force to "
                                      "replace everything in it")
                try:
                    with db_session:
                        rows = import_rows(db, tables)
                except BackupError:
                    raise
                except Exception as exc:  # noqa: BLE001 - driver errors have a class per driver
                    raise BackupError(f"could not restore the database from {where}: {exc}") from None
                _swap_dirs(stage, store)
        finally:
            db.disconnect()
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    files = [e for e in manifest["files"] if e["path"] != DATABASE]
    return BackupReport(where, rows, len(files), tuple(manifest.get("missingFiles", ())))


def run(config: Config, command: str, path: str, *, force: bool = False) -> int:
    """The ``igor-server backup`` / ``restore`` commands; errors are raised as :class:`BackupError`."""
    if command == "backup":
        report = backup(config, path)
        print(f"igor-server: wrote {report.path} ({report.rows} rows, {report.files} files)")
    else:
        report = restore(config, path, force=force)
        print(f"igor-server: restored {report.path} ({report.rows} rows, {report.files} files)")
    for name in report.missing:
        print(f"igor-server: warning: {name} is referenced by the database but was missing at backup time")
    return 0
