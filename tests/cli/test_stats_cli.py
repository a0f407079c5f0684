"""``igor stats`` (reference §1.8, §8.1): the formatter on a fixed answer, line by line, and the real ``igor``
executable against a live ``igor-server --demo`` — ``--json``, the table, ``-v``, ``-s``/``-d`` and refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from igor.cli.render import stats as render_stats
from tests.cli.live import ADMIN_PW, Igor

MIN_NS = 60 * 10**9

ANSWER = {"stats": {
    "option": "default", "verbose": True, "start": "2031-03-01T00:00:00Z", "end": "2031-03-08T00:00:00Z",
    "records": [
        {"Order": 1, "Created": "2031-03-04T10:00:20Z", "Status": "created", "Name": "a-long", "Owner": "alice",
         "Hosts": "dn1,dn2", "Start": "2031-03-04T10:00:00Z", "End": "2031-03-06T10:00:00Z", "ExtendCount": 0},
        {"Order": 2, "Created": "2031-03-07T10:00:20Z", "Status": "finished", "Name": "a-long", "Owner": "alice",
         "Hosts": "dn1", "Start": "2031-03-04T10:00:00Z", "End": "2031-03-07T10:00:00Z", "ExtendCount": 1}],
    "by_user": {
        "alice": {"UniqueUsers": 1, "NodesUsedCount": 1, "ResCount": 1, "CancelledEarly": 0, "NumExtensions": 1,
                  "TotalResTime": 4320 * MIN_NS, "NodeHours": 96.0, "Entries": [
                      {"Name": "a-long", "Hash": "ab12", "Hosts": "dn1", "Start": "2031-03-04T10:00:00Z",
                       "OrigEnd": "2031-03-06T10:00:00Z", "End": "2031-03-07T10:00:00Z", "ExtendCount": 1,
                       "NodeHours": 96.0, "Status": "finished"}]},
        "bob": {"UniqueUsers": 1, "NodesUsedCount": 3, "ResCount": 1, "CancelledEarly": 1, "NumExtensions": 0,
                "TotalResTime": 120 * MIN_NS, "NodeHours": 6.5, "Entries": []}},
    "global": {"UniqueUsers": 2, "NodesUsedCount": 4, "ResCount": 2, "CancelledEarly": 1, "NumExtensions": 1,
               "TotalResTime": 4440 * MIN_NS, "NodeHours": 102.5}}}

SUMMARY = """\
Window: Mar-1-31T00:00 to Mar-8-31T00:00

By User:
USER   RESERVATIONS  NODES  CANCELLED-EARLY  EXTENSIONS  RES-TIME  NODE-HOURS
-----  ------------  -----  ---------------  ----------  --------  ----------
alice  1             1      0                1           3d0h0m    96
bob    1             3      1                0           2h0m      6.5

Global:
Unique Users: 2
Reservation Count: 2
Nodes Used (not unique): 4
Reservations Cancelled early: 1
Extensions used: 1
Total Reservation Time: 3d2h0m
Node-Hours: 102.5"""

VERBOSE_TAIL = """\
Reservations of alice:
NAME    RES ID  NODES  START           ORIGINAL END    ACTUAL END      EXTENSIONS  NODE-HOURS  LAST STATUS
------  ------  -----  --------------  --------------  --------------  ----------  ----------  -----------
a-long  ab12    dn1    Mar-4-31T10:00  Mar-6-31T10:00  Mar-7-31T10:00  1           96          finished

Reservations of bob:
NAME  RES ID  NODES  START  ORIGINAL END  ACTUAL END  EXTENSIONS  NODE-HOURS  LAST STATUS
----  ------  -----  -----  ------------  ----------  ----------  ----------  -----------

