"""Tests for igor.config (igor-server.yaml) and igor.clusters (igor-clusters.yaml)."""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest

from igor.clusters import ClusterSpec, HostSpec
from igor.config import (
    Config,
    ConfigError,
    demo_clusters,
    dump_clusters,
    find_clusters_file,
    find_config_file,
    igor_home,
    load_clusters,
    load_config,
    parse_clusters,
    parse_config,
    read_yaml,
)
from igor.errors import IgorError

KRYPTON = Path("/work/shared/data/krypton-clusters.yaml")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"IGOR_HOME": str(tmp_path / "home"), "HOME": str(tmp_path / "user")}


@pytest.fixture
def nosys(tmp_path: Path) -> Path:
    """A system directory (stand-in for /etc/igor) that starts empty."""
    path = tmp_path / "etc-igor"
    path.mkdir()
    return path


def cfg(data: dict[str, Any] | None, env: dict[str, str], **kw: Any) -> Config:
    return parse_config(data, env=env, system_dir=kw.pop("system_dir", Path("/nonexistent")), **kw)


def problems(data: Any, env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as info:
        cfg(data, env)
    return str(info.value)


# ---------------------------------------------------------------------------------------------
# Defaults
# ---------------------------------------------------------------------------------------------


def test_defaults(env: dict[str, str]) -> None:
    c = cfg(None, env)
    home = Path(env["IGOR_HOME"])
    assert c.instance_name == "igor" and c.igor_home == home and c.source == "<defaults>"
    s = c.server
    assert (s.host, s.port, s.cb_host, s.cb_port) == ("127.0.0.1", 8443, "127.0.0.1", 8444)
    assert not s.tls_enabled and not s.cb_use_tls and s.mode == "normal" and 1 <= s.workers <= 8
    assert (s.tftp_root, s.image_stage_path, s.script_dir) == (home, home / "igor_staged_images", home / "scripts")
    assert s.allowed_origins == () and not s.allow_public_show and not s.allow_image_upload
    a = c.auth
    assert (a.scheme, a.default_user_password, a.token_duration, a.elevate_timeout) == ("local", "changeMe$1", 72, 10)
    assert a.ldap.port == 389 and a.ldap.tls_check_peer and a.ldap.filter == "(uid=%s)"
    assert a.ldap.sync.sync_frequency == 60 and not a.ldap.sync.enable_user_sync
    assert c.database.url == f"sqlite://{home}/.database/igor.db"
    assert c.database.parsed() == {"provider": "sqlite", "filename": f"{home}/.database/igor.db", "create_db": True}
    assert (c.log.level, c.log.dir, c.log.file) == ("info", Path("/var/log/igor"), "igor.log")
    assert not c.vlan.enabled and c.vlan.network_user == "igor"
    e = c.email
    assert not e.enabled and not e.res_notify_on and e.smtp_port == 587 and e.res_notify_times == (1440, 4320)
    sc = c.scheduler
    assert (sc.node_reserve_limit, sc.max_schedule_days, sc.min_reserve_time) == (0, 1457, 30)
    assert (sc.default_reserve_time, sc.max_reserve_time, sc.extend_within) == (60, 43200, 4320)
    assert c.maintenance.host_maintenance_duration == 0
    assert (c.external_cmds.concurrency_limit, c.external_cmds.command_retries) == (1, 0)
    assert c.clusters_file is None


def test_config_is_frozen(env: dict[str, str]) -> None:
    c = cfg(None, env)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.scheduler.min_reserve_time = 5  # type: ignore[misc]


def test_empty_sections_and_null_values_mean_defaults(env: dict[str, str]) -> None:
    c = cfg({"server": None, "scheduler": {"minReserveTime": None}}, env)
    assert c.scheduler.min_reserve_time == 30


def test_igor_home(tmp_path: Path) -> None:
    assert igor_home({"HOME": "/u"}) == Path("/u/.igor-server")
    assert igor_home({"IGOR_HOME": str(tmp_path)}) == tmp_path


def test_config_error_is_igor_error_500() -> None:
    err = ConfigError("x")
    assert isinstance(err, IgorError) and err.status == 500 and err.problems == ("x",)


# ---------------------------------------------------------------------------------------------
# Clamps (v2 behaviour, now with a warning)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "key", "value", "attr", "expected"),
    [
        ("auth", "tokenDuration", -1, "token_duration", 72),
        ("auth", "tokenDuration", 721, "token_duration", 720),
        ("auth", "elevateTimeout", 1441, "elevate_timeout", 10),
        ("auth", "elevateTimeout", -3, "elevate_timeout", 10),
        ("scheduler", "maxScheduleDays", -1, "max_schedule_days", 1457),
        ("scheduler", "maxScheduleDays", 1458, "max_schedule_days", 1457),
        ("scheduler", "minReserveTime", 1, "min_reserve_time", 10),
        ("scheduler", "minReserveTime", 9, "min_reserve_time", 10),
        ("scheduler", "maxReserveTime", 3_000_000, "max_reserve_time", 2098080),
    ],
)
def test_clamps_warn(
    env: dict[str, str], caplog: pytest.LogCaptureFixture, section: str, key: str, value: int, attr: str, expected: int
) -> None:
    with caplog.at_level(logging.WARNING, logger="igor.config"):
        c = cfg({section: {key: value}}, env)
    assert getattr(getattr(c, section), attr) == expected
    assert f"{section}.{key} = {value}" in caplog.text


