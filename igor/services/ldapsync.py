"""LDAP user and group sync, and the creation of LDAP-synced groups (reference §8.9; the admin guide's "LDAP sync").

:meth:`LdapSync.run` is called by the lifecycle worker at start-up and every ``auth.ldap.sync.syncFrequency``
minutes (:meth:`igor.services.lifecycle.LifecycleService.plan`). One run:

1. **pre-check** (Igor v2's ``syncPreCheck``, plus what the run needs): igor-admin's password is not the default
   one, a cluster exists, the sync settings it uses are filled in. A failed check is logged and the run skipped;
   the next one comes ``syncFrequency`` minutes later (v2 stopped syncing for good, reference §11.11).
2. **read LDAP**, all of it, before writing anything: the union of ``userListAttribute`` values of every group
   matching a ``groupFilters`` entry (names, or member DNs whose first RDN is taken), the entries of the people to
   create (found with ``auth.ldap.filter``), and the members and owners (``groupOwnerAttributes``, DNs) of every
   LDAP-synced Igor group. An unreachable server or a failed search changes nothing.
3. **user sync**: accounts are created for names in the union that have none (``ldap_managed``; email from
   ``userEmailAttribute`` or ``<uid>@<email.defaultSuffix>``; the "account created" email). An account is removed
   only if the sync created it (``User.ldap_managed``) and its name is in no synced group — never igor-admin, never
   an account made by ``user create`` or imported (v2 removed every Igor user outside the union, §11.11). Nobody is
   removed in a run where a group filter found no group or only empty ones: a renamed or emptied group must not
   delete its people. What a removed user owned alone — groups, reservations, distros — goes to igor-admin (v2's
   ``removeSyncedUsers``), and igor-admin's email gets the ``user-removal-review`` mail listing it; their other
   profiles go with them.
4. **group sync**: each LDAP-synced group (``is_ldap``) gets as members the Igor accounts among its LDAP members
   and owners, and as owners the Igor accounts among its LDAP owners — igor-admin when none has an account. A group
   LDAP no longer finds, or finds empty, is left as it is (and logged).

Each created or removed account and each updated group is its own transaction, logged on ``igor.ldap``.
LDAP-synced groups are created by :meth:`LdapSync.create_group` (``group create -L``): only an LDAP owner or
delegate of the group, or an elevated admin, may create one; Igor's group edits refuse them
(:meth:`igor.services.groups.GroupService.edit`), deleting one is its owners' and admins' right as for any group.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pony.orm import db_session

from igor import permissions as perms
from igor.errors import BadInput, Conflict, Forbidden, NotFound
from igor.ldapdir import (
    LDAP_SCHEMES,
    Directory,
    DirectorySession,
    DirectoryUnavailable,
    LdapEntry,
    group_filter,
    name_of,
    user_filter,
    wrap_filter,
)
from igor.rules import check_email, check_full_name, check_group_name, check_username, verify_password
from igor.services.context import IGOR_ADMIN, PRIVATE_PREFIX, Principal, ServiceContext, find, naive, require
from igor.services.distros import regrant
from igor.services.grants import move_fact, move_reservation_group
from igor.services.groups import GroupService, GroupView
from igor.services.history import record_history
from igor.services.outbox import queue_email
from igor.services.profiles import owner_grants
from igor.services.users import IGOR_ADMIN_PASSWORD, new_account

log = logging.getLogger("igor.ldap")

GROUP_SYNC_OFF = ("LDAP-synced groups need LDAP group sync (auth.ldap.sync.enableGroupSync), which is not enabled "
                  "on this server")


@dataclass(frozen=True)
class SyncReport:
    """What one :meth:`LdapSync.run` did.

    Attributes:
        skipped: why the run did nothing ("" when it ran).
        created: accounts created.
        removed: accounts removed.
        kept: LDAP-managed accounts in no synced group that were *not* removed (see ``problems``).
        groups: LDAP-synced groups whose members or owners changed.
        problems: what the run could not do (one line each; also logged).
    """

    skipped: str = ""
    created: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()


@dataclass
class _UserPlan:
    names: set[str] = field(default_factory=set)  # the union over the group filters
    complete: bool = True  # every filter found at least one group with members
    new: dict[str, LdapEntry] = field(default_factory=dict)


@dataclass(frozen=True)
class _LdapGroup:
    members: frozenset[str]
    owners: frozenset[str]


class LdapSync:
    """LDAP → Igor: user sync, group sync and ``group create -L``.

    Args:
        ctx: the shared service context.
        directory: where to read (an :class:`igor.ldapdir.LdapDirectory`, or a fake in tests).
    """

    def __init__(self, ctx: ServiceContext, directory: Directory) -> None:
        self.ctx = ctx
        self.directory = directory
        self.groups = GroupService(ctx)

    @property
    def settings(self) -> Any:
        return self.ctx.config.auth.ldap.sync

    @property
    def enabled(self) -> bool:
        """Whether the configuration asks for any sync."""
        return self.ctx.config.auth.scheme in LDAP_SCHEMES and bool(
            self.settings.enable_user_sync or self.settings.enable_group_sync)

    # -- one run ------------------------------------------------------------------------------------------------

    def run(self) -> SyncReport:
        """One sync run (see the module docstring); never raises for LDAP or pre-check trouble."""
        if not self.enabled:
            return SyncReport(skipped="LDAP sync is not enabled")
        problem = self.precheck()
        if problem:
            log.error("LDAP sync skipped: %s", problem)
            return SyncReport(skipped=problem)
        problems: list[str] = []
        users = self.settings.enable_user_sync
        try:
            with self.directory.session() as session:
                plan = self._read_users(session, problems) if users else None
                ldap_groups = self._read_groups(session, problems) if self.settings.enable_group_sync else {}
        except DirectoryUnavailable as exc:
            log.error("LDAP sync: nothing changed - %s", exc)
            return SyncReport(skipped=str(exc))
        created, removed, kept = [], [], []
        if plan is not None:
            for name, entry in sorted(plan.new.items()):
                if self._guarded(f"creating account '{name}'", problems, self._create_user, name, entry, problems):
                    created.append(name)
            gone = self._gone(plan.names)
            if gone and not (plan.complete and plan.names):
                kept = gone
                problems.append(f"not removing {len(gone)} account(s) in no synced group ({', '.join(gone)}): a "
                                "group filter found no group, or only empty ones, this time")
                log.warning("LDAP user sync: %s", problems[-1])
            else:
                removed = [name for name in gone
                           if self._guarded(f"removing account '{name}'", problems, self._remove_user, name)]
        updated = [name for name, found in sorted(ldap_groups.items())
                   if self._guarded(f"syncing group '{name}'", problems, self._sync_group, name, found)]
        report = SyncReport(created=tuple(created), removed=tuple(removed), kept=tuple(kept), groups=tuple(updated),
                            problems=tuple(problems))
        log.info("LDAP sync done: %d account(s) created, %d removed, %d synced group(s) changed%s", len(created),
                 len(removed), len(updated), f", {len(problems)} problem(s)" if problems else "")
        return report

    @staticmethod
    def _guarded(what: str, problems: list[str], step: Any, *args: Any) -> bool:
        """Run one change (its own transaction); a failure is logged and rolled back, and the others still run."""
        try:
            return bool(step(*args))
        except Exception as exc:  # noqa: BLE001 - one bad account or group must not stop the rest of the sync
            problems.append(f"{what} failed: {exc}")
            log.exception("LDAP sync: %s failed", what)
            return False

    @db_session
    def precheck(self) -> str:
        """Why a sync must not run now ("" when it may)."""
        db = self.ctx.db
        why = []
        admin = find(db.User, name=IGOR_ADMIN)
        if admin is None:
            why.append(f"there is no {IGOR_ADMIN} account")
        elif admin.pass_hash and verify_password(IGOR_ADMIN_PASSWORD, admin.pass_hash):
            why.append(f"{IGOR_ADMIN}'s password is still the default one: change it first (log in as "
                       f"{IGOR_ADMIN}, then igor user edit --password)")
        if not db.Cluster.select().exists():
            why.append("no cluster is configured yet (igor cluster config)")
        s = self.settings
        if (s.enable_user_sync or s.enable_group_sync) and not s.user_list_attribute.strip():
            why.append("auth.ldap.sync.userListAttribute is blank: which attribute lists a group's members?")
        if s.enable_user_sync and not s.group_filters:
            why.append("auth.ldap.sync.groupFilters is empty: the user sync has no group to read")
        if s.enable_user_sync and not s.user_email_attribute.strip() and not self.ctx.config.email.default_suffix:
            why.append("auth.ldap.sync.userEmailAttribute and email.defaultSuffix are both blank: new accounts "
                       "would have no email address")
        return "; ".join(why)

    # -- reading LDAP --------------------------------------------------------------------------------------------

    def _read_users(self, session: DirectorySession, problems: list[str]) -> _UserPlan:
        plan = _UserPlan()
        attr = self.settings.user_list_attribute
        for text in self.settings.group_filters:
            entries = [e for e in session.search(wrap_filter(text), [attr]) if e.values(attr)]
            if not entries:
                plan.complete = False
                problems.append(f"group filter {wrap_filter(text)} found no group with members")
                log.warning("LDAP user sync: %s", problems[-1])
            for entry in entries:
                plan.names |= self._names(entry.values(attr), f"{attr} of {entry.dn}", problems)
        existing = self._account_names()
        wanted = [self.settings.user_email_attribute, self.settings.user_display_name_attribute]
        for name in sorted(plan.names - existing):
            found = session.search(user_filter(self.ctx.config.auth.ldap.filter, name), wanted, limit=2)
            if len(found) != 1:
                problems.append(f"'{name}' is listed in a synced group but auth.ldap.filter finds "
                                f"{'no entry' if not found else 'several entries'} for it: no account created")
                log.warning("LDAP user sync: %s", problems[-1])
                continue
            plan.new[name] = found[0]
        return plan

    def _names(self, values: Iterable[str], where: str, problems: list[str]) -> set[str]:
        names = set()
        for value in values:
            name = name_of(value)
            if name == IGOR_ADMIN:  # igor-admin is always the local account, never an LDAP person
                continue
            try:
                names.add(check_username(name))
            except BadInput:
                problems.append(f"{where}: {value!r} is not a valid igor user name: skipped")
                log.warning("LDAP sync: %s", problems[-1])
        return names

    def _read_groups(self, session: DirectorySession, problems: list[str]) -> dict[str, _LdapGroup | None]:
        """Every LDAP-synced Igor group → its members and owners in LDAP (None: not found there, or empty)."""
        out: dict[str, _LdapGroup | None] = {}
        for name in self._synced_group_names():
            try:
                out[name] = self._ldap_group(session, name, problems)
            except (NotFound, BadInput) as exc:
                problems.append(f"synced group '{name}' left unchanged: {exc}")
                log.warning("LDAP group sync: %s", problems[-1])
                out[name] = None
        return out

    def _ldap_group(self, session: DirectorySession, name: str, problems: list[str]) -> _LdapGroup:
        """The group ``name`` in LDAP: members (``userListAttribute``, owners included) and owners.

        Raises:
            NotFound: LDAP has no such group.
            BadInput: several entries match, or the group has no members.
        """
        attr = self.settings.user_list_attribute
        owner_attrs = [a for a in self.settings.group_owner_attributes if a.strip()]
        entries = session.search(group_filter(name), [attr, *owner_attrs], limit=10)
        # a person whose cn happens to be the group's name is not the group: prefer entries listing people
        found = [e for e in entries if e.values(attr) or any(e.values(a) for a in owner_attrs)] or entries
        if not found:
            raise NotFound(f"LDAP has no group '{name}' (searched (cn={name}) under auth.ldap.baseDN)")
        if len(found) > 1:
            raise BadInput(f"several LDAP entries are called '{name}': {', '.join(e.dn for e in found)}")
        entry = found[0]
        owners = self._names((v for a in owner_attrs for v in entry.values(a)), f"owners of {entry.dn}", problems)
        members = self._names(entry.values(attr), f"{attr} of {entry.dn}", problems)
        if not members:
            raise BadInput(f"the LDAP group '{name}' has no members")
        return _LdapGroup(members=frozenset(members | owners), owners=frozenset(owners))

    # -- reading Igor ----------------------------------------------------------------------------------------------

    @db_session
    def _account_names(self) -> set[str]:
        return {u.name for u in self.ctx.db.User.select()}

    @db_session
    def _gone(self, names: set[str]) -> list[str]:
        """LDAP-managed accounts whose names are in no synced group."""
        db = self.ctx.db
        return sorted(u.name for u in db.User.select(lambda u: u.ldap_managed)
                      if u.name not in names and u.name != IGOR_ADMIN)

    @db_session
    def _synced_group_names(self) -> list[str]:
        return sorted(g.name for g in self.ctx.db.Group.select(lambda g: g.is_ldap and not g.is_user_private))

    # -- writing: users --------------------------------------------------------------------------------------------

    @db_session
    def _create_user(self, name: str, entry: LdapEntry, problems: list[str]) -> bool:
        db = self.ctx.db
        if find(db.User, name=name) is not None:  # created meanwhile (a user create, another server)
            return False
        if find(db.Group, name=PRIVATE_PREFIX + name) is not None:
            problems.append(f"cannot create '{name}': a group '{PRIVATE_PREFIX}{name}' is in the way")
            log.error("LDAP user sync: %s", problems[-1])
            return False
        email = self._email(name, entry)
        if email is not None:
            other = find(db.User, email=email)
            if other is not None:
                problems.append(f"cannot create '{name}': email '{email}' is already used by '{other.name}'")
                log.warning("LDAP user sync: %s", problems[-1])
                return False
        full_name = entry.first(self.settings.user_display_name_attribute)
        try:
            full_name = check_full_name(full_name)
        except BadInput:
            full_name = ""  # a name igor cannot store (too long, accented letters): the user may set one
        new_account(self.ctx, name, email, full_name, ldap_managed=True)
        log.info("LDAP user sync: created account '%s' (%s)", name, email or "no email address")
        return True

    def _email(self, name: str, entry: LdapEntry) -> str | None:
        for candidate in (entry.first(self.settings.user_email_attribute).lower(),
                          f"{name}@{self.ctx.config.email.default_suffix}"
                          if self.ctx.config.email.default_suffix else ""):
            if candidate:
                try:
                    return check_email(candidate)
                except BadInput:
                    log.warning("LDAP user sync: '%s' has an unusable email address %r", name, candidate)
        return None

    @db_session(immediate=True)
    def _remove_user(self, name: str) -> bool:
        """Remove the LDAP-managed account ``name``, handing what it owned alone to igor-admin."""
        db = self.ctx.db
        user = find(db.User, name=name)
        if user is None or not user.ldap_managed or user.name == IGOR_ADMIN:
            return False
        admin = find(db.User, name=IGOR_ADMIN)
        pug, admin_pug = self._pug(user), self._pug(admin)
        groups: list[str] = []
        reservations: list[str] = []
        distros: list[str] = []
        handed = []
        for group in sorted(user.owned_groups, key=lambda g: g.name):
            if group.is_user_private:
                continue
            if len(group.owners) == 1:
                group.owners.add(admin)
                self.groups._grant_owner(group, admin)
                groups.append(group.name)
            group.owners.remove(user)
        for res in sorted(user.reservations, key=lambda r: r.name):
            for fact in perms.reservation_owner_facts(res.name):
                move_fact(db, fact, pug, admin_pug)
            if res.group == pug:
                move_reservation_group(db, res, admin_pug)
            res.owner = admin
            reservations.append(res.name)
            handed.append(res)
        for profile in list(user.profiles):
            if profile.reservations:  # a reservation handed over keeps booting what it booted
                self._hand_over_profile(profile, admin)
            else:
                profile.delete()
        for distro in sorted(user.distros, key=lambda d: d.name):
            distro.owner = admin
            if pug is not None and pug in distro.groups:
                distro.groups.remove(pug)
                distro.groups.add(admin_pug)
            regrant(db, distro)
            distros.append(distro.name)
        for kickstart in list(user.kickstarts):
            kickstart.owner = None
        for res in handed:
            record_history(self.ctx, res, "updated:owner")
        if reservations:
            self.ctx.bump_epoch()  # other processes' views of the reservations change
        if pug is not None:
            pug.delete()
        user.delete()
        if (groups or reservations or distros) and admin.email:
            queue_email(self.ctx, "user-removal-review", [admin.email], user=name, reservations=reservations or None,
                        groups=groups or None, distros=distros or None)
        log.info("LDAP user sync: removed account '%s' (in no synced LDAP group)%s", name,
                 "; now owned by igor-admin: " + "; ".join(
                     f"{what} {', '.join(names)}" for what, names in
                     (("reservations", reservations), ("groups", groups), ("distros", distros)) if names)
                 if groups or reservations or distros else "")
        return True

    def _pug(self, user: Any) -> Any:
        return find(self.ctx.db.Group, name=PRIVATE_PREFIX + user.name)

    def _hand_over_profile(self, profile: Any, admin: Any) -> None:
        taken = {p.name for p in admin.profiles}
        if profile.name in taken:  # names are unique per owner
            base, n = profile.name, 2
            while f"{base}-{n}" in taken:
                n += 1
            profile.name = f"{base}-{n}"[:64]
        profile.owner = admin
        if not profile.is_default:
            owner_grants(self.ctx.db, profile)

    # -- writing: groups -------------------------------------------------------------------------------------------

    @db_session
    def _sync_group(self, name: str, found: _LdapGroup | None) -> bool:
        """Make the synced group ``name`` match LDAP; True when something changed."""
        if found is None:
            return False
        db = self.ctx.db
        group = find(db.Group, name=name)
        if group is None or not group.is_ldap:
            return False
        members, owners = self._accounts(found)
        now_members, now_owners = set(group.members), set(group.owners)
        changes = []
        for user in sorted(members - now_members, key=lambda u: u.name):
            group.members.add(user)
            changes.append(f"+member {user.name}")
        for user in sorted(now_members - members, key=lambda u: u.name):
            group.members.remove(user)
            changes.append(f"-member {user.name}")
        for user in sorted(owners - now_owners, key=lambda u: u.name):
            group.owners.add(user)
            self.groups._grant_owner(group, user)
            changes.append(f"+owner {user.name}")
        for user in sorted(now_owners - owners, key=lambda u: u.name):
            group.owners.remove(user)
            self.groups._revoke_owner(group, user)
            changes.append(f"-owner {user.name}")
        if changes:
            log.info("LDAP group sync: '%s' %s", name, ", ".join(changes))
        return bool(changes)

    def _accounts(self, found: _LdapGroup) -> tuple[set[Any], set[Any]]:
        """Igor accounts for an LDAP group's members and owners (igor-admin owns a group none of whose LDAP owners
        has an account, as in v2)."""
        db = self.ctx.db
        members = {u for u in (find(db.User, name=n) for n in found.members) if u is not None}
        owners = {u for u in members if u.name in found.owners}
        return members, owners or {find(db.User, name=IGOR_ADMIN)}

    # -- group create -L -------------------------------------------------------------------------------------------

    def create_group(self, principal: Principal, name: str, description: str = "", owners: Sequence[str] | None = None,
                     members: Sequence[str] | None = None) -> GroupView:
        """Create the LDAP-synced group ``name`` from the LDAP group of that name (``group create -L``).

        Raises:
            BadInput: group sync is off, owners or members were given (LDAP decides them), the LDAP group is empty
                or has no owner, or the name is not a valid group name.
            Forbidden: the caller is neither an LDAP owner/delegate of the group nor an elevated admin.
            NotFound: LDAP has no such group.
            Conflict: an Igor group of that name exists.
            DirectoryUnavailable: LDAP cannot be reached.
        """
        require(principal, "groups:*:create", kind="group")
        if not (self.settings.enable_group_sync and self.ctx.config.auth.scheme in LDAP_SCHEMES):
            raise BadInput(GROUP_SYNC_OFF)
        if owners or members:
            raise BadInput("an LDAP-synced group takes its owners and members from LDAP: give neither")
        name = check_group_name(name.strip())
        self._check_free(name)
        problems: list[str] = []
        with self.directory.session() as session:
            found = self._ldap_group(session, name, problems)
        if not found.owners:
            raise BadInput(f"unable to find an owner for group '{name}' in LDAP "
                           f"(auth.ldap.sync.groupOwnerAttributes: {', '.join(self.settings.group_owner_attributes)})")
        if not principal.elevated and principal.name not in found.owners:
            raise Forbidden(f"only an owner or delegate of the LDAP group '{name}', or an elevated admin, may create "
                            "its synced igor group")
        return self._create_synced(principal, name, description, found)

    @db_session
    def _check_free(self, name: str) -> None:
        if find(self.ctx.db.Group, name=name) is not None:
            raise Conflict(f"group '{name}' already exists")

    @db_session
    def _create_synced(self, principal: Principal, name: str, description: str, found: _LdapGroup) -> GroupView:
        from igor.rules import check_description

        db = self.ctx.db
        self._check_free(name)
        members, owners = self._accounts(found)
        group = db.Group(name=name, description=check_description(description or ""), is_ldap=True,
                         created=naive(self.ctx.now()))
        for user in members:
            group.members.add(user)
        for user in owners:
            group.owners.add(user)
            self.groups._grant_owner(group, user)
        for fact in perms.group_member_facts(name):
            db.Permission(group=group, fact=fact)
        if len(group.members) > 1:
            queue_email(self.ctx, "group-created", [u.email for u in group.members if u.email], group=name,
                        actor=principal.name)
        log.info("LDAP-synced group '%s' created by %s: owners %s, members %s", name, principal.name,
                 ", ".join(sorted(u.name for u in owners)), ", ".join(sorted(u.name for u in members)) or "none")
        return self.groups._view(group, principal)


__all__ = ["GROUP_SYNC_OFF", "LdapSync", "SyncReport"]
