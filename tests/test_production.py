"""The README's production configuration, tried as a new admin would: PostgreSQL, TLS on the API and the node
callbacks, local accounts, email on.

The two YAML blocks of the README's "A production configuration" are used as written, with only the names, paths
and ports that point at the admin's machines replaced by local ones (:data:`SERVER_SUBSTITUTIONS`; each must occur
in the README exactly once, so the README cannot drift away from what is tested). The server listens on loopback
only; its certificate is signed by a test CA (``tests/certs.py``); the mail server is aiosmtpd.

Checked: ``check-config`` passes and says what database it found; the server serves TLS on the API and the callback
port; a client that does not trust the CA (the system store, or the wrong CA file) is refused, by the ``igor``
client too, with a message saying what to set; the right CA works end to end (log in, create an account, mail sent);
and broken copies are refused at ``check-config`` and at start with one line naming each problem, leaving the
database untouched.
"""

from __future__ import annotations

import os
import re
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest

from tests.certs import Certs
from tests.cli.live import ADMIN_PW, Igor
from tests.mail.conftest import SMTPServer
from tests.test_server import free_port, stop

README = Path(__file__).resolve().parents[1] / "README.md"
PG_BASE = os.environ.get("IGOR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PASSWORD = "Welcome-2-kn"  # the README's auth.defaultUserPassword


def readme_blocks() -> dict[str, str]:
    """The YAML blocks of the README's production section, by the path their first line names."""
    text = README.read_text()
    section = text.split("### A production configuration", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.S)
    return {block.splitlines()[0].lstrip("# ").strip(): block for block in blocks}


def substitute(text: str, pairs: dict[str, str]) -> str:
    for old, new in pairs.items():
        assert text.count(old) == 1, f"the README's production config no longer has {old!r} exactly once"
        text = text.replace(old, new)
    return text


def _pg_tables(url: str) -> list[str]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            return [row[0] for row in cur.fetchall()]
    finally:
        conn.close()


@dataclass
class Site:
    """One installation from the README's blocks: its files, ports, database and mail server."""

    home: Path
    conf: Path
    port: int
    db_url: str
    smtp: SMTPServer
    certs: Certs
    env: dict[str, str]

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def server(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "igor.server", "--config", str(self.conf), *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def rewrite(self, text: str) -> None:
        self.conf.write_text(text)


def _site(tmp: Path, certs: Certs, smtp: SMTPServer) -> tuple[Site, str]:
    from tests.conftest import _pg_database

    try:
        db_url, db_name = _pg_database(PG_BASE)
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"PostgreSQL at {PG_BASE} is needed for this test: {exc}")
    port = free_port()
    blocks = readme_blocks()
    server_yaml = substitute(blocks["/etc/igor/igor-server.yaml"], {
        "host: 0.0.0.0 ": "host: 127.0.0.1 ",  # tests listen on loopback only
        "port: 8443": f"port: {port}",
        "cbPort: 8444": f"cbPort: {port + 1}",
        "/etc/igor/tls/igor.crt": str(certs.cert),
        "/etc/igor/tls/igor.key": str(certs.key),
        "/srv/tftp": str(tmp / "tftp"),
        "workers: 4": "workers: 2",
        "postgresql://igor:CHANGE-ME@db.example.org:5432/igor": db_url,
        "/var/log/igor": str(tmp / "log"),
        "smtpServer: smtp.example.org": "smtpServer: 127.0.0.1",
        "smtpPort: 25": f"smtpPort: {smtp.port}",
    })
    conf = tmp / "etc" / "igor-server.yaml"
    conf.parent.mkdir(parents=True)
    conf.write_text(server_yaml)
    (conf.parent / "igor-clusters.yaml").write_text(blocks["/etc/igor/igor-clusters.yaml"])
    env = {**os.environ, "IGOR_HOME": str(tmp / "home"), "IGOR_BCRYPT_ROUNDS": "4", "IGOR_WORKER_TICK_SECONDS": "1"}
    env.pop("IGOR_CONFIG", None)
    return Site(tmp / "home", conf, port, db_url, smtp, certs, env), db_name


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, tls_certs: Certs) -> Iterator[Site]:
    from tests.conftest import _pg_drop
    from tests.mail.conftest import free_port as free_smtp_port

    smtp = SMTPServer(free_smtp_port())
    smtp.start()
    made, db_name = _site(tmp_path_factory.mktemp("production"), tls_certs, smtp)
    try:
        yield made
    finally:
        smtp.stop()
        _pg_drop(PG_BASE, db_name)


