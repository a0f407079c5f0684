"""``PATCH /igor/hosts-ctrl/power`` (``igor power on|off|cycle``) and the power state hosts report, over the API
on the demo cluster (``sim://`` power, state files under ``$IGOR_HOME/run/power``): who may power which hosts
(elevated admins any; others the hosts of active reservations they own or share), Igor v2's messages, bad input
refused with nothing powered and nothing written, failures reported per host (``hosts with errors: [...]``),
and ``host show`` / ``GET /igor`` reading the drivers' state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pony.orm import db_session

from tests.api.conftest import Api, seed_people, snapshot
from tests.api.test_hosts_ctrl import api_for
from tests.api.test_users import ELEVATE_MSG, ok, refused

POWER = "/igor/hosts-ctrl/power"


def power(api: Api, as_user: str, cmd: str = "off", **target: str):
    return api.patch(POWER, as_user=as_user, json={"cmd": cmd, **target})


def sim_files(api: Api) -> dict[str, str]:
    """The simulator's state files (host → on/off): what was powered."""
    root = Path(api.services.power.state_dir) / "sim"
    return {p.name: p.read_text().splitlines()[0] for p in sorted(root.iterdir())} if root.exists() else {}


def powered(api: Api, expr: str = "dn[1-16]", as_user: str = "carol") -> dict[str, str]:
    r = api.get("/igor/hosts", as_user=as_user, params={"name": expr})
    assert r.status_code == 200, r.json
    return {h["name"]: h["powered"] for h in r.json["data"]["hosts"]}


def reserve(api: Api, user: str, name: str, nodes: str, *, later: bool = False, group: str | None = None) -> None:
    body: dict[str, Any] = {"name": name, "nodeList": nodes, "duration": "2h"}
    if later:
        body["start"] = api.services.ctx.now().timestamp() + 86400
    if group:
        body["group"] = group
    api.services.reservations.create(api.services.auth.principal_for(user), body)


def refused_power(api: Api, as_user: str | None, status: int, message: str, **body: Any) -> None:
    files = sim_files(api)
    refused(api, "PATCH", POWER, status, message, as_user, json=body)
    assert sim_files(api) == files


@pytest.fixture
def world(people: Api) -> Api:
    """``people`` plus alice's active reservation ``now-res`` (dn[3-4], group team) and her future ``later-res``
    (dn[9-10]), and carol's active ``carol-res`` (dn[12])."""
    reserve(people, "alice", "now-res", "dn[3-4]", group="team")
    reserve(people, "alice", "later-res", "dn[9-10]", later=True)
    reserve(people, "carol", "carol-res", "dn12")
    return people


# -- who may power what --------------------------------------------------------------------------------------------


def test_owner_of_an_active_reservation_powers_its_hosts(world: Api) -> None:
    data = ok(power(world, "alice", "off", hosts="dn[3-4]"), 200, "")
    assert data == {"hosts": ["dn3", "dn4"], "cmd": "off"}
    assert sim_files(world) == {"dn3": "off", "dn4": "off"}
    assert powered(world, "dn[2-5]") == {"dn2": "true", "dn3": "false", "dn4": "false", "dn5": "true"}
    ok(power(world, "alice", "on", hosts="dn3"), 200, "")
    assert powered(world, "dn[3-4]") == {"dn3": "true", "dn4": "false"}


def test_group_member_powers_by_reservation_name(world: Api) -> None:
    assert ok(power(world, "bob", "cycle", resName="now-res"), 200, "") == {"hosts": ["dn3", "dn4"], "cmd": "cycle"}
    assert sim_files(world) == {"dn3": "on", "dn4": "on"}


def test_hosts_of_two_own_reservations_in_one_request(world: Api) -> None:
    reserve(world, "alice", "more-res", "dn6")
    assert ok(power(world, "alice", "off", hosts="dn[3,6]"), 200, "")["hosts"] == ["dn3", "dn6"]


def test_non_member_is_refused(world: Api) -> None:
    refused_power(world, "carol", 403, "you cannot run power commands on dn3: not in an active reservation of "
                  "yours or of your groups", cmd="off", hosts="dn3")
    refused_power(world, "carol", 403, "you cannot run power commands on reservation 'now-res': only its owner, "
                  "the members of its group and elevated admins may", cmd="off", resName="now-res")
    refused_power(world, "carol", 403, "you cannot run power commands on dn11: not in an active reservation of "
                  "yours or of your groups", cmd="off", hosts="dn[11-12]")  # one of two not hers: nothing powered


def test_inactive_reservation_is_refused(world: Api) -> None:
    with db_session:
        start = world.services.db.Reservation.get(name="later-res").start
    from igor.timefmt import format_datetime

    why = (f"reservation 'later-res' is not active until {format_datetime(start)} UTC (power commands are allowed "
           "only while it is active)")
    refused_power(world, "alice", 403, f"you cannot run power commands on dn[9-10]: {why}", cmd="on",
                  hosts="dn[9-10]")
    refused_power(world, "alice", 403, why, cmd="on", resName="later-res")


