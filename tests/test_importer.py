"""Tests for igor.importer: migrating Igor v2's sample database (``../shared/data/igor2-v2-sample.db``)."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pony.orm import db_session

from igor.errors import IgorError
from igor.importer import ImportReport, import_igor2, parse_go_time
from igor.rules import verify_password
from igor.services.auth import AuthService
from igor.services.context import ServiceContext
from igor.timefmt import to_minutes

UTC = timezone.utc
SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "igor2-v2-sample.db"
NOW = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
NS_PER_MINUTE = 60 * 10**9

needs_sample = pytest.mark.skipif(not SAMPLE.exists(), reason=f"Igor v2 sample database not found at {SAMPLE}")


@pytest.fixture(autouse=True)
def _fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    import igor.rules

    monkeypatch.setenv("IGOR_BCRYPT_ROUNDS", "4")
    monkeypatch.setattr(igor.rules, "BCRYPT_ROUNDS", 4)


@pytest.fixture
def ctx(config):
    from igor.db import init_db

    db = init_db(config.database.url)
    yield ServiceContext(db, config, clock=lambda: NOW)
    db.disconnect()


def copy_sample(tmp_path: Path, name: str = "igor.db") -> Path:
    """A writable copy of the sample (through SQLite's backup API, so WAL content comes along)."""
    dest = tmp_path / "v2" / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{SAMPLE}?mode=ro", uri=True)
    dst = sqlite3.connect(dest)
    src.backup(dst)
    src.close()
    dst.execute("PRAGMA journal_mode = DELETE")
    dst.close()
    return dest


def go_time(dt: datetime) -> str:
    """A datetime the way Igor v2 stores it (mattn/go-sqlite3: nanoseconds and an offset)."""
    local = dt.astimezone(timezone(timedelta(hours=-6)))
    return local.strftime("%Y-%m-%d %H:%M:%S") + ".123456789-06:00"


def live(path: Path, table: str, where: str = "1") -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(f'SELECT count(*) FROM "{table}" WHERE deleted_at IS NULL AND ({where})').fetchone()[0]
    finally:
        conn.close()


def quiet(_line: str) -> None:
    pass


def names(entities) -> set[str]:
    return {e.name for e in entities}


# --- parsing Go datetimes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-08-29 12:53:15.515940357-07:00", datetime(2024, 8, 29, 19, 53, 15, 515940, tzinfo=UTC)),
    ("2024-08-29 13:00:01-07:00", datetime(2024, 8, 29, 20, 0, 1, tzinfo=UTC)),
    ("2024-12-06 15:20:53.448472221-08:00", datetime(2024, 12, 6, 23, 20, 53, 448472, tzinfo=UTC)),
    ("2024-08-29T12:53:15.5+05:30", datetime(2024, 8, 29, 7, 23, 15, 500000, tzinfo=UTC)),
    ("2024-08-29T19:53:15Z", datetime(2024, 8, 29, 19, 53, 15, tzinfo=UTC)),
    ("2024-08-29 19:53:15.999999999 +0000 UTC", datetime(2024, 8, 29, 19, 53, 15, 999999, tzinfo=UTC)),
    ("2024-08-29 12:53:15.1 -0700 MST m=+0.001", datetime(2024, 8, 29, 19, 53, 15, 100000, tzinfo=UTC)),
    ("2024-08-29 19:53", datetime(2024, 8, 29, 19, 53, tzinfo=UTC)),
    ("2024-08-29", datetime(2024, 8, 29, tzinfo=UTC)),
    (1724961195, datetime(2024, 8, 29, 19, 53, 15, tzinfo=UTC)),
    (b"2024-08-29 19:53:15+00:00", datetime(2024, 8, 29, 19, 53, 15, tzinfo=UTC)),
    (None, None),
    ("", None),
])
def test_parse_go_time(text, expected) -> None:
    assert parse_go_time(text) == expected


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01 00:00:00", "2024-08-29 12:53:15 +07:00 extra words"])
def test_parse_go_time_refuses_garbage(text) -> None:
    with pytest.raises(IgorError, match="unreadable Igor v2 datetime"):
        parse_go_time(text)


