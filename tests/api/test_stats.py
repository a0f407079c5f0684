"""``GET /igor/stats`` on a scripted history with known answers (reference §8.1, SPEC §7), and the history rows
every reservation event writes (reference §8.2).

The history is made by driving the services on the pinned clock of ``test_reservations`` (``T0`` = 10:00:20 UTC,
Tue 4 Mar 2031), through the API as the users would, with the lifecycle planner for installs and expiries:

* Mar 4 10:00  alice ``a-long`` dn[1-2] for 2 days; bob ``b-cancel`` dn[3-5] for 1 day; both installed.
* Mar 4 12:00  bob deletes ``b-cancel`` (2 h used, cancelled early); alice extends ``a-long`` by 1 day (to Mar 7
  10:00); carol makes ``c-gone`` (dn7, Mar 10 10:00, 1 h).
* Mar 5 10:00  alice drops dn2 from ``a-long``; carol deletes ``c-gone`` before it starts and makes ``c-future``
  (dn6, Mar 20 10:00, 1 h).
* Mar 7 10:00  ``a-long`` expires (``finished``): 3 days, 2 hosts for the first day and 1 after: 96 node-hours.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from pony.orm import db_session

from igor.services.closeout import INSTALL
from tests.api import test_reservations as base
from tests.api.test_reservations import NOW, RES, T0, at, create
from tests.api.test_users import ok

# the pinned clock and the API fixtures of test_reservations
clock, rapi = base.clock, base.rapi

STATS = "/igor/stats"
HOUR_NS = 3600 * 10**9


def day(d: int, hour: int = 10, second: int = 20) -> datetime:
    return datetime(2031, 3, d, hour, 0, second, tzinfo=timezone.utc)


def install_all(api) -> None:
    """The worker's part of a start: plan the install jobs and report each done (no boot files, no power)."""
    lifecycle = api.services.lifecycle
    lifecycle.plan()
    for job in lifecycle.pending():
        if job.kind == INSTALL:
            lifecycle.install_done(job)


def statuses(api, name: str) -> list[tuple[str, str]]:
    db = api.services.db
    with db_session:
        rows = sorted(db.HistoryRecord.select(lambda h: h.name == name), key=lambda h: h.id)
        return [(h.status, h.hosts) for h in rows]


def stats(api, query: str = "", user: str = "igor-admin") -> dict[str, Any]:
    api.login(user)  # the clock has moved on by days: a fresh token
    return ok(api.get(STATS, as_user=user, query_string=query), 200, "")["stats"]


def counts(block: dict[str, Any]) -> tuple[int, int, int, int, float, float]:
    """(ResCount, NodesUsedCount, CancelledEarly, NumExtensions, TotalResTime in hours, NodeHours)."""
    return (block["ResCount"], block["NodesUsedCount"], block["CancelledEarly"], block["NumExtensions"],
            block["TotalResTime"] / HOUR_NS, block["NodeHours"])


@pytest.fixture
def history(rapi, clock):
    """The scripted history of the module docstring; the clock is left at Mar 7 10:00:20."""
    create(rapi, "alice", "a-long", nodeList="dn[1-2]", duration="2d")
    create(rapi, "bob", "b-cancel", nodeList="dn[3-5]", duration="1d")
    install_all(rapi)
    clock.t = day(4, 12)
    ok(rapi.delete(f"{RES}/b-cancel", as_user="bob"), 200, "")
    assert rapi.patch(f"{RES}/a-long", as_user="alice", json={"extend": "1d"}).status_code == 200
    create(rapi, "carol", "c-gone", nodeList="dn7", start=at(6 * 1440), duration="1h")
    clock.t = day(5)
    assert rapi.patch(f"{RES}/a-long", as_user="alice", json={"drop": "dn2"}).status_code == 200
    ok(rapi.delete(f"{RES}/c-gone", as_user="carol"), 200, "")
    create(rapi, "carol", "c-future", nodeList="dn6", start=at(16 * 1440), duration="1h")
    clock.t = day(7)
    rapi.services.lifecycle.plan()
    return rapi


# -- history ------------------------------------------------------------------------------------------------------


