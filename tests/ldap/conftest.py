"""A real OpenLDAP ``slapd`` per test, on loopback, from a temporary directory (RECIPES.md §1).

Each test gets a fresh server (about 0.1 s): an mdb database loaded offline with ``slapadd`` from :data:`PEOPLE`
and :data:`GROUPS`, listening on ``ldap://127.0.0.1:PORT`` (StartTLS too), ``ldaps://127.0.0.1:SPORT`` and an
``ldapi://`` socket, with a server certificate signed by a CA generated once per test session. The server is a
direct child started in the foreground (``-d 0``) and always stopped by its PID; its PID is also appended to
``$IGOR_TEST_PIDFILE`` when set, so a CI script can stop exactly it if the test run itself is killed.

Tests skip (saying why) only when the Debian packages ``slapd``/``ldap-utils`` (or ``openssl`` for the TLS
certificates) are not installed.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.certs import Certs

SUFFIX = "dc=example,dc=org"
ADMIN_DN = f"cn=admin,{SUFFIX}"
ADMIN_PW = "adminpw"
PEOPLE_OU = f"ou=people,{SUFFIX}"
GROUPS_OU = f"ou=groups,{SUFFIX}"

#: uid → (cn, mail, password)
PEOPLE: dict[str, tuple[str, str, str]] = {
    "alice": ("Alice Adams", "alice@example.org", "alicepw"),
    "bob": ("Bob Brown", "bob@example.org", "bobpw"),
    "carol": ("Carol Clark", "carol@example.org", "carolpw"),
    "dave": ("Dave Davis", "dave@example.org", "davepw"),
    "erin": ("Erin Evans", "erin@example.org", "erinpw"),
}

#: cn → (memberUid values, owner uids). posixGroups with the extensibleObject class, so they may carry ``owner``.
GROUPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "hpcusers": (("alice", "bob", "carol"), ("alice",)),
    "gpu": (("bob", "dave"), ("dave",)),
    "empty": ((), ()),
}


def user_dn(uid: str) -> str:
    return f"uid={uid},{PEOPLE_OU}"


def group_dn(cn: str) -> str:
    return f"cn={cn},{GROUPS_OU}"


def ssha(password: str) -> str:
    """An ``{SSHA}`` userPassword value (what ``slappasswd -h {SSHA}`` makes)."""
    salt = os.urandom(8)
    return "{SSHA}" + base64.b64encode(hashlib.sha1(password.encode() + salt).digest() + salt).decode()


def _ldif() -> str:
    out = [f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n",
           f"dn: {PEOPLE_OU}\nobjectClass: organizationalUnit\nou: people\n",
           f"dn: {GROUPS_OU}\nobjectClass: organizationalUnit\nou: groups\n"]
    for uid, (cn, mail, pw) in PEOPLE.items():
        out.append(f"dn: {user_dn(uid)}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {cn}\nsn: {cn.split()[-1]}\n"
                   f"mail: {mail}\nuserPassword: {ssha(pw)}\n")
    for gid, (cn, (members, owners)) in enumerate(GROUPS.items(), start=5000):
        lines = [f"dn: {group_dn(cn)}", "objectClass: posixGroup", "objectClass: extensibleObject", f"cn: {cn}",
                 f"gidNumber: {gid}"]
        lines += [f"memberUid: {m}" for m in members] + [f"owner: {user_dn(o)}" for o in owners]
        out.append("\n".join(lines) + "\n")
    # a groupOfNames group, whose members are DNs rather than names
    out.append(f"dn: {group_dn('testers')}\nobjectClass: groupOfNames\ncn: testers\n"
               f"member: {user_dn('alice')}\nmember: {user_dn('erin')}\nowner: {user_dn('erin')}\n")
    return "\n".join(out)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def ldap_certs(tls_certs: Certs) -> Certs:
    """The session's test CA and server certificate (``tests/certs.py``), which slapd serves."""
    return tls_certs


