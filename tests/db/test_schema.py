"""Binding, schema version and backend settings of the database layer (runs on SQLite and on PostgreSQL)."""

from __future__ import annotations

import pytest
from pony.orm import db_session

from igor.db import SCHEMA_VERSION, SchemaError, bind_args, init_db


def test_fresh_database_is_stamped_and_seeded(db_url):
    db = init_db(db_url)
    with db_session:
        assert db.Meta["schema_version"].value == str(SCHEMA_VERSION)
        assert db.ScheduleEpoch[1].epoch == 0
        assert db.WorkerLease.exists(id=1)
    db.disconnect()
    again = init_db(db_url)  # a second start reuses it
    with db_session:
        assert again.Meta.select().count() == 1
    again.disconnect()


def test_unknown_schema_version_is_refused_with_a_clear_message(db_url):
    db = init_db(db_url)
    with db_session:
        db.Meta["schema_version"].value = str(SCHEMA_VERSION + 1)
    db.disconnect()
    with pytest.raises(SchemaError, match=f"schema version {SCHEMA_VERSION + 1}.*uses version {SCHEMA_VERSION}"):
        init_db(db_url)


def test_an_igor_v2_database_is_not_mistaken_for_an_empty_one(tmp_path):
    import shutil
    from pathlib import Path

    sample = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "igor2-v2-sample.db"
    copy = tmp_path / "igor.db"
    shutil.copy(sample, copy)
    with pytest.raises(SchemaError, match="not an Igor database.*import-igor2"):
        init_db(f"sqlite:///{copy}")


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    db = init_db(f"sqlite:///{tmp_path}/igor.db")
    with db_session:
        assert db.select("SELECT * FROM pragma_journal_mode")[0].lower() == "wal"
        assert db.select("SELECT * FROM pragma_busy_timeout")[0] >= 1000
    db.disconnect()


def test_database_url_problems_are_named():
    with pytest.raises(SchemaError, match="database.url"):
        bind_args("oracle://x/y")
    assert bind_args("postgresql://u:p@db.example.com:5433/igor") == {
        "provider": "postgres", "user": "u", "password": "p", "host": "db.example.com", "port": 5433,
        "database": "igor"}


def test_mysql_url_binds_pony_arguments():
    args = bind_args("mysql://root@127.0.0.1:3306/test")
    assert args["provider"] == "mysql" and args["database"] == "test" and args["port"] == 3306