def test_ended_reservation_is_refused(world: Api) -> None:
    with db_session:
        res = world.services.db.Reservation.get(name="now-res")
        res.end = res.start  # ended (the close-out has not run yet)
    refused_power(world, "alice", 403, "reservation 'now-res' has ended (power commands are allowed only while it "
                  "is active)", cmd="off", resName="now-res")


def test_elevated_admins_power_any_host(world: Api) -> None:
    ok(power(world, "igor-admin", "off", hosts="dn[1,9,16]"), 200, "")
    refused_power(world, "dave", 403, ELEVATE_MSG, cmd="off", hosts="dn2")
    world.elevate("dave")
    ok(power(world, "dave", "off", resName="later-res"), 200, "")  # even a reservation that has not started
    assert sim_files(world) == {"dn1": "off", "dn9": "off", "dn10": "off", "dn16": "off"}


def test_no_token(world: Api) -> None:
    r = world.patch(POWER, json={"cmd": "off", "hosts": "dn3"})
    assert r.status_code == 401 and sim_files(world) == {}


# -- bad input -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"cmd": "reboot", "hosts": "dn3"}, 400, "power command 'reboot' not recognized (use on, off or cycle)"),
    ({"cmd": "off"}, 400, "missing required param (hosts or resName) to issue power command"),
    ({"cmd": "off", "hosts": "dn3", "resName": "now-res"}, 400, "both hosts and resName found (only 1 allowed)"),
    ({"cmd": "off", "hosts": ""}, 400, "hosts must name at least one host, e.g. kn[3-5]"),
    ({"cmd": "off", "hosts": "dn[3-"}, 400, "can't parse hosts - dn[3-: "),
    ({"cmd": "off", "hosts": "dn99"}, 404, "host 'dn99' not found"),
    ({"cmd": "off", "hosts": "dn[3,98-99]"}, 404, "host(s) 'dn[98-99]' not found"),
    ({"cmd": "off", "resName": "nores"}, 404, "reservation 'nores' not found"),
    ({"cmd": "off", "resName": "x"}, 400, "'x' is not a legal reservation name"),
    ({"hosts": "dn3"}, 400, "required parameter 'cmd' not found"),
    ({}, 400, "requested operation had no parameters"),
])
@pytest.mark.parametrize("actor", ["alice", "igor-admin"])
def test_bad_input_changes_nothing(world: Api, actor: str, body: dict, status: int, message: str) -> None:
    before = snapshot(world.services)
    r = world.patch(POWER, as_user=actor, json=body)
    assert r.status_code == status and r.json["status"] == "fail", r.json
    assert r.json["message"].startswith(message), r.json["message"]
    assert snapshot(world.services) == before and sim_files(world) == {}


def test_command_is_case_insensitive_as_in_v2(world: Api) -> None:
    assert ok(power(world, "alice", " OFF ", hosts="dn3"), 200, "")["cmd"] == "off"


# -- failures --------------------------------------------------------------------------------------------------------


def _external_hosts(api: Api, names: list[str]) -> None:
    """Give hosts no powerUri, so the externalCmds templates power them."""
    with db_session:
        for name in names:
            api.services.db.Host.get(name=name).power_uri = ""


def test_failing_command_is_reported_per_host(make_config, tmp_path: Path) -> None:
    script = tmp_path / "bin" / "pwr"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n[ \"$2\" = dn4 ] && { echo 'BMC unreachable' >&2; exit 7; }\nexit 0\n")
    script.chmod(0o755)
    api = seed_people(api_for(make_config, {"externalCmds": {"powerOff": f"{script} off %s"}}))
    reserve(api, "alice", "now-res", "dn[3-5]")
    _external_hosts(api, ["dn3", "dn4"])
    r = power(api, "alice", "off", resName="now-res")
    assert r.status_code == 502 and r.json["status"] == "error", r.json
    assert r.json["message"] == (f"hosts with errors: [dn4] - dn4: externalCmds.powerOff `{script} off dn4` failed "
                                 "(exit 7): BMC unreachable")
    assert r.json["data"]["hosts"] == ["dn3", "dn4", "dn5"] and list(r.json["data"]["errors"]) == ["dn4"]
    assert sim_files(api) == {"dn5": "off"}  # the others were powered
    assert powered(api, "dn[3-5]") == {"dn3": "unknown", "dn4": "unknown", "dn5": "false"}


def test_unconfigured_hosts_refuse_the_whole_request(world: Api) -> None:
    _external_hosts(world, ["dn4"])
    r = power(world, "alice", "off", hosts="dn[3-4]")
    assert r.status_code == 501, r.json
    assert r.json["message"] == ("hosts with errors: [dn4] - no power control configured for host dn4: set "
                                 "powerUri in igor-clusters.yaml or externalCmds.powerOff")
    assert sim_files(world) == {}  # dn3 was not powered either