def test_the_scripted_history_is_what_v2_would_have_written(history):
    assert statuses(history, "a-long") == [
        ("created", "dn1,dn2"), ("installed", "dn1,dn2"), ("updated:extend", "dn1,dn2"), ("updated:drop", "dn1"),
        ("finished", "dn1")]
    assert statuses(history, "b-cancel") == [("created", "dn3,dn4,dn5"), ("installed", "dn3,dn4,dn5"),
                                             ("deleted", "dn3,dn4,dn5")]
    assert statuses(history, "c-gone") == [("created", "dn7"), ("deleted", "dn7")]
    db = history.services.db
    with db_session:
        deleted = db.HistoryRecord.get(name="b-cancel", status="deleted")
        assert (deleted.start, deleted.end) == (NOW, NOW + 120)  # a deletion records when it really ended
        gone = db.HistoryRecord.get(name="c-gone", status="deleted")
        assert gone.end == gone.start == NOW + 6 * 1440  # deleted before it began: it ends where it starts
        extended = db.HistoryRecord.get(name="a-long", status="updated:extend")
        assert (extended.end, extended.orig_end, extended.extend_count) == (NOW + 3 * 1440, NOW + 2 * 1440, 1)
        assert db.HistoryRecord.get(name="a-long", status="finished").created == day(7).replace(tzinfo=None)


def test_every_edit_writes_a_record_with_the_reservation_as_it_now_is(rapi, clock):
    create(rapi, "alice", "edits", nodeList="dn[1-2]", duration="4h", group="team")
    name = "edits"
    for body in ({"addNodeList": "dn3"}, {"addNodeCount": 1}, {"drop": "dn1"},
                 {"name": "edited", "description": "renamed"}, {"group": "none"}, {"group": "team"}):
        r = rapi.patch(f"{RES}/{name}", as_user="alice", json=body)
        assert r.status_code == 200, r.json
        name = body.get("name", name)
    ok(rapi.delete("/igor/groups/team", as_user="alice"), 200, "")
    ok(rapi.delete(f"{RES}/edited", as_user="alice"), 200, "")
    db = rapi.services.db
    with db_session:
        rows = sorted(db.HistoryRecord.select(), key=lambda h: h.id)
        got = [(h.status, h.name, h.group, h.hosts) for h in rows]
    added = got[2][3].split(",")
    assert got == [
        ("created", "edits", "team", "dn1,dn2"),
        ("updated:addNodeList", "edits", "team", "dn1,dn2,dn3"),
        ("updated:addNodeCount", "edits", "team", got[2][3]),
        ("updated:drop", "edits", "team", ",".join(h for h in added if h != "dn1")),
        ("updated:description,name", "edited", "team", got[4][3]),
        ("updated:group", "edited", "u_alice", got[4][3]),
        ("updated:group", "edited", "team", got[4][3]),
        ("updated:group-delete", "edited", "u_alice", got[4][3]),
        ("deleted", "edited", "u_alice", got[4][3]),
    ]
    assert len(added) == 4 and {"dn1", "dn2", "dn3"} < set(added)


# -- the numbers --------------------------------------------------------------------------------------------------


def test_a_week_ending_at_a_day(history):
    s = stats(history, "start=2031-Mar-08&duration=7")
    assert (s["option"], s["verbose"], s["start"], s["end"]) == ("default", False, "2031-03-01T00:00:00Z",
                                                                  "2031-03-08T00:00:00Z")
    # carol's two reservations start after the window: not counted
    assert list(s["by_user"]) == ["alice", "bob"]
    assert counts(s["by_user"]["alice"]) == (1, 1, 0, 1, 72.0, 96.0)  # dn[1-2] a day, dn1 two more
    assert counts(s["by_user"]["bob"]) == (1, 3, 1, 0, 2.0, 6.0)
    assert counts(s["global"]) == (2, 4, 1, 1, 74.0, 102.0) and s["global"]["UniqueUsers"] == 2
    assert s["by_user"]["alice"]["UniqueUsers"] == 1
    assert s["records"] == [] and s["by_user"]["alice"]["Entries"] == []  # only with verbose


def test_the_default_is_the_last_seven_days_from_now(history):
    s = stats(history)
    assert (s["start"], s["end"]) == ("2031-02-28T10:00:20Z", "2031-03-07T10:00:20Z")
    assert counts(s["global"]) == (2, 4, 1, 1, 74.0, 102.0)


