"""``igor-server import-igor2 PATH``: migrate an Igor v2 SQLite database (schema version 2) into Igor's database.

The v2 file is opened read-only and read whole first (an Igor v2 database is small); then everything is written
in one transaction, so an import either completes or leaves the target exactly as it was. Only a fresh target is
accepted (no users besides igor-admin, no cluster, no hosts).

What v2 stores and how it arrives here (reference §9.2):

* datetimes are Go ``time.Time`` text as mattn/go-sqlite3 writes it, ``2024-08-29 12:53:15.515940357-07:00``
  (nanoseconds, an offset; seconds and fraction optional); reservation, maintenance and history times become UTC
  epoch minutes (seconds dropped), ``created_at`` becomes the naive-UTC ``created`` stamp;
* ``host_policies.max_res_time`` and ``reservations.next_notify`` are Go ``time.Duration`` nanoseconds: minutes;
* ``host_policies.notavailable`` is JSON ``[{"start": "<cron>", "duration": "2d"}]`` with the duration as the
  text the admin typed (v2's ``common.ParseDuration`` syntax): ``[{"start": "<cron>", "duration": minutes}]``;
* GORM soft-deleted rows (``deleted_at`` set) do not exist for Igor v2 and are skipped, as are join rows that
  point at them;
* permission facts are not copied: they are granted again from the resources with :mod:`igor.permissions`, as
  Igor v2 itself grants them; a v2 fact that is not re-created that way is reported as a warning.

Reservations that have already ended are not imported (Igor v2 would have closed them at its next tick): each is
recorded as ``finished`` in the history instead, and its temporary profile is dropped.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from croniter import croniter
from pony.orm import db_session

from igor import permissions as perms
from igor.errors import BadInput, IgorError
from igor.services.context import ADMINS_GROUP, ALL_GROUP, IGOR_ADMIN, PRIVATE_PREFIX, ServiceContext, naive
from igor.services.users import _private_group, ensure_system
from igor.timefmt import parse_duration, to_minutes

__all__ = ["V2_SCHEMA_VERSION", "Igor2ImportError", "ImportReport", "import_igor2", "parse_go_time"]

#: The Igor v2 SQLite schema version (``PRAGMA user_version``) this importer reads.
V2_SCHEMA_VERSION = 2

_NS_PER_MINUTE = 60 * 10**9
_RESERVED = 1  # host state "reserved" (reference §4.1)
_AVAILABLE = 0
_TEMP_PROFILE_PREFIX = "tpf_"
_UTC = timezone.utc

_TABLES = ("users", "groups", "groups_owners", "groups_users", "permissions", "clusters", "hosts", "host_policies",
           "groups_policies", "reservations", "reservations_hosts", "distro_images", "distros", "distros_groups",
           "kickstarts", "profiles", "history_records", "maintenance_res", "maintenanceres_hosts")

_GO_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?(?:\s+[A-Za-z]{1,6})?(?:\s+m=[+-][\d.]+)?",
    re.ASCII,
)


class Igor2ImportError(IgorError):
    """The v2 database cannot be imported, or the target cannot receive it (HTTP 400)."""

    status = 400


@dataclass(frozen=True)
class ImportReport:
    """What one import brought over: a count per kind, and the warnings (things skipped or adjusted)."""

    users: int = 0
    groups: int = 0
    clusters: int = 0
    hosts: int = 0
    policies: int = 0
    reservations: int = 0
    maintenance: int = 0
    distros: int = 0
    images: int = 0
    kickstarts: int = 0
    profiles: int = 0
    history: int = 0
    warnings: tuple[str, ...] = ()

    def counts(self) -> dict[str, int]:
        """The counts by kind, in declaration order."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "warnings"}

    def __str__(self) -> str:
        text = ", ".join(f"{n} {kind}" for kind, n in self.counts().items())
        if self.warnings:
            text += f"; {len(self.warnings)} warning(s)"
        return text


