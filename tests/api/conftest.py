"""API test fixtures: a falcon TestClient over a fresh server, and logged-in callers."""

from __future__ import annotations

import base64
from typing import Any

import falcon.testing
import pytest
from pony.orm import db_session

from igor.config import demo_clusters


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def snapshot(services) -> dict[str, list[tuple[Any, ...]]]:
    """Everything the server-core routes can change (tokens aside: logging in makes them)."""
    db = services.db
    with db_session:
        return {
            "users": sorted((u.name, u.email, u.full_name, u.pass_hash, str(u.elevated_until))
                            for u in db.User.select()),
            "groups": sorted((g.name, g.description) for g in db.Group.select()),
            "owners": sorted((g.name, u.name) for g in db.Group.select() for u in g.owners),
            "members": sorted((g.name, u.name) for g in db.Group.select() for u in g.members),
            "permissions": sorted((p.group.name, p.fact) for p in db.Permission.select()),
            "clusters": sorted((c.name, c.prefix, c.display_width, c.display_height, c.motd, c.motd_urgent)
                               for c in db.Cluster.select()),
            "hosts": sorted((h.name, h.hostname, h.mac, h.ip, h.state) for h in db.Host.select()),
            "policies": sorted((p.name, p.max_res_time, str(p.not_available),
                                tuple(sorted(g.name for g in p.access_groups))) for p in db.HostPolicy.select()),
            "host_policy": sorted((h.name, h.policy.name if h.policy else "") for h in db.Host.select()),
            "reservations": sorted((r.name, r.owner.name, r.group.name, r.start, r.end, r.reset_end,
                                    tuple(sorted(h.name for h in r.hosts))) for r in db.Reservation.select()),
            "images": sorted((i.name, i.image_id, i.kernel, i.initrd, i.breed, i.local_boot, i.bios_boot,
                              i.uefi_boot) for i in db.DistroImage.select()),
            "kickstarts": sorted((k.name, k.filename) for k in db.Kickstart.select()),
            "distros": sorted((d.name, d.owner.name if d.owner else "", d.is_default, d.is_public, d.deprecated,
                               d.description, d.kernel_args, d.image.name if d.image else "",
                               d.kickstart.name if d.kickstart else "", tuple(sorted(g.name for g in d.groups)))
                              for d in db.Distro.select()),
            "profiles": sorted((p.name, p.owner.name, p.distro.name if p.distro else "", p.is_default,
                                p.description, p.kernel_args) for p in db.Profile.select()),
            "epoch": [(db.ScheduleEpoch[1].epoch,)],
        }


class Api:
    """A TestClient plus helpers to log in and call as someone."""

    def __init__(self, services) -> None:
        from igor.api import create_app

        self.services = services
        self.client = falcon.testing.TestClient(create_app(services))
        self.tokens: dict[str, str] = {}

    def login(self, user: str, password: str | None = None) -> str:
        pw = password or ("igor-admin" if user == "igor-admin" else self.services.config.auth.default_user_password)
        r = self.client.simulate_get("/igor/login", headers=basic(user, pw))
        assert r.status_code == 200, r.json
        self.tokens[user] = r.json["data"]["token"]
        return self.tokens[user]

    def call(self, method: str, path: str, as_user: str | None = None, **kw):
        headers = dict(kw.pop("headers", {}))
        if as_user is not None:
            token = self.tokens.get(as_user) or self.login(as_user)
            headers["Authorization"] = f"Bearer {token}"
        return self.client.simulate_request(method, path, headers=headers, **kw)

    def get(self, path, as_user=None, **kw):
        return self.call("GET", path, as_user, **kw)

    def post(self, path, as_user=None, **kw):
        return self.call("POST", path, as_user, **kw)

    def patch(self, path, as_user=None, **kw):
        return self.call("PATCH", path, as_user, **kw)

    def delete(self, path, as_user=None, **kw):
        return self.call("DELETE", path, as_user, **kw)

    def put(self, path, as_user=None, **kw):
        return self.call("PUT", path, as_user, **kw)

    def elevate(self, user: str) -> None:
        r = self.patch("/igor/elevate", as_user=user)
        assert r.status_code == 200, r.json


@pytest.fixture
def api(services) -> Api:
    return Api(services)


@pytest.fixture
def people(api: Api) -> Api:
    """Users alice, bob, carol, dave (dave in admins), group 'team' owned by alice with member bob,
    and the small demo cluster (hosts unblocked)."""
    return seed_people(api)


def seed_people(api: Api) -> Api:
    """What ``people`` sets up, also for an Api built on a custom config."""
    admin = api.services.auth.principal_for("igor-admin")
    for name in ("alice", "bob", "carol", "dave"):
        api.services.users.create(admin, name, f"{name}@example.com", name.title())
    api.services.groups.create(api.services.auth.principal_for("alice"), "team", members=["bob"])
    api.services.groups.edit(admin, "admins", {"add": ["dave"]})
    api.services.cluster.apply_spec(demo_clusters(count=16), blocked=False)
    return api
