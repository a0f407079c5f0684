"""Fixtures shared by the server-side tests: a database per test (SQLite; PostgreSQL or MySQL/MariaDB when
``IGOR_TEST_DB=postgresql://…`` or ``mysql://…`` names a server), a config rooted in a temporary ``IGOR_HOME``,
and the services."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("IGOR_BCRYPT_ROUNDS", "4")  # fast hashes in tests; production uses v2's cost 13


@pytest.fixture(scope="session")
def tls_certs(tmp_path_factory: pytest.TempPathFactory):
    """A CA, a server certificate for 127.0.0.1/localhost signed by it and an unrelated CA (once per session)."""
    from tests.certs import have_openssl, make_certs

    if not have_openssl():
        pytest.skip("openssl is not installed: cannot make the test certificates")
    return make_certs(tmp_path_factory.mktemp("tls"))


def _pg_database(base_url: str, name: str | None = None) -> tuple[str, str]:
    """Create a fresh PostgreSQL database; returns (url, name)."""
    import psycopg2

    name = name or f"igor_t_{uuid.uuid4().hex[:12]}"
    conn = psycopg2.connect(base_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return base_url.rsplit("/", 1)[0] + "/" + name, name


def _pg_settings(base_url: str, name: str) -> None:
    """A throwaway test database does not wait for its commits to reach the disk (``synchronous_commit = off``:
    a crash may lose the last commits, never consistency), which takes most of the time of a test on it."""
    import psycopg2

    conn = psycopg2.connect(base_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    conn.close()


def _pg_drop(base_url: str, name: str) -> None:
    import psycopg2

    conn = psycopg2.connect(base_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def _mysql(base_url: str, sql: str) -> None:
    from urllib.parse import urlsplit

    import pymysql

    parts = urlsplit(base_url)
    conn = pymysql.connect(host=parts.hostname, port=parts.port or 3306, user=parts.username or "root",
                           password=parts.password or "", autocommit=True)
    with conn.cursor() as cur:
        cur.execute(sql)
    conn.close()


class _ServerDatabase:
    """One database on a PostgreSQL or MySQL server for the whole run, emptied before each test: creating a
    database per test costs ~0.3 s on PostgreSQL, emptying its tables a few milliseconds. Tables, once created
    by the first test, stay; every row goes, the schema version and the epoch/lease rows are put back, so each
    test starts from what ``init_db`` makes of a fresh database."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.kind = "pg" if base.startswith("postgres") else "mysql"
        self.name = f"igor_t_{uuid.uuid4().hex[:12]}"
        self._db: Any = None
        if self.kind == "pg":
            self.url = _pg_database(base, self.name)[0]
            _pg_settings(base, self.name)
        else:
            _mysql(base, f"CREATE DATABASE `{self.name}`")
            self.url = base.rsplit("/", 1)[0] + "/" + self.name

    def empty(self) -> None:
        from igor.db import SCHEMA_VERSION

        if self.kind == "pg":
            import psycopg2

            conn = psycopg2.connect(self.url)
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                tables = [r[0] for r in cur.fetchall()]
                if tables:
                    # DELETE with the foreign-key triggers off, then the sequences restarted: what TRUNCATE …
                    # RESTART IDENTITY does, at a few ms instead of ~0.5 s (TRUNCATE rewrites each table's files)
                    cur.execute("SET session_replication_role = replica")
                    for t in tables:
                        cur.execute(f'DELETE FROM "{t}"')
                    cur.execute("SET session_replication_role = DEFAULT")
                    cur.execute("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
                    for (seq,) in cur.fetchall():
                        cur.execute(f'ALTER SEQUENCE "{seq}" RESTART')
                    cur.execute("INSERT INTO igor_meta (name, value) VALUES ('schema_version', %s)",
                                (str(SCHEMA_VERSION),))
                    cur.execute("INSERT INTO schedule_epoch (id, epoch) VALUES (1, 0)")
                    cur.execute("INSERT INTO worker_lease (id, holder) VALUES (1, '')")
            conn.close()
            return
        from urllib.parse import urlsplit

        import pymysql

        parts = urlsplit(self.url)
        conn = pymysql.connect(host=parts.hostname, port=parts.port or 3306, user=parts.username or "root",
                               password=parts.password or "", database=self.name, autocommit=True)
        with conn.cursor() as cur:
            cur.execute("SHOW TABLES")
            tables = [r[0] for r in cur.fetchall()]
            if tables:
                # DELETE in one transaction, then the counters reset where rows had been (TRUNCATE is DDL: ~0.1 s)
                cur.execute("SET FOREIGN_KEY_CHECKS = 0")
                cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                            "AND auto_increment > 1", (self.name,))
                counted = [r[0] for r in cur.fetchall()]
                cur.execute("BEGIN")
                for t in tables:
                    cur.execute(f"DELETE FROM `{t}`")
                cur.execute("COMMIT")
                for t in counted:
                    cur.execute(f"ALTER TABLE `{t}` AUTO_INCREMENT = 1")
                cur.execute("SET FOREIGN_KEY_CHECKS = 1")
                cur.execute("INSERT INTO igor_meta (name, value) VALUES ('schema_version', %s)",
                            (str(SCHEMA_VERSION),))
                cur.execute("INSERT INTO schedule_epoch (id, epoch) VALUES (1, 0)")
                cur.execute("INSERT INTO worker_lease (id, holder) VALUES (1, '')")
        conn.close()

    def database(self) -> Any:
        """One mapped Pony ``Database`` on it for the whole run (emptied by :meth:`empty` before each test): mapping
        the entities again for every test costs ~30 queries and ~15 ms of CPU."""
        if self._db is None:
            from igor.db import init_db

            self._db = init_db(self.url)
        return self._db

    def drop(self) -> None:
        if self._db is not None:
            self._db.disconnect()
        if self.kind == "pg":
            _pg_drop(self.base, self.name)
        else:
            _mysql(self.base, f"DROP DATABASE IF EXISTS `{self.name}`")


