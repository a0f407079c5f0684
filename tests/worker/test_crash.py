"""The crash test: a real ``igor-server worker`` process, killed with SIGKILL in the middle of installs and
close-outs, then restarted — every reservation ends in the right state, and no power action or email is repeated
or skipped.

The worker runs against a SQLite database prepared by the test, simulated power (``sim://``, state files shared
with the test, counting every action), real boot files under a temporary tftpRoot and a real SMTP server
(aiosmtpd on loopback). ``IGOR_WORKER_FAULT`` makes the worker kill itself with SIGKILL at exact points: between
an action and its record (the hardest moment for a restart), before a step, before a job's final record. A
second test kills it at random moments while it works through a batch. Time passing is simulated by moving
reservations' ends into the past in the database, as the clock would.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from pony.orm import db_session

from igor.config import demo_clusters, dump_clusters, load_config
from igor.db import init_db
from igor.power.sim import action_counts
from igor.services import Services
from igor.timefmt import to_minutes, utc_now
from tests.mail.conftest import SMTPServer, free_port

HOSTS = 8
WORKER_TIMEOUT = 60
READY = "running (Ctrl-C stops it)"  # what igor-server worker prints once it is up
LEASED = "lifecycle worker lease taken by"  # ... and logs once it holds the lease


class Site:
    """A config on disk, the database behind it and the helpers to drive a worker process against it."""

    def __init__(self, tmp: Path, smtp_port: int | None) -> None:
        self.tmp = tmp
        self.tftp = tmp / "tftp"
        self.tftp.mkdir()
        conf = tmp / "conf"
        conf.mkdir()
        (conf / "igor-clusters.yaml").write_text(dump_clusters(demo_clusters(count=HOSTS)))
        data: dict[str, Any] = {"instanceName": "crashtest",
                                "server": {"host": "127.0.0.1", "port": free_port(), "tftpRoot": str(self.tftp)},
                                "database": {"url": f"sqlite:///{tmp}/db/igor.db"},
                                "log": {"dir": str(tmp / "log")}}
        if smtp_port is not None:
            data["email"] = {"smtpServer": "127.0.0.1", "smtpPort": smtp_port, "defaultSuffix": "crash.test"}
        self.config_path = conf / "igor-server.yaml"
        self.config_path.write_text(yaml.safe_dump(data))
        self.env = {**os.environ, "IGOR_HOME": str(tmp), "HOME": str(tmp), "IGOR_WORKER_TICK_SECONDS": "0.2",
                    "IGOR_WORKER_LEASE_SECONDS": "1.5"}
        self.config = load_config(str(self.config_path), env=self.env)
        self.services = Services(init_db(self.config.database.url), self.config)
        self.services.bootstrap()
        self.sim = self.config.igor_home / "run" / "power" / "sim"

    def populate(self) -> None:
        svc = self.services
        admin = svc.auth.principal_for("igor-admin")
        for name in ("alice", "bob"):
            svc.users.create(admin, name, f"{name}@crash.test", name.title())
        svc.cluster.apply_spec(demo_clusters(count=HOSTS), blocked=False)
        kernel, initrd = self.tmp / "vmlinuz", self.tmp / "initrd.img"
        kernel.write_bytes(b"k" * 4096)
        initrd.write_bytes(b"i" * 4096)
        image = svc.images.register_files(admin, kernel, initrd, breed="redhat", boot=("bios", "uefi"))
        svc.distros.create(admin, {"name": "rocky", "imageRef": image.name, "public": True})

    def reserve(self, name: str, hosts: str, user: str = "alice") -> None:
        svc = self.services
        svc.reservations.create(svc.auth.principal_for(user),
                                {"name": name, "nodeList": hosts, "duration": "2h", "distro": "rocky"})

    @db_session
    def end_now(self) -> None:
        """Time passes: every reservation's end moves to the current minute (the next tick closes them out)."""
        now = to_minutes(utc_now())
        for res in self.services.db.Reservation.select():
            res.start = min(res.start, now - 10)  # it began a while ago ...
            res.end = res.reset_end = now  # ... and its end is this minute
        self.services.ctx.bump_epoch()

    def run_worker(self, fault: str = "", *, until: Any = None, kill_after: float | None = None) -> int:
        """Start a worker; with ``fault`` wait for it to kill itself; with ``kill_after`` SIGKILL it that many
        seconds after it took the lease (in the middle of its work); with ``until`` (a predicate) stop it with
        SIGTERM once that holds. Returns the exit code."""
        env = dict(self.env, IGOR_WORKER_FAULT=fault)
        started, leased = self.worker_log().count(READY), self.worker_log().count(LEASED)
        log = open(self.tmp / "worker.log", "a")  # noqa: SIM115 - closed below
        proc = subprocess.Popen([sys.executable, "-m", "igor.server", "--config", str(self.config_path), "worker"],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + WORKER_TIMEOUT
            up: float | None = None
            working: float | None = None
            while proc.poll() is None and time.monotonic() < deadline:
                text = self.worker_log()
                if up is None and text.count(READY) > started:
                    up = time.monotonic()  # its signal handlers are set: SIGTERM now stops it cleanly
                if working is None and text.count(LEASED) > leased:
                    working = time.monotonic()  # it holds the lease: the work begins
                if working is not None and kill_after is not None and time.monotonic() >= working + kill_after:
                    proc.send_signal(signal.SIGKILL)
                    break
                if up is not None and until is not None and until():
                    proc.send_signal(signal.SIGTERM)
                    break
                time.sleep(0.02)
            return proc.wait(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()

    def worker_log(self) -> str:
        """What the workers printed, then what they logged (``log.dir``)."""
        return "".join(p.read_text(errors="replace") for p in (self.tmp / "worker.log", self.tmp / "log" / "igor.log")
                       if p.exists())

    # -- what happened ----------------------------------------------------------------------------------------

    def power_actions(self) -> Counter[tuple[str, str]]:
        """(host, action) → how many times the simulated power did it (igor.power.sim keeps the counts)."""
        out: Counter[tuple[str, str]] = Counter()
        for path in self.sim.glob("dn*") if self.sim.exists() else ():
            lines = path.read_text().splitlines()
            for action, n in action_counts(lines[1] if len(lines) > 1 else "").items():
                if n:
                    out[(path.name, action)] = n
        return out

    @db_session
    def reservations(self) -> dict[str, tuple[bool, str]]:
        return {r.name: (r.installed, r.install_error or "") for r in self.services.db.Reservation.select()}

    @db_session
    def outbox_idle(self) -> bool:
        return not self.services.db.Event.select(lambda e: e.status == "pending").exists()

    @db_session
    def host_states(self) -> dict[str, int]:
        return {h.name: h.state for h in self.services.db.Host.select()}

    def boot_files(self) -> list[str]:
        return sorted(p.name for p in (self.tftp / "pxelinux.cfg").glob("01-*")) + \
            sorted(p.name for p in (self.tftp / "efi" / "boot").glob("grub.cfg-01-*"))

    def installed_all(self) -> bool:
        res = self.reservations()
        return bool(res) and all(installed for installed, _ in res.values()) and self.outbox_idle()

    def closed_all(self) -> bool:
        return not self.reservations() and self.outbox_idle()


@pytest.fixture
def smtp() -> Any:
    server = SMTPServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def site(tmp_path: Path, smtp: SMTPServer) -> Any:
    s = Site(tmp_path, smtp.port)
    s.populate()
    yield s
    s.services.db.disconnect()


def subjects(smtp: SMTPServer) -> Counter[str]:
    return Counter(m.message["Subject"] for m in smtp.received)


KILLED = -signal.SIGKILL
INSTALL_FAULTS = ["install:boot:before", "install:boot:after", "install:power-off:after", "install:power-on:before",
                  "install:power-on:after", "install:finish:before", "email:send:before"]
CLOSEOUT_FAULTS = ["closeout:boot-remove:after", "closeout:power-off:before", "closeout:power-off:after",
                   "closeout:finish:before", "email:send:before"]


def test_killed_at_every_step_of_installs_and_closeouts_nothing_is_repeated_or_skipped(site: Site,
                                                                                     smtp: SMTPServer) -> None:
    site.reserve("alpha", "dn[1-4]")
    site.reserve("beta", "dn[5-8]", user="bob")
    for fault in INSTALL_FAULTS:
        code = site.run_worker(fault)
        assert code == KILLED, f"{fault}: the worker exited {code} instead of being killed\n{site.worker_log()}"
    assert site.run_worker(until=site.installed_all) == 0, site.worker_log()
    assert site.reservations() == {"alpha": (True, ""), "beta": (True, "")}
    # every host switched off once and on once (a cycle is off-then-on); none twice, none missed
    actions = site.power_actions()
    assert actions == Counter({(f"dn{i}", a): 1 for i in range(1, HOSTS + 1) for a in ("off", "on")}), actions
    assert len(site.boot_files()) == HOSTS
    started = subjects(smtp)
    assert started == Counter({"igor account created": 2,  # alice's and bob's, queued by populate()
                               "igor reservation 'alpha' on demo has started": 1,
                               "igor reservation 'beta' on demo has started": 1}), started

    site.end_now()
    for fault in CLOSEOUT_FAULTS:
        code = site.run_worker(fault)
        assert code == KILLED, f"{fault}: the worker exited {code} instead of being killed\n{site.worker_log()}"
    assert site.run_worker(until=site.closed_all) == 0, site.worker_log()
    assert site.boot_files() == []
    assert set(site.host_states().values()) == {0}  # all available
    after = site.power_actions()
    assert after == Counter({(f"dn{i}", a): n for i in range(1, HOSTS + 1) for a, n in (("off", 2), ("on", 1))})
    assert subjects(smtp) - started == Counter({"igor reservation 'alpha' on demo has expired": 1,
                                                "igor reservation 'beta' on demo has expired": 1})


def test_killed_at_random_moments_during_a_batch_every_reservation_ends_right(tmp_path: Path,
                                                                             smtp: SMTPServer) -> None:
    """Ten SIGKILLs at random moments while the worker installs and closes out eight reservations and mails
    about them: every reservation ends right, every power action happened exactly once, and every mail arrived —
    a copy only where a kill fell between the mail server's acceptance and the record, then with the same
    Message-ID (at most one such copy per kill)."""
    site = Site(tmp_path, smtp.port)
    site.populate()
    kills = 0
    try:
        for i in range(1, HOSTS + 1):
            site.reserve(f"res{i}", f"dn{i}", user="alice" if i % 2 else "bob")
        rng = random.Random(20261202)
        for _ in range(6):
            kills += site.run_worker(kill_after=rng.uniform(0.02, 0.2)) == KILLED
        assert site.run_worker(until=site.installed_all) == 0, site.worker_log()
        assert all(installed for installed, _ in site.reservations().values())
        actions = site.power_actions()
        assert actions == Counter({(f"dn{i}", a): 1 for i in range(1, HOSTS + 1) for a in ("off", "on")})
        site.end_now()
        for _ in range(4):
            kills += site.run_worker(kill_after=rng.uniform(0.02, 0.2)) == KILLED
        assert site.run_worker(until=site.closed_all) == 0, site.worker_log()
        assert site.boot_files() == []
        final = site.power_actions()
        assert final == Counter({(f"dn{i}", a): n for i in range(1, HOSTS + 1) for a, n in (("off", 2), ("on", 1))})
        # mail: none lost; copies identical to their original and no more than the kills
        by_id: dict[str, list[Any]] = {}
        for m in smtp.received:
            by_id.setdefault(m.message["Message-ID"], []).append(m.message)
        firsts = Counter(msgs[0]["Subject"] for msgs in by_id.values())
        expected = Counter({"igor account created": 2})
        for i in range(1, HOSTS + 1):
            expected[f"igor reservation 'res{i}' on demo has started"] = 1
            expected[f"igor reservation 'res{i}' on demo has expired"] = 1
        assert firsts == expected, firsts
        copies = sum(len(msgs) - 1 for msgs in by_id.values())
        assert all(len({m["Subject"] for m in msgs}) == 1 for msgs in by_id.values())
        assert copies <= kills, (copies, kills)
    finally:
        site.services.db.disconnect()


def test_a_crash_between_the_mail_servers_acceptance_and_the_record_resends_with_the_same_message_id(
        site: Site, smtp: SMTPServer) -> None:
    """The one window the outbox cannot close (igor.worker's docstring): the copy is recognisable."""
    site.reserve("alpha", "dn1")
    assert site.run_worker("email:send:after") == KILLED
    assert site.run_worker(until=site.installed_all) == 0
    ids = Counter(m.message["Message-ID"] for m in smtp.received)
    first = smtp.received[0].message["Message-ID"]  # the message in flight when the worker was killed
    assert ids[first] == 2 and all(n == 1 for mid, n in ids.items() if mid != first), ids
    assert any("has started" in m.message["Subject"] for m in smtp.received)
