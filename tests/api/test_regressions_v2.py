"""Regression tests for Igor v2's scheduling bugs (reference §11 items 1-4): each one fails on v2's behaviour.

The helpers and the pinned clock come from ``test_reservations``: "now" is 10:00 on 4 Mar 2031, ``at(m)`` the epoch
second ``m`` minutes later and ``hhmm(m)`` how Igor writes that minute.
"""

from __future__ import annotations

from pony.orm import db_session

from tests.api import test_reservations as base
from tests.api.test_reservations import NOW, RES, at, create, extend, hhmm, hosts, refused, row, set_policy
from tests.api.test_users import ok

# the pinned clock and the API fixtures of test_reservations
clock, rapi, custom = base.clock, base.rapi, base.custom

ALL = [f"dn{i}" for i in range(1, 17)]


def _double_booked(api) -> list[tuple[str, str, str]]:
    """(host, reservation, reservation) for every pair of reservations overlapping on a host (busy = reset_end)."""
    db = api.services.db
    with db_session:
        rows = [(h.name, r.name, r.start, r.reset_end) for r in db.Reservation.select() for h in r.hosts]
    return sorted((h, a, b) for h, a, s1, e1 in rows for h2, b, s2, e2 in rows
                  if h == h2 and a < b and s1 < e2 and s2 < e1)


# -- §11.1 extendWithin left out means 4320 minutes -----------------------------------------------------------------


def test_11_1_default_extend_within_applies(rapi):
    """v2 left extendWithin unlimited when blank (and put 4320 into maxScheduleDays instead)."""
    create(rapi, "alice", "four-days", nodeList="dn1", duration="4d")
    create(rapi, "alice", "two-days", nodeList="dn2", duration="2d")
    refused(rapi, "PATCH", f"{RES}/four-days", 400,
            "reservations can only be extended if they are within 3d0h0m of ending", as_user="alice",
            json={"extend": "1h"})
    ok(extend(rapi, "alice", "two-days", extend="1h"), 200,
       f"reservation 'two-days' extended from {hhmm(2 * 1440)} to {hhmm(2 * 1440 + 60)}")
    # and the scheduling window is still maxScheduleDays' default of 1457 days, not 4320
    refused(rapi, "POST", RES, 400, "reservation would fall outside igor's scheduling window that ends on "
            f"{hhmm(1457 * 1440)}", as_user="alice", json={"name": "far", "nodeCount": 1, "start": at(1457 * 1440)})


def test_11_1_extend_within_zero_means_the_default(custom):
    api = custom({"scheduler": {"extendWithin": 0}})
    create(api, "alice", "four-days", nodeList="dn1", duration="4d")
    refused(api, "PATCH", f"{RES}/four-days", 400,
            "reservations can only be extended if they are within 3d0h0m of ending", as_user="alice",
            json={"extendMax": True})
    create(api, "alice", "three-days", nodeList="dn2", duration="3d")  # exactly 4320 minutes left: allowed
    ok(extend(api, "alice", "three-days", extend="1h"), 200,
       f"reservation 'three-days' extended from {hhmm(4320)} to {hhmm(4380)}")


# -- §11.2 by count, the free time before a host's first reservation counts -----------------------------------------


def test_11_2_by_count_uses_the_gap_before_a_hosts_first_reservation(rapi):
    """v2 offered a reserved host only after its last reservation, so every host being booked later refused this."""
    create(rapi, "bob", "later", nodeList="dn[1-16]", start=at(180), duration="1h")
    res = create(rapi, "alice", "sooner", nodeCount=4, duration="3h")
    assert (hosts(res), res["start"], res["end"]) == ("dn[1-4]", at(0), at(180))
    refused(rapi, "POST", RES, 409, "4 hosts cannot be found with enough time available to service this request; "
            f"earliest window that would work starts {hhmm(240)}",
            as_user="carol", json={"name": "too-long", "nodeCount": 4, "start": at(1), "duration": "3h"})
    assert _double_booked(rapi) == []


def test_11_2_gap_before_first_reservation_counts_the_pad(custom):
    api = custom({"maintenance": {"hostMaintenanceDuration": 30}})
    create(api, "bob", "later", nodeList="dn[1-16]", start=at(180), duration="1h")
    assert hosts(create(api, "alice", "fits", nodeCount=2, duration="150m")) == "dn[1-2]"
    refused(api, "POST", RES, 409, "2 hosts cannot be found with enough time available to service this request; "
            f"earliest window that would work starts {hhmm(270)}",
            as_user="carol", json={"name": "no-fit", "nodeCount": 2, "duration": "151m"})
    assert _double_booked(api) == []


def test_11_2_an_exact_gap_between_reservations_is_used(rapi):
    """v2 required ``reset_end + duration < next.start`` (strict), so an exactly fitting gap was never offered."""
    create(rapi, "bob", "before", nodeList="dn[1-16]", duration="1h")
    create(rapi, "bob", "after", nodeList="dn[1-16]", start=at(120), duration="1h")
    res = create(rapi, "alice", "between", nodeCount=16, start=at(60), duration="1h")
    assert (hosts(res), res["start"], res["end"]) == ("dn[1-16]", at(60), at(120))
    assert _double_booked(rapi) == []


