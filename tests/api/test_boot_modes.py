"""An image's boot modes (bios, uefi) are honoured: a reservation booting it gets only hosts it can boot — refused by
name with a message naming the hosts, narrowed by count — and edits (distro change, hosts added) keep to that.

The ``people`` cluster is the 16-host demo: ``dn8`` and ``dn16`` boot UEFI, the others BIOS.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pony.orm import db_session

from tests.api.conftest import Api

RES = "/igor/reservations"


@pytest.fixture
def booting(people: Api, tmp_path: Path) -> Api:
    """Distros ``biosonly`` (image boots bios) and ``both`` (bios and uefi), public."""
    svc = people.services
    admin = svc.auth.principal_for("igor-admin")
    for name, boot in (("biosonly", ("bios",)), ("both", ("bios", "uefi"))):
        kernel, initrd = tmp_path / f"{name}.vmlinuz", tmp_path / f"{name}.img"
        kernel.write_bytes(b"kernel " + name.encode())
        initrd.write_bytes(b"initrd " + name.encode())
        image = svc.images.register_files(admin, kernel, initrd, breed="redhat", boot=boot)
        svc.distros.create(admin, {"name": name, "imageRef": image.name, "public": True})
    return people


def hosts_of(api: Api, name: str) -> list[str]:
    with db_session:
        return sorted(h.name for h in api.services.db.Reservation.get(name=name).hosts)


def test_by_name_a_host_the_image_cannot_boot_is_refused_naming_it(booting: Api) -> None:
    r = booting.post(RES, as_user="alice", json={"name": "uefi1", "nodeList": "dn[7-8]", "distro": "biosonly"})
    assert r.status_code == 409
    assert r.json["message"].startswith("distro 'biosonly' (image ki") and "boots bios only" in r.json["message"]
    assert "[dn8] boot uefi" in r.json["message"]
    r = booting.post(RES, as_user="alice", json={"name": "uefi1", "nodeList": "dn[7-8]", "distro": "both"})
    assert r.status_code == 201, r.json


def test_by_count_only_bootable_hosts_are_chosen(booting: Api) -> None:
    r = booting.post(RES, as_user="alice", json={"name": "many", "nodeCount": 15, "distro": "biosonly"})
    assert r.status_code == 409
    assert r.json["message"] == ("only 14 host(s) can boot distro 'biosonly' (image "
                                 f"{r.json['message'].split('(image ')[1].split(' ')[0]} boots bios); 15 requested")
    r = booting.post(RES, as_user="alice", json={"name": "many", "nodeCount": 14, "distro": "biosonly"})
    assert r.status_code == 201, r.json
    assert "dn8" not in hosts_of(booting, "many") and "dn16" not in hosts_of(booting, "many")


def test_no_distro_means_any_host(booting: Api) -> None:
    r = booting.post(RES, as_user="alice", json={"name": "plain", "nodeCount": 16})
    assert r.status_code == 201, r.json


def test_edits_keep_to_the_boot_modes(booting: Api) -> None:
    r = booting.post(RES, as_user="alice", json={"name": "mixed", "nodeList": "dn[7-8]", "distro": "both"})
    assert r.status_code == 201, r.json
    r = booting.patch(f"{RES}/mixed", as_user="alice", json={"distro": "biosonly"})
    assert r.status_code == 409 and "[dn8] boot uefi" in r.json["message"]
    r = booting.post(RES, as_user="alice", json={"name": "biosres", "nodeList": "dn1", "distro": "biosonly"})
    assert r.status_code == 201, r.json
    r = booting.patch(f"{RES}/biosres", as_user="alice", json={"addNodeList": "dn16"})
    assert r.status_code == 409 and "[dn16] boot uefi" in r.json["message"]
    r = booting.patch(f"{RES}/biosres", as_user="alice", json={"addNodeCount": 12})
    assert r.status_code == 200, r.json
    assert "dn16" not in hosts_of(booting, "biosres") and len(hosts_of(booting, "biosres")) == 13