def parse_go_time(value: Any) -> datetime | None:
    """Parse a datetime as Igor v2 (Go, mattn/go-sqlite3) stored it, into an aware UTC datetime.

    Accepts ``2006-01-02 15:04:05.999999999-07:00`` and its variants: ``T`` instead of the space, no seconds or no
    fraction, up to 9 fraction digits (truncated to microseconds), ``Z``/``+0000``/``+00`` offsets, a trailing zone
    abbreviation or monotonic-clock reading as Go's ``String()`` writes, no offset at all (UTC, as the Go driver
    reads it), a date alone, and integer Unix seconds.

    Args:
        value: the stored value (text, bytes, a number, or None).

    Returns:
        The instant in UTC, or None for NULL/empty.

    Raises:
        BadInput: the value is not a datetime in any of those forms.
    """
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, _UTC)
    text = str(value).strip()
    if not text:
        return None
    match = _GO_TIME.fullmatch(text)
    if match is None:
        raise BadInput(f"unreadable Igor v2 datetime {text!r}")
    year, month, day, hour, minute, second, frac, offset = match.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    zone = _UTC
    if offset and offset != "Z":
        digits = offset[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        zone = timezone(-delta if offset[0] == "-" else delta)
    try:
        local = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micro,
                         tzinfo=zone)
        return local.astimezone(_UTC)
    except (ValueError, OverflowError):
        raise BadInput(f"unreadable Igor v2 datetime {text!r}") from None


