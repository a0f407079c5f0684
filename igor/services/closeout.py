"""What a reservation's start and end leave for the lifecycle worker — the database side, inside the caller's
transaction (reference §4.8, SPEC §6).

Everything here runs in the transaction that changes the reservation, so the work it queues (``events`` rows,
the outbox) commits or rolls back with the change itself; the worker does the outside-world part later (boot
files, power, email) and a crash in between loses nothing:

* :func:`boot_spec` — what a reservation boots: its profile's distro with the distro's then the profile's kernel
  arguments, else the default distro, else nothing (the hosts boot as they are, SPEC §7);
* :func:`host_snapshot` — a host as the worker needs it after the reservation row is gone;
* :func:`end_reservation` — the shared end of a reservation, whether it expired or was deleted: hosts released,
  pending install cancelled, a ``closeout`` event with a snapshot of what to undo, and the maintenance pad
  (``maintenance.hostMaintenanceDuration``): the hosts stay blocked until it is over, with the default distro
  booted on them when there is one;
* :func:`reservation_mail` — queue one of the reservation emails (To the owner, Cc the group's members unless it is
  a private group).
"""

from __future__ import annotations

from typing import Any

from igor.imagestore import image_paths
from igor.nodeset import NodeList
from igor.services.cluster import AVAILABLE, BLOCKED, RESERVED
from igor.services.context import ServiceContext
from igor.services.outbox import queue_email
from igor.timefmt import to_minutes

#: Event kinds the lifecycle worker processes (``events.kind``), besides ``email``.
INSTALL, CLOSEOUT, MAINTENANCE_END = "install", "closeout", "maintenance-end"


def host_snapshot(host: Any) -> dict[str, str]:
    """The fields of ``host`` the boot writer, the power drivers and the switch need."""
    return {"name": host.name, "hostname": host.hostname, "mac": host.mac, "boot": host.boot_mode,
            "power": host.power_uri or "", "eth": host.eth or ""}


def distro_spec(res_name: str, distro: Any, extra_args: str = "") -> dict[str, Any] | None:
    """The boot spec of ``distro`` for reservation ``res_name`` (None when the distro has no image)."""
    image = distro.image
    if image is None:
        return None
    kernel, initrd = image_paths(image.image_id, image.kernel, image.initrd)
    kernel_args = " ".join(a.strip() for a in (distro.kernel_args or "", extra_args or "") if a and a.strip())
    return {"reservation": res_name, "distro": distro.name, "kernel": kernel, "initrd": initrd,
            "kernel_args": kernel_args, "breed": image.breed or "generic", "local_boot": bool(image.local_boot),
            "kickstart": distro.kickstart.filename if distro.kickstart is not None else None}


def default_distro(ctx: ServiceContext) -> Any:
    return ctx.db.Distro.get(is_default=True)


def boot_spec(ctx: ServiceContext, res: Any) -> dict[str, Any] | None:
    """What ``res`` boots: its profile's distro, else the default distro, else None (write no boot files)."""
    profile = res.profile
    if profile is not None and profile.distro is not None:
        return distro_spec(res.name, profile.distro, profile.kernel_args or "")
    default = default_distro(ctx)
    return distro_spec(res.name, default) if default is not None else None


def _active(res: Any, now: int) -> bool:
    return bool(res.start <= now < res.end)


def _elsewhere(host: Any, res: Any, now: int) -> bool:
    """Whether ``host`` is in another reservation running at ``now``."""
    return any(r is not res and _active(r, now) for r in host.reservations)


def start_hosts(res: Any) -> None:
    """Mark the hosts of a starting reservation reserved (blocked ones stay blocked)."""
    for host in res.hosts:
        if host.state == AVAILABLE:
            host.state = RESERVED


def end_reservation(ctx: ServiceContext, res: Any, now: int, engine: Any, index: dict[int, int]) -> None:
    """Queue the outside-world end of ``res`` and start its maintenance; a pending install is cancelled.

    Call inside :meth:`~igor.scheduler.Scheduler.writing`, before the reservation row is deleted; ``index`` maps
    host ids to engine indices. A reservation that never started leaves nothing to undo and gets no event.
    """
    db = ctx.db
    for job in db.Event.select(lambda e: e.kind == INSTALL and e.key == res.hash and e.status == "pending"):
        job.status = "cancelled"
        job.done = ctx.now().replace(tzinfo=None)
    if res.start <= now:
        release_hosts(ctx, res, list(res.hosts), now, engine, index, maintenance=res.name)