# --- the sample as it is ----------------------------------------------------------------------------------------


@needs_sample
def test_sample_import_counts(ctx) -> None:
    lines: list[str] = []
    report = import_igor2(SAMPLE, ctx, log=lines.append)
    assert isinstance(report, ImportReport)
    expected = {
        "users": live(SAMPLE, "users"),
        "groups": live(SAMPLE, "groups", "NOT is_user_private AND name NOT IN ('all', 'admins')"),
        "clusters": live(SAMPLE, "clusters"),
        "hosts": live(SAMPLE, "hosts"),
        "policies": live(SAMPLE, "host_policies"),
        "reservations": live(SAMPLE, "reservations"),
        "maintenance": live(SAMPLE, "maintenance_res"),
        "distros": live(SAMPLE, "distros"),
        "images": live(SAMPLE, "distro_images"),
        "kickstarts": live(SAMPLE, "kickstarts"),
        "profiles": live(SAMPLE, "profiles"),
        "history": live(SAMPLE, "history_records"),
    }
    assert report.counts() == expected
    assert (expected["users"], expected["groups"], expected["hosts"], expected["history"]) == (10, 3, 48, 34)
    db = ctx.db
    with db_session:
        assert db.User.select().count() == expected["users"]
        assert db.Host.select().count() == expected["hosts"]
        assert db.HistoryRecord.select().count() == expected["history"]
        assert db.Distro.select().count() == expected["distros"]
        assert db.DistroImage.select().count() == expected["images"]
        assert db.ScheduleEpoch[1].epoch >= 1
    assert lines[0].startswith("importing ") and any(line.strip() == "hosts: 48" for line in lines)
    assert "48 hosts" in str(report)
    assert not [w for w in report.warnings if "permission" in w]  # every v2 fact was granted again


@needs_sample
def test_sample_passwords_and_login(ctx) -> None:
    import_igor2(SAMPLE, ctx, log=quiet)
    with db_session:
        users = {u.name: u for u in ctx.db.User.select()}
        assert isinstance(users["afbagwe"].pass_hash, str) and users["afbagwe"].pass_hash.startswith("$2a$13$")
        assert verify_password("changeMe$1", users["chell"].pass_hash)
        assert verify_password("igor-admin", users["igor-admin"].pass_hash)
        assert not users["igor-admin"].pass_hash.startswith("$2b$04$")  # v2's hash replaced the fresh one
        assert users["neo"].email == "neotheone@sandia.gov" and users["neo"].full_name == "Thomas Anderson"
        assert users["igor-admin"].email is None  # v2 stores '' for igor-admin
        assert users["afbagwe"].created == datetime(2024, 8, 29, 19, 55, 3, 488732)
    result = AuthService(ctx).login("wheatley", "changeMe$1")
    assert result.token and result.user == "wheatley"
    assert AuthService(ctx).resolve(result.token).name == "wheatley"


@needs_sample
def test_sample_groups_memberships_and_owners(ctx) -> None:
    import_igor2(SAMPLE, ctx, log=quiet)
    conn = sqlite3.connect(f"file:{SAMPLE}?mode=ro", uri=True)
    v2_members: dict[str, set[str]] = {}
    for gname, uname in conn.execute("SELECT g.name, u.name FROM groups_users gu JOIN groups g ON g.id = gu.group_id "
                                     "JOIN users u ON u.id = gu.user_id"):
        v2_members.setdefault(gname, set()).add(uname)
    v2_owners: dict[str, set[str]] = {}
    for gname, uname in conn.execute("SELECT g.name, u.name FROM groups_owners go JOIN groups g ON g.id = go.group_id "
                                     "JOIN users u ON u.id = go.user_id"):
        v2_owners.setdefault(gname, set()).add(uname)
    all_users = {r[0] for r in conn.execute("SELECT name FROM users WHERE deleted_at IS NULL")}
    conn.close()
    with db_session:
        groups = {g.name: g for g in ctx.db.Group.select()}
        for name in ("TheGoodGuys", "TheBadGuys", "TestBugGroup"):
            assert names(groups[name].members) == v2_members[name], name
            assert names(groups[name].owners) == v2_owners[name], name
            assert not groups[name].is_user_private
            assert {p.fact for p in groups[name].permissions} >= {f"groups:{name}:view"}
        assert names(groups["admins"].members) == v2_members["admins"]
        assert names(groups["all"].members) == all_users - {"igor-admin"}
        for user in all_users:
            private = groups[f"u_{user}"]
            assert private.is_user_private and names(private.members) == {user}
            assert names(private.owners) == {"igor-admin"}
            assert f"users:{user}:edit:email,password,fullName" in {p.fact for p in private.permissions}
        owner_facts = {p.fact for p in groups["u_afbagwe"].permissions}
        assert {"groups:TheGoodGuys:edit:*", "groups:TheGoodGuys:delete", "groups:TestBugGroup:delete",
                "distros:myDistro1:edit:*", "distros:myDistro1:delete,view", "distros:myDistro1:view"} <= owner_facts
        assert "distros:BadDistro:view" in {p.fact for p in groups["TheBadGuys"].permissions}