@pytest.mark.parametrize(("key", "expected"), [("tokenDuration", 72), ("elevateTimeout", 10)])
def test_zero_means_default_silently(
    env: dict[str, str], caplog: pytest.LogCaptureFixture, key: str, expected: int
) -> None:
    with caplog.at_level(logging.WARNING, logger="igor.config"):
        c = cfg({"auth": {key: 0}}, env)
    assert getattr(c.auth, "token_duration" if key == "tokenDuration" else "elevate_timeout") == expected
    assert caplog.text == ""


def test_in_range_values_kept(env: dict[str, str]) -> None:
    scheduler = {"minReserveTime": 10, "defaultReserveTime": 10, "maxReserveTime": 2098080}
    c = cfg({"auth": {"tokenDuration": 720, "elevateTimeout": 1440}, "scheduler": scheduler}, env)
    assert (c.auth.token_duration, c.auth.elevate_timeout) == (720, 1440)
    assert (c.scheduler.min_reserve_time, c.scheduler.max_reserve_time) == (10, 2098080)


# ---------------------------------------------------------------------------------------------
# extendWithin: reference section 11.1 regression
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [{}, {"scheduler": {"extendWithin": 0}}, {"scheduler": {"maxScheduleDays": 1457}}])
def test_extend_within_default_is_4320_and_max_schedule_days_untouched(env: dict[str, str], data: dict) -> None:
    # Igor v2 assigned 4320 to maxScheduleDays here and left extendWithin 0 ("extend any time").
    c = cfg(data, env)
    assert c.scheduler.extend_within == 4320
    assert c.scheduler.max_schedule_days == 1457
    assert c.public_settings()["maxScheduleDays"] == 1457


def test_extend_within_minus_one_disables_and_positive_kept(env: dict[str, str]) -> None:
    assert cfg({"scheduler": {"extendWithin": -1}}, env).scheduler.extend_within == -1
    assert cfg({"scheduler": {"extendWithin": 60}}, env).scheduler.extend_within == 60


# ---------------------------------------------------------------------------------------------
# Errors: each names the key, the value and the rule
# ---------------------------------------------------------------------------------------------

