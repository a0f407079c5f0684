"""``igor sync arista`` (``GET /igor/sync?cmd=arista``): each host's VLAN on the switch against the one Igor has
on record, and with ``force`` the switch made to agree (reference §8.3; seed "Hardware Switch Sync").

**Scope.** A node expression (``dn[1-4]``), or reservation names separated by commas (their hosts); without one,
every host in a reservation running now — as Igor v2.

**Report**, per host, v2's keys: ``res_vlan`` (the running reservation's VLAN; ``(none)`` when it has none,
``(unknown)`` when no reservation is running on the host), ``switch_vlan`` (the port's VLAN in
``vlan.rangeMin..rangeMax``, ``(none)`` when it is on none of them), ``powered`` (``on``/``off``/``unknown``
from the power drivers, as ``host show``), and with ``force`` a ``status`` on each mismatch
(``VLAN correction succeeded`` / ``VLAN correction failed!``, and then ``error`` says why). Igor adds
``reservation`` (the running one's name) and ``mismatch``; a host no reservation holds and whose port is on no
VLAN counts as in sync (v2 flagged it). ``quiet`` leaves the hosts in sync out.

**No deadlock by construction** (v2 returned 500 from ``force`` on a host whose ``res_vlan`` was ``(none)`` or
``(unknown)`` while holding its power-map mutex, §11.9): nothing here takes a lock. The hosts and their
reservations' VLANs are read in one short transaction that ends before the switch and the power drivers are
asked; each correction is its own request whose failure is reported on its host; and a host with no VLAN to
apply (``(none)``, ``(unknown)``, or no switch port) is skipped with a status saying so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from pony.orm import db_session, select

from igor.errors import BadInput, IgorError
from igor.network import Switch, SwitchError, short_port, switch_for
from igor.nodeset import NodeList
from igor.power import PowerTarget
from igor.services.context import Principal, ServiceContext, require_elevated
from igor.services.power import PowerService
from igor.timefmt import to_minutes

#: v2's markers in ``res_vlan`` / ``switch_vlan``.
NONE, UNKNOWN = "(none)", "(unknown)"
SUCCEEDED, FAILED = "VLAN correction succeeded", "VLAN correction failed!"
SKIPPED_NO_RES = "VLAN correction skipped: no reservation is running on this host, so there is no VLAN to apply"
SKIPPED_NO_VLAN = "VLAN correction skipped: its reservation has no VLAN to apply"
SKIPPED_NO_PORT = "VLAN correction skipped: the host has no switch port (eth) configured"
#: v2's answer when ``vlan.network`` is empty.
VLANS_OFF = "not doing vlan segmentation, nothing to sync"
COMMANDS = ("arista",)
_POWERED = {"true": "on", "false": "off"}


@dataclass(frozen=True)
class HostSync:
    """One host's line of the report."""

    name: str
    res_vlan: str
    switch_vlan: str
    powered: str
    reservation: str = ""
    status: str = ""
    error: str = ""

    @property
    def mismatch(self) -> bool:
        if self.res_vlan in (NONE, UNKNOWN):
            return self.switch_vlan != NONE
        return self.res_vlan != self.switch_vlan

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"res_vlan": self.res_vlan, "switch_vlan": self.switch_vlan, "powered": self.powered,
                                "reservation": self.reservation, "mismatch": self.mismatch}
        if self.status:
            data["status"] = self.status
        if self.error:
            data["error"] = self.error
        return data


@dataclass(frozen=True)
class SyncReport:
    command: str
    hosts: tuple[HostSync, ...]
    force: bool
    quiet: bool

    def to_json(self) -> dict[str, Any]:
        """v2's ``sync`` object (``force``/``quiet`` as the strings v2 sent); hosts in sequence order."""
        return {"command": self.command, "report": {h.name: h.to_json() for h in self.hosts},
                "force": "true" if self.force else "false", "quiet": "true" if self.quiet else "false"}


@dataclass(frozen=True)
class _Host:
    name: str
    hostname: str
    power_uri: str
    eth: str
    reservation: str
    vlan: int | None  # None: no reservation running on it


