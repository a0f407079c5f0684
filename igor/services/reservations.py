"""Reservations: create (by name or by count, ``dryRun``), show, extend / extend-max, delete and speculate —
every scheduling decision made by the engine through the :class:`~igor.scheduler.Scheduler` (reference §4.2–§4.6,
SPEC §5).

Times are epoch minutes inside; the API speaks epoch seconds as Igor v2 does. Refusals explain themselves: they
name the reservations, blocks, policy windows or limits in the way and, where waiting would help, offer the
earliest window that would work.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from typing import Any

from pony.orm import db_session, flush, select

from igor import permissions as perms
from igor.errors import BadInput, Conflict, Forbidden, NotFound
from igor.nodeset import ClusterRange, NodeList, parse_request
from igor.rules import check_description, check_resource_name
from igor.scheduler import Rollback, Scheduler
from igor.services.closeout import end_reservation, reservation_mail
from igor.services.cluster import BLOCKED
from igor.services.context import (
    ALL_GROUP,
    IGOR_ADMIN,
    PRIVATE_PREFIX,
    Principal,
    ServiceContext,
    find,
    require,
)
from igor.services.distros import may_use
from igor.services.history import record_history
from igor.services.profiles import temp_profile
from igor.timefmt import format_datetime, format_duration, go_duration, parse_duration, to_minutes

#: Igor v2's longest scheduling window for elevated users (days).
ELEVATED_SCHEDULE_DAYS = 1457


@dataclass(frozen=True)
class ReservationView:
    name: str
    description: str
    owner: str
    group: str
    profile: str
    distro: str
    vlan: int
    start: int
    end: int
    orig_end: int
    extend_count: int
    hosts: tuple[str, ...]
    host_range: str
    installed: bool
    install_error: str
    now: int

    def to_json(self) -> dict[str, Any]:
        """Igor v2's ReservationData (times in epoch seconds)."""
        return {"name": self.name, "description": self.description, "owner": self.owner, "group": self.group,
                "profile": self.profile, "distro": self.distro, "vlan": self.vlan, "start": self.start * 60,
                "end": self.end * 60, "origEnd": self.orig_end * 60, "extendCount": self.extend_count,
                "hosts": list(self.hosts), "hostRange": self.host_range, "hostsUp": [], "hostsDown": [],
                "hostsPowerNA": list(self.hosts), "installed": self.installed, "installError": self.install_error,
                "remainHours": max(0, round((self.end - max(self.now, self.start)) / 60))}


@dataclass(frozen=True)
class Placement:
    """What a create (or its dry run) decided."""

    view: ReservationView
    dry_run: bool


_WHERE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*(>=|<=|!=|=|>|<)\s*(.*?)\s*$")


def parse_where(text: str) -> list[tuple[str, str, str]]:
    """``gpu=a100,ram_gb>=256`` → ``[("gpu", "=", "a100"), ("ram_gb", ">=", "256")]``."""
    out = []
    for part in text.split(","):
        if not part.strip():
            continue
        m = _WHERE.match(part)
        if not m or not m.group(3):
            raise BadInput(f"invalid host attribute filter '{part.strip()}': use KEY=VALUE, KEY!=VALUE or "
                           "KEY>=NUMBER (also >, <, <=), separated by commas")
        out.append((m.group(1), m.group(2), m.group(3)))
    if not out:
        raise BadInput("empty host attribute filter")
    return out


def matches(attributes: dict[str, Any], where: list[tuple[str, str, str]]) -> bool:
    """Whether a host's attributes satisfy every filter term (numbers compare as numbers)."""
    for key, op, want in where:
        if key not in attributes:
            if op == "!=":  # a host without the attribute does not have that value
                continue
            return False
        have = attributes[key]
        if op in ("=", "!="):
            equal = str(have).lower() == want.lower() if not isinstance(have, bool) else \
                str(have).lower() == want.lower()
            if equal != (op == "="):
                return False
            continue
        try:
            a, b = float(have), float(want)
        except (TypeError, ValueError):
            return False
        if not {">": a > b, "<": a < b, ">=": a >= b, "<=": a <= b}[op]:
            return False
    return True


