"""Power: ``igor power on|off|cycle`` (``PATCH /igor/hosts-ctrl/power``) and the power state hosts report
(reference §1.4, §2.4, §4.11; SPEC §6).

**Who may power which hosts.** Elevated admins any host. Anyone else only hosts that are in an *active*
reservation (``start <= now < end``) which they own or whose group they belong to — each target host in such a
reservation, as Igor v2's per-host ``power:<host>`` grants allowed (hosts of two of one's reservations may be
powered in one request). The rule is decided here from the reservations themselves rather than from the
``power:`` permission rows, which the lifecycle worker writes at install time: a reservation that has started is
controllable at once, and one that has ended is not, whatever the worker has done yet. Refusals say why (which
hosts, and that a reservation is not active yet). Non-elevated members of ``admins`` are told to elevate.

**Order of checks** (nothing is powered unless all pass): the command (``on``, ``off``, ``cycle``; 400), exactly
one of ``hosts``/``resName`` (400), the expression parses (400) and names existing hosts, or the reservation
exists (404), the caller may power every host (403), every host has power control configured (refused as a
whole, as v2 refused a missing template: :attr:`PowerOutcome.unconfigured`). Then the hosts are powered in
parallel and each failure is reported by host.

**Power state.** ``host show`` (``GET /igor/hosts``) asks the drivers, through the controller's few-seconds
cache; ``GET /igor`` never waits for a driver: it shows what this process last saw and refreshes stale states in
the background (:meth:`PowerController.peek`). States are Igor v2's ``powered`` strings: ``true``, ``false``,
``unknown``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pony.orm import db_session, select

from igor.errors import BadInput, Forbidden, NotFound
from igor.nodeset import NodeList
from igor.power import ACTIONS, OFF, ON, PowerController, PowerTarget
from igor.rules import check_resource_name
from igor.services.context import Principal, ServiceContext, find
from igor.timefmt import format_datetime, to_minutes

#: ``on``/``off``/``unknown`` as Igor v2's ``powered`` field spells them.
POWERED = {ON: "true", OFF: "false"}

ELEVATE_FIRST = "elevated access is required before running this command"


@dataclass(frozen=True)
class PowerOutcome:
    """What a power request did.

    Attributes:
        action: ``on``, ``off`` or ``cycle``.
        hosts: The target hosts' node names, in sequence order.
        errors: Host name → message for each host that failed (empty: all succeeded).
        unconfigured: Nothing was powered because some hosts have no power control configured (``errors``
            names them).
    """

    action: str
    hosts: tuple[str, ...]
    errors: Mapping[str, str] = field(default_factory=dict)
    unconfigured: bool = False

    @property
    def message(self) -> str:
        """Empty on success (as v2); else ``hosts with errors: [h1 h2] - <each host's problem>``."""
        if not self.errors:
            return ""
        failed = [h for h in self.hosts if h in self.errors]
        return f"hosts with errors: [{' '.join(failed)}] - " + "; ".join(self.errors[h] for h in failed)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"hosts": list(self.hosts), "cmd": self.action}
        if self.errors:
            data["errors"] = dict(self.errors)
        return data


def powered(state: str) -> str:
    """A driver state as v2's ``powered`` string."""
    return POWERED.get(state, "unknown")


