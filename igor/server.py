"""``igor-server``: configuration → database → the API under gunicorn, the callback server, the lifecycle worker.

Commands:
    igor-server [run] [--config PATH] [--demo] [--workers N] [--no-lifecycle]   serve the API
    igor-server worker [--config PATH]                           run only the lifecycle worker, in the foreground
    igor-server import-igor2 PATH [--config PATH]                migrate an Igor v2 igor.db into an empty database
    igor-server check-config [--config PATH]                     validate the configuration and exit
    igor-server backup PATH [--config PATH]                      snapshot the database and image store (igor.backup)
    igor-server restore PATH [--config PATH] [--force]           put a backup back

``--demo`` is the embedded default a newcomer starts with: it creates ``$IGOR_HOME`` (default
``~/.igor-server``) with a config bound to loopback, a SQLite database, a simulated 64-host cluster (``sim://``
power) and two demo users, prints how to log in, and serves.

The master process prepares the database (creates tables, system accounts, the demo) once, then forks gunicorn
workers; each worker binds its own database connection and engine after the fork, and runs a lifecycle worker
thread (:mod:`igor.worker`) that competes for the lease, so exactly one of them — across every server sharing the
database — installs and closes out reservations and sends the email. ``--no-lifecycle`` leaves that to another
process (``igor-server worker``, or another server). The callback server that booting nodes call
(``server.cbHost:cbPort``, :mod:`igor.cbserver`) runs in a process of its own beside gunicorn.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from igor.config import Config, ConfigError, demo_clusters, dump_clusters, igor_home, load_config
from igor.errors import IgorError

log = logging.getLogger("igor.server")

DEMO_USERS = (("alice", "alice@demo.igor", "Alice Demo"), ("bob", "bob@demo.igor", "Bob Demo"))
DEMO_GROUP = "demo-team"

DEMO_CONFIG = """\
# igor-server.yaml written by `igor-server --demo`: loopback only, embedded SQLite, local auth.
instanceName: igor-demo
server:
  host: 127.0.0.1
  port: {port}
database:
  url: sqlite:///{home}/.database/igor.db
log:
  dir: {home}/log
