"""The callback listener on real sockets: plain HTTP, TLS from the config, IPv6 and dual-stack binding, a bounded
pool with a per-connection timeout, and a stop that closes the port and joins every thread."""

from __future__ import annotations

import multiprocessing
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pony.orm import db_session

from igor.cbserver import CallbackServer, create_cb_app, run_callbacks, serve_callbacks
from tests.certs import Certs

from .conftest import World


def fetch(url: str, context: ssl.SSLContext | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10, context=context) as resp:  # noqa: S310 - test URLs
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _cb_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("igor-cb")]


def _ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_plain_http_and_a_clean_stop(world: World) -> None:
    world.set_host("dn1", ip="127.0.0.1")
    world.reserve("live", ["dn1", "dn2"], -5, 60)
    server = CallbackServer(create_cb_app(world.services), "127.0.0.1", 0).start()
    try:
        assert fetch(f"{server.url}/igor/cb/svc/info") == (200, "live alice dn1 dn2\n")
        assert fetch(f"{server.url}/igor/cb/svc/local")[0] == 200
        assert fetch(f"{server.url}/igor/cb/svc/scripts/nope.sh") == (404, "script 'nope.sh' not found\n")
    finally:
        server.stop()
    server.stop()  # idempotent
    assert _cb_threads() == []
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", server.port), timeout=2):
        pass


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")
def test_ipv6_and_dual_stack(world: World) -> None:
    world.set_host("dn1", ip="127.0.0.1")
    world.set_host("dn2", ip="::1")
    world.reserve("v4", ["dn1"], -5, 60)
    world.reserve("v6", ["dn2"], -5, 60, owner="bob")
    with CallbackServer(create_cb_app(world.services), "::", 0).start() as server:
        # an IPv4 client of a dual-stack socket is seen as ::ffff:127.0.0.1: still dn1
        assert fetch(f"http://127.0.0.1:{server.port}/igor/cb/svc/info") == (200, "v4 alice dn1\n")
        assert fetch(f"http://[::1]:{server.port}/igor/cb/svc/info") == (200, "v6 bob dn2\n")
    with CallbackServer(create_cb_app(world.services), "::1", 0).start() as server:
        assert server.url == f"http://[::1]:{server.port}"
        assert fetch(f"{server.url}/igor/cb/svc/info") == (200, "v6 bob dn2\n")
    assert _cb_threads() == []


def test_serve_callbacks_with_tls_from_the_config(world: World, make_config, tls_certs: Certs) -> None:
    crt, key = tls_certs.cert, tls_certs.key
    port = _free_port()
    config = make_config({"server": {"certFile": str(crt), "keyFile": str(key), "cbUseTLS": True,
                                      "cbHost": "127.0.0.1", "cbPort": port}})
    world.set_host("dn1", ip="127.0.0.1")
    world.reserve("tls", ["dn1"], -5, 60)
    server = serve_callbacks(config, lambda: world.services)
    try:
        assert server.url == f"https://127.0.0.1:{port}"
        context = ssl.create_default_context(cafile=str(tls_certs.ca))
        assert fetch(f"{server.url}/igor/cb/svc/info", context) == (200, "tls alice dn1\n")
        # a plain-HTTP client gets nothing useful, and the server carries on
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            fetch(f"http://127.0.0.1:{port}/igor/cb/svc/info")
        assert fetch(f"{server.url}/igor/cb/svc/info", context) == (200, "tls alice dn1\n")
    finally:
        server.stop()
    assert _cb_threads() == []


def test_a_silent_connection_cannot_hold_the_pool(world: World) -> None:
    world.set_host("dn1", ip="127.0.0.1")
    world.reserve("busy", ["dn1"], -5, 60)
    server = CallbackServer(create_cb_app(world.services), "127.0.0.1", 0, max_threads=1, timeout=0.5).start()
    try:
        silent = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        time.sleep(0.1)  # the only worker now waits on it
        started = time.monotonic()
        assert fetch(f"{server.url}/igor/cb/svc/info") == (200, "busy alice dn1\n")
        assert time.monotonic() - started < 5
        assert silent.recv(1024) == b""  # dropped at the timeout (wsgiref answers nothing to silence)
        silent.close()
        # stop is bounded even with a client that never speaks
        lingering = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    finally:
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 5
    lingering.close()
    assert _cb_threads() == []


def test_stop_before_start_and_stop_of_a_foreign_serve_forever(world: World) -> None:
    app = create_cb_app(world.services)
    CallbackServer(app, "127.0.0.1", 0).stop()  # never served: nothing to wait for
    server = CallbackServer(app, "127.0.0.1", 0)
    runner = threading.Thread(target=server.serve_forever)
    runner.start()
    try:
        assert fetch(f"{server.url}/igor/cb/svc/info")[0] == 404  # 127.0.0.1 is no host's address
    finally:
        server.stop()
    runner.join(5)
    assert not runner.is_alive() and _cb_threads() == []


def test_run_callbacks_in_its_own_process_stops_on_sigterm(world: World, make_config, tmp_path: Path) -> None:
    port = _free_port()
    config = make_config({"server": {"cbHost": "127.0.0.1", "cbPort": port, "tftpRoot": str(tmp_path / "tftp")}})
    world.set_host("dn1", ip="127.0.0.1")
    world.reserve("proc", ["dn1"], -5, 60)
    with db_session:  # the child process runs on the real clock
        res = world.db.Reservation.get(name="proc")
        now = int(datetime.now(UTC).timestamp()) // 60
        res.start, res.end = now - 5, now + 60
    proc = multiprocessing.get_context("spawn").Process(target=run_callbacks, args=(config,), daemon=True)
    proc.start()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                assert fetch(f"http://127.0.0.1:{port}/igor/cb/svc/info") == (200, "proc alice dn1\n")
                break
            except urllib.error.URLError:
                if time.monotonic() > deadline or not proc.is_alive():
                    pytest.fail(f"the callback process did not serve (exit {proc.exitcode})")
                time.sleep(0.1)
    finally:
        proc.terminate()
        proc.join(10)
    assert proc.exitcode == 0
