"""Igor's server configuration: finding, reading and validating ``igor-server.yaml``.

This module owns the server's settings from file to typed value (house style point 24):

* lookup: ``--config PATH``, ``$IGOR_CONFIG``, ``/etc/igor/igor-server.yaml``, ``$IGOR_HOME/conf/igor-server.yaml``;
* one table (:data:`_KEYS`) mapping every Igor v2 camelCase key to its snake_case field, its type and default; the
  reader, the unknown-key check, :meth:`Config.to_dict` and the error messages are all driven by it;
* Igor v2's defaults and clamps (reference section 3.1), each clamp logged as a warning on ``igor.config``;
* one :class:`ConfigError` listing *every* problem, one per line, each naming the dotted key, the value and the
  rule, so a broken file is fixed in one pass;
* the public face of :mod:`igor._configio`, the YAML reading, problem collection, key-table reader and database
  URL helpers shared with :mod:`igor.clusters` (which owns ``igor-clusters.yaml``; its names are importable from
  here too).

Differences from Igor v2, on purpose:

* ``server.host`` defaults to ``127.0.0.1`` and TLS files are required only off loopback; ``server.cbUseTLS``
  defaults to TLS only when TLS files are configured.
* ``scheduler.extendWithin`` left out or 0 means 4320 minutes (v2 assigned 4320 to ``maxScheduleDays`` instead,
  reference section 11.1). ``auth.ldap.sync.syncFrequency`` defaults to 60 whichever sync is on (section 11.11).
* An unknown ``vlan.network`` is an error (section 11.10); so are unknown keys, wrong types and YAML duplicate keys.
* ``auth.ldap.tlsConfig.tlsCheckPeer`` defaults to true (v2's default skipped certificate checks).
* An ``https://`` ``vlan.networkURL`` is verified against the system trust store (v2 skipped the check and has
  no key for it); a site CA is trusted by adding it to that store or with ``SSL_CERT_FILE`` in igor-server's
  environment (:mod:`igor.network.arista`). A URL without a scheme is ``http://`` as in v2.
* ``server.imageStagePath`` and ``server.scriptDir`` name the directory itself (v2 appended
  ``/igor_staged_images`` and ``/scripts`` to them); the defaults are those directories under ``$IGOR_HOME``.
* ``database.url`` replaces ``database.adapter``/``dbFolderPath``, which are still accepted for SQLite.
* ``log.maxSize`` (KiB, default 10240 = the infrastructure-manager seed's 10485760 bytes) and ``log.backups``
  (default 3) are new: v2 had no rotation. ``log.syslog`` left out means no syslog, as in v2; ``network: ''`` is
  the local ``/dev/log``, and ``log.syslog.addr`` is checked (``host:port``, or a socket path for unix/unixgram).
* YAML 1.1 sexagesimal numbers are not recognised, so an unquoted MAC such as ``52:54:00:00:00:01`` stays a string.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from igor._configio import MASK as MASK
from igor._configio import ConfigError, Problems, _Key, _KeyTable, _mask, _Reader, db_bind_args, read_yaml_file
from igor._configio import mask_url as mask_url
from igor._configio import read_yaml as read_yaml
from igor._configio import warn_clamp as warn_clamp

if TYPE_CHECKING:  # importable from here; loaded lazily by __getattr__ because igor.clusters imports this module
    from igor.clusters import ClusterSpec, HostSpec, demo_clusters, dump_clusters, load_clusters, parse_clusters

__all__ = [
    "AuthConfig", "ClusterSpec", "Config", "ConfigError", "DatabaseConfig", "EmailConfig", "ExternalCmdsConfig",
    "HostSpec", "LdapConfig", "LdapSyncConfig", "LogConfig", "MaintenanceConfig", "SchedulerConfig",
    "ServerConfig", "VlanConfig", "demo_clusters", "dump_clusters", "find_clusters_file", "find_config_file",
    "igor_home", "load_clusters", "load_config", "parse_clusters", "parse_config",
]  # fmt: skip

SERVER_FILE = "igor-server.yaml"
CLUSTERS_FILE = "igor-clusters.yaml"
SYSTEM_DIR = Path("/etc/igor")
DEFAULTS_SOURCE = "<defaults>"

_CLUSTER_NAMES = {"ClusterSpec", "HostSpec", "demo_clusters", "dump_clusters", "load_clusters", "parse_clusters"}


def __getattr__(name: str) -> Any:
    if name in _CLUSTER_NAMES:
        from igor import clusters

        return getattr(clusters, name)
    raise AttributeError(f"module 'igor.config' has no attribute {name!r}")


# ---------------------------------------------------------------------------------------------
# Typed configuration
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerConfig:
    """``server.*``: the API and callback listeners, file locations and the service mode."""

    host: str
    port: int
    cb_host: str
    cb_port: int
    cert_file: str
    key_file: str
    cb_use_tls: bool
    allowed_origins: tuple[str, ...]
    allow_public_show: bool
    dns_server: str
    tftp_root: Path
    image_stage_path: Path
    script_dir: Path
    allow_image_upload: bool
    user_local_boot_dc: bool
    mode: str
    workers: int

    @property
    def tls_enabled(self) -> bool:
        """Whether the API listener serves HTTPS."""
        return bool(self.cert_file and self.key_file)


@dataclass(frozen=True)
class LdapSyncConfig:
    """``auth.ldap.sync.*``: periodic user and group synchronisation from LDAP."""

    enable_user_sync: bool
    enable_group_sync: bool
    sync_frequency: int
    group_filters: tuple[str, ...]
    user_list_attribute: str
    user_email_attribute: str
    user_display_name_attribute: str
    group_owner_attributes: tuple[str, ...]


@dataclass(frozen=True)
class LdapConfig:
    """``auth.ldap.*`` (``tlsConfig.tlsCheckPeer`` and ``tlsConfig.cert`` become ``tls_check_peer``/``tls_cert``)."""

    host: str
    port: int
    use_tls: bool
    tls_check_peer: bool
    tls_cert: str
    bind_dn: str
    bind_password: str
    base_dn: str
    filter: str
    attributes: tuple[str, ...]
    sync: LdapSyncConfig


@dataclass(frozen=True)
class AuthConfig:
    """``auth.*``: authentication scheme, token lifetime (hours) and elevation timeout (minutes)."""

    scheme: str
    default_user_password: str
    token_duration: int
    elevate_timeout: int
    ldap: LdapConfig


@dataclass(frozen=True)
class DatabaseConfig:
    """``database.*``: one URL, ``sqlite:///ABSOLUTE/PATH``, ``postgresql://…`` or ``mysql://…``."""

    url: str

    def parsed(self) -> dict[str, Any]:
        """Keyword arguments for Pony's ``Database.bind(**kw)``; query parameters are passed through."""
        return db_bind_args(self.url)


