"""The real ``igor`` executable against a live ``igor-server --demo`` started by the test (one per module):
login, create/show/extend/speculate/delete, dry runs, blocking, exit codes and ``--json`` parsed here."""

from __future__ import annotations

import io
import json
import socket
import stat
import time
from pathlib import Path

import pytest

from tests.cli.live import ALICE_PW, Igor


def test_reservation_lifecycle(igor: Igor) -> None:
    igor.login()
    assert stat.S_IMODE((igor.home / "auth_token").stat().st_mode) == 0o600
    assert (igor.home / "lastuser").read_text().strip() == "alice"

    created = igor.json("res", "create", "demo1", "-n", "4", "-e", "2h")
    res = created["reservation"][0]
    assert res["name"] == "demo1" and len(res["hosts"]) == 4 and res["end"] - res["start"] == 7200

    shown = igor.json("res", "show")
    assert [r["name"] for r in shown["reservations"]] == ["demo1"]

    table = igor("res", "show")
    assert table.returncode == 0 and "demo1" in table.stdout and "STATUS" in table.stdout

    extended = igor("res", "edit", "demo1", "--extend", "1h")
    assert extended.returncode == 0, extended.stderr
    assert extended.stdout.startswith("igor: reservation 'demo1' extended")
    after = igor.json("res", "show")["reservations"][0]
    assert after["end"] == res["end"] + 3600

    windows = igor.json("res", "speculate", "-n", "8", "-d", "1h")["windows"]
    assert windows and len(windows[0]["hosts"]) == 8 and windows[0]["end"] - windows[0]["start"] == 3600

    made = igor("res", "create", "demo3", "-n", "dn[40-41]", "-e", "30m")
    assert made.returncode == 0 and made.stdout.startswith("igor: reservation 'demo3' created: dn[40-41] (2 hosts), ")
    assert made.stdout.count(" to ") == 1
    assert igor("res", "del", "demo3").returncode == 0

    dry = igor("res", "create", "demo2", "-n", "2", "-e", "1h", "--dry-run")
    assert dry.returncode == 0 and dry.stdout.startswith("igor: dry run"), dry.stdout + dry.stderr
    assert [r["name"] for r in igor.json("res", "show")["reservations"]] == ["demo1"]

    show = igor("show")
    assert show.returncode == 0 and "demo1" in show.stdout and "\x1b[" not in show.stdout

    deleted = igor("res", "del", "demo1")
    assert (deleted.returncode, deleted.stdout.strip()) == (0, "igor: success")
    assert igor.json("res", "show")["reservations"] == []
    assert "no reservations to show" in igor("res", "show").stdout


def test_blocked_host_refuses_a_by_name_reservation(igor: Igor) -> None:
    igor.login("igor-admin", "igor-admin")
    blocked = igor("host", "block", "dn5")
    assert blocked.returncode == 0, blocked.stderr
    try:
        hosts = igor.json("host", "show", "-n", "dn5")["hosts"]
        assert hosts[0]["state"] == "blocked"
        refused = igor("res", "create", "onblocked", "-n", "dn5", "-e", "1h")
        assert refused.returncode == 1
        assert refused.stderr.startswith("igor: ") and "dn5" in refused.stderr
        assert "Traceback" not in refused.stderr
        as_json = igor("res", "create", "onblocked", "-n", "dn5", "-e", "1h", "--json")
        assert as_json.returncode == 1 and as_json.stdout == ""
    finally:
        assert igor("host", "unblock", "dn5").returncode == 0


def test_refusals_exit_1_with_the_server_message(igor: Igor) -> None:
    igor.login()
    not_admin = igor("elevate")
    assert (not_admin.returncode, not_admin.stderr.strip()) == (1, "igor: user 'alice' is not an admin")
    bad_name = igor("res", "create", "r1", "-n", "2")
    assert bad_name.returncode == 1 and "not a legal reservation name" in bad_name.stderr
    missing = igor("res", "del", "nosuchres")
    assert missing.returncode == 1 and missing.stderr.startswith("igor: ")


