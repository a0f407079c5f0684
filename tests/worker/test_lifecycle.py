"""The lifecycle worker against the database, with recording boot, power and mail stand-ins: installs at start,
close-outs at end and on delete, install errors shown and retried, maintenance, and the lease.

Time is the services' clock (``NOW`` = 10:00 on the test day); ``world.tick(m)`` moves it ``m`` minutes and runs
one worker round.
"""

from __future__ import annotations

from datetime import timedelta

from pony.orm import db_session

from igor.services.cluster import AVAILABLE, BLOCKED, RESERVED
from igor.worker import Lease, LifecycleWorker

from .conftest import FakeBoot, FakeMailer, FakePower, World


def test_a_starting_reservation_is_installed_on_the_next_tick(world: World) -> None:
    world.distro("rocky")
    world.reserve("res1", "dn[1-2]", 0, 60, distro="rocky")
    assert world.res("res1")["installed"] is False
    world.tick()
    assert world.res("res1") == {"installed": True, "error": "", "hosts": ["dn1", "dn2"]}
    assert world.states("dn1", "dn2") == {"dn1": RESERVED, "dn2": RESERVED}
    specs = sorted(world.boot.files.values(), key=lambda s: s["host"])
    assert [s["host"] for s in specs] == ["dn1", "dn2"]
    assert specs[0]["distro"] == "rocky" and specs[0]["kernel"].startswith("igor_images/")
    assert specs[0]["kernel_args"] == "console=ttyS0"
    # a power cycle is "off, then on", each host once
    assert world.power.actions == [("dn1", "off"), ("dn2", "off"), ("dn1", "on"), ("dn2", "on")]
    assert world.history("res1") == ["created", "installed"]
    assert world.events("install") == [("install", world_hash(world, "res1"), "done")]
    shown = world.api.get("/igor/reservations", as_user="alice").json["data"]["reservations"]
    assert shown[0]["installed"] is True and shown[0]["installError"] == ""


def world_hash(world: World, name: str) -> str:
    with db_session:
        return world.services.db.Reservation.get(name=name).hash


def test_the_profile_kernel_args_follow_the_distro_ones(world: World) -> None:
    world.distro("rocky", kernel_args="console=ttyS0")
    admin = world.services.auth.principal_for("alice")
    world.services.profiles.create(admin, {"name": "quiet", "distro": "rocky", "kernelArgs": "quiet"})
    world.reserve("res1", "dn1", 0, 60, profile="quiet")
    world.tick()
    (spec,) = world.boot.files.values()
    assert spec["kernel_args"] == "console=ttyS0 quiet"


def test_no_distro_and_no_default_writes_no_boot_files_but_still_installs(world: World) -> None:
    world.reserve("res1", "dn1", 0, 60)
    world.tick()
    assert world.res("res1")["installed"] is True
    assert world.boot.calls == []
    assert world.power.actions == [("dn1", "off"), ("dn1", "on")]


def test_the_default_distro_boots_reservations_naming_none(world: World) -> None:
    world.distro("base", default=True, kernel_args="")
    world.reserve("res1", "dn1", 0, 60)
    world.tick()
    (spec,) = world.boot.files.values()
    assert spec["distro"] == "base"


def test_no_cycle_leaves_power_alone(world: World) -> None:
    world.reserve("res1", "dn1", 0, 60, noCycle=True)
    world.tick()
    assert world.res("res1")["installed"] is True and world.power.actions == []


def test_a_future_reservation_waits_for_its_start(world: World) -> None:
    world.reserve("later", "dn3", 30, 60)
    world.tick()
    assert world.res("later")["installed"] is False and world.power.actions == []
    assert world.states("dn3") == {"dn3": AVAILABLE}
    world.tick(30)
    assert world.res("later")["installed"] is True


