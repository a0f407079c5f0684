"""The ``sim://`` driver: state in one file per host under the state directory, so two controllers (two server
processes) see each other's actions; hosts start on; writes are atomic renames."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from igor.power import OFF, ON, UNKNOWN, PowerController, PowerTarget, SimDriver

HOSTS = [PowerTarget(f"dn{i}", f"dn{i}", "sim://") for i in range(1, 4)]


def test_state_is_shared_between_controllers(make_config, tmp_path: Path) -> None:
    config = make_config()
    one, two = PowerController(config, tmp_path / "power"), PowerController(config, tmp_path / "power")
    assert one.status(HOSTS) == {"dn1": ON, "dn2": ON, "dn3": ON}  # never powered: on
    assert one.act(HOSTS[:2], "off") == {}
    assert two.status(HOSTS) == {"dn1": OFF, "dn2": OFF, "dn3": ON}
    assert two.act(HOSTS[:1], "cycle") == {}
    assert one.status(HOSTS) == {"dn1": ON, "dn2": OFF, "dn3": ON}
    assert sorted(p.name for p in (tmp_path / "power" / "sim").iterdir()) == ["dn1", "dn2"]  # no temporary files


def _power_off(state_dir: str) -> None:
    SimDriver(Path(state_dir)).act(PowerTarget("dn2", "dn2", "sim://"), "off")


def test_state_is_shared_with_another_process(tmp_path: Path) -> None:
    proc = multiprocessing.get_context("spawn").Process(target=_power_off, args=(str(tmp_path),))
    proc.start()
    proc.join(30)
    assert proc.exitcode == 0
    assert SimDriver(tmp_path).status(PowerTarget("dn2", "dn2", "sim://")) == OFF


def test_unreadable_state_is_unknown_and_odd_names_stay_in_the_directory(tmp_path: Path) -> None:
    sim = SimDriver(tmp_path)
    odd = PowerTarget("../x/y", "h", "sim://")
    sim.act(odd, "off")
    assert sim.path(odd).parent == tmp_path / "sim" and sim.status(odd) == OFF
    (tmp_path / "sim" / "dn1").write_text("sideways\n")
    assert sim.status(HOSTS[0]) == UNKNOWN


def test_host_show_reads_the_simulator_afresh(make_config, tmp_path: Path) -> None:
    """``cached_status`` does not keep simulated states: another process's action shows at once."""
    config = make_config()
    one, two = PowerController(config, tmp_path / "power"), PowerController(config, tmp_path / "power")
    assert two.cached_status(HOSTS[:1], max_age=60) == {"dn1": ON}
    one.act(HOSTS[:1], "off")
    assert two.cached_status(HOSTS[:1], max_age=60) == {"dn1": OFF}
