"""The libvirt driver against ``virsh``'s test driver (RECIPES.md §4), on a node file with ``kn1`` shut off and
``kn2`` running.

The test driver keeps no state between virsh processes, so the single-step tests check each command's outcome on
the file's initial state (already-there is success, an unknown domain or connection is an error naming the
host), and the sequence tests go through a small ``virsh`` stand-in that records the commands it is given and
replays the earlier successful ones in front of each new one, all in one real virsh process — so
"off, then status" really reads the state the "off" left."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from igor.power import OFF, ON, LibvirtDriver, PowerConfigError, PowerController, PowerError, PowerTarget
from igor.power.libvirt import split_uri

REPLAY = '''#!{python}
"""virsh with state across calls: replays earlier state changes before the new command, in one real virsh."""
import pathlib, shlex, subprocess, sys
here = pathlib.Path(__file__).parent
args = sys.argv[1:]
assert args[0] == "-c", args
uri, command = args[1], args[2:]
with open(here / "calls.log", "a") as log:
    log.write(shlex.join(command) + "\\n")
history_file = here / "history"
history = history_file.read_text().splitlines() if history_file.exists() else []
line = "; ".join([*history, "echo __MARK__", shlex.join(command)])
done = subprocess.run(["virsh", "-c", uri, line], capture_output=True, text=True)
sys.stdout.write(done.stdout.split("__MARK__", 1)[-1].lstrip("\\n"))
sys.stderr.write(done.stderr)
if done.returncode == 0 and command[0] in ("start", "destroy", "reset", "shutdown", "reboot"):
    history_file.write_text("".join(h + "\\n" for h in [*history, shlex.join(command)]))
sys.exit(done.returncode)
'''


def target(xml: Path, domain: str, name: str | None = None) -> PowerTarget:
    return PowerTarget(name or domain, domain, f"libvirt+test://{xml}/{domain}")


@pytest.fixture
def replay(tmp_path: Path, node_xml: Path) -> Path:
    """The recording, replaying ``virsh`` stand-in (its directory holds ``calls.log``)."""
    path = tmp_path / "replay" / "virsh"
    path.parent.mkdir()
    path.write_text(REPLAY.format(python=sys.executable))
    path.chmod(0o755)
    return path


def calls(replay: Path) -> list[str]:
    log = replay.parent / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


@pytest.mark.parametrize(("uri", "want"), [
    ("libvirt+qemu:///system/kn7", ("qemu:///system", "kn7")),
    ("libvirt:///system/kn7", ("qemu:///system", "kn7")),
    ("libvirt+qemu+ssh://root@hv1/system/kn%207?keyfile=/k", ("qemu+ssh://root@hv1/system?keyfile=/k", "kn 7")),
    ("libvirt+test:///tmp/x/node.xml/kn1", ("test:///tmp/x/node.xml", "kn1")),
    ("libvirt+test:///kn1", ("test:///", "kn1")),
])
def test_split_uri(uri: str, want: tuple[str, str]) -> None:
    assert split_uri(uri) == want


@pytest.mark.parametrize("uri", ["libvirt+qemu:///", "ipmi://bmc/x", "libvirt+://x/y"])
def test_split_uri_refuses(uri: str) -> None:
    with pytest.raises(ValueError):
        split_uri(uri)


def test_status_reads_domstate(node_xml: Path) -> None:
    driver = LibvirtDriver()
    assert driver.status(target(node_xml, "kn1")) == OFF
    assert driver.status(target(node_xml, "kn2")) == ON


def test_single_steps_on_the_initial_state(node_xml: Path) -> None:
    driver = LibvirtDriver()
    driver.act(target(node_xml, "kn1"), "on")      # shut off -> start
    driver.act(target(node_xml, "kn2"), "on")      # "Domain is already active": what was asked
    driver.act(target(node_xml, "kn1"), "off")     # "domain is not running": what was asked
    driver.act(target(node_xml, "kn2"), "off")     # running -> destroy
    driver.act(target(node_xml, "kn1"), "cycle")   # not running: reset fails, start
    driver.act(target(node_xml, "kn2"), "cycle")   # running -> reset


def test_unknown_domain_and_connection_fail_naming_the_host(node_xml: Path, tmp_path: Path) -> None:
    driver = LibvirtDriver()
    with pytest.raises(PowerError) as err:
        driver.act(target(node_xml, "nope", "kn9"), "on")
    assert err.value.host == "kn9" and "virsh start nope" in str(err.value) and "failed to get domain 'nope'" in \
        str(err.value)
    with pytest.raises(PowerError, match="failed to connect to the hypervisor"):
        driver.status(target(tmp_path / "missing.xml", "kn1"))
    with pytest.raises(PowerConfigError, match="names no domain"):
        driver.act(PowerTarget("kn1", "kn1", "libvirt+qemu:///"), "on")


def test_missing_virsh_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PowerError, match="program '/nonexistent/virsh' not found"):
        LibvirtDriver("/nonexistent/virsh").act(target(tmp_path / "n.xml", "kn1"), "on")


def test_sequences_keep_their_state(replay: Path, node_xml: Path) -> None:
    driver = LibvirtDriver(str(replay))
    kn1, kn2 = target(node_xml, "kn1"), target(node_xml, "kn2")
    driver.act(kn2, "off")
    assert driver.status(kn2) == OFF
    driver.act(kn2, "off")  # again: already off is fine
    driver.act(kn1, "on")
    assert (driver.status(kn1), driver.status(kn2)) == (ON, OFF)
    driver.act(kn2, "cycle")  # off: reset is refused, so start
    assert driver.status(kn2) == ON
    driver.act(kn1, "cycle")  # on: reset
    assert driver.status(kn1) == ON
    assert calls(replay) == [
        "destroy kn2", "domstate kn2", "destroy kn2", "start kn1", "domstate kn1", "domstate kn2",
        "reset kn2", "start kn2", "domstate kn2", "reset kn1", "domstate kn1"]


def test_controller_over_libvirt(replay: Path, node_xml: Path, make_config, tmp_path: Path) -> None:
    power = PowerController(make_config(), tmp_path / "state", drivers={"libvirt": LibvirtDriver(str(replay))})
    kn1, kn2 = target(node_xml, "kn1"), target(node_xml, "kn2")
    assert power.status([kn1, kn2]) == {"kn1": OFF, "kn2": ON}
    assert power.act([kn1, kn2], "on") == {}
    assert power.status([kn1, kn2]) == {"kn1": ON, "kn2": ON}
    errors = power.act([kn1, target(node_xml, "ghost")], "off")
    assert list(errors) == ["ghost"] and errors["ghost"].startswith("ghost: virsh destroy ghost on test://")
    assert power.status([kn1]) == {"kn1": OFF}
    assert [shlex.split(c)[0] for c in calls(replay)].count("start") == 2
    # kn2's start was refused (already active) and taken as success; only the state changes were replayed
    assert (replay.parent / "history").read_text().splitlines() == ["start kn1", "destroy kn1"]
