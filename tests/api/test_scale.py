"""Listing routes at a size beyond Pony's prefetch batches (2 × 999 objects on SQLite): more than 2,000
reservations with their hosts must list fine — Pony 0.7.20's many-to-many prefetch raised (a 500) here."""

from __future__ import annotations

from pony.orm import db_session

from igor.clusters import demo_clusters


def _many(api, n: int = 2100) -> None:
    api.services.cluster.apply_spec(demo_clusters(count=64), blocked=False)
    db = api.services.db
    with db_session:
        owner = db.User.get(name="alice")
        group = db.Group.get(name="u_alice")
        hosts = sorted(db.Host.select(), key=lambda h: h.sequence_id)
        now = api.services.reservations._now()
        for i in range(n):
            start = now + 60 * (i // 64)
            res = db.Reservation(name=f"bulk{i:05d}", owner=owner, group=group, start=start, end=start + 30,
                                 orig_end=start + 30, reset_end=start + 30, hash=f"h{i}")
            res.hosts.add(hosts[i % 64])
        api.services.ctx.bump_epoch()


def test_more_than_two_thousand_reservations_list_everywhere(people):
    api = people
    _many(api)
    r = api.get("/igor", as_user="alice")
    assert r.status_code == 200, r.json
    assert len(r.json["data"]["show"]["reservations"]) == 2100
    r = api.get("/igor/reservations", as_user="alice")
    assert r.status_code == 200 and len(r.json["data"]["reservations"]) == 2100
    first = r.json["data"]["reservations"][0]
    assert first["name"] == "bulk00000" and first["hosts"] == ["dn1"] and first["hostRange"] == "dn1"
    r = api.get("/igor/hosts", as_user="alice", params={"name": "dn1"})
    assert r.status_code == 200
    (host,) = r.json["data"]["hosts"]
    assert host["reservations"][:2] == ["bulk00000", "bulk00064"] and len(host["reservations"]) == 33


class _Statements:
    """Pony's SQL log while inside (any backend): the statements that read the hosts table."""

    def __init__(self, caplog) -> None:  # noqa: ANN001 - pytest's fixture
        self.caplog = caplog

    def __enter__(self) -> _Statements:
        from pony.orm import set_sql_debug

        self.caplog.clear()
        self.caplog.set_level("INFO", logger="pony.orm.sql")
        set_sql_debug(True, show_values=False)
        return self

    def __exit__(self, *exc: object) -> None:
        from pony.orm import set_sql_debug

        set_sql_debug(False)

    def host_reads(self) -> int:
        return sum(1 for r in self.caplog.records if r.name == "pony.orm.sql" and "SELECT" in r.getMessage()
                   and 'FROM "hosts"' in r.getMessage().replace("`", '"'))


def test_a_reservation_or_a_block_of_many_hosts_reads_them_in_a_few_queries(people, caplog):
    """Writes happen while every other writer waits: reading 1,100 hosts one query each (1,100 round trips on
    PostgreSQL) would hold them all up. Beyond SQLite's 999 variables a query, too."""
    api = people
    api.services.cluster.apply_spec(demo_clusters(count=1200), blocked=False)
    api.get("/igor/hosts", as_user="igor-admin")  # engine built outside the count
    with _Statements(caplog) as sql:
        r = api.post("/igor/reservations", as_user="igor-admin",
                     json={"name": "wide", "nodeCount": 1100, "duration": "1h"})
    assert r.status_code == 201, r.json
    assert len(r.json["data"]["reservation"][0]["hosts"]) == 1100
    assert 1 <= sql.host_reads() <= 10  # one per 500 hosts, and a few more; not one per host
    with _Statements(caplog) as sql:
        r = api.patch("/igor/hosts-ctrl/block", as_user="igor-admin", json={"hosts": "dn[1-1100]", "block": True})
    assert r.status_code == 200, r.json
    assert 1 <= sql.host_reads() <= 10  # one per 500 hosts, and a few more; not one per host
    with db_session:
        assert api.services.db.Host.select(lambda h: h.state == 2).count() == 1100