def _ns_to_minutes(value: Any) -> int:
    """A Go ``time.Duration`` (nanoseconds) in whole minutes, to the nearest minute."""
    ns = int(value or 0)
    return (ns + _NS_PER_MINUTE // 2) // _NS_PER_MINUTE if ns > 0 else 0


def _bool(value: Any) -> bool:
    if isinstance(value, (bytes, str)):
        text = value.decode() if isinstance(value, bytes) else value
        return text.strip().lower() in ("1", "t", "true", "y", "yes")
    return bool(value)


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


# --- reading the v2 file --------------------------------------------------------------------------------------


class _Source:
    """The rows of a v2 database, read once: live rows (no ``deleted_at``) by table, as dicts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tables: dict[str, list[dict[str, Any]]] = {}
        self.soft_deleted: dict[str, int] = {}

    @classmethod
    def open(cls, source: str | Path) -> _Source:
        path = Path(source).expanduser()
        if not path.exists():
            raise Igor2ImportError(f"{path}: no such file (give the path of Igor v2's igor.db)")
        if not path.is_file():
            raise Igor2ImportError(f"{path} is not a file (give the path of Igor v2's igor.db)")
        try:
            conn = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise Igor2ImportError(f"{path}: cannot open it read-only: {exc}") from None
        try:
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            except sqlite3.DatabaseError as exc:
                raise Igor2ImportError(f"{path} is not an SQLite database ({exc}): give the path of Igor v2's "
                                       "igor.db") from None
            if version != V2_SCHEMA_VERSION:
                raise Igor2ImportError(f"{path} has Igor v2 schema version {version}; only version "
                                       f"{V2_SCHEMA_VERSION} can be imported (run Igor v2's db-migrate first)")
            missing = [t for t in _TABLES if t not in names]
            if missing:
                raise Igor2ImportError(f"{path} is not an Igor v2 database: it has no table(s) {', '.join(missing)}")
            src = cls(path)
            conn.row_factory = sqlite3.Row
            for table in _TABLES:
                rows = [dict(r) for r in conn.execute(f'SELECT * FROM "{table}"')]
                live = [r for r in rows if r.get("deleted_at") in (None, "")]
                src.tables[table] = sorted(live, key=lambda r: r.get("id") or 0)
                if len(live) != len(rows):
                    src.soft_deleted[table] = len(rows) - len(live)
            return src
        except sqlite3.Error as exc:
            raise Igor2ImportError(f"{path}: cannot read it: {exc}") from None
        finally:
            conn.close()

    def rows(self, table: str) -> list[dict[str, Any]]:
        return self.tables[table]

    def pairs(self, table: str, left: str, right: str) -> list[tuple[int, int]]:
        return [(r[left], r[right]) for r in self.tables[table] if r.get(left) is not None]


# --- writing ----------------------------------------------------------------------------------------------------


class _Importer:
    """One import run: the id maps from v2 rows to new entities, the warnings, and the write steps in order."""

    def __init__(self, src: _Source, ctx: ServiceContext) -> None:
        self.src = src
        self.ctx = ctx
        self.db: Any = ctx.db
        self.now = ctx.now()
        self.now_min = to_minutes(self.now)
        self.counts: dict[str, int] = defaultdict(int)
        self.warnings: list[str] = []
        self.where = "checking the target database"
        self.granted: set[tuple[str, str]] = set()
        self.users: dict[Any, Any] = {}
        self.private: dict[str, Any] = {}  # user name -> private group
        self.groups: dict[Any, Any] = {}
        self.clusters: dict[Any, Any] = {}
        self.policies: dict[Any, Any] = {}
        self.hosts: dict[Any, Any] = {}
        self.images: dict[Any, Any] = {}
        self.kickstarts: dict[Any, Any] = {}
        self.distros: dict[Any, Any] = {}
        self.profiles: dict[Any, Any] = {}
        self.reservations: list[Any] = []

    def warn(self, text: str) -> None:
        self.warnings.append(text)

    def created(self, row: dict[str, Any]) -> datetime:
        stamp = parse_go_time(row.get("created_at"))
        return naive(stamp if stamp is not None else self.now)

    def minutes(self, row: dict[str, Any], column: str) -> int:
        stamp = parse_go_time(row.get(column))
        if stamp is None:
            raise BadInput(f"{column} is empty")
        return to_minutes(stamp)

    def grant(self, group: Any, facts: Iterable[str]) -> None:
        for fact in facts:
            if (group.name, fact) not in self.granted:
                self.db.Permission(group=group, fact=fact)
                self.granted.add((group.name, fact))

    # -- the run ----------------------------------------------------------------------------------------------

    def run(self) -> ImportReport:
        self.validate()
        try:
            with db_session:
                self.check_empty()
                self.where = "creating the system accounts"
                ensure_system(self.ctx)
                self.granted = {(p.group.name, p.fact) for p in self.db.Permission.select()}
                for step in (self.import_users, self.import_groups, self.import_clusters, self.import_policies,
                             self.import_hosts, self.import_images, self.import_kickstarts, self.import_distros,
                             self.import_profiles, self.import_reservations, self.import_maintenance,
                             self.import_history, self.fix_host_states, self.compare_permissions):
                    step()
                self.where = "committing"
                self.ctx.bump_epoch()
        except IgorError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure aborts the whole import; say where it happened
            raise Igor2ImportError(f"importing {self.src.path} failed, nothing was imported: {self.where}: "
                                   f"{type(exc).__name__}: {exc}") from exc
        for table, n in sorted(self.src.soft_deleted.items()):
            self.warnings.insert(0, f"skipped {n} soft-deleted row(s) of {table}")
        return ImportReport(**self.counts, warnings=tuple(self.warnings))

    def validate(self) -> None:
        """Refuse data the target's constraints would reject, with a message naming it (before any write)."""
        by_email: dict[str, str] = {}
        for row in self.src.rows("users"):
            email = _text(row.get("email")).strip()
            if email and email in by_email:
                raise Igor2ImportError(f"{self.src.path}: users '{by_email[email]}' and '{row['name']}' have the same "
                                       f"email address '{email}'; Igor needs unique addresses: change one in Igor "
                                       "v2 first")
            by_email.setdefault(email, row["name"])

    def check_empty(self) -> None:
        db = self.db
        users = db.User.select(lambda u: u.name != IGOR_ADMIN).count()
        hosts = db.Host.select().count()
        clusters = db.Cluster.select().count()
        if users or hosts or clusters:
            raise Igor2ImportError(f"target database is not empty ({users} user(s) besides {IGOR_ADMIN}, "
                                   f"{clusters} cluster(s), {hosts} host(s)): import into a fresh database")

    def import_users(self) -> None:
        db = self.db
        admin = db.User.get(name=IGOR_ADMIN)
        everyone = db.Group.get(name=ALL_GROUP)
        self.private[IGOR_ADMIN] = db.Group.get(name=PRIVATE_PREFIX + IGOR_ADMIN)
        for row in self.src.rows("users"):
            name = _text(row["name"]).strip()
            self.where = f"user '{name}'"
            email = _text(row.get("email")).strip() or None
            pass_hash = _text(row.get("pass_hash"))
            if name == IGOR_ADMIN:
                user = admin
                if pass_hash:
                    user.pass_hash = pass_hash
                if row.get("full_name"):
                    user.full_name = _text(row["full_name"])
                if email:
                    user.email = email
                user.created = self.created(row)
            else:
                user = db.User(name=name, full_name=_text(row.get("full_name")), email=email, pass_hash=pass_hash,
                               created=self.created(row))
                group = _private_group(self.ctx, user, admin)
                self.granted.update((group.name, f) for f in perms.private_group_facts(name))
                self.private[name] = group
                everyone.members.add(user)
            self.users[row["id"]] = user
            self.counts["users"] += 1

    def import_groups(self) -> None:
        db = self.db
        admin = db.User.get(name=IGOR_ADMIN)
        owners: dict[int, list[int]] = defaultdict(list)
        members: dict[int, list[int]] = defaultdict(list)
        for gid, uid in self.src.pairs("groups_owners", "group_id", "user_id"):
            owners[gid].append(uid)
        for uid, gid in self.src.pairs("groups_users", "user_id", "group_id"):
            members[gid].append(uid)
        for row in self.src.rows("groups"):
            name = _text(row["name"]).strip()
            self.where = f"group '{name}'"
            if name in (ALL_GROUP, ADMINS_GROUP):
                group = db.Group.get(name=name)
                if name == ADMINS_GROUP:
                    for uid in members[row["id"]]:
                        if uid in self.users:
                            group.members.add(self.users[uid])
                self.groups[row["id"]] = group
                continue
            if _bool(row.get("is_user_private")) or name.startswith(PRIVATE_PREFIX):
                group = self.private.get(name[len(PRIVATE_PREFIX):])
                if group is not None:
                    self.groups[row["id"]] = group
                continue
            is_ldap = _bool(row.get("is_ldap"))
            group = db.Group(name=name, description=_text(row.get("description")), is_ldap=is_ldap,
                             created=self.created(row))
            owner_users = [self.users[u] for u in owners[row["id"]] if u in self.users]
            if not owner_users:
                self.warn(f"group '{name}' had no remaining owner: {IGOR_ADMIN} owns it now")
                owner_users = [admin]
            for user in owner_users:
                group.owners.add(user)
                if user is not admin:
                    group.members.add(user)
                self.grant(self.private[user.name], perms.group_owner_facts(name, is_ldap))
            for uid in members[row["id"]]:
                if uid in self.users:
                    group.members.add(self.users[uid])
            self.grant(group, perms.group_member_facts(name))
            self.groups[row["id"]] = group
            self.counts["groups"] += 1

    def import_clusters(self) -> None:
        for row in self.src.rows("clusters"):
            self.where = f"cluster '{row['name']}'"
            self.clusters[row["id"]] = self.db.Cluster(
                name=_text(row["name"]), prefix=_text(row["prefix"]), display_width=int(row.get("display_width") or 0),
                display_height=int(row.get("display_height") or 0), motd=_text(row.get("motd")),
                motd_urgent=_bool(row.get("motd_urgent")))
            self.counts["clusters"] += 1

    def import_policies(self) -> None:
        db = self.db
        access: dict[int, list[int]] = defaultdict(list)
        for pid, gid in self.src.pairs("groups_policies", "host_policy_id", "group_id"):
            access[pid].append(gid)
        for row in self.src.rows("host_policies"):
            name = _text(row["name"]).strip()
            self.where = f"host policy '{name}'"
            max_time = (_ns_to_minutes(row["max_res_time"]) if row.get("max_res_time")
                        else self.ctx.config.scheduler.max_reserve_time)
            blocks = self.blocks(name, row.get("notavailable"))
            policy = db.HostPolicy.get(name=name)
            if policy is None:
                policy = db.HostPolicy(name=name, max_res_time=max_time, not_available=blocks)
            else:  # the default policy, created by ensure_system
                policy.max_res_time = max_time
                policy.not_available = blocks
                if max_time != self.ctx.config.scheduler.max_reserve_time:
                    self.warn(f"host policy '{name}': Igor v2's maximum reservation time ({max_time} min) differs from "
                              f"scheduler.maxReserveTime ({self.ctx.config.scheduler.max_reserve_time} min); the "
                              "server resets the default policy to the configured value when it starts")
            policy.access_groups.clear()
            for gid in access[row["id"]]:
                if gid in self.groups:
                    policy.access_groups.add(self.groups[gid])
            self.policies[row["id"]] = policy
            self.counts["policies"] += 1

    def blocks(self, policy: str, raw: Any) -> list[dict[str, Any]]:
        """v2's ``notavailable`` JSON as ``[{"start": cron, "duration": minutes}]``; unusable blocks are warned."""
        text = _text(raw).strip()
        if not text:
            return []
        try:
            data = json.loads(text)
        except ValueError:
            self.warn(f"host policy '{policy}': unreadable notavailable JSON {text!r} ignored")
            return []
        out: list[dict[str, Any]] = []
        for block in data or []:
            start = block.get("start") if isinstance(block, dict) else None
            dur = block.get("duration") if isinstance(block, dict) else None
            try:
                if not isinstance(start, str) or len(start.split()) != 5 or not croniter.is_valid(start):
                    raise BadInput(f"start {start!r} is not a 5-field cron expression")
                if isinstance(dur, str):
                    minutes = parse_duration(dur)
                elif isinstance(dur, int) and not isinstance(dur, bool):
                    minutes = _ns_to_minutes(dur)  # a Go time.Duration marshalled as a number
                else:
                    raise BadInput(f"duration {dur!r} is not a duration")
                if minutes <= 0:
                    raise BadInput(f"duration {dur!r} is shorter than a minute")
            except BadInput as exc:
                self.warn(f"host policy '{policy}': not-available block {block!r} skipped: {exc}")
                continue
            out.append({"start": " ".join(start.split()), "duration": minutes})
        return out

    def import_hosts(self) -> None:
        default = self.db.HostPolicy.get(name="default")
        for row in self.src.rows("hosts"):
            name = _text(row["name"])
            self.where = f"host '{name}'"
            cluster = self.clusters.get(row.get("cluster_id"))
            if cluster is None:
                self.warn(f"host '{name}' skipped: its cluster (v2 id {row.get('cluster_id')}) does not exist")
                continue
            self.hosts[row["id"]] = self.db.Host(
                name=name, hostname=_text(row.get("host_name")) or name, sequence_id=int(row["sequence_id"]),
                eth=_text(row.get("eth")), mac=_text(row["mac"]), ip=_text(row.get("ip")),
                boot_mode=_text(row.get("boot_mode")) or "bios", state=int(row.get("state") or 0),
                restore_state=int(row.get("restore_state") or 0), cluster=cluster,
                policy=self.policies.get(row.get("host_policy_id"), default))
            self.counts["hosts"] += 1

    def import_images(self) -> None:
        for row in self.src.rows("distro_images"):
            self.where = f"distro image '{row['name']}'"
            self.images[row["id"]] = self.db.DistroImage(
                image_id=_text(row["image_id"]), type=_text(row["type"]), name=_text(row["name"]),
                kernel=_text(row.get("kernel")), initrd=_text(row.get("initrd")), breed=_text(row.get("breed")),
                local_boot=_bool(row.get("local_boot")), bios_boot=_bool(row.get("bios_boot")),
                uefi_boot=_bool(row.get("uefi_boot")), kernel_info=_text(row.get("kernel_info")),
                initrd_info=_text(row.get("initrd_info")))
            self.counts["images"] += 1

    def import_kickstarts(self) -> None:
        for row in self.src.rows("kickstarts"):
            self.where = f"kickstart '{row['filename']}'"
            filename = _text(row["filename"])
            self.kickstarts[row["id"]] = self.db.Kickstart(
                name=_text(row.get("name")) or filename.split(".", 1)[0], filename=filename,
                owner=self.users.get(row.get("owner_id")))
            self.counts["kickstarts"] += 1

    def import_distros(self) -> None:
        db = self.db
        shared: dict[int, list[int]] = defaultdict(list)
        for did, gid in self.src.pairs("distros_groups", "distro_id", "group_id"):
            shared[did].append(gid)
        for row in self.src.rows("distros"):
            name = _text(row["name"])
            self.where = f"distro '{name}'"
            owner = self.users.get(row.get("owner_id"))
            if owner is None:
                self.warn(f"distro '{name}': its owner (v2 user id {row.get('owner_id')}) does not exist: "
                          f"{IGOR_ADMIN} owns it now")
                owner = db.User.get(name=IGOR_ADMIN)
            groups = [self.groups[g] for g in shared[row["id"]] if g in self.groups]
            distro = db.Distro(name=name, is_default=_bool(row.get("is_default")),
                               is_public=any(g.name == ALL_GROUP for g in groups),
                               description=_text(row.get("description")), owner=owner,
                               image=self.images.get(row.get("distro_image_id")),
                               kickstart=self.kickstarts.get(row.get("kickstart_id")),
                               kernel_args=_text(row.get("kernel_args")))
            self.grant(self.private[owner.name], perms.distro_owner_facts(name))
            for group in groups:
                distro.groups.add(group)
                self.grant(group, perms.distro_group_facts(name))
            self.distros[row["id"]] = distro
            self.counts["distros"] += 1

    def import_profiles(self) -> None:
        live = {r.get("profile_id") for r in self.src.rows("reservations") if not self.ended(r)}
        dropped = []
        for row in self.src.rows("profiles"):
            name = _text(row["name"])
            self.where = f"profile '{name}'"
            owner = self.users.get(row.get("owner_id"))
            is_default = _bool(row.get("is_default"))
            if is_default and name.startswith(_TEMP_PROFILE_PREFIX) and row["id"] not in live:
                dropped.append(name)  # a reservation's temporary profile goes with the reservation
                continue
            if owner is None:
                self.warn(f"profile '{name}' skipped: its owner (v2 user id {row.get('owner_id')}) does not exist")
                continue
            self.profiles[row["id"]] = self.db.Profile(
                name=name, description=_text(row.get("description")), owner=owner,
                distro=self.distros.get(row.get("distro_id")), is_default=is_default,
                kernel_args=_text(row.get("kernel_args")))
            self.grant(self.private[owner.name], perms.profile_owner_facts(name))
            self.counts["profiles"] += 1
        if dropped:
            self.warn(f"skipped {len(dropped)} temporary profile(s) of reservations that are not imported: "
                      f"{', '.join(sorted(dropped))}")

    def ended(self, row: dict[str, Any]) -> bool:
        end = parse_go_time(row.get("end"))
        return end is None or to_minutes(end) <= self.now_min

    def import_reservations(self) -> None:
        db = self.db
        on: dict[int, list[int]] = defaultdict(list)
        for hid, rid in self.src.pairs("reservations_hosts", "host_id", "reservation_id"):
            if hid in self.hosts:
                on[rid].append(hid)
        ended = []
        for row in self.src.rows("reservations"):
            name = _text(row["name"])
            self.where = f"reservation '{name}'"
            hosts = sorted((self.hosts[h] for h in on[row["id"]]), key=lambda h: h.sequence_id)
            owner = self.users.get(row.get("owner_id"))
            group = self.groups.get(row.get("group_id"))
            if self.ended(row):
                ended.append(name)
                self.finished(row, owner, group, hosts)
                continue
            if owner is None:
                self.warn(f"reservation '{name}': its owner (v2 user id {row.get('owner_id')}) does not exist: "
                          f"{IGOR_ADMIN} owns it now")
                owner = db.User.get(name=IGOR_ADMIN)
            if group is None:
                self.warn(f"reservation '{name}': its group (v2 id {row.get('group_id')}) does not exist: it is "
                          "shared with no one but its owner now")
                group = self.private[owner.name]
            if not hosts:
                self.warn(f"reservation '{name}' skipped: none of its hosts exist")
                continue
            start, end = self.minutes(row, "start"), self.minutes(row, "end")
            orig_end = self.minutes(row, "orig_end") if row.get("orig_end") else end
            reset_end = self.minutes(row, "reset_end") if row.get("reset_end") else end
            installed = _bool(row.get("installed"))
            res = db.Reservation(
                name=name, description=_text(row.get("description")), owner=owner, group=group,
                profile=self.profiles.get(row.get("profile_id")), vlan=int(row.get("vlan") or 0), start=start,
                end=end, orig_end=orig_end, reset_end=max(reset_end, end),
                extend_count=int(row.get("extend_count") or 0),
                installed=installed, install_error=_text(row.get("install_error"))[:1024],
                cycle_on_start=_bool(row.get("cycle_on_start")), next_notify=_ns_to_minutes(row.get("next_notify")),
                hash=_text(row["hash"]), created=self.created(row))
            for host in hosts:
                res.hosts.add(host)
            self.grant(self.private[owner.name], perms.reservation_owner_facts(name))
            # As in v2: the group's facts go to the reservation's group even when that is the owner's private group,
            # since the owner's own facts (edit:*) do not include delete.
            active = installed and start <= self.now_min
            self.grant(group, perms.reservation_group_facts(name, [h.name for h in hosts] if active else None))
            self.reservations.append(res)
            self.counts["reservations"] += 1
        if ended:
            self.warn(f"skipped {len(ended)} reservation(s) that had already ended, recorded as finished in the "
                      f"history: {', '.join(sorted(ended))}")

    def finished(self, row: dict[str, Any], owner: Any | None, group: Any | None, hosts: list[Any]) -> None:
        """Record an ended reservation as Igor v2's manager would have when closing it."""
        profile = next((p for p in self.src.rows("profiles") if p["id"] == row.get("profile_id")), None)  # rare
        distro = self.distros.get(profile.get("distro_id")) if profile else None
        end = self.minutes(row, "end")
        self.db.HistoryRecord(
            hash=_text(row["hash"]), status="finished", name=_text(row["name"]),
            description=_text(row.get("description")), owner=owner.name if owner is not None else "",
            group=group.name if group is not None else "",
            profile=_text(profile["name"]) if profile else "", distro=distro.name if distro else "",
            vlan=int(row.get("vlan") or 0), start=self.minutes(row, "start"), end=end,
            orig_end=self.minutes(row, "orig_end") if row.get("orig_end") else end,
            extend_count=int(row.get("extend_count") or 0), hosts=",".join(h.name for h in hosts),
            created=naive(self.now))

    def import_maintenance(self) -> None:
        on: dict[int, list[int]] = defaultdict(list)
        for mid, hid in self.src.pairs("maintenanceres_hosts", "maintenance_res_id", "host_id"):
            if hid in self.hosts:
                on[mid].append(hid)
        for row in self.src.rows("maintenance_res"):
            self.where = f"maintenance of reservation '{row.get('reservation_name')}'"
            if not on[row["id"]]:
                continue
            maint = self.db.MaintenanceRes(reservation_name=_text(row.get("reservation_name")),
                                           maintenance_end=self.minutes(row, "maintenance_end_time"))
            for hid in on[row["id"]]:
                maint.hosts.add(self.hosts[hid])
            self.counts["maintenance"] += 1

    def import_history(self) -> None:
        unreadable = []
        for row in self.src.rows("history_records"):
            self.where = f"history record {row['id']} ({row.get('status')} of '{row.get('name')}')"
            try:
                start, end = self.minutes(row, "start"), self.minutes(row, "end")
                orig_end = self.minutes(row, "orig_end") if row.get("orig_end") else end
            except BadInput:  # history is a record, not state: one bad row does not stop the import
                unreadable.append(str(row["id"]))
                continue
            self.db.HistoryRecord(
                hash=_text(row["hash"]), status=_text(row.get("status")), name=_text(row["name"]),
                description=_text(row.get("description")), owner=_text(row.get("owner")),
                group=_text(row.get("group")), profile=_text(row.get("profile")), distro=_text(row.get("distro")),
                vlan=int(row.get("vlan") or 0), start=start, end=end, orig_end=orig_end,
                extend_count=int(row.get("extend_count") or 0), hosts=_text(row.get("hosts")),
                created=self.created(row))
            self.counts["history"] += 1
        if unreadable:
            self.warn(f"skipped {len(unreadable)} history record(s) with a missing or unreadable start or end: "
                      f"v2 id(s) {', '.join(unreadable)}")

    def fix_host_states(self) -> None:
        """Hosts v2 left "reserved" by a reservation that is not imported (it had ended) become available."""
        self.where = "host states"
        running = {h.name for r in self.reservations if r.start <= self.now_min for h in r.hosts}
        freed = sorted((h for h in self.hosts.values() if h.state == _RESERVED and h.name not in running),
                       key=lambda h: h.sequence_id)
        for host in freed:
            host.state = _AVAILABLE
        if freed:
            self.warn(f"{len(freed)} host(s) were reserved by no running reservation and are available now: "
                      f"{', '.join(h.name for h in freed)}")

    def compare_permissions(self) -> None:
        """Warn about v2 facts of imported groups that the import did not grant again."""
        self.where = "comparing permissions"
        names = {gid: g.name for gid, g in self.groups.items()}
        lost = sorted(f"{names[r['group_id']]}: {r['fact']}" for r in self.src.rows("permissions")
                      if r.get("group_id") in names and (names[r["group_id"]], _text(r["fact"])) not in self.granted)
        if lost:
            shown = "; ".join(lost[:10]) + (f"; and {len(lost) - 10} more" if len(lost) > 10 else "")
            self.warn(f"{len(lost)} Igor v2 permission fact(s) were not carried over (they name resources that were "
                      f"not imported): {shown}")


def import_igor2(source: str | Path, services_ctx: ServiceContext, *,
                 log: Callable[[str], None] = print) -> ImportReport:
    """Migrate an Igor v2 SQLite database into the (fresh) database of ``services_ctx``, all or nothing.

    Args:
        source: path of Igor v2's ``igor.db`` (schema version 2); opened read-only, never changed.
        services_ctx: the target: its database, configuration (for the default policy) and clock (which decides
            which reservations have already ended).
        log: receives one line per step and per warning.

    Returns:
        The counts of what was imported, and warnings for what was skipped or adjusted.

    Raises:
        Igor2ImportError: the file is missing, not SQLite, not Igor v2 schema version 2, or holds data the target
            cannot take; or the target database is not empty; or writing failed (then nothing was written).
    """
    src = _Source.open(source)
    log(f"importing {src.path} (Igor v2 schema version {V2_SCHEMA_VERSION})")
    report = _Importer(src, services_ctx).run()
    for kind, n in report.counts().items():
        log(f"  {kind}: {n}")
    for warning in report.warnings:
        log(f"  warning: {warning}")
    return report