# -- the state hosts report ------------------------------------------------------------------------------------------


def test_host_show_filters_on_the_real_state(world: Api) -> None:
    ok(power(world, "alice", "off", hosts="dn4"), 200, "")
    r = world.get("/igor/hosts", as_user="carol", params={"powered": "false"})
    assert [h["name"] for h in r.json["data"]["hosts"]] == ["dn4"]
    r = world.get("/igor/hosts", as_user="carol", params={"powered": "true", "name": "dn[3-5]"})
    assert [h["name"] for h in r.json["data"]["hosts"]] == ["dn3", "dn5"]


def test_show_reports_power_without_waiting_for_drivers(world: Api) -> None:
    ok(power(world, "alice", "off", hosts="dn4"), 200, "")
    show = world.get("/igor", as_user="alice").json["data"]["show"]
    by_name = {h["name"]: h["powered"] for h in show["hosts"]}
    assert by_name["dn4"] == "false"  # this process powered it: known at once
    res = {r["name"]: r for r in show["reservations"]}
    # dn3 was never read by this process: not applicable until the background refresh has read it
    assert (res["now-res"]["hostsUp"], res["now-res"]["hostsDown"], res["now-res"]["hostsPowerNA"]) == \
        ([], ["dn4"], ["dn3"])
    assert res["later-res"]["hostsPowerNA"] == ["dn9", "dn10"]  # not active: not split


def test_show_encoded_once_is_the_same_view(world: Api) -> None:
    """The API's view (reservations encoded once per epoch and minute, running ones split by power per request)
    writes the same JSON as the plain view, for each caller, and follows a change at once."""
    import orjson

    ok(power(world, "alice", "off", hosts="dn4"), 200, "")
    world.get("/igor/hosts", as_user="alice")  # read every state now: no refresh lands between the two views
    show = world.services.show
    for user in ("alice", "carol"):
        principal = world.services.auth.principal_for(user)
        plain, encoded = show.show(principal), show.show(principal, encoded=True)
        assert orjson.dumps(encoded) == orjson.dumps(plain)
        assert world.get("/igor", as_user=user).json["data"]["show"] == orjson.loads(orjson.dumps(plain))
    ok(power(world, "alice", "on", hosts="dn4"), 200, "")
    ok(world.delete("/igor/reservations/later-res", as_user="alice"), 200, "")
    principal = world.services.auth.principal_for("alice")
    encoded = orjson.loads(orjson.dumps(show.show(principal, encoded=True)))
    res = {r["name"]: r for r in encoded["reservations"]}
    assert "later-res" not in res and res["now-res"]["hostsDown"] == []
    assert encoded == orjson.loads(orjson.dumps(show.show(principal)))


def test_show_learns_states_in_the_background(world: Api) -> None:
    """Another process powered dn7 (its state file changed): GET /igor answers at once from memory and the
    background refresh brings the new state."""
    import time

    from igor.power import PowerTarget, SimDriver

    world.get("/igor", as_user="alice")
    SimDriver(world.services.power.state_dir).act(PowerTarget("dn7", "dn7", "sim://"), "off")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        hosts = {h["name"]: h["powered"] for h in world.get("/igor", as_user="alice").json["data"]["show"]["hosts"]}
        if hosts["dn7"] == "false":
            break
        time.sleep(0.5)
    assert hosts["dn7"] == "false" and hosts["dn6"] == "true"


# -- regressions of Igor v2's power bugs (reference §11) -------------------------------------------------------------


def test_v2_11_8_hosts_added_later_get_their_power_state(world: Api) -> None:
    """v2 polled only the hosts that existed at boot: hosts added later never had a power state."""
    from igor.clusters import demo_clusters

    world.services.cluster.apply_spec(demo_clusters(count=20), blocked=False)
    assert powered(world, "dn[17-20]") == dict.fromkeys(("dn17", "dn18", "dn19", "dn20"), "true")
    ok(power(world, "igor-admin", "off", hosts="dn20"), 200, "")
    assert powered(world, "dn[19-20]") == {"dn19": "true", "dn20": "false"}


def test_v2_11_15_unknown_power_is_not_counted_as_down(world: Api) -> None:
    """v2 put the hosts of unknown power in ``hostsDown`` and never filled ``hostsPowerNA``."""
    _external_hosts(world, ["dn3"])  # externalCmds hosts cannot tell their state
    world.get("/igor/hosts", as_user="alice")  # read every state once
    res = {r["name"]: r for r in world.get("/igor", as_user="alice").json["data"]["show"]["reservations"]}
    assert (res["now-res"]["hostsUp"], res["now-res"]["hostsDown"], res["now-res"]["hostsPowerNA"]) == \
        (["dn4"], [], ["dn3"])
