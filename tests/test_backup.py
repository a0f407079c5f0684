"""``igor-server backup`` / ``restore`` (igor.backup): round trips on SQLite and PostgreSQL, refusals that leave
everything as it was, and a backup taken while reservations keep being written."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tarfile
import threading
from pathlib import Path
from typing import Any

import pytest
from pony.orm import db_session

from igor.backup import BackupError, backup, restore
from igor.config import demo_clusters, parse_config
from igor.db import init_db
from igor.server import main
from igor.services import Services

PG_BASE = os.environ.get("IGOR_TEST_DB", "") if os.environ.get("IGOR_TEST_DB", "").startswith("postgres") \
    else "postgresql://postgres@127.0.0.1:5432/postgres"


def _config(home: Path, url: str) -> Any:
    home.mkdir(parents=True, exist_ok=True)
    return parse_config({"database": {"url": url}}, env={"IGOR_HOME": str(home), "HOME": str(home)})


def _services(config: Any) -> Services:
    svc = Services(init_db(config.database.url), config)
    svc.bootstrap()
    return svc


def _seed(svc: Services) -> None:
    """Users, a group, a 16-host cluster, an image with a distro, a kickstart-free reservation."""
    admin = svc.auth.principal_for("igor-admin")
    for name in ("alice", "bob"):
        svc.users.create(admin, name, f"{name}@example.com", name.title())
    svc.groups.create(svc.auth.principal_for("alice"), "team", members=["bob"])
    svc.cluster.apply_spec(demo_clusters(count=16), blocked=False)
    home = Path(str(svc.config.igor_home))
    kernel, initrd = home / "rocky.vmlinuz", home / "rocky.img"
    kernel.write_bytes(b"kernel-rocky" * 100)
    initrd.write_bytes(b"initrd-rocky" * 1000)
    image = svc.images.register_files(admin, kernel, initrd, breed="redhat")
    svc.distros.create(admin, {"name": "rocky", "imageRef": image.name, "public": True,
                               "kernelArgs": "console=ttyS0"})
    _reserve(svc, "res1", "dn[1-4]", distro="rocky")


def _reserve(svc: Services, name: str, hosts: str, **extra: Any) -> None:
    now = int(svc.ctx.clock().timestamp()) // 60
    svc.reservations.create(svc.auth.principal_for("alice"),
                            {"name": name, "nodeList": hosts, "duration": (now + 120) * 60, **extra})


@db_session
def _state(svc: Services) -> dict[str, Any]:
    db = svc.db
    return {
        "users": sorted((u.id, u.name, u.email, u.pass_hash, u.created, sorted(g.name for g in u.groups))
                        for u in db.User.select()),
        "groups": sorted((g.name, sorted(u.name for u in g.members), sorted(p.fact for p in g.permissions))
                         for g in db.Group.select()),
        "hosts": sorted((h.name, h.mac, h.state, h.attributes) for h in db.Host.select()),
        "reservations": sorted((r.id, r.name, r.owner.name, r.group.name, r.start, r.end, r.hash,
                                r.profile.name if r.profile else None, sorted(h.name for h in r.hosts))
                               for r in db.Reservation.select()),
        "distros": sorted((d.name, d.image.name, d.kernel_args) for d in db.Distro.select()),
        "events": sorted((e.kind, e.key, e.payload, e.status) for e in db.Event.select()),
        "epoch": db.ScheduleEpoch[1].epoch,
    }


def _files(root: Path) -> dict[str, str]:
    out = {}
    for sub in ("igor_images", "kickstarts"):
        for p in sorted((root / sub).rglob("*")) if (root / sub).exists() else []:
            if p.is_file() and not p.name.startswith("."):
                out[p.relative_to(root).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _round_trip(tmp_path: Path, src_url: str, dst_url: str) -> None:
    src_cfg = _config(tmp_path / "src", src_url)
    svc = _services(src_cfg)
    _seed(svc)
    before = _state(svc)
    report = backup(src_cfg, tmp_path / "b.tar.gz")
    assert report.files == 2 and not report.missing
    svc.db.disconnect()

    dst_cfg = _config(tmp_path / "dst", dst_url)
    restore(dst_cfg, tmp_path / "b.tar.gz")
    restored = _services(dst_cfg)
    try:
        assert _state(restored) == before
        assert _files(dst_cfg.server.tftp_root) == _files(src_cfg.server.tftp_root) != {}
        # the restored database keeps working: new rows get fresh ids (sequences were reset on PostgreSQL)
        _reserve(restored, "res2", "dn[5-6]")
        assert len(_state(restored)["reservations"]) == 2
        assert restored.auth.principal_for("alice").name == "alice"
    finally:
        restored.db.disconnect()


def test_sqlite_round_trip(tmp_path: Path) -> None:
    _round_trip(tmp_path, f"sqlite:///{tmp_path}/src/igor.db", f"sqlite:///{tmp_path}/dst/igor.db")


@pytest.fixture
def pg_urls():
    psycopg2 = pytest.importorskip("psycopg2")
    from tests.conftest import _pg_database, _pg_drop

    try:
        psycopg2.connect(PG_BASE, connect_timeout=3).close()
    except psycopg2.OperationalError as exc:
        pytest.skip(f"PostgreSQL unreachable at {PG_BASE}: {exc}")
    made = [_pg_database(PG_BASE) for _ in range(2)]
    yield [url for url, _ in made]
    for _, name in made:
        _pg_drop(PG_BASE, name)


def test_postgresql_round_trip(tmp_path: Path, pg_urls: list[str]) -> None:
    _round_trip(tmp_path, pg_urls[0], pg_urls[1])


def test_sqlite_to_postgresql(tmp_path: Path, pg_urls: list[str]) -> None:
    """The logical export is the same for every backend, so a backup moves between them."""
    _round_trip(tmp_path, f"sqlite:///{tmp_path}/src/igor.db", pg_urls[0])


MYSQL_BASE = os.environ.get("IGOR_TEST_MYSQL", "mysql://root@127.0.0.1:3306/test")


@pytest.fixture
def mysql_url() -> Any:
    pymysql = pytest.importorskip("pymysql")
    import uuid

    from tests.conftest import _mysql

    try:
        _mysql(MYSQL_BASE, "SELECT 1")
    except pymysql.err.OperationalError as exc:
        pytest.skip(f"MySQL/MariaDB unreachable at {MYSQL_BASE}: {exc}")
    name = f"igor_b_{uuid.uuid4().hex[:12]}"
    _mysql(MYSQL_BASE, f"CREATE DATABASE `{name}`")
    yield MYSQL_BASE.rsplit("/", 1)[0] + "/" + name
    _mysql(MYSQL_BASE, f"DROP DATABASE IF EXISTS `{name}`")


def test_mysql_round_trip_from_sqlite(tmp_path: Path, mysql_url: str) -> None:
    """The MySQL/MariaDB path both ways: a SQLite installation's backup restored into MariaDB, then the MariaDB
    database (with a reservation made after the restore) backed up and restored into SQLite."""
    _round_trip(tmp_path, f"sqlite:///{tmp_path}/src/igor.db", mysql_url)
    mysql_cfg = _config(tmp_path / "dst", mysql_url)
    svc = _services(mysql_cfg)
    before = _state(svc)
    backup(mysql_cfg, tmp_path / "from-mysql.tar.gz")
    svc.db.disconnect()
    out_cfg = _config(tmp_path / "out", f"sqlite:///{tmp_path}/out/igor.db")
    restore(out_cfg, tmp_path / "from-mysql.tar.gz")
    restored = _services(out_cfg)
    try:
        assert _state(restored) == before and len(before["reservations"]) == 2
        assert _files(out_cfg.server.tftp_root) == _files(mysql_cfg.server.tftp_root) != {}
    finally:
        restored.db.disconnect()


def test_restore_is_refused_while_a_server_runs_on_the_target(tmp_path: Path) -> None:
    """A live lifecycle lease means a server is using the database: refused even with --force, nothing changed;
    once the lease has lapsed (the server stopped or died) the restore goes ahead."""
    from datetime import timedelta

    from igor.worker import Lease, _wallclock

    src = _config(tmp_path / "src", f"sqlite:///{tmp_path}/src/igor.db")
    svc = _services(src)
    _seed(svc)
    backup(src, tmp_path / "b.tar.gz")
    svc.db.disconnect()
    dst = _config(tmp_path / "dst", f"sqlite:///{tmp_path}/dst/igor.db")
    target = _services(dst)
    Lease(target.db, "igor-server@node7:4242").hold()
    before = _state(target)
    with pytest.raises(BackupError, match=r"a server is running on this database: its lifecycle worker "
                                          r"\(igor-server@node7:4242\) holds the lease until .* UTC; stop every"):
        restore(dst, tmp_path / "b.tar.gz", force=True)
    assert _state(target) == before
    Lease(target.db, "igor-server@node7:4242", clock=lambda: _wallclock() - timedelta(minutes=5)).hold()
    restore(dst, tmp_path / "b.tar.gz", force=True)
    assert [r[1] for r in _state(target)["reservations"]] == ["res1"]
    target.db.disconnect()


def test_manifest(tmp_path: Path) -> None:
    cfg = _config(tmp_path / "src", f"sqlite:///{tmp_path}/src/igor.db")
    svc = _services(cfg)
    _seed(svc)
    with db_session:
        image = svc.db.DistroImage.select().first()
        image_id, kernel = image.image_id, image.kernel
    (cfg.server.tftp_root / "igor_images" / image_id / kernel).unlink()
    svc.db.disconnect()
    (cfg.server.image_stage_path).mkdir(parents=True, exist_ok=True)
    (cfg.server.image_stage_path / "staged.img").write_bytes(b"not backed up")
    out = tmp_path / "out"
    out.mkdir()
    report = backup(cfg, out)  # a folder: a timestamped file is written in it
    assert report.path.parent == out and report.path.name.endswith(".tar.gz")
    with tarfile.open(report.path) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert names[0] == "manifest.json" and "database.json" in names
    assert not any("staged" in n or "/." in n for n in names)
    assert manifest["format"] == "igor-backup" and manifest["databaseKind"] == "sqlite"
    assert manifest["schemaVersion"] == 1 and manifest["igorVersion"] and manifest["created"]
    assert {e["path"] for e in manifest["files"]} == set(names) - {"manifest.json"}
    assert all(len(e["sha256"]) == 64 and e["size"] >= 0 for e in manifest["files"])
    assert manifest["missingFiles"] == [f"files/igor_images/{image_id}/{kernel}"]
    with pytest.raises(BackupError, match="already exists"):
        backup(cfg, report.path)


def test_non_empty_target_needs_force(tmp_path: Path) -> None:
    src = _config(tmp_path / "src", f"sqlite:///{tmp_path}/src/igor.db")
    svc = _services(src)
    _seed(svc)
    svc.db.disconnect()
    backup(src, tmp_path / "b.tar.gz")

    dst = _config(tmp_path / "dst", f"sqlite:///{tmp_path}/dst/igor.db")
    other = _services(dst)  # bootstrapped: system accounts exist
    before = _state(other)
    other.db.disconnect()
    with pytest.raises(BackupError, match=r"not empty .*--force"):
        restore(dst, tmp_path / "b.tar.gz")
    check = _services(dst)
    assert _state(check) == before
    check.db.disconnect()
    restore(dst, tmp_path / "b.tar.gz", force=True)
    check = _services(dst)
    assert [r[1] for r in _state(check)["reservations"]] == ["res1"]
    check.db.disconnect()


def _flip_byte(src: Path, dst: Path) -> None:
    data = bytearray(src.read_bytes())
    data[len(data) // 2] ^= 0x01
    dst.write_bytes(bytes(data))


def test_corrupt_missing_and_foreign_files_are_refused(tmp_path: Path) -> None:
    src = _config(tmp_path / "src", f"sqlite:///{tmp_path}/src/igor.db")
    svc = _services(src)
    _seed(svc)
    svc.db.disconnect()
    good = backup(src, tmp_path / "b.tar.gz").path

    dst = _config(tmp_path / "dst", f"sqlite:///{tmp_path}/dst/igor.db")
    bad = tmp_path / "bad.tar.gz"
    _flip_byte(good, bad)
    with pytest.raises(BackupError, match="corrupt"):
        restore(dst, bad)
    # a member whose bytes do not match the manifest (a well-formed archive otherwise)
    tampered = tmp_path / "tampered.tar.gz"
    with tarfile.open(good) as tin, tarfile.open(tampered, "w:gz") as tout:
        for info in tin.getmembers():
            data = tin.extractfile(info).read()  # type: ignore[union-attr]
            if info.name.startswith("files/igor_images/"):
                data = data[:-1] + bytes([data[-1] ^ 1])
            tout.addfile(info, __import__("io").BytesIO(data))
    with pytest.raises(BackupError, match="does not match its checksum"):
        restore(dst, tampered)
    with pytest.raises(BackupError, match="no such backup file"):
        restore(dst, tmp_path / "absent.tar.gz")
    foreign = tmp_path / "foreign.tar.gz"
    with gzip.open(foreign, "wb") as fh:
        fh.write(b"hello")
    with pytest.raises(BackupError, match="corrupt or not an Igor backup"):
        restore(dst, foreign)
    # nothing was changed: no database, no image files, no staging folder left behind
    assert not Path(f"{tmp_path}/dst/igor.db").exists()
    assert _files(dst.server.tftp_root) == {}
    assert not list(dst.server.tftp_root.glob(".igor-restore-*"))


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    cfg = _config(home, f"sqlite:///{home}/igor.db")
    svc = _services(cfg)
    _seed(svc)
    svc.db.disconnect()
    conf = tmp_path / "igor-server.yaml"
    conf.write_text(f"database:\n  url: sqlite:///{home}/igor.db\nserver:\n  tftpRoot: {cfg.server.tftp_root}\n")
    assert main(["backup", str(tmp_path / "b.tar.gz"), "--config", str(conf)]) == 0
    assert "wrote" in capsys.readouterr().out
    _flip_byte(tmp_path / "b.tar.gz", tmp_path / "bad.tar.gz")
    assert main(["restore", str(tmp_path / "bad.tar.gz"), "--config", str(conf), "--force"]) == 1
    assert "corrupt" in capsys.readouterr().err
    assert main(["restore", str(tmp_path / "b.tar.gz"), "--config", str(conf)]) == 1
    assert "--force" in capsys.readouterr().err
    assert main(["--config", str(conf), "restore", str(tmp_path / "b.tar.gz"), "--force"]) == 0


def test_backup_while_reservations_are_written(tmp_path: Path) -> None:
    src = _config(tmp_path / "src", f"sqlite:///{tmp_path}/src/igor.db")
    svc = _services(src)
    _seed(svc)
    stop = threading.Event()
    made: list[str] = []
    errors: list[BaseException] = []

    def writer() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            try:
                _reserve(svc, f"wres{i}", f"dn{5 + i % 12}")
                made.append(f"wres{i}")
            except Exception as exc:  # noqa: BLE001 - a host already taken is fine; anything else is not
                if "not available" not in str(exc) and "conflict" not in str(exc).lower():
                    errors.append(exc)
                    return
            if i % 12 == 0:
                with db_session:
                    for r in list(svc.db.Reservation.select(lambda r: r.name.startswith("wres"))):
                        r.hosts.clear()
                        r.delete()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(made) < 3 and thread.is_alive():
            threading.Event().wait(0.01)
        reports = [backup(src, tmp_path / f"b{n}.tar.gz") for n in range(3)]
    finally:
        stop.set()
        thread.join(30)
    svc.db.disconnect()
    assert not errors, errors
    for n, report in enumerate(reports):
        dst = _config(tmp_path / f"dst{n}", f"sqlite:///{tmp_path}/dst{n}/igor.db")
        restore(dst, report.path)
        check = _services(dst)
        with db_session:
            hosts = {h.id for h in check.db.Host.select()}
            for r in check.db.Reservation.select():
                assert r.hosts and {h.id for h in r.hosts} <= hosts
        check.db.disconnect()