ERROR_CASES = [
    ({"scheduler": {"minReserveTime": -5}},
     "igor-server.yaml: scheduler.minReserveTime = -5: must be a positive whole number of minutes"),
    ({"scheduler": {"minReserveTime": 0}}, "scheduler.minReserveTime = 0: must be a positive"),
    ({"scheduler": {"minReserveTime": 60, "defaultReserveTime": 30}},
     "scheduler.defaultReserveTime = 30: must be at least scheduler.minReserveTime (60)"),
    ({"scheduler": {"defaultReserveTime": 100, "maxReserveTime": 90}},
     "scheduler.maxReserveTime = 90: must be at least scheduler.defaultReserveTime (100)"),
    ({"scheduler": {"maxScheduleDays": 10, "maxReserveTime": 14401}},
     "scheduler.maxReserveTime = 14401: must be at most scheduler.maxScheduleDays × 1440 = 14400 minutes"),
    ({"scheduler": {"extendWithin": -2}}, "scheduler.extendWithin = -2: must be -1"),
    ({"scheduler": {"nodeReserveLimit": -1}}, "scheduler.nodeReserveLimit = -1: must be 0"),
    ({"maintenance": {"hostMaintenanceDuration": -1}}, "maintenance.hostMaintenanceDuration = -1: must be 0"),
    ({"externalCmds": {"concurrencyLimit": 0}}, "externalCmds.concurrencyLimit = 0: must be at least 1"),
    ({"externalCmds": {"commandRetries": -1}}, "externalCmds.commandRetries = -1: must be 0 or more"),
    ({"externalCmds": {"powerOn": "ipmipower --on"}},
     "externalCmds.powerOn = 'ipmipower --on': must contain exactly one %s"),
    ({"externalCmds": {"powerCycle": "x %s %s"}}, "externalCmds.powerCycle = 'x %s %s': must contain exactly one"),
    ({"server": {"host": "0.0.0.0"}},
     "server.host = '0.0.0.0': server.certFile and server.keyFile are required unless server.host is a loopback"),
    ({"server": {"host": "igor.example.com"}}, "server.host = 'igor.example.com': server.certFile and server.keyFile"),
    ({"server": {"certFile": "/nonexistent/c.pem"}}, "server.keyFile is missing: required together with"),
    ({"server": {"certFile": "/nonexistent/c.pem", "keyFile": "/nonexistent/k.pem"}},
     "server.certFile = '/nonexistent/c.pem': no such file"),
    ({"server": {"cbUseTLS": True}}, "server.cbUseTLS = True: needs server.certFile and server.keyFile"),
    ({"server": {"port": 0}}, "server.port = 0: must be a TCP port number"),
    ({"server": {"port": 65535}}, "server.cbPort = 65536: must be a TCP port number"),
    ({"server": {"cbPort": 8443}}, "server.cbPort = 8443: must differ from server.port"),
    ({"server": {"mode": "readonly"}}, "server.mode = 'readonly': must be one of normal, read-only, read-delete"),
    ({"server": {"workers": 0}}, "server.workers = 0: must be 1-64"),
    ({"server": {"workers": 65}}, "server.workers = 65: must be 1-64"),
    ({"server": {"tftpRoot": "relative/dir"}}, "server.tftpRoot = 'relative/dir': must be an absolute path"),
    ({"server": {"host": ""}}, "server.host = '': must not be empty"),
    ({"auth": {"scheme": "kerberos"}}, "auth.scheme = 'kerberos': must be one of local, ldap, ldaps, ldapi"),
    ({"auth": {"scheme": "ldap"}}, "auth.ldap.host is missing: required when auth.scheme is 'ldap'"),
    ({"auth": {"ldap": {"filter": "(uid=*)"}}}, "auth.ldap.filter = '(uid=*)': must contain exactly one %s"),
    ({"auth": {"ldap": {"port": 70000}}}, "auth.ldap.port = 70000: must be a TCP port number"),
    ({"auth": {"ldap": {"sync": {"syncFrequency": 0}}}},
     "auth.ldap.sync.syncFrequency = 0: must be a positive number of minutes"),
    ({"auth": {"ldap": {"sync": {"enableUserSync": True}}}},
     "auth.ldap.sync.enableUserSync = True: needs auth.scheme ldap, ldaps or ldapi, not 'local'"),
    ({"auth": {"scheme": "ldap", "ldap": {"host": "h", "sync": {"enableGroupSync": True}}}},
     "auth.ldap.sync.groupFilters is missing: required when auth.ldap.sync.enableGroupSync is true"),
    ({"auth": {"scheme": "ldap", "ldap": {"host": "h", "sync": {"enableUserSync": True}}}},
     "auth.ldap.sync.groupFilters is missing: required when auth.ldap.sync.enableUserSync is true (the user sync"),
    ({"auth": {"defaultUserPassword": ""}}, "auth.defaultUserPassword = '': must not be empty"),
    ({"database": {"url": "oracle://x/y"}}, "database.url = 'oracle://x/y': the scheme must be sqlite, postgresql"),
    ({"database": {"url": "sqlite://igor.db"}}, "database.url = 'sqlite://igor.db': use sqlite:///ABSOLUTE/PATH"),
    ({"database": {"url": "postgresql://u@h"}}, "database.url = 'postgresql://u@h': must name one database"),
    ({"database": {"url": "mysql://u:secret@h:99999/d"}}, "database.url = 'mysql://u:********@h:99999/d': has an"),
    ({"database": {"adapter": "mysql"}}, "database.adapter = 'mysql': only 'sqlite' is supported"),
    ({"database": {"url": "sqlite:///x.db", "dbFolderPath": "/var/db"}},
     "database.dbFolderPath = '/var/db': cannot be used together with database.url"),
    ({"database": {"url": "postgresql://h/d", "adapter": "sqlite"}}, "database.adapter = 'sqlite': contradicts"),
    ({"log": {"level": "verbose"}}, "log.level = 'verbose': must be one of debug, info, warning, error"),
    ({"log": {"syslog": {"network": "ip"}}}, "log.syslog.network = 'ip': must be"),
    ({"log": {"syslog": {"network": "udp"}}}, "log.syslog.addr is missing: required when log.syslog.network"),
    ({"vlan": {"network": "cisco"}}, "vlan.network = 'cisco': must be '' (VLANs off) or 'arista'"),
    ({"vlan": {"network": "arista", "rangeMin": 1, "rangeMax": 9}}, "vlan.networkURL is missing: required when"),
    ({"vlan": {"network": "arista", "networkURL": "u", "rangeMax": 9}}, "vlan.rangeMin is missing: required when"),
    ({"vlan": {"rangeMin": -1, "rangeMax": 10}}, "vlan.rangeMin = -1: must be a VLAN id, 1-4094"),
    ({"vlan": {"network": "arista", "networkURL": "u", "rangeMin": 0, "rangeMax": 9}},
     "vlan.rangeMin = 0: required when vlan.network is set"),
    ({"vlan": {"rangeMin": 1, "rangeMax": 4095}}, "vlan.rangeMax = 4095: must be a VLAN id, 1-4094"),
    ({"vlan": {"rangeMin": 20, "rangeMax": 10}}, "vlan.rangeMin = 20: must not exceed vlan.rangeMax (10)"),
    ({"email": {"smtpServer": "mail"}}, "email.defaultSuffix is missing: required when email.smtpServer is set"),
    ({"email": {"smtpPort": 0}}, "email.smtpPort = 0: must be a TCP port number"),
    ({"email": {"resNotifyTimes": "1d,30m"}}, "email.resNotifyTimes = [30, 1440]: each time must be at least 1h"),
    ({"email": {"resNotifyTimes": "1x"}}, "email.resNotifyTimes = '1x': invalid duration '1x'"),
    ({"email": {"resNotifyTimes": []}}, "email.resNotifyTimes = []: must name at least one time"),
    ({"email": {"resNotifyTimes": [True]}}, "email.resNotifyTimes = [True]: must be durations"),
    # wrong types
    ({"server": {"port": "8443"}}, "server.port = '8443': must be a whole number"),
    ({"server": {"port": 84.5}}, "server.port = 84.5: must be a whole number"),
    ({"server": {"port": True}}, "server.port = True: must be a whole number"),
    ({"server": {"allowPublicShow": "yes please"}}, "server.allowPublicShow = 'yes please': must be true or false"),
    ({"server": {"allowPublicShow": 1}}, "server.allowPublicShow = 1: must be true or false"),
    ({"server": {"cbUseTLS": [True]}}, "server.cbUseTLS = [True]: must be true or false"),
    ({"server": {"allowedOrigins": "a.example"}}, "server.allowedOrigins = 'a.example': must be a list of strings"),
    ({"instanceName": 7}, "instanceName = 7: must be a string (quote it)"),
    ({"scheduler": {"minReserveTime": "30m"}}, "scheduler.minReserveTime = '30m': must be a whole number"),
    ({"server": "localhost"}, "server = 'localhost': must be a mapping of settings"),
    ({"vlan": {"networkPassword": 1234}}, "vlan.networkPassword = '********': must be a string"),
    ({1: "x"}, "key 1 in the top level must be a string"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "message"), ERROR_CASES)
