"""Host policies: ``policy create|show|edit|del|apply`` (reference §1.5, §2.4, §4.5; SPEC §5).

A policy is a maximum reservation time, the groups allowed to reserve its hosts and recurring not-available
windows; every host has exactly one. The ``default`` policy (open to everybody, maximum time
``scheduler.maxReserveTime``, no windows) can be neither edited nor deleted, and ``default`` is reserved as a name
whatever its letter case.

Access groups are stored as the policy's group rows; a policy with none is open to everybody and is shown as
``["all"]`` (as Igor v2 stores its ``all`` group). Not-available windows are stored as
``[{"start": "<5-field cron>", "duration": minutes}]``.

Every change runs inside :meth:`Scheduler.writing`, applies the new policies to the engine before leaving it (so
the engine the block marks current is the one the database now describes) and bumps the schedule epoch, so every
other worker rebuilds. Applying or editing a policy never touches existing reservations; the engine simply
judges new requests and extensions by the new rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pony.orm import db_session, flush

from igor._sched._windows import parse_window
from igor.errors import BadInput, Conflict, Forbidden, NotFound
from igor.nodeset import ClusterRange, NodeList
from igor.rules import check_resource_name
from igor.scheduler import Scheduler, engine_policy
from igor.services.cluster import DEFAULT_POLICY
from igor.services.context import (
    ADMINS_GROUP,
    ALL_GROUP,
    PRIVATE_PREFIX,
    Principal,
    ServiceContext,
    find,
    require_elevated,
)
from igor.timefmt import format_duration, go_duration, parse_duration

KIND = "host policy"
#: The alias for "no group"; like ``all``, ``admins`` and private groups it can never be an access group.
NONE_ALIAS = "none"
ELEVATE_FIRST = "elevated access is required before running this command"
DEFAULT_EDIT = ("changes to the default host policy are not permitted; MaxResTime will be auto-updated by changing "
                "the server config setting")
DEFAULT_DELETE = "deleting the default host policy is not permitted"

Block = tuple[str, int]  # (normalised cron, minutes)


@dataclass(frozen=True)
class PolicyView:
    name: str
    hosts: tuple[str, ...]
    max_res_time: int
    access_groups: tuple[str, ...]
    blocks: tuple[Block, ...]

    def to_json(self) -> dict[str, Any]:
        """Igor v2's HostPolicyData."""
        return {"name": self.name, "hosts": str(NodeList(self.hosts)) if self.hosts else "",
                "maxResTime": go_duration(self.max_res_time),
                "accessGroups": list(self.access_groups) or [ALL_GROUP],
                "scheduleBlock": [{"start": cron, "duration": format_duration(minutes)}
                                  for cron, minutes in self.blocks]}


def _view(policy: Any) -> PolicyView:
    return PolicyView(name=policy.name, hosts=tuple(h.name for h in policy.hosts), max_res_time=policy.max_res_time,
                      access_groups=tuple(sorted(g.name for g in policy.access_groups)),
                      blocks=tuple(_stored_blocks(policy)))


def _stored_blocks(policy: Any) -> list[Block]:
    return [(str(b["start"]), int(b["duration"])) for b in (policy.not_available or [])]


def _store_blocks(blocks: Iterable[Block]) -> list[dict[str, Any]]:
    return [{"start": cron, "duration": minutes} for cron, minutes in blocks]


# -- input rules (no database) ----------------------------------------------------------------------------------


def check_policy_name(name: Any) -> str:
    """A legal name that is not ``default`` (any case). Raises BadInput (rules) or Conflict (``default``)."""
    check_resource_name(name, KIND)
    if name.lower() == DEFAULT_POLICY:
        raise Conflict(f"'{name}' is the system default host policy name")
    return name


def parse_max_time(text: str) -> int:
    """``maxResTime``: a duration of at least one minute, in minutes."""
    minutes = parse_duration(text)
    if minutes < 1:
        raise BadInput(f"invalid parameter 'maxResTime': '{text}' is shorter than 1 minute")
    return minutes


