"""Domain services, one module per aggregate; ``Services`` wires them to one database, config and clock.

Services check authorization on the ``Principal`` they are given, validate before writing, run each operation
in its own transaction, and return plain views; they never speak HTTP.
"""

from __future__ import annotations

from typing import Any

from pony.orm import Database

from igor.config import Config
from igor.ldapdir import directory_for
from igor.power import PowerController
from igor.scheduler import Scheduler
from igor.services.auth import AuthService
from igor.services.callbacks import CallbackService
from igor.services.cluster import ClusterService
from igor.services.context import Clock, Principal, ServiceContext, require_elevated
from igor.services.distros import DistroService
from igor.services.groups import GroupService
from igor.services.hosts import HostService
from igor.services.images import ImageService, KickstartService
from igor.services.ldapsync import LdapSync
from igor.services.lifecycle import LifecycleService
from igor.services.policies import PolicyService
from igor.services.power import PowerService
from igor.services.profiles import ProfileService
from igor.services.reservation_edits import ReservationEditor
from igor.services.reservations import ReservationService
from igor.services.show import ShowService
from igor.services.stats import StatsService
from igor.services.users import UserService, ensure_system
from igor.services.vlansync import VlanSyncService
from igor.timefmt import utc_now


class SettingsService:
    """The configuration as users (``config/public``) and admins (``config``) see it."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def public(self) -> dict[str, Any]:
        return self.ctx.config.public_settings()

    def full(self, principal: Principal) -> dict[str, Any]:
        require_elevated(principal)
        cfg = self.ctx.config
        return {"config": cfg.to_dict(masked=True), "configPath": cfg.source,
                "clusterConfPath": str(cfg.clusters_file or ""), "igorHome": str(cfg.igor_home),
                "started": self.ctx.started.isoformat(), "tftpPath": str(cfg.server.tftp_root),
                "imageStoreDir": str(cfg.server.tftp_root / "igor_images")}


class Services:
    """Every service of one server process, sharing one context."""

    def __init__(self, db: Database, config: Config, clock: Clock = utc_now, *,
                 power: PowerController | None = None) -> None:
        self.ctx = ServiceContext(db, config, clock)
        self.db = db
        self.config = config
        # One controller per process: its state files (sim://) are shared with the other processes.
        self.power = power or PowerController(config, config.igor_home / "run" / "power")
        self.host_power = PowerService(self.ctx, self.power)
        self.ldap = directory_for(config)  # None under local authentication
        self.auth = AuthService(self.ctx, self.ldap)
        self.users = UserService(self.ctx)
        self.groups = GroupService(self.ctx)
        self.cluster = ClusterService(self.ctx, power=self.host_power)
        self.settings = SettingsService(self.ctx)
        self.scheduler = Scheduler(db, pad=config.maintenance.host_maintenance_duration)
        self.reservations = ReservationService(self.ctx, self.scheduler)
        self.policies = PolicyService(self.ctx, self.scheduler)
        self.hosts = HostService(self.ctx, self.scheduler)
        self.reservation_edits = ReservationEditor(self.ctx, self.scheduler, self.reservations)
        self.show = ShowService(self.ctx, self.cluster, self.reservations)
        self.images = ImageService(self.ctx)
        self.kickstarts = KickstartService(self.ctx, self.images.store)
        self.distros = DistroService(self.ctx, self.images, self.reservations)
        self.profiles = ProfileService(self.ctx, self.reservations)
        self.ldap_sync = LdapSync(self.ctx, self.ldap) if self.ldap else None
        self.lifecycle = LifecycleService(self.ctx, self.scheduler, self.reservations, ldap_sync=self.ldap_sync)
        self.callbacks = CallbackService(self.ctx)
        self.stats = StatsService(self.ctx)
        self.vlansync = VlanSyncService(self.ctx, self.host_power)

    def bootstrap(self) -> None:
        """Create the system accounts, groups and default policy (idempotent; run at every start)."""
        ensure_system(self.ctx)

    def health(self) -> dict[str, Any]:
        """Liveness plus database reachability (one indexed read)."""
        from pony.orm import db_session

        try:
            with db_session:
                epoch = self.db.ScheduleEpoch[1].epoch
        except Exception as exc:  # noqa: BLE001 - any database failure means "not healthy"
            return {"ok": False, "database": f"unreachable: {type(exc).__name__}"}
        return {"ok": True, "database": "ok", "scheduleEpoch": epoch}


__all__ = ["Principal", "Services"]