def test_errors_name_key_value_and_rule(env: dict[str, str], data: dict, message: str) -> None:
    assert message in problems(data, env)


def test_unknown_key_suggests_closest(env: dict[str, str]) -> None:
    text = problems({"scheduler": {"minReserveTme": 30}}, env)
    assert "unknown key 'scheduler.minReserveTme' (did you mean 'scheduler.minReserveTime'?)" in text
    assert "did you mean 'scheduler.minReserveTime'" in problems({"minReserveTime": 30}, env)
    assert "unknown key 'zzz'" in problems({"zzz": 1}, env)
    assert "(did you mean 'auth.ldap.tlsConfig.tlsCheckPeer'?)" in problems(
        {"auth": {"ldap": {"tlsConfig": {"tlsCheckpeer": False}}}}, env
    )


def test_all_problems_reported_together(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as info:
        cfg({"scheduler": {"minReserveTime": -5, "extendWithin": -9}, "vlan": {"network": "x"}, "bogus": 1,
             "server": {"mode": "off", "port": "80"}}, env)  # fmt: skip
    err = info.value
    assert len(err.problems) == 6
    assert str(err).splitlines() == list(err.problems)
    assert all(line.startswith("igor-server.yaml: ") for line in err.problems)


def test_secrets_masked_in_messages(env: dict[str, str]) -> None:
    text = problems({"database": {"url": "postgresql://igor:hunter2@db"}, "auth": {"ldap": {"bindPassword": 5}}}, env)
    assert "hunter2" not in text and "'postgresql://igor:********@db'" in text
    assert "auth.ldap.bindPassword = '********'" in text


def test_top_level_must_be_mapping(env: dict[str, str]) -> None:
    assert "the top level must be a mapping of settings, not list" in problems(["a"], env)


def test_tls_rules(env: dict[str, str], tls_certs) -> None:
    for host in ("127.0.0.1", "127.1.2.3", "::1", "localhost", "LOCALHOST"):
        assert not cfg({"server": {"host": host}}, env).server.tls_enabled
    cert, key = str(tls_certs.cert), str(tls_certs.key)
    c = cfg({"server": {"host": "0.0.0.0", "certFile": cert, "keyFile": key}}, env)
    assert c.server.tls_enabled and c.server.cb_use_tls
    assert not cfg({"server": {"host": "::", "certFile": cert, "keyFile": key, "cbUseTLS": False}},
                   env).server.cb_use_tls  # fmt: skip


def test_tls_files_must_be_a_usable_pair(env: dict[str, str], tls_certs, tmp_path: Path) -> None:
    """A certificate and key that cannot serve TLS stop the server at start-up, not at the first connection."""
    cert, key = str(tls_certs.cert), str(tls_certs.key)
    mismatch = problems({"server": {"certFile": cert, "keyFile": str(tls_certs.other_key)}}, env)
    assert f"server.certFile = '{cert}': does not match server.keyFile '{tls_certs.other_key}'" in mismatch
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    assert f"server.certFile = '{junk}': with server.keyFile '{key}': not a usable PEM" in problems(
        {"server": {"certFile": str(junk), "keyFile": key}}, env)
    swapped = problems({"server": {"certFile": key, "keyFile": cert}}, env)
    assert f"server.certFile = '{key}': with server.keyFile '{cert}': not a usable PEM" in swapped


def test_callbacks_off_loopback_need_tls_or_an_explicit_plain_http(env: dict[str, str]) -> None:
    """The callback listener follows the API's rule: off loopback it serves TLS, unless cbUseTLS: false says
    the nodes fetch their files over plain HTTP (an installer without the CA, as in Igor v2)."""
    assert ("server.cbHost = '0.0.0.0': the callback server uses TLS off loopback"
            in problems({"server": {"cbHost": "0.0.0.0"}}, env))
    plain = cfg({"server": {"cbHost": "0.0.0.0", "cbUseTLS": False}}, env).server
    assert plain.cb_host == "0.0.0.0" and not plain.cb_use_tls


def test_server_derived_values(env: dict[str, str]) -> None:
    c = cfg({"server": {"host": "localhost", "port": 9000, "allowedOrigins": ["web.example", "http://x:8080"],
                        "imageStagePath": "/srv/stage", "scriptDir": "~/s"}}, env)  # fmt: skip
    assert (c.server.cb_host, c.server.cb_port) == ("localhost", 9001)
    assert c.server.allowed_origins == ("https://web.example", "http://x:8080")
    assert c.server.image_stage_path == Path("/srv/stage") and c.server.script_dir == Path("~/s").expanduser()
    assert cfg({"server": {"workers": 3, "mode": "read-only"}}, env).server.workers == 3


def test_ldap_ports_by_scheme(env: dict[str, str]) -> None:
    for scheme, port in (("ldap", 389), ("ldaps", 636), ("ldapi", 0)):
        assert cfg({"auth": {"scheme": scheme, "ldap": {"host": "h"}}}, env).auth.ldap.port == port
    assert cfg({"auth": {"scheme": "ldaps", "ldap": {"host": "h", "port": "1636"}}}, env).auth.ldap.port == 1636


def test_ldap_group_sync_ok_and_frequency_default(env: dict[str, str]) -> None:
    users = {"enableUserSync": True, "groupFilters": ["(cn=igor-users)"]}
    c = cfg({"auth": {"scheme": "ldap", "ldap": {"host": "h", "sync": users}}}, env)
    assert c.auth.ldap.sync.sync_frequency == 60  # v2 left it 0 (busy loop) unless group sync was on
    sync = {"enableGroupSync": True, "groupFilters": ["(cn=x)"]}
    c = cfg({"auth": {"scheme": "ldap", "ldap": {"host": "h", "sync": sync}}}, env)
    assert c.auth.ldap.sync.group_filters == ("(cn=x)",)


def test_email_settings(env: dict[str, str]) -> None:
    c = cfg({"email": {"smtpServer": "mail", "defaultSuffix": "example.com", "resNotifyTimes": "3d,1d"}}, env)
    assert c.email.enabled and c.email.res_notify_on and c.email.res_notify_times == (1440, 4320)
    c = cfg({"email": {"smtpServer": "m", "defaultSuffix": "x", "resNotifyTimes": [120, "1h", "2h"]}}, env)
    assert c.email.res_notify_times == (60, 120)
    c = cfg({"email": {"resNotifyOn": True, "resNotifyTimes": 90}}, env)
    assert not c.email.res_notify_on and c.email.res_notify_times == (90,)


def test_vlan_settings(env: dict[str, str]) -> None:
    c = cfg({"vlan": {"network": "arista", "networkURL": "sw:80/command-api", "rangeMin": 100, "rangeMax": 100}}, env)
    assert c.vlan.enabled and (c.vlan.range_min, c.vlan.range_max) == (100, 100)
    assert c.public_settings()["vlanEnabled"] is True


def test_log_level_case_insensitive(env: dict[str, str]) -> None:
    assert cfg({"log": {"level": "DEBUG"}}, env).log.level == "debug"


# ---------------------------------------------------------------------------------------------
# Database URLs
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///var/lib/igor/igor.db", {"provider": "sqlite", "filename": "/var/lib/igor/igor.db",
                                            "create_db": True}),
        ("sqlite:////var/lib/igor/igor.db", {"provider": "sqlite", "filename": "/var/lib/igor/igor.db",
                                             "create_db": True}),
        ("sqlite:///:memory:", {"provider": "sqlite", "filename": ":memory:", "create_db": True}),
        ("postgresql://igor:p%40ss@db.example:5433/igor",
         {"provider": "postgres", "user": "igor", "password": "p@ss", "host": "db.example", "port": 5433,
          "database": "igor"}),
        ("postgres://igor@db/igor?sslmode=require",
         {"provider": "postgres", "user": "igor", "password": "", "host": "db", "port": 5432, "database": "igor",
          "sslmode": "require"}),
        ("mysql://igor:pw@db/igor",
         {"provider": "mysql", "user": "igor", "password": "pw", "host": "db", "port": 3306, "database": "igor"}),
        ("mariadb://igor:pw@db:3307/igor",
         {"provider": "mysql", "user": "igor", "password": "pw", "host": "db", "port": 3307, "database": "igor"}),
    ],
)  # fmt: skip
def test_database_url_parsing(env: dict[str, str], url: str, expected: dict) -> None:
    assert cfg({"database": {"url": url}}, env).database.parsed() == expected