class ReservationService:
    """Reservation operations, decided by the engine, written to the database."""

    def __init__(self, ctx: ServiceContext, scheduler: Scheduler) -> None:
        self.ctx = ctx
        self.scheduler = scheduler

    # -- helpers ----------------------------------------------------------------------------------

    def _now(self) -> int:
        return to_minutes(self.ctx.now())

    def _schedule_end(self, now: int, elevated: bool) -> int:
        days = ELEVATED_SCHEDULE_DAYS if elevated else self.ctx.config.scheduler.max_schedule_days
        return now + days * 1440

    def _range(self) -> ClusterRange:
        hosts = self.scheduler.hosts
        if not hosts.seqs:
            raise NotFound("the cluster has no hosts yet: an admin must run 'igor cluster config'")
        cluster = self.ctx.db.Cluster.select().first()
        return ClusterRange(cluster.prefix, hosts.seqs[0], hosts.seqs[-1])

    def _view(self, res: Any, now: int) -> ReservationView:
        names = sorted((h.name for h in res.hosts), key=lambda n: self.scheduler.hosts.by_name.get(n, 0))
        private = res.group.is_user_private
        profile = res.profile
        return ReservationView(
            name=res.name, description=res.description or "", owner=res.owner.name,
            group="" if private else res.group.name,
            profile=profile.name if profile is not None and not profile.is_default else "",
            distro=profile.distro.name if profile is not None and profile.distro is not None else "",
            vlan=res.vlan, start=res.start, end=res.end, orig_end=res.orig_end, extend_count=res.extend_count,
            hosts=tuple(names), host_range=str(NodeList(names)) if names else "", installed=res.installed,
            install_error=res.install_error or "", now=now)

    def views(self, now: int) -> list[ReservationView]:
        """Every reservation as a view, sorted by name, from three column queries and the engine's host lists
        (call inside a ``db_session``, holding ``scheduler.locked()``). No per-reservation query, no prefetch:
        this is what ``GET /igor`` and the reservation list pay, whatever the size of the schedule."""
        db = self.ctx.db
        hosts = self.scheduler.hosts
        hosts_of = self.scheduler.hosts_of()
        rows = reservation_rows(db)
        profiles: dict[int, tuple[str, bool, int | None]] = {}
        distros: dict[int, str] = {}
        if any(row[6] is not None for row in rows):
            profiles = {pid: (name, is_default, did) for pid, name, is_default, did in
                        select((p.id, p.name, p.is_default, p.distro.id) for p in db.Profile)}
            distros = dict(select((d.id, d.name) for d in db.Distro))
        out = []
        for (rid, name, desc, owner, group, private, pid, vlan, start, end, orig_end, ext, installed,
             error) in rows:
            idx = hosts_of.get(rid)
            if idx is None:  # not in the engine (it overlapped another in the database): read its hosts
                idx = tuple(sorted(hosts.by_id[h] for h in select(h.id for h in db.Host
                                                                   if rid in h.reservations.id)))
            pname, pdefault, did = profiles.get(pid, ("", True, None)) if pid is not None else ("", True, None)
            out.append(ReservationView(
                name=name, description=desc or "", owner=owner, group="" if private else group,
                profile="" if pdefault else pname, distro=distros.get(did, "") if did is not None else "",
                vlan=vlan, start=start, end=end, orig_end=orig_end, extend_count=ext,
                hosts=tuple(hosts.names[i] for i in idx), host_range=hosts.fold(idx), installed=installed,
                install_error=error or "", now=now))
        out.sort(key=lambda v: v.name)
        return out

    def _owner_groups(self, user: Any) -> frozenset[str]:
        return frozenset(g.name for g in user.groups)

    # -- create -----------------------------------------------------------------------------------

    @db_session(immediate=True)
    def create(self, principal: Principal, req: dict[str, Any]) -> Placement:
        """Create a reservation (or, with ``dryRun``, say what would be created). See reference §4.2."""
        db = self.ctx.db
        # Igor v2's validator first (reference §4.2 step 1), then the handler's checks in its order
        if "nodeList" not in req and "nodeCount" not in req:
            raise BadInput("missing nodeList or nodeCount; one required to create reservation")
        if "nodeList" in req and "nodeCount" in req:
            raise BadInput("both nodeList and nodeCount found; only one allowed")
        if "distro" in req and "profile" in req:
            raise BadInput("both profile and distro found; only one allowed")
        name = check_resource_name(str(req["name"]).strip(), "reservation")
        if req.get("group") == ALL_GROUP:
            raise BadInput(f"reservations cannot be assigned to the '{ALL_GROUP}' group")
        if isinstance(req.get("duration"), str) and parse_duration(req["duration"]) <= 0:
            raise BadInput(f"invalid duration '{req['duration']}': must be longer than 0")
        require(principal, "reservations:*:create", kind="reservation")
        if find(db.Reservation, name=name) is not None:
            raise Conflict(f"reservation '{name}' already exists")
        owner = self._owner(principal, req.get("owner"))
        profile = self._profile(owner, req)
        group = self._group(owner, req.get("group"))
        description = check_description(req.get("description", "") or "")
        now = self._now()
        where = parse_where(req["where"]) if req.get("where") else None
        with self.scheduler.writing() as engine:
            rng = self._range()
            groups = self._owner_groups(owner)
            modes = image_boot_modes(profile)
            if "nodeList" in req:
                hosts = self._named_hosts(rng, req["nodeList"])
                if where:
                    raise BadInput("'where' filters hosts chosen by count (nodeCount), not a nodeList")
                self.check_bootable(hosts, modes, profile)
                self._check_limit(principal, len(hosts))
                start, end = self._window(principal, req, now)  # hosts and the node cap come first in v2
                conflict = engine.check(hosts, start, end, groups=groups, elevated=principal.elevated)
                if conflict:
                    raise Conflict(self._explain(conflict, engine, start, end, hosts=hosts, groups=groups,
                                                 elevated=principal.elevated))
            else:
                count = req["nodeCount"]
                if not isinstance(count, int) or isinstance(count, bool):
                    raise BadInput(f"invalid parameter 'nodeCount': must be a number, got {type(count).__name__}")
                if count < 1:
                    raise BadInput("reservation must include at least one host")
                self._check_limit(principal, count)
                start, end = self._window(principal, req, now)
                within = self._matching(where) if where else None
                if within is not None and len(within) < count:
                    raise Conflict(f"only {len(within)} host(s) match '{req['where']}'; {count} requested")
                within = self.bootable(within, modes, count, profile)
                if count > (len(within) if within is not None else engine.n_hosts):
                    raise Conflict("reservation requires more cluster nodes than available")
                hosts = engine.find(count, start, end, groups=groups, elevated=principal.elevated, within=within)
                if hosts is None:
                    # v2 (dbGetAccessibleHosts): a length no usable policy allows, or too few usable hosts at all
                    pool = within if within is not None else list(range(engine.n_hosts))
                    why = engine.check(pool, start, end, groups=groups, elevated=principal.elevated)
                    if why:
                        denied, too_long = set(why.denied), set(why.too_long)
                        admitted = [h for h in pool if h not in denied]
                        if too_long and admitted and too_long.issuperset(admitted):
                            longest = max(engine_policy_time(db, self.scheduler.hosts.ids[h]) for h in admitted)
                            raise Conflict(f"max allowable time is {go_duration(longest)} "
                                           f"(you requested {go_duration(end - start)})")
                        unusable = denied | too_long | set(why.blocked)
                        if count > len(pool) - len(unusable):
                            raise Conflict("reservation requires more cluster nodes than available")
                    raise Conflict(f"{count} hosts cannot be found with enough time available to service this "
                                   "request" + self._earliest(engine, end - start, start, count=count,
                                                              groups=groups, elevated=principal.elevated,
                                                              within=within))
            pad = self.ctx.config.maintenance.host_maintenance_duration
            host_rows = self.scheduler.host_rows(hosts)
            vlan = self._vlan(owner, req.get("vlan"))
            res = db.Reservation(
                name=name, description=description, owner=owner, group=group, profile=profile, vlan=vlan,
                start=start,
                end=end, orig_end=end, reset_end=end + pad, cycle_on_start=not req.get("noCycle", False),
                hash=hashlib.sha1(f"{name}|{owner.name}|{start}|{end}|{uuid.uuid4()}".encode()).hexdigest(),
                created=self.ctx.now().replace(tzinfo=None))
            res.hosts.add(host_rows)
            flush()
            engine.add(res.id, hosts, start, end, end + pad)
            view = self._view(res, now)
            if req.get("dryRun"):
                engine.remove(res.id)
                raise _DryRun(view)
            self._grant(res)
            res.next_notify = self._next_notify(res, now)
            self._history(res, "created")
        return Placement(view, dry_run=False)

    def create_or_dry_run(self, principal: Principal, req: dict[str, Any]) -> Placement:
        try:
            return self.create(principal, req)
        except _DryRun as dry:
            return Placement(dry.view, dry_run=True)

    def _vlan(self, owner: Any, wanted: Any) -> int:
        """The reservation's VLAN (reference §4.2 step 10): another reservation's name (the owner's own: share its
        VLAN), a number in ``vlan.rangeMin..rangeMax``, or nothing (the lowest free one). 0 when VLANs are off.
        Unlike Igor v2, an exhausted range is a refusal, never VLAN 0."""
        cfg = self.ctx.config.vlan
        wanted = "" if wanted is None else str(wanted).strip()
        if not cfg.enabled:
            if wanted:
                raise BadInput(f"vlan '{wanted}' requested, but VLAN isolation is not configured on this server "
                               "(vlan.network)")
            return 0
        db = self.ctx.db
        used = _by_vlan(select((r.vlan, r.name, r.owner.name) for r in db.Reservation))
        if not wanted:
            for number in range(cfg.range_min, cfg.range_max + 1):
                if number not in used:
                    return number
            raise Conflict(f"no VLAN is free in the range {cfg.range_min}-{cfg.range_max}: every one is in use")
        if wanted.isdigit():
            number = int(wanted)
            if not cfg.range_min <= number <= cfg.range_max:
                raise BadInput(f"VLAN number outside permitted range {cfg.range_min}-{cfg.range_max}: {number}")
            holders = used.get(number, [])
            if holders and not any(o == owner.name for _n, o in holders):
                raise Forbidden(f"VLAN {number} is in use by reservations of other users")
            return number
        other = find(db.Reservation, name=wanted)
        if other is None:
            raise NotFound(f"reservation '{wanted}' not found (vlan names a reservation to share its VLAN with)")
        if other.owner != owner:
            raise Forbidden(f"cannot share the VLAN of reservation '{wanted}': it belongs to another user")
        if not other.vlan:  # made while VLANs were off: there is nothing to share, and 0 is never a VLAN
            raise BadInput(f"reservation '{wanted}' has no VLAN to share (it was made while VLANs were off); "
                           "leave vlan out to get a free one")
        return int(other.vlan)

    def _owner(self, principal: Principal, owner: Any) -> Any:
        db = self.ctx.db
        if owner is None or owner == principal.name:
            return db.User.get(name=principal.name)
        if not principal.elevated:
            raise BadInput("non-elevated users cannot specify a different owner for a reservation")
        user = find(db.User, name=str(owner).strip().lower())
        if user is None:
            raise NotFound(f"user '{owner}' not found")
        if user.name == IGOR_ADMIN:
            raise BadInput(f"{IGOR_ADMIN} cannot own reservations")
        return user

    def _group(self, owner: Any, name: Any) -> Any:
        db = self.ctx.db
        if name in (None, "", "none"):
            return db.Group.get(name=PRIVATE_PREFIX + owner.name)
        if name == ALL_GROUP:
            raise BadInput(f"reservations cannot be assigned to the '{ALL_GROUP}' group")
        group = find(db.Group, name=str(name))
        if group is None or group.is_user_private:
            raise NotFound(f"group '{name}' not found")
        if owner not in group.members:
            raise Forbidden(f"user '{owner.name}' is not a member of group '{group.name}'")
        return group

    def _profile(self, owner: Any, req: dict[str, Any]) -> Any:
        """The reservation's profile: the owner's own profile (``profile``), a new temporary profile of a distro
        the owner may use (``distro``), or — with neither — a temporary profile of the default distro when an
        admin has set one (SPEC §7), else None (Igor writes no boot files)."""
        db = self.ctx.db
        if "profile" in req:
            if req.get("kernelArgs"):
                raise BadInput("kernelArgs cannot be given with a profile: edit the profile instead")
            profile = find(db.Profile, name=str(req["profile"]), owner=owner)
            if profile is None:
                raise NotFound(f"no profiles for user '{owner.name}' match '{req['profile']}'")
            if profile.is_default:
                raise BadInput("cannot use a temp profile in more than 1 reservation. Make the profile permanent "
                               "first by editing its name, then try again")
            distro = profile.distro
            if distro is None:
                raise BadInput(f"profile '{profile.name}' has no distro: edit or delete it")
            if not may_use(owner, distro):
                raise Forbidden(f"{owner.name} does not currently have access to distro '{distro.name}' in "
                                f"profile '{profile.name}'")
            return profile
        if "distro" not in req:
            default = db.Distro.select(lambda d: d.is_default).first()
            if default is None:
                if req.get("kernelArgs"):
                    raise BadInput("kernelArgs need a distro to boot with: give a distro (or a profile) too")
                return None
            return temp_profile(db, owner, default, reservation=str(req["name"]),
                                kernel_args=req.get("kernelArgs", "") or "")
        distro = find(db.Distro, name=str(req["distro"]))
        if distro is None:
            raise NotFound(f"distro '{req['distro']}' not found")
        if not may_use(owner, distro):
            raise Forbidden(f"{owner.name} does not have access to distro '{distro.name}'")
        return temp_profile(db, owner, distro, reservation=str(req["name"]),
                            kernel_args=req.get("kernelArgs", "") or "")

    def _window(self, principal: Principal, req: dict[str, Any], now: int) -> tuple[int, int]:
        cfg = self.ctx.config.scheduler
        start_s = req.get("start")
        if start_s is None:
            start = now
        else:
            if not isinstance(start_s, (int, float)) or isinstance(start_s, bool):
                raise BadInput("invalid parameter 'start': must be a number (epoch seconds)")
            start = int(start_s) // 60
            if start < now:  # the current minute is still "now", unlike Igor v2
                raise BadInput(f"start time is in the past {format_datetime(start)}")
        duration = req.get("duration")
        if duration is None:
            end = start + cfg.default_reserve_time
        elif isinstance(duration, str):
            minutes = parse_duration(duration)
            if minutes <= 0:
                raise BadInput(f"invalid duration '{duration}': must be longer than 0")
            end = start + minutes
        elif isinstance(duration, (int, float)) and not isinstance(duration, bool):
            end = int(duration) // 60
            if end <= start:
                raise BadInput(f"end time {format_datetime(end)} is not after the start {format_datetime(start)}")
        else:
            raise BadInput("invalid parameter 'duration': must be a duration string or an end time (epoch seconds)")
        if not principal.elevated and end - start < cfg.min_reserve_time:
            raise BadInput(f"reservation duration must be larger than minimum value {cfg.min_reserve_time} minutes")
        limit = self._schedule_end(now, principal.elevated)
        if end > limit:
            if principal.elevated:
                raise BadInput(f"reservation can't fall outside the maximum end datetime allowed "
                               f"{format_datetime(limit)}")
            raise BadInput(f"reservation would fall outside igor's scheduling window that ends on "
                           f"{format_datetime(limit)}")
        return start, end

    def _named_hosts(self, rng: ClusterRange, expr: Any) -> list[int]:
        if not isinstance(expr, str) or not expr.strip():
            if isinstance(expr, str):
                raise BadInput("at least 1 host name required to create reservation")
            raise BadInput("invalid parameter 'nodeList': must be a host list such as kn[1-4]")
        request = parse_request(expr.strip(), rng)
        if isinstance(request, int):
            raise BadInput(f"nodeList '{expr}' is a count: use nodeCount for a number of hosts")
        by_name = self.scheduler.hosts.by_name
        missing = [n for n in request if n not in by_name]
        if missing:
            raise NotFound(f"the following hosts do not exist: {NodeList(missing)}")
        return sorted(by_name[n] for n in request)

    def _matching(self, where: list[tuple[str, str, str]]) -> list[int]:
        by_id = self.scheduler.hosts.by_id
        return sorted(by_id[hid] for hid, attrs in select((h.id, h.attributes) for h in self.ctx.db.Host)
                      if matches(attrs or {}, where))

    def _boot_modes(self) -> list[str]:
        """Each engine host's boot mode (``bios``/``uefi``), by engine index."""
        modes = ["bios"] * len(self.scheduler.hosts.ids)
        by_id = self.scheduler.hosts.by_id
        for hid, mode in select((h.id, h.boot_mode) for h in self.ctx.db.Host):
            if hid in by_id:
                modes[by_id[hid]] = mode
        return modes

    def check_bootable(self, hosts: list[int], modes: frozenset[str] | None, profile: Any) -> None:
        """Refuse hosts (engine indices) whose boot mode the reservation's image does not boot."""
        if modes is None:
            return
        host_modes = self._boot_modes()
        wrong = [i for i in hosts if host_modes[i] not in modes]
        if wrong:
            distro = profile.distro
            raise Conflict(f"distro '{distro.name}' (image {distro.image.name}) boots {' and '.join(sorted(modes))} "
                           f"only, and host(s) {self._names(wrong)} boot {host_modes[wrong[0]]}: choose other hosts "
                           "or a distro whose image boots them")

    def bootable(self, within: list[int] | None, modes: frozenset[str] | None, count: int,
                 profile: Any) -> list[int] | None:
        """Narrow a by-count search (``within``: engine indices, None = all) to the hosts the image boots."""
        if modes is None:
            return within
        host_modes = self._boot_modes()
        pool = within if within is not None else range(len(host_modes))
        narrowed = [i for i in pool if host_modes[i] in modes]
        if len(narrowed) < count:
            distro = profile.distro
            raise Conflict(f"only {len(narrowed)} host(s) can boot distro '{distro.name}' (image "
                           f"{distro.image.name} boots {' and '.join(sorted(modes))}); {count} requested")
        return narrowed

    def _check_limit(self, principal: Principal, count: int) -> None:
        limit = self.ctx.config.scheduler.node_reserve_limit
        if limit > 0 and count > limit and not principal.elevated:
            raise Forbidden(f"only admins can make a reservation of more than {limit} nodes")

    # -- explaining refusals ----------------------------------------------------------------------

    def _names(self, idx: Any) -> str:
        names = [self.scheduler.hosts.names[i] for i in idx]
        return f"[{' '.join(names)}]"

    def _explain(self, conflict: Any, engine: Any, start: int, end: int, *, hosts: list[int],
                 groups: frozenset[str], elevated: bool) -> str:
        """Igor v2's refusal for the first reason that applies, naming who or what is in the way."""
        db = self.ctx.db
        if conflict.blocked:
            return f"the following hosts are not available at this time: {self._names(conflict.blocked)}"
        if conflict.denied:
            return (f"the following host(s) are group-restricted and unavailable to the user: "
                    f"{self._names(conflict.denied)}")
        if conflict.too_long:
            limit = min(engine_policy_time(db, self.scheduler.hosts.ids[i]) for i in conflict.too_long)
            return (f"max allowable time is {go_duration(limit)} (you requested {go_duration(end - start)}); "
                    f"reservation length exceeds maximum allowed for the following duration-restricted host(s): "
                    f"{self._names(conflict.too_long)}")
        tail = self._earliest(engine, end - start, start, hosts=hosts, groups=groups, elevated=elevated)
        if conflict.unavailable:
            spans = sorted({(s, e) for _pid, s, e in conflict.windows})
            when = f" during the period {format_datetime(spans[0][0])} to {format_datetime(spans[0][1])}" \
                if spans else ""
            return (f"scheduling conflict; the schedule-restricted host(s) {self._names(conflict.unavailable)} are "
                    f"unavailable{when}" + tail)
        names = sorted(r.name for r in db.Reservation.select(lambda r: r.id in conflict.reservations))
        return (f"found existing reservation(s) on node(s) {self._names(conflict.busy)} conflicting with time "
                f"interval [{format_datetime(start)}, {format_datetime(end)}]: {', '.join(names)}" + tail)

    def _earliest(self, engine: Any, duration: int, after: int, **kw: Any) -> str:
        limit = self._schedule_end(self._now(), kw.get("elevated", False))
        try:
            slots = engine.speculate(duration, after, max(after, limit - duration), limit=1, **kw)
        except ValueError:
            return ""
        if not slots:
            return "; no window in the scheduling horizon would work"
        return f"; earliest window that would work starts {format_datetime(slots[0].start)}"

    # -- permissions and history ------------------------------------------------------------------

    def _grant(self, res: Any) -> None:
        db = self.ctx.db
        owner_group = db.Group.get(name=PRIVATE_PREFIX + res.owner.name)
        for fact in perms.reservation_owner_facts(res.name):
            if not db.Permission.exists(group=owner_group, fact=fact):
                db.Permission(group=owner_group, fact=fact)
        for fact in perms.reservation_group_facts(res.name):
            if not db.Permission.exists(group=res.group, fact=fact):
                db.Permission(group=res.group, fact=fact)

    def _next_notify(self, res: Any, now: int) -> int:
        """When ``res`` is owed its first expiry notice (:mod:`igor.mail.schedule`); 0 with notices off."""
        from igor.mail import initial_next_notify, notify_times

        times = notify_times(self.ctx.config.email)
        return initial_next_notify(res.end - now, times, held=res.end - max(res.start, now)) if times else 0

    def _revoke(self, name: str) -> None:
        db = self.ctx.db
        prefix = f"reservations:{name}:"
        for row in db.Permission.select(lambda p: p.fact.startswith(prefix)):
            if perms.names_resource(row.fact, "reservations", name):
                row.delete()

    def _history(self, res: Any, status: str, end: int | None = None) -> None:
        record_history(self.ctx, res, status, end=end)

    # -- show -------------------------------------------------------------------------------------

    @db_session
    def show(self, principal: Principal, filters: dict[str, Any]) -> list[ReservationView]:
        """Reservations: the caller's own (and their groups'), or every one with ``all``; filters narrow."""
        require(principal, "reservations:*:view", kind="reservation")
        with self.scheduler.locked():
            views = self.views(self._now())
        mine = set(principal.groups)
        return [v for v in views
                if (filters.get("all") or v.owner == principal.name or (v.group and v.group in mine))
                and _selected(v, filters)]

    # -- delete -----------------------------------------------------------------------------------

    @db_session(immediate=True)
    def delete(self, principal: Principal, name: str) -> str:
        db = self.ctx.db
        res = find(db.Reservation, name=name)
        require(principal, perms.fact("reservations", name, "delete"), kind="reservation", name=name,
                exists=res is not None)
        with self.scheduler.writing() as engine:
            now = self._now()
            if principal.name != res.owner.name:
                reservation_mail(self.ctx, "reservation-deleted", res, actor=principal.name)
            self.finish(res, now, engine, "deleted", end=min(res.end, max(now, res.start)))
        return f"reservation '{name}' deleted"

    def expire(self, res: Any, now: int, engine: Any) -> None:
        """Close out ``res``, whose end has passed (the lifecycle worker, inside :meth:`Scheduler.writing`)."""
        reservation_mail(self.ctx, "reservation-expired", res)
        self.finish(res, now, engine, "finished")

    def finish(self, res: Any, now: int, engine: Any, status: str, end: int | None = None) -> None:
        """The end every reservation comes to (deleted or expired): the outside-world clean-up and maintenance
        queued (:func:`~igor.services.closeout.end_reservation`), history written, grants and a temporary
        profile removed, the row deleted. Inside :meth:`Scheduler.writing`."""
        end_reservation(self.ctx, res, now, engine, self.scheduler.hosts.by_id)
        self._history(res, status, end=end)
        self._revoke(res.name)
        profile = res.profile
        rid = res.id
        res.delete()
        if profile is not None and profile.is_default and not profile.reservations:
            profile.delete()
        if rid in engine:
            engine.remove(rid)

    # -- extend -----------------------------------------------------------------------------------

    @db_session(immediate=True)
    def extend(self, principal: Principal, name: str, *, extend: Any = None, extend_max: bool = False,
               dry_run: bool = False) -> tuple[ReservationView, str]:
        """Extend by a duration, to an end time (epoch seconds), or as far as possible (reference §4.6)."""
        db = self.ctx.db
        res = find(db.Reservation, name=name)
        require(principal, perms.fact("reservations", name, "edit", "extend"), kind="reservation", name=name,
                exists=res is not None)
        cfg = self.ctx.config.scheduler
        elevated = principal.elevated
        now = self._now()
        if not elevated and cfg.extend_within < 0:
            raise BadInput("extending a reservation has been disabled for normal users - talk to an igor admin "
                           "if you wish to change your reservation end time")
        if not elevated and any(h.state == BLOCKED for h in res.hosts):
            raise Conflict("cannot extend a reservation containing nodes with a blocked status -- contact cluster "
                           "admin team")
        if not elevated and cfg.extend_within > 0 and res.end - now > cfg.extend_within:
            raise BadInput(f"reservations can only be extended if they are within "
                           f"{format_duration(cfg.extend_within)} of ending")
        with self.scheduler.writing() as engine:
            groups = self._owner_groups(res.owner)
            cap = self._schedule_end(now, elevated)
            if extend_max:
                new_end = engine.max_end(res.id, now=now, cap=cap, groups=groups, elevated=elevated)
                if new_end <= res.end:
                    raise Conflict(f"reservation '{name}' cannot be extended: "
                                   + self._extend_blocker(engine, res, now, cap, groups, elevated))
            else:
                new_end = self._new_end(res, extend)
                if new_end > cap:
                    if elevated:
                        raise BadInput(f"reservation can't fall outside the maximum end datetime allowed "
                                       f"{format_datetime(cap)}")
                    raise BadInput(f"reservation would fall outside igor's scheduling window that ends on "
                                   f"{format_datetime(cap)}")
                conflict = engine.check_extend(res.id, new_end, now=now, groups=groups, elevated=elevated)
                if conflict:
                    reason = self._extend_reason(engine, conflict, res, new_end, now, cap, groups, elevated)
                    if conflict.too_long:  # v2's checkTimeLimit: 400 and its own message
                        raise BadInput(reason)
                    raise Conflict("cannot extend reservation; " + reason)
            pad = res.reset_end - res.end
            hosts = [self.scheduler.hosts.by_id[h.id] for h in res.hosts]
            engine.replace(res.id, hosts, res.start, new_end, new_end + pad)
            old_end = res.end
            res.end = new_end
            res.reset_end = new_end + pad
            res.extend_count += 1
            view = self._view(res, now)
            if dry_run:
                engine.replace(res.id, hosts, res.start, old_end, old_end + pad)
                raise _DryRun(view)
            res.next_notify = self._next_notify(res, now)
            self._history(res, "updated:extend")
            if principal.name != res.owner.name:
                reservation_mail(self.ctx, "reservation-extended", res, actor=principal.name, old_end=old_end)
        return view, f"reservation '{name}' extended from {format_datetime(old_end)} to {format_datetime(new_end)}"

    def extend_or_dry_run(self, principal: Principal, name: str, **kw: Any) -> tuple[ReservationView, str, bool]:
        try:
            view, message = self.extend(principal, name, **kw)
            return view, message, False
        except _DryRun as dry:
            return dry.view, f"reservation '{name}' could be extended to {format_datetime(dry.view.end)}", True

    def _new_end(self, res: Any, extend: Any) -> int:
        if isinstance(extend, str):
            minutes = parse_duration(extend)
            if minutes <= 0:
                raise BadInput(f"invalid extension '{extend}': must be longer than 0")
            return res.end + minutes
        if isinstance(extend, (int, float)) and not isinstance(extend, bool):
            new_end = int(extend) // 60
            if new_end <= res.end:
                raise BadInput(f"extend datetime '{format_datetime(new_end)}' is earlier than original "
                               f"'{format_datetime(res.end)}'")
            return new_end
        raise BadInput("invalid parameter 'extend': must be a duration string or an end time (epoch seconds)")

    def _extend_reason(self, engine: Any, conflict: Any, res: Any, new_end: int, now: int, cap: int,
                       groups: frozenset[str], elevated: bool) -> str:
        latest = engine.max_end(res.id, now=now, cap=cap, groups=groups, elevated=elevated)
        hint = f"; the latest possible end is {format_datetime(latest)}" if latest > res.end else \
            "; it cannot be extended at all now"
        if conflict.too_long:
            limit = min(engine_policy_time(self.ctx.db, self.scheduler.hosts.ids[i]) for i in conflict.too_long)
            return (f"max allowable time is {go_duration(limit)} (you requested "
                    f"{go_duration(new_end - max(now, res.start))})" + hint)
        if conflict.busy:
            names = sorted(r.name for r in self.ctx.db.Reservation.select(lambda r: r.id in conflict.reservations))
            return (f"one or more hosts are reserved prior to the proposed new end time "
                    f"({', '.join(names)} on {self._names(conflict.busy)})" + hint)
        if conflict.blocked:
            return f"host(s) {self._names(conflict.blocked)} are blocked" + hint
        if conflict.denied:
            return f"host(s) {self._names(conflict.denied)} are group-restricted and unavailable to the owner" + hint
        return (f"the schedule-restricted host(s) {self._names(conflict.unavailable)} are unavailable before the "
                f"proposed new end time" + hint)

    def _extend_blocker(self, engine: Any, res: Any, now: int, cap: int, groups: frozenset[str],
                        elevated: bool) -> str:
        if res.end >= cap:
            return f"it already ends at the end of igor's scheduling window ({format_datetime(cap)})"
        conflict = engine.check_extend(res.id, res.end + 1, now=now, groups=groups, elevated=elevated)
        if not conflict:
            return "it already ends at the latest time its policies allow"
        if conflict.too_long:
            limit = min(engine_policy_time(self.ctx.db, self.scheduler.hosts.ids[i]) for i in conflict.too_long)
            return f"it already ends at the latest time its policies allow (max allowable time is {go_duration(limit)})"
        return self._extend_reason(engine, conflict, res, res.end + 1, now, cap, groups, elevated)

    # -- speculate --------------------------------------------------------------------------------

    @db_session
    def speculate(self, principal: Principal, nodes: str, duration: str | None, after: int | None,
                  limit: int, where: str | None = None) -> list[dict[str, Any]]:
        """The earliest windows at or after ``after`` in which the request would be granted now."""
        require(principal, "reservations:*:create", kind="reservation")
        cfg = self.ctx.config.scheduler
        minutes = parse_duration(duration) if duration else cfg.default_reserve_time
        if minutes <= 0:
            raise BadInput(f"invalid duration '{duration}': must be longer than 0")
        if not 1 <= limit <= 100:
            raise BadInput(f"invalid parameter 'limit': {limit} is not between 1 and 100")
        if not principal.elevated and minutes < cfg.min_reserve_time:
            raise BadInput(f"reservation duration must be larger than minimum value {cfg.min_reserve_time} minutes")
        now = self._now()
        start = max(now, (after // 60) if after is not None else now)
        owner = self.ctx.db.User.get(name=principal.name)
        groups = self._owner_groups(owner)
        horizon = self._schedule_end(now, principal.elevated)
        with self.scheduler.locked() as engine:
            rng = self._range()
            request = parse_request(nodes.strip(), rng)
            kw: dict[str, Any] = {"groups": groups, "elevated": principal.elevated, "limit": limit}
            if isinstance(request, int):
                if request < 1:
                    raise BadInput("reservation must include at least one host")
                kw["count"] = request
                self._check_limit(principal, request)
                if where:
                    kw["within"] = self._matching(parse_where(where))
            else:
                if where:
                    raise BadInput("'where' filters hosts chosen by count, not a host list")
                kw["hosts"] = self._named_hosts(rng, nodes)
                self._check_limit(principal, len(kw["hosts"]))
            until = horizon - minutes
            if until < start:
                return []
            slots = engine.speculate(minutes, start, until, **kw)
            names = self.scheduler.hosts.names
            return [{"start": s.start * 60, "end": (s.start + minutes) * 60, "latestStart": s.latest_start * 60,
                     "hosts": [names[h] for h in s.hosts], "hostRange": str(NodeList(names[h] for h in s.hosts))
                     if s.hosts else ""} for s in slots]


def _by_vlan(rows: Any) -> dict[int, list[tuple[str, str]]]:
    out: dict[int, list[tuple[str, str]]] = {}
    for vlan, name, owner in rows:
        if vlan:
            out.setdefault(vlan, []).append((name, owner))
    return out


def reservation_rows(db: Any) -> list[tuple[Any, ...]]:
    """Every reservation's view columns as plain tuples, straight from the driver (Pony's query layer costs ten
    times more per row here, and this runs for every ``GET /igor``)."""
    q = db.provider.quote_name
    sql = (f"SELECT r.id, r.name, r.description, u.name, g.name, g.is_user_private, r.profile, r.vlan, r.start, "
           f"r.{q('end')}, r.orig_end, r.extend_count, r.installed, r.install_error "
           f"FROM reservations r JOIN users u ON u.id = r.owner JOIN {q('groups')} g ON g.id = r.{q('group')}")
    cursor = db.get_connection().cursor()
    cursor.execute(sql)
    return [(rid, name, desc, owner, group, bool(private), pid, vlan, start, end, orig, ext, bool(inst), err)
            for rid, name, desc, owner, group, private, pid, vlan, start, end, orig, ext, inst, err
            in cursor.fetchall()]


class _DryRun(Rollback):
    """A dry run's answer: the transaction is rolled back and the engine change undone."""

    def __init__(self, view: ReservationView) -> None:
        super().__init__("dry run")
        self.view = view


def _selected(view: ReservationView, filters: dict[str, Any]) -> bool:
    for key, attr in (("name", "name"), ("owner", "owner"), ("group", "group"), ("distro", "distro"),
                      ("profile", "profile")):
        wanted = filters.get(key)
        if wanted and getattr(view, attr) not in wanted:
            return False
    return True


def image_boot_modes(profile: Any) -> frozenset[str] | None:
    """The boot modes the image of ``profile``'s distro boots (None: no image, any host will do)."""
    image = profile.distro.image if profile is not None and profile.distro is not None else None
    if image is None:
        return None
    modes = frozenset(m for m, on in (("bios", image.bios_boot), ("uefi", image.uefi_boot)) if on)
    return modes or None  # an image imported without modes (v2 never stored them) is not held to any


def engine_policy_time(db: Any, host_id: int) -> int:
    policy = db.Host[host_id].policy
    return policy.max_res_time if policy is not None else 0