@dataclass(frozen=True)
class LogConfig:
    """``log.*`` (``log.syslog.network``/``addr`` become ``syslog_network``/``syslog_addr``).

    ``file`` is a name inside ``dir`` ('' logs to no file); ``max_size`` is in KiB (0: no built-in rotation, for
    an external logrotate) and ``backups`` the rotated files kept; ``syslog_network`` None means no syslog, ''
    the local syslog socket (``/dev/log``). :mod:`igor.logconfig` applies them.
    """

    level: str
    dir: Path
    file: str
    max_size: int
    backups: int
    syslog_network: str | None
    syslog_addr: str


@dataclass(frozen=True)
class VlanConfig:
    """``vlan.*``: per-reservation VLAN isolation through an Arista switch."""

    network: str
    network_user: str
    network_password: str
    network_url: str
    range_min: int
    range_max: int

    @property
    def enabled(self) -> bool:
        """Whether reservations get their own VLAN."""
        return bool(self.network)


@dataclass(frozen=True)
class EmailConfig:
    """``email.*``; ``res_notify_times`` are minutes before a reservation ends, ascending."""

    smtp_server: str
    smtp_port: int
    smtp_username: str
    smtp_password: str
    reply_to: str
    help_link: str
    default_suffix: str
    res_notify_on: bool
    res_notify_times: tuple[int, ...]

    @property
    def enabled(self) -> bool:
        """Whether Igor sends email at all."""
        return bool(self.smtp_server)


@dataclass(frozen=True)
class SchedulerConfig:
    """``scheduler.*``, all in minutes except ``max_schedule_days``; ``extend_within == -1`` disables extending."""

    node_reserve_limit: int
    max_schedule_days: int
    min_reserve_time: int
    default_reserve_time: int
    max_reserve_time: int
    extend_within: int


@dataclass(frozen=True)
class MaintenanceConfig:
    """``maintenance.*``: minutes a host stays blocked after its reservation ends (0 = off)."""

    host_maintenance_duration: int


@dataclass(frozen=True)
class ExternalCmdsConfig:
    """``externalCmds.*``: power command templates (``%s`` = the host's hostname) and their execution."""

    concurrency_limit: int
    command_retries: int
    power_on: str
    power_off: str
    power_cycle: str


