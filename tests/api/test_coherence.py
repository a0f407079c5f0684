"""Two server processes on one database (``Services`` twice, as two gunicorn workers have): the second catches its
engine up from the schedule change log when the first writes reservations (no rebuild), rebuilds when the log
cannot tell it what changed (a host blocked, an epoch bumped without a log row, too far behind), and its engine
always ends equal to one built from scratch."""

from __future__ import annotations

import time

import pytest
from pony.orm import db_session

from igor import scheduler as scheduler_module
from igor.db import init_db
from igor.scheduler import Scheduler
from igor.services import Services

from .conftest import Api
from .test_hosts_ctrl import block, reserve


@pytest.fixture
def other(people: Api):
    api = Api(Services(init_db(people.services.config.database.url), people.services.config))
    yield api
    api.services.db.disconnect()


def _engine_state(scheduler: Scheduler) -> dict[int, tuple]:
    engine = scheduler.engine
    return {rid: tuple(engine.reservation(rid)) for rid in engine.ids()}


def _fresh_state(services: Services) -> dict[int, tuple]:
    fresh = Scheduler(services.db, pad=services.scheduler.pad)
    with db_session:
        fresh.current()
    return _engine_state(fresh)


def _use_engine(api: Api) -> None:
    """A request that consults the engine (a dry-run reservation)."""
    r = api.post("/igor/reservations", as_user="carol",
                 json={"name": "probe", "nodeCount": 1, "duration": "30m", "dryRun": True})
    assert r.status_code in (200, 201), r.json


def test_reservation_writes_are_replayed_from_the_log_not_rebuilt(people: Api, other: Api) -> None:
    _use_engine(other)
    sched = other.services.scheduler
    rebuilds, catch_ups = sched.rebuilds, sched.catch_ups
    start = int(time.time()) + 3600
    assert reserve(people, "alice", "res-a", nodeCount=4, start=start).status_code == 201
    assert reserve(people, "bob", "res-b", nodeList="dn[9-10]", start=start).status_code == 201
    r = people.patch("/igor/reservations/res-a", as_user="alice", json={"extend": "2h"})
    assert r.status_code == 200, r.json
    r = people.patch("/igor/reservations/res-b", as_user="bob", json={"drop": "dn10"})
    assert r.status_code == 200, r.json
    assert people.delete("/igor/reservations/res-a", as_user="alice").status_code == 200
    _use_engine(other)
    assert (sched.rebuilds, sched.catch_ups) == (rebuilds, catch_ups + 1)
    assert _engine_state(sched) == _fresh_state(other.services) != {}
    # and what it caught up with is what it decides with: dn9 is taken, dn10 free again
    assert reserve(other, "carol", "res-c9", nodeList="dn9", start=start).status_code == 409
    assert reserve(other, "carol", "res-c10", nodeList="dn10", start=start).status_code == 201
    # the first process catches up the same way with the other's write
    people_sched = people.services.scheduler
    rebuilds = people_sched.rebuilds
    _use_engine(people)
    assert people_sched.rebuilds == rebuilds
    assert _engine_state(people_sched) == _fresh_state(people.services)


def test_a_host_change_makes_the_other_process_rebuild(people: Api, other: Api) -> None:
    _use_engine(other)
    sched = other.services.scheduler
    rebuilds = sched.rebuilds
    assert block(people, "dn3").status_code == 200
    r = reserve(other, "alice", "res-x", nodeList="dn3")
    assert r.status_code == 409 and "dn3" in r.json["message"], r.json
    assert sched.rebuilds == rebuilds + 1


def test_a_host_deleted_by_one_process_is_gone_for_the_other(people: Api, other: Api) -> None:
    """The fuzzer's find: a host deleted through one worker, then named in a block through another, was a 500
    (the other's host index still held it) instead of the 404 naming it."""
    _use_engine(other)
    rebuilds = other.services.scheduler.rebuilds
    assert people.delete("/igor/hosts/dn5", as_user="igor-admin").status_code == 200
    r = block(other, "dn[5-8,12]")
    assert r.status_code == 404 and r.json["message"] == "host(s) 'dn5' not found", r.json
    assert other.services.scheduler.rebuilds == rebuilds + 1
    assert "dn5" not in other.services.scheduler.hosts.by_name
    r = reserve(other, "alice", "res-x", nodeList="dn[4-6]")
    assert r.status_code in (400, 404) and "dn5" in r.json["message"], r.json
    assert block(other, "dn[6-8]").status_code == 200