def test_an_install_failure_is_shown_and_retried_with_back_off(world: World) -> None:
    world.distro("rocky")
    world.reserve("res1", "dn[1-2]", 0, 120, distro="rocky")
    world.boot.fail = {"dn2"}
    world.tick()
    res = world.res("res1")
    assert res["installed"] is False
    assert "boot files not written for dn2: disk full" in res["error"] and "retrying in 1 min" in res["error"]
    shown = world.api.get("/igor/reservations", as_user="alice").json["data"]["reservations"][0]
    assert "disk full" in shown["installError"]
    world.tick()  # not due yet: nothing more happens
    assert world.boot.calls.count(("write", "dn2")) == 1
    world.tick(1)  # second attempt fails too: now two minutes
    assert "attempt 2; retrying in 2 min" in world.res("res1")["error"]
    world.boot.fail = set()
    world.tick(2)
    assert world.res("res1") == {"installed": True, "error": "", "hosts": ["dn1", "dn2"]}


def test_a_power_failure_is_an_install_failure_and_the_retry_does_not_repeat_what_worked(world: World) -> None:
    world.reserve("res1", "dn[1-2]", 0, 120)
    world.power.fail = {"dn2"}
    world.tick()
    assert "power off failed: dn2: BMC not answering" in world.res("res1")["error"]
    assert world.power.actions == [("dn1", "off")]
    world.power.fail = set()
    world.tick(1)
    assert world.res("res1")["installed"] is True
    # dn1 was already off: only dn2 is switched off; both are then switched on once
    assert world.power.actions == [("dn1", "off"), ("dn2", "off"), ("dn1", "on"), ("dn2", "on")]


def test_expiry_closes_out_the_reservation(world: World) -> None:
    world.distro("rocky")
    world.reserve("res1", "dn[1-2]", 0, 60, distro="rocky")
    world.tick()
    world.power.actions.clear()
    world.tick(60)
    assert world.res("res1") is None
    assert world.boot.files == {}
    assert world.power.actions == [("dn1", "off"), ("dn2", "off")]
    assert world.states("dn1", "dn2") == {"dn1": AVAILABLE, "dn2": AVAILABLE}
    assert world.history("res1") == ["created", "installed", "finished"]
    assert ("closeout", world_key(world, "res1"), "done") in world.events("closeout")


def world_key(world: World, name: str) -> str:
    with db_session:
        rec = world.services.db.HistoryRecord.select(lambda h: h.name == name).first()
        return rec.hash


def test_delete_of_a_running_reservation_queues_its_closeout(world: World) -> None:
    world.distro("rocky")
    world.reserve("res1", "dn1", 0, 60, distro="rocky")
    world.tick()
    assert world.api.delete("/igor/reservations/res1", as_user="alice").status_code == 200
    assert world.states("dn1") == {"dn1": AVAILABLE}
    assert world.events("closeout") == [("closeout", world_key(world, "res1"), "pending")]
    world.tick()
    assert world.boot.files == {} and world.power.state["dn1"] == "off"


def test_delete_before_the_start_leaves_nothing_to_undo(world: World) -> None:
    world.reserve("later", "dn1", 60, 60)
    assert world.api.delete("/igor/reservations/later", as_user="alice").status_code == 200
    world.tick()
    assert world.events() == [] and world.power.actions == []


def test_delete_during_a_failing_install_cancels_the_retry(world: World) -> None:
    world.distro("rocky")
    world.reserve("res1", "dn1", 0, 60, distro="rocky")
    world.boot.fail = {"dn1"}
    world.tick()
    assert world.api.delete("/igor/reservations/res1", as_user="alice").status_code == 200
    world.tick(5)
    kinds = {(k, s) for k, _, s in world.events()}
    assert kinds == {("install", "cancelled"), ("closeout", "done")}


def test_a_late_closeout_leaves_the_next_reservation_on_the_host_alone(world: World) -> None:
    world.distro("rocky")
    world.reserve("first", "dn1", 0, 30, distro="rocky")
    world.reserve("second", "dn1", 30, 60, distro="rocky", user="bob")
    world.tick()
    world.boot.fail = {"dn1"}  # the close-out of 'first' fails once ...
    world.tick(30)
    world.boot.fail = set()
    world.tick(5)  # ... and its retry comes after 'second' installed: 'second' keeps its boot file and power
    assert world.res("second")["installed"] is True
    (spec,) = world.boot.files.values()
    assert spec["reservation"] == "second"
    assert world.power.state["dn1"] == "on"