def test_11_2_reservations_with_the_same_start_do_not_leak_into_other_hosts(rapi):
    """v2 joined a host's last reservation on ``start`` alone: another host's shorter reservation with the same start
    made a still-busy host look free (a double booking)."""
    create(rapi, "bob", "long", nodeList="dn1", duration="5h")
    create(rapi, "bob", "short", nodeList="dn[2-16]", duration="1h")
    assert hosts(create(rapi, "alice", "fifteen", nodeCount=15, start=at(120))) == "dn[2-16]"
    refused(rapi, "POST", RES, 409, "1 hosts cannot be found with enough time available to service this request; "
            f"earliest window that would work starts {hhmm(180)}",
            as_user="carol", json={"name": "one-more", "nodeCount": 1, "start": at(120)})
    assert _double_booked(rapi) == []


# -- §11.3 restricted policies combine; an empty default pool is no crash -------------------------------------------


def _lab(api) -> None:
    """Group 'lab' (owner alice, no other member)."""
    api.services.groups.create(api.services.auth.principal_for("alice"), "lab")


def test_11_3_hosts_of_two_restricted_policies_are_combined(rapi):
    """v2 chose one restricted policy's hosts and filled the rest from the default pool."""
    _lab(rapi)
    set_policy(rapi, "team-hosts", ["dn1", "dn2", "dn3"], groups=("team",))
    set_policy(rapi, "lab-hosts", ["dn7", "dn8", "dn9"], groups=("lab",))
    assert hosts(create(rapi, "alice", "both-labs", nodeCount=6, dryRun=False)) == "dn[1-3,7-9]"
    ok(rapi.delete(f"{RES}/both-labs", as_user="alice"), 200, "")
    assert hosts(create(rapi, "alice", "four", nodeCount=4)) == "dn[1-3,7]"  # restricted hosts first, all of them
    # bob reaches only team-hosts: the rest comes from the default pool, never from lab-hosts
    assert hosts(create(rapi, "bob", "bobs", nodeCount=4, start=at(60))) == "dn[1-4]"


def test_11_3_an_empty_default_pool_does_not_crash(rapi):
    """v2 indexed the empty default pool (a panic, HTTP 500) when the restricted hosts were not enough alone."""
    _lab(rapi)
    set_policy(rapi, "team-hosts", ALL[:8], groups=("team",))
    set_policy(rapi, "lab-hosts", ALL[8:], groups=("lab",))
    with db_session:
        assert rapi.services.db.HostPolicy.get(name="default").hosts.count() == 0
    assert hosts(create(rapi, "alice", "most", nodeCount=12)) == "dn[1-12]"
    refused(rapi, "POST", RES, 409, "reservation requires more cluster nodes than available", as_user="bob",
            json={"name": "bob-res", "nodeCount": 9, "start": at(60)})
    refused(rapi, "POST", RES, 409, "reservation requires more cluster nodes than available", as_user="carol",
            json={"name": "carol-res", "nodeCount": 1})
    assert hosts(create(rapi, "bob", "bob-res", nodeCount=8, start=at(60))) == "dn[1-8]"
    r = rapi.get(f"{RES}/speculate", as_user="carol", query_string="nodes=1")
    assert (r.status_code, r.json["data"]) == (200, {"windows": []})


# -- §11.4 extending behind an earlier reservation; extend-max never shortens ---------------------------------------


def test_11_4_a_future_reservation_extends_behind_an_earlier_one(rapi):
    """v2 refused when any other reservation on the hosts started before the new end, even one long over by then."""
    create(rapi, "alice", "first", nodeList="dn[1-2]", duration="1h")
    create(rapi, "alice", "second", nodeList="dn[1-2]", start=at(120), duration="1h")
    ok(extend(rapi, "alice", "second", extend="1h"), 200,
       f"reservation 'second' extended from {hhmm(180)} to {hhmm(240)}")
    ok(extend(rapi, "alice", "second", extendMax=True), 200,
       f"reservation 'second' extended from {hhmm(240)} to {hhmm(120 + 43200)}")
    # the earlier one still extends up to the later one, and no further
    ok(extend(rapi, "alice", "first", extend=at(120)), 200,
       f"reservation 'first' extended from {hhmm(60)} to {hhmm(120)}")
    refused(rapi, "PATCH", f"{RES}/first", 409,
            "cannot extend reservation; one or more hosts are reserved prior to the proposed new end time "
            "(second on [dn1 dn2]); it cannot be extended at all now", as_user="alice", json={"extend": "1m"})
    assert (row(rapi, "first")["end"], row(rapi, "second")["end"]) == (NOW + 120, NOW + 120 + 43200)


def test_11_4_extend_max_never_shortens_when_the_policy_max_was_reduced(rapi):
    """v2 computed ``policy max - remaining`` as the extension: negative once the policy max went below the
    reservation's length, so --extend-max moved the end earlier."""
    create(rapi, "alice", "running", nodeList="dn[1-2]", duration="3h")
    create(rapi, "alice", "future", nodeList="dn3", start=at(600), duration="3h")
    set_policy(rapi, "default", ALL, max_time=60)  # the admin lowers maxReserveTime
    refused(rapi, "PATCH", f"{RES}/running", 409,
            "reservation 'running' cannot be extended: it already ends at the latest time its policies allow "
            "(max allowable time is 1h0m0s)", as_user="alice", json={"extendMax": True})
    refused(rapi, "PATCH", f"{RES}/future", 409,
            "reservation 'future' cannot be extended: it already ends at the latest time its policies allow "
            "(max allowable time is 1h0m0s)", as_user="alice", json={"extendMax": True, "dryRun": True})
    assert (row(rapi, "running")["end"], row(rapi, "future")["end"]) == (NOW + 180, NOW + 780)
    # elevated admins are not bound by the policy's max time
    rapi.elevate("dave")
    ok(extend(rapi, "dave", "running", extend="1h"), 200,
       f"reservation 'running' extended from {hhmm(180)} to {hhmm(240)}")