_K = _Key
_KEYS: tuple[_Key, ...] = (
    _K("instanceName", "instance_name", "str", "igor"),
    _K("server.host", "server.host", "str", "127.0.0.1"),
    _K("server.port", "server.port", "int", 8443),
    _K("server.cbHost", "server.cb_host", "str", None),
    _K("server.cbPort", "server.cb_port", "int", None),
    _K("server.certFile", "server.cert_file", "str", ""),
    _K("server.keyFile", "server.key_file", "str", ""),
    _K("server.cbUseTLS", "server.cb_use_tls", "bool", True),
    _K("server.allowedOrigins", "server.allowed_origins", "strs", ()),
    _K("server.allowPublicShow", "server.allow_public_show", "bool", False),
    _K("server.dnsServer", "server.dns_server", "str", ""),
    _K("server.tftpRoot", "server.tftp_root", "path", None),
    _K("server.imageStagePath", "server.image_stage_path", "path", None),
    _K("server.scriptDir", "server.script_dir", "path", None),
    _K("server.allowImageUpload", "server.allow_image_upload", "bool", False),
    _K("server.userLocalBootDC", "server.user_local_boot_dc", "bool", False),
    _K("server.mode", "server.mode", "str", "normal"),
    _K("server.workers", "server.workers", "int", None),
    _K("auth.scheme", "auth.scheme", "str", "local"),
    _K("auth.defaultUserPassword", "auth.default_user_password", "str", "changeMe$1", secret=True),
    _K("auth.tokenDuration", "auth.token_duration", "int", 72),
    _K("auth.elevateTimeout", "auth.elevate_timeout", "int", 10),
    _K("auth.ldap.host", "auth.ldap.host", "str", ""),
    _K("auth.ldap.port", "auth.ldap.port", "port", None),
    _K("auth.ldap.useTLS", "auth.ldap.use_tls", "bool", False),
    _K("auth.ldap.tlsConfig.tlsCheckPeer", "auth.ldap.tls_check_peer", "bool", True),
    _K("auth.ldap.tlsConfig.cert", "auth.ldap.tls_cert", "str", ""),
    _K("auth.ldap.bindDN", "auth.ldap.bind_dn", "str", ""),
    _K("auth.ldap.bindPassword", "auth.ldap.bind_password", "str", "", secret=True),
    _K("auth.ldap.baseDN", "auth.ldap.base_dn", "str", ""),
    _K("auth.ldap.filter", "auth.ldap.filter", "str", "(uid=%s)"),
    _K("auth.ldap.attributes", "auth.ldap.attributes", "strs", ()),
    _K("auth.ldap.sync.enableUserSync", "auth.ldap.sync.enable_user_sync", "bool", False),
    _K("auth.ldap.sync.enableGroupSync", "auth.ldap.sync.enable_group_sync", "bool", False),
    _K("auth.ldap.sync.syncFrequency", "auth.ldap.sync.sync_frequency", "int", 60),
    _K("auth.ldap.sync.groupFilters", "auth.ldap.sync.group_filters", "strs", ()),
    _K("auth.ldap.sync.userListAttribute", "auth.ldap.sync.user_list_attribute", "str", ""),
    _K("auth.ldap.sync.userEmailAttribute", "auth.ldap.sync.user_email_attribute", "str", ""),
    _K("auth.ldap.sync.userDisplayNameAttribute", "auth.ldap.sync.user_display_name_attribute", "str", ""),
    _K("auth.ldap.sync.groupOwnerAttributes", "auth.ldap.sync.group_owner_attributes", "strs", ()),
    _K("database.url", "database.url", "str", None, secret=True),
    _K("database.adapter", None, "str", ""),
    _K("database.dbFolderPath", None, "path", None),
    _K("log.level", "log.level", "str", "info"),
    _K("log.dir", "log.dir", "path", Path("/var/log/igor")),
    _K("log.file", "log.file", "str", "igor.log"),
    _K("log.maxSize", "log.max_size", "int", 10240),
    _K("log.backups", "log.backups", "int", 3),
    _K("log.syslog.network", "log.syslog_network", "str", None),
    _K("log.syslog.addr", "log.syslog_addr", "str", ""),
    _K("vlan.network", "vlan.network", "str", ""),
    _K("vlan.networkUser", "vlan.network_user", "str", "igor"),
    _K("vlan.networkPassword", "vlan.network_password", "str", "", secret=True),
    _K("vlan.networkURL", "vlan.network_url", "str", ""),
    _K("vlan.rangeMin", "vlan.range_min", "int", 0),
    _K("vlan.rangeMax", "vlan.range_max", "int", 0),
    _K("email.smtpServer", "email.smtp_server", "str", ""),
    _K("email.smtpPort", "email.smtp_port", "int", 587),
    _K("email.smtpUsername", "email.smtp_username", "str", ""),
    _K("email.smtpPassword", "email.smtp_password", "str", "", secret=True),
    _K("email.replyTo", "email.reply_to", "str", ""),
    _K("email.helpLink", "email.help_link", "str", ""),
    _K("email.defaultSuffix", "email.default_suffix", "str", ""),
    _K("email.resNotifyOn", "email.res_notify_on", "bool", True),
    _K("email.resNotifyTimes", "email.res_notify_times", "durations", (1440, 4320)),
    _K("scheduler.nodeReserveLimit", "scheduler.node_reserve_limit", "int", 0),
    _K("scheduler.maxScheduleDays", "scheduler.max_schedule_days", "int", 1457),
    _K("scheduler.minReserveTime", "scheduler.min_reserve_time", "int", 30),
    _K("scheduler.defaultReserveTime", "scheduler.default_reserve_time", "int", 60),
    _K("scheduler.maxReserveTime", "scheduler.max_reserve_time", "int", 43200),
    _K("scheduler.extendWithin", "scheduler.extend_within", "int", 4320),
    _K("maintenance.hostMaintenanceDuration", "maintenance.host_maintenance_duration", "int", 0),
    _K("externalCmds.concurrencyLimit", "external_cmds.concurrency_limit", "int", 1),
    _K("externalCmds.commandRetries", "external_cmds.command_retries", "int", 0),
    _K("externalCmds.powerOn", "external_cmds.power_on", "str", ""),
    _K("externalCmds.powerOff", "external_cmds.power_off", "str", ""),
    _K("externalCmds.powerCycle", "external_cmds.power_cycle", "str", ""),
)
_TABLE = _KeyTable(_KEYS)

