"""Authentication: logins, API tokens, elevation and ``auth-reset`` (reference §1.1, §2.2).

Tokens are 32 random bytes (URL-safe text); only their SHA-256 digest is stored, with an expiry of
``auth.tokenDuration`` hours. A token is revoked by logout, by a change or reset of its user's password and, for
everyone, by ``auth-reset``. Elevation is a timestamp on the user row, so every server worker sees it at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from pony.orm import commit, db_session, select

from igor.errors import BadInput, Forbidden, IgorError
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
    """Logins, token resolution, logout, elevation and auth-reset."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    # -- login / tokens ---------------------------------------------------------------------------

    @db_session
    def login(self, username: str, password: str) -> LoginResult:
        """Check credentials (local bcrypt) and issue a new token; cancels any elevation of the user.

        Raises:
            Unauthorized: unknown user or wrong password (one message for both, so names cannot be probed).
        """
        name = username.strip().lower()
        password = password.strip()
        if not name or not password:
            raise BadInput("user authentication failed - username or password are blank")
        user = find(self.ctx.db.User, name=name)
        if user is None:
            raise Unauthorized(f"user '{username.strip()}' not found")
        user.elevated_until = None  # any login attempt cancels elevation, as in Igor v2
        if not user.pass_hash or not verify_password(password, user.pass_hash):
            commit()  # keep the cancelled elevation although the login fails
            raise Unauthorized("local login failed - incorrect password")
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
