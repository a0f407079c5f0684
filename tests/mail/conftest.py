"""Fixtures for the email tests: a configuration with email on, and a real aiosmtpd SMTP server on 127.0.0.1
(a free port per test, started and stopped by the fixture, every wait bounded), optionally with STARTTLS or implicit
TLS on a self-signed certificate made by ``openssl`` for the run, and AUTH."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import shutil
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from igor.config import Config, EmailConfig, parse_config

USER, PASSWORD = "igor-mailer", "s3cret-pw"
READY_TIMEOUT = 5.0  # seconds the server may take to come up
CLIENT_TIMEOUT = 5.0  # seconds any SMTP operation of the client may take


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (right now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def make_mail_config(tmp_path: Path) -> Callable[..., Config]:
    """A Config with email on; keyword arguments override ``email.*`` (camelCase keys, as in the YAML file)."""

    def make(instance: str = "igor", **email_keys: Any) -> Config:
        data = {"instanceName": instance,
                "email": {"smtpServer": "127.0.0.1", "defaultSuffix": "example.org", **email_keys}}
        return parse_config(data, env={"IGOR_HOME": str(tmp_path), "HOME": str(tmp_path)})

    return make


@pytest.fixture
def mail_config(make_mail_config: Callable[..., Config]) -> Config:
    return make_mail_config(instance="Igor <Lab>", helpLink="https://help.example.org/igor?a=1&b=2",
                            replyTo="ops@example.org")


def email_config(port: int, **changes: Any) -> EmailConfig:
    """``email.*`` pointing at 127.0.0.1:``port``."""
    base = parse_config({"email": {"smtpServer": "127.0.0.1", "defaultSuffix": "example.org"}},
                        env={"IGOR_HOME": "/nonexistent", "HOME": "/nonexistent"}).email
    return dataclasses.replace(base, smtp_port=port, **changes)


@dataclass
class Received:
    """One message as the server got it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool
    authenticated: bool


@dataclass
class Recorder:
    """aiosmtpd handler: keeps what it receives; ``refuse`` maps an address to the reply its RCPT gets, and
    ``data_reply`` (when set) answers DATA instead of accepting."""

    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    data_reply: str | None = None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply:
            return self.data_reply
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        tls = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message, tls,
                                      bool(session.authenticated)))
        return "250 Message accepted"


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == \
        (USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


class SMTPServer:
    """A real SMTP server on 127.0.0.1:``port`` that can be stopped and started again on the same port."""

    def __init__(self, port: int, **params: Any) -> None:
        self.port = port
        self.params = params
        self.handler = Recorder()
        self.controller: Controller | None = None

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                     ready_timeout=READY_TIMEOUT, **self.params)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def start_smtp() -> Iterator[Callable[..., SMTPServer]]:
    """Start an SMTP server (keyword arguments go to aiosmtpd's Controller/SMTP); all are stopped afterwards."""
    servers: list[SMTPServer] = []

    def start(port: int | None = None, **params: Any) -> SMTPServer:
        server = SMTPServer(port or free_port(), **params)
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def smtp_server(start_smtp: Callable[..., SMTPServer]) -> SMTPServer:
    """A plain SMTP server: no TLS, no AUTH."""
    return start_smtp()


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """Trusts this certificate only (hostname checking stays on: it is issued for 127.0.0.1)."""
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1 / localhost, valid one day."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed: cannot make a certificate for the TLS tests")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=30)
    return Certificate(cert, key)
