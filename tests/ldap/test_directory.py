"""``igor.ldapdir.LdapDirectory`` against a real slapd: ldap, StartTLS, ldaps (with and without the CA), ldapi,
anonymous and service binds, bounded failures."""

from __future__ import annotations

import socket
import time

import pytest

from igor.config import parse_config
from igor.ldapdir import DirectoryUnavailable, LdapDirectory, directory_for, name_of, user_filter, wrap_filter
from tests.ldap.conftest import ADMIN_DN, Slapd, ldap_settings, user_dn


def directory(slapd: Slapd, tmp_path, *, scheme: str = "ldap", **ldap) -> LdapDirectory:
    config = parse_config({"auth": ldap_settings(slapd, scheme=scheme, **ldap)}, env={"IGOR_HOME": str(tmp_path)})
    found = directory_for(config)
    assert isinstance(found, LdapDirectory)
    return found


def test_local_scheme_has_no_directory(tmp_path) -> None:
    assert directory_for(parse_config({}, env={"IGOR_HOME": str(tmp_path)})) is None


def test_filters() -> None:
    assert wrap_filter("uid=%s") == "(uid=%s)" and wrap_filter(" (uid=%s) ") == "(uid=%s)"
    assert user_filter("uid=%s", "alice") == "(uid=alice)"
    assert user_filter("(&(objectClass=person)(uid=%s))", "a*)(uid=*") == \
        r"(&(objectClass=person)(uid=a\2a\29\28uid=\2a))"
    assert name_of("Alice") == "alice" and name_of("uid=bob,ou=people,dc=x") == "bob" and name_of("=,=") == ""


def test_authenticate_over_ldap(slapd: Slapd, tmp_path) -> None:
    d = directory(slapd, tmp_path)
    entry = d.authenticate("alice", "alicepw")
    assert entry is not None and entry.dn == user_dn("alice")
    assert d.authenticate("alice", "wrong") is None
    assert d.authenticate("alice", "") is None
    assert d.authenticate("nobody", "alicepw") is None
    assert d.authenticate("*", "alicepw") is None  # escaped: matches no one, not everyone


def test_a_filter_matching_several_people_logs_no_one_in(slapd: Slapd, tmp_path) -> None:
    d = directory(slapd, tmp_path, filter="(|(uid=%s)(cn=Bob Brown))")
    assert d.authenticate("alice", "alicepw") is None
    assert d.authenticate("bob", "bobpw") is not None  # only one entry then


def test_anonymous_search_when_no_bind_dn(slapd: Slapd, tmp_path) -> None:
    d = directory(slapd, tmp_path, bindDN="", bindPassword="")
    assert d.authenticate("bob", "bobpw") is not None
    with d.session() as s:
        (entry,) = s.search("(cn=hpcusers)", ["memberUid", "owner"])
    assert entry.values("memberuid") == ("alice", "bob", "carol")
    assert entry.first("owner") == user_dn("alice") and entry.first("nothing") == ""


def test_wrong_service_password_is_unavailable_not_bad_credentials(slapd: Slapd, tmp_path) -> None:
    d = directory(slapd, tmp_path, bindPassword="wrong")
    with pytest.raises(DirectoryUnavailable, match=f"LDAP service bind as '{ADMIN_DN}' .* failed: invalidCredentials"):
        d.authenticate("alice", "alicepw")


def test_starttls_with_the_ca(slapd: Slapd, tmp_path) -> None:
    assert directory(slapd, tmp_path, useTLS=True).authenticate("alice", "alicepw") is not None
    with pytest.raises(DirectoryUnavailable, match="certificate verify failed"):
        directory(slapd, tmp_path, useTLS=True,
                  tlsConfig={"cert": str(slapd.certs.other_ca)}).authenticate("alice", "alicepw")


def test_ldaps_verifies_the_server_certificate(slapd: Slapd, tmp_path) -> None:
    assert directory(slapd, tmp_path, scheme="ldaps").authenticate("carol", "carolpw") is not None
    for cert in (str(slapd.certs.other_ca), ""):  # another CA; the system CAs only
        with pytest.raises(DirectoryUnavailable, match="certificate verify failed"):
            directory(slapd, tmp_path, scheme="ldaps", tlsConfig={"cert": cert}).authenticate("carol", "carolpw")
    # tlsCheckPeer off: any certificate is accepted (v2's old default; ours is on)
    unchecked = directory(slapd, tmp_path, scheme="ldaps", tlsConfig={"tlsCheckPeer": False, "cert": ""})
    assert unchecked.authenticate("carol", "carolpw") is not None


def test_missing_ca_file_is_named(slapd: Slapd, tmp_path) -> None:
    d = directory(slapd, tmp_path, scheme="ldaps", tlsConfig={"cert": str(tmp_path / "nope.pem")})
    with pytest.raises(DirectoryUnavailable, match="auth.ldap.tlsConfig.cert .*nope.pem"):
        d.authenticate("carol", "carolpw")


def test_ldapi_socket(slapd: Slapd, tmp_path) -> None:
    d = directory(slapd, tmp_path, scheme="ldapi")
    assert d.url == slapd.ldapi_url
    assert d.authenticate("dave", "davepw") is not None
    assert d.authenticate("dave", "nope") is None


def test_server_down_fails_fast_and_plainly(slapd: Slapd, tmp_path) -> None:
    d = directory(slapd, tmp_path)
    slapd.stop()
    t0 = time.monotonic()
    with pytest.raises(DirectoryUnavailable, match=f"cannot connect to the LDAP server ldap://127.0.0.1:{slapd.port}"):
        d.authenticate("alice", "alicepw")
    assert time.monotonic() - t0 < 5


def test_unanswering_server_is_bounded_by_the_timeouts(slapd: Slapd, tmp_path) -> None:
    """A server that accepts the connection but never answers: the receive timeout ends the wait."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        d = directory(slapd, tmp_path, port=listener.getsockname()[1])
        d.receive_timeout = 1
        t0 = time.monotonic()
        with pytest.raises(DirectoryUnavailable):
            d.authenticate("alice", "alicepw")
        assert time.monotonic() - t0 < 5
    finally:
        listener.close()
