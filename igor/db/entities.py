"""The Pony entities of Igor: one ``define_entities(db)`` that declares every table on a fresh ``Database``.

Times that the scheduler works with (reservation start/end, maintenance ends) are stored as integer UTC epoch
minutes, the engine's unit, so no conversion happens on the hot path; bookkeeping stamps (``created``, token
expiry, elevation) are UTC datetimes. Nothing here holds business rules: services own those.

Tables beyond Igor v2's schema (reference §9.2): ``Token`` (hashed API tokens), ``Event`` (the persisted
event/outbox the lifecycle worker consumes), ``ScheduleEpoch`` (one row bumped by every scheduling change, the
coherence point of DESIGN.md §3), ``WorkerLease`` (which server process runs the lifecycle worker) and ``Meta``
(schema version).

Portability notes: datetimes carry microseconds everywhere (``precision=6``: MySQL's plain DATETIME would drop
them); JSON columns are left out of Pony's optimistic checks (``optimistic=False``: MariaDB has no
``CAST(… AS JSON)`` for the comparison Pony would generate).
"""

from __future__ import annotations

from datetime import datetime

from pony.orm import Database, Json, LongStr, Optional, PrimaryKey, Required, Set, composite_index, composite_key


def define_entities(db: Database) -> None:
    """Declare every Igor entity on ``db`` (before ``bind``/``generate_mapping``)."""

    class Meta(db.Entity):
        """Key/value facts about the database itself (``schema_version``)."""

        _table_ = "igor_meta"
        name = PrimaryKey(str, 64)  # not "key": a reserved word in MySQL
        value = Required(str, 255)

    class User(db.Entity):
        _table_ = "users"
        name = Required(str, 32, unique=True)
        full_name = Optional(str, 64)
        email = Optional(str, 255, unique=True, nullable=True)
        pass_hash = Optional(str, 128)
        created = Required(datetime, precision=6, default=datetime.utcnow)
        ldap_managed = Required(bool, default=False)
        elevated_until = Optional(datetime, precision=6)
        groups = Set("Group", reverse="members", table="groups_users")
        owned_groups = Set("Group", reverse="owners", table="groups_owners")
        tokens = Set("Token", cascade_delete=True)
        reservations = Set("Reservation", reverse="owner")
        distros = Set("Distro", reverse="owner")
        profiles = Set("Profile", reverse="owner")
        kickstarts = Set("Kickstart", reverse="owner")

    class Token(db.Entity):
        """An API token: only its SHA-256 is stored."""

        _table_ = "tokens"
        digest = Required(str, 64, unique=True)
        user = Required(User)
        created = Required(datetime, precision=6, default=datetime.utcnow)
        expires = Required(datetime, precision=6, index=True)

    class Group(db.Entity):
        _table_ = "groups"
        name = Required(str, 64, unique=True)
        description = Optional(str, 256)
        is_user_private = Required(bool, default=False)
        is_ldap = Required(bool, default=False)
        created = Required(datetime, precision=6, default=datetime.utcnow)
        owners = Set(User, reverse="owned_groups")
        members = Set(User, reverse="groups")
        permissions = Set("Permission", cascade_delete=True)
        policies = Set("HostPolicy", reverse="access_groups", table="groups_policies")
        reservations = Set("Reservation", reverse="group")
        distros = Set("Distro", reverse="groups", table="distros_groups")

    class Permission(db.Entity):
        """A wildcard permission fact (``reservations:R:edit:*``) granted to a group."""

        _table_ = "permissions"
        group = Required(Group)
        fact = Required(str, 512)
        composite_key(group, fact)

    class Cluster(db.Entity):
        _table_ = "clusters"
        name = Required(str, 64, unique=True)
        prefix = Required(str, 32, unique=True)
        display_width = Required(int)
        display_height = Required(int)
        motd = Optional(str, 1024)
        motd_urgent = Required(bool, default=False)
        hosts = Set("Host")

    class HostPolicy(db.Entity):
        _table_ = "host_policies"
        name = Required(str, 64, unique=True)
        max_res_time = Required(int)  # minutes
        not_available = Required(Json, default=list, optimistic=False)  # [{"start": "<cron>", "duration": minutes}]
        access_groups = Set(Group, reverse="policies")
        hosts = Set("Host")

    class Host(db.Entity):
        _table_ = "hosts"
        name = Required(str, 64, unique=True)
        hostname = Required(str, 255, unique=True)
        sequence_id = Required(int)
        eth = Optional(str, 32)
        mac = Required(str, 17, unique=True)
        ip = Optional(str, 64)
        boot_mode = Required(str, 8, default="bios")
        state = Required(int, default=0)
        restore_state = Required(int, default=0)
        power_uri = Optional(str, 512)
        attributes = Required(Json, default=dict, optimistic=False)
        cluster = Required(Cluster)
        policy = Optional(HostPolicy)
        reservations = Set("Reservation", table="reservations_hosts")
        maintenance = Set("MaintenanceRes", table="maintenanceres_hosts")
        composite_key(cluster, sequence_id)

    class DistroImage(db.Entity):
        _table_ = "distro_images"
        image_id = Required(str, 64, unique=True)
        type = Required(str, 16)
        name = Required(str, 32, unique=True)
        kernel = Optional(str, 255)
        initrd = Optional(str, 255)
        breed = Optional(str, 32)
        local_boot = Required(bool, default=False)
        bios_boot = Required(bool, default=False)
        uefi_boot = Required(bool, default=False)
        kernel_info = Optional(str, 255)
        initrd_info = Optional(str, 255)
        distros = Set("Distro")

    class Kickstart(db.Entity):
        _table_ = "kickstarts"
        name = Required(str, 64)
        filename = Required(str, 255, unique=True)
        owner = Optional(User)
        distros = Set("Distro")

    class Distro(db.Entity):
        _table_ = "distros"
        name = Required(str, 64, unique=True)
        is_default = Required(bool, default=False)
        is_public = Required(bool, default=False)
        deprecated = Required(bool, default=False)
        description = Optional(str, 256)
        owner = Optional(User)
        image = Optional(DistroImage)
        kickstart = Optional(Kickstart)
        kernel_args = Optional(str, 1024)
        groups = Set(Group, reverse="distros")
        profiles = Set("Profile")

    class Profile(db.Entity):
        _table_ = "profiles"
        name = Required(str, 64)
        description = Optional(str, 256)
        owner = Required(User)
        distro = Optional(Distro)
        is_default = Required(bool, default=False)
        kernel_args = Optional(str, 1024)
        reservations = Set("Reservation")
        composite_key(name, owner)

    class Reservation(db.Entity):
        _table_ = "reservations"
        name = Required(str, 64, unique=True)
        description = Optional(str, 256)
        owner = Required(User)
        group = Required(Group)
        profile = Optional(Profile)
        vlan = Required(int, default=0)
        start = Required(int)  # epoch minutes
        end = Required(int)
        orig_end = Required(int)
        reset_end = Required(int)  # end + maintenance pad
        extend_count = Required(int, default=0)
        installed = Required(bool, default=False)
        install_error = Optional(str, 1024)
        cycle_on_start = Required(bool, default=True)
        next_notify = Required(int, default=0)
        hash = Required(str, 64, unique=True)
        created = Required(datetime, precision=6, default=datetime.utcnow)
        hosts = Set(Host, reverse="reservations")
        composite_index(start, reset_end)

    class MaintenanceRes(db.Entity):
        _table_ = "maintenance_res"
        reservation_name = Required(str, 64)
        maintenance_end = Required(int)  # epoch minutes
        hosts = Set(Host, reverse="maintenance")

    class HistoryRecord(db.Entity):
        _table_ = "history_records"
        hash = Required(str, 64, index=True)
        status = Required(str, 128)
        name = Required(str, 64)
        description = Optional(str, 256)
        owner = Optional(str, 32)
        group = Optional(str, 64)
        profile = Optional(str, 64)
        distro = Optional(str, 64)
        vlan = Required(int, default=0)
        start = Required(int)
        end = Required(int)
        orig_end = Required(int)
        extend_count = Required(int, default=0)
        hosts = Optional(LongStr)
        created = Required(datetime, precision=6, default=datetime.utcnow, index=True)

    class Event(db.Entity):
        """Persisted work for the lifecycle worker (installs, close-outs, emails): the outbox."""

        _table_ = "events"
        kind = Required(str, 32)
        key = Optional(str, 128, index=True)
        payload = Required(Json, default=dict, optimistic=False)
        due = Required(int, index=True)  # epoch minutes
        status = Required(str, 16, default="pending", index=True)  # pending | done | failed
        attempts = Required(int, default=0)
        last_error = Optional(str, 1024)
        created = Required(datetime, precision=6, default=datetime.utcnow)
        done = Optional(datetime, precision=6)

    class ScheduleEpoch(db.Entity):
        """One row (id 1); bumped in the same transaction as every scheduling change."""

        _table_ = "schedule_epoch"
        id = PrimaryKey(int)
        epoch = Required(int, default=0)

    class ScheduleChange(db.Entity):
        """What one epoch changed, so that another process can catch its engine up without a rebuild: the id of
        a reservation written in it, ``0`` for anything else (hosts, blocks, policies: rebuild) or ``-1`` for
        nothing the engine holds. An epoch with no row here (pruned, or bumped by something that does not say)
        makes the reader rebuild."""

        _table_ = "schedule_changes"
        id = PrimaryKey(int, auto=True)
        epoch = Required(int, index=True)
        reservation = Required(int)

    class WorkerLease(db.Entity):
        """One row (id 1): which server process runs the lifecycle worker, until when."""

        _table_ = "worker_lease"
        id = PrimaryKey(int)
        holder = Optional(str, 255)
        expires = Optional(datetime, precision=6)