def release_hosts(ctx: ServiceContext, res: Any, hosts: list[Any], now: int, engine: Any, index: dict[int, int],
                  *, maintenance: str) -> None:
    """``hosts`` leave running reservation ``res`` (it ends, or they are dropped): they go back to available
    (blocked ones stay blocked), a ``closeout`` event undoes their boot files and power, and with a maintenance
    pad they are blocked for it under the record name ``maintenance``."""
    hosts = sorted(hosts, key=lambda h: h.sequence_id)
    for host in hosts:
        if host.state == RESERVED and not _elsewhere(host, res, now):
            host.state = AVAILABLE
    pad = ctx.config.maintenance.host_maintenance_duration
    resting = [h for h in hosts if not _elsewhere(h, res, now)] if pad > 0 else []
    spec = None
    if resting:
        _start_maintenance(ctx, maintenance, resting, now, now + pad, engine, index)
        default = default_distro(ctx)
        spec = distro_spec(f"{maintenance}_maintenance", default) if default is not None else None
    ctx.db.Event(kind=CLOSEOUT, key=res.hash, due=now, payload={
        "reservation": res.name, "hash": res.hash, "vlan": res.vlan, "installed": bool(res.installed),
        "hosts": [host_snapshot(h) for h in hosts],
        "maintenance": [host_snapshot(h) for h in resting], "maintenance_boot": spec, "done": []})


def reinstall(ctx: ServiceContext, res: Any, hosts: list[Any], *, power: bool) -> None:
    """Queue boot files (and, with ``power``, a power cycle) for ``hosts`` of an installed, running reservation:
    hosts just added to it, or all of them after a distro or profile change."""
    if not res.installed:
        return  # the install still to come covers every host
    start_hosts(res)
    ctx.db.Event(kind=INSTALL, key=res.hash, due=to_minutes(ctx.now()),
                 payload={"reservation": res.name, "only": sorted(h.name for h in hosts), "power": power,
                          "done": []})


def _start_maintenance(ctx: ServiceContext, name: str, hosts: list[Any], now: int, until: int, engine: Any,
                       index: dict[int, int]) -> None:
    """Block ``hosts`` until ``until`` (epoch minutes), remembering the state to go back to."""
    record = ctx.db.MaintenanceRes(reservation_name=name, maintenance_end=until)
    record.hosts.add(hosts)
    blocks = engine.blocks()
    for host in hosts:
        if not any(m is not record and m.maintenance_end > now for m in host.maintenance):
            host.restore_state = BLOCKED if host.state == BLOCKED else AVAILABLE
        host.state = BLOCKED
        if host.id not in blocks:
            engine.add_block(host.id, [index[host.id]])


def finish_maintenance(ctx: ServiceContext, record: Any, now: int, engine: Any) -> list[str]:
    """End maintenance ``record``: each host not still held by another one goes back to its restore state.

    Returns the names of the hosts released. Call inside :meth:`~igor.scheduler.Scheduler.writing`.
    """
    released: list[str] = []
    for host in sorted(record.hosts, key=lambda h: h.sequence_id):
        if any(m is not record and m.maintenance_end > now for m in host.maintenance):
            continue
        target = host.restore_state
        if target == AVAILABLE and any(_active(r, now) for r in host.reservations):
            target = RESERVED
        host.state = target
        host.restore_state = AVAILABLE
        if target != BLOCKED and host.id in engine.blocks():
            engine.remove_block(host.id)
        released.append(host.name)
    record.delete()
    return released


def reservation_mail(ctx: ServiceContext, template: str, res: Any, *, to_owner: Any = None,
                     cc_group: bool = True, **fields: Any) -> None:
    """Queue reservation email ``template`` about ``res``: To the owner (or ``to_owner``), Cc the members of
    its group unless that group is someone's private group."""
    owner = to_owner if to_owner is not None else res.owner
    to = [owner.email] if owner.email else []
    cc = [] if not cc_group or res.group.is_user_private else \
        [u.email for u in res.group.members if u.email and u.email not in to]
    cluster = ctx.db.Cluster.select().first()
    names = sorted(res.hosts, key=lambda h: h.sequence_id)
    fields.setdefault("hosts", str(NodeList([h.name for h in names])))
    queue_email(ctx, template, to, cc=cc, reservation=res.name, cluster=cluster.name if cluster else "",
                start=res.start, end=res.end, owner=res.owner.name, **fields)
