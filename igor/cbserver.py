"""The node callback server (``server.cbHost:cbPort``): what installing and running nodes call, unauthenticated,
identified by their source address (SPEC §6, reference §8.4).

Routes (``GET``; ``HEAD`` too for files), answers in plain text for shell scripts on the nodes:

* ``/igor/cb/svc/info`` → ``<reservation> <owner> <host> ...`` of the caller's active reservation.
* ``/igor/cb/svc/local`` → the caller's boot file now boots its disk (a kickstart's ``%post`` calls it).
* ``/igor/cb/svc/scripts/<path>`` → a file under ``server.scriptDir`` (sub-folders allowed).
* ``/igor/cb/svc/ks/<file>`` → a kickstart or preseed file under ``<tftpRoot>/kickstarts``, served as stored:
  Igor v2 served both folders with Go's ``http.FileServer`` and templated nothing, so neither does this.

Files are served only when every path part is a plain name (:func:`igor.imagestore.check_file_name`: no ``..``,
no hidden files — which also hides the temporary files of atomic writes) and the resolved path, symlinks
followed, is a regular file inside its folder; no directory listings. The caller's address is
``REMOTE_ADDR`` — never a forwarded-for header, which any caller could forge.

**The URL nodes are given** (:func:`igor.pxe.callback_base_url`, in kickstart URLs): ``https`` when ``cbUseTLS``,
else ``http``; the host is ``cbHost``, unless it is a wildcard (``0.0.0.0``, ``::``), which can be bound but not
reached — then ``server.host``, and when that is a wildcard too, this machine's fully qualified name. Nodes must be
able to reach (and, with TLS, verify) that name: set ``cbHost`` to the server's address on the nodes' network. A
loopback ``cbHost`` (the demo's) is reachable from this machine only; :func:`serve_callbacks` logs a warning for
wildcard and loopback binds.

**The listener** (:class:`CallbackServer`, :func:`serve_callbacks`): ``wsgiref`` with a fixed pool of worker
threads (``max_threads``; at most twice that many connections are taken in, further ones wait in the kernel's
backlog), a per-connection socket timeout, TLS (``certFile``/``keyFile``, TLS 1.2+) negotiated in the worker
thread so a slow handshake never blocks the accept loop, IPv6 and dual-stack binding, and a stop that closes the
socket, lets running requests finish and joins every thread.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import logging
import mimetypes
import os
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

import falcon

from igor.config import Config
from igor.errors import IgorError, NotFound
from igor.imagestore import KICKSTARTS_DIR, check_file_name
from igor.pxe import WILDCARD_HOSTS, callback_base_url, url_host
from igor.services.callbacks import CallbackService

log = logging.getLogger("igor.cbserver")

CB_PREFIX = "/igor/cb/svc"
TEXT = "text/plain; charset=utf-8"
#: Seconds the accept loop waits for a connection before looking at the stop flag again.
ACCEPT_POLL = 0.2


# -- the application -------------------------------------------------------------------------------------------


def _caller(req: falcon.Request) -> str:
    return str(req.env.get("REMOTE_ADDR") or "")


class Info:
    """``GET /igor/cb/svc/info``."""

    def __init__(self, callbacks: CallbackService) -> None:
        self.callbacks = callbacks

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = TEXT
        resp.text = self.callbacks.info(_caller(req)).to_text()


class Local:
    """``GET /igor/cb/svc/local``."""

    def __init__(self, callbacks: CallbackService) -> None:
        self.callbacks = callbacks

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = TEXT
        resp.text = self.callbacks.local(_caller(req)).message + "\n"


def served_file(base: Path, relative: str, what: str) -> Path:
    """The regular file ``relative`` (``/``-separated plain names) inside ``base``.

    Raises:
        BadInput: a part is not a plain name (``..``, hidden, empty, odd characters).
        NotFound: no such file inside ``base`` (missing, a folder, or a symlink leading out).
    """
    parts = relative.split("/")
    for part in parts:
        check_file_name(part, what)
    try:
        root = base.resolve(strict=True)
        path = root.joinpath(*parts).resolve(strict=True)
    except (OSError, RuntimeError):
        raise NotFound(f"{what} '{relative}' not found") from None
    if root not in path.parents or not path.is_file():
        raise NotFound(f"{what} '{relative}' not found")
    return path


class FileSink:
    """Files of one folder under a route prefix (a Falcon sink, so sub-paths reach it on Falcon 3 and 4)."""

    def __init__(self, folder: Callable[[], Path], what: str) -> None:
        self.folder = folder
        self.what = what

    def __call__(self, req: falcon.Request, resp: falcon.Response, **params: Any) -> None:
        path = str(params.get("path") or "")
        if req.method not in ("GET", "HEAD"):
            raise falcon.HTTPMethodNotAllowed(["GET", "HEAD"])
        found = served_file(self.folder(), path, self.what)
        try:
            stream = open(found, "rb")  # noqa: SIM115 - closed by the WSGI server once sent
        except OSError:
            raise NotFound(f"{self.what} '{path}' not found") from None
        size = os.fstat(stream.fileno()).st_size  # of the file opened, even if it was just replaced
        resp.content_type = mimetypes.guess_type(found.name)[0] or "text/plain"
        if req.method == "HEAD":
            stream.close()
            resp.content_length = size
            return
        resp.set_stream(stream, size)


def _text_error(resp: falcon.Response, status: int, message: str) -> None:
    resp.status = status
    resp.content_type = TEXT
    resp.text = message + "\n"


def _handle_igor_error(req: falcon.Request, resp: falcon.Response, ex: IgorError, params: dict) -> None:
    if ex.status >= 500:
        log.error("callback %s %s from %s failed: %s", req.method, req.path, _caller(req), ex.message)
    else:
        log.info("callback %s %s from %s refused (%s): %s", req.method, req.path, _caller(req), ex.status,
                 ex.message)
    _text_error(resp, ex.status, ex.message)


def _handle_http_error(req: falcon.Request, resp: falcon.Response, ex: falcon.HTTPError, params: dict) -> None:
    code = int(getattr(ex, "status_code", 0) or str(ex.status).split()[0])
    message = ex.description or ex.title or ""
    if code == 404 and not ex.description:
        message = f"no such route: {req.path}"
    _text_error(resp, code, message)
    headers = ex.headers or {}
    for key, value in list(headers.items()) if isinstance(headers, dict) else list(headers):
        resp.set_header(str(key), str(value))


def _handle_unexpected(req: falcon.Request, resp: falcon.Response, ex: Exception, params: dict) -> None:
    log.exception("callback %s %s from %s crashed", req.method, req.path, _caller(req))
    _text_error(resp, 500, "internal error: see the server log")


def create_cb_app(services: Any) -> falcon.App:
    """The callback application over ``services`` (its ``callbacks`` service, or one built on its context)."""
    callbacks: CallbackService = getattr(services, "callbacks", None) or CallbackService(services.ctx)
    server = services.config.server
    app = falcon.App()
    app.req_options.strip_url_path_trailing_slash = True
    app.add_route(f"{CB_PREFIX}/info", Info(callbacks))
    app.add_route(f"{CB_PREFIX}/local", Local(callbacks))
    app.add_sink(FileSink(lambda: Path(server.script_dir), "script"), rf"{CB_PREFIX}/scripts/(?P<path>.*)")
    app.add_sink(FileSink(lambda: Path(server.tftp_root) / KICKSTARTS_DIR, "kickstart"),
                 rf"{CB_PREFIX}/ks/(?P<path>.*)")
    app.add_error_handler(Exception, _handle_unexpected)
    app.add_error_handler(falcon.HTTPError, _handle_http_error)
    app.add_error_handler(IgorError, _handle_igor_error)
    return app


# -- the listener ----------------------------------------------------------------------------------------------


class _Handler(WSGIRequestHandler):
    """wsgiref's handler with a socket timeout and logging through ``logging``."""

    timeout = 30.0

    def address_string(self) -> str:
        return str(self.client_address[0])

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        log.info("%s %s", self.address_string(), format % args)