def test_a_window_clipping_both_ends_of_a_reservation(history):
    """Mar 5: only a-long has a record that day (the drop); dn[1-2] until 10:00, dn1 after."""
    s = stats(history, "start=2031-Mar-06&duration=1")
    assert (s["start"], s["end"]) == ("2031-03-05T00:00:00Z", "2031-03-06T00:00:00Z")
    assert list(s["by_user"]) == ["alice"]
    assert counts(s["by_user"]["alice"]) == (1, 1, 0, 1, 24.0, 10 * 2 + 14 * 1)
    assert s["global"]["UniqueUsers"] == 1


def test_a_window_ending_while_reservations_run(history):
    """Mar 4: a-long's last record that day is its extension (to Mar 7), clipped at midnight; b-cancel whole."""
    s = stats(history, "start=2031-Mar-05&duration=1")
    assert counts(s["by_user"]["alice"]) == (1, 2, 0, 1, 14.0, 28.0)
    assert counts(s["by_user"]["bob"]) == (1, 3, 1, 0, 2.0, 6.0)
    assert "carol" not in s["by_user"]  # c-gone was made that day but starts on Mar 10
    assert counts(s["global"]) == (2, 5, 1, 1, 16.0, 34.0)


def test_duration_zero_is_all_history(history):
    s = stats(history, "start=2031-Mar-21&duration=0")
    assert (s["start"], s["end"]) == ("0001-01-01T00:00:00Z", "2031-03-21T00:00:00Z")
    # c-gone: deleted before it began (counted, cancelled early, no time — v2 counted negative time);
    # c-future: not yet run, counted for the hour it is scheduled inside the window
    assert counts(s["by_user"]["carol"]) == (2, 2, 1, 0, 1.0, 1.0)
    assert counts(s["global"]) == (4, 6, 2, 1, 75.0, 103.0) and s["global"]["UniqueUsers"] == 3


@pytest.mark.parametrize("query", ["duration=1&start=2031-Mar-06", "start=2031-Mar-06&duration=1",
                                   "duration=1&start=2031-03-06", "start=2031-mar-6&duration=1"])
def test_start_is_applied_before_duration_whatever_the_order(history, query):
    """v2 applied the parameters in Go's map order: ``duration`` first counted back from now (Mar 6 10:00), then
    ``start`` moved only the end, an empty window. Here the window is the same in every order and spelling."""
    s = stats(history, query)
    assert (s["start"], s["end"]) == ("2031-03-05T00:00:00Z", "2031-03-06T00:00:00Z")
    assert counts(s["global"]) == (1, 1, 0, 1, 24.0, 34.0)


def test_verbose_returns_the_records_and_each_users_reservations(history):
    s = stats(history, "start=2031-Mar-08&verbose=true")
    assert s["verbose"] is True
    records = s["records"]
    assert [r["Order"] for r in records] == list(range(1, len(records) + 1))
    assert [(r["Name"], r["Status"]) for r in records if r["Name"] == "a-long"] == [
        ("a-long", "created"), ("a-long", "installed"), ("a-long", "updated:extend"), ("a-long", "updated:drop"),
        ("a-long", "finished")]
    assert len(records) == 5 + 3 + 2 + 1  # every row of the window: a-long, b-cancel, c-gone, c-future
    assert records[0]["Created"] == "2031-03-04T10:00:20Z" and records[-1]["Created"] == "2031-03-07T10:00:20Z"
    (entry,) = s["by_user"]["alice"]["Entries"]
    assert entry == {
        "Order": entry["Order"], "Hash": entry["Hash"], "Status": "finished", "Name": "a-long", "Owner": "alice",
        "ResGroup": "u_alice", "Profile": "", "Distro": "", "Vlan": 0, "Start": "2031-03-04T10:00:00Z",
        "End": "2031-03-07T10:00:00Z", "OrigEnd": "2031-03-06T10:00:00Z", "ExtendCount": 1, "Hosts": "dn1",
        "Created": "2031-03-07T10:00:20Z", "NodeHours": 96.0}
    assert entry["Order"] == records[-1]["Order"]


def test_an_empty_window(history):
    s = stats(history, "start=2031-Feb-01&duration=3")
    assert s["by_user"] == {} and counts(s["global"]) == (0, 0, 0, 0, 0.0, 0.0)
    assert s["global"]["UniqueUsers"] == 0


