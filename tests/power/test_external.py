"""Igor v2's ``externalCmds`` templates (hosts without a ``powerUri``): ``%s`` is the hostname, commands run
without a shell, ``concurrencyLimit`` hosts at a time, each retried ``commandRetries`` times; cycle follows v2's
rules; a host with no template for an action gets a message saying what to configure. The commands are small
scripts that record their calls."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from igor.power import UNKNOWN, ExternalCommands, PowerConfigError, PowerController, PowerError, PowerTarget

RECORDER = '''#!{python}
"""Append "<start> <end> <args...>" to calls.log; sleep SLEEP seconds; fail the first FAILS calls per host."""
import os, pathlib, sys, time
here = pathlib.Path(__file__).parent
start = time.time()
time.sleep(float(os.environ.get("SLEEP", "{sleep}")))
host = sys.argv[-1]
counter = here / f"count-{{host}}"
n = int(counter.read_text()) + 1 if counter.exists() else 1
counter.write_text(str(n))
with open(here / "calls.log", "a") as log:
    log.write(f"{{start}} {{time.time()}} {{' '.join(sys.argv[1:])}}\\n")
if n <= {fails}:
    print(f"BMC of {{host}} did not answer (call {{n}})", file=sys.stderr)
    sys.exit(3)
'''


def recorder(tmp_path: Path, *, sleep: float = 0.0, fails: int = 0) -> Path:
    path = tmp_path / "bin" / "powerctl"
    path.parent.mkdir(exist_ok=True)
    path.write_text(RECORDER.format(python=sys.executable, sleep=sleep, fails=fails))
    path.chmod(0o755)
    return path


def calls(script: Path) -> list[tuple[float, float, str]]:
    log = script.parent / "calls.log"
    rows = [line.split(" ", 2) for line in log.read_text().splitlines()] if log.exists() else []
    return [(float(a), float(b), rest) for a, b, rest in rows]


def hosts(n: int) -> list[PowerTarget]:
    return [PowerTarget(f"kn{i}", f"node{i}.example") for i in range(1, n + 1)]


def controller(make_config, tmp_path: Path, **cmds) -> PowerController:  # noqa: ANN001
    limit, retries = cmds.pop("concurrencyLimit", 1), cmds.pop("commandRetries", 0)
    config = make_config({"externalCmds": {"concurrencyLimit": limit, "commandRetries": retries, **cmds}})
    return PowerController(config, tmp_path / "state", retry_delay=0)


def test_template_gets_the_hostname_and_runs_without_a_shell(make_config, tmp_path: Path) -> None:
    script = recorder(tmp_path)
    power = controller(make_config, tmp_path, powerOn=f"{script} --on 'a b;echo' -h %s")
    assert power.act(hosts(1), "on") == {}
    assert [c[2] for c in calls(script)] == ["--on a b;echo -h node1.example"]  # one word, not a shell command
    assert power.status(hosts(1)) == {"kn1": UNKNOWN}


def test_concurrency_limit_is_honoured(make_config, tmp_path: Path) -> None:
    script = recorder(tmp_path, sleep=0.4)
    power = controller(make_config, tmp_path, concurrencyLimit=2, powerOff=f"{script} off %s")
    started = time.monotonic()
    assert power.act(hosts(4), "off") == {}
    elapsed = time.monotonic() - started
    spans = calls(script)
    assert sorted(c[2] for c in spans) == [f"off node{i}.example" for i in range(1, 5)]
    most = max(sum(1 for s, e, _ in spans if s <= t < e) for t, _e, _r in spans)
    assert most == 2, spans  # two at a time, never more
    assert 0.8 <= elapsed < 4, elapsed  # two rounds of 0.4 s, not four, not one


def test_one_at_a_time_by_default(make_config, tmp_path: Path) -> None:
    script = recorder(tmp_path, sleep=0.2)
    power = controller(make_config, tmp_path, powerOff=f"{script} off %s")
    assert power.act(hosts(3), "off") == {}
    spans = sorted(calls(script))
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False)), spans


def test_retries_until_it_works(make_config, tmp_path: Path) -> None:
    script = recorder(tmp_path, fails=2)
    power = controller(make_config, tmp_path, commandRetries=2, powerOn=f"{script} on %s")
    assert power.act(hosts(2), "on") == {}
    assert [c[2] for c in calls(script)] == ["on node1.example"] * 3 + ["on node2.example"] * 3


def test_gives_up_after_the_retries_and_says_why(make_config, tmp_path: Path) -> None:
    script = recorder(tmp_path, fails=5)
    power = controller(make_config, tmp_path, commandRetries=1, powerOn=f"{script} on %s")
    errors = power.act(hosts(1), "on")
    assert list(errors) == ["kn1"]
    assert errors["kn1"] == (f"kn1: externalCmds.powerOn `{script} on node1.example` failed (exit 3): BMC of "
                             "node1.example did not answer (call 2)")
    assert len(calls(script)) == 2


def test_retry_waits_between_tries(make_config, tmp_path: Path) -> None:
    script = recorder(tmp_path, fails=1)
    config = make_config({"externalCmds": {"commandRetries": 1, "powerOn": f"{script} on %s"}})
    power = PowerController(config, tmp_path / "state", retry_delay=0.3)
    started = time.monotonic()
    assert power.act(hosts(1), "on") == {}
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize(("cmds", "action", "steps"), [
    ({"powerCycle": "powerctl cycle %s"}, "cycle", ["cycle node1.example"]),
    ({"powerOff": "powerctl off %s", "powerOn": "powerctl on %s"}, "cycle", ["off node1.example", "on node1.example"]),
    ({"powerCycle": "ipmitool -H %s power cycle", "powerOff": "powerctl off %s", "powerOn": "powerctl on %s"},
     "cycle", ["off node1.example", "on node1.example"]),
])
def test_cycle_follows_igor_v2(make_config, tmp_path: Path, cmds: dict, action: str, steps: list[str]) -> None:
    script = recorder(tmp_path)
    cmds = {k: v.replace("powerctl", str(script)) for k, v in cmds.items()}
    assert controller(make_config, tmp_path, **cmds).act(hosts(1), action) == {}
    assert [c[2] for c in calls(script)] == steps


def test_ipmipower_cycle_gets_on_if_off(make_config) -> None:
    cmds = ExternalCommands(make_config({"externalCmds": {"powerCycle": "ipmipower -h %s --cycle"}}).external_cmds)
    assert cmds.templates("cycle") == [("powerCycle", "ipmipower -h %s --cycle --on-if-off")]


@pytest.mark.parametrize(("cmds", "action", "wanted"), [
    ({}, "on", "externalCmds.powerOn"),
    ({"powerOn": "x %s"}, "off", "externalCmds.powerOff"),
    ({"powerOn": "x %s"}, "cycle", "externalCmds.powerCycle (or powerOff and powerOn)"),
    ({"powerCycle": "ipmitool -H %s power cycle"}, "cycle", "externalCmds.powerCycle (or powerOff and powerOn)"),
])
def test_no_template_says_what_to_configure(make_config, tmp_path: Path, cmds: dict, action: str,
                                            wanted: str) -> None:
    power = controller(make_config, tmp_path, commandRetries=3, **cmds)
    message = f"no power control configured for host kn1: set powerUri in igor-clusters.yaml or {wanted}"
    assert power.problem(hosts(1)[0], action) == message and not power.configured(hosts(1)[0], action)
    assert power.act(hosts(1), action) == {"kn1": message}


def test_timeout_missing_program_and_bad_template(make_config, tmp_path: Path) -> None:
    script = recorder(tmp_path, sleep=10)
    slow = ExternalCommands(make_config({"externalCmds": {"powerOn": f"{script} %s"}}).external_cmds, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(PowerError, match=r"^kn1: externalCmds.powerOn timed out after 0.3 s$"):
        slow.act(hosts(1)[0], "on")
    assert time.monotonic() - started < 5
    missing = ExternalCommands(make_config({"externalCmds": {"powerOn": "/nonexistent/ipmipower %s"}}).external_cmds)
    with pytest.raises(PowerError, match="program '/nonexistent/ipmipower' not found"):
        missing.act(hosts(1)[0], "on")
    with pytest.raises(PowerConfigError, match="externalCmds.powerOn is not a valid command line"):
        ExternalCommands.argv(hosts(1)[0], "powerOn", "ipmipower 'unclosed %s")
