"""The LDAP directory as Igor uses it: connect (``ldap``, ``ldaps``, ``ldapi``; StartTLS), search, and check a
user's password by binding as them — with ldap3, and nothing of Igor's database.

:class:`LdapDirectory` is built from ``auth.*`` (:func:`directory_for`); services depend only on the small
:class:`Directory` protocol, so their tests can hand them a fake. Behaviour, after Igor v2's ``getLDAPConnection``
and ``LdapAuth.authenticate`` (``srv/ldap.go``, ``srv/authn_ldap.go``), with these differences:

* the server certificate is verified by default (``tlsConfig.tlsCheckPeer``, default true here); the CA file
  ``tlsConfig.cert`` is trusted *in addition to* the system's CAs, as in v2;
* every network step is bounded (:data:`CONNECT_TIMEOUT`, :data:`RECEIVE_TIMEOUT`), and a server that cannot be
  reached, refuses TLS or refuses the service bind raises :class:`DirectoryUnavailable` (HTTP 503) — it is never
  taken for "wrong password";
* user input is escaped in filters (v2 formatted ``uid=%s`` with the raw name, so ``*`` matched anyone), a search
  that finds no one or several people is a failed login (v2 indexed ``Entries[0]`` or returned no error), and an
  empty password is refused before anything is sent (some servers take a DN without password as an anonymous
  bind that "succeeds").

Filters from the configuration may be written with or without their outer parentheses (v2 wrapped
``uid=%s`` itself; our default is ``(uid=%s)``). ``ldapi`` takes the socket path in ``auth.ldap.host``
(``/var/run/slapd/ldapi``) or an already percent-encoded one; StartTLS (``useTLS``) applies to ``ldap`` only.
"""

from __future__ import annotations

import logging
import os
import ssl
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

from igor.config import Config, LdapConfig
from igor.errors import IgorError

with warnings.catch_warnings():  # ldap3 2.9 imports names pyasn1 0.6 deprecates; nothing we can change
    warnings.simplefilter("ignore", DeprecationWarning)
    import ldap3
    from ldap3.core import exceptions as ldap_errors
    from ldap3.utils.conv import escape_filter_chars
    from ldap3.utils.dn import parse_dn

log = logging.getLogger("igor.ldap")

#: Seconds to open a connection (TCP, or the ldapi socket) and finish the TLS handshake.
CONNECT_TIMEOUT = 5.0
#: Seconds to wait for any one answer of the server (whole seconds: ldap3 packs them into SO_RCVTIMEO).
RECEIVE_TIMEOUT = 10
#: Result codes of a user bind that mean "these credentials are wrong", not "the directory is broken":
#: noSuchObject, inappropriateAuthentication, invalidCredentials, unwillingToPerform (empty password), and
#: v2's 206 (go-ldap's client-side "empty password").
BAD_CREDENTIALS = frozenset({32, 48, 49, 53, 206})
LDAP_SCHEMES = ("ldap", "ldaps", "ldapi")


class DirectoryUnavailable(IgorError):
    """The LDAP server cannot be reached or used (connection, TLS, service bind, a failed search)."""

    status = 503


@dataclass(frozen=True)
class LdapEntry:
    """One search result: its DN and its attributes (names lower-cased, every value a string)."""

    dn: str
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def values(self, name: str) -> tuple[str, ...]:
        return self.attributes.get(name.lower(), ())

    def first(self, name: str) -> str:
        """The first value of attribute ``name`` ("" when absent or blank; blank ``name`` is absent)."""
        found = self.values(name) if name else ()
        return found[0].strip() if found else ""


class DirectorySession(Protocol):
    """One bound connection (bindDN, or anonymous)."""

    def search(self, filter: str, attributes: Sequence[str], *, limit: int = 0) -> list[LdapEntry]:
        """Entries under ``auth.ldap.baseDN`` (whole subtree) matching ``filter``; at most ``limit`` (0: any).

        Raises:
            DirectoryUnavailable: the search failed (without ``limit``, a server size limit reached counts as
                failure: a truncated answer must not be taken for the whole).
        """
        ...


class Directory(Protocol):
    """What services need of an LDAP directory."""

    def session(self) -> Any:
        """A context manager yielding a :class:`DirectorySession` (raises :class:`DirectoryUnavailable`)."""
        ...

    def authenticate(self, username: str, password: str) -> LdapEntry | None:
        """The user's entry when ``password`` is theirs; None for an unknown user or a wrong password.

        Raises:
            DirectoryUnavailable: the directory could not answer.
        """
        ...


