"""Reservations through the API: create (by name, by count, ``where`` filters, ``dryRun``), show, delete, extend /
extend-max (with ``dryRun``) and speculate — Igor v2's order of checks and messages (reference §4.2–§4.6) and the
scheduling rules of SPEC §5.

Time is pinned: the services' clock is replaced, so "now" is ``T0`` (10:00:20 UTC, 4 Mar 2031) unless a test moves
it. API times are epoch seconds; ``at(m)`` is the epoch second ``m`` minutes after 10:00 and ``hhmm(m)`` how Igor
writes that minute in messages.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from pony.orm import db_session

from igor.config import demo_clusters
from igor.db import init_db
from igor.services import Services
from igor.timefmt import format_datetime
from tests.api.conftest import Api, snapshot
from tests.api.test_users import ok

T0 = datetime(2031, 3, 4, 10, 0, 20, tzinfo=timezone.utc)
NOW = int(T0.timestamp()) // 60  # epoch minute of T0 (10:00)
RES = "/igor/reservations"


# -- helpers -------------------------------------------------------------------------------------------------------


class Clock:
    """A settable clock for the services (aware UTC datetimes)."""

    def __init__(self, t: datetime = T0) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t

    def move(self, minutes: int) -> None:
        self.t += timedelta(minutes=minutes)


def at(minutes: int) -> int:
    """Epoch seconds ``minutes`` after 10:00 on the test day."""
    return (NOW + minutes) * 60


def hhmm(minutes: int) -> str:
    """Igor's rendering of the minute ``minutes`` after 10:00 (``Mar-4-31T10:00``)."""
    return format_datetime(NOW + minutes)


def populate(api: Api) -> Api:
    """What the ``people`` fixture sets up: alice, bob, carol, dave (admins), group team (alice, bob), dn1..dn16."""
    svc = api.services
    admin = svc.auth.principal_for("igor-admin")
    for name in ("alice", "bob", "carol", "dave"):
        svc.users.create(admin, name, f"{name}@example.com", name.title())
    svc.groups.create(svc.auth.principal_for("alice"), "team", members=["bob"])
    svc.groups.edit(admin, "admins", {"add": ["dave"]})
    svc.cluster.apply_spec(demo_clusters(count=16), blocked=False)
    for name in ("alice", "bob", "carol", "dave", "igor-admin"):
        api.login(name)
    return api


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rapi(people: Api, clock: Clock) -> Api:
    """The ``people`` API on the pinned clock, everyone logged in."""
    people.services.ctx.clock = clock
    for name in ("alice", "bob", "carol", "dave", "igor-admin"):
        people.login(name)
    return people


@pytest.fixture
def custom(make_config, clock: Clock):
    """Build a populated API on the pinned clock from a custom configuration (one per test)."""
    made: list[Services] = []

    def build(data: dict[str, Any] | None = None) -> Api:
        config = make_config(data)
        services = Services(init_db(config.database.url), config, clock)
        services.bootstrap()
        made.append(services)
        return populate(Api(services))

    yield build
    for services in made:
        services.db.disconnect()


def snap(api: Api) -> dict[str, list[tuple[Any, ...]]]:
    """The conftest snapshot plus every reservation, history record and profile."""
    out = snapshot(api.services)
    db = api.services.db
    with db_session:
        out["reservations"] = sorted(
            (r.name, r.owner.name, r.group.name, r.start, r.end, r.orig_end, r.reset_end, r.extend_count,
             r.installed, r.description or "", tuple(sorted(h.name for h in r.hosts)))
            for r in db.Reservation.select())
        out["history"] = sorted((h.name, h.status, h.start, h.end, h.hosts) for h in db.HistoryRecord.select())
        out["profiles"] = sorted((p.name, p.owner.name, p.is_default) for p in db.Profile.select())
    return out


def refused(api: Api, method: str, path: str, status: int, message: str, as_user: str | None = None,
            **kw: Any) -> Any:
    """Call, expect the refusal (status and exact message), and check that nothing at all changed."""
    before = snap(api)
    r = api.call(method, path, as_user, **kw)
    assert (r.status_code, r.json["message"]) == (status, message), r.json
    assert r.json["status"] == "fail"
    assert r.json["data"] == {}
    assert snap(api) == before
    return r


def create(api: Api, user: str, name: str, **body: Any) -> dict[str, Any]:
    r = api.post(RES, as_user=user, json={"name": name, **body})
    assert r.status_code == 201, r.json
    assert r.json["status"] == "success" and r.json["message"] == ""
    (res,) = r.json["data"]["reservation"]
    return res


def hosts(res: dict[str, Any]) -> str:
    return res["hostRange"]


def row(api: Api, name: str) -> dict[str, Any] | None:
    db = api.services.db
    with db_session:
        r = db.Reservation.get(name=name)
        if r is None:
            return None
        return {"owner": r.owner.name, "group": r.group.name, "start": r.start, "end": r.end,
                "orig_end": r.orig_end, "reset_end": r.reset_end, "extend_count": r.extend_count,
                "hosts": sorted((h.name for h in r.hosts), key=lambda n: int(n[2:]))}


def facts(api: Api, group: str) -> set[str]:
    db = api.services.db
    with db_session:
        return {p.fact for p in db.Permission.select() if p.group.name == group}


def history(api: Api, name: str) -> list[str]:
    db = api.services.db
    with db_session:
        return [h.status for h in sorted(db.HistoryRecord.select(lambda h: h.name == name), key=lambda h: h.id)]


def extend(api: Api, user: str, name: str, **body: Any):
    return api.patch(f"{RES}/{name}", as_user=user, json=body)


def speculate(api: Api, user: str, query: str) -> list[dict[str, Any]]:
    r = api.get(f"{RES}/speculate", as_user=user, query_string=query)
    assert r.status_code == 200, r.json
    return r.json["data"]["windows"]


def set_policy(api: Api, name: str, names: list[str], *, groups: tuple[str, ...] = (), max_time: int = 43200,
               windows: tuple[dict[str, Any], ...] = ()) -> None:
    """A host policy written straight to the database (groups restrict access), applied to ``names``."""
    db = api.services.db
    with db_session:
        policy = db.HostPolicy.get(name=name) or db.HostPolicy(name=name, max_res_time=max_time)
        policy.max_res_time = max_time
        policy.not_available = list(windows)
        for g in groups:
            policy.access_groups.add(db.Group.get(name=g))
        for host in db.Host.select(lambda h: h.name in names):
            host.policy = policy
        api.services.ctx.bump_epoch()


def block(api: Api, names: list[str]) -> None:
    """Mark hosts blocked in the database (as ``host block`` does) and tell the scheduler."""
    db = api.services.db
    with db_session:
        for host in db.Host.select(lambda h: h.name in names):
            host.state = 2
        api.services.ctx.bump_epoch()


# -- create: by name -----------------------------------------------------------------------------------------------