"""


def build_services(config: Config) -> Any:
    """Bind the database and build the services (in the process that will use them)."""
    from igor.db import init_db
    from igor.services import Services

    return Services(init_db(config.database.url), config)


def prepare(config: Config) -> None:
    """Once, in the master: create tables if needed and the system accounts."""
    services = build_services(config)
    services.bootstrap()
    services.db.disconnect()


def write_demo_home(home: Path, port: int) -> Path:
    """Create ``home`` with a demo config and clusters file (kept if they exist); returns the config path."""
    conf = home / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    cfg = conf / "igor-server.yaml"
    if not cfg.exists():
        cfg.write_text(DEMO_CONFIG.format(port=port, home=home))
        cfg.chmod(0o640)
    clusters = conf / "igor-clusters.yaml"
    if not clusters.exists():
        clusters.write_text(dump_clusters(demo_clusters()))
    return cfg


def seed_demo(config: Config) -> list[str]:
    """Bootstrap, configure the demo cluster (hosts unblocked) and the demo users; returns lines to print."""
    from pony.orm import db_session

    from igor.config import load_clusters

    services = build_services(config)
    services.bootstrap()
    admin = services.auth.principal_for("igor-admin")
    assert config.clusters_file is not None
    if services.cluster.cluster_range() is None:  # first start: the demo hosts are ready to reserve at once
        services.cluster.apply_spec(load_clusters(config.clusters_file), blocked=False)
    with db_session:
        missing = [u for u in DEMO_USERS if services.db.User.get(name=u[0]) is None]
    for name, email, full in missing:
        services.users.create(admin, name, email, full)
    with db_session:
        has_group = services.db.Group.get(name=DEMO_GROUP) is not None
    if not has_group:
        alice = services.auth.principal_for("alice")
        services.groups.create(alice, DEMO_GROUP, members=["bob"], description="the demo users")
    services.db.disconnect()
    url = f"http://{config.server.host}:{config.server.port}"
    pw = config.auth.default_user_password
    return [
        f"Igor demo: {url}  (home {config.igor_home})",
        f"  users: alice, bob (password {pw}); admin: igor-admin (password igor-admin)",
        f"  log in:   curl -u alice:'{pw}' {url}/igor/login",
        f"  hosts:    curl -H 'Authorization: Bearer <token>' {url}/igor/hosts",
    ]


class _Gunicorn:
    """Run the API under gunicorn with ``server.workers`` workers, the app built in each worker."""

    def __init__(self, config: Config, workers: int | None = None, *, lifecycle: bool = True) -> None:
        from gunicorn.app.base import BaseApplication

        from igor.logconfig import gunicorn_logger_class

        outer = self

        class App(BaseApplication):
            def load_config(self) -> None:
                settings = {
                    "bind": f"{_bind_host(config.server.host)}:{config.server.port}",
                    "workers": workers or config.server.workers,
                    "worker_class": "gthread",
                    "threads": 4,
                    "timeout": 60,
                    "graceful_timeout": 10,
                    "accesslog": "-" if config.log.level == "debug" else None,
                    "errorlog": "-",
                    "loglevel": config.log.level,
                    "logger_class": gunicorn_logger_class,  # gunicorn's logs go to igor's handlers
                    "proc_name": "igor-server",
                    "post_fork": _post_fork,
                    "worker_exit": _worker_exit,
                }
                if config.server.tls_enabled:
                    settings["certfile"] = str(config.server.cert_file)
                    settings["keyfile"] = str(config.server.key_file)
                if "control_socket_disable" in self.cfg.settings:
                    # gunicorn ≥ 25.1 opens a control socket at one path per user (~/.gunicorn/gunicorn.ctl),
                    # shared by every server that user runs; igor-server is managed by signals and systemd
                    settings["control_socket_disable"] = True
                for key, value in settings.items():
                    if value is not None:
                        self.cfg.set(key, value)

            def load(self) -> Any:
                return outer.wsgi()

        self.config = config
        self.lifecycle = lifecycle
        self.app = App()

    def wsgi(self) -> Any:
        from igor.api import create_app

        services = build_services(self.config)
        if self.lifecycle:
            _start_lifecycle(services)
        return create_app(services)

    def run(self) -> None:
        self.app.run()


_LIFECYCLE: list[Any] = []  # this process's lifecycle worker, if it runs one


def _start_lifecycle(services: Any) -> Any:
    from igor.worker import LifecycleWorker

    worker = LifecycleWorker(services)
    worker.start()
    _LIFECYCLE.append(worker)
    return worker


def _stop_lifecycle() -> None:
    """Stop this process's lifecycle thread and hand the lease on at once."""
    while _LIFECYCLE:
        _LIFECYCLE.pop().stop(timeout=5)


def _post_fork(server: Any, worker: Any) -> None:
    """gunicorn's ``post_fork`` hook: a worker is a fork of the master and inherits multiprocessing's list of the
    master's children — the callback server. Forget it here, or the worker's exit handler would terminate the
    callback server (multiprocessing stops daemonic children at exit) whenever one worker leaves."""
    import multiprocessing.process

    multiprocessing.process._children.clear()  # type: ignore[attr-defined]  # no public way to disown


def _worker_exit(server: Any, worker: Any) -> None:
    """gunicorn's ``worker_exit`` hook (it insists on exactly these two parameters)."""
    _stop_lifecycle()


def run_worker(config: Config) -> int:
    """``igor-server worker``: the lifecycle worker alone, in the foreground, until SIGTERM or Ctrl-C."""
    import signal
    import threading

    worker = _start_lifecycle(build_services(config))
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    print(f"igor-server: lifecycle worker {worker.holder} running (Ctrl-C stops it)", flush=True)
    done.wait()
    _stop_lifecycle()
    return 0


