"""The landing view (``GET /igor``) and the public reservation list (``GET /igor/public``).

Both are built from a handful of queries however large the cluster: the hosts with their policies, every current
and future reservation with its hosts (one prefetching query), the caller's profiles, distros and groups — never a
query per host. Power state is not known here yet (the lifecycle issue adds drivers), so hosts report ``unknown``.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from pony.orm import db_session

from igor.errors import Forbidden
from igor.services.cluster import ClusterService
from igor.services.context import Principal, ServiceContext, require
from igor.services.reservations import ReservationService
from igor.timefmt import from_minutes, to_minutes


class ShowService:
    def __init__(self, ctx: ServiceContext, cluster: ClusterService, reservations: ReservationService) -> None:
        self.ctx = ctx
        self.cluster = cluster
        self.reservations = reservations

    @db_session
    def show(self, principal: Principal) -> dict[str, Any]:
        """Igor v2's ``show`` payload: cluster, hosts, every reservation, the caller's profiles, distros, groups."""
        require(principal, "reservations:*:view", kind="reservation")
        db = self.ctx.db
        cluster = db.Cluster.select().first()
        now = to_minutes(self.ctx.now())
        with self.reservations.scheduler.locked():
            hosts = self.cluster.hosts(principal) if cluster is not None else []
            rows = db.Reservation.select().prefetch(db.Reservation.hosts, db.Reservation.owner, db.Reservation.group,
                                                    db.Reservation.profile)
            views = sorted((self.reservations._view(r, now) for r in rows), key=lambda v: v.name)
        user = db.User.get(name=principal.name)
        if principal.elevated:
            profiles = list(db.Profile.select())
        else:
            profiles = list(user.profiles) if user is not None else []
        groups = set(user.groups) if user is not None else set()
        distros = [d for d in db.Distro.select() if principal.elevated or d.is_public or d.owner == user
                   or groups & set(d.groups)]
        return {
            "cluster": ({"name": cluster.name, "prefix": cluster.prefix, "displayHeight": cluster.display_height,
                         "displayWidth": cluster.display_width, "motd": cluster.motd or "",
                         "motdUrgent": cluster.motd_urgent} if cluster is not None else {}),
            "hosts": [h.to_json() for h in hosts],
            "reservations": [v.to_json() for v in views],
            "profiles": [{"name": p.name, "owner": p.owner.name, "distro": p.distro.name if p.distro else "",
                          "description": p.description or "", "kernelArgs": p.kernel_args or "",
                          "isDefault": p.is_default} for p in sorted(profiles, key=lambda p: (p.owner.name, p.name))],
            "distros": sorted(d.name for d in distros),
            "groups": sorted(g.name for g in groups if not g.is_user_private and g.name != "all"),
        }

    @db_session
    def public_csv(self) -> str:
        """The ``/igor/public`` CSV (when ``server.allowPublicShow``): one line per reservation."""
        if not self.ctx.config.server.allow_public_show:
            raise Forbidden(f"public reservation list is not enabled on {self.ctx.config.instance_name}")
        db = self.ctx.db
        lines = ["resName,owner,group,nodeCount,nodes,startTime,endTime"]
        order = self.reservations.scheduler.hosts.by_name
        for res in db.Reservation.select().order_by(db.Reservation.name).prefetch(db.Reservation.hosts,
                                                                                   db.Reservation.owner,
                                                                                   db.Reservation.group):
            names = sorted((h.name for h in res.hosts), key=lambda n: order.get(n, 0))
            group = "" if res.group.is_user_private else res.group.name
            lines.append(",".join([res.name, res.owner.name, group, str(len(names)), " ".join(names),
                                   _rfc3339(res.start), _rfc3339(res.end)]))
        return "\n".join(lines) + "\n"


def _rfc3339(minutes: int) -> str:
    return from_minutes(minutes).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