MAX_SCHEDULE_DAYS = 1457
MAX_RESERVE_MINUTES = 2098080
LOWEST_MIN_RESERVE = 10
DEFAULT_EXTEND_WITHIN = 4320
_MODES = ("normal", "read-only", "read-delete")
_SCHEMES = ("local", "ldap", "ldaps", "ldapi")
_LDAP_PORTS = {"ldap": 389, "ldaps": 636, "ldapi": 0, "local": 389}
_LOG_LEVELS = ("debug", "info", "warning", "error")
_SYSLOG_NETWORKS = ("", "udp", "tcp", "unix", "unixgram")


@dataclass(frozen=True)
class Config:
    """The validated server configuration. Build it with :func:`load_config` or :func:`parse_config`."""

    instance_name: str
    igor_home: Path
    source: str
    server: ServerConfig
    auth: AuthConfig
    database: DatabaseConfig
    log: LogConfig
    vlan: VlanConfig
    email: EmailConfig
    scheduler: SchedulerConfig
    maintenance: MaintenanceConfig
    external_cmds: ExternalCmdsConfig
    clusters_file: Path | None

    def to_dict(self, masked: bool = True) -> dict[str, Any]:
        """The effective settings as the camelCase nesting of ``igor-server.yaml``.

        Args:
            masked: Replace every non-empty password (and the password in ``database.url``) by ``********``.

        Returns:
            Plain JSON/YAML-ready data; unmasked, it parses back to an equal :class:`Config`.
        """
        out: dict[str, Any] = {}
        for key in _KEYS:
            if key.attr is None:
                continue
            value: Any = self
            for part in key.attr.split("."):
                value = getattr(value, part)
            value = str(value) if isinstance(value, Path) else list(value) if isinstance(value, tuple) else value
            node = out
            *parents, leaf = key.yaml.split(".")
            for parent in parents:
                node = node.setdefault(parent, {})
            node[leaf] = _mask(key, value) if masked else value
        return out

    def public_settings(self) -> dict[str, Any]:
        """Igor v2's ``GET /config/public`` payload (the limits clients check before asking)."""
        return {
            "localAuthEnabled": self.auth.scheme == "local",
            "canUploadImages": self.server.allow_image_upload,
            "vlanEnabled": self.vlan.enabled,
            "vlanRangeMin": self.vlan.range_min,
            "vlanRangeMax": self.vlan.range_max,
            "nodeReservationLimit": self.scheduler.node_reserve_limit,
            "maxScheduleDays": self.scheduler.max_schedule_days,
            "minReserveMinutes": self.scheduler.min_reserve_time,
            "maxReserveMinutes": self.scheduler.max_reserve_time,
            "defaultReserveMinutes": self.scheduler.default_reserve_time,
            "hostMaintenanceMinutes": self.maintenance.host_maintenance_duration,
        }


