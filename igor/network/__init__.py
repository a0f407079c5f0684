"""Switches: putting a reservation's hosts on its VLAN and taking them off again (``vlan.*``; SPEC §6, reference
§8.3). Only Arista's eAPI is supported (:mod:`igor.network.arista`), as in Igor v2; :func:`switch_for` builds the
client ``vlan.network`` names.

The lifecycle worker sets the VLAN at install and clears it at close-out; ``igor sync arista``
(:mod:`igor.services.vlansync`) compares the switch with Igor's records and corrects it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from igor.config import VlanConfig
from igor.network.arista import AristaSwitch, SwitchError, short_port


class Switch(Protocol):
    """What Igor asks of a switch (ports are the hosts' ``eth`` names)."""

    name: str

    def set_vlan(self, ports: Iterable[str], vlan: int) -> None: ...

    def clear(self, ports: Iterable[str]) -> None: ...

    def vlans(self) -> dict[str, int]: ...


def switch_for(cfg: VlanConfig) -> Switch:
    """The switch client for ``vlan.*`` (the configuration has already refused any ``network`` but ``arista``).

    Raises:
        ValueError: VLANs are off, or ``vlan.networkURL`` is not a usable URL.
    """
    if cfg.network != "arista":
        raise ValueError(f"no switch client for vlan.network {cfg.network!r} (VLANs are off unless it is 'arista')")
    return AristaSwitch.from_config(cfg)


__all__ = ["AristaSwitch", "Switch", "SwitchError", "short_port", "switch_for"]
