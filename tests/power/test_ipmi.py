"""The IPMI driver against a real BMC simulator (``ipmi_sim``, fixture ``bmc``): on, off, cycle and status through
``ipmitool`` over RMCP+, wrong credentials and a missing BMC failing within a bounded time, and the command line
the driver builds (password never on it)."""

from __future__ import annotations

import time

import pytest

from igor.power import OFF, ON, IpmiDriver, PowerConfigError, PowerController, PowerError, PowerTarget
from tests.power.conftest import Bmc, free_udp_port, require_programs, wait_for


def target(uri: str, name: str = "kn1") -> PowerTarget:
    return PowerTarget(name, f"{name}.example", uri)


def test_on_off_and_status(bmc: Bmc) -> None:
    driver = IpmiDriver()
    t = target(bmc.uri)
    assert driver.status(t) == OFF
    driver.act(t, "on")
    assert bmc.power == "1" and driver.status(t) == ON
    driver.act(t, "on")  # already on: still fine
    driver.act(t, "off")
    assert bmc.power == "0" and driver.status(t) == OFF
    assert bmc.sets() == ["set power 1", "set power 1", "set power 0"]


def test_cycle_of_a_running_host_goes_off_then_on(bmc: Bmc) -> None:
    driver = IpmiDriver()
    t = target(bmc.uri)
    bmc.set_power("1")
    driver.act(t, "cycle")
    assert wait_for(lambda: bmc.sets() == ["set power 0", "set power 1"], timeout=5), bmc.calls()
    assert wait_for(lambda: driver.status(t) == ON)


def test_cycle_of_an_off_host_powers_it_on(bmc: Bmc) -> None:
    """An off chassis gets ``power on`` (a cycle of an off chassis is undefined in IPMI)."""
    driver = IpmiDriver()
    t = target(bmc.uri)
    driver.act(t, "cycle")
    assert bmc.sets() == ["set power 1"] and driver.status(t) == ON


def test_controller_powers_a_host_over_ipmi(bmc: Bmc, make_config, tmp_path) -> None:
    power = PowerController(make_config(), tmp_path / "state")
    t = target(bmc.uri)
    assert power.status([t]) == {"kn1": OFF}
    assert power.act([t], "on") == {}
    assert power.status([t]) == {"kn1": ON}
    assert power.act([t], "off") == {}
    assert bmc.power == "0" and power.cached_status([t]) == {"kn1": OFF}


def test_wrong_password_fails_naming_the_host(bmc: Bmc) -> None:
    driver = IpmiDriver(attempt_timeout=1, retries=1)
    t = target(f"ipmi://admin:wrong@127.0.0.1:{bmc.port}", "kn7")
    started = time.monotonic()
    with pytest.raises(PowerError) as err:
        driver.act(t, "on")
    assert time.monotonic() - started < 10
    assert err.value.host == "kn7" and str(err.value).startswith("kn7: ipmitool power on failed (exit 1): ")
    assert "wrong" not in str(err.value) and bmc.power == "0"


def test_no_bmc_fails_within_the_bound(tmp_path) -> None:
    require_programs("ipmitool")
    driver = IpmiDriver(timeout=8, attempt_timeout=1, retries=1)
    t = target(f"ipmi://admin:secret@127.0.0.1:{free_udp_port()}")
    started = time.monotonic()
    with pytest.raises(PowerError, match=r"^kn1: ipmitool power status failed"):
        driver.status(t)
    assert time.monotonic() - started < 8


def test_hard_timeout_kills_a_hanging_ipmitool(tmp_path) -> None:
    hang = tmp_path / "ipmitool"
    hang.write_text("#!/bin/sh\nsleep 30\n")
    hang.chmod(0o755)
    driver = IpmiDriver(str(hang), timeout=0.5)
    started = time.monotonic()
    with pytest.raises(PowerError, match=r"^kn1: ipmitool power on timed out after 0.5 s$"):
        driver.act(target("ipmi://admin:pw@bmc1"), "on")
    assert time.monotonic() - started < 5


def test_command_line_keeps_the_password_off_it() -> None:
    argv, password = IpmiDriver().command(target("ipmi://ad%40min:p%3Ass@bmc1.example:6230"), "status")
    assert argv == ["ipmitool", "-I", "lanplus", "-H", "bmc1.example", "-p", "6230", "-C", "3", "-U", "ad@min",
                    "-E", "-N", "2", "-R", "2", "chassis", "power", "status"]
    assert password == "p:ss"
    argv, password = IpmiDriver().command(target("ipmi://bmc1?interface=lan"), "on")
    assert argv[:7] == ["ipmitool", "-I", "lan", "-H", "bmc1", "-p", "623"] and "-U" not in argv and "-C" not in argv
    assert password == ""
    argv, _ = IpmiDriver().command(target("ipmi://u:p@bmc1?cipher=17"), "on")
    assert argv[argv.index("-C") + 1] == "17"


@pytest.mark.parametrize(("uri", "message"), [
    ("ipmi://", "names no BMC"),
    ("ipmi://u:p@bmc1?cipher=x", "cipher='x' must be a cipher suite id"),
    ("ipmi://u:p@bmc1?interface=serial", "interface='serial' must be lanplus or lan"),
    ("ipmi://u:p@bmc1?colour=red", "option 'colour' is not known"),
])
def test_bad_uris_are_configuration_errors(uri: str, message: str) -> None:
    with pytest.raises(PowerConfigError, match=message):
        IpmiDriver().command(target(uri), "on")
