"""cluster config / show / dump / motd and GET /igor/hosts."""

from __future__ import annotations

import yaml
from pony.orm import db_session, select

from igor.clusters import demo_clusters, dump_clusters, load_clusters
from igor.services import Services
from tests.api.conftest import Api


def _snapshot(services: Services) -> dict:
    db = services.db
    with db_session:
        return {
            "clusters": sorted(select((c.name, c.prefix, c.display_width, c.display_height, c.motd, c.motd_urgent)
                                      for c in db.Cluster)[:]),
            "hosts": sorted(select((h.name, h.hostname, h.mac, h.state) for h in db.Host)[:]),
        }


def _api_with_clusters_file(make_config, tmp_path, text: str) -> Api:
    from igor.db import init_db

    conf = tmp_path / "conf"
    conf.mkdir(exist_ok=True)
    (conf / "igor-clusters.yaml").write_text(text)
    (conf / "igor-server.yaml").write_text("")
    config = make_config()
    assert config.clusters_file == conf / "igor-clusters.yaml"
    services = Services(init_db(config.database.url), config)
    services.bootstrap()
    return Api(services)


def test_cluster_config_creates_new_hosts_blocked(make_config, tmp_path):
    api = _api_with_clusters_file(make_config, tmp_path, dump_clusters(demo_clusters(count=8)))
    r = api.post("/igor/clusters", as_user="igor-admin")
    assert r.status_code == 201, r.json
    assert r.json["message"] == "'demo' created with following hosts [dn1 dn2 dn3 dn4 dn5 dn6 dn7 dn8]"
    hosts = api.get("/igor/hosts", as_user="igor-admin").json["data"]["hosts"]
    assert [h["name"] for h in hosts] == [f"dn{i}" for i in range(1, 9)]
    assert {h["state"] for h in hosts} == {"blocked"}
    assert hosts[0]["attributes"]["rack"] == "r1"


def test_cluster_config_again_adds_only_new_hosts(make_config, tmp_path):
    api = _api_with_clusters_file(make_config, tmp_path, dump_clusters(demo_clusters(count=4)))
    assert api.post("/igor/clusters", as_user="igor-admin").status_code == 201
    (tmp_path / "conf" / "igor-clusters.yaml").write_text(dump_clusters(demo_clusters(count=6)))
    r = api.post("/igor/clusters", as_user="igor-admin")
    assert r.status_code == 201
    assert "[dn5 dn6]" in r.json["message"]
    r = api.post("/igor/clusters", as_user="igor-admin")
    assert r.status_code == 400 and "no new hosts created" in r.json["message"]


def test_cluster_config_refuses_a_second_cluster_and_changes_nothing(make_config, tmp_path):
    api = _api_with_clusters_file(make_config, tmp_path, dump_clusters(demo_clusters(count=4)))
    assert api.post("/igor/clusters", as_user="igor-admin").status_code == 201
    other = demo_clusters(count=4)
    text = dump_clusters(other).replace("demo:", "other:", 1)
    (tmp_path / "conf" / "igor-clusters.yaml").write_text(text)
    before = _snapshot(api.services)
    r = api.post("/igor/clusters", as_user="igor-admin")
    assert r.status_code == 501 and "only one cluster is supported" in r.json["message"]
    assert _snapshot(api.services) == before


def test_cluster_config_with_a_broken_file_names_the_problem(make_config, tmp_path):
    text = dump_clusters(demo_clusters(count=2)).replace("bootMode: bios", "bootMode: floppy", 1)
    api = _api_with_clusters_file(make_config, tmp_path, text)
    before = _snapshot(api.services)
    r = api.post("/igor/clusters", as_user="igor-admin")
    assert r.status_code == 400 and "bootMode" in r.json["message"] and "floppy" in r.json["message"]
    assert _snapshot(api.services) == before


def test_cluster_config_without_a_file(api):
    r = api.post("/igor/clusters", as_user="igor-admin")
    assert r.status_code == 404 and "igor-clusters.yaml" in r.json["message"]


def test_cluster_config_with_unknown_policy_changes_nothing(make_config, tmp_path):
    text = dump_clusters(demo_clusters(count=2)).replace("bootMode: bios", "bootMode: bios\n      policy: gpu-only", 1)
    api = _api_with_clusters_file(make_config, tmp_path, text)
    r = api.post("/igor/clusters", as_user="igor-admin")
    assert r.status_code == 404 and "gpu-only" in r.json["message"]
    assert _snapshot(api.services)["hosts"] == []