def test_create_by_name_writes_the_reservation_its_grants_and_history(rapi):
    res = create(rapi, "alice", "alice-res", nodeList="dn[3-5]", description="my work")
    assert res["hosts"] == ["dn3", "dn4", "dn5"] and hosts(res) == "dn[3-5]"
    assert (res["owner"], res["group"], res["description"]) == ("alice", "", "my work")
    assert (res["start"], res["end"], res["origEnd"]) == (at(0), at(60), at(60))  # default 60 minutes, from now
    assert (res["extendCount"], res["installed"], res["remainHours"]) == (0, False, 1)
    assert row(rapi, "alice-res") == {"owner": "alice", "group": "u_alice", "start": NOW, "end": NOW + 60,
                                      "orig_end": NOW + 60, "reset_end": NOW + 60, "extend_count": 0,
                                      "hosts": ["dn3", "dn4", "dn5"]}
    assert {"reservations:alice-res:edit:*", "reservations:alice-res:delete",
            "reservations:alice-res:edit:extend"} <= facts(rapi, "u_alice")
    assert history(rapi, "alice-res") == ["created"]


def test_create_by_name_with_a_plain_list_and_a_single_host(rapi):
    assert create(rapi, "alice", "listed", nodeList="dn9,dn2,dn2")["hosts"] == ["dn2", "dn9"]
    assert create(rapi, "bob", "single", nodeList="dn7")["hosts"] == ["dn7"]


def test_create_in_a_group_grants_the_group(rapi):
    res = create(rapi, "alice", "teamwork", nodeCount=2, group="team")
    assert res["group"] == "team"
    assert "reservations:teamwork:edit:*" in facts(rapi, "u_alice")
    assert {"reservations:teamwork:delete", "reservations:teamwork:edit:extend"} <= facts(rapi, "team")
    assert create(rapi, "alice", "private", nodeCount=1, group="none")["group"] == ""
    assert row(rapi, "private")["group"] == "u_alice"


def test_conflict_by_name_names_the_reservation_and_offers_the_earliest_window(rapi):
    create(rapi, "alice", "alice-res", nodeList="dn[1-4]", duration="2h")
    refused(rapi, "POST", RES, 409,
            "found existing reservation(s) on node(s) [dn3 dn4] conflicting with time interval "
            f"[{hhmm(0)}, {hhmm(60)}]: alice-res; earliest window that would work starts {hhmm(120)}",
            as_user="bob", json={"name": "bob-res", "nodeList": "dn[3-6]"})
    create(rapi, "carol", "carol-res", nodeList="dn[6-8]", start=at(120), duration="1h")
    refused(rapi, "POST", RES, 409,
            "found existing reservation(s) on node(s) [dn3 dn4 dn6] conflicting with time interval "
            f"[{hhmm(0)}, {hhmm(180)}]: alice-res, carol-res; earliest window that would work starts {hhmm(180)}",
            as_user="bob", json={"name": "bob-res", "nodeList": "dn[3-6]", "duration": "3h"})
    # back to back is fine: the window is half open
    assert create(rapi, "bob", "bob-res", nodeList="dn[3-6]", start=at(180))["start"] == at(180)


def test_conflicts_count_the_maintenance_pad(custom):
    api = custom({"maintenance": {"hostMaintenanceDuration": 30}})
    create(api, "alice", "alice-res", nodeList="dn[1-2]", duration="1h")
    assert row(api, "alice-res")["reset_end"] == NOW + 90
    refused(api, "POST", RES, 409,
            "found existing reservation(s) on node(s) [dn2] conflicting with time interval "
            f"[{hhmm(60)}, {hhmm(120)}]: alice-res; earliest window that would work starts {hhmm(90)}",
            as_user="bob", json={"name": "bob-res", "nodeList": "dn[2-3]", "start": at(60)})
    assert create(api, "bob", "bob-res", nodeList="dn[2-3]", start=at(90))["hosts"] == ["dn2", "dn3"]
    # the new reservation's own pad must end before the next one starts
    refused(api, "POST", RES, 409,
            "found existing reservation(s) on node(s) [dn1 dn2] conflicting with time interval "
            f"[{hhmm(30)}, {hhmm(90)}]: alice-res, bob-res; earliest window that would work starts {hhmm(180)}",
            as_user="carol", json={"name": "carol-res", "nodeList": "dn[1-2]", "start": at(30)})


def test_blocked_hosts_cannot_be_named(rapi):
    block(rapi, ["dn4"])
    refused(rapi, "POST", RES, 409, "the following hosts are not available at this time: [dn4]",
            as_user="alice", json={"name": "alice-res", "nodeList": "dn[3-4]", "start": at(10000)})
    # by count it is skipped: dn[1-3] is too short a run for 4, so the first 4 of dn[5-16]
    assert hosts(create(rapi, "alice", "alice-res", nodeCount=4)) == "dn[5-8]"


# -- create: by count ----------------------------------------------------------------------------------------------


def test_by_count_takes_the_lowest_free_run(rapi):
    assert hosts(create(rapi, "alice", "first", nodeCount=3)) == "dn[1-3]"
    assert hosts(create(rapi, "bob", "second", nodeCount=2)) == "dn[4-5]"
    # the same hosts later on are free again
    assert hosts(create(rapi, "carol", "later", nodeCount=3, start=at(60))) == "dn[1-3]"


def test_by_count_prefers_the_fewest_contiguous_runs(rapi):
    create(rapi, "dave", "holes", nodeList="dn[1,4,8-9,13]", duration="1d")
    # free runs now: dn[2-3] (2), dn[5-7] (3), dn[10-12] (3), dn[14-16] (3)
    assert hosts(create(rapi, "alice", "three", nodeCount=3)) == "dn[5-7]"  # an exact run, the lowest one
    assert hosts(create(rapi, "alice", "two", nodeCount=2)) == "dn[2-3]"  # an exact run beats a longer one
    # runs now: dn[10-12], dn[14-16]; 4 = the whole lowest run of 3, then the first host of the smallest longer run
    assert hosts(create(rapi, "bob", "four", nodeCount=4)) == "dn[10-12,14]"
    assert hosts(create(rapi, "bob", "one", nodeCount=1)) == "dn15"  # the smallest run longer than 1: dn[15-16]


def test_by_count_run_preference_is_deterministic_across_equal_runs(rapi):
    create(rapi, "dave", "split", nodeList="dn[5,10]")
    # runs dn[1-4], dn[6-9], dn[11-16]: 4 → the lowest run of exactly 4
    r = rapi.post(RES, as_user="alice", json={"name": "dry", "nodeCount": 4, "dryRun": True})
    assert ok(r, 200, "dry run: reservation 'dry' would get dn[1-4]")["reservation"][0]["hostRange"] == "dn[1-4]"
    # 5 → the smallest longer run (dn[11-16]), not two runs
    assert hosts(create(rapi, "alice", "five", nodeCount=5)) == "dn[11-15]"


