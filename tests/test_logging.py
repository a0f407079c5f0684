"""``log.*`` applied: size rotation and depth, syslog over UDP, the level, bad settings, no secrets in the log."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from igor import logconfig
from igor.config import Config, ConfigError, parse_config
from igor.server import main


def cfg(tmp_path: Path, log: dict[str, Any], **extra: Any) -> Config:
    env = {"IGOR_HOME": str(tmp_path / "home"), "HOME": str(tmp_path / "user")}
    return parse_config({"log": {"dir": str(tmp_path / "log"), **log}, **extra}, env=env,
                        system_dir=Path("/nonexistent"))


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    """configure_logging replaces the root logger's handlers: put the test runner's back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if getattr(handler, "_igor", False):
            root.removeHandler(handler)
            handler.close()
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


def test_rotation_at_the_configured_size_keeps_the_configured_depth(tmp_path: Path) -> None:
    logconfig.configure_logging(cfg(tmp_path, {"maxSize": 1, "backups": 2}), foreground=False)
    out = logging.getLogger("igor.test")
    for i in range(40):
        out.warning("record %02d %s", i, "x" * 60)  # ~130 bytes each: about 8 records a KiB file
    files = sorted(p.name for p in (tmp_path / "log").iterdir() if not p.name.endswith(".lock"))
    assert files == ["igor.log", "igor.log.1", "igor.log.2"]
    for name in files:
        assert 0 < (tmp_path / "log" / name).stat().st_size <= 1024
    assert "record 39" in (tmp_path / "log" / "igor.log").read_text()
    assert "record 00" not in "".join((tmp_path / "log" / n).read_text() for n in files)  # older ones dropped


def test_rotation_is_shared_by_processes_writing_one_file(tmp_path: Path) -> None:
    """A second process (another gunicorn worker, igor-server worker) rotating the file is followed, not fought."""
    config = cfg(tmp_path, {"maxSize": 1, "backups": 3})
    logconfig.configure_logging(config, foreground=False)
    logging.getLogger("igor.test").warning("before the other process")
    code = ("import logging, sys; from igor import logconfig; from igor.config import parse_config; "
            f"c = parse_config({{'log': {{'dir': {str(tmp_path / 'log')!r}, 'maxSize': 1, 'backups': 3}}}}, "
            f"env={{'IGOR_HOME': {str(tmp_path / 'home')!r}}}); "
            "logconfig.configure_logging(c, foreground=False); "
            "[logging.getLogger('igor.other').warning('other %03d %s', i, 'y' * 60) for i in range(12)]")
    subprocess.run([sys.executable, "-c", code], check=True)
    logging.getLogger("igor.test").warning("after the other process")
    current = (tmp_path / "log" / "igor.log").read_text()
    assert "after the other process" in current  # written to the new file, not the rotated one
    assert (tmp_path / "log" / "igor.log.1").exists()
    assert (tmp_path / "log" / "igor.log").stat().st_size <= 1024


def test_max_size_zero_reopens_a_file_logrotate_moved(tmp_path: Path) -> None:
    logconfig.configure_logging(cfg(tmp_path, {"maxSize": 0}), foreground=False)
    logging.getLogger("igor.test").warning("one")
    (tmp_path / "log" / "igor.log").rename(tmp_path / "log" / "igor.log.1")  # what logrotate does
    logging.getLogger("igor.test").warning("two")
    assert "two" in (tmp_path / "log" / "igor.log").read_text()
    assert "two" not in (tmp_path / "log" / "igor.log.1").read_text()


