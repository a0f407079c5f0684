"""Reservation edits other than extend (reference §4.7): drop hosts, add hosts by name or by count, rename,
description, owner, group, distro / profile and kernel args — ``PATCH /igor/reservations/:resName``.

Igor v2 allows one operation per edit, except that ``name``, ``description``, ``owner``, ``group`` and
``kernelArgs`` may be combined (:func:`check_combination`). The caller needs ``reservations:<R>:edit:<fields>``
(owners hold ``edit:*``, group members only ``edit:extend``).

Every edit runs in one ``BEGIN IMMEDIATE`` transaction inside :meth:`Scheduler.writing`: host changes are checked
with the engine (added hosts must be free over the reservation's window, the reservation's own hosts being busy
for itself), written, and applied to the engine before the block commits, so the engine never holds a change the
database does not. A refusal leaves the database untouched; ``dryRun`` does everything and rolls it back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pony.orm import db_session

from igor import permissions as perms
from igor._sched import ConflictError
from igor.errors import BadInput, Conflict, Forbidden, NotFound
from igor.nodeset import NodeList, parse_request
from igor.rules import check_description, check_resource_name, check_username
from igor.scheduler import Scheduler
from igor.services.closeout import reinstall, release_hosts, reservation_mail
from igor.services.cluster import AVAILABLE, RESERVED
from igor.services.context import ALL_GROUP, IGOR_ADMIN, PRIVATE_PREFIX, Principal, ServiceContext, find, require
from igor.services.distros import check_kernel_args, may_use
from igor.services.grants import move_fact, move_reservation_group
from igor.services.profiles import temp_profile
from igor.services.reservations import ReservationService, ReservationView, image_boot_modes
from igor.timefmt import format_datetime

#: Body keys that name the fields of the edit permission (reference §2.3); ``extendMax`` counts as ``extend``.
EDIT_FIELDS = ("group", "owner", "distro", "profile", "extend", "name", "description", "kernelArgs", "drop",
               "addNodeList", "addNodeCount")
#: The edits that may be combined in one request.
COMBINABLE = frozenset(("name", "description", "owner", "group", "kernelArgs"))
GROUP_NONE = "none"


def _go_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def go_map(edits: Mapping[str, Any]) -> str:
    """The edit as Go prints a ``map[string]interface{}`` (``map[drop:kn2 name:new]``), as v2's messages do."""
    return "map[" + " ".join(f"{k}:{_go_value(edits[k])}" for k in sorted(edits)) + "]"


def check_combination(edits: Mapping[str, Any]) -> None:
    """Refuse edits that combine operations Igor v2 only performs alone (reference §2.4, ``validateResvParams``).

    Raises:
        BadInput: no edit at all, or incompatible keys together.
    """
    keys = set(edits)
    if not keys:
        raise BadInput("requested operation had no parameters")
    if {"extend", "extendMax"} <= keys:
        raise BadInput("extend and extendMax cannot be used together")
    if keys & {"extend", "extendMax"}:
        if len(keys) != 1:
            raise BadInput(f"extending a reservation can only be a singular edit; found {go_map(edits)}")
    elif "drop" in keys:
        if len(keys) != 1:
            raise BadInput(f"dropping nodes from a reservation can only be a singular edit; found {go_map(edits)}")
    elif keys & {"addNodeList", "addNodeCount"}:
        if {"addNodeList", "addNodeCount"} <= keys:
            raise BadInput("both addNodeList and addNodeCount found; only one allowed")
        if len(keys) != 1:
            raise BadInput(f"adding nodes to a reservation can only be a singular edit; found {go_map(edits)}")
    elif keys & {"distro", "profile"}:
        if keys == {"distro", "profile"}:
            raise BadInput("both profile and distro params found; only one allowed")
        if len(keys) != 1:
            raise BadInput(f"distro and profile changes cannot be mixed with other reservation changes; found "
                           f"{go_map(edits)}")
    else:
        unknown = sorted(keys - COMBINABLE)
        if unknown:
            raise BadInput(f"unknown parameter '{unknown[0]}' received: {_go_value(edits[unknown[0]])}")


