"""The cluster and its hosts, read side: ``cluster config|show|motd`` and ``GET /igor/hosts`` (reference §3.2).

``configure`` reads ``igor-clusters.yaml`` on the server, creates the cluster and every host it does not know yet
(existing hosts are left untouched; new hosts start blocked, as in Igor v2) and updates the display size. ``dump``
writes the database's view back to that file, keeping the previous file as a timestamped backup.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pony.orm import db_session, select

from igor.config import ClusterSpec, ConfigError, HostSpec, dump_clusters, load_clusters
from igor.errors import BadInput, IgorError, NotFound
from igor.nodeset import ClusterRange
from igor.rules import check_eth, check_resource_name
from igor.services.context import Principal, ServiceContext, find, require, require_elevated
from igor.timefmt import to_minutes

if TYPE_CHECKING:
    from igor.services.power import PowerService

AVAILABLE, RESERVED, BLOCKED, ERROR, INVALID = range(5)
STATE_NAMES = ("available", "reserved", "blocked", "error", "invalid")
DEFAULT_POLICY = "default"


def state_name(state: int) -> str:
    return STATE_NAMES[state] if 0 <= state < len(STATE_NAMES) else str(state)


class NotImplementedByIgor(IgorError):
    status = 501


@dataclass(frozen=True)
class ClusterView:
    name: str
    prefix: str
    display_width: int
    display_height: int
    motd: str
    motd_urgent: bool
    hosts: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "prefix": self.prefix, "displayWidth": self.display_width,
                "displayHeight": self.display_height, "motd": self.motd, "motdUrgent": self.motd_urgent,
                "hosts": list(self.hosts)}


@dataclass(frozen=True)
class HostView:
    name: str
    sequence_id: int
    hostname: str
    eth: str
    ip: str
    mac: str
    boot_mode: str
    state: str
    powered: str
    cluster: str
    policy: str
    access_groups: tuple[str, ...]
    restricted: bool
    reservations: tuple[str, ...]
    power_uri: str
    attributes: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "sequenceID": self.sequence_id, "hostName": self.hostname, "eth": self.eth,
                "ip": self.ip or "Unknown", "mac": self.mac, "bootMode": self.boot_mode, "state": self.state,
                "powered": self.powered, "cluster": self.cluster, "hostPolicy": self.policy,
                "accessGroups": list(self.access_groups), "restricted": self.restricted,
                "reservations": list(self.reservations), "attributes": dict(self.attributes)}


#: GET /igor/hosts filters and what they compare.
HOST_FILTERS = ("name", "hostname", "eth", "ip", "mac", "hostPolicy", "reservation", "state", "powered")


class ClusterService:
    """The cluster and its hosts; ``power`` (a :class:`igor.services.power.PowerService`) supplies the hosts'
    power state, which is ``unknown`` without one."""

    def __init__(self, ctx: ServiceContext, power: PowerService | None = None) -> None:
        self.ctx = ctx
        self.power = power

    # -- helpers ----------------------------------------------------------------------------------

    def _cluster(self):  # noqa: ANN202
        return self.ctx.db.Cluster.select().first()

    def cluster_range(self) -> ClusterRange | None:
        """The node naming range of the cluster (prefix, lowest and highest sequence number)."""
        with db_session:
            cluster = self._cluster()
            if cluster is None or not cluster.hosts:
                return None
            seqs = [h.sequence_id for h in cluster.hosts]
            return ClusterRange(cluster.prefix, min(seqs), max(seqs))

    def _clusters_file(self) -> Path:
        path = self.ctx.config.clusters_file
        if path is None:
            raise NotFound("no igor-clusters.yaml found on the server (looked beside igor-server.yaml, in /etc/igor/ "
                           f"and in {self.ctx.config.igor_home / 'conf'})")
        return Path(path)

    # -- cluster config ---------------------------------------------------------------------------

    def configure(self, principal: Principal, spec: ClusterSpec | None = None) -> tuple[ClusterView, list[str]]:
        """Create the cluster and its new hosts from ``igor-clusters.yaml`` (or ``spec``).

        Returns the cluster and the names of the hosts created (blocked until unblocked).
        """
        require_elevated(principal)
        if spec is None:
            try:
                spec = load_clusters(self._clusters_file())
            except ConfigError as exc:  # the admin's file is the bad input here
                raise BadInput(str(exc)) from None
        return self.apply_spec(spec)

    @db_session
    def apply_spec(self, spec: ClusterSpec, *, blocked: bool = True) -> tuple[ClusterView, list[str]]:
        db = self.ctx.db
        cluster = self._cluster()
        if cluster is not None and cluster.name != spec.name:
            raise NotImplementedByIgor(f"cluster '{cluster.name}' already exists: only one cluster is supported "
                                       f"(igor-clusters.yaml names '{spec.name}')")
        if cluster is None:
            if find(db.Cluster, prefix=spec.prefix) is not None:
                raise BadInput(f"prefix '{spec.prefix}' is already in use")
            cluster = db.Cluster(name=spec.name, prefix=spec.prefix, display_width=spec.display_width,
                                 display_height=spec.display_height, motd=spec.motd or "")
        elif cluster.prefix != spec.prefix:
            raise BadInput(f"cluster '{cluster.name}' has prefix '{cluster.prefix}'; igor-clusters.yaml says "
                           f"'{spec.prefix}' (a prefix cannot change)")
        resized = (cluster.display_width, cluster.display_height) != (spec.display_width, spec.display_height)
        cluster.display_width = spec.display_width
        cluster.display_height = spec.display_height
        created: list[str] = []
        existing: list[str] = []
        for host in spec.hosts:
            if find(db.Host, name=host.name) is not None:
                existing.append(host.name)
                continue
            self._check_new_host(host)
            policy = find(db.HostPolicy, name=host.policy or DEFAULT_POLICY)
            if policy is None:
                raise NotFound(f"host {host.name}: the host policy '{host.policy}' does not exist")
            state = BLOCKED if blocked else AVAILABLE
            db.Host(name=host.name, hostname=host.hostname, sequence_id=host.seq, eth=host.eth or "", mac=host.mac,
                    ip=host.ip or "", boot_mode=host.boot_mode, state=state, restore_state=AVAILABLE,
                    power_uri=host.power_uri or "", attributes=dict(host.attributes), cluster=cluster, policy=policy)
            created.append(host.name)
        if existing and not created and not resized:
            raise BadInput("on cluster update the following hosts already exist and will not be altered: "
                           f"[{' '.join(existing)}] -- no new hosts created")
        if created:
            self.ctx.bump_epoch()
        return self._cluster_view(cluster), created

    def _check_new_host(self, host: HostSpec) -> None:
        db = self.ctx.db
        same_mac = find(db.Host, mac=host.mac)
        if same_mac is not None:
            raise BadInput(f"host {host.name}: mac {host.mac} is already used by host {same_mac.name}")
        if find(db.Host, hostname=host.hostname) is not None:
            raise BadInput(f"host {host.name}: hostname {host.hostname} is already used by another host")

    def _cluster_view(self, cluster) -> ClusterView:  # noqa: ANN001
        hosts = sorted(cluster.hosts, key=lambda h: h.sequence_id)
        return ClusterView(name=cluster.name, prefix=cluster.prefix, display_width=cluster.display_width,
                           display_height=cluster.display_height, motd=cluster.motd or "",
                           motd_urgent=cluster.motd_urgent, hosts=tuple(h.name for h in hosts))

    # -- cluster show / dump / motd ---------------------------------------------------------------

    @db_session
    def show(self, principal: Principal, name: str | None = None, prefix: str | None = None) -> list[ClusterView]:
        require_elevated(principal)
        cluster = self._cluster()
        if cluster is None:
            return []
        if (name and cluster.name != name) or (prefix and cluster.prefix != prefix):
            return []
        return [self._cluster_view(cluster)]

    @db_session
    def spec(self) -> ClusterSpec | None:
        """The database's cluster as a clusters-file spec (for dump and YAML output)."""
        cluster = self._cluster()
        if cluster is None:
            return None
        hosts = tuple(HostSpec(seq=h.sequence_id, name=h.name, hostname=h.hostname, mac=h.mac, ip=h.ip or "",
                               eth=h.eth or "", policy=h.policy.name if h.policy else "", boot_mode=h.boot_mode,
                               power_uri=h.power_uri or "", attributes=dict(h.attributes or {}))
                      for h in sorted(cluster.hosts, key=lambda h: h.sequence_id))
        return ClusterSpec(name=cluster.name, prefix=cluster.prefix, display_width=cluster.display_width,
                           display_height=cluster.display_height, motd=cluster.motd or "", hosts=hosts)

    def yaml(self, principal: Principal) -> str:
        require_elevated(principal)
        spec = self.spec()
        if spec is None:
            raise NotFound("no cluster has been configured yet: run 'igor cluster config'")
        return dump_clusters(spec)

    def dump(self, principal: Principal) -> tuple[str, str | None]:
        """Write the cluster back to ``igor-clusters.yaml``; returns (path, backup path or None)."""
        text = self.yaml(principal)
        path = self._clusters_file() if self.ctx.config.clusters_file else self.ctx.config.igor_home / "conf" / \
            "igor-clusters.yaml"
        backup = None
        if path.exists():
            stamp = self.ctx.now().strftime("%Y-%m-%dT%H-%M-%S.%f")[:-3]  # v2's form, to the millisecond
            backup_path = path.with_name(f"{path.name}.{stamp}.bak")
            n = 1
            while backup_path.exists():  # two dumps in one millisecond keep both backups
                backup_path = path.with_name(f"{path.name}.{stamp}-{n}.bak")
                n += 1
            backup = str(backup_path)
            shutil.copy2(path, backup)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
        return str(path), backup

    @db_session
    def set_motd(self, principal: Principal, motd: str, urgent: bool) -> str:
        require_elevated(principal)
        cluster = self._cluster()
        if cluster is None:
            raise NotFound("no cluster has been configured yet: run 'igor cluster config'")
        if len(motd) > 1024:
            raise BadInput(f"motd is {len(motd)} characters long: at most 1024 are allowed")
        if any(ord(c) < 32 and c not in "\t" for c in motd):
            raise BadInput("motd may not contain control characters or line breaks")
        cluster.motd = motd
        cluster.motd_urgent = bool(urgent) and motd != ""
        return ""  # Igor v2 answers a motd change with an empty message

    # -- hosts ------------------------------------------------------------------------------------

    def hosts(self, principal: Principal, filters: dict[str, list[str]] | None = None, *,
              reservations: Iterable[Any] | None = None, live_power: bool = True) -> list[HostView]:
        """Every host (``GET /igor/hosts``), narrowed by ``filters`` (each key: any of its values matches).

        ``reservations`` (views with ``name``, ``end`` and ``hosts``) saves reading them again when the caller
        has them; otherwise the current and future reservations' names per host come from one column query.
        With ``live_power`` the hosts left after the other filters get their power state from the drivers
        (outside the database session, within the power service's time bound); without it, ``unknown``.
        """
        filters = filters or {}
        views, prefix = self._host_views(principal, reservations)
        if prefix is None:
            return []
        others = {k: v for k, v in filters.items() if k != "powered"}
        _check_host_filters(filters)
        views = self._filter(views, others, prefix)
        if live_power and self.power is not None and views:
            from igor.power import PowerTarget

            states = self.power.states(PowerTarget(v.name, v.hostname, v.power_uri) for v in views)
            views = [replace(v, powered=states.get(v.name, v.powered)) for v in views]
        if "powered" in filters:
            wanted = set(filters["powered"])
            views = [v for v in views if v.powered in wanted]
        return views

    @db_session
    def _host_views(self, principal: Principal,
                    reservations: Iterable[Any] | None) -> tuple[list[HostView], str | None]:
        """Every host's view (power ``unknown``) and the cluster's prefix (None: no cluster yet)."""
        require(principal, "hosts:*:view", kind="host")
        db = self.ctx.db
        cluster = self._cluster()
        if cluster is None:
            return [], None
        now = to_minutes(self.ctx.now())
        current: dict[str, list[str]] = {}
        if reservations is not None:
            for view in reservations:
                if view.end > now:
                    for name in view.hosts:
                        current.setdefault(name, []).append(view.name)
        else:
            for rname, hname in select((r.name, h.name) for r in db.Reservation for h in r.hosts if r.end > now):
                current.setdefault(hname, []).append(rname)
        policies = dict(select((p.id, p.name) for p in db.HostPolicy))
        policy_groups: dict[int, list[str]] = {}
        for pid, gname in select((p.id, g.name) for p in db.HostPolicy for g in p.access_groups):
            policy_groups.setdefault(pid, []).append(gname)
        user_groups = set(principal.groups)
        views = []
        rows = select((h.name, h.sequence_id, h.hostname, h.eth, h.ip, h.mac, h.boot_mode, h.state, h.policy.id,
                       h.power_uri, h.attributes) for h in db.Host).order_by(2)
        for name, seq, hostname, eth, ip, mac, boot, state, pid, power_uri, attrs in rows:
            groups = tuple(sorted(policy_groups.get(pid, ()))) if pid is not None else ()
            restricted = bool(groups) and "all" not in groups and not (user_groups & set(groups))
            views.append(HostView(name=name, sequence_id=seq, hostname=hostname, eth=eth or "", ip=ip or "",
                                  mac=mac, boot_mode=boot, state=state_name(state), powered="unknown",
                                  cluster=cluster.name, policy=policies.get(pid, "") if pid is not None else "",
                                  access_groups=groups, restricted=restricted,
                                  reservations=tuple(sorted(current.get(name, []))), power_uri=power_uri or "",
                                  attributes=dict(attrs or {})))
        return views, cluster.prefix

    def _filter(self, views: list[HostView], filters: dict[str, list[str]], prefix: str) -> list[HostView]:
        _check_host_filters(filters)
        if "name" in filters:
            seqs = [h.sequence_id for h in views]
            names: set[str] = set()
            if seqs:
                rng = ClusterRange(prefix, min(seqs), max(seqs))
                for expr in filters["name"]:
                    try:
                        names.update(rng.expand(expr))
                    except BadInput:
                        raise BadInput(f"couldn't parse node specification [{expr}]") from None
            views = [h for h in views if h.name in names]
        if "mac" in filters:
            macs = {m.lower().replace("-", ":") for m in filters["mac"]}
            views = [h for h in views if h.mac.lower() in macs]
        if "ip" in filters:
            ips = {str(ipaddress.ip_address(v)) for v in filters["ip"]}
            views = [h for h in views if h.ip and str(ipaddress.ip_address(h.ip)) in ips]
        for key, attr in (("hostname", "hostname"), ("eth", "eth"), ("hostPolicy", "policy"), ("state", "state"),
                          ("powered", "powered")):
            if key in filters:
                wanted = set(filters[key])
                views = [h for h in views if getattr(h, attr) in wanted]
        if "reservation" in filters:
            wanted = set(filters["reservation"])
            views = [h for h in views if wanted & set(h.reservations)]
        return views


_MAC = re.compile(r"^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$")


def _check_host_filters(filters: dict[str, list[str]]) -> None:
    """Igor v2's validation of ``GET /igor/hosts`` parameters (``validateHostParams``), with its messages."""
    for value in filters.get("eth", []):
        check_eth(value)
    for key in ("hostname", "hostPolicy", "reservation"):
        for value in filters.get(key, []):
            check_resource_name(value, "host" if key == "hostname" else key)
    for value in filters.get("ip", []):
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise BadInput(f"invalid parameter 'ip': must be a valid IPv4/6 string, got {value!r}") from None
    for value in filters.get("mac", []):
        if not _MAC.match(value):
            raise BadInput(f"invalid parameter 'mac': must be a valid MAC address, got {value!r}")
    for value in filters.get("state", []):
        if value not in STATE_NAMES[:4]:
            raise BadInput(f"host state term '{value}' not accepted")
    for value in filters.get("powered", []):
        if value not in ("true", "false", "unknown"):
            raise BadInput(f"invalid parameter: 'powered={value}' does not evaluate to boolean")