class PowerService:
    """Power actions with Igor's authorization rules, and host power states for the read side."""

    def __init__(self, ctx: ServiceContext, controller: PowerController) -> None:
        self.ctx = ctx
        self.controller = controller

    # -- power on / off / cycle -------------------------------------------------------------------

    def power(self, principal: Principal, cmd: str, *, hosts: str | None = None,
              res_name: str | None = None) -> PowerOutcome:
        """Power the hosts of the expression ``hosts`` or of reservation ``res_name`` (exactly one).

        Raises:
            BadInput: bad command, neither or both targets given, an expression that does not parse.
            NotFound: a host or the reservation does not exist.
            Forbidden: the caller may not power some of the hosts (the message says which and why).
        """
        action = _action(cmd)
        if hosts is None and res_name is None:
            raise BadInput("missing required param (hosts or resName) to issue power command")
        if hosts is not None and res_name is not None:
            raise BadInput("both hosts and resName found (only 1 allowed)")
        targets = self._authorized_targets(principal, hosts, res_name)
        names = tuple(t.name for t in targets)
        problems = {t.name: p for t in targets if (p := self.controller.problem(t, action)) is not None}
        if problems:
            return PowerOutcome(action, names, problems, unconfigured=True)
        return PowerOutcome(action, names, self.controller.act(targets, action))

    @db_session
    def _authorized_targets(self, principal: Principal, hosts: str | None,
                            res_name: str | None) -> list[PowerTarget]:
        now = to_minutes(self.ctx.now())
        if res_name is not None:
            res = self._reservation(res_name)
            rows = sorted(res.hosts, key=lambda h: h.sequence_id)
            if not principal.elevated:
                self._check_reservation(principal, res, now)
        else:
            assert hosts is not None
            rows = self._hosts(hosts)
            if not principal.elevated:
                self._check_hosts(principal, rows, now)
        return [PowerTarget(h.name, h.hostname, h.power_uri or "") for h in rows]

    def _reservation(self, name: str) -> Any:
        if not isinstance(name, str) or not name.strip():
            raise BadInput("resName must name a reservation")
        check_resource_name(name.strip(), "reservation")
        res = find(self.ctx.db.Reservation, name=name.strip())
        if res is None:
            raise NotFound(f"reservation '{name.strip()}' not found")
        return res

    def _hosts(self, expr: str) -> list[Any]:
        """The host rows named by ``expr``, in sequence order.

        The expression is read as v2's power handler read it (``SplitList``: any prefix), so a name outside the
        cluster is a host that does not exist (404), not a malformed expression (400).
        """
        db = self.ctx.db
        if not expr.strip():
            raise BadInput("hosts must name at least one host, e.g. kn[3-5]")
        try:
            names = list(NodeList.parse(expr.strip()))
        except BadInput as exc:
            raise BadInput(f"can't parse hosts - {expr}: {exc}") from None
        rows = {h.name: h for h in select(h for h in db.Host if h.name in names)}
        missing = [n for n in names if n not in rows]
        if missing:
            shown = str(NodeList(missing)) if len(missing) > 1 else missing[0]
            raise NotFound(f"host '{shown}' not found" if len(names) == 1 else f"host(s) '{shown}' not found")
        return sorted(rows.values(), key=lambda h: h.sequence_id)

    @staticmethod
    def _shares(principal: Principal, res: Any) -> bool:
        """Whether the caller owns ``res`` or belongs to its group."""
        return res.owner.name == principal.name or res.group.name in principal.groups

    def _check_reservation(self, principal: Principal, res: Any, now: int) -> None:
        if not self._shares(principal, res):
            if principal.admin_member:
                raise Forbidden(ELEVATE_FIRST)
            raise Forbidden(f"you cannot run power commands on reservation '{res.name}': only its owner, the "
                            "members of its group and elevated admins may")
        if not res.start <= now < res.end:
            raise Forbidden(_not_active(res, now))

    def _check_hosts(self, principal: Principal, rows: Sequence[Any], now: int) -> None:
        refused: dict[str, list[str]] = {}  # reason -> host names
        for host in rows:
            mine = [r for r in host.reservations if self._shares(principal, r)]
            if any(r.start <= now < r.end for r in mine):
                continue
            later = sorted((r for r in mine if r.end > now), key=lambda r: r.start)
            reason = _not_active(later[0], now) if later else \
                "not in an active reservation of yours or of your groups"
            refused.setdefault(reason, []).append(host.name)
        if not refused:
            return
        if principal.admin_member:
            raise Forbidden(ELEVATE_FIRST)
        raise Forbidden("you cannot run power commands on " +
                        "; ".join(f"{NodeList(names)}: {reason}" for reason, names in refused.items()))

    # -- power state ------------------------------------------------------------------------------

    def states(self, targets: Iterable[PowerTarget], *, wait: bool = True) -> dict[str, str]:
        """Each target's ``powered`` value (``true``/``false``/``unknown``).

        Args:
            targets: The hosts.
            wait: Read states older than a few seconds from the drivers (bounded time); False answers from
                what this process last saw at once and refreshes in the background.
        """
        read = self.controller.cached_status if wait else self.controller.peek
        return {name: powered(state) for name, state in read(list(targets)).items()}


def _action(cmd: Any) -> str:
    action = cmd.strip().lower() if isinstance(cmd, str) else ""
    if action not in ACTIONS:
        raise BadInput(f"power command '{cmd}' not recognized (use on, off or cycle)")
    return action


def _not_active(res: Any, now: int) -> str:
    if res.end <= now:
        return f"reservation '{res.name}' has ended (power commands are allowed only while it is active)"
    return (f"reservation '{res.name}' is not active until {format_datetime(res.start)} UTC (power commands are "
            "allowed only while it is active)")