@pytest.fixture(scope="session")
def server_database() -> Iterator[_ServerDatabase | None]:
    base = os.environ.get("IGOR_TEST_DB", "")
    if not base.startswith(("postgres", "mysql")):
        yield None
        return
    database = _ServerDatabase(base)
    yield database
    database.drop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh Igor SQLite database made once per run: each test gets a copy, which costs ~1 ms where creating the
    tables costs ~30 ms of CPU (what ``init_db`` makes of an empty file, so the copy is the same)."""
    from igor.db import init_db

    path = tmp_path_factory.mktemp("sqlite-template") / "igor.db"
    init_db(f"sqlite:///{path}").disconnect()
    assert not path.with_name("igor.db-wal").exists()  # all in the main file: a plain copy is the whole database
    return path


@pytest.fixture
def db_url(tmp_path: Path, server_database: _ServerDatabase | None, sqlite_template: Path) -> Iterator[str]:
    """An empty database URL for this test: SQLite in ``tmp_path``, or the run's server database emptied."""
    if server_database is None:
        target = tmp_path / "db" / "igor.db"
        target.parent.mkdir(mode=0o700, exist_ok=True)
        shutil.copyfile(sqlite_template, target)
        yield f"sqlite:///{target}"
        return
    server_database.empty()
    yield server_database.url


@pytest.fixture
def make_config(tmp_path: Path, db_url: str):
    """Build a Config from a mapping (IGOR_HOME = tmp_path, database = db_url unless given)."""
    from igor.config import parse_config

    def make(data: dict | None = None, **env: str):
        data = dict(data or {})
        data.setdefault("database", {"url": db_url})
        return parse_config(data, env={"IGOR_HOME": str(tmp_path), "HOME": str(tmp_path), **env})

    return make


@pytest.fixture
def config(make_config):
    return make_config()


@pytest.fixture
def services(config, server_database: _ServerDatabase | None):
    from igor.db import init_db
    from igor.services import Services

    shared = server_database is not None and config.database.url == server_database.url
    svc = Services(server_database.database() if shared else init_db(config.database.url), config)
    svc.bootstrap()
    yield svc
    if not shared:
        svc.db.disconnect()
