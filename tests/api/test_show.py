"""GET /igor (the landing view) and GET /igor/public (CSV)."""

from __future__ import annotations

from igor.db import init_db
from igor.services import Services
from tests.api.conftest import Api


def _reserve(api, user, name, nodes, duration="2h", **extra):
    r = api.post("/igor/reservations", as_user=user, json={"name": name, "nodeList": nodes, "duration": duration,
                                                           **extra})
    assert r.status_code == 201, r.json
    return r.json["data"]["reservation"][0]


def test_show_payload_has_every_part(people):
    _reserve(people, "alice", "alpha", "dn[1-2]", group="team")
    _reserve(people, "carol", "gamma", "dn5")
    r = people.get("/igor", as_user="bob")
    assert r.status_code == 200
    show = r.json["data"]["show"]
    assert set(show) == {"cluster", "hosts", "reservations", "profiles", "distros", "groups"}
    assert show["cluster"]["name"] == "demo" and show["cluster"]["prefix"] == "dn"
    assert len(show["hosts"]) == 16
    # every reservation, whoever owns it (as Igor v2)
    assert [(v["name"], v["group"], v["hostRange"]) for v in show["reservations"]] == [
        ("alpha", "team", "dn[1-2]"), ("gamma", "", "dn5")]
    assert show["groups"] == ["team"]
    hosts = {h["name"]: h for h in show["hosts"]}
    assert hosts["dn1"]["reservations"] == ["alpha"] and hosts["dn5"]["reservations"] == ["gamma"]


def test_show_needs_a_token_and_takes_no_parameters(people):
    assert people.client.simulate_get("/igor").status_code == 401
    r = people.get("/igor", as_user="bob", query_string="x=1")
    assert r.status_code == 400 and r.json["message"] == "unknown parameter 'x' received: [1]"


def test_show_reflects_a_change_at_once(people):
    before = people.get("/igor", as_user="bob").json["data"]["show"]["reservations"]
    _reserve(people, "carol", "fresh", "dn9")
    after = people.get("/igor", as_user="bob").json["data"]["show"]["reservations"]
    assert [v["name"] for v in after] == [v["name"] for v in before] + ["fresh"]


def test_public_is_off_by_default(people):
    r = people.client.simulate_get("/igor/public")
    assert r.status_code == 403 and "not enabled" in r.text


def test_public_csv_when_enabled(make_config):
    from igor.clusters import demo_clusters

    config = make_config({"server": {"allowPublicShow": True}})
    services = Services(init_db(config.database.url), config)
    services.bootstrap()
    admin = services.auth.principal_for("igor-admin")
    services.users.create(admin, "alice", "alice@example.com")
    services.groups.create(services.auth.principal_for("alice"), "team")
    services.cluster.apply_spec(demo_clusters(count=8), blocked=False)
    api = Api(services)
    res = _reserve(api, "alice", "alpha", "dn[2-3]", group="team")
    _reserve(api, "alice", "solo", "dn7")
    r = api.client.simulate_get("/igor/public")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.strip().split("\n")
    assert lines[0] == "resName,owner,group,nodeCount,nodes,startTime,endTime"
    fields = lines[1].split(",")
    assert fields[:5] == ["alpha", "alice", "team", "2", "dn2 dn3"]
    assert fields[5].endswith("+00:00") and fields[5][:16] == _iso(res["start"])
    assert lines[2].split(",")[:5] == ["solo", "alice", "", "1", "dn7"]


def _iso(epoch: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M")