# ---------------------------------------------------------------------------------------------
# Lookup
# ---------------------------------------------------------------------------------------------


def igor_home(env: Mapping[str, str] = os.environ) -> Path:
    """``$IGOR_HOME``, default ``~/.igor-server`` (``~`` read from ``env["HOME"]`` when set)."""
    value = env.get("IGOR_HOME")
    if value:
        return Path(value).expanduser().absolute()
    home = env.get("HOME")
    return (Path(home) if home else Path.home()) / ".igor-server"


def find_config_file(
    explicit: str | None = None, env: Mapping[str, str] = os.environ, *, system_dir: Path = SYSTEM_DIR
) -> Path | None:
    """Find ``igor-server.yaml``: ``explicit``, ``$IGOR_CONFIG``, ``system_dir``, ``$IGOR_HOME/conf``.

    Args:
        explicit: The ``--config`` argument; it must exist.
        env: Environment to read ``IGOR_CONFIG``/``IGOR_HOME``/``HOME`` from.
        system_dir: The system directory (``/etc/igor``), a parameter for tests.

    Returns:
        The first file found, or None when there is none (the server then runs on defaults).

    Raises:
        ConfigError: ``explicit`` or ``$IGOR_CONFIG`` names a file that does not exist.
    """
    for what, given in (("--config", explicit), ("$IGOR_CONFIG", env.get("IGOR_CONFIG"))):
        if given:
            path = Path(given).expanduser()
            if not path.is_file():
                raise ConfigError(f"{what} {given}: no such file")
            return path
    for candidate in (system_dir / SERVER_FILE, igor_home(env) / "conf" / SERVER_FILE):
        if candidate.is_file():
            return candidate
    return None


def find_clusters_file(
    config_file: Path | None, env: Mapping[str, str] = os.environ, *, system_dir: Path = SYSTEM_DIR
) -> Path | None:
    """Find ``igor-clusters.yaml`` next to the server config, else in ``system_dir``, else ``$IGOR_HOME/conf``."""
    dirs = [config_file.parent] if config_file is not None else []
    for directory in (*dirs, system_dir, igor_home(env) / "conf"):
        if (directory / CLUSTERS_FILE).is_file():
            return directory / CLUSTERS_FILE
    return None


def load_config(
    path: str | Path | None = None, *, env: Mapping[str, str] = os.environ, system_dir: Path = SYSTEM_DIR
) -> Config:
    """Find, read and validate the server configuration.

    Args:
        path: ``--config`` (must exist); None searches as :func:`find_config_file` does.
        env: Environment for the lookup and ``$IGOR_HOME``.
        system_dir: The system directory (``/etc/igor``), a parameter for tests.

    Returns:
        The configuration; all defaults when no file is found.

    Raises:
        ConfigError: The file is missing, unreadable, not YAML, or breaks any rule (all listed).
    """
    found = find_config_file(str(path) if path is not None else None, env, system_dir=system_dir)
    if found is None:
        return parse_config(None, env=env, system_dir=system_dir)
    return parse_config(read_yaml_file(found), source=str(found), env=env, system_dir=system_dir)


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _tls_pair_problem(cert: Path, key: Path) -> str:
    """Why ``cert`` and ``key`` cannot serve TLS (unreadable, not PEM, not a pair), or '' when they can."""
    import ssl

    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(str(cert), str(key))
    except PermissionError:
        return f"cannot read it or server.keyFile {str(key)!r} as this user"
    except (ssl.SSLError, OSError) as err:
        reason = getattr(err, "reason", None) or str(err)
        if reason == "KEY_VALUES_MISMATCH":
            return f"does not match server.keyFile {str(key)!r} (not the certificate of that key)"
        return f"with server.keyFile {str(key)!r}: not a usable PEM certificate and private key ({reason})"
    return ""