@needs_sample
def test_sample_cluster_hosts_policy_distros_history(ctx) -> None:
    import_igor2(SAMPLE, ctx, log=quiet)
    db = ctx.db
    with db_session:
        cluster = db.Cluster.get(name="krypton")
        assert (cluster.prefix, cluster.display_width, cluster.display_height) == ("kn", 12, 4)
        host = db.Host.get(name="kn24")
        assert (host.mac, host.hostname, host.ip, host.eth, host.sequence_id) == (
            "00:00:00:00:00:18", "kn24", "192.168.0.24", "Et1/24/1", 24)
        assert (host.boot_mode, host.state, host.restore_state, host.cluster.name) == ("bios", 0, 0, "krypton")
        assert host.policy.name == "default"
        policy = db.HostPolicy.get(name="default")
        assert policy.max_res_time == 15811200000000000 // NS_PER_MINUTE == 183 * 24 * 60
        assert policy.not_available == [] and names(policy.access_groups) == {"all"}
        distro = db.Distro.get(name="myDistro1")
        assert (distro.owner.name, distro.image.name, distro.is_public, distro.kickstart) == (
            "afbagwe", "kiad0b6d0d", False, None)
        assert names(distro.groups) == {"TheGoodGuys", "u_afbagwe"}
        image = db.DistroImage.get(name="kic1432839")
        assert (image.kernel, image.bios_boot, image.uefi_boot, image.breed) == ("tinytest.kernel", True, False,
                                                                                 "unknown")
        first = db.HistoryRecord.select(lambda h: h.name == "OldWillow" and h.status == "created").first()
        assert first.start == to_minutes(datetime(2024, 8, 29, 20, 0, 1, tzinfo=UTC))
        assert first.end == first.orig_end == to_minutes(datetime(2024, 8, 31, 20, 0, tzinfo=UTC))
        assert (first.owner, first.group, first.profile, first.distro, first.hosts) == (
            "afbagwe", "TheGoodGuys", "tpf_each", "myDistro1", "kn7,kn6,kn1,kn19")
        assert first.created == datetime(2024, 8, 29, 20, 0, 1, 873174)


# --- refusals -----------------------------------------------------------------------------------------------------


def test_refuses_a_missing_file(ctx, tmp_path) -> None:
    with pytest.raises(IgorError, match="no such file") as err:
        import_igor2(tmp_path / "nope.db", ctx, log=quiet)
    assert err.value.status == 400


def test_refuses_a_non_sqlite_file(ctx, tmp_path) -> None:
    bogus = tmp_path / "igor.db"
    bogus.write_text("this is not a database, just some text that is long enough to have a header" * 10)
    with pytest.raises(IgorError, match="is not an SQLite database") as err:
        import_igor2(bogus, ctx, log=quiet)
    assert err.value.status == 400