class VlanSyncService:
    """Compares and corrects the switch's VLANs.

    Args:
        ctx: the services' context.
        power: the power service (``powered``); None reports ``unknown``.
        switch: the switch client (default: :func:`igor.network.switch_for` ``vlan.*``, built on first use).
    """

    def __init__(self, ctx: ServiceContext, power: PowerService | None = None, switch: Switch | None = None) -> None:
        self.ctx = ctx
        self.power = power
        self._switch = switch

    @property
    def switch(self) -> Switch:
        if self._switch is None:
            try:
                self._switch = switch_for(self.ctx.config.vlan)
            except ValueError as exc:
                raise IgorError(f"cannot reach the switch: {exc}") from None
        return self._switch

    @staticmethod
    def authorize(principal: Principal) -> None:
        """Admins only (elevated), before any input is read."""
        require_elevated(principal)

    def sync(self, principal: Principal, cmd: str, *, force: bool = False, quiet: bool = False,
             scope: str | None = None) -> SyncReport:
        """Report (and with ``force`` correct) the switch's VLANs for the hosts of ``scope``.

        Raises:
            Forbidden: not an elevated admin.
            BadInput: an unknown command, VLANs off, or a scope naming no host or reservation.
            SwitchError: the switch's VLANs could not be read (502).
        """
        require_elevated(principal)
        command = cmd.strip().lower() if isinstance(cmd, str) else ""
        if command not in COMMANDS:
            raise BadInput(f"sync command {cmd} not recognized (use {', '.join(COMMANDS)})")
        if not self.ctx.config.vlan.enabled:
            raise BadInput(VLANS_OFF)
        hosts = self._hosts(scope)  # the transaction ends here: what follows talks to the outside world
        on_switch = self.switch.vlans() if hosts else {}
        powered = self._powered(hosts)
        lines = []
        for host in hosts:
            port_vlan = on_switch.get(short_port(host.eth)) if host.eth else None
            line = HostSync(host.name, _res_vlan(host.vlan), str(port_vlan) if port_vlan else NONE,
                            powered.get(host.name, "unknown"), host.reservation)
            if force and line.mismatch:
                line = self._correct(host, line)
            if line.mismatch or not quiet:
                lines.append(line)
        return SyncReport(command, tuple(lines), force, quiet)

    def _correct(self, host: _Host, line: HostSync) -> HostSync:
        if host.vlan is None:
            return replace(line, status=SKIPPED_NO_RES)
        if not host.vlan:
            return replace(line, status=SKIPPED_NO_VLAN)
        if not host.eth:
            return replace(line, status=SKIPPED_NO_PORT)
        try:
            self.switch.set_vlan([host.eth], host.vlan)
        except (SwitchError, ValueError) as exc:
            return replace(line, status=FAILED, error=str(exc))
        return replace(line, status=SUCCEEDED)

    def _powered(self, hosts: list[_Host]) -> dict[str, str]:
        if self.power is None or not hosts:
            return {}
        states = self.power.states(PowerTarget(h.name, h.hostname, h.power_uri) for h in hosts)
        return {name: _POWERED.get(state, "unknown") for name, state in states.items()}

    @db_session
    def _hosts(self, scope: str | None) -> list[_Host]:
        db = self.ctx.db
        now = to_minutes(self.ctx.now())
        running: dict[str, tuple[str, int]] = {}
        for hname, rname, vlan in select((h.name, r.name, r.vlan) for r in db.Reservation for h in r.hosts
                                         if r.start <= now and r.end > now):
            running[hname] = (rname, vlan or 0)
        names = self._scope(scope) if scope and scope.strip() else list(running)
        if not names:
            return []
        rows = select((h.name, h.sequence_id, h.hostname, h.power_uri, h.eth) for h in db.Host if h.name in names)
        out = []
        for name, _seq, hostname, power_uri, eth in sorted(rows, key=lambda r: r[1]):
            rname, vlan = running.get(name, ("", None))
            out.append(_Host(name, hostname, power_uri or "", eth or "", rname, vlan))
        return out

    def _scope(self, scope: str) -> list[str]:
        """The hosts ``scope`` names: a node expression of existing hosts, else existing reservations' names."""
        db = self.ctx.db
        text = scope.strip()
        try:
            names = list(NodeList.parse(text))
        except BadInput:
            names = []
        existing = set(select(h.name for h in db.Host if h.name in names)) if names else set()
        if names and len(existing) == len(names):
            return names
        wanted = sorted({part.strip() for part in text.split(",") if part.strip()})
        found = {r.name: r for r in select(r for r in db.Reservation if r.name in wanted)}
        if wanted and len(found) == len(wanted):
            return sorted({h.name for r in found.values() for h in r.hosts})
        if found or not names:
            unknown = ", ".join(n for n in wanted if n not in found)
        else:
            unknown = str(NodeList(n for n in names if n not in existing))
        raise BadInput(f"unable to retrieve valid hosts from expression {text}: no host or reservation named "
                       f"{unknown} (give a node expression such as dn[1-4] or reservation names separated by "
                       "commas)")


def _res_vlan(vlan: int | None) -> str:
    if vlan is None:
        return UNKNOWN
    return str(vlan) if vlan else NONE