def test_by_count_not_enough_hosts(rapi):
    create(rapi, "alice", "big", nodeCount=12, duration="2h")
    refused(rapi, "POST", RES, 409, "5 hosts cannot be found with enough time available to service this request; "
            f"earliest window that would work starts {hhmm(120)}",
            as_user="bob", json={"name": "bob-res", "nodeCount": 5})
    refused(rapi, "POST", RES, 409, "reservation requires more cluster nodes than available",
            as_user="bob", json={"name": "bob-res", "nodeCount": 17})
    assert hosts(create(rapi, "bob", "bob-res", nodeCount=5, start=at(120))) == "dn[1-5]"


def test_by_count_skips_blocked_hosts_and_counts_only_usable_ones(rapi):
    block(rapi, ["dn2", "dn3"])
    assert hosts(create(rapi, "alice", "around", nodeCount=3)) == "dn[4-6]"
    refused(rapi, "POST", RES, 409, "reservation requires more cluster nodes than available",
            as_user="bob", json={"name": "bob-res", "nodeCount": 15, "start": at(600)})


def test_by_count_refuses_a_length_no_policy_allows(custom):
    api = custom({"scheduler": {"maxReserveTime": 120}})
    refused(api, "POST", RES, 409, "max allowable time is 2h0m0s (you requested 3h0m0s)",
            as_user="alice", json={"name": "alice-res", "nodeCount": 2, "duration": "3h"})
    refused(api, "POST", RES, 409,
            "max allowable time is 2h0m0s (you requested 3h0m0s); reservation length exceeds maximum allowed for the "
            "following duration-restricted host(s): [dn1 dn2]",
            as_user="alice", json={"name": "alice-res", "nodeList": "dn[1-2]", "duration": "3h"})
    assert create(api, "alice", "alice-res", nodeCount=2, duration="2h")["end"] == at(120)
    api.elevate("dave")
    assert create(api, "dave", "long", nodeCount=2, duration="3h")["end"] == at(180)  # elevated: no max time


def test_by_count_uses_restricted_hosts_first(rapi):
    set_policy(rapi, "lab", ["dn9", "dn10", "dn11"], groups=("team",))
    assert hosts(create(rapi, "alice", "team-first", nodeCount=2)) == "dn[9-10]"
    # the last lab host, then 2 more by the run rule (the smallest longer run is dn[12-16])
    assert hosts(create(rapi, "bob", "team-more", nodeCount=3)) == "dn[11-13]"
    # carol cannot use lab hosts: from dn[1-8] and dn[14-16], the smallest run longer than 2
    assert hosts(create(rapi, "carol", "outsider", nodeCount=2)) == "dn[14-15]"
    refused(rapi, "POST", RES, 409,
            "the following host(s) are group-restricted and unavailable to the user: [dn9]",
            as_user="carol", json={"name": "carol-res", "nodeList": "dn9", "start": at(600)})


# -- create: start, duration and end -------------------------------------------------------------------------------


def test_start_and_duration_forms(rapi):
    # a future start is truncated to its minute; duration strings as Igor parses them
    r = create(rapi, "alice", "later", nodeCount=1, start=at(120) + 42, duration="1d12h")
    assert (r["start"], r["end"]) == (at(120), at(120 + 36 * 60))
    assert create(rapi, "alice", "minutes", nodeCount=1, duration="90")["end"] == at(90)
    assert create(rapi, "alice", "mixed", nodeCount=1, duration="5h32m")["end"] == at(332)
    # a number is the end (epoch seconds)
    r = create(rapi, "alice", "until", nodeCount=1, start=at(60), duration=at(200))
    assert (r["start"], r["end"]) == (at(60), at(200))
    # a start within the current minute is "now", even a few seconds back
    assert create(rapi, "alice", "this-minute", nodeCount=1, start=at(0) + 5)["start"] == at(0)


def test_default_duration_follows_the_config(custom):
    api = custom({"scheduler": {"defaultReserveTime": 120}})
    r = create(api, "alice", "default", nodeCount=1)
    assert (r["start"], r["end"]) == (at(0), at(120))


def test_end_before_start_is_refused(rapi):
    refused(rapi, "POST", RES, 400, f"end time {hhmm(30)} is not after the start {hhmm(60)}",
            as_user="alice", json={"name": "alice-res", "nodeCount": 1, "start": at(60), "duration": at(30)})


# -- create: every refusal of §4.2, in its order -------------------------------------------------------------------


@pytest.mark.parametrize("body, status, message", [
    ({"name": "ab", "nodeCount": 1}, 400,
     "'ab' is not a legal reservation name (must be 3-24 characters from letters, digits, '_', '-' and '.', start "
     "with a letter, digit or underscore, and not be all digits or punctuation)"),
    ({"name": "alice-res"}, 400, "missing nodeList or nodeCount; one required to create reservation"),
    ({"name": "alice-res", "nodeList": "dn1", "nodeCount": 1}, 400,
     "both nodeList and nodeCount found; only one allowed"),
    ({"name": "alice-res", "nodeCount": 1, "distro": "d1", "profile": "p1"}, 400,
     "both profile and distro found; only one allowed"),
    ({"name": "alice-res", "nodeCount": 1, "group": "all"}, 400, "reservations cannot be assigned to the 'all' group"),
    ({"name": "alice-res", "nodeCount": 1, "duration": "0"}, 400, "invalid duration '0': must be longer than 0"),
    ({"name": "alice-res", "nodeCount": 1, "duration": "soon"}, 400,
     "invalid duration 'soon': use a number of minutes (90) or [Nd][Nh][Nm][Ns] with whole days first, e.g. 3d, "
     "5h32m, 1d12h, 1h30s"),
    ({"name": "alice-res", "nodeCount": 1, "owner": "bob"}, 400,
     "non-elevated users cannot specify a different owner for a reservation"),
    ({"name": "alice-res", "nodeCount": 1, "group": "nogroup"}, 404, "group 'nogroup' not found"),
    ({"name": "alice-res", "nodeCount": 1, "group": "u_bob"}, 404, "group 'u_bob' not found"),
    ({"name": "alice-res", "nodeList": ""}, 400, "at least 1 host name required to create reservation"),
    ({"name": "alice-res", "nodeList": "dn99"}, 400, "'dn99' is outside the cluster's range dn[1-16]"),
    ({"name": "alice-res", "nodeList": "dn[1-"}, 400, "invalid range specification in 'dn[1-': unterminated '['"),
    ({"name": "alice-res", "nodeList": "4"}, 400, "nodeList '4' is a count: use nodeCount for a number of hosts"),
    ({"name": "alice-res", "nodeCount": 0}, 400, "reservation must include at least one host"),
    ({"name": "alice-res", "nodeCount": -3}, 400, "reservation must include at least one host"),
    ({"name": "alice-res", "nodeCount": 1, "start": at(-2)}, 400, f"start time is in the past {hhmm(-2)}"),
    ({"name": "alice-res", "nodeCount": 1, "start": at(0) - 1}, 400, f"start time is in the past {hhmm(-1)}"),
    ({"name": "alice-res", "nodeCount": 1, "duration": "29m"}, 400,
     "reservation duration must be larger than minimum value 30 minutes"),
    ({"name": "alice-res", "nodeCount": 1, "duration": at(20)}, 400,
     "reservation duration must be larger than minimum value 30 minutes"),
    ({"name": "alice-res", "nodeCount": 1, "duration": "1458d"}, 400,
     f"reservation would fall outside igor's scheduling window that ends on {format_datetime(NOW + 1457 * 1440)}"),
])
def test_create_refusals(rapi, body, status, message):
    refused(rapi, "POST", RES, status, message, as_user="alice", json=body)