History records:
#  WRITTEN         STATUS    NAME    OWNER  NODES    START           END             EXTENSIONS
-  --------------  --------  ------  -----  -------  --------------  --------------  ----------
1  Mar-4-31T10:00  created   a-long  alice  dn[1-2]  Mar-4-31T10:00  Mar-6-31T10:00  0
2  Mar-7-31T10:00  finished  a-long  alice  dn1      Mar-4-31T10:00  Mar-7-31T10:00  1"""


def test_the_formatter_prints_the_window_the_users_and_the_summary() -> None:
    brief = {"stats": {**ANSWER["stats"], "verbose": False}}
    assert render_stats(brief, tz="UTC", now=0) == SUMMARY
    assert render_stats(ANSWER, tz="UTC", now=0) == SUMMARY + "\n\n" + VERBOSE_TAIL


def test_the_formatter_on_all_history_and_an_empty_window() -> None:
    empty = {"stats": {"option": "default", "verbose": False, "start": "0001-01-01T00:00:00Z",
                       "end": "2031-03-08T00:00:00Z", "records": [], "by_user": {},
                       "global": {"UniqueUsers": 0, "NodesUsedCount": 0, "ResCount": 0, "CancelledEarly": 0,
                                  "NumExtensions": 0, "TotalResTime": 0, "NodeHours": 0}}}
    lines = render_stats(empty, tz="America/Denver", now=0).splitlines()
    assert lines[0] == "Window: the beginning to Mar-7-31T17:00"
    assert lines[2] == "igor: no reservations in this window"
    assert "Total Reservation Time: 0m" in lines and "Node-Hours: 0" in lines


def test_stats_against_a_live_server(igor: Igor) -> None:
    igor.login()  # alice: one reservation extended then cancelled, one in the future (not counted)
    assert igor("res", "create", "stat1", "-n", "dn[1-2]", "-e", "2h").returncode == 0
    assert igor("res", "edit", "stat1", "--extend", "1h").returncode == 0
    assert igor("res", "del", "stat1").returncode == 0
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%MZ")
    assert igor("res", "create", "stat2", "-n", "dn3", "-s", tomorrow, "-e", "1h").returncode == 0

    refused = igor("stats")
    assert (refused.returncode, refused.stdout, refused.stderr.strip()) == (1, "", "igor: access denied")

    igor.login("igor-admin", ADMIN_PW)
    data = igor.json("stats")["stats"]
    assert (data["option"], data["verbose"], data["records"]) == ("default", False, [])
    end = datetime.fromisoformat(data["end"])
    assert datetime.fromisoformat(data["start"]) == end - timedelta(days=7)
    alice = data["by_user"]["alice"]
    assert (alice["ResCount"], alice["NodesUsedCount"], alice["CancelledEarly"], alice["NumExtensions"]) == (1, 2, 1, 1)
    assert 0 <= alice["TotalResTime"] <= MIN_NS and 0 <= alice["NodeHours"] <= 0.04  # deleted at once
    assert data["global"]["UniqueUsers"] == 1 and data["global"]["ResCount"] == 1

    table = igor("stats")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].startswith("Window: ") and "By User:" in lines and "Global:" in lines
    assert any(line.split()[:5] == ["alice", "1", "2", "1", "1"] for line in lines)
    assert "Reservation Count: 1" in lines and "Reservations Cancelled early: 1" in lines

    verbose = igor.json("stats", "-v", "-d", "0")["stats"]
    assert [(r["Name"], r["Status"]) for r in verbose["records"] if r["Status"] != "installed"] == [
        ("stat1", "created"), ("stat1", "updated:extend"), ("stat1", "deleted"), ("stat2", "created")]
    assert verbose["start"] == "0001-01-01T00:00:00Z"
    (entry,) = verbose["by_user"]["alice"]["Entries"]
    assert (entry["Name"], entry["Status"], entry["Hosts"], entry["ExtendCount"]) == ("stat1", "deleted",
                                                                                        "dn1,dn2", 1)
    shown = igor("stats", "-v")
    assert shown.returncode == 0 and "History records:" in shown.stdout and "Reservations of alice:" in shown.stdout

    before = igor("stats", "-s", "2001-Jan-01", "-d", "30")
    assert before.returncode == 0 and "igor: no reservations in this window" in before.stdout
    assert igor.json("stats", "-s", "2001-01-01")["stats"]["end"] == "2001-01-01T00:00:00Z"

    bad = igor("stats", "-d", "-1")
    assert (bad.returncode, bad.stderr.strip()) == (1, "igor: invalid value received for stats duration: -1")
    bad = igor("stats", "-s", "tomorrow")
    assert bad.returncode == 1 and bad.stderr.startswith("igor: invalid parameter 'start': 'tomorrow' is not a date")
    assert igor("stats", "-d", "many").returncode == 2  # a usage error: not a whole number