class _Server(WSGIServer):
    """A WSGI server handing each connection to a fixed thread pool, with optional TLS per connection."""

    request_queue_size = 64
    allow_reuse_address = True
    timeout = ACCEPT_POLL  # handle_request() returns after this long without a connection

    def __init__(self, address: tuple[Any, ...], family: int, *, ssl_context: ssl.SSLContext | None,
                 max_threads: int, timeout: float) -> None:
        self.address_family = family
        self.ssl_context = ssl_context
        self.conn_timeout = timeout
        self.stopping = threading.Event()
        self._slots = threading.BoundedSemaphore(2 * max_threads)
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix="igor-cb")
        handler = type("Handler", (_Handler,), {"timeout": timeout})
        super().__init__(address, handler)

    def server_bind(self) -> None:
        if self.address_family == socket.AF_INET6:
            # '::' serves IPv4 clients too (as ::ffff:a.b.c.d, which the callback service understands)
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        # TCPServer's bind without HTTPServer's getfqdn(), a DNS look-up that can stall the start
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])
        self.setup_environ()

    def process_request(self, request: Any, client_address: Any) -> None:
        while not self._slots.acquire(timeout=0.2):
            if self.stopping.is_set():
                self.shutdown_request(request)
                return
        try:
            self._pool.submit(self._serve, request, client_address)
        except RuntimeError:  # the pool is shut down: we are stopping
            self._slots.release()
            self.shutdown_request(request)

    def _serve(self, request: socket.socket, client_address: Any) -> None:
        conn: Any = request
        try:
            request.settimeout(self.conn_timeout)
            if self.ssl_context is not None:
                conn = self.ssl_context.wrap_socket(request, server_side=True)
            self.finish_request(conn, client_address)
        except (ssl.SSLError, OSError) as exc:
            log.debug("callback connection from %s dropped: %s", client_address[0], exc)
        except Exception:  # noqa: BLE001 - one connection's failure must not reach the pool
            log.exception("callback connection from %s failed", client_address[0])
        finally:
            if conn is not request:
                conn.close()
            self.shutdown_request(request)
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.exception("callback connection from %s failed", client_address[0])

    def close_pool(self, wait: bool) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)