def test_duplicate_name_is_409(rapi):
    create(rapi, "alice", "taken", nodeCount=1)
    refused(rapi, "POST", RES, 409, "reservation 'taken' already exists", as_user="bob",
            json={"name": "taken", "nodeCount": 1, "start": at(600)})
    # even as a dry run
    refused(rapi, "POST", RES, 409, "reservation 'taken' already exists", as_user="bob",
            json={"name": "taken", "nodeCount": 1, "start": at(600), "dryRun": True})


def test_unknown_hosts_inside_the_range_are_404(rapi):
    db = rapi.services.db
    with db_session:
        db.Host.get(name="dn5").delete()
        rapi.services.ctx.bump_epoch()
    refused(rapi, "POST", RES, 404, "the following hosts do not exist: dn5", as_user="alice",
            json={"name": "alice-res", "nodeList": "dn[4-6]"})
    assert hosts(create(rapi, "alice", "around", nodeCount=5)) == "dn[6-10]"


def test_group_membership(rapi):
    refused(rapi, "POST", RES, 403, "user 'carol' is not a member of group 'team'", as_user="carol",
            json={"name": "carol-res", "nodeCount": 1, "group": "team"})
    assert create(rapi, "bob", "bob-res", nodeCount=1, group="team")["group"] == "team"  # a member, not an owner


def test_node_reserve_limit(custom):
    api = custom({"scheduler": {"nodeReserveLimit": 4}})
    message = "only admins can make a reservation of more than 4 nodes"
    refused(api, "POST", RES, 403, message, as_user="alice", json={"name": "alice-res", "nodeCount": 5})
    refused(api, "POST", RES, 403, message, as_user="alice", json={"name": "alice-res", "nodeList": "dn[1-5]"})
    refused(api, "POST", RES, 403, message, as_user="dave", json={"name": "dave-res", "nodeCount": 5})  # not elevated
    assert hosts(create(api, "alice", "alice-res", nodeCount=4)) == "dn[1-4]"
    api.elevate("dave")
    assert hosts(create(api, "dave", "dave-res", nodeCount=5)) == "dn[5-9]"
    assert hosts(create(api, "igor-admin", "admin-res", nodeList="dn[10-16]")) == "dn[10-16]"


def test_min_time_is_bypassed_when_elevated(rapi):
    rapi.elevate("dave")
    assert create(rapi, "dave", "short", nodeCount=1, duration="10m")["end"] == at(10)


def test_schedule_window_messages(custom):
    api = custom({"scheduler": {"maxScheduleDays": 7, "maxReserveTime": 7 * 1440}})
    refused(api, "POST", RES, 400,
            f"reservation would fall outside igor's scheduling window that ends on {format_datetime(NOW + 7 * 1440)}",
            as_user="alice", json={"name": "alice-res", "nodeCount": 1, "start": at(6 * 1440), "duration": "1d1m"})
    assert create(api, "alice", "alice-res", nodeCount=1, start=at(6 * 1440), duration="1d")["end"] == at(7 * 1440)
    api.elevate("dave")
    assert create(api, "dave", "dave-res", nodeCount=1, duration="30d")["end"] == at(30 * 1440)
    refused(api, "POST", RES, 400,
            f"reservation can't fall outside the maximum end datetime allowed {format_datetime(NOW + 1457 * 1440)}",
            as_user="dave", json={"name": "dave-res2", "nodeCount": 1, "duration": "1457d1m"})


def test_owner(rapi):
    rapi.elevate("dave")
    res = create(rapi, "dave", "for-bob", nodeCount=1, owner="bob")
    assert res["owner"] == "bob"
    assert "reservations:for-bob:edit:*" in facts(rapi, "u_bob")
    assert not any("for-bob" in f for f in facts(rapi, "u_dave"))
    assert create(rapi, "alice", "myself", nodeCount=1, owner="alice")["owner"] == "alice"  # naming oneself is fine
    refused(rapi, "POST", RES, 404, "user 'nobody' not found", as_user="dave",
            json={"name": "nobody-res", "nodeCount": 1, "owner": "nobody"})
    refused(rapi, "POST", RES, 400, "igor-admin cannot own reservations", as_user="dave",
            json={"name": "admin-res", "nodeCount": 1, "owner": "igor-admin"})
    refused(rapi, "POST", RES, 403, "user 'carol' is not a member of group 'team'", as_user="dave",
            json={"name": "carol-res", "nodeCount": 1, "owner": "carol", "group": "team"})


def test_the_first_failing_check_wins(rapi):
    """Two faults at a time: the one Igor v2 checks first answers (reference §4.2 order)."""
    create(rapi, "alice", "taken", nodeList="dn[1-2]", duration="2h")

    def first(body: dict[str, Any], status: int, message: str, user: str = "alice") -> None:
        refused(rapi, "POST", RES, status, message, as_user=user, json=body)

    # request structure before the name's rules
    first({"name": "x", "nodeList": "dn1", "nodeCount": 1}, 400, "both nodeList and nodeCount found; only one allowed")
    # validation (name rules, group 'all', duration syntax) before the name is looked up
    first({"name": "x", "nodeCount": 1}, 400, "'x' is not a legal reservation name (must be 3-24 characters from "
          "letters, digits, '_', '-' and '.', start with a letter, digit or underscore, and not be all digits or "
          "punctuation)")
    first({"name": "taken", "nodeCount": 1, "group": "all"}, 400, "reservations cannot be assigned to the 'all' group")
    first({"name": "taken", "nodeCount": 1, "duration": "0"}, 400, "invalid duration '0': must be longer than 0")
    # duplicate before owner
    first({"name": "taken", "nodeCount": 1, "owner": "bob"}, 409, "reservation 'taken' already exists")
    # owner before group
    first({"name": "fresh", "nodeCount": 1, "owner": "bob", "group": "nogroup"}, 400,
          "non-elevated users cannot specify a different owner for a reservation", user="carol")
    # group before hosts
    first({"name": "fresh", "nodeList": "dn99", "group": "team"}, 403,
          "user 'carol' is not a member of group 'team'", user="carol")
    # hosts before the node limit and the times
    first({"name": "fresh", "nodeCount": 0, "start": at(-5)}, 400, "reservation must include at least one host")
    first({"name": "fresh", "nodeList": "dn99", "start": at(-5)}, 400, "'dn99' is outside the cluster's range dn[1-16]")
    # start before length, length before the scheduling window
    first({"name": "fresh", "nodeCount": 1, "start": at(-5), "duration": "10m"}, 400,
          f"start time is in the past {hhmm(-5)}")
    first({"name": "fresh", "nodeCount": 1, "start": at(1458 * 1440), "duration": "10m"}, 400,
          "reservation duration must be larger than minimum value 30 minutes")
    # the scheduling window before conflicts
    first({"name": "fresh", "nodeList": "dn1", "duration": "1458d"}, 400,
          f"reservation would fall outside igor's scheduling window that ends on {format_datetime(NOW + 1457 * 1440)}")