@pytest.mark.parametrize("args", [
    ["res", "create", "demo9", "-n", "4", "-e", "2x"],
    ["res", "create", "demo9", "-n", "dn[1-"],
    ["res", "create", "demo9"],
    ["res", "edit", "demo9", "--extend", "soonish"],
    ["res", "bogus"],
    ["res"],
    ["show", "-c", "-f"],
    ["show", "--sort-name", "--sort-owner"],
])
def test_usage_errors_exit_2(igor: Igor, args: list[str]) -> None:
    done = igor(*args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.startswith("igor: ") and "Traceback" not in done.stderr


def test_logout_then_commands_say_to_log_in(igor: Igor) -> None:
    igor.login()
    out = igor("logout")
    assert (out.returncode, out.stdout.strip()) == (0, "igor: auth session closed")
    assert not (igor.home / "auth_token").exists()
    again = igor("res", "show")
    assert again.returncode == 1 and "igor login" in again.stderr
    assert "auth session closed" in igor("logout").stdout  # logging out twice is fine


def test_wrong_password_and_unreachable_server(igor: Igor, tmp_path: Path) -> None:
    bad = igor("login", "-u", "alice", "--password-stdin", stdin="wrong\n")
    assert bad.returncode == 1 and "incorrect password" in bad.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gone = Igor(f"http://127.0.0.1:{port}", tmp_path / "other")
    done = gone("res", "show")
    assert done.returncode == 1 and f"127.0.0.1:{port}" in done.stderr


def test_https_to_a_plain_http_server_says_to_use_http(igor: Igor, tmp_path: Path) -> None:
    """A new user's first mistake: the client's default https:// URL against the demo server (plain HTTP on
    loopback) is answered with what to set, not an SSL library error."""
    plain = igor.server
    assert plain.startswith("http://")
    wrong = Igor("https://" + plain.removeprefix("http://"), tmp_path / "other")
    done = wrong("res", "show")
    assert done.returncode == 1
    assert done.stderr.strip() == (f"igor: the server at {wrong.server} does not speak TLS (plain HTTP, as the demo "
                                   f"server on loopback): use {plain} ($IGOR_SERVER or server.url in igor.yaml)")


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_login_prompt_then_replay(server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No token and a terminal: igor asks for the user and password, logs in and replays the command."""
    from igor.cli import main as cli_main

    monkeypatch.setenv("IGOR_SERVER", server)
    monkeypatch.setenv("IGOR_CLIENT_HOME", str(tmp_path / "tty"))
    monkeypatch.delenv("IGOR_CLIENT_CONFIG", raising=False)
    monkeypatch.setattr(cli_main.getpass, "getpass", lambda prompt="": ALICE_PW)
    out, err = io.StringIO(), io.StringIO()
    code = cli_main.main(["res", "show", "--json"], out=out, err=err, stdin=_Tty("alice\n"))
    assert code == 0, err.getvalue()
    assert "igor username (enter = " in err.getvalue()
    assert json.loads(out.getvalue()) == {"reservations": []}
    assert (tmp_path / "tty" / "auth_token").exists()


def test_power_off_then_host_show(igor: Igor) -> None:
    """The demo powers its hosts by ``sim://``: the owner of a running reservation powers a node off, by name and
    then by reservation, and ``host show`` says so; a node outside the reservation is refused (exit 1)."""
    igor.login()
    assert igor("res", "create", "pwr1", "-n", "dn[44-45]", "-e", "1h").returncode == 0
    try:
        # the lifecycle worker installs it first (power-cycling the hosts): act on the installed reservation
        deadline = time.monotonic() + 30
        while not igor.json("res", "show")["reservations"][0]["installed"]:
            assert time.monotonic() < deadline, "the reservation was not installed within 30 s"
            time.sleep(0.2)
        off = igor("power", "off", "-n", "dn44")
        assert (off.returncode, off.stdout.strip()) == (0, "igor: powered off: dn44 (1 host)"), off.stderr
        hosts = {h["name"]: h["powered"] for h in igor.json("host", "show", "-n", "dn[44-45]")["hosts"]}
        assert hosts == {"dn44": "false", "dn45": "true"}
        table = igor("host", "show", "-n", "dn44")
        assert table.returncode == 0 and "false" in table.stdout.splitlines()[-1]

        cycled = igor("power", "cycle", "-r", "pwr1")
        assert (cycled.returncode, cycled.stdout.strip()) == (0, "igor: power-cycled: dn[44-45] (2 hosts)")
        assert igor.json("host", "show", "--powered", "false", "-n", "dn[44-45]")["hosts"] == []

        outside = igor("power", "off", "-n", "dn50")
        assert outside.returncode == 1 and outside.stderr.strip() == (
            "igor: you cannot run power commands on dn50: not in an active reservation of yours or of your groups")
        assert igor.json("host", "show", "-n", "dn50")["hosts"][0]["powered"] == "true"

        usage = igor("power", "off")
        assert usage.returncode == 2 and "needs the nodes (-n NODES) or a reservation (-r RES)" in usage.stderr
        both = igor("power", "on", "-n", "dn44", "-r", "pwr1")
        assert both.returncode == 2 and "not allowed with argument" in both.stderr
    finally:
        assert igor("res", "del", "pwr1").returncode == 0