def _bind_address(host: str, port: int) -> tuple[int, tuple[Any, ...]]:
    """The address family and socket address to bind ``host`` (name, IPv4, IPv6, bracketed or not)."""
    bare = host.strip().strip("[]")
    if bare in ("", "*"):
        bare = "::" if socket.has_ipv6 else "0.0.0.0"
    infos = socket.getaddrinfo(bare, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, sockaddr = infos[0]
    return family, sockaddr


class CallbackServer:
    """The callback listener: bound at construction, serving after :meth:`start` (a thread) or
    :meth:`serve_forever`, stopped by :meth:`stop`.

    Args:
        app: the WSGI application (:func:`create_cb_app`).
        host: address or name to bind (``::`` binds IPv6 and IPv4).
        port: TCP port (0: any free one; see :attr:`port`).
        ssl_context: a server-side TLS context, or None for plain HTTP.
        max_threads: worker threads (requests served at once).
        timeout: seconds a connection may stay silent (and a TLS handshake may take).
    """

    def __init__(self, app: Any, host: str, port: int, *, ssl_context: ssl.SSLContext | None = None,
                 max_threads: int = 8, timeout: float = 30.0) -> None:
        if max_threads < 1:
            raise ValueError("max_threads must be at least 1")
        family, address = _bind_address(host, port)
        self._server = _Server(address, family, ssl_context=ssl_context, max_threads=max_threads, timeout=timeout)
        self._server.set_app(app)
        self.tls = ssl_context is not None
        self._thread: threading.Thread | None = None
        self._running = threading.Event()
        self._done = threading.Event()
        self._stopped = False
        self._stop_lock = threading.Lock()

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The base URL of the bound socket (for logs and tests; nodes use :func:`callback_base_url`)."""
        return f"{'https' if self.tls else 'http'}://{url_host(self.host)}:{self.port}"

    def serve_forever(self) -> None:
        """Serve until :meth:`stop` is called from another thread."""
        self._running.set()
        try:
            if not self._server.stopping.is_set():
                log.info("callback server listening on %s", self.url)
            while not self._server.stopping.is_set():
                self._server.handle_request()  # waits at most ACCEPT_POLL seconds
        finally:
            self._done.set()

    def start(self) -> CallbackServer:
        """Serve in a background thread; returns self."""
        if self._thread is None:
            self._thread = threading.Thread(target=self.serve_forever, name="igor-cb-accept", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, close the socket, let running requests finish (each bounded by the connection
        timeout) and join the threads. Idempotent."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        self._server.stopping.set()
        if self._running.is_set():  # the loop sees the flag within ACCEPT_POLL seconds
            self._done.wait(timeout)
        if self._thread is not None:
            self._thread.join(timeout)
        self._server.server_close()
        self._server.close_pool(wait=True)
        log.info("callback server on %s stopped", self.url)

    def __enter__(self) -> CallbackServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def tls_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """A server-side TLS context (TLS 1.2 or later) from ``certFile`` and ``keyFile``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(Path(cert_file).expanduser()), str(Path(key_file).expanduser()))
    return context