def test_database_v2_keys(env: dict[str, str]) -> None:
    c = cfg({"database": {"adapter": "sqlite", "dbFolderPath": "/srv/igor/db"}}, env)
    assert c.database.url == "sqlite:///srv/igor/db/igor.db"
    assert c.database.parsed()["filename"] == "/srv/igor/db/igor.db"
    assert cfg({"database": {"adapter": "sqlite", "url": "sqlite:///x/y.db"}}, env).database.url == "sqlite:///x/y.db"


# ---------------------------------------------------------------------------------------------
# to_dict / public_settings
# ---------------------------------------------------------------------------------------------

SECRETS = {
    "auth": {"defaultUserPassword": "s1", "scheme": "ldap", "ldap": {"host": "h", "bindPassword": "s2"}},
    "vlan": {"networkPassword": "s3"},
    "email": {"smtpPassword": "s4", "smtpServer": "m", "defaultSuffix": "x"},
    "database": {"url": "postgresql://igor:s5@db/igor"},
}


def test_to_dict_masks_every_secret(env: dict[str, str]) -> None:
    c = cfg(SECRETS, env)
    masked = c.to_dict()
    text = repr(masked)
    assert not any(f"'s{i}'" in text for i in range(1, 5)) and "s5" not in masked["database"]["url"]
    assert masked["auth"]["defaultUserPassword"] == "********"
    assert masked["auth"]["ldap"]["bindPassword"] == "********"
    assert masked["vlan"]["networkPassword"] == "********"
    assert masked["email"]["smtpPassword"] == "********"
    assert masked["database"]["url"] == "postgresql://igor:********@db/igor"
    assert masked["auth"]["ldap"]["tlsConfig"]["tlsCheckPeer"] is True
    assert c.to_dict(masked=False)["email"]["smtpPassword"] == "s4"


def test_to_dict_round_trips(env: dict[str, str]) -> None:
    c = cfg(SECRETS, env)
    assert cfg(c.to_dict(masked=False), env) == c
    assert cfg(cfg(None, env).to_dict(masked=False), env) == cfg(None, env)