def _bind_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="igor-server", description="Igor node reservation server.")
    p.add_argument("--config", metavar="PATH", help="igor-server.yaml (default: $IGOR_CONFIG, /etc/igor/, "
                                                   "$IGOR_HOME/conf/)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser("run", help="serve the API (the default command)")
    for target in (p, run):
        target.add_argument("--demo", action="store_true", help="create and serve the embedded demo "
                            "(SQLite, simulated 64-host cluster, local auth) under $IGOR_HOME")
        target.add_argument("--workers", type=int, metavar="N", help="gunicorn workers (default server.workers)")
        target.add_argument("--port", type=int, metavar="PORT", help="with --demo: the port of a new demo "
                            "config (default 8443)")
        target.add_argument("--no-lifecycle", action="store_true", help="do not run the lifecycle worker here "
                            "(installs, close-outs, email): another process does")
    imp = sub.add_parser("import-igor2", help="migrate an Igor v2 igor.db (schema version 2) into an empty "
                         "database")
    imp.add_argument("path", metavar="PATH", help="the Igor v2 SQLite database file")
    sub.add_parser("check-config", help="validate the configuration files and exit")
    for name, text in (("backup", "write a backup (database and image store) to PATH, a new .tar.gz or a folder"),
                       ("restore", "replace the database and image store with the backup at PATH")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("path", metavar="PATH", help="the backup archive (.tar.gz)")
        cmd.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="igor-server.yaml")
        if name == "restore":
            cmd.add_argument("--force", action="store_true", help="replace a target that holds data")
    sub.add_parser("worker", help="run only the lifecycle worker (installs, close-outs, email), in the foreground")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return _dispatch(args)
    except (ConfigError, IgorError) as exc:
        print(f"igor-server: {exc}", file=sys.stderr)
        return 1


def _dispatch(args: argparse.Namespace) -> int:
    command = args.command or "run"
    config_path = args.config
    if command == "run" and args.demo and not config_path:
        home = igor_home()
        config_path = str(write_demo_home(home, args.port or 8443))
        os.environ.setdefault("IGOR_HOME", str(home))
    config = load_config(config_path)
    _setup_logging(config, command, bool(getattr(args, "demo", False)))
    if command == "check-config":
        from igor.db import probe

        _check_clusters(config)
        print(f"igor-server: database {probe(config.database.url)}")
        print(f"igor-server: configuration {config.source} is valid")
        return 0
    if command == "import-igor2":
        return _import(config, args.path)
    if command in ("backup", "restore"):
        from igor.backup import run as run_backup

        return run_backup(config, command, args.path, force=getattr(args, "force", False))
    if command == "worker":
        prepare(config)
        return run_worker(config)
    if args.workers is not None and not 1 <= args.workers <= 64:
        raise ConfigError(f"--workers {args.workers}: must be between 1 and 64")
    if args.demo:
        for line in seed_demo(config):
            print(line, flush=True)
    else:
        prepare(config)
    callbacks = start_callbacks(config)
    master = os.getpid()
    try:
        _Gunicorn(config, args.workers, lifecycle=not args.no_lifecycle).run()
    finally:
        # gunicorn's workers are forks of this process and leave through here too (sys.exit in the child): only
        # the master owns the callback server; a worker that exits (timeout, crash, reload) must not stop it
        if os.getpid() == master:
            callbacks.terminate()
            callbacks.join(10)
    return 0


def _setup_logging(config: Config, command: str, demo: bool) -> None:
    """``log.*`` for the serving commands (stderr too in a terminal or with ``--demo``); check-config checks it
    without creating anything; the one-shot commands keep logging to stderr."""
    from igor import logconfig

    if command == "check-config":
        for note in logconfig.check_logging(config):
            print(f"igor-server: warning: {note}", file=sys.stderr)
    elif command in ("run", "worker"):
        logconfig.configure_logging(config, foreground=demo or sys.stderr.isatty())
        logconfig.log_startup(config)


def start_callbacks(config: Config, timeout: float = 20) -> Any:
    """The callback server (``server.cbHost:cbPort``) in a process of its own, so one listener owns the port
    however many API workers run; started with ``spawn`` (nothing inherited from this process) and waited for
    until it accepts connections. Raises ConfigError when it cannot start (the port is taken, say)."""
    import multiprocessing
    import socket
    import time

    from igor.cbserver import run_callbacks

    proc = multiprocessing.get_context("spawn").Process(target=run_callbacks, args=(config,),
                                                        name="igor-callbacks", daemon=True)
    proc.start()
    host, port = config.server.cb_host, config.server.cb_port
    probe = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.is_alive():
            raise ConfigError(f"server.cbPort: the callback server could not listen on {host}:{port} "
                              f"(exit code {proc.exitcode}; is the port in use?)")
        try:
            socket.create_connection((probe, port), timeout=0.5).close()
            log.info("callback server listening on %s:%s", host, port)
            return proc
        except OSError:
            time.sleep(0.05)
    proc.terminate()
    raise ConfigError(f"server.cbPort: the callback server did not start listening on {host}:{port} "
                      f"within {timeout:.0f}s")


def _check_clusters(config: Config) -> None:
    from igor.config import load_clusters

    if config.clusters_file is not None and Path(config.clusters_file).exists():
        load_clusters(config.clusters_file)


def _import(config: Config, path: str) -> int:
    from igor.importer import import_igor2

    services = build_services(config)
    report = import_igor2(path, services.ctx)
    print(f"igor-server: imported {path}: {report}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
