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
