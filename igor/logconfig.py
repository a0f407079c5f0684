"""Logging for ``igor-server`` from ``log.*``: level, a size-rotated file, syslog, stderr.

:func:`configure_logging` installs the handlers on the root logger once the configuration is loaded
(``igor-server run`` and ``igor-server worker``); gunicorn's error and access logs propagate to the same handlers
(:func:`gunicorn_logger_class`), and so do the gunicorn workers, which inherit them across the fork.

* **File** ``<log.dir>/<log.file>``, rotated when it would pass ``log.maxSize`` KiB, keeping ``log.backups``
  files (``igor.log.1`` … ``igor.log.N``), as the infrastructure-manager seed describes. Several processes write
  the one file (gunicorn workers, ``igor-server worker``), so :class:`SharedRotatingFileHandler` rotates under an
  ``flock`` on ``<file>.lock`` and reopens the file another process rotated away. ``log.maxSize: 0`` turns the
  built-in rotation off for an external logrotate (``deploy/logrotate/igor``): the file is then reopened when it
  is renamed or removed, so logrotate needs neither ``copytruncate`` nor a signal. ``log.file: ''`` logs to no
  file.
* **Syslog** when ``log.syslog`` is set: ``network: ''`` is the local ``/dev/log``; ``udp``/``tcp`` send to
  ``addr`` (``host:port``); ``unix``/``unixgram`` to the socket at ``addr``. Facility ``daemon``, tag
  ``igor-server[pid]``. A syslog that cannot be reached at start-up is a :class:`~igor.config.ConfigError`.
* **stderr** when running in the foreground (a terminal, ``--demo``) or when there is no file to log to.

A ``log.dir`` that cannot be created or written is a :class:`~igor.config.ConfigError` naming ``log.dir`` (and
``igor-server check-config`` reports it), except the default ``/var/log/igor`` for a user other than root: a
newcomer's ``igor-server`` then warns once and logs to stderr instead of refusing to start.

Secrets never reach a log: start-up logs the masked settings only (:meth:`~igor.config.Config.to_dict`), and
every handler's formatter replaces the configured passwords (and the ``database.url`` password) by ``********``
should any message or traceback carry one.
"""

from __future__ import annotations

import fcntl
import json
import logging
import logging.handlers
import os
import socket
import sys
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from igor.config import MASK, Config, ConfigError

log = logging.getLogger("igor.server")

DEFAULT_DIR = Path("/var/log/igor")
FORMAT = "%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s"
SYSLOG_FORMAT = "igor-server[%(process)d]: %(levelname)s %(name)s: %(message)s"
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def configure_logging(config: Config, *, foreground: bool) -> list[logging.Handler]:
    """Replace the root logger's handlers by those ``config.log`` asks for, at its level.

    Args:
        config: The validated configuration.
        foreground: Also log to stderr (an interactive run); stderr is used anyway when there is no log file.

    Returns:
        The handlers installed.

    Raises:
        ConfigError: ``log.dir`` cannot be created or written, or the syslog cannot be reached.
    """
    cfg = config.log
    secrets = _secrets(config)
    path, note = _log_file(config, create=True)
    handlers: list[logging.Handler] = []
    if path is not None:
        handlers.append(_file_handler(path, cfg.max_size, cfg.backups))
    if cfg.syslog_network is not None:
        syslog = _syslog_handler(config)
        syslog.setFormatter(_RedactingFormatter(SYSLOG_FORMAT, secrets))
        handlers.append(syslog)
    if foreground or path is None:
        handlers.append(logging.StreamHandler(sys.stderr))
    for handler in handlers:
        if handler.formatter is None:
            handler.setFormatter(_RedactingFormatter(FORMAT, secrets))
        handler._igor = True  # type: ignore[attr-defined]  # ours, replaced by the next call
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_igor", False) or _is_bootstrap(old):
            root.removeHandler(old)
            old.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(_LEVELS[cfg.level])
    if note:
        log.warning("%s", note)
    return handlers


def check_logging(config: Config) -> list[str]:
    """``igor-server check-config``'s look at ``log.*`` without creating anything.

    Returns:
        Warnings to print (the default log directory is not writable by this user).

    Raises:
        ConfigError: ``log.dir`` cannot be created or written, or the local syslog socket does not exist.
    """
    _, note = _log_file(config, create=False)
    _check_local_syslog(config)
    return [note] if note else []


def _check_local_syslog(config: Config) -> None:
    # SysLogHandler ignores a missing socket (and drops every record): a missing one is a configuration error
    network, addr = config.log.syslog_network, config.log.syslog_addr
    if network in ("", "unix", "unixgram"):
        sock = addr or "/dev/log"
        if not Path(sock).exists():
            raise ConfigError(f"{config.source}: log.syslog.{'addr' if addr else 'network'} = "
                              f"{addr or network!r}: cannot reach the syslog: no socket at {sock}")


def log_startup(config: Config) -> None:
    """Log what this server runs with: a summary at info, the masked settings at debug."""
    log.info("igor-server %s starting (pid %d): configuration %s, log level %s",
             config.instance_name, os.getpid(), config.source, config.log.level)
    if log.isEnabledFor(logging.DEBUG):
        log.debug("settings: %s", json.dumps(config.to_dict(masked=True), sort_keys=True, default=str))


def gunicorn_logger_class() -> type:
    """gunicorn's ``logger_class`` (its setting calls a function given to it): a logger whose error and access
    logs propagate to the root handlers set up here instead of gunicorn's own stderr handlers, at ``log.level``.
    Built on demand because gunicorn is imported only to serve."""
    from gunicorn.glogging import Logger

    class IgorGunicornLogger(Logger):
        def setup(self, cfg: Any) -> None:
            super().setup(cfg)
            for logger in (self.error_log, self.access_log):
                for handler in list(logger.handlers):
                    if getattr(handler, "_gunicorn", False):
                        logger.removeHandler(handler)
                logger.propagate = True

    return IgorGunicornLogger


class SharedRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Size rotation that several processes can share: each record is written under an exclusive ``flock`` on
    ``<file>.lock``, after reopening the file if another process rotated it away, and the size is the file's, not
    this process's offset. ``max_bytes`` 0 never rotates (an external logrotate renames the file instead)."""

    def __init__(self, filename: str | Path, max_bytes: int, backups: int) -> None:
        super().__init__(filename, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
        self._lock_path = self.baseFilename + ".lock"
        self._lock_file: IO[bytes] | None = None
        self._lock_pid = -1

    def _locked(self) -> IO[bytes]:
        # flock belongs to the open file description, which a fork shares: each process opens its own
        if self._lock_file is None or self._lock_pid != os.getpid():
            self._lock_file = open(self._lock_path, "ab")  # noqa: SIM115 - held for the handler's life
            self._lock_pid = os.getpid()
        return self._lock_file

    def _reopen_if_moved(self) -> None:
        if self.stream is None:
            return
        try:
            on_disk = os.stat(self.baseFilename)
            mine = os.fstat(self.stream.fileno())
            moved = (on_disk.st_dev, on_disk.st_ino) != (mine.st_dev, mine.st_ino)
        except FileNotFoundError:
            moved = True
        if moved:
            self.stream.close()
            self.stream = self._open()

    def shouldRollover(self, record: logging.LogRecord) -> bool:  # noqa: N802 - logging's name
        if not self.maxBytes or self.stream is None:
            return False
        size = os.fstat(self.stream.fileno()).st_size
        return size > 0 and size + len(self.format(record).encode("utf-8")) + 1 > self.maxBytes

    def emit(self, record: logging.LogRecord) -> None:
        try:
            lock = self._locked()
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                self._reopen_if_moved()
                super().emit(record)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        if self._lock_file is not None and self._lock_pid == os.getpid():
            self._lock_file.close()
        self._lock_file = None
        super().close()


class _RedactingFormatter(logging.Formatter):
    def __init__(self, fmt: str, secrets: list[str]) -> None:
        super().__init__(fmt)
        self.secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text


def _secrets(config: Config) -> list[str]:
    """Every configured password: the values the masked settings hide, and the password in ``database.url``."""
    found: set[str] = set()

    def walk(plain: Any, masked: Any) -> None:
        if isinstance(plain, dict):
            for key in plain:
                walk(plain[key], masked[key])
        elif isinstance(plain, str) and plain != masked:
            found.add(plain)
            password = urlsplit(plain).password if "://" in plain else None
            if password:
                found.update({password, unquote(password)})

    walk(config.to_dict(masked=False), config.to_dict(masked=True))
    return sorted(found, key=len, reverse=True)  # the URL before the password inside it


def _log_file(config: Config, *, create: bool) -> tuple[Path | None, str | None]:
    """The log file to write, or None and a warning when the default directory is not ours to write."""
    cfg = config.log
    if not cfg.file:
        return None, None
    path = cfg.dir / cfg.file
    try:
        if create:
            cfg.dir.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8"):
                pass
        else:
            _probe(path)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if cfg.dir == DEFAULT_DIR and os.geteuid() != 0:
            return None, (f"log.dir {cfg.dir} is not writable by this user ({reason}): logging to stderr; set "
                          "log.dir in igor-server.yaml, or create the directory for this user")
        raise ConfigError(f"{config.source}: log.dir = '{cfg.dir}': cannot write the log file {path} "
                          f"({reason})") from None
    return path, None


def _probe(path: Path) -> None:
    """Raise OSError unless ``path`` could be created or appended to (the first existing ancestor decides)."""
    if path.exists():
        if not path.is_file() or not os.access(path, os.W_OK):
            raise PermissionError(13, "not a writable file")
        return
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise NotADirectoryError(20, f"{parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(13, f"{parent} is not writable")


def _file_handler(path: Path, max_kib: int, backups: int) -> logging.Handler:
    return SharedRotatingFileHandler(path, max_kib * 1024, backups)


def _syslog_handler(config: Config) -> logging.Handler:
    _check_local_syslog(config)
    network, addr = config.log.syslog_network, config.log.syslog_addr
    address: str | tuple[str, int]
    socktype: socket.SocketKind | None
    if network in ("udp", "tcp"):
        host, _, port = addr.rpartition(":")
        address = (host.strip("[]"), int(port))
        socktype = socket.SOCK_DGRAM if network == "udp" else socket.SOCK_STREAM
        key = "log.syslog.addr"
    else:
        address = addr or "/dev/log"
        socktype = {"unix": socket.SOCK_STREAM, "unixgram": socket.SOCK_DGRAM}.get(network or "")
        key = "log.syslog.addr" if addr else "log.syslog.network"
    try:
        return logging.handlers.SysLogHandler(address, logging.handlers.SysLogHandler.LOG_DAEMON, socktype)
    except OSError as exc:
        shown = addr if key.endswith("addr") else network
        raise ConfigError(f"{config.source}: {key} = {shown!r}: cannot reach the syslog at {address} "
                          f"({exc.strerror or exc})") from None


def _is_bootstrap(handler: logging.Handler) -> bool:
    """The stderr handler ``logging.basicConfig`` put up before the configuration was read."""
    return type(handler) is logging.StreamHandler and getattr(handler, "stream", None) in (sys.stderr,
                                                                                            sys.__stderr__)