def test_node_limit_comes_after_hosts_and_before_times(custom):
    api = custom({"scheduler": {"nodeReserveLimit": 2}})
    refused(api, "POST", RES, 400, "'dn99' is outside the cluster's range dn[1-16]", as_user="alice",
            json={"name": "alice-res", "nodeList": "dn[1-3,99]"})
    refused(api, "POST", RES, 403, "only admins can make a reservation of more than 2 nodes", as_user="alice",
            json={"name": "alice-res", "nodeCount": 3, "start": at(-5)})


# -- create: where filters -----------------------------------------------------------------------------------------


def test_where_filters_hosts_by_attributes(rapi):
    # the 16-host demo cluster: rack r1 and ram_gb 256 everywhere, gpu a100 on dn9..dn16
    assert hosts(create(rapi, "alice", "gpus", nodeCount=3, where="gpu=a100")) == "dn[9-11]"
    assert hosts(create(rapi, "alice", "no-gpus", nodeCount=2, where="gpu!=a100")) == "dn[1-2]"  # missing key: no
    # free runs dn[3-8] and dn[12-16]: the smallest longer than 2
    assert hosts(create(rapi, "alice", "big-ram", nodeCount=2, where="ram_gb>=256, rack=R1")) == "dn[12-13]"
    assert hosts(create(rapi, "bob", "more-gpus", nodeCount=3, where="gpu=a100,ram_gb>128")) == "dn[14-16]"
    refused(rapi, "POST", RES, 409, "5 hosts cannot be found with enough time available to service this request; "
            f"earliest window that would work starts {hhmm(60)}",
            as_user="bob", json={"name": "bob-res", "nodeCount": 5, "where": "gpu=a100"})
    refused(rapi, "POST", RES, 409, "only 8 host(s) match 'gpu=a100'; 9 requested",
            as_user="bob", json={"name": "bob-res", "nodeCount": 9, "where": "gpu=a100"})
    refused(rapi, "POST", RES, 409, "only 0 host(s) match 'ram_gb>lots'; 1 requested",
            as_user="bob", json={"name": "bob-res", "nodeCount": 1, "where": "ram_gb>lots"})
    refused(rapi, "POST", RES, 409, "only 0 host(s) match 'ram_gb<100'; 1 requested",
            as_user="bob", json={"name": "bob-res", "nodeCount": 1, "where": "ram_gb<100"})


@pytest.mark.parametrize("where, message", [
    ("gpu", "invalid host attribute filter 'gpu': use KEY=VALUE, KEY!=VALUE or KEY>=NUMBER (also >, <, <=), "
            "separated by commas"),
    ("gpu=", "invalid host attribute filter 'gpu=': use KEY=VALUE, KEY!=VALUE or KEY>=NUMBER (also >, <, <=), "
             "separated by commas"),
    ("=a100", "invalid host attribute filter '=a100': use KEY=VALUE, KEY!=VALUE or KEY>=NUMBER (also >, <, <=), "
              "separated by commas"),
    (",", "empty host attribute filter"),
])
def test_bad_where_filter_is_400(rapi, where, message):
    refused(rapi, "POST", RES, 400, message, as_user="alice",
            json={"name": "alice-res", "nodeCount": 1, "where": where})


def test_where_is_for_counts_only(rapi):
    refused(rapi, "POST", RES, 400, "'where' filters hosts chosen by count (nodeCount), not a nodeList",
            as_user="alice", json={"name": "alice-res", "nodeList": "dn1", "where": "gpu=a100"})


# -- create: dryRun ------------------------------------------------------------------------------------------------


def test_dry_run_answers_what_would_be_created_and_writes_nothing(rapi):
    create(rapi, "bob", "holder", nodeList="dn[1-2]")
    before = snap(rapi)
    r = rapi.post(RES, as_user="alice", json={"name": "alice-res", "nodeCount": 3, "duration": "2h", "dryRun": True})
    data = ok(r, 200, "dry run: reservation 'alice-res' would get dn[3-5]")
    (res,) = data["reservation"]
    assert (res["name"], res["hosts"], res["start"], res["end"]) == ("alice-res", ["dn3", "dn4", "dn5"], at(0),
                                                                      at(120))
    assert snap(rapi) == before
    assert rapi.get(f"{RES}?name=alice-res", as_user="alice").json["data"]["reservations"] == []
    # the real request gets the same hosts
    assert create(rapi, "alice", "alice-res", nodeCount=3, duration="2h")["hosts"] == res["hosts"]


def test_dry_run_by_name_and_refused_dry_runs(rapi):
    create(rapi, "bob", "holder", nodeList="dn[1-2]")
    data = ok(rapi.post(RES, as_user="alice", json={"name": "alice-res", "nodeList": "dn[3-4]", "dryRun": True}),
              200, "dry run: reservation 'alice-res' would get dn[3-4]")
    assert data["reservation"][0]["hosts"] == ["dn3", "dn4"]
    refused(rapi, "POST", RES, 409,
            f"found existing reservation(s) on node(s) [dn2] conflicting with time interval [{hhmm(0)}, {hhmm(60)}]: "
            f"holder; earliest window that would work starts {hhmm(60)}",
            as_user="alice", json={"name": "alice-res", "nodeList": "dn[2-3]", "dryRun": True})
    # a dry run false is a real create
    assert rapi.post(RES, as_user="alice", json={"name": "real", "nodeCount": 1, "dryRun": False}).status_code == 201


# -- show ----------------------------------------------------------------------------------------------------------


@pytest.fixture
def four(rapi):
    create(rapi, "alice", "alice-own", nodeCount=1)
    create(rapi, "alice", "alice-team", nodeCount=1, group="team")
    create(rapi, "bob", "bob-own", nodeCount=1)
    create(rapi, "carol", "carol-own", nodeCount=1)
    return rapi


def _names(r) -> list[str]:
    assert r.status_code == 200, r.json
    return [x["name"] for x in r.json["data"]["reservations"]]


def test_show_defaults_to_own_and_groups(four):
    api = four
    assert _names(api.get(RES, as_user="alice")) == ["alice-own", "alice-team"]
    assert _names(api.get(RES, as_user="bob")) == ["alice-team", "bob-own"]
    assert _names(api.get(RES, as_user="carol")) == ["carol-own"]
    assert _names(api.get(RES, as_user="dave")) == []
    assert api.get(RES, as_user="dave").json["message"] == "search returned no results"


