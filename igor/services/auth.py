"""Authentication: logins, API tokens, elevation and ``auth-reset`` (reference §1.1, §2.2).

Tokens are 32 random bytes (URL-safe text); only their SHA-256 digest is stored, with an expiry of
``auth.tokenDuration`` hours. A token is revoked by logout, by a change or reset of its user's password and, for
everyone, by ``auth-reset``. Elevation is a timestamp on the user row, so every server worker sees it at once.

Passwords are checked with bcrypt under ``auth.scheme: local``, and under ``ldap``/``ldaps``/``ldapi`` by the
directory (:mod:`igor.ldapdir`: search the user's DN as bindDN, then bind as it) — except for igor-admin, which is
always local. As in Igor v2 (``LdapAuth.authenticate`` looks the user up in Igor's database first), a person known
to LDAP but without an Igor account is refused: accounts come from ``user create`` or the LDAP user sync
(:mod:`igor.services.ldapsync`), never from a first login. The password check runs outside any database
transaction, so a slow directory holds no lock.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from pony.orm import db_session, select

from igor.errors import BadInput, Forbidden, IgorError
from igor.ldapdir import Directory, directory_for
from igor.rules import verify_password
from igor.services.context import (
    ADMINS_GROUP,
    IGOR_ADMIN,
    Principal,
    ServiceContext,
    aware,
    find,
    naive,
    require_elevated,
)

log = logging.getLogger("igor.auth")


class Unauthorized(IgorError):
    """Missing, unknown, expired or revoked credentials (HTTP 401)."""

    status = 401


class NoElevationNeeded(IgorError):
    """igor-admin asked to elevate: nothing to do (Igor v2 answers 202)."""

    status = 202


@dataclass(frozen=True)
class LoginResult:
    token: str
    user: str
    expires: datetime


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AuthService:
    """Logins, token resolution, logout, elevation and auth-reset.

    Args:
        ctx: the shared service context.
        directory: the LDAP directory checking passwords under an LDAP ``auth.scheme`` (default: the one the
            configuration names; tests pass a fake).
    """

    def __init__(self, ctx: ServiceContext, directory: Directory | None = None) -> None:
        self.ctx = ctx
        self.directory = directory if directory is not None else directory_for(ctx.config)

    # -- login / tokens ---------------------------------------------------------------------------

    def login(self, username: str, password: str) -> LoginResult:
        """Check credentials (igor-admin and ``auth.scheme: local``: bcrypt; otherwise LDAP) and issue a new token;
        any login attempt cancels the user's elevation.

        Raises:
            BadInput: a blank user name or password.
            Unauthorized: no Igor account of that name, or a wrong password (or, under LDAP, no such LDAP user).
            DirectoryUnavailable: under LDAP, the directory cannot be reached (HTTP 503); nothing is issued.
        """
        name = username.strip().lower()
        password = password.strip()
        if not name or not password:
            raise BadInput("user authentication failed - username or password are blank")
        pass_hash = self._begin_login(name, username.strip())
        if self.directory is not None and name != IGOR_ADMIN:
            if self.directory.authenticate(name, password) is None:
                raise Unauthorized("ldap login failed - incorrect username or password")
        elif not pass_hash or not verify_password(password, pass_hash):
            raise Unauthorized("local login failed - incorrect password")
        return self._issue(name)

    @db_session
    def _begin_login(self, name: str, given: str) -> str:
        """Cancel the user's elevation (kept even if the login then fails, as in Igor v2); their password hash."""
        user = find(self.ctx.db.User, name=name)
        if user is None:
            if self.directory is not None:
                log.warning("ldap login of %r refused: no igor account of that name", name)
            raise Unauthorized(f"user '{given}' not found")
        user.elevated_until = None
        return str(user.pass_hash or "")

    @db_session
    def _issue(self, name: str) -> LoginResult:
        user = find(self.ctx.db.User, name=name)
        if user is None:  # deleted while the password was being checked
            raise Unauthorized(f"user '{name}' not found")
        token = secrets.token_urlsafe(32)
        now = self.ctx.now()
        stale = naive(now)
        self.ctx.db.Token.select(lambda t: t.expires <= stale).delete(bulk=True)  # expired ones, anyone's
        expires = now + timedelta(hours=self.ctx.config.auth.token_duration)
        self.ctx.db.Token(digest=token_digest(token), user=user, created=naive(now), expires=naive(expires))
        return LoginResult(token=token, user=user.name, expires=expires)

    @db_session
    def resolve(self, token: str) -> Principal:
        """The principal a bearer token stands for.

        Raises:
            Unauthorized: the token is unknown, expired or revoked.
        """
        db = self.ctx.db
        now = self.ctx.now()
        if not token:
            raise Unauthorized("user authentication failed - verify token failed - no token")
        row = find(db.Token, digest=token_digest(token))
        if row is None or aware(row.expires) <= now:  # type: ignore[operator]
            raise Unauthorized("user authentication failed - verify token failed - expired or invalid token")
        return self._principal(row.user, now)

    @db_session
    def principal_for(self, username: str) -> Principal:
        """The principal of a user by name (for trusted callers: the CLI on the server host, tests)."""
        user = find(self.ctx.db.User, name=username)
        if user is None:
            raise Unauthorized(f"unknown user '{username}'")
        return self._principal(user, self.ctx.now())

    def _principal(self, user, now: datetime) -> Principal:  # noqa: ANN001 - a Pony entity
        db = self.ctx.db
        groups = tuple(sorted(g.name for g in user.groups))
        facts = tuple(sorted(set(select(p.fact for p in db.Permission if p.group in user.groups))))
        return Principal(name=user.name, groups=groups, facts=facts, admin_member=ADMINS_GROUP in groups,
                         elevated_until=aware(user.elevated_until), now=now)

    @db_session
    def logout(self, token: str) -> None:
        """Revoke one token (a no-op for an unknown one)."""
        row = find(self.ctx.db.Token, digest=token_digest(token))
        if row is not None:
            row.delete()

    @db_session
    def auth_reset(self, principal: Principal) -> str:
        """Revoke every token of every user (admin only)."""
        require_elevated(principal)
        self.ctx.db.Token.select().delete(bulk=True)
        return "token secret refreshed successfully"

    @db_session
    def purge_expired(self) -> int:
        """Delete expired tokens; returns how many."""
        now = naive(self.ctx.now())
        return self.ctx.db.Token.select(lambda t: t.expires <= now).delete(bulk=True)

    # -- elevation ------------------------------------------------------------------------------

    def _elevation_subject(self, principal: Principal):  # noqa: ANN202
        if principal.is_igor_admin:
            raise NoElevationNeeded(f"{IGOR_ADMIN} does not require the elevate privilege")
        if not principal.admin_member:
            raise Forbidden(f"user '{principal.name}' is not an admin")
        return find(self.ctx.db.User, name=principal.name)

    @db_session
    def elevate(self, principal: Principal) -> str:
        user = self._elevation_subject(principal)
        minutes = self.ctx.config.auth.elevate_timeout
        user.elevated_until = naive(self.ctx.now() + timedelta(minutes=minutes))
        return f"elevate for user '{principal.name}' is active for next {minutes} minutes"

    @db_session
    def elevation(self, principal: Principal) -> tuple[str, int]:
        """Igor v2's status message and when the elevation ends (epoch seconds; 0: not elevated)."""
        user = self._elevation_subject(principal)
        until = aware(user.elevated_until)
        now = self.ctx.now()
        if until is None or until <= now:
            return f"elevate for user '{principal.name}' has expired", 0
        left = int((until - now).total_seconds())
        if left < 60:
            return f"elevate for user '{principal.name}' has {left} seconds remaining", int(until.timestamp())
        minutes = round(left / 60, 1)
        return f"elevate for user '{principal.name}' has {minutes:g} minutes remaining", int(until.timestamp())

    @db_session
    def elevate_cancel(self, principal: Principal) -> str:
        user = self._elevation_subject(principal)
        user.elevated_until = None
        return f"elevate for user '{principal.name}' is canceled"