def edit_fields(edits: Iterable[str]) -> str:
    """The ``<fields>`` part of the edit permission for these body keys (sorted, ``extendMax`` → ``extend``)."""
    fields = sorted({"extend" if k == "extendMax" else k for k in edits} & set(EDIT_FIELDS))
    return ",".join(fields) or perms.WILDCARD


def _string(edits: Mapping[str, Any], key: str) -> str:
    value = edits[key]
    if not isinstance(value, str):
        raise BadInput(f"invalid parameter '{key}': must be a string")
    return value


def _validate(edits: Mapping[str, Any]) -> None:
    """Value rules Igor v2 checks before authorization (``validateResvParams``)."""
    for key in ("drop", "addNodeList"):
        if key in edits and not _string(edits, key).strip():
            raise BadInput(f"at least 1 host name required for '{key}'")
    if "addNodeCount" in edits:
        count = edits["addNodeCount"]
        if not isinstance(count, int) or isinstance(count, bool):
            raise BadInput("invalid parameter 'addNodeCount': must be an integer")
        if count < 1:
            raise BadInput(f"invalid parameter 'addNodeCount': at least 1 host must be added, got {count}")
    if "name" in edits:
        check_resource_name(_string(edits, "name").strip(), "reservation")
    if "description" in edits:
        check_description(_string(edits, "description"))
    if "owner" in edits:
        check_username(_string(edits, "owner").strip())
    if "group" in edits:
        group = _string(edits, "group").strip()
        if group == ALL_GROUP:
            raise BadInput("reservations cannot be assigned to the 'all' group")
        if group != GROUP_NONE:
            check_resource_name(group, "group")
    for key in ("distro", "profile", "kernelArgs"):
        if key in edits:
            _string(edits, key)


