"""``PowerController`` with injected drivers: the driver per URI scheme, actions with retries and per-host errors,
states read in parallel within a time bound (never raising, never piling up reads of a slow host), and the
remembered states (``cached_status`` within ``max_age``, ``peek`` never waiting)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from igor.power import (
    OFF,
    ON,
    UNKNOWN,
    ExternalCommands,
    IpmiDriver,
    LibvirtDriver,
    PowerConfigError,
    PowerController,
    PowerError,
    PowerTarget,
    SimDriver,
)


class FakeDriver:
    """Records calls; ``fail`` maps host → how many calls fail first; ``delay`` seconds per status read."""

    def __init__(self, *, fail: dict[str, int] | None = None, delay: float = 0.0, broken: bool = False) -> None:
        self.state: dict[str, str] = {}
        self.actions: list[tuple[str, str]] = []
        self.reads: list[str] = []
        self.fail = dict(fail or {})
        self.delay = delay
        self.broken = broken
        self.lock = threading.Lock()

    def act(self, target: PowerTarget, action: str) -> None:
        with self.lock:
            self.actions.append((target.name, action))
            if self.fail.get(target.name, 0) > 0:
                self.fail[target.name] -= 1
                raise PowerError(target.name, "BMC busy")
            self.state[target.name] = OFF if action == OFF else ON

    def status(self, target: PowerTarget) -> str:
        with self.lock:
            self.reads.append(target.name)
        if self.broken:
            raise RuntimeError("driver bug")
        time.sleep(self.delay)
        if self.fail.get(target.name):
            raise PowerError(target.name, "no answer")
        return self.state.get(target.name, OFF)


def fake(n: int = 3) -> list[PowerTarget]:
    return [PowerTarget(f"kn{i}", f"kn{i}", "fake://") for i in range(1, n + 1)]


def make(make_config, tmp_path: Path, driver: FakeDriver, **kw) -> PowerController:  # noqa: ANN001
    retries = kw.pop("retries", 0)
    config = make_config({"externalCmds": {"commandRetries": retries, "concurrencyLimit": kw.pop("limit", 4)}})
    return PowerController(config, tmp_path, drivers={"fake": driver}, retry_delay=0, **kw)


def test_driver_per_scheme(make_config, tmp_path: Path) -> None:
    power = PowerController(make_config(), tmp_path)
    kinds = {uri: type(power.driver_for(PowerTarget("kn1", "kn1", uri))) for uri in
             ("ipmi://u:p@bmc", "libvirt+qemu:///system/kn1", "libvirt:///system/kn1", "sim://", "")}
    assert kinds == {"ipmi://u:p@bmc": IpmiDriver, "libvirt+qemu:///system/kn1": LibvirtDriver,
                     "libvirt:///system/kn1": LibvirtDriver, "sim://": SimDriver, "": ExternalCommands}
    with pytest.raises(PowerConfigError, match=r"power URI scheme 'redfish://' is not supported"):
        power.driver_for(PowerTarget("kn1", "kn1", "redfish://bmc"))
    assert power.act([PowerTarget("kn1", "kn1", "redfish://bmc")], "on")["kn1"].startswith("kn1: power URI scheme")


def test_act_reports_each_failed_host_and_retries(make_config, tmp_path: Path) -> None:
    driver = FakeDriver(fail={"kn2": 1, "kn3": 5})
    power = make(make_config, tmp_path, driver, retries=2)
    assert power.act(fake(), "on") == {"kn3": "kn3: BMC busy"}
    assert sorted(driver.actions) == [("kn1", "on"), ("kn2", "on"), ("kn2", "on"), ("kn3", "on"), ("kn3", "on"),
                                      ("kn3", "on")]
    assert power.act([], "on") == {}
    with pytest.raises(ValueError, match="power command 'reboot' not recognized"):
        power.act(fake(), "reboot")


def test_a_driver_bug_is_a_host_error_not_a_crash(make_config, tmp_path: Path) -> None:
    class Bug(FakeDriver):
        def act(self, target: PowerTarget, action: str) -> None:
            raise KeyError("oops")

    power = make(make_config, tmp_path, Bug())
    assert power.act(fake(1), "off") == {"kn1": "kn1: unexpected error (KeyError: 'oops')"}


def test_status_is_bounded_and_never_raises(make_config, tmp_path: Path) -> None:
    slow = make(make_config, tmp_path, FakeDriver(delay=3), status_timeout=0.3)
    started = time.monotonic()
    assert slow.status(fake()) == dict.fromkeys(("kn1", "kn2", "kn3"), UNKNOWN)
    assert time.monotonic() - started < 1.5
    broken = make(make_config, tmp_path, FakeDriver(broken=True))
    assert broken.status(fake(2)) == {"kn1": UNKNOWN, "kn2": UNKNOWN}
    failing = make(make_config, tmp_path, FakeDriver(fail={"kn2": 1}))
    assert failing.status(fake()) == {"kn1": OFF, "kn2": UNKNOWN, "kn3": OFF}


def test_a_slow_host_is_not_asked_again_while_its_read_runs(make_config, tmp_path: Path) -> None:
    driver = FakeDriver(delay=1.0)
    power = make(make_config, tmp_path, driver, status_timeout=0.2)
    power.status(fake(1))
    power.status(fake(1))
    assert driver.reads == ["kn1"]
    time.sleep(1.2)  # the straggler finished and recorded what it read
    assert power.peek(fake(1), max_age=10) == {"kn1": OFF}


def test_status_reads_hosts_in_parallel(make_config, tmp_path: Path) -> None:
    power = make(make_config, tmp_path, FakeDriver(delay=0.5), status_timeout=5)
    started = time.monotonic()
    assert power.status(fake(8)) == {f"kn{i}": OFF for i in range(1, 9)}
    assert time.monotonic() - started < 2


def test_cached_status_rereads_only_what_is_old(make_config, tmp_path: Path) -> None:
    now = [100.0]
    driver = FakeDriver()
    power = make(make_config, tmp_path, driver, clock=lambda: now[0])
    assert power.cached_status(fake(2), max_age=3) == {"kn1": OFF, "kn2": OFF}
    driver.state["kn1"] = ON
    now[0] += 2
    assert power.cached_status(fake(2), max_age=3) == {"kn1": OFF, "kn2": OFF}  # from memory
    assert sorted(driver.reads) == ["kn1", "kn2"]
    now[0] += 2
    assert power.cached_status(fake(2), max_age=3) == {"kn1": ON, "kn2": OFF}
    assert len(driver.reads) == 4


def test_actions_update_what_is_remembered(make_config, tmp_path: Path) -> None:
    driver = FakeDriver()
    power = make(make_config, tmp_path, driver)
    assert power.act(fake(2), "on") == {}
    assert power.cached_status(fake(2), max_age=60) == {"kn1": ON, "kn2": ON} and driver.reads == []


def test_peek_never_waits_and_refreshes_in_the_background(make_config, tmp_path: Path) -> None:
    driver = FakeDriver(delay=0.3)
    power = make(make_config, tmp_path, driver)
    started = time.monotonic()
    assert power.peek(fake(2)) == {"kn1": UNKNOWN, "kn2": UNKNOWN}
    assert time.monotonic() - started < 0.2
    deadline = time.monotonic() + 5
    while power.peek(fake(2)) != {"kn1": OFF, "kn2": OFF} and time.monotonic() < deadline:
        time.sleep(0.05)
    assert power.peek(fake(2)) == {"kn1": OFF, "kn2": OFF}


def test_hosts_without_uri_read_as_unknown_without_running_anything(make_config, tmp_path: Path) -> None:
    config = make_config({"externalCmds": {"powerOn": "/nonexistent %s"}})
    power = PowerController(config, tmp_path)
    assert power.status([PowerTarget("kn1", "kn1")]) == {"kn1": UNKNOWN}
    assert power.configured(PowerTarget("kn1", "kn1"), "on") and not power.configured(PowerTarget("kn1", "kn1"),
                                                                                        "off")
