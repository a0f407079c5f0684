"""Reservation history (reference §8.2): one ``history_records`` row per reservation event, a copy of the
reservation as it is after the event. ``igor stats`` (:mod:`igor.services.stats`) is computed from these rows.

The statuses are Igor v2's (``srv/historyrecord.go``): ``created``, ``installed``, ``updated:<sorted edit keys>``
(``updated:extend``, ``updated:drop``, ``updated:addNodeList``, ``updated:description,name``, …, and
``updated:distro-rename``, ``updated:profile-rename``, ``updated:group-delete``), ``deleted`` and ``finished``.
Hosts are stored as a comma list, as v2 stored them (and as the importer copies v2's rows).
"""

from __future__ import annotations

from typing import Any

from igor.services.context import ServiceContext

CREATED = "created"
INSTALLED = "installed"
UPDATED = "updated"
DELETED = "deleted"
FINISHED = "finished"


def record_history(ctx: ServiceContext, res: Any, status: str, end: int | None = None) -> None:
    """Write the history row of ``res`` for the event ``status`` (inside the event's transaction).

    Args:
        ctx: the services' context (the row is stamped with its clock).
        res: the ``Reservation`` entity, already changed by the event.
        status: one of the statuses above.
        end: the end to record instead of the reservation's (a deletion records when it really ended).
    """
    profile = res.profile
    ctx.db.HistoryRecord(
        hash=res.hash, status=status, name=res.name, description=res.description or "", owner=res.owner.name,
        group=res.group.name, profile=profile.name if profile else "",
        distro=profile.distro.name if profile is not None and profile.distro is not None else "",
        vlan=res.vlan, start=res.start, end=end if end is not None else res.end, orig_end=res.orig_end,
        extend_count=res.extend_count, hosts=",".join(sorted(h.name for h in res.hosts)),
        created=ctx.now().replace(tzinfo=None))
