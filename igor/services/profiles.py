"""Profiles: ``profile create|show|edit|del`` and the temporary profiles of reservations (reference §1.7, §2.4,
§8.7; seed "Image Management").

A profile is one user's choice of a distro plus kernel args appended after the distro's. Names are unique **per
owner**, and every operation addresses a profile *per owner*: ``(name, owner)`` is the key, never the name alone.
This fixes Igor v2's bug (reference §6, §11 item 14) where profile facts and look-ups went by name only, so two
users with a profile ``p1`` could edit or delete each other's:

* the routes act on the caller's own profile of that name;
* an elevated admin may name another owner (``owner`` query parameter); without one, an admin addresses their own
  profile if they have one, else the only profile of that name, and is asked to name the owner when several users
  have one — never "the first match";
* authorization is ownership of the row (or elevation), not a name-keyed fact. The facts v2 grants
  (``profiles:P:edit:*``, ``delete``, ``view`` on the owner's private group) are still kept for a v2-shaped
  database, but only ever in the owner's own private group, so one user's rename or delete never touches another's.

Temporary profiles (``tpf_`` + 4 letters, ``is_default``) are made for reservations that name a distro
(:func:`temp_profile`); they go with their reservation. Editing one (any field) makes it permanent. ``tpf_`` is
reserved for them. A profile cannot be deleted while a reservation uses it.
"""

from __future__ import annotations

import logging
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pony.orm import db_session

from igor import permissions as perms
from igor.errors import BadInput, Conflict, Forbidden, NotFound
from igor.rules import check_description, check_resource_name
from igor.services.context import PRIVATE_PREFIX, Principal, ServiceContext, find, require
from igor.services.distros import check_kernel_args, may_use, write_edits

if TYPE_CHECKING:
    from igor.services.reservations import ReservationService

log = logging.getLogger("igor.profiles")

KIND = "profile"
TEMP_PREFIX = "tpf_"
ELEVATE_FIRST = "elevated access is required before running this command"


# -- rules shared with reservations -------------------------------------------------------------------------------


def check_profile_name(name: Any) -> str:
    """A legal profile name that is not a temporary profile's (``tpf_…`` is reserved)."""
    check_resource_name(name, KIND)
    if name.startswith(TEMP_PREFIX):
        raise BadInput(f"profile name with prefix {TEMP_PREFIX} not allowed (reserved for the temporary profiles "
                       "of reservations)")
    return name


def temp_profile(db: Any, owner: Any, distro: Any, *, reservation: str, kernel_args: Any = "",
                 description: str | None = None) -> Any:
    """A new temporary profile of ``owner`` for ``distro`` (inside a db_session): ``tpf_`` + 4 lowercase
    letters, unique among the owner's profiles (Igor v2's ``generateDefaultProfileName``)."""
    args = check_kernel_args(kernel_args or "")
    taken = {p.name for p in owner.profiles}
    for _ in range(1000):
        name = TEMP_PREFIX + "".join(secrets.choice(string.ascii_lowercase) for _ in range(4))
        if name not in taken:
            break
    else:  # 26**4 names: only a user with hundreds of thousands of profiles gets here
        raise Conflict(f"no free temporary profile name is left for user '{owner.name}'")
    return db.Profile(name=name, owner=owner, distro=distro, is_default=True, kernel_args=args,
                      description=description if description is not None else
                      f"Default profile for distro {distro.name} for reservation {reservation}")


def owner_grants(db: Any, profile: Any) -> None:
    """Give the owner's private group v2's facts on a permanent profile (bookkeeping only: see the module
    docstring)."""
    pug = find(db.Group, name=PRIVATE_PREFIX + profile.owner.name)
    if pug is None:
        return
    for fact in perms.profile_owner_facts(profile.name):
        if not db.Permission.exists(group=pug, fact=fact):
            db.Permission(group=pug, fact=fact)


