"""Moving permission rows ("grants") between groups when a reservation changes hands: shared by a reservation's
group change (``res edit -g``) and a group's deletion (its reservations go to their owners' private groups)."""

from __future__ import annotations

from typing import Any

from igor import permissions as perms


def move_fact(db: Any, fact: str, source: Any, target: Any) -> None:
    """Move ``source``'s grant of ``fact`` to ``target`` (dropped when ``target`` already holds it)."""
    row = db.Permission.get(group=source, fact=fact)
    if row is None:
        return
    if db.Permission.exists(group=target, fact=fact):
        row.delete()
    else:
        row.group = target


def move_reservation_group(db: Any, res: Any, target: Any) -> None:
    """Give reservation ``res`` to group ``target`` with the grants its group holds on it (delete, extend and,
    while active, power of its hosts)."""
    facts = list(perms.reservation_group_facts(res.name))
    hostnames = [h.hostname for h in res.hosts]
    if hostnames:
        facts.append(perms.power_fact(hostnames))
    for fact in facts:
        move_fact(db, fact, res.group, target)
    res.group = target