def _check_server(r: _Reader, home: Path) -> None:
    if r["server.cbHost"] is None:
        r["server.cbHost"] = r["server.host"]
    for key in ("server.host", "server.cbHost", "instanceName"):
        if not r[key].strip():
            r.bad(key, "must not be empty")
    for key in ("server.port", "server.cbPort"):
        if key == "server.cbPort" and r[key] is None:
            r[key] = r["server.port"] + 1
        if not 1 <= r[key] <= 65535:
            r.bad(key, "must be a TCP port number, 1-65535")
    if r["server.cbHost"] == r["server.host"] and r["server.cbPort"] == r["server.port"]:
        r.bad("server.cbPort", "must differ from server.port (the callback server listens on the same host)")
    cert, key = r["server.certFile"], r["server.keyFile"]
    if not cert and not key:
        if not _is_loopback(r["server.host"]):
            r.bad("server.host", "server.certFile and server.keyFile are required unless server.host is a loopback "
                  "address")  # fmt: skip
        if r["server.cbUseTLS"] and "server.cbUseTLS" in r.given:
            r.bad("server.cbUseTLS", "needs server.certFile and server.keyFile")
        elif "server.cbUseTLS" not in r.given and not _is_loopback(r["server.cbHost"]):
            r.bad("server.cbHost", "the callback server uses TLS off loopback: set server.certFile and "
                  "server.keyFile, or server.cbUseTLS: false to serve the nodes over plain HTTP")  # fmt: skip
        r["server.cbUseTLS"] = False
    else:
        present = True
        for name, other, value in (("certFile", "keyFile", cert), ("keyFile", "certFile", key)):
            if not value:
                r.missing(f"server.{name}", f"required together with server.{other}")
                present = False
            elif not Path(value).expanduser().is_file():
                r.bad(f"server.{name}", "no such file")
                present = False
        if present:
            problem = _tls_pair_problem(Path(cert).expanduser(), Path(key).expanduser())
            if problem:
                r.bad("server.certFile", problem)
    r["server.allowedOrigins"] = tuple(o if "://" in o else f"https://{o}" for o in r["server.allowedOrigins"])
    for path_key, default in (("tftpRoot", home), ("imageStagePath", home / "igor_staged_images"),
                              ("scriptDir", home / "scripts")):  # fmt: skip
        if r[f"server.{path_key}"] is None:
            r[f"server.{path_key}"] = default
    if r["server.mode"] not in _MODES:
        r.bad("server.mode", f"must be one of {', '.join(_MODES)}")
    if r["server.workers"] is None:
        r["server.workers"] = min(2 * (os.cpu_count() or 1) + 1, 8)
    elif not 1 <= r["server.workers"] <= 64:
        r.bad("server.workers", "must be 1-64 worker processes")


def _check_auth(r: _Reader) -> None:
    scheme = r["auth.scheme"]
    if scheme not in _SCHEMES:
        r.bad("auth.scheme", f"must be one of {', '.join(_SCHEMES)}")
    if not r["auth.defaultUserPassword"]:
        r.bad("auth.defaultUserPassword", "must not be empty")
    if r["auth.tokenDuration"] <= 0:
        r.clamp("auth.tokenDuration", 72, "is not a positive number of hours")
    elif r["auth.tokenDuration"] > 720:
        r.clamp("auth.tokenDuration", 720, "is more than 720 hours")
    if not 1 <= r["auth.elevateTimeout"] <= 1440:
        r.clamp("auth.elevateTimeout", 10, "is outside 1-1440 minutes")
    if r["auth.ldap.port"] is None:
        r["auth.ldap.port"] = _LDAP_PORTS.get(scheme, 389)
    elif not 0 <= r["auth.ldap.port"] <= 65535:
        r.bad("auth.ldap.port", "must be a TCP port number, 0-65535")
    ldap = scheme in _SCHEMES[1:]
    if ldap and not r["auth.ldap.host"]:
        r.missing("auth.ldap.host", f"required when auth.scheme is {scheme!r}")
    if r["auth.ldap.filter"].count("%s") != 1:
        r.bad("auth.ldap.filter", "must contain exactly one %s (the user name), e.g. (uid=%s)")
    r.at_least("auth.ldap.sync.syncFrequency", 1, "must be a positive number of minutes")
    for what in ("User", "Group"):
        if r[f"auth.ldap.sync.enable{what}Sync"] and not ldap:
            r.bad(f"auth.ldap.sync.enable{what}Sync", f"needs auth.scheme ldap, ldaps or ldapi, not {scheme!r}")
    if not r["auth.ldap.sync.groupFilters"]:
        if r["auth.ldap.sync.enableUserSync"]:  # the admin guide: the users to sync are the members of these
            r.missing("auth.ldap.sync.groupFilters", "required when auth.ldap.sync.enableUserSync is true (the "
                      "user sync creates accounts for the members of these LDAP groups)")
        elif r["auth.ldap.sync.enableGroupSync"]:  # v2's check
            r.missing("auth.ldap.sync.groupFilters", "required when auth.ldap.sync.enableGroupSync is true")