def parse_blocks(key: str, exprs: Sequence[str]) -> list[Block]:
    """Not-available windows given as ``"<cron>:<duration>"``; duplicates are dropped, order kept."""
    out: list[Block] = []
    for expr in exprs:
        try:
            block = parse_window(expr)
        except ValueError as exc:
            raise BadInput(f"invalid parameter '{key}': {exc}") from None
        if block not in out:
            out.append(block)
    return out


def check_group_names(names: Sequence[str]) -> list[str]:
    """Group names as names (v2 ``checkGroupNameRules``), duplicates dropped."""
    out: list[str] = []
    for name in names:
        check_resource_name(name, "group")
        if name not in out:
            out.append(name)
    return out


def _assignable(name: str) -> None:
    if name in (ALL_GROUP, ADMINS_GROUP, NONE_ALIAS) or name.startswith(PRIVATE_PREFIX):
        raise Conflict(f"group not allowed as access group: {name}")


def _edit_blocks(name: str, current: list[Block], add: list[Block], remove: list[Block]) -> list[Block]:
    """``current`` plus ``add`` (duplicates skipped), then without each of ``remove`` — exactly that window, not
    every window sharing its start or its duration (Igor v2's ``removeSBInstance`` bug, reference §11 item 15)."""
    blocks = list(current)
    for block in add:
        if block not in blocks:
            blocks.append(block)
    for block in remove:
        if block not in blocks:
            cron, minutes = block
            raise NotFound(f"host policy '{name}' has no not-available window '{cron}' lasting "
                           f"{format_duration(minutes)}")
        blocks.remove(block)
    return blocks


