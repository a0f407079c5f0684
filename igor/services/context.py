"""What every service shares: the bound database, the configuration, the clock, and the caller (``Principal``).

A ``Principal`` is the authenticated caller of one request, resolved once by the auth service; services check
permissions on it at their boundary (``require``), so the API and any other caller get the same rules and the
same messages (reference §2.3).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pony.orm import Database

from igor.config import Config
from igor.errors import Forbidden, NotFound
from igor.permissions import implied_by_any
from igor.scheduler import FULL_REBUILD
from igor.timefmt import utc_now

IGOR_ADMIN = "igor-admin"
ALL_GROUP = "all"
ADMINS_GROUP = "admins"
PRIVATE_PREFIX = "u_"

Clock = Callable[[], datetime]


def naive(dt: datetime) -> datetime:
    """A UTC datetime as the database stores it (naive, UTC)."""
    return dt.astimezone(UTC).replace(tzinfo=None) if dt.tzinfo else dt


def aware(dt: datetime | None) -> datetime | None:
    """A stored (naive UTC) datetime back as an aware one."""
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt


@dataclass(frozen=True)
class Principal:
    """The caller of one request.

    Attributes:
        name: user name.
        groups: names of every group the user belongs to.
        facts: the permission facts granted through those groups (``["*"]`` when elevated).
        admin_member: the user is in the ``admins`` group.
        elevated_until: when the user's elevation ends (aware UTC), or None.
        now: the instant the principal was resolved; elevation is judged against it.
    """

    name: str
    groups: tuple[str, ...] = ()
    facts: tuple[str, ...] = ()
    admin_member: bool = False
    elevated_until: datetime | None = None
    now: datetime = field(default_factory=utc_now)

    @property
    def is_igor_admin(self) -> bool:
        return self.name == IGOR_ADMIN

    @property
    def elevated(self) -> bool:
        """igor-admin always; an ``admins`` member while within the elevation timeout."""
        if self.is_igor_admin:
            return True
        return self.admin_member and self.elevated_until is not None and self.elevated_until > self.now

    def can(self, required: str) -> bool:
        """Whether this caller holds ``required`` (a wildcard permission string)."""
        return self.elevated or implied_by_any(self.facts, required)


class ServiceContext:
    """The collaborators every service gets: database, configuration and clock."""

    def __init__(self, db: Database, config: Config, clock: Clock = utc_now) -> None:
        self.db = db
        self.config = config
        self.clock = clock
        self.started = clock()

    def now(self) -> datetime:
        return self.clock()

    def bump_epoch(self) -> None:
        """Advance the schedule epoch (call inside the writing transaction)."""
        row = self.db.ScheduleEpoch.get_for_update(id=1)
        row.epoch += 1
        self.db.ScheduleChange(epoch=row.epoch, reservation=FULL_REBUILD)


def find(entity: Any, **key: Any) -> Any:
    """``entity.get(**key)``, or None when a key value cannot even be stored in its column (too long, wrong
    type): such a name names nothing, so it is "not found", never a crash."""
    try:
        return entity.get(**key)
    except (ValueError, TypeError):
        return None


def require(principal: Principal, permission: str, *, kind: str, name: str | None = None,
            exists: bool = True) -> None:
    """Raise unless ``principal`` holds ``permission`` — with Igor v2's denial messages.

    Args:
        permission: the required wildcard permission string (``users:bob:edit:email``).
        kind: the resource kind for messages (``user``, ``group``, ``cluster``).
        name: the resource's name, when the request names one.
        exists: whether that resource exists (a missing one is a 404 rather than a 403).

    Raises:
        NotFound: the named resource does not exist (``the user 'x' does not exist`` from the authorization
            check, or ``user 'x' not found`` for a caller who would be allowed, as in Igor v2).
        Forbidden: it exists but the caller may not do this.
    """
    if principal.can(permission):
        if not exists and name is not None:  # a caller who may act on it is told plainly (v2's handler message)
            raise NotFound(f"{kind} '{name}' not found")
        return
    if not exists and name is not None:
        raise NotFound(f"the {kind} '{name}' does not exist")
    if principal.admin_member and not principal.elevated:
        raise Forbidden("elevated access is required before running this command")
    if name is not None:
        raise Forbidden(f"you cannot access the {kind} '{name}'")
    raise Forbidden("access denied")


def require_elevated(principal: Principal) -> None:
    """Admin-only operations: an elevated ``admins`` member or igor-admin."""
    if principal.elevated:
        return
    if principal.admin_member:
        raise Forbidden("elevated access is required before running this command")
    raise Forbidden("access denied")