def serve_callbacks(config: Config, services_factory: Callable[[], Any], *, max_threads: int = 8,
                    start: bool = True) -> CallbackServer:
    """Bind ``server.cbHost:cbPort`` (TLS when ``server.cbUseTLS``) and serve the callback routes.

    Args:
        config: the server configuration.
        services_factory: builds the services in the calling process (after any fork), e.g.
            ``lambda: build_services(config)``.
        max_threads: worker threads.
        start: serve in a background thread now (else call ``serve_forever`` or ``start`` later).

    Returns:
        The server; call :meth:`CallbackServer.stop` to stop it.

    Raises:
        OSError: the address cannot be bound.
        ssl.SSLError: the certificate or key cannot be loaded.
    """
    server = config.server
    context = tls_context(server.cert_file, server.key_file) if server.cb_use_tls else None
    cb = CallbackServer(create_cb_app(services_factory()), server.cb_host, server.cb_port, ssl_context=context,
                        max_threads=max_threads)
    if server.cb_host.strip() in WILDCARD_HOSTS or _is_loopback(server.cb_host):
        log.warning("callback server bound to %s: nodes are told to call %s", server.cb_host,
                    callback_base_url(config))
    return cb.start() if start else cb


def run_callbacks(config: Config) -> None:
    """Serve the callback routes in this process until SIGTERM or SIGINT: the body of the callback server's own
    process (``multiprocessing`` with the ``spawn`` context, started by ``igor-server`` before gunicorn forks), so
    exactly one listener owns ``cbPort`` however many API workers run."""
    import signal

    from igor.db import init_db
    from igor.logconfig import configure_logging
    from igor.services import Services

    configure_logging(config, foreground=sys.stderr.isatty())  # a spawned process inherits no handlers
    services = Services(init_db(config.database.url), config)
    server = serve_callbacks(config, lambda: services, start=False)

    def _stop(signum: int, frame: Any) -> None:
        # stop() waits for the accept loop, which runs in this (the signalled) thread: stop from another one
        threading.Thread(target=server.stop, name="igor-cb-stop").start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    parent = os.getppid()

    def _orphaned() -> None:
        # igor-server killed outright (SIGKILL) cannot stop us: leave with it, so a restart gets cbPort back
        while os.getppid() == parent:
            time.sleep(1)
        server.stop()

    threading.Thread(target=_orphaned, name="igor-cb-parent", daemon=True).start()
    try:
        server.serve_forever()
    finally:
        server.stop()
        services.db.disconnect()


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return host.strip().lower() == "localhost"


__all__ = ["CallbackServer", "callback_base_url", "create_cb_app", "run_callbacks", "serve_callbacks", "served_file",
           "tls_context"]
