"""Hosts, write side: ``host edit``, ``host del``, ``host block`` and ``host unblock`` (reference §1.4, §4.9).

Every change runs in one writing transaction of the :class:`~igor.scheduler.Scheduler` (the schedule epoch is
bumped with it), so every server process sees the new host list, policies and blocks on its next request.

* **Block** takes the listed hosts out of scheduling: they cannot be newly reserved or extended onto (SPEC §5). A
  reservation already running on a host that gets blocked keeps running and keeps power control; only its
  extension is refused (``ReservationService.extend``). Blocking is idempotent. The blocks are applied to the
  engine as they are written (one block per host, keyed by the host's id, exactly as a rebuild derives them from
  ``state == blocked``), so no rebuild is needed.
* **Unblock** needs every listed host to be blocked (409 naming the first that is not, nothing changed); hosts
  running a reservation go back to ``reserved``, the others to ``available``. A host in maintenance stays blocked
  until the maintenance ends and then returns to that state (its ``restore_state``); blocking one sets its
  ``restore_state`` to blocked, so the block outlives the maintenance.
* **Edit** changes hostname, ip, mac, eth, boot mode or host policy, each checked with the rules
  ``igor-clusters.yaml`` itself is read with, so the rewritten file always loads again.
* **Delete** is refused while the host is in any reservation (the refusal names them).

After an edit or delete the cluster file is rewritten from the database with a timestamped backup of the old one
(:meth:`ClusterService.dump`), when the server has a cluster file. Igor v2 rewrote it only for policy, ip and eth
changes, and failed the whole edit (500, rolled back) when it found no file; here the database change stands and
the answer says what went wrong with the file.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from pathlib import Path
from typing import Any

from pony.orm import db_session, flush

from igor import permissions as perms
from igor.clusters import BOOT_MODES
from igor.errors import BadInput, Conflict, Forbidden, IgorError, NotFound
from igor.nodeset import ClusterRange, NodeList
from igor.rules import check_eth
from igor.scheduler import Scheduler
from igor.services.cluster import AVAILABLE, BLOCKED, DEFAULT_POLICY, RESERVED, ClusterService
from igor.services.context import Principal, ServiceContext, find, require
from igor.services.outbox import queue_email
from igor.timefmt import format_datetime, to_minutes

#: The fields ``PATCH /igor/hosts/{hostName}`` takes, in the order they are checked.
EDIT_FIELDS = ("hostname", "ip", "mac", "eth", "boot", "hostPolicy")

BLOCK_DENIED = "block/unblock hosts requires admin elevated privilege"

# The rules of igor-clusters.yaml (igor.clusters): an edited host must load back from the file it is written to.
_MAC = re.compile(r"[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}")
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*")

#: One rewrite of the cluster file at a time in this process (two edits racing would otherwise interleave).
_DUMP_LOCK = threading.Lock()


class HostService:
    """Host edits, deletes, blocks and unblocks, decided against the database and the scheduling engine."""

    def __init__(self, ctx: ServiceContext, scheduler: Scheduler) -> None:
        self.ctx = ctx
        self.scheduler = scheduler
        self.cluster = ClusterService(ctx)

    # -- authorization ----------------------------------------------------------------------------

    @db_session
    def authorize(self, principal: Principal, name: str, action: str) -> None:
        """Igor v2's authorization step for ``/igor/hosts/{name}`` (``action``: ``edit`` or ``delete``).

        Run before the request body is read, as v2's authz layer runs before its validators. A caller who may
        act is let through even when the host does not exist (the operation itself answers ``host 'x' not
        found``); any other caller gets 404 ``the host 'x' does not exist`` or a 403.
        """
        self._require(principal, name, action)

    def _require(self, principal: Principal, name: str, action: str) -> None:
        try:
            permission = perms.fact("hosts", name, action, "*" if action == "edit" else None)
        except BadInput:  # a name no host can have (':' in it): nothing to authorize against
            permission = None
        if permission is not None and principal.can(permission):
            return
        host = find(self.ctx.db.Host, name=name) if permission is not None else None
        require(principal, permission or "hosts:-:" + action, kind="host", name=name, exists=host is not None)

    @staticmethod
    def require_block(principal: Principal) -> None:
        """Only elevated admins block and unblock (v2's unassignable ``host-block`` permission)."""
        if not principal.elevated:
            raise Forbidden(BLOCK_DENIED)

    # -- block / unblock --------------------------------------------------------------------------

    @db_session(immediate=True)
    def block(self, principal: Principal, hosts: str, block: bool) -> tuple[list[str], str]:
        """Block or unblock the hosts of the expression ``hosts``.

        Returns:
            The host names (in sequence order) and the message (empty, as in v2, unless some hosts stay
            blocked by maintenance).

        Raises:
            Forbidden: the caller is not an elevated admin.
            BadInput: ``hosts`` does not parse, or names nodes outside the cluster's range.
            NotFound: some named hosts do not exist.
            Conflict: unblocking a host that is not blocked.
        """
        self.require_block(principal)
        now = to_minutes(self.ctx.now())
        with self.scheduler.writing() as engine:
            rows = self._hosts(hosts)
            index = self.scheduler.hosts.by_id
            blocks = engine.blocks()
            if block:
                newly = [h for h in rows if h.state != BLOCKED]
                for host in rows:
                    host.state = BLOCKED
                    if host.maintenance:  # the block outlives the maintenance
                        host.restore_state = BLOCKED
                for host in newly:
                    if host.id not in blocks:
                        engine.add_block(host.id, [index[host.id]])
                self._notify_blocked(principal, newly, now)
                return [h.name for h in rows], ""
            for host in rows:
                if host.state != BLOCKED:
                    raise Conflict(f"cannot un-block a non-blocked host: '{host.name}'")
            staying: list[str] = []
            for host in rows:
                running = any(r.start <= now < r.end for r in host.reservations)
                target = RESERVED if running else AVAILABLE
                in_maintenance = [m for m in host.maintenance if m.maintenance_end > now]
                if host.maintenance:
                    host.restore_state = target
                if in_maintenance:
                    until = max(m.maintenance_end for m in in_maintenance)
                    staying.append(f"{host.name} (until {format_datetime(until)})")
                    continue
                host.state = target
                if host.id in blocks:
                    engine.remove_block(host.id)
        message = ""
        if staying:
            message = ("unblocked; still blocked by maintenance, and available again when it ends: "
                       + ", ".join(staying))
        return [h.name for h in rows], message

    def _hosts(self, expr: str) -> list[Any]:
        """The host rows named by ``expr``, in sequence order (404 naming any that do not exist)."""
        db = self.ctx.db
        cluster = db.Cluster.select().first()
        hosts = self.scheduler.hosts
        if cluster is None or not hosts.seqs:
            raise NotFound("the cluster has no hosts yet: an admin must run 'igor cluster config'")
        rng = ClusterRange(cluster.prefix, hosts.seqs[0], hosts.seqs[-1])
        try:
            names = rng.expand(expr)
        except BadInput as exc:
            raise BadInput(f"can't parse hosts - {expr}: {exc}") from None
        missing = [n for n in names if n not in hosts.by_name]
        if missing:
            raise NotFound(f"host '{missing[0]}' not found" if len(missing) == 1 and len(names) == 1
                           else f"host(s) '{','.join(missing)}' not found")
        return self.scheduler.host_rows(hosts.by_name[n] for n in names)

    def _notify_blocked(self, principal: Principal, newly: list[Any], now: int) -> None:
        """Tell the people of each running reservation which of its hosts were just blocked."""
        touched: dict[str, tuple[Any, list[str]]] = {}
        for host in newly:
            for res in host.reservations:
                if res.start <= now < res.end:
                    touched.setdefault(res.name, (res, []))[1].append(host.hostname)
        cluster = self.ctx.db.Cluster.select().first()
        for name, (res, hostnames) in sorted(touched.items()):
            to = [res.owner.email] if res.owner.email else []
            cc = [] if res.group.is_user_private else \
                [u.email for u in res.group.members if u.email and u.email not in to]
            queue_email(self.ctx, "reservation-blocked", to, cc=cc,
                        reservation=name, cluster=cluster.name if cluster else "",
                        hosts=str(NodeList(hostnames)), actor=principal.name)

    # -- edit -------------------------------------------------------------------------------------

    def edit(self, principal: Principal, name: str, changes: dict[str, Any]) -> str:
        """Change some of a host's ``hostname, ip, mac, eth, boot, hostPolicy`` (``""`` policy = default).

        Returns:
            The message: empty (as in v2) unless the cluster file could not be rewritten.

        Raises:
            Forbidden / NotFound: as :meth:`authorize`; NotFound ``host 'x' not found`` for an admin.
            BadInput: no change given, or a value that breaks its rule, or is taken by another host.
        """
        self._edit(principal, name, changes)
        return self._rewrite_clusters_file(principal, f"'{name}' updated")

    @db_session(immediate=True)
    def _edit(self, principal: Principal, name: str, changes: dict[str, Any]) -> None:
        db = self.ctx.db
        self._require(principal, name, "edit")
        unknown = sorted(set(changes) - set(EDIT_FIELDS))
        if unknown:
            raise BadInput(f"unknown parameter '{unknown[0]}' received: {changes[unknown[0]]}")
        if not changes:
            raise BadInput("requested operation had no parameters")
        with self.scheduler.writing():
            host = find(db.Host, name=name)
            if host is None:
                raise NotFound(f"host '{name}' not found")
            values = _checked(changes)
            policy = None
            if "hostPolicy" in values:
                wanted = values["hostPolicy"] or DEFAULT_POLICY
                policy = find(db.HostPolicy, name=wanted)
                if policy is None:
                    raise BadInput(f"no host policy found with name {wanted}")
            if "hostname" in values and values["hostname"] != host.hostname:
                other = find(db.Host, hostname=values["hostname"])
                if other is not None:
                    raise BadInput(f"hostname '{values['hostname']}' is already used by host {other.name}")
            if "mac" in values and values["mac"] != host.mac:
                other = find(db.Host, mac=values["mac"])
                if other is not None:
                    raise BadInput(f"mac {values['mac']} is already used by host {other.name}")
            renamed = "hostname" in values and values["hostname"] != host.hostname
            if renamed:
                self._rename_power_facts(host.hostname, values["hostname"])
                host.hostname = values["hostname"]
            for key, attr in (("ip", "ip"), ("mac", "mac"), ("eth", "eth"), ("boot", "boot_mode")):
                if key in values:
                    setattr(host, attr, values[key])
            if policy is not None:
                host.policy = policy
            flush()
            if renamed or policy is not None:
                # Policies and hostnames live in the engine and its host index: every process rebuilds them from
                # what was written. The rest (ip, mac, eth, boot mode) is read from the database where it is used,
                # and the bumped epoch refreshes every process's cached views.
                self.scheduler.invalidate()

    def _rename_power_facts(self, old: str, new: str) -> None:
        """Running reservations' power grants name hosts by hostname: keep them pointing at the renamed host."""
        db = self.ctx.db
        prefix = perms.RESOURCE_POWER + perms.DIVIDER
        for row in list(db.Permission.select(lambda p: p.fact.startswith(prefix))):
            names = row.fact[len(prefix):].split(perms.SUBPART)
            if old not in names:
                continue
            fact = perms.power_fact(new if n == old else n for n in names)
            if db.Permission.exists(group=row.group, fact=fact):
                row.delete()
            else:
                row.fact = fact

    # -- delete -----------------------------------------------------------------------------------

    def delete(self, principal: Principal, name: str) -> str:
        """Remove a host from the cluster (refused while it is in any reservation).

        Returns:
            The message: empty (as in v2) unless the cluster file could not be rewritten.

        Raises:
            Forbidden / NotFound: as :meth:`authorize`; NotFound ``host 'x' not found`` for an admin.
            Conflict: the host is in a current or future reservation (named).
        """
        self._delete(principal, name)
        return self._rewrite_clusters_file(principal, f"'{name}' deleted")

    @db_session(immediate=True)
    def _delete(self, principal: Principal, name: str) -> None:
        db = self.ctx.db
        self._require(principal, name, "delete")
        with self.scheduler.writing():
            host = find(db.Host, name=name)
            if host is None:
                raise NotFound(f"host '{name}' not found")
            held = sorted(r.name for r in host.reservations)
            if held:
                raise Conflict(f"cannot delete a node with an active reservation: host '{name}' is in current or "
                               f"future reservation(s) {', '.join(held)}")
            host.delete()
            flush()
            # The host list changed: the engine and its host index are rebuilt from the database on next use.
            self.scheduler.invalidate()

    # -- the cluster file -------------------------------------------------------------------------

    def _rewrite_clusters_file(self, principal: Principal, done: str) -> str:
        """Rewrite igor-clusters.yaml (with a backup) when the server has one; '' or v2's partial-success text."""
        path = self.ctx.config.clusters_file
        if path is None or not Path(path).exists():
            return ""
        try:
            with _DUMP_LOCK:
                self.cluster.dump(principal)
        except (OSError, IgorError) as exc:
            return f"{done} but problem writing new igor-clusters.yaml : {exc}"
        return ""


def _checked(changes: dict[str, Any]) -> dict[str, str]:
    """Each given field checked and normalised (v2's messages where it had one), in :data:`EDIT_FIELDS` order."""
    out: dict[str, str] = {}
    for key in EDIT_FIELDS:
        if key not in changes:
            continue
        value = changes[key]
        if not isinstance(value, str):
            raise BadInput(f"invalid parameter '{key}': must be a string, got {type(value).__name__}")
        value = value.strip()
        if key == "hostname":
            if not value:
                raise BadInput("hostname cannot be empty")
            if not _HOSTNAME.fullmatch(value):
                raise BadInput(f"'{value}' is not a valid hostname (dot-separated labels of letters, digits, '_' "
                               "and '-', not starting or ending with '-', at most 253 characters)")
        elif key == "ip":
            try:
                value = str(ipaddress.ip_address(value))
            except ValueError:
                raise BadInput(f"invalid parameter 'ip': must be a valid IPv4/6 string, got {value!r}") from None
        elif key == "mac":
            if not _MAC.fullmatch(value):
                raise BadInput(f"invalid mac address value {value} given for host update (six hex pairs "
                               "separated by ':' or '-', e.g. 52:54:00:12:34:56)")
            value = value.lower().replace("-", ":")
        elif key == "eth":
            if not value:
                raise BadInput("eth value name cannot be empty")
            check_eth(value)
        elif key == "boot":
            value = value.lower()
            if value not in BOOT_MODES:
                raise BadInput(f"invalid boot type given: '{changes[key]}' (must be {' or '.join(BOOT_MODES)})")
        out[key] = value
    return out