def _check_database(r: _Reader, home: Path) -> None:
    adapter, folder = r["database.adapter"], r["database.dbFolderPath"]
    if adapter not in ("", "sqlite"):
        r.bad("database.adapter", "only 'sqlite' is supported here; use database.url for other databases")
    if r["database.url"] is None:
        r["database.url"] = f"sqlite://{(folder or home / '.database') / 'igor.db'}"
        return
    if folder is not None:
        r.bad("database.dbFolderPath", "cannot be used together with database.url", str(folder))
    try:
        provider = db_bind_args(r["database.url"])["provider"]
    except ValueError as exc:
        r.bad("database.url", str(exc))
        return
    if adapter and provider != "sqlite":
        r.bad("database.adapter", "contradicts database.url; remove database.adapter")


def _check_log(r: _Reader) -> None:
    if "/" in r["log.file"] or r["log.file"] in (".", ".."):
        r.bad("log.file", "must be a file name inside log.dir ('' for no log file)")
    if r.at_least("log.maxSize", 0, "must be 0 (no built-in rotation) or a size in KiB") and r["log.maxSize"]:
        r.at_least("log.backups", 1, "must be at least 1 when log.maxSize is set (the rotated files kept)")
    network, addr = r["log.syslog.network"], r["log.syslog.addr"]
    if network is None:  # no syslog section: syslog off, as in v2
        if addr:
            r.missing("log.syslog.network", "required with log.syslog.addr: udp, tcp, unix or unixgram")
    elif network not in _SYSLOG_NETWORKS:
        r.bad("log.syslog.network", "must be '' (local syslog), udp, tcp, unix or unixgram")
    elif network in ("udp", "tcp") and not addr:
        r.missing("log.syslog.addr", f"required when log.syslog.network is {network!r} (host:port)")
    elif network in ("udp", "tcp"):
        host, _, port = addr.rpartition(":")
        if not host.strip("[]") or not port.isdigit() or not 1 <= int(port) <= 65535:
            r.bad("log.syslog.addr", f"must be host:port when log.syslog.network is {network!r}")
    elif network and not addr.startswith("/"):
        r.bad("log.syslog.addr", f"must be the absolute path of a socket when log.syslog.network is {network!r}")
    elif not network and addr:
        r.bad("log.syslog.addr", "must be empty when log.syslog.network is '' (the local /dev/log)")


def _check_log_vlan_email(r: _Reader) -> None:
    r["log.level"] = r["log.level"].lower()
    if r["log.level"] not in _LOG_LEVELS:
        r.bad("log.level", f"must be one of {', '.join(_LOG_LEVELS)}")
    _check_log(r)

    network = r["vlan.network"]
    if network not in ("", "arista"):
        r.bad("vlan.network", "must be '' (VLANs off) or 'arista'")
        network = ""  # the settings it needs are reported once the network is right
    if network and not r["vlan.networkURL"]:
        r.missing("vlan.networkURL", "required when vlan.network is set, e.g. arista.site:80/command-api")
    in_range = True
    for key in ("vlan.rangeMin", "vlan.rangeMax"):
        if r[key] == 0:  # 0 is v2's "not set"
            in_range = False
            if network and key not in r.given:
                r.missing(key, "required when vlan.network is set (VLAN ids 1-4094)")
            elif network:
                r.bad(key, "required when vlan.network is set (VLAN ids 1-4094)")
        elif not 1 <= r[key] <= 4094:
            r.bad(key, "must be a VLAN id, 1-4094")
            in_range = False
    if in_range and r["vlan.rangeMin"] > r["vlan.rangeMax"]:
        r.bad("vlan.rangeMin", f"must not exceed vlan.rangeMax ({r['vlan.rangeMax']})")

    smtp = r["email.smtpServer"]
    if not 1 <= r["email.smtpPort"] <= 65535:
        r.bad("email.smtpPort", "must be a TCP port number, 1-65535")
    if smtp and not r["email.defaultSuffix"]:
        r.missing("email.defaultSuffix", "required when email.smtpServer is set (mail goes to <user>@<suffix>)")
    if not smtp:
        r["email.resNotifyOn"] = False
    if any(m < 60 for m in r["email.resNotifyTimes"]):
        r.bad("email.resNotifyTimes", "each time must be at least 1h (60 minutes)", list(r["email.resNotifyTimes"]))