# -- refusals -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "message"), [
    ("start=2031-Feb-30", "invalid parameter 'start': '2031-Feb-30' is not a date (no such day)"),
    ("start=2031-13-01", "invalid parameter 'start': '2031-13-01' is not a date (no such day)"),
    ("start=yesterday", "invalid parameter 'start': 'yesterday' is not a date: use 2006-Jan-02 (e.g. 2021-Jan-02) "
                        "or 2006-01-02"),
    ("start=0000-Jan-01", "invalid parameter 'start': '0000-Jan-01' is not a date (no such day)"),
    ("duration=-1", "invalid value received for stats duration: -1"),
    ("duration=seven", "invalid parameter 'duration': must be an integer, got seven"),
    ("duration=1.5", "invalid parameter 'duration': must be an integer, got 1.5"),
    ("duration=99999999", "invalid value received for stats duration: 99999999 (at most 36525 days; 0 means all "
                          "history)"),
    ("start=0001-Jan-05&duration=10", "invalid value received for stats duration: 10 (reaches before year 1; 0 "
                                      "means all history)"),
    ("verbose=maybe", "invalid parameter: 'verbose=maybe' does not evaluate to boolean"),
    ("option=fancy", "invalid parameter 'option': 'fancy' is not a stats option (only 'default')"),
    ("start=2031-Mar-08&start=2031-Mar-09", "invalid parameter: 'start' cannot have multiple values"),
])
def test_bad_input_is_a_clear_400(rapi, query, message):
    r = rapi.get(STATS, as_user="igor-admin", query_string=query)
    assert (r.status_code, r.json["status"], r.json["message"]) == (400, "fail", message), r.json


def test_only_elevated_admins(rapi):
    assert rapi.get(STATS, as_user="alice").json["message"] == "access denied"
    r = rapi.get(STATS, as_user="dave")
    assert (r.status_code, r.json["message"]) == (403, "elevated access is required before running this command")
    rapi.elevate("dave")
    assert rapi.get(STATS, as_user="dave").status_code == 200


def test_option_default_is_accepted(rapi):
    assert stats(rapi, "option=default")["option"] == "default"


def test_the_openapi_document_describes_the_parameters(rapi):
    op = rapi.get("/igor/openapi.json").json["paths"][STATS]["get"]
    params = {p["name"]: p["schema"]["type"] for p in op["parameters"]}
    assert params == {"start": "string", "duration": "integer", "verbose": "boolean", "option": "string"}
    assert "Admin only" in op["description"]


def test_old_rows_with_space_separated_hosts_still_count(rapi, clock):
    """Rows written before hosts became a comma list (as v2 wrote them) are read either way."""
    db = rapi.services.db
    with db_session:
        db.HistoryRecord(hash="h" * 40, status="finished", name="old", owner="bob", group="u_bob", start=NOW - 120,
                         end=NOW - 60, orig_end=NOW - 60, hosts="dn1 dn2", created=(T0 - timedelta(hours=1))
                         .replace(tzinfo=None))
    s = stats(rapi, "duration=1")
    assert counts(s["by_user"]["bob"]) == (1, 2, 0, 0, 1.0, 2.0)


def test_a_reservation_running_through_the_window_without_an_event_in_it_counts(rapi, clock):
    """Made on Mar 4 for 20 days: the week of Mar 11–18 has no record of it, yet it held 3 hosts all week."""
    create(rapi, "alice", "marathon", nodeList="dn[1-3]", duration="20d")
    install_all(rapi)
    s = stats(rapi, "start=2031-Mar-18&duration=7")
    assert counts(s["global"]) == (1, 3, 0, 0, 7 * 24, 3 * 7 * 24)
    assert counts(s["by_user"]["alice"]) == (1, 3, 0, 0, 7 * 24, 3 * 7 * 24)
    # a window after its end, and one before it was made, do not count it
    assert counts(stats(rapi, "start=2031-Apr-10&duration=7")["global"]) == (0, 0, 0, 0, 0, 0)
    assert counts(stats(rapi, "start=2031-Mar-03&duration=7")["global"]) == (0, 0, 0, 0, 0, 0)