def test_maintenance_blocks_the_hosts_boots_the_default_distro_then_restores(world_factory) -> None:
    world = world_factory({"maintenance": {"hostMaintenanceDuration": 30}})
    world.distro("base", default=True, kernel_args="")
    world.distro("rocky")
    world.reserve("res1", "dn[1-2]", 0, 60, distro="rocky")
    world.tick()
    world.power.actions.clear()
    world.tick(60)
    assert world.states("dn1", "dn2") == {"dn1": BLOCKED, "dn2": BLOCKED}
    specs = {s["host"]: s for s in world.boot.files.values()}
    assert specs["dn1"]["distro"] == "base" and specs["dn1"]["reservation"] == "res1_maintenance"
    assert world.power.actions == [("dn1", "off"), ("dn2", "off"), ("dn1", "on"), ("dn2", "on")]
    # nobody can reserve them during maintenance
    r = world.api.post("/igor/reservations", as_user="bob", json={"name": "xyz", "nodeList": "dn1", "duration": "1h"})
    assert r.status_code == 409
    world.power.actions.clear()
    world.tick(30)
    assert world.states("dn1", "dn2") == {"dn1": AVAILABLE, "dn2": AVAILABLE}
    assert world.boot.files == {}
    assert world.power.actions == [("dn1", "off"), ("dn2", "off")]
    r = world.api.post("/igor/reservations", as_user="bob", json={"name": "xyz", "nodeList": "dn1", "duration": "1h"})
    assert r.status_code == 201, r.json


def test_a_host_blocked_during_maintenance_stays_blocked_after_it(world_factory) -> None:
    world = world_factory({"maintenance": {"hostMaintenanceDuration": 30}})
    world.reserve("res1", "dn1", 0, 60)
    world.tick()
    world.tick(60)
    r = world.api.patch("/igor/hosts-ctrl/block", as_user="igor-admin", json={"hosts": "dn1", "block": True})
    assert r.status_code == 200, r.json
    world.tick(30)
    assert world.states("dn1") == {"dn1": BLOCKED}


def test_an_idle_tick_does_not_move_the_schedule_epoch(world: World) -> None:
    world.reserve("later", "dn1", 600, 60)
    with db_session:
        before = world.services.db.ScheduleEpoch[1].epoch
    for _ in range(3):
        world.tick(1)
    with db_session:
        assert world.services.db.ScheduleEpoch[1].epoch == before


# -- the lease ---------------------------------------------------------------------------------------------------


def test_only_the_lease_holder_works_and_a_dead_holders_lease_passes_on(world: World) -> None:
    other = LifecycleWorker(world.services, boot=FakeBoot(), power=FakePower(), mailer=FakeMailer(),
                            holder="other-worker")
    world.reserve("res1", "dn1", 0, 60)
    assert world.worker.tick() is True
    assert other.tick() is False  # test-worker holds it
    assert world.res("res1")["installed"] is True
    # test-worker dies without releasing: the lease runs out, then the other takes it
    holder, expires = world.worker.lease.current()
    assert holder == "test-worker"
    early = Lease(world.services.db, "other-worker", clock=lambda: expires - timedelta(seconds=1))
    assert early.hold() is False  # not yet
    later = Lease(world.services.db, "other-worker", clock=lambda: expires + timedelta(seconds=1))
    assert later.hold() is True
    assert world.worker.lease.current()[0] == "other-worker"


def test_a_released_lease_is_taken_at_once(world: World) -> None:
    assert world.worker.lease.hold()
    world.worker.lease.release()
    assert Lease(world.services.db, "next").hold() is True


# -- email through the outbox ------------------------------------------------------------------------------------

MAIL = {"email": {"smtpServer": "mail.example.com", "defaultSuffix": "example.com"}}


def about(world: World) -> list:
    """The reservation mails sent (populating the site mailed the accounts and groups it made)."""
    return [m for m in world.mailer.sent if m["X-Igor-Template"].startswith("reservation-")]


def subjects(world: World) -> list[str]:
    return [m["Subject"] for m in about(world)]


def res_mail_events(world: World) -> list[tuple[str, str, str]]:
    return [e for e in world.events("email") if e[1].startswith("reservation-")]