def _check_scheduler(r: _Reader) -> None:
    r.at_least("scheduler.nodeReserveLimit", 0, "must be 0 (no limit) or a positive number of nodes")
    r.at_least("maintenance.hostMaintenanceDuration", 0, "must be 0 (off) or a positive number of minutes")
    r.at_least("externalCmds.concurrencyLimit", 1, "must be at least 1")
    r.at_least("externalCmds.commandRetries", 0, "must be 0 or more")
    for cmd in ("powerOn", "powerOff", "powerCycle"):
        if r[f"externalCmds.{cmd}"] and r[f"externalCmds.{cmd}"].count("%s") != 1:
            r.bad(f"externalCmds.{cmd}", "must contain exactly one %s (the host name)")

    if not 1 <= r["scheduler.maxScheduleDays"] <= MAX_SCHEDULE_DAYS:
        r.clamp("scheduler.maxScheduleDays", MAX_SCHEDULE_DAYS, f"is outside 1-{MAX_SCHEDULE_DAYS} days")
    low_ok = r.at_least("scheduler.minReserveTime", 1, "must be a positive whole number of minutes")
    if low_ok and r["scheduler.minReserveTime"] < LOWEST_MIN_RESERVE:
        r.clamp("scheduler.minReserveTime", LOWEST_MIN_RESERVE, f"is below {LOWEST_MIN_RESERVE} minutes")
    if low_ok:
        low_ok = r.at_least("scheduler.defaultReserveTime", r["scheduler.minReserveTime"],
                            f"must be at least scheduler.minReserveTime ({r['scheduler.minReserveTime']})")  # fmt: skip
    if r["scheduler.maxReserveTime"] > MAX_RESERVE_MINUTES:
        r.clamp("scheduler.maxReserveTime", MAX_RESERVE_MINUTES, f"is more than {MAX_RESERVE_MINUTES} minutes")
    window = r["scheduler.maxScheduleDays"] * 1440
    if r["scheduler.maxReserveTime"] > window:
        r.bad("scheduler.maxReserveTime", f"must be at most scheduler.maxScheduleDays × 1440 = {window} minutes")
    elif low_ok:
        r.at_least("scheduler.maxReserveTime", r["scheduler.defaultReserveTime"],
                   f"must be at least scheduler.defaultReserveTime ({r['scheduler.defaultReserveTime']})")  # fmt: skip
    if r["scheduler.extendWithin"] == 0:
        r["scheduler.extendWithin"] = DEFAULT_EXTEND_WITHIN  # v2 put this into maxScheduleDays (section 11.1)
    elif r["scheduler.extendWithin"] < -1:
        r.bad("scheduler.extendWithin", "must be -1 (users cannot extend), 0 (default, 4320) or a positive number "
              "of minutes")  # fmt: skip


def parse_config(
    data: Mapping[str, Any] | None,
    *,
    source: str = DEFAULTS_SOURCE,
    env: Mapping[str, str] = os.environ,
    system_dir: Path = SYSTEM_DIR,
) -> Config:
    """Validate already-parsed ``igor-server.yaml`` data into a :class:`Config`.

    Args:
        data: The file's top-level mapping; None (an empty file) means all defaults.
        source: Where the data came from (a file path, or ``"<defaults>"``); prefixes every problem and locates
            ``igor-clusters.yaml`` next to it.
        env: Environment for ``$IGOR_HOME`` and the clusters-file lookup.
        system_dir: The system directory (``/etc/igor``), a parameter for tests.

    Raises:
        ConfigError: Listing every problem found, one per line.
    """
    problems = Problems(SERVER_FILE if source == DEFAULTS_SOURCE else source)
    if data is not None and not isinstance(data, Mapping):
        problems.note(f"the top level must be a mapping of settings, not {type(data).__name__}")
        problems.check()
    home = igor_home(env)
    r = _Reader(_TABLE, data or {}, problems)
    _check_server(r, home)
    _check_auth(r)
    _check_database(r, home)
    _check_log_vlan_email(r)
    _check_scheduler(r)
    problems.check()
    config_file = Path(source) if source != DEFAULTS_SOURCE and Path(source).is_file() else None
    return Config(
        instance_name=r["instanceName"],
        igor_home=home,
        source=source,
        server=ServerConfig(**r.fields("server")),
        auth=AuthConfig(
            **r.fields("auth"),
            ldap=LdapConfig(**r.fields("auth.ldap"), sync=LdapSyncConfig(**r.fields("auth.ldap.sync"))),
        ),
        database=DatabaseConfig(**r.fields("database")),
        log=LogConfig(**r.fields("log")),
        vlan=VlanConfig(**r.fields("vlan")),
        email=EmailConfig(**r.fields("email")),
        scheduler=SchedulerConfig(**r.fields("scheduler")),
        maintenance=MaintenanceConfig(**r.fields("maintenance")),
        external_cmds=ExternalCmdsConfig(**r.fields("external_cmds")),
        clusters_file=find_clusters_file(config_file, env, system_dir=system_dir),
    )