def test_public_settings(env: dict[str, str]) -> None:
    c = cfg({"scheduler": {"nodeReserveLimit": 8}, "maintenance": {"hostMaintenanceDuration": 15},
             "server": {"allowImageUpload": True}}, env)  # fmt: skip
    assert c.public_settings() == {
        "localAuthEnabled": True, "canUploadImages": True, "vlanEnabled": False, "vlanRangeMin": 0,
        "vlanRangeMax": 0, "nodeReservationLimit": 8, "maxScheduleDays": 1457, "minReserveMinutes": 30,
        "maxReserveMinutes": 43200, "defaultReserveMinutes": 60, "hostMaintenanceMinutes": 15,
    }  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Lookup and files
# ---------------------------------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_lookup_order(tmp_path: Path, env: dict[str, str], nosys: Path) -> None:
    home_conf = write(Path(env["IGOR_HOME"]) / "conf" / "igor-server.yaml", "instanceName: home\n")
    assert find_config_file(None, env, system_dir=nosys) == home_conf
    system = write(nosys / "igor-server.yaml", "instanceName: system\n")
    assert find_config_file(None, env, system_dir=nosys) == system
    from_env = write(tmp_path / "env.yaml", "instanceName: env\n")
    assert find_config_file(None, {**env, "IGOR_CONFIG": str(from_env)}, system_dir=nosys) == from_env
    explicit = write(tmp_path / "explicit.yaml", "instanceName: explicit\n")
    assert find_config_file(str(explicit), {**env, "IGOR_CONFIG": str(from_env)}, system_dir=nosys) == explicit
    assert load_config(None, env=env, system_dir=nosys).instance_name == "system"
    assert load_config(explicit, env=env, system_dir=nosys).source == str(explicit)


def test_lookup_nothing_found_means_defaults(env: dict[str, str], nosys: Path) -> None:
    assert find_config_file(None, env, system_dir=nosys) is None
    c = load_config(env=env, system_dir=nosys)
    assert c.source == "<defaults>" and c.scheduler.min_reserve_time == 30


def test_lookup_default_igor_home_from_home(tmp_path: Path, nosys: Path) -> None:
    path = write(tmp_path / ".igor-server" / "conf" / "igor-server.yaml", "{}\n")
    assert find_config_file(None, {"HOME": str(tmp_path)}, system_dir=nosys) == path


def test_explicit_and_env_paths_must_exist(tmp_path: Path, env: dict[str, str], nosys: Path) -> None:
    with pytest.raises(ConfigError, match="--config .*missing.yaml: no such file"):
        find_config_file(str(tmp_path / "missing.yaml"), env, system_dir=nosys)
    with pytest.raises(ConfigError, match=r"\$IGOR_CONFIG .*nope.yaml: no such file"):
        find_config_file(None, {**env, "IGOR_CONFIG": str(tmp_path / "nope.yaml")}, system_dir=nosys)


def test_clusters_file_lookup(tmp_path: Path, env: dict[str, str], nosys: Path) -> None:
    home_clusters = write(Path(env["IGOR_HOME"]) / "conf" / "igor-clusters.yaml", "")
    server = write(tmp_path / "cfgdir" / "igor-server.yaml", "instanceName: x\n")
    assert load_config(server, env=env, system_dir=nosys).clusters_file == home_clusters
    system_clusters = write(nosys / "igor-clusters.yaml", "")
    assert find_clusters_file(server, env, system_dir=nosys) == system_clusters
    beside = write(tmp_path / "cfgdir" / "igor-clusters.yaml", "")
    assert load_config(server, env=env, system_dir=nosys).clusters_file == beside
    assert find_clusters_file(None, env, system_dir=nosys) == system_clusters


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path, env: dict[str, str], nosys: Path) -> None:
    path = write(tmp_path / "bad.yaml", "server:\n  host: a\n   port: 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env, system_dir=nosys)
    assert str(info.value).startswith(f"{path}: line 3,") and "invalid YAML" in str(info.value)


def test_yaml_duplicate_key_is_an_error(tmp_path: Path, env: dict[str, str], nosys: Path) -> None:
    path = write(tmp_path / "dup.yaml", "scheduler:\n  minReserveTime: 30\n  minReserveTime: 40\n")
    with pytest.raises(ConfigError, match=r"line 3, .*duplicate key 'minReserveTime' \(first on line 2\)"):
        load_config(path, env=env, system_dir=nosys)


def test_file_problems_prefixed_with_path(tmp_path: Path, env: dict[str, str], nosys: Path) -> None:
    path = write(tmp_path / "igor-server.yaml", "scheduler:\n  minReserveTime: -5\n")
    with pytest.raises(ConfigError, match=f"^{path}: scheduler.minReserveTime = -5: must be a positive"):
        load_config(path, env=env, system_dir=nosys)


def test_unreadable_file(tmp_path: Path, env: dict[str, str], nosys: Path) -> None:
    path = write(tmp_path / "bin.yaml", "")
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path, env=env, system_dir=nosys)


def test_empty_file_is_defaults(tmp_path: Path, env: dict[str, str], nosys: Path) -> None:
    path = write(tmp_path / "empty.yaml", "# nothing\n")
    assert load_config(path, env=env, system_dir=nosys).scheduler.extend_within == 4320


# ---------------------------------------------------------------------------------------------
# igor-clusters.yaml
# ---------------------------------------------------------------------------------------------