def test_a_reservations_life_in_emails(world_factory) -> None:
    world = world_factory(MAIL)
    world.reserve("res1", "dn[1-2]", 0, 120)
    world.tick()
    assert subjects(world) == ["igor reservation 'res1' on demo has started"]
    (started,) = about(world)
    assert started["To"] == "alice@example.com" and started["Cc"] is None
    world.tick(59)
    assert len(about(world)) == 1
    world.tick(1)  # halfway through a reservation shorter than a day: its one final notice
    assert subjects(world)[1:] == ["FINAL NOTICE: igor reservation 'res1' on demo is expiring soon"]
    world.tick(30)
    assert len(about(world)) == 2
    world.tick(30)
    assert subjects(world)[2:] == ["igor reservation 'res1' on demo has expired"]


def test_group_members_are_copied_and_others_actions_are_reported(world_factory) -> None:
    world = world_factory(MAIL)
    world.reserve("res1", "dn1", 0, 600, group="team")
    world.tick()
    assert about(world)[0]["Cc"] == "bob@example.com"
    world.api.elevate("dave")
    r = world.api.patch("/igor/reservations/res1", as_user="dave", json={"extend": "1h"})
    assert r.status_code == 200, r.json
    world.tick()
    assert subjects(world)[-1] == "igor reservation 'res1' on demo has been extended"
    assert world.api.delete("/igor/reservations/res1", as_user="dave").status_code == 200
    world.tick()
    assert subjects(world)[-1] == "igor reservation 'res1' on demo has been deleted"
    assert about(world)[-1]["X-Priority"] == "1 (Highest)"


def test_the_owners_own_delete_sends_no_deleted_mail(world_factory) -> None:
    world = world_factory(MAIL)
    world.reserve("res1", "dn1", 0, 600)
    world.tick()
    assert world.api.delete("/igor/reservations/res1", as_user="alice").status_code == 200
    world.tick()
    assert subjects(world) == ["igor reservation 'res1' on demo has started"]


def test_mail_waits_while_the_server_is_down_and_goes_once_it_is_back(world_factory) -> None:
    from igor.mail import MailTemporaryError

    world = world_factory(MAIL)

    class Down:
        def send(self, message) -> None:
            raise MailTemporaryError("connection refused")

    world.worker._mailer = Down()
    world.reserve("res1", "dn1", 0, 600)
    world.tick()
    assert res_mail_events(world) == [("email", "reservation-started", "pending")]
    world.worker._mailer = world.mailer
    world.tick()  # not due yet (back-off)
    assert about(world) == []
    world.tick(1)
    assert subjects(world) == ["igor reservation 'res1' on demo has started"]
    world.tick(5)
    assert len(about(world)) == 1
    assert res_mail_events(world) == [("email", "reservation-started", "done")]


def test_a_mail_that_can_never_be_delivered_is_kept_as_failed(world_factory) -> None:
    from igor.mail import MailPermanentError

    world = world_factory(MAIL)

    class Refusing:
        def send(self, message) -> None:
            raise MailPermanentError("550 no such user")

    world.worker._mailer = Refusing()
    world.reserve("res1", "dn1", 0, 600)
    world.tick()
    world.tick(60)
    assert res_mail_events(world) == [("email", "reservation-started", "failed")]
    with db_session:
        row = world.services.db.Event.select(lambda e: e.key == "reservation-started").first()
        assert "550" in row.last_error and row.attempts == 1


def test_finished_jobs_are_pruned_after_a_month_and_sent_passwords_are_not_kept(world_factory) -> None:
    world = world_factory(MAIL)
    world.reserve("res1", "dn1", 0, 60)
    world.tick()
    with db_session:
        created = world.services.db.Event.select(lambda e: e.key == "user-created").first()
        assert created.status == "done" and created.payload["fields"]["password"] == "(sent)"
    finished = len([e for e in world.events() if e[2] != "pending"])
    assert finished > 0
    world.tick(29 * 1440)
    assert len([e for e in world.events() if e[2] != "pending"]) >= finished
    world.tick(2 * 1440)
    assert [e for e in world.events() if e[2] != "pending" and e[1] == "user-created"] == []
