"""Binding Igor's database from ``database.url``: ``init_db(url) -> Database`` with every entity mapped.

SQLite (the default, WAL mode with a busy timeout so a waiting writer waits rather than fails), PostgreSQL and
MySQL/MariaDB are supported. The schema version lives in the ``igor_meta`` table; a database written by another
version of Igor, or a non-Igor database (an Igor v2 ``igor.db``, say), is refused with a message saying what to do,
before anything is created in it. No module-level database exists: each caller (a server worker, a test) gets its
own.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pony.orm import Database, db_session

from igor.config import db_bind_args, mask_url
from igor.db.entities import define_entities
from igor.errors import IgorError

log = logging.getLogger("igor.db")

#: Bumped whenever the entities change incompatibly; upgrades are explicit functions in ``UPGRADES``.
SCHEMA_VERSION = 1

#: SQLite's busy timeout: how long a writer waits for another's transaction before giving up.
SQLITE_BUSY_MS = 30_000


class SchemaError(IgorError):
    """The database is not one this server can use (unknown schema version, not an Igor database)."""

    status = 500


class DatabaseUnavailable(IgorError):
    """``database.url`` names a database this process cannot reach or open (server down, wrong credentials, no
    such database, an unwritable SQLite folder)."""

    status = 503


def bind_args(url: str) -> dict[str, Any]:
    """Pony ``bind`` arguments for ``database.url`` (see :func:`igor.config.db_bind_args`)."""
    try:
        return db_bind_args(url)
    except ValueError as exc:
        raise SchemaError(f"database.url {mask_url(url)!r}: {exc}") from None


def init_db(url: str, *, create: bool = True) -> Database:
    """Bind a new ``Database`` to ``url``, check its schema version and map every entity.

    Args:
        url: ``database.url``.
        create: create missing tables (and stamp the schema version) in an empty database.

    Raises:
        SchemaError: the database holds another schema version or is not an Igor database.
    """
    kw = bind_args(url)
    db = Database()
    if kw["provider"] == "sqlite":
        _sqlite_pragmas(db)
    define_entities(db)
    _bind(db, url, kw)
    if kw["provider"] == "sqlite" and kw["filename"] != ":memory:":
        _queue_sqlite_writers(db, kw["filename"])
    found = _stored_version(db)
    if found is None:
        if _has_foreign_tables(db):
            raise SchemaError(f"the database at {_where(kw)} has tables but no Igor schema version: it is not an "
                              "Igor database (an Igor v2 igor.db is imported with `igor-server import-igor2 PATH`)")
    elif found != SCHEMA_VERSION:
        raise SchemaError(f"the database at {_where(kw)} has Igor schema version {found}; this igor-server uses "
                          f"version {SCHEMA_VERSION} (upgrade igor-server, or restore a backup of this version)")
    db.generate_mapping(create_tables=create)
    if found is None:
        with db_session:
            db.Meta(name="schema_version", value=str(SCHEMA_VERSION))
            if not db.ScheduleEpoch.exists(id=1):
                db.ScheduleEpoch(id=1, epoch=0)
            if not db.WorkerLease.exists(id=1):
                db.WorkerLease(id=1)
    if kw["provider"] == "sqlite" and kw["filename"] != ":memory:":
        os.chmod(kw["filename"], 0o640)
    return db


def _bind(db: Database, url: str, kw: dict[str, Any]) -> None:
    """``db.bind(**kw)`` (which connects), with a failure to connect said in one line naming ``database.url``."""
    from pony.orm.dbapiprovider import DBException

    try:
        if kw["provider"] == "sqlite" and kw["filename"] != ":memory:":
            Path(kw["filename"]).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        db.bind(**kw)
    except (DBException, OSError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise DatabaseUnavailable(f"database.url {mask_url(url)!r}: cannot open the database: {reason}") from None


def probe(url: str) -> str:
    """Connect to ``database.url`` without creating anything and say what is there (for ``check-config``).

    Raises:
        DatabaseUnavailable: it cannot be reached or opened.
        SchemaError: it holds another schema version, or is not an Igor database.
    """
    kw = bind_args(url)
    if kw["provider"] == "sqlite" and kw["filename"] != ":memory:" and not Path(kw["filename"]).exists():
        folder = Path(kw["filename"]).parent
        while not folder.exists():
            folder = folder.parent
        if not os.access(folder, os.W_OK | os.X_OK):
            raise DatabaseUnavailable(f"database.url {mask_url(url)!r}: cannot create {kw['filename']}: "
                                      f"{folder} is not writable by this user")
        return f"{_where(kw)}: no database yet (created at start)"
    db = Database()
    _bind(db, url, kw)
    try:
        found = _stored_version(db)
        if found is None:
            if _has_foreign_tables(db):
                raise SchemaError(f"the database at {_where(kw)} has tables but no Igor schema version: it is not "
                                  "an Igor database")
            return f"{_where(kw)}: empty (Igor creates its tables at start)"
        if found != SCHEMA_VERSION:
            raise SchemaError(f"the database at {_where(kw)} has Igor schema version {found}; this igor-server "
                              f"uses version {SCHEMA_VERSION}")
        return f"{_where(kw)}: Igor schema version {found}"
    finally:
        db.disconnect()


def _where(kw: Mapping[str, Any]) -> str:
    if kw["provider"] == "sqlite":
        return str(kw["filename"])
    return f"{kw['provider']}://{kw.get('host', 'localhost')}/{kw.get('database')}"


def _stored_version(db: Database) -> int | None:
    try:
        with db_session:
            rows = db.select("SELECT value FROM igor_meta WHERE name = 'schema_version'")
    except Exception:  # noqa: BLE001 - "no such table" has a different class per driver
        return None
    if not rows:
        return None
    try:
        return int(rows[0])
    except ValueError:
        raise SchemaError(f"unreadable schema version {rows[0]!r} in igor_meta") from None


def _has_foreign_tables(db: Database) -> bool:
    try:
        with db_session:
            db.select("SELECT 1 FROM users")
    except Exception:  # noqa: BLE001
        return False
    return True


def _sqlite_pragmas(db: Database) -> None:
    @db.on_connect(provider="sqlite")
    def _pragmas(_db: Database, connection: Any) -> None:
        cursor = connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = NORMAL")


class _WriterLock:
    """Igor's SQLite writers, in every process, take turns on a lock file beside the database (``<db>.writers``)
    before ``BEGIN IMMEDIATE``, polling for it every millisecond or two.

    SQLite's own busy handler makes a waiting writer sleep longer and longer (up to 100 ms a try), so under load a
    writer that has waited a while keeps losing the lock to newcomers that try again sooner: about a second of p99
    for a reservation create behind four other gunicorn workers' writes. Waiting on this lock first, each waiter
    keeps trying at the same short interval, and by the time it holds the lock SQLite's is free. Writers outside
    Igor (the ``sqlite3`` shell) still meet SQLite's busy timeout. The turns are not strictly fair (whoever polls
    first after a release wins), only no waiter falls behind by sleeping longer. After waiting as long as SQLite's
    busy timeout, a writer goes on to ``BEGIN IMMEDIATE`` and SQLite's own timeout decides, as before.

    Each turn opens the file and closing it ends the turn (a few microseconds): no descriptor outlives a write, so
    none is left open by a database nobody uses any more. A process forked during a turn closes its copy at once
    (:func:`_forget_turns`): while any copy is open the turn goes on, and the child would wait on itself.
    One thread per process at a time gets here (inside Pony's lock)."""

    POLL_S = 0.001, 0.002

    def __init__(self, path: str) -> None:
        self.path = path + ".writers"
        self._fd = -1
        self._warned = False

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o640)  # flock needs no more
        except OSError as exc:  # a folder this user may not write: SQLite's busy handler alone, as before
            if not self._warned:
                log.warning("cannot open %s (%s): SQLite writers wait on its busy handler alone", self.path,
                            exc.strerror)
                self._warned = True
            return
        self._fd = fd
        deadline = time.monotonic() + SQLITE_BUSY_MS / 1000
        tries = 0
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return
            time.sleep(self.POLL_S[tries > 4])
            tries += 1

    def release(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)  # ends the turn (once no forked copy is open)


_LOCKS: weakref.WeakSet[_WriterLock] = weakref.WeakSet()


def _forget_turns() -> None:
    """In a forked child: close the copies of the parent's lock files (the parent's turns stay the parent's)."""
    for lock in list(_LOCKS):
        lock.release()


os.register_at_fork(after_in_child=_forget_turns)


def _queue_sqlite_writers(db: Database, filename: str) -> None:
    """Put :class:`_WriterLock` inside Pony's per-process lock for immediate (writing) transactions."""
    provider = db.provider
    lock = _WriterLock(filename)
    _LOCKS.add(lock)
    thread_acquire, thread_release = provider.acquire_lock, provider.release_lock

    def acquire_lock() -> None:
        thread_acquire()
        try:
            lock.acquire()
        except BaseException:  # interrupted (a signal's exception) while waiting, or just after taking it
            lock.release()
            thread_release()
            raise

    def release_lock() -> None:
        try:
            lock.release()
        finally:
            thread_release()

    provider.acquire_lock, provider.release_lock = acquire_lock, release_lock
    provider.writer_lock = lock


__all__ = ["SCHEMA_VERSION", "SchemaError", "bind_args", "init_db"]
