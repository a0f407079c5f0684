"""SQLite writers of every process take turns on ``<db>.writers`` before ``BEGIN IMMEDIATE`` (igor.db._WriterLock):
a write waits while another process holds that lock, goes on as soon as it is released, never waits past SQLite's
busy timeout, and a forked process does not share its parent's lock."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import threading
import time
from pathlib import Path

import pytest
from pony.orm import db_session

import igor.db
from igor.db import init_db


@pytest.fixture
def sqlite_db(tmp_path: Path):
    db = init_db(f"sqlite:///{tmp_path / 'igor.db'}")
    yield db, tmp_path / "igor.db.writers"
    db.disconnect()


def _bump(db) -> None:
    with db_session(immediate=True):
        db.ScheduleEpoch[1].epoch += 1


def _epoch(db) -> int:
    with db_session:
        return db.ScheduleEpoch[1].epoch


def _write_in_thread(db) -> tuple[threading.Thread, threading.Event]:
    done = threading.Event()

    def run() -> None:
        _bump(db)
        done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, done


def test_a_write_waits_while_another_holder_has_the_lock_and_goes_on_after(sqlite_db) -> None:
    db, lock_path = sqlite_db
    _bump(db)  # the first write creates the lock file
    assert lock_path.exists()
    fd = os.open(lock_path, os.O_RDWR)  # another open file: to flock, another process
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        thread, done = _write_in_thread(db)
        assert not done.wait(0.3), "the write went ahead while another writer held the lock"
        assert _epoch(db) == 1  # readers are not held up
        fcntl.flock(fd, fcntl.LOCK_UN)
        assert done.wait(5)
        thread.join(5)
    finally:
        os.close(fd)
    assert _epoch(db) == 2


def test_the_wait_is_bounded_by_sqlites_busy_timeout(sqlite_db, monkeypatch: pytest.MonkeyPatch) -> None:
    db, lock_path = sqlite_db
    _bump(db)
    monkeypatch.setattr(igor.db, "SQLITE_BUSY_MS", 300)
    fd = os.open(lock_path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # held by a writer that never lets go (but holds no SQLite lock)
        began = time.monotonic()
        _bump(db)
        waited = time.monotonic() - began
    finally:
        os.close(fd)
    assert 0.3 <= waited < 5
    assert _epoch(db) == 2


def _write_in_forked_child(db, started, done) -> None:
    started.set()
    _bump(db)
    done.set()
    os._exit(0)


def test_a_forked_process_takes_the_lock_on_its_own_descriptor(sqlite_db) -> None:
    """A descriptor inherited across fork (gunicorn forks its workers) would share one lock with the parent, and
    the child's writes would not wait for the parent's: the child takes its turns on a file it opened itself."""
    db, _ = sqlite_db
    _bump(db)
    lock = db.provider.writer_lock
    lock.acquire()  # the parent holds the lock through its descriptor (and no SQLite lock)
    try:
        ctx = multiprocessing.get_context("fork")
        started, done = ctx.Event(), ctx.Event()
        db.disconnect()  # no SQLite connection crosses the fork
        child = ctx.Process(target=_write_in_forked_child, args=(db, started, done))
        child.start()
        assert started.wait(10)
        assert not done.wait(0.3), "the forked writer went ahead while its parent held the lock"
    finally:
        lock.release()
    assert done.wait(10)
    child.join(10)
    assert child.exitcode == 0
    assert _epoch(db) == 2


def test_a_lock_file_that_cannot_be_made_leaves_sqlite_to_wait_alone(sqlite_db, caplog) -> None:
    """A database whose folder this user may not write (the lock file cannot be created): writes still work,
    on SQLite's busy handler, and the log says why, once."""
    db, lock_path = sqlite_db
    lock = db.provider.writer_lock
    lock.path = str(lock_path.parent / "missing-folder" / "igor.db.writers")
    caplog.set_level("WARNING", logger="igor.db")
    _bump(db)
    _bump(db)
    assert _epoch(db) == 2
    assert [r.getMessage().split(" (")[0] for r in caplog.records if r.name == "igor.db"] == [
        f"cannot open {lock.path}"]


def test_no_descriptor_outlives_a_write(sqlite_db) -> None:
    """The lock file is open only during a write: nothing is left open per database (a test suite binds
    thousands) or shared with a forked child."""
    db, lock_path = sqlite_db

    def open_on_lock_file() -> int:
        fds = Path("/proc/self/fd")
        return sum(1 for fd in fds.iterdir() if os.path.realpath(fd) == str(lock_path.resolve()))

    _bump(db)
    assert lock_path.exists() and open_on_lock_file() == 0
    with db_session(immediate=True):
        db.ScheduleEpoch[1].epoch += 1
        assert open_on_lock_file() == 1
    assert open_on_lock_file() == 0