class Slapd:
    """One running slapd; :meth:`admin` gives a connection bound as the rootdn to change the directory."""

    def __init__(self, certs: Certs) -> None:
        for tool in ("slapd", "slapadd"):
            if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
                pytest.skip(f"{tool} is not installed (Debian packages slapd and ldap-utils)")
        self.dir = Path(tempfile.mkdtemp(prefix="igor-slapd-"))  # short: the ldapi socket path has a length limit
        self.certs = certs
        self.port = _free_port()
        self.sport = _free_port()
        self.socket = self.dir / "ldapi"
        self.proc: subprocess.Popen[bytes] | None = None
        (self.dir / "db").mkdir()
        conf = self.dir / "slapd.conf"
        conf.write_text("\n".join([
            *(f"include /etc/ldap/schema/{s}.schema" for s in ("core", "cosine", "nis", "inetorgperson")),
            f"pidfile {self.dir}/slapd.pid",
            "modulepath /usr/lib/ldap",
            "moduleload back_mdb",
            f"TLSCACertificateFile {certs.ca}",
            f"TLSCertificateFile {certs.cert}",
            f"TLSCertificateKeyFile {certs.key}",
            "database mdb",
            f'suffix "{SUFFIX}"',
            f'rootdn "{ADMIN_DN}"',
            f"rootpw {ssha(ADMIN_PW)}",
            f"directory {self.dir}/db",
            "index objectClass,uid,memberUid,member,cn eq",
            "access to attrs=userPassword by self write by anonymous auth by * none",
            "access to * by * read",
        ]) + "\n")
        (self.dir / "data.ldif").write_text(_ldif())
        slapadd = shutil.which("slapadd") or "/usr/sbin/slapadd"
        subprocess.run([slapadd, "-q", "-f", str(conf), "-l", str(self.dir / "data.ldif")], check=True,
                       capture_output=True, timeout=30)

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldapi_url(self) -> str:
        return "ldapi://" + quote(str(self.socket), safe="")

    def start(self) -> Slapd:
        slapd = shutil.which("slapd") or "/usr/sbin/slapd"
        urls = f"{self.url}/ ldaps://127.0.0.1:{self.sport}/ {self.ldapi_url}"
        log = open(self.dir / "slapd.log", "wb")  # noqa: SIM115 - closed in stop()
        self._log = log
        self.proc = subprocess.Popen([slapd, "-f", str(self.dir / "slapd.conf"), "-h", urls, "-d", "0"],
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        pidfile = os.environ.get("IGOR_TEST_PIDFILE")
        if pidfile:
            with open(pidfile, "a") as f:
                f.write(f"{self.proc.pid}\n")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2), \
                        socket.create_connection(("127.0.0.1", self.sport), timeout=0.2):
                    if self.socket.exists():
                        return self
            except OSError:
                pass
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"slapd did not start: {(self.dir / 'slapd.log').read_text(errors='replace')}")

    def stop(self) -> None:
        """Stop the server (idempotent) and wait for it, so it is reaped here and not by init."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if getattr(self, "_log", None) is not None:
            self._log.close()
            self._log = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- changing the directory under a running server -----------------------------------------------------------

    def admin(self) -> Any:
        from ldap3 import Connection, Server

        conn = Connection(Server(self.url, connect_timeout=5), ADMIN_DN, ADMIN_PW, receive_timeout=10)
        assert conn.bind(), conn.result
        return conn

    def modify(self, dn: str, **changes: tuple[str, list[str]]) -> None:
        """``modify(group_dn("gpu"), memberUid=("delete", ["bob"]))``; op is add, delete or replace."""
        from ldap3 import MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE

        ops = {"add": MODIFY_ADD, "delete": MODIFY_DELETE, "replace": MODIFY_REPLACE}
        conn = self.admin()
        try:
            assert conn.modify(dn, {attr: [(ops[op], values)] for attr, (op, values) in changes.items()}), \
                conn.result
        finally:
            conn.unbind()

    def add_user(self, uid: str, cn: str, mail: str | None, password: str) -> None:
        conn = self.admin()
        try:
            attrs: dict[str, Any] = {"uid": uid, "cn": cn, "sn": cn.split()[-1], "userPassword": ssha(password)}
            if mail:
                attrs["mail"] = mail
            assert conn.add(user_dn(uid), ["inetOrgPerson"], attrs), conn.result
        finally:
            conn.unbind()


@pytest.fixture
def slapd(ldap_certs: Certs) -> Iterator[Slapd]:
    """A fresh, running slapd with the test directory."""
    server = Slapd(ldap_certs)
    try:
        yield server.start()
    finally:
        server.cleanup()


def ldap_settings(server: Slapd, *, scheme: str = "ldap", **ldap: Any) -> dict[str, Any]:
    """The ``auth`` section of an igor-server.yaml pointing at ``server`` (``ldap`` keys override)."""
    host, port = "127.0.0.1", server.port
    if scheme == "ldaps":
        port = server.sport
    elif scheme == "ldapi":
        host, port = str(server.socket), 0
    settings: dict[str, Any] = {"host": host, "port": port, "bindDN": ADMIN_DN, "bindPassword": ADMIN_PW,
                                "baseDN": SUFFIX, "filter": "(uid=%s)",
                                "tlsConfig": {"tlsCheckPeer": True, "cert": str(server.certs.ca)}}
    for key, value in ldap.items():
        if isinstance(value, dict) and isinstance(settings.get(key), dict):
            settings[key] = {**settings[key], **value}
        else:
            settings[key] = value
    return {"scheme": scheme, "ldap": settings}


SYNC = {"enableUserSync": True, "enableGroupSync": True, "syncFrequency": 60,
        "groupFilters": ["cn=hpcusers", "(cn=gpu)"], "userListAttribute": "memberUid",
        "userEmailAttribute": "mail", "userDisplayNameAttribute": "cn", "groupOwnerAttributes": ["owner"]}
EMAIL = {"smtpServer": "127.0.0.1", "defaultSuffix": "example.org"}  # queued only: no test here sends mail
ADMIN_NEW_PW = "n3w-Admin!"


@pytest.fixture
def ldap_api(slapd: Slapd, make_config: Any) -> Iterator[Any]:
    """Build an API whose ``auth`` points at the test slapd: ``ldap_api(scheme="ldaps", sync=..., **ldap_keys)``.

    The cluster exists and igor-admin's password is changed (``ADMIN_NEW_PW``), so the sync pre-check passes;
    email is on (queued only). Each built server is closed at the end of the test.
    """
    from pony.orm import db_session

    from igor.config import demo_clusters
    from igor.db import init_db
    from igor.rules import hash_password
    from igor.services import Services
    from tests.api.conftest import Api
    from tests.api.test_reservations import Clock

    made: list[Any] = []

    def build(*, scheme: str = "ldap", sync: dict[str, Any] | None = None, email: bool = True,
              **ldap: Any) -> Api:
        auth = ldap_settings(slapd, scheme=scheme, **ldap)
        if sync is not None:
            auth["ldap"]["sync"] = sync
        data: dict[str, Any] = {"auth": auth}
        if email:
            data["email"] = EMAIL
        config = make_config(data)
        services = Services(init_db(config.database.url), config, Clock())
        services.bootstrap()
        made.append(services)
        services.cluster.apply_spec(demo_clusters(count=16), blocked=False)
        with db_session:
            services.db.User.get(name="igor-admin").pass_hash = hash_password(ADMIN_NEW_PW)
        return Api(services)

    yield build
    for services in made:
        services.db.disconnect()