def test_cluster_show_and_yaml_and_dump(make_config, tmp_path):
    api = _api_with_clusters_file(make_config, tmp_path, dump_clusters(demo_clusters(count=3)))
    api.post("/igor/clusters", as_user="igor-admin")
    r = api.get("/igor/clusters", as_user="igor-admin")
    assert r.status_code == 200
    (cluster,) = r.json["data"]["clusters"]
    assert cluster["name"] == "demo" and cluster["prefix"] == "dn" and cluster["hosts"] == ["dn1", "dn2", "dn3"]
    assert api.get("/igor/clusters", as_user="igor-admin", params={"name": "nope"}).json["data"]["clusters"] == []
    text = api.get("/igor/clusters", as_user="igor-admin", params={"getYaml": "true"}).json["data"]["yaml"]
    assert sorted(yaml.safe_load(text)["demo"]["hostmap"]) == [1, 2, 3]
    r = api.get("/igor/clusters", as_user="igor-admin", params={"dump": "true"})
    assert r.status_code == 200, r.json
    backup = r.json["data"]["backup"]
    assert backup.endswith(".bak") and (tmp_path / "conf").joinpath(backup.rsplit("/", 1)[1]).exists()
    dumped = load_clusters(tmp_path / "conf" / "igor-clusters.yaml")
    assert [h.name for h in dumped.hosts] == ["dn1", "dn2", "dn3"]
    r = api.get("/igor/clusters", as_user="igor-admin", params={"dump": "true", "getYaml": "true"})
    assert r.status_code == 400
    r = api.get("/igor/clusters", as_user="igor-admin", params={"dump": "maybe"})
    assert r.status_code == 400 and "dump" in r.json["message"]


def test_motd(people):
    api = people
    before = _snapshot(api.services)
    for body, message in (({"motd": "x"}, "required parameter 'motdUrgent' not found"),
                          ({"motdUrgent": True}, "required parameter 'motd' not found"),
                          ({"motd": 5, "motdUrgent": True}, "invalid parameter 'motd': must be a string, got number"),
                          ({"motd": "x", "motdUrgent": "yes"},
                           "invalid parameter 'motdUrgent': must be a boolean, got string"),
                          ({"motd": "x", "motdUrgent": True, "colour": "red"},
                           "unknown parameter 'colour' received: red"),
                          ({"motd": "x" * 2000, "motdUrgent": True}, "invalid parameter 'motd': longer than 1024 "
                                                                     "characters"),
                          ({}, "requested operation had no parameters")):
        r = api.patch("/igor/clusters/motd", as_user="igor-admin", json=body)
        assert (r.status_code, r.json["message"]) == (400, message), body
    assert _snapshot(api.services) == before
    r = api.patch("/igor/clusters/motd", as_user="igor-admin", json={"motd": "maintenance at 5", "motdUrgent": True})
    assert r.status_code == 200
    (c,) = api.get("/igor/clusters", as_user="igor-admin").json["data"]["clusters"]
    assert (c["motd"], c["motdUrgent"]) == ("maintenance at 5", True)
    api.patch("/igor/clusters/motd", as_user="igor-admin", json={"motd": "", "motdUrgent": True})
    (c,) = api.get("/igor/clusters", as_user="igor-admin").json["data"]["clusters"]
    assert (c["motd"], c["motdUrgent"]) == ("", False)


def test_hosts_lists_every_host_with_v2_fields(people):
    r = people.get("/igor/hosts", as_user="carol")
    assert r.status_code == 200
    hosts = r.json["data"]["hosts"]
    assert len(hosts) == 16 and [h["sequenceID"] for h in hosts] == list(range(1, 17))
    assert {"name", "sequenceID", "hostName", "eth", "ip", "mac", "bootMode", "state", "powered", "cluster",
            "hostPolicy", "accessGroups", "restricted", "reservations"} <= set(hosts[0])
    assert hosts[0]["cluster"] == "demo" and hosts[0]["hostPolicy"] == "default"
    assert hosts[0]["accessGroups"] == [] and hosts[0]["restricted"] is False


def test_hosts_filters(people):
    api = people

    def names(**params):
        r = api.get("/igor/hosts", as_user="carol", params=params)
        assert r.status_code == 200, r.json
        return [h["name"] for h in r.json["data"]["hosts"]]

    assert names(name="dn[2-4,9]") == ["dn2", "dn3", "dn4", "dn9"]
    assert names(name=["dn1", "dn16"]) == ["dn1", "dn16"]
    assert names(hostname="dn5") == ["dn5"]
    assert names(mac="52:54:00:00:00:07") == ["dn7"]
    assert names(ip="10.0.0.3") == ["dn3"]
    assert names(state="available") == names()
    assert names(state="blocked") == []
    assert names(hostPolicy="default") == names()
    assert names(powered="true") == names()  # sim:// hosts never powered by Igor are on
    assert names(powered="unknown") == names(powered="false") == []
    assert names(name="dn[1-8]", state="available") == [f"dn{i}" for i in range(1, 9)]


def test_hosts_bad_filters_are_refused(people):
    cases = {
        "name=kn[1-3]": "couldn't parse node specification [kn[1-3]]",
        "name=dn[1-": "couldn't parse node specification [dn[1-]",
        "state=sleeping": "host state term 'sleeping' not accepted",
        "ip=10.0.0": "invalid parameter 'ip'",
        "mac=zz": "invalid parameter 'mac'",
        "powered=maybe": "invalid parameter: 'powered=maybe' does not evaluate to boolean",
        "colour=red": "unknown parameter 'colour' received: [red]",
        "eth=1": "'1' is not a legal eth",
    }
    for query, message in cases.items():
        r = people.get("/igor/hosts", as_user="carol", query_string=query)
        assert r.status_code == 400, query
        assert message in r.json["message"], (query, r.json["message"])
    r = people.get("/igor/hosts", as_user="carol", query_string="name=" + "x" * 5000)
    assert r.status_code == 400
