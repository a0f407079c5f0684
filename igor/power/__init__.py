"""Power control of cluster hosts (SPEC §6; reference §3.1 ``externalCmds``, §4.11).

Each host is powered by the driver its ``powerUri`` names (``igor-clusters.yaml``), or by Igor v2's
``externalCmds`` templates when it has none:

* ``ipmi://USER:PASS@BMC[:PORT]`` — IPMI over LAN through ``ipmitool`` (:mod:`igor.power.ipmi` says why);
* ``libvirt+qemu:///system/DOMAIN`` (any libvirt connection URI after ``libvirt+``) — ``virsh``
  (:mod:`igor.power.libvirt`);
* ``sim://`` — simulated, state kept in files shared by every server process (:mod:`igor.power.sim`);
* empty — ``externalCmds.powerOn/powerOff/powerCycle`` with ``%s`` = hostname (:mod:`igor.power.external`).

:class:`PowerController` runs actions with ``externalCmds.concurrencyLimit`` and ``commandRetries`` and reads
states in parallel within a time bound; services get one from :class:`igor.services.Services`.
"""

from igor.power.base import (
    ACTIONS,
    CYCLE,
    OFF,
    ON,
    STATES,
    UNKNOWN,
    PowerConfigError,
    PowerDriver,
    PowerError,
    PowerTarget,
)
from igor.power.controller import PowerController
from igor.power.external import ExternalCommands
from igor.power.ipmi import IpmiDriver
from igor.power.libvirt import LibvirtDriver
from igor.power.sim import SimDriver

__all__ = ["ACTIONS", "CYCLE", "OFF", "ON", "STATES", "UNKNOWN", "ExternalCommands", "IpmiDriver", "LibvirtDriver",
           "PowerConfigError", "PowerController", "PowerDriver", "PowerError", "PowerTarget", "SimDriver"]