def test_syslog_over_udp_reaches_the_listener(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(5)
        port = listener.getsockname()[1]
        config = cfg(tmp_path, {"file": "", "syslog": {"network": "udp", "addr": f"127.0.0.1:{port}"}})
        logconfig.configure_logging(config, foreground=False)
        logging.getLogger("igor.test").warning("hello syslog")
        data = listener.recv(4096).decode()
    assert data.startswith("<28>")  # facility daemon (3) * 8 + warning (4)
    assert f"igor-server[{os.getpid()}]: WARNING igor.test: hello syslog" in data


def test_level_is_honoured(tmp_path: Path) -> None:
    logconfig.configure_logging(cfg(tmp_path, {"level": "warning"}), foreground=False)
    out = logging.getLogger("igor.test")
    out.info("quiet info")
    out.warning("loud warning")
    text = (tmp_path / "log" / "igor.log").read_text()
    assert "loud warning" in text and "quiet info" not in text


@pytest.mark.parametrize(("syslog", "expected"), [
    ({"network": "ip"}, "log.syslog.network = 'ip': must be"),
    ({"network": "udp"}, "log.syslog.addr is missing: required when log.syslog.network is 'udp'"),
    ({"network": "tcp", "addr": "loghost"}, "log.syslog.addr = 'loghost': must be host:port"),
    ({"network": "unixgram", "addr": "dev/log"}, "log.syslog.addr = 'dev/log': must be the absolute path"),
    ({"addr": "loghost:514"}, "log.syslog.network is missing"),
])  # fmt: skip
def test_bad_syslog_settings_name_the_key(tmp_path: Path, syslog: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        cfg(tmp_path, {"syslog": syslog})


@pytest.mark.parametrize(("log", "expected"), [
    ({"maxSize": -1}, "log.maxSize = -1: must be 0"),
    ({"maxSize": 10, "backups": 0}, "log.backups = 0: must be at least 1"),
    ({"file": "sub/igor.log"}, "log.file = 'sub/igor.log': must be a file name"),
])  # fmt: skip
def test_bad_file_settings_name_the_key(tmp_path: Path, log: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        cfg(tmp_path, log)


def test_unreachable_local_syslog_names_the_key(tmp_path: Path) -> None:
    config = cfg(tmp_path, {"syslog": {"network": "unixgram", "addr": str(tmp_path / "no-such.sock")}})
    with pytest.raises(ConfigError, match="log.syslog.addr = .*no-such.sock.*cannot reach the syslog"):
        logconfig.configure_logging(config, foreground=False)


def test_unwritable_log_dir_is_an_error_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "afile").write_text("")  # a directory under a file cannot be created, even by root
    bad = str(tmp_path / "afile" / "log")
    config = parse_config({"log": {"dir": bad}}, env={"IGOR_HOME": str(tmp_path)}, system_dir=Path("/nonexistent"))
    with pytest.raises(ConfigError, match=f"log.dir = '{bad}': cannot write the log file"):
        logconfig.configure_logging(config, foreground=False)
    with pytest.raises(ConfigError, match="log.dir"):
        logconfig.check_logging(config)
    conf = tmp_path / "igor-server.yaml"
    conf.write_text(f"log:\n  dir: {bad}\n")
    assert main(["--config", str(conf), "check-config"]) == 1
    assert f"log.dir = '{bad}'" in capsys.readouterr().err
    assert not (tmp_path / "afile" / "log").exists()


def test_default_log_dir_unwritable_for_a_user_falls_back_to_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "afile").write_text("")
    monkeypatch.setattr(logconfig, "DEFAULT_DIR", tmp_path / "afile" / "log")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    config = cfg(tmp_path, {"dir": str(tmp_path / "afile" / "log")})
    handlers = logconfig.configure_logging(config, foreground=False)
    assert [type(h) for h in handlers] == [logging.StreamHandler]
    assert "is not writable by this user" in capsys.readouterr().err
    assert "is not writable by this user" in logconfig.check_logging(config)[0]


def test_no_password_in_the_log_at_start_up(tmp_path: Path) -> None:
    secrets = {"auth": {"defaultUserPassword": "Sekrit-Default-1", "ldap": {"bindPassword": "Sekrit-Bind-2"}},
               "database": {"url": "postgresql://igor:Sekrit%2FDb-3@db.site/igor"},
               "vlan": {"networkPassword": "Sekrit-Vlan-4"}, "email": {"smtpPassword": "Sekrit-Smtp-5"}}
    config = cfg(tmp_path, {"level": "debug"}, **secrets)
    logconfig.configure_logging(config, foreground=False)
    logconfig.log_startup(config)
    logging.getLogger("igor.test").error("connect failed: %s", config.database.url)  # a careless message
    text = (tmp_path / "log" / "igor.log").read_text()
    assert "settings:" in text and "********" in text
    assert "Sekrit" not in text


def test_gunicorn_logs_follow_igor_handlers(tmp_path: Path) -> None:
    from gunicorn.config import Config as GunicornConfig

    logconfig.configure_logging(cfg(tmp_path, {}), foreground=False)
    gcfg = GunicornConfig()
    gcfg.set("logger_class", logconfig.gunicorn_logger_class)
    gcfg.set("errorlog", "-")
    gcfg.set("accesslog", "-")
    glog = gcfg.logger_class(gcfg)
    glog.error("gunicorn says hello")
    assert not [h for h in glog.error_log.handlers if getattr(h, "_gunicorn", False)]
    assert "gunicorn.error" in (tmp_path / "log" / "igor.log").read_text()