def test_show_all_and_filters(four):
    api = four
    everything = ["alice-own", "alice-team", "bob-own", "carol-own"]
    assert _names(api.get(RES, as_user="carol", query_string="all=true")) == everything
    assert _names(api.get(RES, as_user="carol", query_string="all=false")) == ["carol-own"]
    assert _names(api.get(RES, as_user="carol", query_string="all=true&owner=alice")) == ["alice-own", "alice-team"]
    assert _names(api.get(RES, as_user="carol", query_string="all=true&group=team")) == ["alice-team"]
    assert _names(api.get(RES, as_user="carol",
                          query_string="all=true&name=bob-own&name=carol-own")) == ["bob-own", "carol-own"]
    assert _names(api.get(RES, as_user="alice", query_string="owner=bob")) == []  # not alice's to see by default
    r = api.get(RES, as_user="alice", query_string="name=alice-team")
    (res,) = r.json["data"]["reservations"]
    assert (res["owner"], res["group"], res["hosts"]) == ("alice", "team", ["dn2"])


# -- delete --------------------------------------------------------------------------------------------------------


def test_delete_by_owner(rapi):
    create(rapi, "alice", "alice-res", nodeList="dn[1-4]")
    ok(rapi.delete(f"{RES}/alice-res", as_user="alice"), 200, "")
    assert row(rapi, "alice-res") is None
    assert not any("alice-res" in f for f in facts(rapi, "u_alice"))
    assert history(rapi, "alice-res") == ["created", "deleted"]
    assert hosts(create(rapi, "bob", "bob-res", nodeList="dn[1-4]")) == "dn[1-4]"  # the hosts are free again


def test_delete_by_group_member_and_admin(rapi):
    create(rapi, "alice", "alice-team", nodeCount=1, group="team")
    create(rapi, "alice", "alice-own", nodeCount=1)
    ok(rapi.delete(f"{RES}/alice-team", as_user="bob"), 200, "")
    assert row(rapi, "alice-team") is None and not any("alice-team" in f for f in facts(rapi, "team"))
    refused(rapi, "DELETE", f"{RES}/alice-own", 403, "you cannot access the reservation 'alice-own'", as_user="bob")
    refused(rapi, "DELETE", f"{RES}/alice-own", 403, "elevated access is required before running this command",
            as_user="dave")
    rapi.elevate("dave")
    ok(rapi.delete(f"{RES}/alice-own", as_user="dave"), 200, "")


def test_delete_refusals(rapi):
    create(rapi, "alice", "alice-res", nodeCount=1)
    refused(rapi, "DELETE", f"{RES}/alice-res", 403, "you cannot access the reservation 'alice-res'", as_user="carol")
    refused(rapi, "DELETE", f"{RES}/nores", 404, "the reservation 'nores' does not exist", as_user="carol")
    refused(rapi, "DELETE", f"{RES}/nores", 404, "reservation 'nores' not found", as_user="igor-admin")


def test_delete_of_a_running_reservation_records_its_real_end(rapi, clock):
    create(rapi, "alice", "alice-res", nodeCount=1, duration="2h")
    clock.move(45)
    ok(rapi.delete(f"{RES}/alice-res", as_user="alice"), 200, "")
    with db_session:
        rec = rapi.services.db.HistoryRecord.select(lambda h: h.status == "deleted").first()
        assert (rec.start, rec.end) == (NOW, NOW + 45)


# -- extend --------------------------------------------------------------------------------------------------------


def test_extend_by_duration_and_to_an_end(rapi):
    create(rapi, "alice", "alice-res", nodeList="dn[1-2]")
    data = ok(extend(rapi, "alice", "alice-res", extend="30m"), 200,
              f"reservation 'alice-res' extended from {hhmm(60)} to {hhmm(90)}")
    (res,) = data["reservation"]
    assert (res["end"], res["origEnd"], res["extendCount"]) == (at(90), at(60), 1)
    ok(extend(rapi, "alice", "alice-res", extend=at(150) + 59), 200,
       f"reservation 'alice-res' extended from {hhmm(90)} to {hhmm(150)}")
    assert row(rapi, "alice-res")["end"] == NOW + 150 and row(rapi, "alice-res")["extend_count"] == 2
    assert row(rapi, "alice-res")["reset_end"] == NOW + 150
    assert history(rapi, "alice-res") == ["created", "updated:extend", "updated:extend"]


def test_extend_refusals(rapi):
    create(rapi, "alice", "alice-res", nodeList="dn[1-2]")
    path = f"{RES}/alice-res"
    refused(rapi, "PATCH", path, 400, f"extend datetime '{hhmm(30)}' is earlier than original '{hhmm(60)}'",
            as_user="alice", json={"extend": at(30)})
    refused(rapi, "PATCH", path, 400, f"extend datetime '{hhmm(60)}' is earlier than original '{hhmm(60)}'",
            as_user="alice", json={"extend": at(60)})
    refused(rapi, "PATCH", path, 400, "invalid extension '0': must be longer than 0", as_user="alice",
            json={"extend": "0"})
    refused(rapi, "PATCH", path, 400, "extend and extendMax cannot be used together", as_user="alice",
            json={"extend": "1h", "extendMax": True})
    refused(rapi, "PATCH", path, 400, "requested operation had no parameters", as_user="alice", json={"dryRun": True})
    refused(rapi, "PATCH", path, 403, "you cannot access the reservation 'alice-res'", as_user="carol",
            json={"extend": "1h"})
    refused(rapi, "PATCH", f"{RES}/nores", 404, "the reservation 'nores' does not exist", as_user="carol",
            json={"extend": "1h"})


def test_group_member_may_extend(rapi):
    create(rapi, "alice", "alice-team", nodeCount=1, group="team")
    ok(extend(rapi, "bob", "alice-team", extend="1h"), 200,
       f"reservation 'alice-team' extended from {hhmm(60)} to {hhmm(120)}")


def test_extend_conflict_names_the_later_reservation_and_the_latest_end(rapi):
    create(rapi, "alice", "alice-res", nodeList="dn[1-3]")
    create(rapi, "bob", "bob-res", nodeList="dn[3-4]", start=at(150))
    refused(rapi, "PATCH", f"{RES}/alice-res", 409,
            "cannot extend reservation; one or more hosts are reserved prior to the proposed new end time "
            f"(bob-res on [dn3]); the latest possible end is {hhmm(150)}",
            as_user="alice", json={"extend": "2h"})
    ok(extend(rapi, "alice", "alice-res", extend=at(150)), 200,
       f"reservation 'alice-res' extended from {hhmm(60)} to {hhmm(150)}")
    refused(rapi, "PATCH", f"{RES}/alice-res", 409,
            "cannot extend reservation; one or more hosts are reserved prior to the proposed new end time "
            "(bob-res on [dn3]); it cannot be extended at all now",
            as_user="alice", json={"extend": "1m"})
    refused(rapi, "PATCH", f"{RES}/alice-res", 409,
            "reservation 'alice-res' cannot be extended: one or more hosts are reserved prior to the proposed new end "
            "time (bob-res on [dn3]); it cannot be extended at all now",
            as_user="alice", json={"extendMax": True})