def test_a_host_policy_edited_by_one_process_binds_the_other(people: Api, other: Api) -> None:
    with db_session:
        db = people.services.db
        db.HostPolicy(name="teamonly", max_res_time=60 * 24, access_groups=[db.Group.get(name="team")])
    _use_engine(other)
    assert reserve(other, "carol", "probe", nodeList="dn3", dryRun=True).status_code == 200
    assert people.patch("/igor/hosts/dn3", as_user="igor-admin", json={"hostPolicy": "teamonly"}).status_code == 200
    r = reserve(other, "carol", "probe", nodeList="dn3")
    assert r.status_code == 409 and "group-restricted" in r.json["message"], r.json
    assert _engine_state(other.services.scheduler) == _fresh_state(other.services)


def test_a_host_address_edit_is_seen_by_the_other_process_without_a_rebuild(people: Api, other: Api) -> None:
    """ip, mac, eth and boot mode are not the engine's: the other process's views follow the edit (the epoch
    moved) without rebuilding its engine (~0.3 s at M)."""
    _use_engine(other)
    assert other.get("/igor", as_user="carol").status_code == 200
    rebuilds = other.services.scheduler.rebuilds
    body = {"ip": "10.9.9.3", "mac": "52:54:00:99:99:03", "eth": "Et9", "boot": "uefi"}
    assert people.patch("/igor/hosts/dn3", as_user="igor-admin", json=body).status_code == 200
    hosts = {h["name"]: h for h in other.get("/igor", as_user="carol").json["data"]["show"]["hosts"]}
    assert (hosts["dn3"]["ip"], hosts["dn3"]["mac"], hosts["dn3"]["eth"], hosts["dn3"]["bootMode"]) == \
        ("10.9.9.3", "52:54:00:99:99:03", "Et9", "uefi")
    assert other.services.scheduler.rebuilds == rebuilds
    assert _engine_state(other.services.scheduler) == _fresh_state(other.services)


def test_an_epoch_without_a_log_row_makes_the_other_process_rebuild(people: Api, other: Api) -> None:
    """Something that bumps the epoch without saying what it changed (a manual fix in SQL, an older writer): the
    reader cannot replay it, so it rebuilds, and sees the change."""
    _use_engine(other)
    sched = other.services.scheduler
    rebuilds = sched.rebuilds
    assert reserve(people, "alice", "res-a", nodeList="dn[1-2]").status_code == 201
    with db_session:
        db = people.services.db
        res = db.Reservation.get(name="res-a")
        res.end += 60
        res.reset_end += 60
        db.ScheduleEpoch[1].epoch += 1
    _use_engine(other)
    assert sched.rebuilds == rebuilds + 1
    assert _engine_state(sched) == _fresh_state(other.services)


def test_a_reader_far_behind_rebuilds_and_the_log_is_pruned(people: Api, other: Api,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler_module, "CATCH_UP_LIMIT", 4)
    _use_engine(other)
    sched = other.services.scheduler
    rebuilds = sched.rebuilds
    start = int(time.time()) + 7200
    for i in range(10):
        assert reserve(people, "alice", f"res{i}", nodeCount=1, start=start).status_code == 201
    _use_engine(other)
    assert sched.rebuilds == rebuilds + 1  # 10 epochs behind a limit of 4
    assert _engine_state(sched) == _fresh_state(other.services)
    with db_session:
        epoch = people.services.db.ScheduleEpoch[1].epoch
        oldest = min(people.services.db.select("SELECT epoch FROM schedule_changes"))
    assert epoch - oldest < 3 * 4  # the log keeps about twice the limit, not every epoch ever