def clusters_problems(data: Any) -> str:
    with pytest.raises(ConfigError) as info:
        parse_clusters(data)
    return str(info.value)


def good_cluster(**host: Any) -> dict:
    entry = {"mac": "52:54:00:00:00:07", "ip": "10.0.0.7", "bootMode": "bios", **host}
    return {"kr": {"prefix": "kn", "displayWidth": 4, "displayHeight": 2, "hostmap": {7: entry}}}


def test_krypton_example_parses(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="igor.config"):
        spec = load_clusters(KRYPTON)
    assert (spec.name, spec.prefix, spec.display_width, spec.display_height) == ("krypton", "kn", 12, 4)
    assert [h.seq for h in spec.hosts] == list(range(1, 49))
    kn10 = spec.hosts[9]
    assert (kn10.name, kn10.hostname, kn10.mac, kn10.ip) == ("kn10", "kn10", "00:00:00:00:00:0a", "192.168.0.10")
    assert (kn10.eth, kn10.policy, kn10.boot_mode) == ("Et1/10/1", "default", "bios")
    assert spec.hosts[0].boot_mode == "uefi"
    # The example reuses two IPs (kn9/kn33, kn21/kn45): allowed, as in v2, but logged.
    assert "krypton.hostmap.33.ip 192.168.1.9 is also host 9's" in caplog.text


def test_krypton_round_trip(tmp_path: Path) -> None:
    spec = load_clusters(KRYPTON)
    assert parse_clusters(read_yaml(dump_clusters(spec), "x")) == spec
    copy = tmp_path / "igor-clusters.yaml"
    shutil.copy(KRYPTON, copy)
    copy.write_text(dump_clusters(spec))
    assert load_clusters(copy) == spec


def test_demo_cluster() -> None:
    spec = demo_clusters()
    assert (spec.name, spec.prefix, spec.display_width, spec.display_height) == ("demo", "dn", 16, 4)
    assert [h.name for h in spec.hosts] == [f"dn{i}" for i in range(1, 65)]
    assert len({h.mac for h in spec.hosts}) == 64 and spec.hosts[0].mac == "52:54:00:00:00:01"
    assert spec.hosts[63].ip == "10.0.0.64" and all(h.power_uri == "sim://" for h in spec.hosts)
    assert [h.seq for h in spec.hosts if h.boot_mode == "uefi"] == [8, 16, 24, 32, 40, 48, 56, 64]
    assert [h.seq for h in spec.hosts if h.attributes.get("gpu") == "a100"] == list(range(57, 65))
    assert [h.seq for h in spec.hosts if h.attributes["ram_gb"] == 256] == list(range(49, 65))
    text = dump_clusters(spec)
    assert "'52:54:00:00:00:01'" in text  # quoted: YAML 1.1 readers would see a base-60 number
    assert parse_clusters(read_yaml(text, "x")) == spec
    assert len(demo_clusters("sim", 300).hosts) == 300
    with pytest.raises(ValueError):
        demo_clusters("9x")


def test_cluster_optional_fields_and_normalisation() -> None:
    attributes: dict[str, Any] = {"gpu": "a100", "ram_gb": 256, "fast": True, "ghz": 2.5}
    spec = parse_clusters(good_cluster(mac="52-54-00-AB-CD-EF", ip="fe80::0001", hostname="zod", eth="Et4/1/1",
                                       policy="gpu", bootMode="UEFI", powerUri="ipmi://admin:pw@bmc7:623",
                                       attributes=attributes))  # fmt: skip
    host = spec.hosts[0]
    assert host == HostSpec(seq=7, name="kn7", hostname="zod", mac="52:54:00:ab:cd:ef", ip="fe80::1", eth="Et4/1/1",
                            policy="gpu", boot_mode="uefi", power_uri="ipmi://admin:pw@bmc7:623",
                            attributes=attributes)  # fmt: skip
    assert isinstance(spec, ClusterSpec) and spec.motd == ""
    assert parse_clusters(read_yaml(dump_clusters(spec), "x")) == spec
    with pytest.raises(TypeError):
        host.attributes["gpu"] = "h100"  # type: ignore[index]


def test_unquoted_mac_is_a_string() -> None:
    data = read_yaml("kr:\n  prefix: kn\n  displayWidth: 1\n  displayHeight: 1\n  hostmap:\n"
                     "    1: {mac: 52:54:00:00:00:01, ip: 10.0.0.1, bootMode: bios}\n", "x")  # fmt: skip
    assert parse_clusters(data).hosts[0].mac == "52:54:00:00:00:01"


def test_hostmap_string_keys_and_sorting() -> None:
    data = good_cluster()
    data["kr"]["hostmap"] = {"3": {"mac": "00:00:00:00:00:03", "ip": "10.0.0.3", "bootMode": "bios"},
                             0: {"mac": "00:00:00:00:00:00", "ip": "10.0.0.4", "bootMode": "bios"}}  # fmt: skip
    assert [h.name for h in parse_clusters(data).hosts] == ["kn0", "kn3"]