def test_extend_conflict_counts_the_pad(custom):
    api = custom({"maintenance": {"hostMaintenanceDuration": 30}})
    create(api, "alice", "alice-res", nodeList="dn[1-2]")
    create(api, "bob", "bob-res", nodeList="dn2", start=at(150))
    refused(api, "PATCH", f"{RES}/alice-res", 409,
            "cannot extend reservation; one or more hosts are reserved prior to the proposed new end time "
            f"(bob-res on [dn2]); the latest possible end is {hhmm(120)}",
            as_user="alice", json={"extend": "61m"})
    ok(extend(api, "alice", "alice-res", extendMax=True), 200,
       f"reservation 'alice-res' extended from {hhmm(60)} to {hhmm(120)}")
    assert row(api, "alice-res")["reset_end"] == NOW + 150


def test_extend_max_honours_the_policy_max_time(custom, clock):
    api = custom({"scheduler": {"maxReserveTime": 180}})
    create(api, "alice", "alice-res", nodeCount=2)
    ok(extend(api, "alice", "alice-res", extendMax=True), 200,
       f"reservation 'alice-res' extended from {hhmm(60)} to {hhmm(180)}")
    refused(api, "PATCH", f"{RES}/alice-res", 409,
            "reservation 'alice-res' cannot be extended: it already ends at the latest time its policies allow "
            "(max allowable time is 3h0m0s)", as_user="alice", json={"extendMax": True})
    refused(api, "PATCH", f"{RES}/alice-res", 400,
            "max allowable time is 3h0m0s (you requested 3h30m0s); it cannot be extended at all now",
            as_user="alice", json={"extend": "30m"})
    # time passes: the limit is measured from now for a running reservation
    clock.move(60)
    ok(extend(api, "alice", "alice-res", extendMax=True), 200,
       f"reservation 'alice-res' extended from {hhmm(180)} to {hhmm(240)}")
    refused(api, "PATCH", f"{RES}/alice-res", 400,
            "max allowable time is 3h0m0s (you requested 3h1m0s); it cannot be extended at all now",
            as_user="alice", json={"extend": "1m"})
    # elevated: no max time
    api.elevate("dave")
    ok(extend(api, "dave", "alice-res", extend="1d"), 200,
       f"reservation 'alice-res' extended from {hhmm(240)} to {hhmm(240 + 1440)}")


def test_extend_max_of_a_future_reservation_counts_from_its_start(custom):
    api = custom({"scheduler": {"maxReserveTime": 180}})
    create(api, "alice", "later", nodeCount=1, start=at(600))
    data = ok(extend(api, "alice", "later", extendMax=True), 200,
              f"reservation 'later' extended from {hhmm(660)} to {hhmm(780)}")
    assert data["reservation"][0]["start"] == at(600)
    # a shorter later policy on one of its hosts limits it too (the smallest max time wins)
    create(api, "alice", "pair", nodeList="dn[5-6]")
    set_policy(api, "short", ["dn6"], max_time=90)
    ok(extend(api, "alice", "pair", extendMax=True), 200,
       f"reservation 'pair' extended from {hhmm(60)} to {hhmm(90)}")


def test_extend_within(custom, clock):
    api = custom({"scheduler": {"extendWithin": 60}})
    create(api, "alice", "alice-res", nodeCount=1, duration="3h")
    message = "reservations can only be extended if they are within 1h0m of ending"
    refused(api, "PATCH", f"{RES}/alice-res", 400, message, as_user="alice", json={"extend": "1h"})
    refused(api, "PATCH", f"{RES}/alice-res", 400, message, as_user="alice", json={"extendMax": True})
    api.elevate("dave")
    ok(extend(api, "dave", "alice-res", extend="1h"), 200,  # elevated: any time
       f"reservation 'alice-res' extended from {hhmm(180)} to {hhmm(240)}")
    clock.move(179)  # 61 minutes left
    refused(api, "PATCH", f"{RES}/alice-res", 400, message, as_user="alice", json={"extend": "1h"})
    clock.move(1)  # 60 minutes left
    ok(extend(api, "alice", "alice-res", extend="1h"), 200,
       f"reservation 'alice-res' extended from {hhmm(240)} to {hhmm(300)}")


def test_extend_disabled_for_users(custom):
    api = custom({"scheduler": {"extendWithin": -1}})
    create(api, "alice", "alice-res", nodeCount=1, group="team")
    message = ("extending a reservation has been disabled for normal users - talk to an igor admin if you wish to "
               "change your reservation end time")
    refused(api, "PATCH", f"{RES}/alice-res", 400, message, as_user="alice", json={"extend": "1h"})
    refused(api, "PATCH", f"{RES}/alice-res", 400, message, as_user="alice", json={"extendMax": True})
    refused(api, "PATCH", f"{RES}/alice-res", 400, message, as_user="bob", json={"extend": "1h"})
    api.elevate("dave")
    ok(extend(api, "dave", "alice-res", extend="1h"), 200,
       f"reservation 'alice-res' extended from {hhmm(60)} to {hhmm(120)}")


def test_extend_is_capped_by_the_scheduling_window(custom):
    api = custom({"scheduler": {"maxScheduleDays": 2, "maxReserveTime": 2880, "extendWithin": 2880}})
    create(api, "alice", "alice-res", nodeCount=1, duration="1d")
    window = format_datetime(NOW + 2880)
    refused(api, "PATCH", f"{RES}/alice-res", 400,
            f"reservation would fall outside igor's scheduling window that ends on {window}",
            as_user="alice", json={"extend": "1d1m"})
    ok(extend(api, "alice", "alice-res", extendMax=True), 200,
       f"reservation 'alice-res' extended from {hhmm(1440)} to {window}")
    refused(api, "PATCH", f"{RES}/alice-res", 409,
            f"reservation 'alice-res' cannot be extended: it already ends at the end of igor's scheduling window "
            f"({window})", as_user="alice", json={"extendMax": True})
    api.elevate("dave")
    refused(api, "PATCH", f"{RES}/alice-res", 400,
            f"reservation can't fall outside the maximum end datetime allowed {format_datetime(NOW + 1457 * 1440)}",
            as_user="dave", json={"extend": "1457d"})
    ok(extend(api, "dave", "alice-res", extend="1d"), 200,
       f"reservation 'alice-res' extended from {window} to {format_datetime(NOW + 4320)}")


def test_blocked_hosts_stop_extensions(rapi):
    create(rapi, "alice", "alice-res", nodeList="dn[1-2]")
    block(rapi, ["dn2"])
    refused(rapi, "PATCH", f"{RES}/alice-res", 409,
            "cannot extend a reservation containing nodes with a blocked status -- contact cluster admin team",
            as_user="alice", json={"extend": "1h"})
    rapi.elevate("dave")
    refused(rapi, "PATCH", f"{RES}/alice-res", 409,
            "cannot extend reservation; host(s) [dn2] are blocked; it cannot be extended at all now",
            as_user="dave", json={"extend": "1h"})