def test_refuses_a_sqlite_file_without_igor_tables(ctx, tmp_path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (id integer)")
    conn.execute("PRAGMA user_version = 2")
    conn.close()
    with pytest.raises(IgorError, match="is not an Igor v2 database: it has no table"):
        import_igor2(path, ctx, log=quiet)


@needs_sample
def test_refuses_schema_version_1(ctx, tmp_path) -> None:
    path = copy_sample(tmp_path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    with pytest.raises(IgorError) as err:
        import_igor2(path, ctx, log=quiet)
    assert err.value.status == 400
    assert str(err.value) == (f"{path} has Igor v2 schema version 1; only version 2 can be imported "
                              "(run Igor v2's db-migrate first)")


@needs_sample
def test_refuses_a_non_empty_target(ctx) -> None:
    import_igor2(SAMPLE, ctx, log=quiet)
    with pytest.raises(IgorError, match="target database is not empty .*: import into a fresh database") as err:
        import_igor2(SAMPLE, ctx, log=quiet)
    assert err.value.status == 400
    with db_session:
        assert ctx.db.User.select().count() == 10


@needs_sample
def test_duplicated_email_imports_nothing(ctx, tmp_path) -> None:
    path = copy_sample(tmp_path)
    conn = sqlite3.connect(path)
    # v2's schema makes email UNIQUE: rebuild the table without it to get a duplicate in.
    conn.executescript("""
        CREATE TABLE users_copy AS SELECT * FROM users;
        DROP TABLE users;
        ALTER TABLE users_copy RENAME TO users;
        UPDATE users SET email = 'afbagwe@sandia.gov' WHERE name = 'msymond';
    """)
    conn.close()
    with pytest.raises(IgorError, match="users 'afbagwe' and 'msymond' have the same email address") as err:
        import_igor2(path, ctx, log=quiet)
    assert err.value.status == 400
    with db_session:
        assert ctx.db.User.select(lambda u: u.name != "igor-admin").count() == 0
        assert ctx.db.Host.select().count() == 0


@needs_sample
def test_failure_late_in_the_import_rolls_everything_back(ctx, tmp_path) -> None:
    path = copy_sample(tmp_path)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE history_records SET name = ? WHERE id = (SELECT max(id) FROM history_records)", ("x" * 100,))
    conn.commit()
    conn.close()
    with pytest.raises(IgorError, match=r"failed, nothing was imported: history record \d+") as err:
        import_igor2(path, ctx, log=quiet)
    assert err.value.status == 400
    with db_session:
        db = ctx.db
        assert db.User.select(lambda u: u.name != "igor-admin").count() == 0
        assert db.Group.select().count() == 0  # even the system groups went with the transaction
        assert (db.Host.select().count(), db.Cluster.select().count(), db.HistoryRecord.select().count()) == (0, 0, 0)
        assert db.ScheduleEpoch[1].epoch == 0
    report = import_igor2(SAMPLE, ctx, log=quiet)  # the target is still fresh
    assert report.users == 10


# --- reservations, profiles, policies, maintenance: a sample with more in it --------------------------------------


def _enrich(path: Path) -> None:
    """Add what the sample lacks: a kickstart, profiles, a restricted policy, reservations, maintenance, and
    soft-deleted rows."""
    conn = sqlite3.connect(path)
    host = {name: hid for hid, name in conn.execute("SELECT id, name FROM hosts")}
    t = go_time(NOW - timedelta(days=30))
    conn.execute("INSERT INTO kickstarts VALUES (1, ?, ?, NULL, 'rocky', 'rocky.ks', 1)", (t, t))
    conn.execute("UPDATE distros SET kickstart_id = 1 WHERE name = 'myDistro2'")
    profiles = [(1, "myprof", 2, 1, 0, "quiet"), (2, "tpf_aaaa", 2, 1, 1, ""), (3, "tpf_bbbb", 7, 3, 1, ""),
                (4, "tpf_cccc", 3, 1, 1, "")]
    for pid, name, owner, distro, is_default, args in profiles:
        conn.execute("INSERT INTO profiles VALUES (?, ?, ?, NULL, ?, '', ?, ?, ?, ?)",
                     (pid, t, t, name, owner, distro, is_default, args))
    blocks = ('[{"start":"0 2 * * 6","duration":"4h"},{"start":"0 0 1 * *","duration":"1d12h"},'
              '{"start":"not cron","duration":"1h"}]')
    conn.execute("INSERT INTO host_policies VALUES (2, ?, ?, NULL, 'restricted', ?, ?)",
                 (t, t, 7 * 24 * 60 * NS_PER_MINUTE, blocks))
    conn.execute("INSERT INTO groups_policies VALUES (2, 12)")
    conn.execute("UPDATE hosts SET host_policy_id = 2 WHERE name IN ('kn10', 'kn11')")
    reservations = [  # id, name, owner, group, profile, start, end, installed, hosts
        (1, "FutureRes", 2, 12, 2, NOW + timedelta(days=1), NOW + timedelta(days=3), 0, ["kn1", "kn2"]),
        (2, "ActiveRes", 7, 9, 3, NOW - timedelta(hours=1), NOW + timedelta(days=1), 1, ["kn3"]),
        (3, "EndedRes", 3, 5, 4, NOW - timedelta(days=3), NOW - timedelta(days=1), 1, ["kn4"]),
    ]
    for rid, name, owner, group, profile, start, end, installed, hosts in reservations:
        conn.execute('INSERT INTO reservations (id, created_at, updated_at, deleted_at, name, description, owner_id, '
                     'group_id, profile_id, vlan, start, "end", orig_end, reset_end, extend_count, installed, '
                     'install_error, cycle_on_start, next_notify, hash) '
                     "VALUES (?, ?, ?, NULL, ?, 'imported', ?, ?, ?, 0, ?, ?, ?, ?, 0, ?, '', 1, ?, ?)",
                     (rid, t, t, name, owner, group, profile, go_time(start), go_time(end), go_time(end),
                      go_time(end + timedelta(minutes=10)), installed, 24 * 60 * NS_PER_MINUTE, f"{rid:040x}"))
        for h in hosts:
            conn.execute("INSERT INTO reservations_hosts VALUES (?, ?)", (host[h], rid))
        if installed:
            for h in hosts:
                conn.execute("UPDATE hosts SET state = 1 WHERE name = ?", (h,))
    conn.execute("INSERT INTO maintenance_res VALUES (1, ?, ?, NULL, 'OldRes', ?)",
                 (t, t, go_time(NOW + timedelta(minutes=30))))
    conn.execute("INSERT INTO maintenanceres_hosts VALUES (1, ?)", (host["kn5"],))
    conn.execute("UPDATE hosts SET state = 2, restore_state = 0 WHERE name = 'kn5'")
    conn.execute("INSERT INTO users VALUES (11, ?, ?, ?, 'ghost', 'Ghost', 'ghost@sandia.gov', x'00')", (t, t, t))
    conn.execute("INSERT INTO history_records (id, created_at, deleted_at, hash, status, name, start, \"end\", "
                 "orig_end) VALUES (99, ?, ?, 'h', 'created', 'gone', ?, ?, ?)", (t, t, t, t, t))
    conn.execute("INSERT INTO history_records (id, created_at, hash, status, name, start, \"end\") "
                 "VALUES (100, ?, 'h2', 'created', 'broken', NULL, ?)", (t, t))
    conn.commit()
    conn.close()


@needs_sample
def test_enriched_import(ctx, tmp_path) -> None:
    path = copy_sample(tmp_path)
    _enrich(path)
    report = import_igor2(path, ctx, log=quiet)
    assert (report.users, report.reservations, report.profiles, report.kickstarts, report.policies) == (10, 2, 3, 1, 2)
    assert (report.maintenance, report.history) == (1, live(path, "history_records") - 1)
    warnings = "\n".join(report.warnings)
    assert "skipped 1 soft-deleted row(s) of users" in warnings
    assert "skipped 1 soft-deleted row(s) of history_records" in warnings
    assert "skipped 1 reservation(s) that had already ended, recorded as finished in the history: EndedRes" in warnings
    assert "temporary profile(s) of reservations that are not imported: tpf_cccc" in warnings
    assert "not-available block" in warnings and "not cron" in warnings
    assert "available now: kn4" in warnings
    assert "skipped 1 history record(s) with a missing or unreadable start or end: v2 id(s) 100" in warnings
    db = ctx.db
    with db_session:
        assert db.User.get(name="ghost") is None
        future = db.Reservation.get(name="FutureRes")
        assert names(future.hosts) == {"kn1", "kn2"}
        assert (future.owner.name, future.group.name, future.profile.name) == ("afbagwe", "TheGoodGuys", "tpf_aaaa")
        assert future.start == to_minutes(NOW + timedelta(days=1)) and future.end == to_minutes(NOW + timedelta(days=3))
        assert future.orig_end == future.end and future.reset_end == future.end + 10
        assert (future.installed, future.cycle_on_start, future.next_notify, future.hash) == (
            False, True, 24 * 60, f"{1:040x}")
        active = db.Reservation.get(name="ActiveRes")
        assert names(active.hosts) == {"kn3"} and active.group.name == "u_glados" and active.installed
        assert db.Reservation.get(name="EndedRes") is None
        finished = db.HistoryRecord.get(name="EndedRes")
        assert (finished.status, finished.owner, finished.group, finished.profile, finished.hosts) == (
            "finished", "msymond", "u_msymond", "tpf_cccc", "kn4")
        facts = {g.name: {p.fact for p in g.permissions} for g in db.Group.select()}
        assert "reservations:FutureRes:edit:*" in facts["u_afbagwe"]
        assert {"reservations:FutureRes:delete", "reservations:FutureRes:edit:extend"} <= facts["TheGoodGuys"]
        assert not any(f.startswith("power:") for f in facts["TheGoodGuys"])  # not started yet
        assert {"reservations:ActiveRes:edit:*", "reservations:ActiveRes:delete", "power:kn3"} <= facts["u_glados"]
        assert not any("EndedRes" in f for fs in facts.values() for f in fs)
        assert {"profiles:myprof:edit:*", "profiles:myprof:delete", "profiles:myprof:view"} <= facts["u_afbagwe"]
        assert db.Profile.get(name="tpf_cccc") is None
        assert db.Profile.get(name="myprof").kernel_args == "quiet"
        assert db.Distro.get(name="myDistro2").kickstart.filename == "rocky.ks"
        restricted = db.HostPolicy.get(name="restricted")
        assert restricted.max_res_time == 7 * 24 * 60
        assert restricted.not_available == [{"start": "0 2 * * 6", "duration": 240},
                                            {"start": "0 0 1 * *", "duration": 36 * 60}]
        assert names(restricted.access_groups) == {"TheGoodGuys"} and names(restricted.hosts) == {"kn10", "kn11"}
        maint = db.MaintenanceRes.select().first()
        assert (maint.reservation_name, maint.maintenance_end, names(maint.hosts)) == (
            "OldRes", to_minutes(NOW + timedelta(minutes=30)), {"kn5"})
        states = {h.name: h.state for h in db.Host.select()}
        assert (states["kn3"], states["kn4"], states["kn5"]) == (1, 0, 2)


def test_report_str_and_counts() -> None:
    report = ImportReport(users=2, hosts=5, warnings=("w",))
    assert report.counts()["users"] == 2 and "warnings" not in report.counts()
    assert str(report).startswith("2 users, 0 groups") and str(report).endswith("; 1 warning(s)")


def test_sample_is_never_written(tmp_path) -> None:
    if not SAMPLE.exists():
        pytest.skip(f"Igor v2 sample database not found at {SAMPLE}")
    copy = copy_sample(tmp_path)
    before = copy.read_bytes()
    shutil.copy(copy, tmp_path / "before.db")
    from igor.config import parse_config
    from igor.db import init_db

    config = parse_config({"database": {"url": f"sqlite:///{tmp_path}/target.db"}}, env={"IGOR_HOME": str(tmp_path)})
    db = init_db(config.database.url)
    import_igor2(copy, ServiceContext(db, config, clock=lambda: NOW), log=quiet)
    db.disconnect()
    assert copy.read_bytes() == before
