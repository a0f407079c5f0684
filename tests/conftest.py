"""Fixtures shared by the server-side tests: a database per test (SQLite; PostgreSQL or MySQL/MariaDB when
``IGOR_TEST_DB=postgresql://…`` or ``mysql://…`` names a server), a config rooted in a temporary ``IGOR_HOME``,
and the services."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("IGOR_BCRYPT_ROUNDS", "4")  # fast hashes in tests; production uses v2's cost 13


def _pg_database(base_url: str) -> tuple[str, str]:
    """Create a fresh PostgreSQL database for one test; returns (url, name)."""
    import psycopg2

    name = f"igor_t_{uuid.uuid4().hex[:12]}"
    conn = psycopg2.connect(base_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return base_url.rsplit("/", 1)[0] + "/" + name, name


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


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL for this test."""
    base = os.environ.get("IGOR_TEST_DB", "")
    if base.startswith("postgres"):
        url, name = _pg_database(base)
        yield url
        _pg_drop(base, name)
    elif base.startswith("mysql"):
        name = f"igor_t_{uuid.uuid4().hex[:12]}"
        _mysql(base, f"CREATE DATABASE `{name}`")
        yield base.rsplit("/", 1)[0] + "/" + name
        _mysql(base, f"DROP DATABASE IF EXISTS `{name}`")
    else:
        yield f"sqlite:///{tmp_path}/db/igor.db"


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
def services(config):
    from igor.db import init_db
    from igor.services import Services

    svc = Services(init_db(config.database.url), config)
    svc.bootstrap()
    yield svc
    svc.db.disconnect()