def wrap_filter(text: str) -> str:
    """A filter from the configuration with its outer parentheses (v2's ``uid=%s`` style is accepted)."""
    text = text.strip()
    return text if text.startswith("(") else f"({text})"


def user_filter(template: str, username: str) -> str:
    """``auth.ldap.filter`` for ``username``, the name escaped (RFC 4515) so it can only match itself."""
    return wrap_filter(template).replace("%s", escape_filter_chars(username), 1)


def group_filter(name: str) -> str:
    """The filter finding the LDAP group an Igor group of that name syncs with: ``(cn=NAME)``, as Igor v2."""
    return f"(cn={escape_filter_chars(name)})"


def name_of(value: str) -> str:
    """A user name from a group-member value: ``alice`` as is, ``uid=alice,ou=people,...`` → ``alice`` (the
    first RDN's value); lower-cased. "" for a value that is neither."""
    value = value.strip()
    if "=" not in value:
        return value.lower()
    try:
        parts = parse_dn(value)
    except (ldap_errors.LDAPInvalidDnError, ValueError, IndexError):
        return ""
    return parts[0][1].strip().lower() if parts else ""


def _entries(response: Sequence[Mapping[str, Any]] | None) -> list[LdapEntry]:
    out = []
    for item in response or ():
        if item.get("type") != "searchResEntry":
            continue  # referrals
        attrs: dict[str, tuple[str, ...]] = {}
        for key, value in (item.get("attributes") or {}).items():
            values = value if isinstance(value, list | tuple) else [value]
            attrs[key.lower()] = tuple(v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                                       for v in values if v is not None)
        out.append(LdapEntry(dn=str(item.get("dn", "")), attributes=attrs))
    return out


class _Session:
    """A bound ldap3 connection (implements :class:`DirectorySession`)."""

    def __init__(self, conn: Any, base_dn: str, url: str) -> None:
        self.conn = conn
        self.base_dn = base_dn
        self.url = url

    def search(self, filter: str, attributes: Sequence[str], *, limit: int = 0) -> list[LdapEntry]:
        attrs = sorted({a for a in attributes if a}) or [ldap3.NO_ATTRIBUTES]
        try:
            ok = self.conn.search(self.base_dn, filter, search_scope=ldap3.SUBTREE, attributes=attrs,
                                  size_limit=limit, time_limit=int(RECEIVE_TIMEOUT))
        except ldap_errors.LDAPException as exc:
            raise DirectoryUnavailable(f"LDAP search {filter} at {self.url} failed: {exc}") from None
        result = self.conn.result or {}
        # 32: the base DN does not exist (nothing found); 4: more than ``limit`` entries, asked for by the caller
        fine = (0, 32, 4) if limit else (0, 32)
        if not ok and result.get("result", 0) not in fine:
            raise DirectoryUnavailable(f"LDAP search {filter} at {self.url} failed: "
                                       f"{result.get('description')} {result.get('message') or ''}".rstrip())
        return _entries(self.conn.response)


