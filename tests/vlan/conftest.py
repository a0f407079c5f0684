"""VLAN fixtures: the loopback eAPI switch (:mod:`tests.vlan.eapi`) and a lifecycle world (``tests/worker``) whose
``vlan.*`` points at it, VLANs 100-102, hosts dn1..dn16 on switch ports Et1..Et16."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pony.orm import db_session

from tests.vlan.eapi import PASSWORD, USER, FakeArista, running
from tests.worker.conftest import World, clock, world_factory  # noqa: F401 - fixtures used here

RANGE = (100, 102)


def vlan_config(switch: FakeArista, lo: int = RANGE[0], hi: int = RANGE[1]) -> dict:
    return {"vlan": {"network": "arista", "networkURL": switch.url, "networkUser": USER,
                     "networkPassword": PASSWORD, "rangeMin": lo, "rangeMax": hi}}


def give_ports(world: World, *, skip: tuple[str, ...] = ()) -> None:
    """Host dnN on switch port EtN (``skip``: hosts left without a port)."""
    with db_session:
        for host in world.services.db.Host.select():
            host.eth = "" if host.name in skip else f"Et{host.sequence_id}"


@pytest.fixture
def switch() -> Iterator[FakeArista]:
    with running() as fake:
        yield fake


@pytest.fixture
def vworld(world_factory, switch: FakeArista) -> World:  # noqa: F811 - the imported fixture
    world = world_factory(vlan_config(switch))
    give_ports(world)
    return world