def owner_revoke(db: Any, owner: Any, name: str) -> None:
    """Drop the facts about ``owner``'s profile ``name`` — from ``owner``'s private group only."""
    pug = find(db.Group, name=PRIVATE_PREFIX + owner.name)
    if pug is None:
        return
    for row in list(pug.permissions):
        if perms.names_resource(row.fact, perms.RESOURCE_PROFILES, name):
            row.delete()


# -- views --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileView:
    name: str
    owner: str
    distro: str
    description: str
    kernel_args: str
    is_default: bool
    reservations: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """Igor v2's ProfileData, plus whether it is a reservation's temporary profile and who uses it."""
        return {"name": self.name, "description": self.description, "owner": self.owner, "distro": self.distro,
                "kernelArgs": self.kernel_args, "isDefault": self.is_default,
                "reservations": list(self.reservations)}


def profile_view(profile: Any) -> ProfileView:
    return ProfileView(name=profile.name, owner=profile.owner.name,
                       distro=profile.distro.name if profile.distro else "", description=profile.description or "",
                       kernel_args=profile.kernel_args or "", is_default=profile.is_default,
                       reservations=tuple(sorted(r.name for r in profile.reservations)))


# -- the service --------------------------------------------------------------------------------------------------


class ProfileService:
    """Profile operations; ``reservations`` (optional) records renames in the history of reservations."""

    def __init__(self, ctx: ServiceContext, reservations: ReservationService | None = None) -> None:
        self.ctx = ctx
        self.reservations = reservations

    # -- addressing ---------------------------------------------------------------------------------------------

    def _target(self, principal: Principal, name: str, owner: str | None) -> Any:
        """The profile ``name`` of ``owner`` (default: the caller), with the per-owner rules of the module
        docstring (inside a db_session)."""
        db = self.ctx.db
        me = find(db.User, name=principal.name)
        if owner is not None and owner.strip() and owner.strip() != principal.name:
            wanted = owner.strip()
            user = find(db.User, name=wanted)
            profile = find(db.Profile, name=name, owner=user) if user is not None else None
            if not principal.elevated:
                if profile is None:
                    raise NotFound(f"the {KIND} '{name}' does not exist")
                if principal.admin_member:
                    raise Forbidden(ELEVATE_FIRST)
                raise Forbidden(f"you cannot access the {KIND} '{name}'")
            if user is None:
                raise NotFound(f"user '{wanted}' not found")
            if profile is None:
                raise NotFound(f"{KIND} '{name}' of user '{wanted}' not found")
            return profile
        profile = find(db.Profile, name=name, owner=me) if me is not None else None
        if profile is not None:
            return profile
        if principal.elevated:
            matches = sorted(db.Profile.select(lambda p: p.name == name), key=lambda p: p.owner.name) \
                if isinstance(name, str) and len(name) <= 64 else []
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise Conflict(f"several users have a {KIND} named '{name}' "
                               f"({', '.join(p.owner.name for p in matches)}): say whose with owner=NAME")
        raise NotFound(f"{KIND} '{name}' not found")

    # -- create -------------------------------------------------------------------------------------------------

    @db_session
    def create(self, principal: Principal, req: Mapping[str, Any]) -> ProfileView:
        """Create a profile of the caller: ``name`` (not ``tpf_…``), ``distro`` (one they may use),
        ``description``, ``kernelArgs``."""
        db = self.ctx.db
        require(principal, "profiles:*:create", kind=KIND)
        name = check_profile_name(str(req.get("name", "")).strip())
        owner = find(db.User, name=principal.name)
        if find(db.Profile, name=name, owner=owner) is not None:
            raise Conflict(f"profile '{name}' already exists")
        distro_name = str(req.get("distro", "")).strip()
        distro = find(db.Distro, name=distro_name)
        if distro is None:
            raise NotFound(f"distro '{distro_name}' not found")
        if not may_use(owner, distro):
            raise Forbidden(f"{owner.name} does not have access to distro '{distro.name}'")
        description = check_description(str(req.get("description", "") or ""))
        kernel_args = check_kernel_args(req.get("kernelArgs", "") or "")
        profile = db.Profile(name=name, owner=owner, distro=distro, description=description,
                             kernel_args=kernel_args, is_default=False)
        owner_grants(db, profile)
        log.info("profile %s of %s created on distro %s", name, owner.name, distro.name)
        return profile_view(profile)

    # -- show ---------------------------------------------------------------------------------------------------

    @db_session
    def show(self, principal: Principal, filters: Mapping[str, Any] | None = None) -> list[ProfileView]:
        """The caller's profiles (every user's when elevated; temporary ones included), narrowed by ``name``,
        ``owner`` (others' only when elevated), ``kernelArgs`` and ``distro``; sorted by name, then owner."""
        filters = filters or {}
        db = self.ctx.db
        owners = list(filters.get("owner") or [])
        if not principal.elevated and any(o != principal.name for o in owners):
            if principal.admin_member:
                raise Forbidden(ELEVATE_FIRST)
            raise Forbidden("user cannot search other user's profiles")
        if principal.elevated:
            rows = list(db.Profile.select())
        else:
            me = find(db.User, name=principal.name)
            rows = list(me.profiles) if me is not None else []
        out = [profile_view(p) for p in rows]
        for key, attr in (("name", "name"), ("owner", "owner"), ("kernelArgs", "kernel_args"),
                          ("distro", "distro")):
            wanted = filters.get(key)
            if wanted:
                out = [v for v in out if getattr(v, attr) in wanted]
        return sorted(out, key=lambda v: (v.name, v.owner))

    # -- edit ---------------------------------------------------------------------------------------------------

    @db_session
    def edit(self, principal: Principal, name: str, changes: Mapping[str, Any], *, owner: str | None = None) -> str:
        """Rename, redescribe or change the kernel args of a profile; a temporary profile becomes permanent."""
        db = self.ctx.db
        profile = self._target(principal, name, owner)
        if not changes:
            raise BadInput("requested operation had no parameters")
        new_name = str(changes["name"]).strip() if "name" in changes else None
        if new_name is not None and new_name != profile.name:
            check_profile_name(new_name)
            if find(db.Profile, name=new_name, owner=profile.owner) is not None:
                raise Conflict(f"profile name '{new_name}' already in use")
        else:
            new_name = None
        description = check_description(str(changes["description"])) if "description" in changes else None
        kernel_args = check_kernel_args(changes["kernelArgs"]) if "kernelArgs" in changes else None
        old = profile.name
        if new_name is not None:
            owner_revoke(db, profile.owner, old)
        said = write_edits((profile, "name", new_name, f"renamed to '{new_name}'"),
                           (profile, "description", description, "description updated"),
                           (profile, "kernel_args", kernel_args, "kernel args updated"))
        if profile.is_default:
            profile.is_default = False
            said.append("it is now a permanent profile")
        owner_grants(db, profile)
        if new_name is not None and self.reservations is not None:
            for res in sorted(profile.reservations, key=lambda r: r.name):
                self.reservations._history(res, "updated:profile-rename")
        log.info("profile %s of %s edited by %s: %s", old, profile.owner.name, principal.name, "; ".join(said))
        return f"profile '{old}' updated: " + ("; ".join(said) if said else "nothing changed")

    # -- delete -------------------------------------------------------------------------------------------------

    @db_session
    def delete(self, principal: Principal, name: str, *, owner: str | None = None) -> str:
        """Delete a profile no reservation uses."""
        db = self.ctx.db
        profile = self._target(principal, name, owner)
        used = sorted(r.name for r in profile.reservations)
        if used:
            raise Conflict(f"cannot delete profile associated with a reservation: '{profile.name}' is used by "
                           f"{', '.join(used)}")
        who = profile.owner
        owner_revoke(db, who, profile.name)
        profile.delete()
        log.info("profile %s of %s deleted by %s", name, who.name, principal.name)
        return f"profile '{name}' deleted" + (f" (owner {who.name})" if who.name != principal.name else "")


__all__ = ["ProfileService", "ProfileView", "check_profile_name", "owner_grants", "owner_revoke", "profile_view",
           "temp_profile"]