def _context(cafile: Path | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cafile) if cafile else None)


def _get(url: str, context: ssl.SSLContext) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10, context=context) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@pytest.fixture(scope="module")
def running(site: Site) -> Iterator[Site]:
    """The server started from the README's config, up on https."""
    checked = site.server("check-config")
    assert checked.returncode == 0, checked.stderr
    assert "configuration" in checked.stdout and "is valid" in checked.stdout
    assert f"/{site.db_url.rsplit('/', 1)[1]}: empty (Igor creates its tables at start)" in checked.stdout
    proc = subprocess.Popen([sys.executable, "-m", "igor.server", "--config", str(site.conf)], env=site.env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"igor-server exited with {proc.returncode}: {proc.stdout.read()}"
            try:
                if _get(site.base + "/igor/health", _context(site.certs.ca))[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "igor-server did not come up on https"
            time.sleep(0.2)
        yield site
    finally:
        stop(proc)


def test_the_api_and_the_callbacks_serve_tls_verified_by_the_ca(running: Site) -> None:
    status, body = _get(running.base + "/igor/health", _context(running.certs.ca))
    assert status == 200 and b'"status"' in body
    # the node callback listener (cbPort) speaks TLS with the same certificate; 127.0.0.1 is no cluster host
    status, body = _get(f"https://127.0.0.1:{running.port + 1}/igor/cb/svc/info", _context(running.certs.ca))
    assert status == 404 and b"127.0.0.1" in body
    with socket.create_connection(("127.0.0.1", running.port), timeout=10) as raw, \
            _context(running.certs.ca).wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


@pytest.mark.parametrize("port_offset", [0, 1], ids=["api", "callbacks"])
def test_clients_that_do_not_trust_the_ca_are_refused(running: Site, port_offset: int) -> None:
    url = f"https://127.0.0.1:{running.port + port_offset}/igor/health"
    for cafile in (None, running.certs.other_ca):  # the system store; a CA that signed nothing here
        with pytest.raises(urllib.error.URLError) as caught:
            _get(url, _context(cafile))
        assert isinstance(caught.value.reason, ssl.SSLCertVerificationError)
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):  # plain HTTP gets no answer
        urllib.request.urlopen(f"http://127.0.0.1:{running.port + port_offset}/igor/health", timeout=10)


def _client(site: Site, home: Path, cafile: Path | None) -> Igor:
    igor = Igor(site.base, home)
    if cafile is not None:
        conf = home / "igor.yaml"
        home.mkdir(parents=True, exist_ok=True)
        conf.write_text(f"client:\n  caCert: {cafile}\n")
        igor.env["IGOR_CLIENT_CONFIG"] = str(conf)
    igor.env.pop("SSL_CERT_FILE", None)
    igor.env.pop("SSL_CERT_DIR", None)
    return igor


def test_the_igor_client_verifies_the_certificate(running: Site, tmp_path: Path) -> None:
    for name, cafile in (("system-store", None), ("wrong-ca", running.certs.other_ca)):
        done = _client(running, tmp_path / name, cafile)("login", "-u", "igor-admin", "--password-stdin",
                                                          stdin=ADMIN_PW + "\n")
        assert done.returncode != 0
        assert "cannot verify the TLS certificate of https://127.0.0.1" in done.stderr
        assert "client.caCert" in done.stderr
        assert not (tmp_path / name / "auth_token").exists()


def test_end_to_end_over_tls_with_mail(running: Site, tmp_path: Path) -> None:
    """igor-admin logs in through the verified client and creates an account; its mail goes out through the
    configured SMTP server with the README's reply-to, help link and first password; the new user logs in."""
    admin = _client(running, tmp_path / "admin", running.certs.ca)
    admin.login("igor-admin", ADMIN_PW)
    created = admin("user", "create", "carol", "carol@example.org", "-f", "Carol Kn")
    assert created.returncode == 0, created.stderr
    deadline = time.monotonic() + 30
    while not [m for m in running.smtp.received if "carol@example.org" in m.rcpt_tos]:
        assert time.monotonic() < deadline, f"no mail to carol within 30 s: {running.smtp.received}"
        time.sleep(0.2)
    mail = next(m for m in running.smtp.received if "carol@example.org" in m.rcpt_tos)
    assert mail.message["Reply-To"] == "kn-admins@example.org"
    text = mail.message.get_body(("plain",)).get_content()
    assert "carol" in text and PASSWORD in text and "https://wiki.example.org/kn" in text
    configured = admin("cluster", "config")  # the admin guide's first step: hosts from igor-clusters.yaml
    assert configured.returncode == 0, configured.stderr
    hosts = admin.json("host", "show")["hosts"]
    assert sorted((h["name"], h["state"]) for h in hosts) == [("kn1", "blocked"), ("kn2", "blocked")]
    assert admin("host", "unblock", "kn[1-2]").returncode == 0
    carol = _client(running, tmp_path / "carol", running.certs.ca)
    carol.login("carol", PASSWORD)
    tomorrow = time.strftime("%Y-%m-%d %H:%M", time.localtime(time.time() + 86400))
    made = carol.json("res", "create", "first", "-n", "2", "-s", tomorrow, "-e", "2h")
    assert sorted(made["reservation"][0]["hosts"]) == ["kn1", "kn2"]
    assert {"igor_meta", "users", "reservations"} <= set(_pg_tables(running.db_url))


BROKEN = {
    "several problems at once": (
        {"keyFile: ": "keyFile: {other_key}  # ", "level: info": "level: loud", "workers: 2": "workers: 0",
         "  replyTo:": "  replyto:"},
        ["server.certFile = '{cert}': does not match server.keyFile '{other_key}'",
         "log.level = 'loud'", "server.workers = 0", "email.replyto"],
    ),
    "no TLS files off loopback": (
        {"host: 127.0.0.1 ": "host: 0.0.0.0 ", "certFile: ": "# certFile: ", "keyFile: ": "# keyFile: "},
        ["server.host = '0.0.0.0': server.certFile and server.keyFile are required unless server.host is a "
         "loopback address"],
    ),
    "a database that refuses the login": (
        {"url: postgresql://postgres@": "url: postgresql://igor:CHANGE-ME@"},
        ["database.url 'postgresql://igor:********@127.0.0.1:5432/", "cannot open the database",
         'role "igor" does not exist'],
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_production_config_is_refused_naming_each_problem(case: str, tmp_path: Path,
                                                                   tls_certs: Certs) -> None:
    from tests.conftest import _pg_drop
    from tests.mail.conftest import free_port as free_smtp_port

    site, db_name = _site(tmp_path, tls_certs, SMTPServer(free_smtp_port()))
    try:
        edits, expected = BROKEN[case]
        fmt = {"cert": tls_certs.cert, "other_key": tls_certs.other_key}
        text = site.conf.read_text()
        for old, new in edits.items():
            assert old in text, old
            text = text.replace(old, new.format(**fmt), 1)
        site.rewrite(text)
        for args in (["check-config"], []):
            done = site.server(*args)
            assert done.returncode == 1, (args, done.stdout, done.stderr)
            for line in expected:
                assert line.format(**fmt) in done.stderr, (args, line, done.stderr)
            assert "Traceback" not in done.stderr
            assert "is valid" not in done.stdout
        assert _pg_tables(site.db_url) == []  # nothing was created
        assert not (tmp_path / "tftp").exists()
    finally:
        _pg_drop(PG_BASE, db_name)
