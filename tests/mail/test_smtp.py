"""Tests for igor.mail.smtp: delivery to a real aiosmtpd server, TLS and AUTH, and how failures are classified."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from igor.config import Config
from igor.mail import TEMPLATES, Mailer, MailPermanentError, MailTemporaryError, compose, recipients
from tests.mail.conftest import (
    CLIENT_TIMEOUT,
    PASSWORD,
    USER,
    Certificate,
    SMTPServer,
    authenticator,
    email_config,
    free_port,
)
from tests.mail.test_templates import CC, SUBJECTS, TO, payload


def mailer(port: int, *, timeout: float = CLIENT_TIMEOUT, **kwargs: Any) -> Mailer:
    changes = {k: kwargs.pop(k) for k in ("smtp_username", "smtp_password") if k in kwargs}
    return Mailer(email_config(port, **changes), timeout=timeout, **kwargs)


def message(config: Config, name: str = "reservation-started", **kw: Any) -> Any:
    return compose(payload(name, **kw), config, tz="UTC", message_id_seed=1)


# -- delivery -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_template_is_delivered(name: str, smtp_server: SMTPServer, mail_config: Config) -> None:
    msg = compose(payload(name), mail_config, tz="UTC", message_id_seed=name)
    assert mailer(smtp_server.port).send(msg) == {}
    (got,) = smtp_server.received
    assert got.mail_from == "igor-admin@example.org"
    assert got.rcpt_tos == TO + CC
    assert got.message["Subject"] == SUBJECTS[name]
    assert got.message["Message-ID"] == msg["Message-ID"]
    assert (got.message["X-Priority"] == "1 (Highest)") is TEMPLATES[name].priority
    assert got.message.get_body(("html",)) is not None and got.message.get_body(("plain",)) is not None
    assert not got.tls and not got.authenticated


def test_recipients_are_to_and_cc(mail_config: Config) -> None:
    msg = message(mail_config, to=["a@example.org"], cc=["b@example.org", "c@example.org"])
    assert recipients(msg) == ["a@example.org", "b@example.org", "c@example.org"]


def test_partly_refused_recipients_are_reported_not_raised(smtp_server: SMTPServer, mail_config: Config) -> None:
    smtp_server.handler.refuse["m1@example.org"] = "550 5.1.1 no such user"
    refused = mailer(smtp_server.port).send(message(mail_config))
    assert refused == {"m1@example.org": (550, b"5.1.1 no such user")}
    assert smtp_server.received[0].rcpt_tos == ["owner@example.org", "m2@example.org"]


# -- TLS and AUTH -------------------------------------------------------------------------------------------------


def test_starttls_is_used_whenever_offered(start_smtp: Callable[..., SMTPServer], certificate: Certificate,
                                           mail_config: Config) -> None:
    server = start_smtp(tls_context=certificate.server_context())
    mailer(server.port, ssl_context=certificate.client_context()).send(message(mail_config))
    assert server.received[0].tls and not server.received[0].authenticated


def test_starttls_then_login(start_smtp: Callable[..., SMTPServer], certificate: Certificate,
                             mail_config: Config) -> None:
    server = start_smtp(tls_context=certificate.server_context(), require_starttls=True, auth_required=True,
                        authenticator=authenticator)
    sender = mailer(server.port, ssl_context=certificate.client_context(), smtp_username=USER, smtp_password=PASSWORD)
    assert sender.send(message(mail_config)) == {}
    got = server.received[0]
    assert got.tls and got.authenticated and got.rcpt_tos == TO + CC


def test_wrong_password_is_temporary(start_smtp: Callable[..., SMTPServer], certificate: Certificate,
                                     mail_config: Config) -> None:
    server = start_smtp(tls_context=certificate.server_context(), auth_required=True, authenticator=authenticator)
    sender = mailer(server.port, ssl_context=certificate.client_context(), smtp_username=USER, smtp_password="nope")
    with pytest.raises(MailTemporaryError, match="535"):
        sender.send(message(mail_config))
    assert server.received == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_credentials_are_never_sent_without_tls(start_smtp: Callable[..., SMTPServer], mail_config: Config) -> None:
    # a server offering AUTH over plain text (aiosmtpd's auth_require_tls=False): the mailer refuses to log in
    server = start_smtp(auth_required=True, auth_require_tls=False, authenticator=authenticator)
    sender = mailer(server.port, smtp_username=USER, smtp_password=PASSWORD)
    with pytest.raises(MailTemporaryError, match="does not offer STARTTLS"):
        sender.send(message(mail_config))
    assert server.received == []


def test_untrusted_certificate_is_temporary(start_smtp: Callable[..., SMTPServer], certificate: Certificate,
                                            mail_config: Config) -> None:
    server = start_smtp(tls_context=certificate.server_context())
    with pytest.raises(MailTemporaryError, match="CERTIFICATE_VERIFY_FAILED"):
        mailer(server.port).send(message(mail_config))  # the system CAs do not know the self-signed certificate
    assert server.received == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_implicit_tls_with_login(start_smtp: Callable[..., SMTPServer], certificate: Certificate,
                                 mail_config: Config) -> None:
    server = start_smtp(ssl_context=certificate.server_context(), auth_required=True, auth_require_tls=False,
                        authenticator=authenticator)
    sender = mailer(server.port, ssl_context=certificate.client_context(), implicit_tls=True,
                    smtp_username=USER, smtp_password=PASSWORD)
    sender.send(message(mail_config))
    assert server.received[0].tls and server.received[0].authenticated


def test_port_465_means_implicit_tls() -> None:
    assert Mailer(email_config(465)).implicit_tls
    assert not Mailer(email_config(587)).implicit_tls
    assert not Mailer(email_config(465), implicit_tls=False).implicit_tls


def test_mailer_needs_email_on() -> None:
    with pytest.raises(ValueError, match="smtpServer"):
        Mailer(email_config(25, smtp_server=""))


# -- failures -----------------------------------------------------------------------------------------------------


def test_server_down_then_back(start_smtp: Callable[..., SMTPServer], mail_config: Config) -> None:
    port = free_port()
    msg = message(mail_config)
    with pytest.raises(MailTemporaryError, match="cannot connect"):
        mailer(port).send(msg)
    server = start_smtp(port)
    assert mailer(port).send(msg) == {}
    server.stop()
    with pytest.raises(MailTemporaryError):
        mailer(port).send(msg)
    server.start()
    mailer(port).send(msg)
    assert [r.message["Message-ID"] for r in server.received] == [msg["Message-ID"]] * 2


def test_every_recipient_refused_is_permanent(smtp_server: SMTPServer, mail_config: Config) -> None:
    for address in TO + CC:
        smtp_server.handler.refuse[address] = "550 5.1.1 mailbox unavailable"
    with pytest.raises(MailPermanentError, match="refused every recipient"):
        mailer(smtp_server.port).send(message(mail_config))
    assert smtp_server.received == []


def test_deferred_recipients_are_temporary(smtp_server: SMTPServer, mail_config: Config) -> None:
    smtp_server.handler.refuse.update({a: "451 4.3.0 try again later" for a in TO + CC})
    with pytest.raises(MailTemporaryError, match="451"):
        mailer(smtp_server.port).send(message(mail_config))


@pytest.mark.parametrize("reply, error", [("554 5.6.0 message rejected", MailPermanentError),
                                          ("452 4.3.1 insufficient storage", MailTemporaryError)])
def test_data_refused(reply: str, error: type[Exception], smtp_server: SMTPServer, mail_config: Config) -> None:
    smtp_server.handler.data_reply = reply
    with pytest.raises(error, match=reply.split()[0]):
        mailer(smtp_server.port).send(message(mail_config))


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose connections the kernel accepts but nobody ever answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        yield listener.getsockname()[1]


def test_disconnect_is_temporary(mail_config: Config) -> None:
    server = socket.socket()  # accepts one connection and hangs up before any greeting
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def accept_and_close() -> None:
        conn, _ = server.accept()
        conn.close()

    thread = threading.Thread(target=accept_and_close, daemon=True)
    thread.start()
    try:
        with pytest.raises(MailTemporaryError, match="cannot connect"):
            mailer(server.getsockname()[1]).send(message(mail_config))
    finally:
        thread.join(CLIENT_TIMEOUT)
        server.close()


def test_silent_server_times_out(silent_port: int, mail_config: Config) -> None:
    began = time.monotonic()
    with pytest.raises(MailTemporaryError, match="timed out"):
        mailer(silent_port, timeout=0.5).send(message(mail_config))
    assert time.monotonic() - began < CLIENT_TIMEOUT