class PolicyService:
    """Host policy operations; every change is a scheduling change (epoch bumped, engine updated)."""

    def __init__(self, ctx: ServiceContext, scheduler: Scheduler) -> None:
        self.ctx = ctx
        self.scheduler = scheduler

    # -- helpers ----------------------------------------------------------------------------------

    def _policy(self, name: str) -> Any:
        policy = find(self.ctx.db.HostPolicy, name=name)
        if policy is None:
            raise NotFound(f"policy(s) '{name}' not found")
        return policy

    def _require_named(self, principal: Principal, name: str) -> None:
        """Igor v2's authorization of ``/hostpolicy/<name>``: admins only; a non-elevated admin learns whether
        the policy exists, anyone else only that access is denied."""
        if principal.elevated:
            return
        if not principal.admin_member:
            raise Forbidden("access denied")
        if find(self.ctx.db.HostPolicy, name=name) is None:
            raise NotFound(f"the policy '{name}' does not exist")
        raise Forbidden(ELEVATE_FIRST)

    def _groups(self, names: Sequence[str], *, private: bool = False) -> list[Any]:
        """The groups named, every one of which must exist (v2 ``getGroups`` messages)."""
        db = self.ctx.db
        found = {n: g for n in names
                 if (g := find(db.Group, name=n)) is not None and (private or not g.is_user_private)}
        missing = [n for n in names if n not in found]
        if len(missing) == 1 and len(names) == 1:
            raise NotFound(f"group '{missing[0]}' not found")
        if missing:
            raise NotFound(f"group(s) '{','.join(missing)}' not found")
        return [found[n] for n in names]

    def _cluster_range(self) -> ClusterRange | None:
        hosts = self.scheduler.hosts
        cluster = self.ctx.db.Cluster.select().first()
        if cluster is None or not hosts.seqs:
            return None
        return ClusterRange(cluster.prefix, hosts.seqs[0], hosts.seqs[-1])

    def _hosts(self, expr: str) -> list[int]:
        """The engine indices of the hosts of a node expression (all of which must exist)."""
        rng = self._cluster_range()
        if rng is None:
            raise NotFound("the cluster has no hosts yet: an admin must run 'igor cluster config'")
        index = self.scheduler.hosts
        try:
            seqs = rng.seqs(expr, existing=set(index.seqs))
        except BadInput as exc:
            raise BadInput(f"couldn't parse node specification {expr}: {exc}") from None
        position = {seq: i for i, seq in enumerate(index.seqs)}
        return [position[s] for s in seqs]

    def _sync(self, engine: Any) -> None:
        """Give the engine the policies and host assignments the database now holds (inside ``writing()``)."""
        db = self.ctx.db
        flush()
        index = self.scheduler.hosts
        host_policy: list[int | None] = [None] * len(index.ids)
        for host in db.Host.select():
            host_policy[index.by_id[host.id]] = host.policy.id if host.policy is not None else None
        engine.set_policies([engine_policy(p) for p in db.HostPolicy.select()], host_policy)

    # -- create -----------------------------------------------------------------------------------

    @db_session(immediate=True)
    def create(self, principal: Principal, req: dict[str, Any]) -> PolicyView:
        """``POST /igor/hostpolicy``: ``{name, maxResTime, accessGroups, notAvailable}`` (admin)."""
        require_elevated(principal)
        db = self.ctx.db
        name = req["name"]
        check_resource_name(name, KIND)
        max_time = (parse_max_time(req["maxResTime"]) if "maxResTime" in req
                    else self.ctx.config.scheduler.max_reserve_time)
        blocks = parse_blocks("notAvailable", req.get("notAvailable") or [])
        group_names = check_group_names(req.get("accessGroups") or [])
        check_policy_name(name)
        with self.scheduler.writing() as engine:
            if find(db.HostPolicy, name=name) is not None:
                raise Conflict(f"host policy '{name}' already exists")
            for group in group_names:
                _assignable(group)
            groups = self._groups(group_names)
            policy = db.HostPolicy(name=name, max_res_time=max_time, not_available=_store_blocks(blocks))
            policy.access_groups.add(groups)
            self._sync(engine)
            view = _view(policy)
        return view

    # -- show -------------------------------------------------------------------------------------

    @db_session
    def show(self, principal: Principal, filters: dict[str, list[str]] | None = None) -> list[PolicyView]:
        """``GET /igor/hostpolicy`` (any user): every policy, narrowed by ``name``, ``accessGroups`` (any of the
        policy's groups; ``all`` matches open policies) and ``hosts`` (node expressions)."""
        db = self.ctx.db
        filters = filters or {}
        names = set(filters.get("name") or [])
        for name in names:
            check_resource_name(name, KIND)
        groups = check_group_names(filters.get("accessGroups") or [])
        if groups:
            self._groups(groups, private=True)
        hosts: set[str] | None = None
        if filters.get("hosts"):
            with self.scheduler.locked():
                index = self.scheduler.hosts
                hosts = {index.names[i] for expr in filters["hosts"] for i in self._hosts(expr)}
        out = []
        for policy in db.HostPolicy.select().order_by(db.HostPolicy.name).prefetch(db.HostPolicy.hosts,
                                                                                   db.HostPolicy.access_groups):
            view = _view(policy)
            if names and view.name not in names:
                continue
            if groups and not set(groups) & set(view.access_groups or (ALL_GROUP,)):
                continue
            if hosts is not None and not hosts & set(view.hosts):
                continue
            out.append(view)
        return out

    # -- edit -------------------------------------------------------------------------------------

    @db_session(immediate=True)
    def edit(self, principal: Principal, name: str, changes: dict[str, Any]) -> str:
        """``PATCH /igor/hostpolicy/<name>``: ``name``, ``maxResTime``, ``addGroups``, ``removeGroups``,
        ``addNotAvailable``, ``removeNotAvailable`` (admin). Groups are removed before they are added, windows
        added before they are removed (as Igor v2). Removing a window removes exactly that window."""
        self._require_named(principal, name)
        if name == DEFAULT_POLICY:
            raise Forbidden(DEFAULT_EDIT)
        db = self.ctx.db
        self._policy(name)
        new_name = changes.get("name")
        if new_name is not None:
            check_resource_name(new_name, KIND)
        max_time = parse_max_time(changes["maxResTime"]) if "maxResTime" in changes else None
        add_blocks = parse_blocks("addNotAvailable", changes.get("addNotAvailable", []))
        remove_blocks = parse_blocks("removeNotAvailable", changes.get("removeNotAvailable", []))
        add_groups = check_group_names(changes.get("addGroups", []))
        remove_groups = check_group_names(changes.get("removeGroups", []))
        if new_name is not None:
            check_policy_name(new_name)
        with self.scheduler.writing() as engine:
            policy = self._policy(name)
            if new_name is not None:
                if find(db.HostPolicy, name=new_name) is not None:
                    raise Conflict(f"host policy '{new_name}' already exists")
                policy.name = new_name
            if max_time is not None:
                policy.max_res_time = max_time
            if "removeGroups" in changes or "addGroups" in changes:
                self._edit_groups(policy, name, changes, add_groups, remove_groups)
            if add_blocks or remove_blocks:
                policy.not_available = _store_blocks(_edit_blocks(name, _stored_blocks(policy), add_blocks,
                                                                  remove_blocks))
            self._sync(engine)
        return ""

    def _edit_groups(self, policy: Any, name: str, changes: dict[str, Any], add: list[str],
                     remove: list[str]) -> None:
        current = {g.name: g for g in policy.access_groups}
        if "removeGroups" in changes:
            if not remove:
                raise NotFound("requested group(s) to remove not found")
            for group in self._groups(remove):
                if group.name not in current and not (group.name == ALL_GROUP and not current):
                    raise BadInput(f"group '{group.name}' is not an access group of host policy '{name}'")
                current.pop(group.name, None)
        if "addGroups" in changes:
            if not add:
                raise NotFound("requested group(s) to add not found")
            for group_name in add:
                _assignable(group_name)
            for group in self._groups(add):
                current[group.name] = group
            if len(current) > 1:
                current.pop(ALL_GROUP, None)  # adding groups to an open policy restricts it to them
        if set(current) == {ALL_GROUP}:
            current = {}  # open: stored as no groups
        policy.access_groups.clear()
        policy.access_groups.add(list(current.values()))  # none left: open to everybody again

    # -- delete -----------------------------------------------------------------------------------

    @db_session(immediate=True)
    def delete(self, principal: Principal, name: str) -> str:
        """``DELETE /igor/hostpolicy/<name>`` (admin): refused while any host uses the policy."""
        self._require_named(principal, name)
        if name == DEFAULT_POLICY:
            raise Forbidden(DEFAULT_DELETE)
        self._policy(name)
        with self.scheduler.writing() as engine:
            policy = self._policy(name)
            if policy.hosts:
                hosts = NodeList(h.name for h in policy.hosts)
                raise Conflict(f"deleting host policy while still assigned to a host is not permitted: '{name}' is "
                               f"the policy of {hosts} (apply another policy to them first)")
            policy.access_groups.clear()
            policy.delete()
            self._sync(engine)
        return ""

    # -- apply ------------------------------------------------------------------------------------

    @db_session(immediate=True)
    def apply(self, principal: Principal, policy_name: str, node_list: str) -> str:
        """``PATCH /igor/hosts-ctrl/policy`` (admin): make ``policy_name`` the policy of the hosts of
        ``node_list`` (``default`` reverts them). Reservations already on those hosts are left as they are."""
        require_elevated(principal)
        if not node_list.strip():
            raise BadInput("at least 1 host name required to apply a policy")
        with self.scheduler.writing() as engine:
            policy = self._policy(policy_name)
            for host in self.scheduler.host_rows(self._hosts(node_list.strip())):
                host.policy = policy
            self._sync(engine)
        return ""