CLUSTER_ERRORS = [
    (good_cluster(mac="zz"), "igor-clusters.yaml: kr.hostmap.7.mac = 'zz': not a valid MAC address"),
    (good_cluster(mac="00:00:00:00:00"), "kr.hostmap.7.mac = '00:00:00:00:00': not a valid MAC"),
    (good_cluster(mac=12), "kr.hostmap.7.mac = 12: must be a string"),
    (good_cluster(ip="10.0.0.300"), "kr.hostmap.7.ip = '10.0.0.300': not a valid IPv4 or IPv6 address"),
    (good_cluster(bootMode="pxe"), "kr.hostmap.7.bootMode = 'pxe': must be bios or uefi"),
    (good_cluster(eth="E1"), "kr.hostmap.7.eth = 'E1': must be a switch port name"),
    (good_cluster(eth="Et1/1/1 "), None),
    (good_cluster(hostname="bad name"), "kr.hostmap.7.hostname = 'bad name': not a valid host name"),
    (good_cluster(powerUri="ssh://x"), "kr.hostmap.7.powerUri = 'ssh://x': the scheme must be one of ipmi://"),
    (good_cluster(powerUri="ipmi:///x"), "kr.hostmap.7.powerUri = 'ipmi:///x': must name the BMC"),
    (good_cluster(powerUri="ipmi://bmc:x"), "kr.hostmap.7.powerUri = 'ipmi://bmc:x': has an invalid port"),
    (good_cluster(powerUri="libvirt+qemu://"), "must name the domain"),
    (good_cluster(attributes=["gpu"]), "kr.hostmap.7.attributes = ['gpu']: must be a mapping"),
    (good_cluster(attributes={"gpu": ["a", "b"]}), "kr.hostmap.7.attributes.gpu = ['a', 'b']: must be a string"),
    (good_cluster(attributes={"bad key": 1}), "kr.hostmap.7.attributes = 'bad key': attribute names start"),
    (good_cluster(bootmode="bios"), "unknown key 'kr.hostmap.7.bootmode' (did you mean 'kr.hostmap.7.bootMode'?)"),
    (good_cluster(ip=None), "kr.hostmap.7.ip is missing"),
    ({"kr": {"prefix": "kn", "displayWidth": 1, "displayHeight": 1, "hostmap": {-1: {}}}},
     "kr.hostmap = -1: node numbers must be whole numbers"),
    ({"kr": {"prefix": "kn", "displayWidth": 1, "displayHeight": 1, "hostmap": {1: "x"}}},
     "kr.hostmap.1 = 'x': must be a mapping"),
    ({"kr": {"prefix": "k n", "displayWidth": 1, "displayHeight": 1}}, "kr.prefix = 'k n': must be a letter"),
    ({"kr": {"displayWidth": 1, "displayHeight": 1}}, "kr.prefix is missing"),
    ({"kr": {"prefix": "kn", "displayWidth": 0, "displayHeight": 1}}, "kr.displayWidth = 0: must be a positive"),
    ({"kr": {"prefix": "kn", "displayWidth": 1}}, "kr.displayHeight is missing"),
    ({"kr": {"prefix": "kn", "displayWidth": 1, "displayHeight": 1, "hostmapp": {}}},
     "unknown key 'kr.hostmapp' (did you mean 'kr.hostmap'?)"),
    ({"kr": {"prefix": "kn", "displayWidth": 1, "displayHeight": 1, "motd": 5}}, "kr.motd = 5: must be a string"),
    ({"kr": "x"}, "kr = 'x': must be a mapping"),
    ({"a": {}, "b": {}}, "only one cluster is supported, found 2: a, b"),
    ({}, "must define one cluster"),
    (["kr"], "must define one cluster"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "message"), CLUSTER_ERRORS)
def test_cluster_errors(data: Any, message: str | None) -> None:
    if message is None:
        parse_clusters(data)
    else:
        assert message in clusters_problems(data)


def test_duplicate_mac_and_hostname() -> None:
    data = good_cluster()
    data["kr"]["hostmap"][8] = {"mac": "52:54:00:00:00:07", "ip": "10.0.0.8", "bootMode": "bios", "hostname": "KN7"}
    text = clusters_problems(data)
    assert "kr.hostmap.8.mac = '52:54:00:00:00:07': duplicate of kr.hostmap.7.mac" in text
    assert "kr.hostmap.8.hostname = 'KN7': duplicate of kr.hostmap.7.hostname" in text


def test_duplicate_seq_and_yaml_duplicate_key() -> None:
    data = good_cluster()
    data["kr"]["hostmap"]["7"] = {"mac": "52:54:00:00:00:08", "ip": "10.0.0.8", "bootMode": "bios"}
    assert "node number 7 appears twice" in clusters_problems(data)
    with pytest.raises(ConfigError, match="duplicate key 1"):
        read_yaml("kr:\n  hostmap:\n    1: {}\n    1: {}\n", "f.yaml")


def test_cluster_problems_collected(tmp_path: Path) -> None:
    data = good_cluster(mac="zz", ip="nope", bootMode="pxe")
    path = write(tmp_path / "c.yaml", dump_yaml(data))
    with pytest.raises(ConfigError) as info:
        load_clusters(path)
    assert len(info.value.problems) == 3 and all(p.startswith(f"{path}: kr.hostmap.7.") for p in info.value.problems)


def test_yaml_merge_keys_allowed() -> None:
    text = ("kr:\n  prefix: kn\n  displayWidth: 2\n  displayHeight: 1\n  hostmap:\n"
            "    1: &h {mac: '00:00:00:00:00:01', ip: 10.0.0.1, bootMode: uefi}\n"
            "    2: {<<: *h, mac: '00:00:00:00:00:02', ip: 10.0.0.2}\n")  # fmt: skip
    assert [h.boot_mode for h in parse_clusters(read_yaml(text, "x")).hosts] == ["uefi", "uefi"]


def dump_yaml(data: Any) -> str:
    import yaml

    return yaml.safe_dump(data)