class LdapDirectory:
    """An LDAP server reached as ``auth.scheme``/``auth.ldap.*`` say (implements :class:`Directory`).

    Args:
        config: ``auth.ldap``.
        scheme: ``auth.scheme`` — ``ldap``, ``ldaps`` or ``ldapi``.
        connect_timeout, receive_timeout: seconds (defaults :data:`CONNECT_TIMEOUT`, :data:`RECEIVE_TIMEOUT`).
    """

    def __init__(self, config: LdapConfig, scheme: str, *, connect_timeout: float = CONNECT_TIMEOUT,
                 receive_timeout: int = RECEIVE_TIMEOUT) -> None:
        if scheme not in LDAP_SCHEMES:
            raise ValueError(f"not an LDAP scheme: {scheme!r}")
        self.config = config
        self.scheme = scheme
        self.connect_timeout = connect_timeout
        self.receive_timeout = receive_timeout

    @property
    def url(self) -> str:
        host = self.config.host.strip()
        if self.scheme == "ldapi":
            return "ldapi://" + (quote(host, safe="") if "/" in host else host)
        if ":" in host and not host.startswith("["):  # an IPv6 address
            host = f"[{host}]"
        return f"{self.scheme}://{host}:{self.config.port}"

    def _tls(self) -> Any:
        if not self.config.tls_check_peer:
            return ldap3.Tls(validate=ssl.CERT_NONE)
        extra = None
        if self.config.tls_cert:
            try:
                with open(self.config.tls_cert, encoding="ascii") as f:
                    extra = f.read()
            except (OSError, UnicodeDecodeError) as exc:
                raise DirectoryUnavailable(f"cannot read the LDAP CA certificate auth.ldap.tlsConfig.cert "
                                           f"{self.config.tls_cert!r}: {exc}") from None
        # the system's CAs plus the configured one (v2: SystemCertPool + AppendCertsFromPEM)
        paths = ssl.get_default_verify_paths()
        cafile = paths.cafile if paths.cafile and os.path.isfile(paths.cafile) else None
        capath = paths.capath if paths.capath and os.path.isdir(paths.capath) else None
        try:
            return ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=cafile, ca_certs_path=capath,
                             ca_certs_data=extra)
        except ldap_errors.LDAPException as exc:
            raise DirectoryUnavailable(f"LDAP TLS settings unusable: {exc}") from None

    def _server(self) -> Any:
        tls = self._tls() if self.scheme != "ldapi" else None
        return ldap3.Server(self.url, use_ssl=self.scheme == "ldaps", tls=tls, get_info=ldap3.NONE,
                            connect_timeout=self.connect_timeout)

    def _open(self, server: Any, user: str | None, password: str | None) -> Any:
        """An open (not yet bound) connection; StartTLS done when configured."""
        conn = ldap3.Connection(server, user=user, password=password,
                                receive_timeout=max(1, int(self.receive_timeout)), raise_exceptions=False,
                                read_only=True)
        try:
            conn.open()
            if self.scheme == "ldap" and self.config.use_tls:
                conn.start_tls()
        except (ldap_errors.LDAPException, OSError) as exc:
            _close(conn)
            raise DirectoryUnavailable(f"cannot connect to the LDAP server {self.url}: {_reason(exc)}") from None
        return conn

    @contextmanager
    def session(self) -> Iterator[_Session]:
        """A connection bound as ``auth.ldap.bindDN`` (anonymous when it is blank), closed on leaving."""
        server = self._server()
        bind_dn = self.config.bind_dn.strip()
        conn = self._open(server, bind_dn or None, self.config.bind_password if bind_dn else None)
        try:
            try:
                bound = conn.bind()
            except ldap_errors.LDAPException as exc:
                raise DirectoryUnavailable(f"LDAP service bind at {self.url} failed: {_reason(exc)}") from None
            if not bound:
                who = f"as {bind_dn!r}" if bind_dn else "anonymously"
                raise DirectoryUnavailable(f"LDAP service bind {who} at {self.url} failed: "
                                           f"{(conn.result or {}).get('description', 'refused')}")
            yield _Session(conn, self.config.base_dn, self.url)
        finally:
            _close(conn)

    def authenticate(self, username: str, password: str) -> LdapEntry | None:
        """Search the user's DN (as bindDN), then bind as that DN with ``password`` (reference §2.2)."""
        if not username or not password:
            return None
        with self.session() as s:
            found = s.search(user_filter(self.config.filter, username), self.config.attributes, limit=2)
        if len(found) != 1:
            log.warning("ldap login of %r: %s", username,
                        "not found in the directory" if not found else "the filter matches several entries")
            return None
        entry = found[0]
        conn = self._open(self._server(), entry.dn, password)
        try:
            try:
                bound = conn.bind()
            except ldap_errors.LDAPException as exc:
                raise DirectoryUnavailable(f"LDAP bind as {entry.dn!r} at {self.url} failed: {_reason(exc)}") \
                    from None
            if bound:
                return entry
            code = (conn.result or {}).get("result")
            if code in BAD_CREDENTIALS:
                log.warning("ldap login of %r: %s", username, (conn.result or {}).get("description"))
                return None
            raise DirectoryUnavailable(f"LDAP bind as {entry.dn!r} at {self.url} failed: "
                                       f"{(conn.result or {}).get('description')}")
        finally:
            _close(conn)


def _close(conn: Any) -> None:
    try:
        conn.unbind()
    except (ldap_errors.LDAPException, OSError):  # already closed, or the server went away: nothing to release
        pass


def _reason(exc: Exception) -> str:
    text = str(exc)
    if text.startswith("(") and text.endswith(",)"):  # ldap3 wraps the socket error in a tuple's repr
        text = text[2:-3] if text[1:2] in "'\"" else text
    return text or type(exc).__name__


def directory_for(config: Config) -> LdapDirectory | None:
    """The directory ``auth.scheme`` names, or None under local authentication."""
    if config.auth.scheme not in LDAP_SCHEMES:
        return None
    return LdapDirectory(config.auth.ldap, config.auth.scheme)


__all__ = ["Directory", "DirectorySession", "DirectoryUnavailable", "LdapDirectory", "LdapEntry", "directory_for",
           "group_filter", "name_of", "user_filter", "wrap_filter"]