def test_extend_dry_run_writes_nothing(rapi):
    create(rapi, "alice", "alice-res", nodeList="dn[1-2]")
    create(rapi, "bob", "bob-res", nodeList="dn2", start=at(180))
    before = snap(rapi)
    data = ok(extend(rapi, "alice", "alice-res", extend="1h", dryRun=True), 200,
              f"reservation 'alice-res' could be extended to {hhmm(120)}")
    assert data["reservation"][0]["end"] == at(120)
    data = ok(extend(rapi, "alice", "alice-res", extendMax=True, dryRun=True), 200,
              f"reservation 'alice-res' could be extended to {hhmm(180)}")
    assert (data["reservation"][0]["end"], data["reservation"][0]["extendCount"]) == (at(180), 1)
    assert snap(rapi) == before
    refused(rapi, "PATCH", f"{RES}/alice-res", 409,
            "cannot extend reservation; one or more hosts are reserved prior to the proposed new end time "
            f"(bob-res on [dn2]); the latest possible end is {hhmm(180)}",
            as_user="alice", json={"extend": "3h", "dryRun": True})
    ok(extend(rapi, "alice", "alice-res", extendMax=True), 200,
       f"reservation 'alice-res' extended from {hhmm(60)} to {hhmm(180)}")


# -- speculate -----------------------------------------------------------------------------------------------------


def test_speculate_by_count(rapi):
    create(rapi, "bob", "bob-res", nodeList="dn[1-12]", duration="2h")
    create(rapi, "carol", "carol-res", nodeList="dn[13-16]", start=at(60), duration="2h")
    horizon = NOW + 1457 * 1440
    windows = speculate(rapi, "alice", "nodes=4&duration=1h")
    assert windows == [
        {"start": at(0), "end": at(60), "latestStart": at(0), "hosts": ["dn13", "dn14", "dn15", "dn16"],
         "hostRange": "dn[13-16]"},
        {"start": at(120), "end": at(180), "latestStart": (horizon - 60) * 60, "hosts": ["dn1", "dn2", "dn3", "dn4"],
         "hostRange": "dn[1-4]"},
    ]
    assert speculate(rapi, "alice", "nodes=4&duration=1h&limit=1") == windows[:1]
    assert [w["start"] for w in speculate(rapi, "alice", "nodes=5&duration=1h")] == [at(120)]
    assert [w["start"] for w in speculate(rapi, "alice", "nodes=13&duration=1h")] == [at(180)]
    assert [w["start"] for w in speculate(rapi, "alice", f"nodes=4&duration=1h&after={at(30)}")] == [at(120)]
    assert [w["start"] for w in speculate(rapi, "alice", "nodes=4&duration=61m")] == [at(120)]
    # the default duration is defaultReserveTime (60)
    assert speculate(rapi, "alice", "nodes=4")[0]["end"] == at(60)
    # speculating writes nothing
    assert row(rapi, "bob-res")["hosts"][0] == "dn1" and len(snap(rapi)["reservations"]) == 2


def test_speculate_by_name_in_ascending_order_within_the_limit(rapi):
    for i, start in enumerate((60, 180, 300)):
        create(rapi, "bob", f"bob-{i}", nodeList="dn1", start=at(start), duration="1h")
    horizon = NOW + 1457 * 1440
    windows = speculate(rapi, "alice", "nodes=dn1&duration=1h")
    assert [(w["start"], w["latestStart"]) for w in windows] == [
        (at(0), at(0)), (at(120), at(120)), (at(240), at(240)), (at(360), (horizon - 60) * 60)]
    assert all(w["hosts"] == ["dn1"] and w["hostRange"] == "dn1" for w in windows)
    assert [w["start"] for w in speculate(rapi, "alice", "nodes=dn1&duration=1h&limit=2")] == [at(0), at(120)]
    assert [w["start"] for w in speculate(rapi, "alice", "nodes=dn[1-2]&duration=30m")] == [
        at(0), at(120), at(240), at(360)]
    assert speculate(rapi, "alice", "nodes=dn[1-2]&duration=30m")[0]["latestStart"] == at(30)
    assert [w["start"] for w in speculate(rapi, "alice", "nodes=dn1&duration=2h")] == [at(360)]


def test_speculate_respects_the_askers_access_and_limits(custom):
    api = custom({"scheduler": {"nodeReserveLimit": 4}})
    set_policy(api, "lab", [f"dn{i}" for i in range(1, 11)], groups=("team",))
    assert speculate(api, "carol", "nodes=4")[0]["hostRange"] == "dn[11-14]"
    assert speculate(api, "alice", "nodes=4")[0]["hosts"] == ["dn1", "dn2", "dn3", "dn4"]
    r = api.get(f"{RES}/speculate", as_user="carol", query_string="nodes=dn[1-2]")
    assert ok(r, 200, "no window in the scheduling horizon would work") == {"windows": []}
    refused(api, "GET", f"{RES}/speculate", 403, "only admins can make a reservation of more than 4 nodes",
            as_user="alice", query_string="nodes=5")
    api.elevate("dave")
    assert speculate(api, "dave", "nodes=5")[0]["hostRange"] == "dn[11-15]"  # elevation lifts the node cap
    assert speculate(api, "dave", "nodes=7") == []  # but not the group restriction


@pytest.mark.parametrize("query, status, message", [
    ("nodes=dn[", 400, "invalid range specification in 'dn[': unterminated '['"),
    ("nodes=0", 400, "node count must be at least 1, got '0'"),
    ("nodes=dn99", 400, "'dn99' is outside the cluster's range dn[1-16]"),
    ("nodes=", 400, "empty node request: give a count (like 4) or nodes (like kn[1-4])"),
    ("nodes=3&duration=xx", 400, "invalid duration 'xx': use a number of minutes (90) or [Nd][Nh][Nm][Ns] with whole "
                                 "days first, e.g. 3d, 5h32m, 1d12h, 1h30s"),
    ("nodes=3&duration=0", 400, "invalid duration '0': must be longer than 0"),
    ("nodes=3&duration=10m", 400, "reservation duration must be larger than minimum value 30 minutes"),
    ("nodes=3&limit=0", 400, "invalid parameter 'limit': 0 is not between 1 and 100"),
    ("nodes=3&limit=101", 400, "invalid parameter 'limit': 101 is not between 1 and 100"),
    ("nodes=3&where=gpu", 400, "invalid host attribute filter 'gpu': use KEY=VALUE, KEY!=VALUE or KEY>=NUMBER "
                               "(also >, <, <=), separated by commas"),
    ("nodes=dn1&where=gpu=a100", 400, "'where' filters hosts chosen by count, not a host list"),
])
def test_speculate_bad_input(rapi, query, status, message):
    refused(rapi, "GET", f"{RES}/speculate", status, message, as_user="alice", query_string=query)


def test_speculate_with_where(rapi):
    create(rapi, "bob", "gpus", nodeList="dn[9-14]", duration="2h")
    windows = speculate(rapi, "alice", "nodes=2&where=gpu=a100")
    assert windows[0]["hosts"] == ["dn15", "dn16"]
    assert [w["start"] for w in speculate(rapi, "alice", "nodes=3&where=gpu=a100")] == [at(120)]
