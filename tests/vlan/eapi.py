"""A small Arista-eAPI-speaking switch on loopback for the VLAN tests.

``FakeArista`` is an ``http.server`` in a thread on a random port answering JSON-RPC 2.0 ``runCmds`` POSTs on
``/command-api`` with HTTP Basic auth. It keeps per-port state (``Ethernet1`` … ``EthernetN``: switchport mode
and access VLAN), runs the commands Igor sends the way EOS does — in order, in the CLI mode the previous ones
entered, stopping at the first that fails with EOS's error shape (``CLI command i of n '...' failed``, the outputs
so far in ``data``, the failed one carrying ``errors``) — records every request's commands, and can be told to
fail the next requests (a JSON-RPC error, an HTTP 500, or no answer in time).
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

USER, PASSWORD = "igor", "s3cret"
_SHOW = re.compile(r"show vlan(?: (\d+)(?:-(\d+))?)?")


class FakeArista:
    """The switch: ``ports`` Ethernet ports, all in access mode on VLAN 1 (EOS's default) at first.

    Attributes:
        requests: the commands of every request received, in order (the auth-refused ones too).
        fail_kind / fail_times: the next ``fail_times`` requests fail as ``fail_kind`` (see :meth:`fail`).
    """

    def __init__(self, ports: int = 16, *, user: str = USER, password: str = PASSWORD) -> None:
        self.ports: dict[str, dict[str, Any]] = {f"Ethernet{i}": {"mode": "access", "vlan": None}
                                                  for i in range(1, ports + 1)}
        self.credentials = f"{user}:{password}"
        self.requests: list[list[str]] = []
        self.fail_kind = ""
        self.fail_times = 0
        self.hang_seconds = 3.0
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.scheme = "http"

    # -- control -----------------------------------------------------------------------------------------

    def start(self, ssl_context: ssl.SSLContext | None = None) -> FakeArista:
        switch = self

        class Handler(_Handler):
            fake = switch

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if ssl_context is not None:
            self._server.socket = ssl_context.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-arista", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``vlan.networkURL`` as v2 wrote it: host, port and path, no scheme."""
        return f"127.0.0.1:{self.port}/command-api"

    def fail(self, kind: str = "rpc", times: int = 1) -> None:
        """Fail the next ``times`` requests: ``rpc`` (EOS refuses the first configuration command), ``http``
        (HTTP 500) or ``hang`` (answer after :attr:`hang_seconds`, past the client's timeout)."""
        with self.lock:
            self.fail_kind, self.fail_times = kind, times

    def vlan_of(self, port: str) -> int | None:
        """The access VLAN of ``port`` (``Et3`` or ``Ethernet3``), None when it has none."""
        with self.lock:
            return self.ports[_long(port)]["vlan"]

    def mode_of(self, port: str) -> str:
        with self.lock:
            return str(self.ports[_long(port)]["mode"])

    def set_port(self, port: str, vlan: int | None, mode: str = "dot1q-tunnel") -> None:
        """Configure ``port`` behind Igor's back (a mismatch for sync to find)."""
        with self.lock:
            self.ports[_long(port)] = {"mode": mode if vlan else "access", "vlan": vlan}

    def configured(self) -> dict[str, int]:
        """Every port with an access VLAN: short name → VLAN."""
        with self.lock:
            return {"Et" + name[8:]: p["vlan"] for name, p in self.ports.items() if p["vlan"]}

    @property
    def commands(self) -> list[str]:
        return [c for request in self.requests for c in request]

    # -- the CLI -----------------------------------------------------------------------------------------

    def run(self, commands: list[str]) -> tuple[list[Any], dict[str, Any] | None]:
        """Run ``commands`` as EOS does; returns (outputs, error or None)."""
        mode, port = "exec", None
        outputs: list[Any] = []
        for index, command in enumerate(commands):
            try:
                output, mode, port = self._one(command.strip(), mode, port)
            except _CliError as exc:
                outputs.append({"errors": [str(exc)]})
                return outputs, {"code": 1002, "data": outputs,
                                 "message": f"CLI command {index + 1} of {len(commands)} '{command}' failed: "
                                            f"{exc.kind}"}
            outputs.append(output)
        return outputs, None

    def _one(self, command: str, mode: str, port: str | None) -> tuple[Any, str, str | None]:
        show = _SHOW.fullmatch(command)
        if show:
            return self._show_vlan(show), mode, port
        if command == "enable":
            return {}, "enable", None
        if command in ("configure terminal", "configure"):
            if mode == "exec":
                raise _CliError("invalid command", "Invalid input (privileged mode required)")
            return {}, "config", None
        if command.startswith("interface "):
            if mode not in ("config", "interface"):
                raise _CliError("invalid command", "Invalid input (at token 0: 'interface')")
            name = _long(command.split(None, 1)[1])
            if name not in self.ports:
                raise _CliError("could not run command", f"Interface {name} does not exist")
            return {}, "interface", name
        if mode != "interface" or port is None:
            raise _CliError("invalid command", f"Invalid input (at token 0: {command.split()[0]!r})")
        with self.lock:
            state = self.ports[port]
            if command in ("switchport mode dot1q-tunnel", "switchport mode access", "switchport mode trunk"):
                state["mode"] = command.rsplit(None, 1)[1]
            elif command.startswith("switchport access vlan "):
                number = command.rsplit(None, 1)[1]
                if not number.isdigit() or not 1 <= int(number) <= 4094:
                    raise _CliError("invalid command", f"Invalid input (at token 3: '{number}')")
                state["vlan"] = int(number)
            elif command == "no switchport access vlan":
                state["vlan"] = None
            else:
                raise _CliError("invalid command", f"Invalid input (at token 1: {command!r})")
        return {}, mode, port

    def _show_vlan(self, match: re.Match[str]) -> dict[str, Any]:
        lo = int(match.group(1)) if match.group(1) else 1
        hi = int(match.group(2)) if match.group(2) else (lo if match.group(1) else 4094)
        table: dict[str, Any] = {}
        with self.lock:
            for name, state in self.ports.items():
                vlan = state["vlan"] or 1
                if state["mode"] in ("access", "dot1q-tunnel") and lo <= vlan <= hi:
                    entry = table.setdefault(str(vlan), {"name": "default" if vlan == 1 else f"VLAN{vlan:04d}",
                                                         "status": "active", "dynamic": False, "interfaces": {}})
                    entry["interfaces"][name] = {"privatePromoted": False, "blocked": None}
        if not table:
            raise _CliError("could not run command", "% VLAN(s) not found in current VLAN database")
        return {"vlans": table, "sourceDetail": ""}


class _CliError(Exception):
    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


def _long(port: str) -> str:
    return "Ethernet" + port[2:] if port.startswith("Et") and not port.startswith("Ethernet") else port


class _Handler(BaseHTTPRequestHandler):
    fake: FakeArista

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        pass

    def _answer(self, code: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        fake = self.fake
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            request = json.loads(raw)
            commands = [str(c) for c in request["params"]["cmds"]]
        except (ValueError, KeyError, TypeError):
            self._answer(400, {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}})
            return
        with fake.lock:
            fake.requests.append(commands)
            kind = fake.fail_kind if fake.fail_times > 0 else ""
            if kind:
                fake.fail_times -= 1
        if self.path != "/command-api":
            self._answer(404, {"error": "not found"})
            return
        expected = "Basic " + base64.b64encode(fake.credentials.encode()).decode()
        if self.headers.get("Authorization") != expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="eAPI"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if kind == "hang":
            time.sleep(fake.hang_seconds)
        if kind == "http":
            self._answer(500, {"error": "internal error"})
            return
        if request.get("method") != "runCmds" or request.get("jsonrpc") != "2.0":
            self._answer(200, {"jsonrpc": "2.0", "id": request.get("id"),
                               "error": {"code": -32601, "message": "method not found"}})
            return
        if kind == "rpc":
            first = next((i for i, c in enumerate(commands) if c.startswith("interface ")), 0)
            outputs: list[Any] = [{} for _ in commands[:first]] + [{"errors": ["Session is locked"]}]
            self._answer(200, {"jsonrpc": "2.0", "id": request.get("id"), "error": {
                "code": 1002, "data": outputs,
                "message": f"CLI command {first + 1} of {len(commands)} '{commands[first]}' failed: could not run"}})
            return
        outputs, error = fake.run(commands)
        if error is not None:
            self._answer(200, {"jsonrpc": "2.0", "id": request.get("id"), "error": error})
        else:
            self._answer(200, {"jsonrpc": "2.0", "id": request.get("id"), "result": outputs})


@contextmanager
def running(ports: int = 16, ssl_context: ssl.SSLContext | None = None) -> Iterator[FakeArista]:
    """A started :class:`FakeArista`, stopped afterwards."""
    switch = FakeArista(ports).start(ssl_context)
    try:
        yield switch
    finally:
        switch.stop()
