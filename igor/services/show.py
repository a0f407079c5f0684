"""The landing view (``GET /igor``) and the public reservation list (``GET /igor/public``).

Both are built from a handful of column queries however large the cluster (hosts with their policies, every
reservation, the engine's host lists), never a query per host or reservation; the part every caller sees alike is
kept per schedule epoch and minute, so a repeated ``GET /igor`` costs one epoch read plus the caller's own rows.
Power state never waits for a driver here (this is the most frequent request): each host's ``powered`` and the
active reservations' ``hostsUp``/``hostsDown``/``hostsPowerNA`` come from what this process last saw, and states
older than a few seconds are refreshed in the background (:meth:`igor.services.power.PowerService.states` with
``wait=False``), so the next view has them. A process that has never read a state says ``unknown``.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import orjson
from pony.orm import db_session

from igor.errors import Forbidden
from igor.power import PowerTarget
from igor.services.cluster import ClusterService
from igor.services.context import Principal, ServiceContext, require
from igor.services.distros import may_use
from igor.services.reservations import ReservationService
from igor.timefmt import from_minutes, to_minutes


class ShowService:
    def __init__(self, ctx: ServiceContext, cluster: ClusterService, reservations: ReservationService) -> None:
        self.ctx = ctx
        self.cluster = cluster
        self.reservations = reservations
        # (schedule epoch, minute) -> reservations' and hosts' JSON: the part of the view that is the same for
        # every caller. Anything that changes a reservation or a host bumps the epoch (installs and install
        # errors too: the lifecycle worker must bump it when it records them), and remainHours moves by minute.
        self._cache: tuple[tuple[int, int], list[dict[str, Any]], list[tuple[dict[str, Any], tuple[str, ...]]],
                           list[PowerTarget], list[int]] | None = None
        # the same reservations, each already encoded (orjson fragments), made on the first encoded view of a key
        self._encoded: tuple[tuple[int, int], list[Any]] | None = None

    @db_session
    def show(self, principal: Principal, *, encoded: bool = False) -> dict[str, Any]:
        """Igor v2's ``show`` payload: cluster, hosts, every reservation, the caller's profiles, distros, groups.

        With ``encoded`` (the API), each reservation every caller sees alike is an ``orjson.Fragment`` holding its
        JSON, encoded once per schedule epoch and minute rather than on every request (most of the cost of
        writing a large view); ``orjson.dumps`` of the payload gives the same bytes as without.
        """
        require(principal, "reservations:*:view", kind="reservation")
        db = self.ctx.db
        cluster = db.Cluster.select().first()
        now = to_minutes(self.ctx.now())
        with self.reservations.scheduler.locked():
            key = (self.reservations.scheduler.epoch, now)
            if self._cache is None or self._cache[0] != key:
                views = self.reservations.views(now)
                hosts = self.cluster.hosts(principal, reservations=views, live_power=False) \
                    if cluster is not None else []
                res_json = [v.to_json() for v in views]
                self._cache = (key, res_json, [(h.to_json(), h.access_groups) for h in hosts],
                               [PowerTarget(h.name, h.hostname, h.power_uri) for h in hosts],
                               [i for i, r in enumerate(res_json) if r["start"] <= now * 60 < r["end"]])
            _key, plain, host_rows, targets, active = self._cache
            known = self._encoded
        reservations: list[Any] = plain
        if encoded:  # outside the engine lock: writers of this process need not wait for it
            if known is None or known[0] != key:
                known = self._encoded = (key, [orjson.Fragment(orjson.dumps(r)) for r in plain])
            reservations = known[1]
        power = self.cluster.power.states(targets, wait=False) if self.cluster.power is not None else {}
        mine = set(principal.groups)
        hosts_json = [{**h, "restricted": bool(groups) and "all" not in groups and not (mine & set(groups)),
                       "powered": power.get(h["name"], h["powered"])} for h, groups in host_rows]
        if power and active:  # only running reservations split their hosts by power state
            reservations = list(reservations)
            for i in active:
                reservations[i] = _with_power(plain[i], power)
        user = db.User.get(name=principal.name)
        if principal.elevated:
            profiles = list(db.Profile.select())
        else:
            profiles = list(user.profiles) if user is not None else []
        groups = set(user.groups) if user is not None else set()
        distros = [d for d in db.Distro.select() if principal.elevated or may_use(user, d)]
        return {
            "cluster": ({"name": cluster.name, "prefix": cluster.prefix, "displayHeight": cluster.display_height,
                         "displayWidth": cluster.display_width, "motd": cluster.motd or "",
                         "motdUrgent": cluster.motd_urgent} if cluster is not None else {}),
            "hosts": hosts_json,
            "reservations": reservations,
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
        lines = ["resName,owner,group,nodeCount,nodes,startTime,endTime"]
        with self.reservations.scheduler.locked():
            views = self.reservations.views(to_minutes(self.ctx.now()))
        for v in views:
            lines.append(",".join([v.name, v.owner, v.group, str(len(v.hosts)), " ".join(v.hosts),
                                   _rfc3339(v.start), _rfc3339(v.end)]))
        return "\n".join(lines) + "\n"


def _rfc3339(minutes: int) -> str:
    return from_minutes(minutes).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _with_power(res: dict[str, Any], power: dict[str, str]) -> dict[str, Any]:
    """A running reservation's JSON with its hosts split by power state."""
    split: dict[str, list[str]] = {"true": [], "false": [], "unknown": []}
    for name in res["hosts"]:
        split[power.get(name, "unknown")].append(name)
    return {**res, "hostsUp": split["true"], "hostsDown": split["false"], "hostsPowerNA": split["unknown"]}
