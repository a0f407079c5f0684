"""``igor.client`` and the grammar, without a real server: config lookup, the token files, envelope and error
parsing against a tiny in-process HTTP server, and request building from the grammar table."""

from __future__ import annotations

import json
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from igor.cli import grammar
from igor.cli.commands import UsageError, build_request
from igor.cli.main import build_parser
from igor.client import (
    ApiError,
    ClientConfig,
    ConfigError,
    ConnectionFailed,
    IgorClient,
    TokenStore,
    client_home,
)

# --- config ------------------------------------------------------------------------------------------------


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("IGOR_SERVER", raising=False)
    monkeypatch.delenv("IGOR_CLIENT_CONFIG", raising=False)
    return tmp_path / "home"


def test_config_lookup_order(home: Path, tmp_path: Path) -> None:
    _write(home / ".igor" / "igor.yaml", "server:\n  url: https://home.example:1\n")
    env_file = _write(tmp_path / "env.yaml", "server:\n  url: https://env.example:2\n")
    explicit = _write(tmp_path / "explicit.yaml", "server:\n  url: https://explicit.example:3/\n")
    assert ClientConfig.load(env={}).server_url == "https://home.example:1"
    assert ClientConfig.load(env={"IGOR_CLIENT_CONFIG": str(env_file)}).server_url == "https://env.example:2"
    cfg = ClientConfig.load(str(explicit), env={"IGOR_CLIENT_CONFIG": str(env_file)})
    assert cfg.server_url == "https://explicit.example:3" and cfg.path == explicit
    over = ClientConfig.load(str(explicit), env={"IGOR_SERVER": "http://127.0.0.1:9"})
    assert over.server_url == "http://127.0.0.1:9"


def test_config_defaults_without_a_file(home: Path) -> None:
    cfg = ClientConfig.find(env={})
    if cfg is None:  # /etc/igor/igor.yaml may exist on a real machine
        loaded = ClientConfig.load(env={})
        assert loaded.server_url.startswith("https://") and loaded.timezone is None


def test_config_errors_name_the_key(home: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="IGOR_CLIENT_CONFIG"):
        ClientConfig.load(env={"IGOR_CLIENT_CONFIG": str(tmp_path / "missing.yaml")})
    bad_tz = _write(tmp_path / "tz.yaml", "client:\n  timezone: Mars/Olympus\n")
    with pytest.raises(ConfigError, match="client.timezone"):
        ClientConfig.load(str(bad_tz), env={})
    bad_ca = _write(tmp_path / "ca.yaml", "client:\n  caCert: /nonexistent/ca.pem\n")
    with pytest.raises(ConfigError, match="client.caCert"):
        ClientConfig.load(str(bad_ca), env={})
    bad_url = _write(tmp_path / "url.yaml", "server:\n  url: igor.example.org\n")
    with pytest.raises(ConfigError, match="server.url"):
        ClientConfig.load(str(bad_url), env={})
    with pytest.raises(ConfigError, match="IGOR_SERVER"):
        ClientConfig.load(env={"IGOR_SERVER": "ftp://x"})
    typed = _write(tmp_path / "typed.yaml", "server:\n  url: 8443\n")
    with pytest.raises(ConfigError, match="server.url"):
        ClientConfig.load(str(typed), env={})


def test_config_reads_timezone_and_ca(tmp_path: Path) -> None:
    ca = _write(tmp_path / "ca.pem", "not really a cert")
    cfg_file = _write(tmp_path / "c.yaml", f"server:\n  url: https://igor:8443\nclient:\n  timezone: "
                                           f"America/Denver\n  caCert: {ca}\n")
    cfg = ClientConfig.load(str(cfg_file), env={})
    assert (cfg.timezone, cfg.ca_cert) == ("America/Denver", str(ca))


def test_client_home_override(tmp_path: Path) -> None:
    assert client_home({"IGOR_CLIENT_HOME": str(tmp_path)}) == tmp_path
    assert client_home({}).name == ".igor"


# --- tokens ------------------------------------------------------------------------------------------------


def test_token_store_is_private(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "client")
    assert store.token() is None and store.user() is None
    store.save("tok-123", "alice")
    assert store.token() == "tok-123" and store.user() == "alice"
    assert stat.S_IMODE(store.token_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.user_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.home.stat().st_mode) == 0o700
    store.clear()
    assert store.token() is None and store.user() == "alice"
    store.clear()  # idempotent


# --- HTTP against a fake server ----------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, code: int, body: bytes, ctype: str = "application/json",
                headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        _Handler.seen.append({"method": self.command, "path": self.path, "auth": self.headers.get("Authorization"),
                              "ua": self.headers.get("User-Agent"), "body": json.loads(raw) if raw else None})
        env = {"status": "success", "message": "", "serverTime": "now", "data": {}}
        if self.path.startswith("/igor/login"):
            env["data"] = {"token": "fresh-token", "user": "alice"}
            self._answer(200, json.dumps(env).encode())
        elif self.path.startswith("/ok"):
            env.update(message="done", data={"echo": self.path})
            self._answer(200, json.dumps(env).encode())
        elif self.path.startswith("/refused"):
            env.update(status="fail", message="reservation 'x' conflicts with 'y'")
            self._answer(409, json.dumps(env).encode())
        elif self.path.startswith("/broken"):
            self._answer(500, b"<html>oops</html>", "text/html")
        elif self.path.startswith("/redirect"):
            self._answer(307, b"", headers={"Location": "/igor/login"})
        else:
            env.update(status="fail", message="no such thing")
            self._answer(404, json.dumps(env).encode())

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle


@pytest.fixture
def fake_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Handler.seen.clear()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_envelope_and_bearer(fake_server: str, tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    client = IgorClient(fake_server, store)
    client.login("alice", "pw")
    assert store.token() == "fresh-token"
    assert _Handler.seen[-1]["auth"].startswith("Basic ")
    resp = client.call("PATCH", "/ok", query={"name": ["a", "b"], "all": True}, body={"x": 1})
    assert resp.message == "done" and resp.data["echo"] == "/ok?name=a&name=b&all=true"
    last = _Handler.seen[-1]
    assert last["auth"] == "Bearer fresh-token" and last["body"] == {"x": 1}
    assert last["ua"].startswith("IgorCLI/")


def test_errors_carry_the_server_message(fake_server: str, tmp_path: Path) -> None:
    client = IgorClient(fake_server, TokenStore(tmp_path))
    with pytest.raises(ApiError) as refused:
        client.call("POST", "/refused", body={})
    assert refused.value.status == 409 and refused.value.message == "reservation 'x' conflicts with 'y'"
    assert not refused.value.auth_required
    with pytest.raises(ApiError) as broken:
        client.call("GET", "/broken")
    assert broken.value.status == 500 and "unspecified error" in broken.value.message
    with pytest.raises(ApiError) as redirect:
        client.call("GET", "/redirect")
    assert redirect.value.auth_required


def test_connection_failure_names_the_url(tmp_path: Path) -> None:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = IgorClient(f"http://127.0.0.1:{port}", TokenStore(tmp_path), timeout=5)
    with pytest.raises(ConnectionFailed, match=f"127.0.0.1:{port}"):
        client.call("GET", "/igor/health")


def test_logout_forgets_the_token_even_if_revoked(fake_server: str, tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    store.save("t", "alice")
    client = IgorClient(fake_server + "/nowhere", store)  # every call 404s
    with pytest.raises(ApiError):
        client.logout()
    assert store.token() is None


# --- grammar → parser → request ----------------------------------------------------------------------------


def test_grammar_covers_the_commands() -> None:
    wanted = {
        "login": [""], "logout": [""], "last": [""], "elevate": [""], "settings": [""], "auth-reset": [""],
        "show": [""], "res": ["create", "show", "edit", "del", "speculate"],
        "host": ["show", "edit", "del", "block", "unblock"], "policy": ["create", "show", "edit", "apply", "del"],
        "user": ["create", "show", "edit", "reset", "del"], "group": ["create", "show", "edit", "del"],
        "cluster": ["config", "show", "motd"],
    }
    for noun, verbs in wanted.items():
        for verb in verbs:
            grammar.lookup(noun, verb)
    build_parser()  # no conflicting flags anywhere


def _request(line: str, tz: str = "UTC") -> Any:
    ns = vars(build_parser().parse_args(line.split()))
    return build_request(grammar.lookup(ns["_noun"], ns.get("_verb") or ""), ns, tz=tz)


def test_requests_from_the_table() -> None:
    r = _request("res create demo1 -n 4 -e 2h --dry-run")
    assert (r.method, r.path) == ("POST", "/igor/reservations")
    assert r.body == {"name": "demo1", "nodeCount": 4, "duration": "2h", "dryRun": True}
    r = _request("res create demo1 -n dn[1-3] -s 2030-01-02T03:04 -e Jan-3-30T03:04")
    assert r.body["nodeList"] == "dn[1-3]" and r.body["start"] == 1893553440
    assert r.body["duration"] == 1893553440 + 86400
    r = _request("res edit demo1 --extend 1h")
    assert (r.method, r.path, r.body) == ("PATCH", "/igor/reservations/demo1", {"extend": "1h"})
    assert _request("res edit demo1 --add 2").body == {"addNodeCount": 2}
    r = _request("res speculate -n 8 -d 1h --limit 3")
    assert r.query == {"nodes": "8", "duration": "1h", "limit": 3} and r.body is None
    assert _request("host block dn[5-6]").body == {"hosts": "dn[5-6]", "block": True}
    assert _request("host unblock dn5").body == {"hosts": "dn5", "block": False}
    assert _request("elevate -s").method == "GET" and _request("elevate -c").method == "DELETE"
    assert _request("settings -a").path == "/igor/config"
    assert _request("res show -n a,b").query == {"name": ["a", "b"]}
    assert _request("cluster motd hello").body == {"motd": "hello", "motdUrgent": False}
    assert _request("policy apply p1 dn[1-2]").body == {"policy": "p1", "nodeList": "dn[1-2]"}
    assert _request("user reset bob").body == {"reset": True}


@pytest.mark.parametrize("line", ["res create demo1 -n 4 -e 2x", "res create demo1 -n dn[1-", "res create demo1 -n 0",
                                  "res edit demo1 --extend tomorrowish", "res create demo1 -n 4 -s notadate"])
def test_bad_values_are_usage_errors(line: str) -> None:
    with pytest.raises(UsageError):
        _request(line)


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    from igor.cli.main import main

    for noun in grammar.GRAMMAR:
        for verb in noun.verbs:
            argv = [noun.name, verb.name, "-h"] if verb.name else [noun.name, "-h"]
            assert main(argv) == 0, argv
            assert "usage: igor" in capsys.readouterr().out
    assert main(["res", "create", "x", "--bogus"]) == 2
