"""The services against a fake :class:`igor.ldapdir.Directory` (no slapd needed): the cases a real server is
awkward to put in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from pony.orm import db_session

from igor.config import demo_clusters
from igor.db import init_db
from igor.ldapdir import DirectoryUnavailable, LdapEntry
from igor.rules import hash_password
from igor.services import Services
from igor.services.auth import Unauthorized
from igor.services.users import new_account


class FakeDirectory:
    """Groups (cn → memberUid values) and people (uid → password); ``down`` makes every call fail."""

    def __init__(self, groups: dict[str, list[str]], people: dict[str, str] | None = None) -> None:
        self.groups = groups
        self.people = people or {}
        self.down = False
        self.searches: list[str] = []

    @contextmanager
    def session(self) -> Iterator[FakeDirectory]:
        if self.down:
            raise DirectoryUnavailable("cannot connect to the LDAP server ldap://fake: refused")
        yield self

    def search(self, filter: str, attributes: Any, *, limit: int = 0) -> list[LdapEntry]:
        self.searches.append(filter)
        key, _, value = filter.strip("()").partition("=")
        if key == "cn" and value in self.groups:
            return [LdapEntry(f"cn={value},ou=groups", {"memberuid": tuple(self.groups[value])})]
        if key == "uid" and value in self.people:
            return [LdapEntry(f"uid={value},ou=people", {"mail": (f"{value}@example.org",)})]
        return []

    def authenticate(self, username: str, password: str) -> LdapEntry | None:
        if self.down:
            raise DirectoryUnavailable("cannot connect to the LDAP server ldap://fake: refused")
        return LdapEntry(f"uid={username}") if self.people.get(username) == password else None


@pytest.fixture
def ldap_services(make_config: Any) -> Iterator[tuple[Services, FakeDirectory]]:
    config = make_config({"auth": {"scheme": "ldap", "ldap": {"host": "ldap.invalid", "sync": {
        "enableUserSync": True, "groupFilters": ["cn=staff"], "userListAttribute": "memberUid",
        "userEmailAttribute": "mail"}}}})
    services = Services(init_db(config.database.url), config)
    services.bootstrap()
    services.cluster.apply_spec(demo_clusters(count=4), blocked=False)
    with db_session:
        services.db.User.get(name="igor-admin").pass_hash = hash_password("n3w-Admin!")
    fake = FakeDirectory({"staff": ["amy", "ben"]}, {"amy": "amypw", "ben": "benpw"})
    services.auth.directory = fake
    assert services.ldap_sync is not None
    services.ldap_sync.directory = fake
    yield services, fake
    services.db.disconnect()


def names(services: Services) -> set[str]:
    with db_session:
        return {u.name for u in services.db.User.select()}


def test_a_group_listing_only_unusable_names_removes_nobody(ldap_services) -> None:
    services, fake = ldap_services
    assert services.ldap_sync.run().created == ("amy", "ben")
    fake.groups["staff"] = ["Not A Name!", "*"]
    report = services.ldap_sync.run()
    assert report.removed == () and report.kept == ("amy", "ben")
    assert names(services) == {"igor-admin", "amy", "ben"}


def test_one_failing_change_does_not_stop_the_others(ldap_services, monkeypatch) -> None:
    services, fake = ldap_services
    sync = services.ldap_sync
    real = sync._create_user

    def create(name: str, *args: Any) -> bool:
        if name == "amy":
            raise RuntimeError("disk full")
        return real(name, *args)

    monkeypatch.setattr(sync, "_create_user", create)
    report = sync.run()
    assert report.created == ("ben",) and report.problems == ("creating account 'amy' failed: disk full",)


def test_login_goes_to_the_directory_except_for_igor_admin(ldap_services) -> None:
    services, fake = ldap_services
    with db_session:
        new_account(services.ctx, "amy", "amy@example.org", "Amy")
    assert services.auth.login("amy", "amypw").user == "amy"
    with pytest.raises(Unauthorized, match="ldap login failed - incorrect username or password"):
        services.auth.login("amy", "benpw")
    fake.down = True
    with pytest.raises(DirectoryUnavailable) as err:
        services.auth.login("amy", "amypw")
    assert err.value.status == 503
    assert services.auth.login("igor-admin", "n3w-Admin!").user == "igor-admin"
