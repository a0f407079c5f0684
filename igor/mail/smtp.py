"""Delivery: :class:`Mailer` hands a composed message to the SMTP server of ``email.*``.

One connection per message (the worker sends a handful a minute; a pooled connection would only add reconnect
logic). Port 465 means implicit TLS (``SMTP_SSL``); any other port upgrades with STARTTLS whenever the server offers
it, and must be able to when a username is configured, so a password never crosses the network in clear text.
Every socket operation has a timeout.

Failures are split by what the worker should do (see :mod:`igor.mail.errors`): a 5xx answer to *this message* (its
sender, every recipient, its data) is permanent; everything about the session (cannot connect, timeout,
disconnect, 4xx, TLS, login) is temporary, because it is about the server or the configuration rather than the
message, and fixing either lets the queued mail through.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr

from igor.config import EmailConfig
from igor.mail.errors import MailPermanentError, MailTemporaryError

__all__ = ["IMPLICIT_TLS_PORT", "Mailer", "recipients"]

IMPLICIT_TLS_PORT = 465
DEFAULT_TIMEOUT = 30.0
"""Seconds any one SMTP socket operation may take."""


def recipients(msg: EmailMessage) -> list[str]:
    """The envelope recipients of ``msg``: every To and Cc address, in order, without repeats."""
    headers = [str(v) for v in (msg.get_all("To") or []) + (msg.get_all("Cc") or [])]
    return list(dict.fromkeys(addr for _, addr in getaddresses(headers) if addr))


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
    return f"{exc.smtp_code} {text}"


class Mailer:
    """Sends messages through the configured SMTP server.

    Args:
        config: ``email.*`` (server, port, credentials).
        timeout: Seconds each socket operation may take.
        ssl_context: Certificate checks for TLS; default: the system's trusted CAs with hostname checking.
        implicit_tls: Use ``SMTP_SSL``; default: when the port is 465.

    Raises:
        ValueError: Email is off (no ``email.smtpServer``).
    """

    def __init__(self, config: EmailConfig, *, timeout: float = DEFAULT_TIMEOUT,
                 ssl_context: ssl.SSLContext | None = None, implicit_tls: bool | None = None) -> None:
        if not config.enabled:
            raise ValueError("email is off: email.smtpServer is not set")
        self.config = config
        self.timeout = timeout
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.implicit_tls = config.smtp_port == IMPLICIT_TLS_PORT if implicit_tls is None else implicit_tls

    @property
    def _where(self) -> str:
        return f"SMTP server {self.config.smtp_server}:{self.config.smtp_port}"

    def send(self, msg: EmailMessage) -> dict[str, tuple[int, bytes]]:
        """Deliver ``msg`` to its To and Cc addresses.

        Returns:
            The recipients the server refused while accepting the others (address → (code, reply)); resending
            would duplicate the mail for the rest, so the caller should only log them.

        Raises:
            MailTemporaryError: Not delivered, but it may be later (retry).
            MailPermanentError: Not delivered and never will be as it is.
        """
        sender = parseaddr(str(msg.get("From", "")))[1]
        to = recipients(msg)
        if not sender or not to:
            raise MailPermanentError("message has no From address or no recipient")
        smtp = self._connect()
        try:
            self._start_session(smtp)
            return self._transmit(smtp, msg, sender, to)
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    def _connect(self) -> smtplib.SMTP:
        host, port = self.config.smtp_server, self.config.smtp_port
        try:
            if self.implicit_tls:
                return smtplib.SMTP_SSL(host, port, timeout=self.timeout, context=self.ssl_context)
            return smtplib.SMTP(host, port, timeout=self.timeout)
        except smtplib.SMTPResponseException as exc:
            raise MailTemporaryError(f"{self._where} refused the connection: {_reply(exc)}") from exc
        except OSError as exc:  # refused, unreachable, timeout, TLS handshake, early disconnect
            raise MailTemporaryError(f"cannot connect to {self._where}: {exc}") from exc

    def _start_session(self, smtp: smtplib.SMTP) -> None:
        """EHLO, STARTTLS when possible (required with credentials), then login when credentials are set."""
        try:
            smtp.ehlo_or_helo_if_needed()
            if not self.implicit_tls:
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=self.ssl_context)
                    smtp.ehlo()
                elif self.config.smtp_username:
                    raise MailTemporaryError(f"{self._where} does not offer STARTTLS: refusing to send "
                                             "email.smtpUsername's password in clear text")
            if self.config.smtp_username:
                smtp.login(self.config.smtp_username, self.config.smtp_password)
        except smtplib.SMTPResponseException as exc:
            raise MailTemporaryError(f"{self._where}: session refused: {_reply(exc)}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise MailTemporaryError(f"{self._where}: session failed: {exc}") from exc

    def _transmit(self, smtp: smtplib.SMTP, msg: EmailMessage, sender: str,
                  to: list[str]) -> dict[str, tuple[int, bytes]]:
        try:
            return smtp.send_message(msg, from_addr=sender, to_addrs=to)
        except smtplib.SMTPRecipientsRefused as exc:
            refused = ", ".join(f"{addr}: {code} {text.decode(errors='replace')}"
                                for addr, (code, text) in exc.recipients.items())
            if all(code >= 500 for code, _ in exc.recipients.values()):
                raise MailPermanentError(f"{self._where} refused every recipient: {refused}") from exc
            raise MailTemporaryError(f"{self._where} deferred the recipients: {refused}") from exc
        except smtplib.SMTPResponseException as exc:  # sender refused, data refused, ...
            kind = MailPermanentError if exc.smtp_code >= 500 else MailTemporaryError
            raise kind(f"{self._where} refused the message: {_reply(exc)}") from exc
        except smtplib.SMTPNotSupportedError as exc:  # e.g. non-ASCII address without SMTPUTF8
            raise MailPermanentError(f"{self._where} cannot take this message: {exc}") from exc
        except (smtplib.SMTPException, OSError) as exc:  # disconnect, timeout
            raise MailTemporaryError(f"{self._where}: delivery interrupted: {exc}") from exc