class ReservationEditor:
    """``PATCH /igor/reservations/:resName`` for every edit but extend (which stays with ReservationService)."""

    def __init__(self, ctx: ServiceContext, scheduler: Scheduler, reservations: ReservationService) -> None:
        self.ctx = ctx
        self.scheduler = scheduler
        self.rs = reservations

    # -- entry points -----------------------------------------------------------------------------

    @staticmethod
    def check_combination(edits: Mapping[str, Any]) -> None:
        """:func:`check_combination` (for the API, which routes extends to ReservationService)."""
        check_combination(edits)

    def edit_or_dry_run(self, principal: Principal, name: str, edits: dict[str, Any], *,
                        dry_run: bool = False) -> tuple[ReservationView, str, bool]:
        """:meth:`edit`, or with ``dry_run`` what it would do (nothing is written)."""
        try:
            view, message = self.edit(principal, name, edits, dry_run=dry_run)
            return view, message, False
        except _DryRun as dry:
            return dry.view, f"dry run (nothing changed): {dry.message}", True

    @db_session(immediate=True)
    def edit(self, principal: Principal, name: str, edits: dict[str, Any], *,
             dry_run: bool = False) -> tuple[ReservationView, str]:
        """Apply one edit (or a combination of name/description/owner/group/kernelArgs) to reservation ``name``.

        Returns:
            The reservation as it now is, and a message saying what changed.

        Raises:
            BadInput, Forbidden, NotFound, Conflict: with Igor v2's messages; nothing changes.
        """
        check_combination(edits)
        if edits.keys() & {"extend", "extendMax"}:
            raise BadInput("extend a reservation with ReservationService.extend")
        _validate(edits)
        db = self.ctx.db
        res = find(db.Reservation, name=name)
        require(principal, perms.fact("reservations", name, "edit", edit_fields(edits)), kind="reservation",
                name=name, exists=res is not None)
        with self.scheduler.writing() as engine:
            now = self.rs._now()
            before = (res.name, res.owner, res.group, frozenset(h.name for h in res.hosts))
            if "drop" in edits:
                message = self._drop(res, edits["drop"], now, engine)
            elif "addNodeList" in edits or "addNodeCount" in edits:
                message = self._add(principal, res, edits, now, engine)
            elif "distro" in edits or "profile" in edits:
                message = self._image(res, edits)
            else:
                message = self._attributes(res, edits)
            view = self.rs._view(res, now)
            if dry_run:
                raise _DryRun(view, message)
            self.rs._history(res, "updated:" + ",".join(sorted(edits)))
            self._notify(principal, res, *before)
        return view, message

    def _notify(self, principal: Principal, res: Any, old_name: str, old_owner: Any, old_group: Any,
                old_hosts: frozenset[str]) -> None:
        """The emails of reference §7 an edit causes (queued in its transaction)."""
        actor = principal.name
        if res.name != old_name:
            reservation_mail(self.ctx, "reservation-renamed", res, old_name=old_name, actor=actor)
        if res.owner is not old_owner:
            reservation_mail(self.ctx, "reservation-new-owner", res, cc_group=False, actor=actor,
                             old_owner=old_owner.name)
        if res.group is not old_group and not res.group.is_user_private:
            reservation_mail(self.ctx, "reservation-new-group", res, group=res.group.name, actor=actor)
        dropped = old_hosts - {h.name for h in res.hosts}
        if dropped and actor != res.owner.name:
            reservation_mail(self.ctx, "reservation-dropped", res, hosts=str(NodeList(sorted(dropped))), actor=actor)

    # -- hosts ------------------------------------------------------------------------------------

    def _drop(self, res: Any, expr: str, now: int, engine: Any) -> str:
        """Remove hosts (reference §4.7 ``parseDrop``): each must belong to the reservation; not all of them."""
        request = parse_request(expr.strip())  # any name: one not in the reservation is "not a part" of it (v2)
        if isinstance(request, int):
            raise BadInput(f"drop '{expr.strip()}' is a count: name the hosts to drop")
        held = {h.name: h for h in res.hosts}
        for host_name in request:
            if host_name not in held:
                raise NotFound(f"{host_name} was not a part of reservation '{res.name}'")
        dropped = [held[n] for n in dict.fromkeys(request)]
        if len(dropped) == len(held):
            raise BadInput("dropping all nodes from reservation not allowed - use delete instead")
        old_hostnames = [h.hostname for h in res.hosts]
        res.hosts.remove(dropped)
        if res.start <= now < res.end:
            release_hosts(self.ctx, res, dropped, now, engine, self.scheduler.hosts.by_id,
                          maintenance=f"{res.name}-nodeDrop")
        self._rewrite_power(res, old_hostnames)
        self._engine_update(res, engine)
        return f"dropped {NodeList(h.name for h in dropped)} from reservation '{res.name}'"

    def _add(self, principal: Principal, res: Any, edits: Mapping[str, Any], now: int, engine: Any) -> str:
        """Add hosts over the reservation's own window, by name or by count (reference §4.7)."""
        index = self.scheduler.hosts
        rng = self.rs._range()
        current = sorted(index.by_id[h.id] for h in res.hosts)
        groups = self.rs._owner_groups(res.owner)
        elevated = principal.elevated
        if "addNodeList" in edits:
            expr = str(edits["addNodeList"]).strip()
            request = parse_request(expr, rng)
            if isinstance(request, int):
                raise BadInput(f"addNodeList '{expr}' is a count: use addNodeCount to add a number of hosts")
            missing = [n for n in request if n not in index.by_name]
            if missing:
                raise NotFound(f"the following hosts do not exist: {NodeList(missing)}")
            new = sorted({index.by_name[n] for n in request})
            already = [i for i in new if i in set(current)]
            if already:
                raise Conflict(f"host(s) {self.rs._names(already)} are already part of reservation '{res.name}'")
            self.rs.check_bootable(new, image_boot_modes(res.profile), res.profile)
            self._check_total(principal, len(current) + len(new))
            conflict = engine.check(new, res.start, res.end, groups=groups, elevated=elevated)
            if conflict:
                raise Conflict(self._explain(conflict, engine, res, new, groups, elevated))
        else:
            count = edits["addNodeCount"]
            self._check_total(principal, len(current) + count)
            taken = set(current)
            within = [i for i in range(engine.n_hosts) if i not in taken]
            if count > len(within):
                raise Conflict("reservation requires more cluster nodes than available")
            within = self.rs.bootable(within, image_boot_modes(res.profile), count, res.profile) or []
            found = engine.find(count, res.start, res.end, groups=groups, elevated=elevated, within=within)
            if found is None:
                raise Conflict(f"{count} hosts cannot be found with enough time available to service this request")
            new = sorted(found)
        old_hostnames = [h.hostname for h in res.hosts]
        rows = self.scheduler.host_rows(new)
        res.hosts.add(rows)
        if res.start <= now < res.end:
            for host in rows:
                if host.state == AVAILABLE:
                    host.state = RESERVED
            reinstall(self.ctx, res, rows, power=True)
        self._rewrite_power(res, old_hostnames)
        self._engine_update(res, engine)
        return f"added {NodeList(index.names[i] for i in new)} to reservation '{res.name}'"

    def _check_total(self, principal: Principal, total: int) -> None:
        limit = self.ctx.config.scheduler.node_reserve_limit
        if limit > 0 and total > limit and not principal.elevated:
            raise Forbidden(f"host reserve limit exceeded if new hosts are added, reservation cannot have more "
                            f"than {limit} hosts")

    def _explain(self, conflict: Any, engine: Any, res: Any, hosts: list[int], groups: frozenset[str],
                 elevated: bool) -> str:
        """Why named hosts cannot join: v2's messages, without a "later window" hint (the window is fixed)."""
        if conflict.blocked or conflict.denied or conflict.too_long:  # answered before any hint is computed
            return self.rs._explain(conflict, engine, res.start, res.end, hosts=hosts, groups=groups,
                                    elevated=elevated)
        if conflict.unavailable:
            spans = sorted({(s, e) for _pid, s, e in conflict.windows})
            when = f" during the period {format_datetime(spans[0][0])} to {format_datetime(spans[0][1])}" \
                if spans else ""
            return (f"scheduling conflict; the schedule-restricted host(s) {self.rs._names(conflict.unavailable)} "
                    f"are unavailable{when}")
        db = self.ctx.db
        ids = list(conflict.reservations)
        names = sorted(r.name for r in db.Reservation.select(lambda r: r.id in ids))
        return (f"found existing reservation(s) on node(s) {self.rs._names(conflict.busy)} conflicting with time "
                f"interval [{format_datetime(res.start)}, {format_datetime(res.end)}]: {', '.join(names)}")

    def _engine_update(self, res: Any, engine: Any) -> None:
        """Give the engine the reservation's new host set (same window and busy end)."""
        if res.id not in engine:  # the engine left it out as overlapping (logged at rebuild): nothing to move
            return
        hosts = [self.scheduler.hosts.by_id[h.id] for h in res.hosts]
        try:
            engine.replace(res.id, hosts, res.start, res.end, res.reset_end)
        except ConflictError as exc:  # a busy end longer than today's pad: another reservation starts sooner
            raise Conflict(f"the new hosts {self.rs._names(exc.conflict.busy)} are needed by another reservation "
                           f"before reservation '{res.name}' finishes its maintenance") from None

    def _rewrite_power(self, res: Any, old_hostnames: list[str]) -> None:
        """Keep the group's power grant (present while the reservation is active) equal to its hosts."""
        if not old_hostnames:
            return
        db = self.ctx.db
        row = db.Permission.get(group=res.group, fact=perms.power_fact(old_hostnames))
        if row is None:
            return
        fact = perms.power_fact(h.hostname for h in res.hosts)
        if db.Permission.exists(group=res.group, fact=fact):
            row.delete()
        else:
            row.fact = fact

    # -- distro / profile -------------------------------------------------------------------------

    def _image(self, res: Any, edits: Mapping[str, Any]) -> str:
        """Switch to another of the owner's profiles, or to a distro (a new temp profile)."""
        owner = res.owner
        old = res.profile
        if "profile" in edits:
            profile = self.rs._profile(owner, {"profile": str(edits["profile"]).strip()})
            distro = profile.distro
            if distro is not None and not _has_distro(owner, distro):
                raise Forbidden(f"{owner.name} does not currently have access to distro '{distro.name}' in profile "
                                f"'{profile.name}'")
            message = f"reservation '{res.name}' now uses profile '{profile.name}'"
        else:
            profile = self.rs._profile(owner, {"distro": str(edits["distro"]).strip(), "name": res.name})
            message = f"reservation '{res.name}' now uses distro '{profile.distro.name}'"
        index = self.scheduler.hosts.by_id
        self.rs.check_bootable([index[h.id] for h in res.hosts], image_boot_modes(profile), profile)
        res.profile = profile
        self._drop_temp_profile(old, profile)
        if res.start <= self.rs._now() < res.end:
            reinstall(self.ctx, res, list(res.hosts), power=False)  # new boot files; v2 cycles no power here
        return message

    def _drop_temp_profile(self, old: Any, new: Any) -> None:
        if old is not None and old is not new and old.is_default and not old.reservations:
            old.delete()

    # -- name, description, kernel args, owner, group ---------------------------------------------

    def _attributes(self, res: Any, edits: Mapping[str, Any]) -> str:
        """``name``, ``description``, ``kernelArgs``, ``owner`` and ``group``, checked in v2's order
        (``parseResEditParams``); every check passes before anything is written."""
        db = self.ctx.db
        said: list[str] = []
        new_name = str(edits["name"]).strip() if "name" in edits else None
        if new_name is not None and new_name != res.name and find(db.Reservation, name=new_name) is not None:
            raise Conflict(f"reservation '{new_name}' already exists")
        if "kernelArgs" in edits:
            if res.profile is None:
                raise BadInput(f"reservation '{res.name}' has no profile to take kernel args: give it a distro first")
            if not res.profile.is_default:
                raise BadInput("cannot modify permanent profile, edit the profile first")
            check_kernel_args(edits["kernelArgs"])
        new_owner = self._new_owner(res, edits) if "owner" in edits else None
        owner_after = new_owner or res.owner
        target = self._target_group(res, edits, new_owner, owner_after)

        old_name = res.name
        if new_name is not None and new_name != res.name:
            self._rename(res, new_name)
            said.append(f"renamed to '{new_name}'")
        if "description" in edits:
            res.description = check_description(str(edits["description"]))
            said.append("description updated")
        if "kernelArgs" in edits:
            res.profile.kernel_args = check_kernel_args(edits["kernelArgs"])
            said.append("kernel args updated")
        if new_owner is not None and new_owner is not res.owner:
            self._move_owner(res, new_owner)
            said.append(f"owner is now '{new_owner.name}'")
        if target is not None and target is not res.group:
            move_reservation_group(self.ctx.db, res, target)
            said.append("group is now " + ("none (the owner's private group)" if target.is_user_private
                                           else f"'{target.name}'"))
        return f"reservation '{old_name}' updated: " + ("; ".join(said) if said else "nothing changed")

    def _new_owner(self, res: Any, edits: Mapping[str, Any]) -> Any:
        db = self.ctx.db
        name = str(edits["owner"]).strip()
        if name == IGOR_ADMIN:
            raise BadInput(f"{IGOR_ADMIN} cannot own reservations")
        user = find(db.User, name=name)
        if user is None:
            raise NotFound(f"user '{name}' not found")
        if user is res.owner:
            return user
        distro = res.profile.distro if res.profile is not None else None
        if distro is not None and not _has_distro(user, distro):
            raise Forbidden(f"{user.name} does not have access to distro '{distro.name}'")
        groups = {g.name for g in user.groups if not g.is_user_private}
        denied = []
        for host in res.hosts:
            policy = host.policy
            allowed = {g.name for g in policy.access_groups} if policy is not None else set()
            if allowed and ALL_GROUP not in allowed and not allowed & groups:
                denied.append(self.scheduler.hosts.by_id[host.id])
        if denied:
            raise Conflict(f"the following host(s) are group-restricted and unavailable to the user: "
                           f"{self.rs._names(sorted(denied))}")
        if "group" not in edits and not res.group.is_user_private and user not in res.group.members:
            raise Conflict(f"new owner is not a member of current reservation group {res.group.name}")
        return user

    def _target_group(self, res: Any, edits: Mapping[str, Any], new_owner: Any, owner_after: Any) -> Any:
        """The group the reservation will have, or None for "unchanged"."""
        db = self.ctx.db
        if "group" not in edits:
            if new_owner is not None and new_owner is not res.owner and res.group.is_user_private:
                return _private_group(db, new_owner)
            return None
        name = str(edits["group"]).strip()
        if name == GROUP_NONE:
            return _private_group(db, owner_after)
        group = find(db.Group, name=name)
        if group is None or group.is_user_private:
            raise NotFound(f"group '{name}' not found")
        if owner_after not in group.members:
            if new_owner is not None and new_owner is not res.owner:
                raise Forbidden(f"user '{new_owner.name}' is not a member of group '{name}'")
            raise Forbidden(f"current owner '{res.owner.name}' is not a member of group '{name}'")
        return group

    def _rename(self, res: Any, new: str) -> None:
        """Rename, rewriting every permission fact about the reservation (``reservations:<old>:…``)."""
        db = self.ctx.db
        old = res.name
        prefix = f"reservations:{old}:"
        for row in db.Permission.select(lambda p: p.fact.startswith(prefix)):
            if perms.names_resource(row.fact, perms.RESOURCE_RESERVATIONS, old):
                row.fact = perms.rename_fact(row.fact, perms.RESOURCE_RESERVATIONS, old, new)
        res.name = new

    def _move_owner(self, res: Any, new_owner: Any) -> None:
        """The owner's grant moves to the new owner's private group; the profile is copied for them (v2)."""
        db = self.ctx.db
        old_group = _private_group(db, res.owner)
        new_group = _private_group(db, new_owner)
        for fact in perms.reservation_owner_facts(res.name):
            move_fact(self.ctx.db, fact, old_group, new_group)
        old = res.profile
        if old is not None:
            if old.distro is None:
                raise BadInput(f"the profile '{old.name}' of reservation '{res.name}' has no distro to copy")
            res.profile = temp_profile(db, new_owner, old.distro, reservation=res.name,
                                       kernel_args=old.kernel_args or "", description=old.description or "")
            self._drop_temp_profile(old, res.profile)
        res.owner = new_owner


def _private_group(db: Any, user: Any) -> Any:
    return db.Group.get(name=PRIVATE_PREFIX + user.name)


def _has_distro(user: Any, distro: Any) -> bool:
    """The access rule of every distro use (``igor.services.distros.may_use``)."""
    return may_use(user, distro)


class _DryRun(Exception):  # noqa: N818 - control flow: roll the transaction back, keep the answer
    def __init__(self, view: ReservationView, message: str) -> None:
        super().__init__("dry run")
        self.view = view
        self.message = message
