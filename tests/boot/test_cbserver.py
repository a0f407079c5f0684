"""The node callback application through ``falcon.testing``: the caller known by its source address (IPv4,
IPv6, IPv4-mapped, by hostname), ``/info`` answering the active reservation, ``/local`` converting the boot file,
and the script and kickstart folders served without traversal."""

from __future__ import annotations

import os
import time
from pathlib import Path

import falcon.testing
import pytest

from igor.cbserver import create_cb_app
from igor.pxe import BootWriter

from .conftest import World


@pytest.fixture
def client(world: World) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(create_cb_app(world.services))


def get(client: falcon.testing.TestClient, path: str, addr: str, **kw) -> falcon.testing.Result:
    return client.simulate_get(f"/igor/cb/svc/{path}", remote_addr=addr, **kw)


# -- who is calling, and /info ---------------------------------------------------------------------------------


def test_info_ipv4(world: World, client) -> None:
    world.reserve("res1", ["dn1", "dn2"], -30, 60)
    r = get(client, "info", "10.0.0.1")
    assert r.status_code == 200, r.text
    assert r.text == "res1 alice dn1 dn2\n"
    assert r.headers["content-type"].startswith("text/plain")


def test_info_ipv6_compared_as_addresses(world: World, client) -> None:
    world.set_host("dn2", ip="2001:DB8::2")
    world.reserve("res6", ["dn2"], -30, 60, owner="bob")
    for addr in ("2001:db8::2", "2001:db8:0:0::2", "2001:0db8::0002", "[2001:db8::2]", "2001:db8::2%eth0"):
        r = get(client, "info", addr)
        assert (r.status_code, r.text) == (200, "res6 bob dn2\n"), addr
    assert get(client, "info", "2001:db8::3").status_code == 404


def test_info_ipv4_mapped_ipv6_is_the_ipv4_address(world: World, client) -> None:
    world.reserve("res1", ["dn1"], -30, 60)
    assert get(client, "info", "::ffff:10.0.0.1").text == "res1 alice dn1\n"
    assert get(client, "info", "::FFFF:10.0.0.1").text == "res1 alice dn1\n"


def test_info_is_the_active_reservation_not_the_first(world: World, client) -> None:
    world.reserve("future", ["dn3"], 120, 180)  # created first, starts later
    world.reserve("ended", ["dn3"], -120, -60)
    world.reserve("now", ["dn3", "dn4"], -10, 60, owner="bob")
    assert get(client, "info", "10.0.0.3").text == "now bob dn3 dn4\n"
    world.clock.move(130)
    assert get(client, "info", "10.0.0.3").text == "future alice dn3\n"


def test_info_end_is_exclusive_and_start_inclusive(world: World, client) -> None:
    world.reserve("res1", ["dn1"], 0, 60)
    assert get(client, "info", "10.0.0.1").status_code == 200
    world.clock.move(60)
    r = get(client, "info", "10.0.0.1")
    assert (r.status_code, r.text) == (404, "host 'dn1' has no active reservation\n")


def test_info_with_only_a_future_reservation_is_404(world: World, client) -> None:
    world.reserve("later", ["dn1"], 60, 120)
    r = get(client, "info", "10.0.0.1")
    assert (r.status_code, r.text) == (404, "host 'dn1' has no active reservation\n")


def test_unknown_and_malformed_addresses(world: World, client) -> None:
    r = get(client, "info", "192.0.2.7")
    assert (r.status_code, r.text) == (404, "no host has the address 192.0.2.7\n")
    r = get(client, "info", "not-an-ip")
    assert (r.status_code, r.text) == (400, "'not-an-ip' is not an IP address\n")


def test_hostname_is_resolved_when_no_ip_field_matches_and_cached(world: World, client) -> None:
    world.set_host("dn4", ip="")
    world.resolver.table["dn4"] = ["10.9.9.4", "2001:db8::44"]
    world.reserve("res4", ["dn4"], -5, 60)
    assert get(client, "info", "10.9.9.4").text == "res4 alice dn4\n"
    assert get(client, "info", "2001:db8::44").text == "res4 alice dn4\n"
    assert get(client, "info", "::ffff:10.9.9.4").text == "res4 alice dn4\n"
    # every hostname was looked up once, failures included, then served from the cache
    assert sorted(world.resolver.calls) == ["dn1", "dn2", "dn3", "dn4"]


def test_the_ip_field_wins_over_a_resolved_hostname(world: World, client) -> None:
    world.resolver.table["dn4"] = ["10.0.0.1"]
    world.reserve("res1", ["dn1"], -5, 60)
    assert get(client, "info", "10.0.0.1").text == "res1 alice dn1\n"
    assert world.resolver.calls == []


def test_an_address_of_two_hosts_is_refused(world: World, client) -> None:
    world.set_host("dn2", ip="10.0.0.1")
    r = get(client, "info", "10.0.0.1")
    assert (r.status_code, r.text) == (409, "the address 10.0.0.1 matches several hosts: dn1, dn2\n")


# -- /local ----------------------------------------------------------------------------------------------------


def test_local_without_active_reservation_is_a_clear_404(world: World, client) -> None:
    r = get(client, "local", "10.0.0.1")
    assert (r.status_code, r.text) == (404, "host 'dn1' has no active reservation\n")
    assert not (world.tftp_root / "pxelinux.cfg").exists()


def test_local_converts_the_callers_file_only(world: World, client) -> None:
    world.distro("rocky9", breed="redhat", local_boot=True, kickstart="rocky9.ks", kernel_args="console=ttyS0")
    world.reserve("inst", ["dn1", "dn2"], -20, 60, distro="rocky9")
    writer = BootWriter(world.config)
    hosts = {n: {"name": n, "hostname": n, "mac": f"52:54:00:00:00:0{n[-1]}", "boot": "bios"} for n in ("dn1", "dn2")}
    spec = {"reservation": "inst", "distro": "rocky9", "kernel": "igor_images/x/vmlinuz",
            "initrd": "igor_images/x/initrd.img", "breed": "redhat", "local_boot": True, "kickstart": "rocky9.ks"}
    paths = {n: writer.write(h, spec) for n, h in hosts.items()}
    install = paths["dn1"].master.read_text()

    r = get(client, "local", "10.0.0.1")
    assert (r.status_code, r.text) == (200, "host 'dn1' of reservation 'inst' now boots from its local disk\n")
    assert "\tLOCALBOOT -1\n" in paths["dn1"].per_mac.read_text()
    assert paths["dn1"].master.read_text() == install
    assert "LOCALBOOT" not in paths["dn2"].per_mac.read_text()
    # calling again is harmless
    assert get(client, "local", "10.0.0.1").status_code == 200


def test_local_on_a_uefi_host_chainloads_the_installed_grub(world: World, client) -> None:
    world.set_host("dn3", boot_mode="uefi")
    world.distro("rocky9", breed="redhat", local_boot=True, kickstart="rocky9.ks")
    world.reserve("uefires", ["dn3"], -20, 60, distro="rocky9")
    r = get(client, "local", "10.0.0.3")
    assert r.status_code == 200, r.text
    text = (world.tftp_root / "efi" / "boot" / "grub.cfg-01-52-54-00-00-00-03").read_text()
    assert 'menuentry "Reservation: uefires booting rocky9 locally on host dn3" --id install-menu {' in text
    assert "chainloader /EFI/redhat/grubx64.efi" in text


def test_local_with_a_reservation_that_boots_no_distro(world: World, client) -> None:
    world.reserve("bare", ["dn1"], -20, 60)
    r = get(client, "local", "10.0.0.1")
    assert (r.status_code, r.text) == (200, "reservation 'bare' boots no distro: host 'dn1' has no boot file to "
                                             "convert\n")
    assert not (world.tftp_root / "pxelinux.cfg").exists()


def test_local_from_an_ipv6_host(world: World, client) -> None:
    world.set_host("dn2", ip="fd00::2")
    world.distro("deb12", breed="debian", local_boot=True, kickstart="deb12.preseed")
    world.reserve("v6", ["dn2"], -20, 60, distro="deb12")
    assert get(client, "local", "fd00::2").status_code == 200
    assert "LOCALBOOT -1" in (world.tftp_root / "pxelinux.cfg" / "01-52-54-00-00-00-02").read_text()


# -- files -----------------------------------------------------------------------------------------------------


@pytest.fixture
def files(world: World, tmp_path: Path) -> World:
    scripts = Path(world.config.server.script_dir)
    (scripts / "post").mkdir()
    (scripts / "setup.sh").write_text("#!/bin/sh\necho hi\n")
    (scripts / "post" / "done.sh").write_text("curl $CB/local\n")
    (scripts / ".secret").write_text("no")
    (tmp_path / "outside.txt").write_text("secret outside")
    os.symlink(tmp_path / "outside.txt", scripts / "escape.txt")
    ks = world.tftp_root / "kickstarts"
    ks.mkdir()
    (ks / "rocky9.ks").write_text("text\nreboot\n%post\ncurl http://x/igor/cb/svc/local\n%end\n")
    (world.tftp_root / "pxelinux.cfg").mkdir()
    (world.tftp_root / "pxelinux.cfg" / "default").write_text("DEFAULT menu\n")
    return world


def test_scripts_and_kickstarts_are_served_as_stored(files: World, client) -> None:
    r = get(client, "scripts/setup.sh", "10.0.0.1")
    assert (r.status_code, r.text) == (200, "#!/bin/sh\necho hi\n")
    assert r.headers["content-length"] == str(len("#!/bin/sh\necho hi\n"))
    assert get(client, "scripts/post/done.sh", "10.0.0.1").text == "curl $CB/local\n"
    r = get(client, "ks/rocky9.ks", "192.0.2.99")  # files need no known caller, as in v2
    assert r.status_code == 200 and r.text.startswith("text\nreboot\n")
    head = client.simulate_head("/igor/cb/svc/ks/rocky9.ks")
    assert head.status_code == 200 and head.headers["content-length"] == str(len(r.text))


@pytest.mark.parametrize("path", [
    "scripts/../conf/igor-server.yaml", "scripts/..", "scripts/post/../../outside.txt", "scripts/.secret",
    "scripts/post//done.sh", "scripts/%2e%2e/outside.txt", "ks/../pxelinux.cfg/default", "ks/..%2fpxelinux.cfg",
    "ks/.rocky9.ks.tmp-1",
])
def test_traversal_and_hidden_files_are_refused(files: World, client, path: str) -> None:
    r = get(client, path, "10.0.0.1")
    assert r.status_code == 400, (path, r.status_code, r.text)
    assert "secret outside" not in r.text and "DEFAULT" not in r.text and r.text != "no"


@pytest.mark.parametrize("path", ["scripts/missing.sh", "scripts/post", "scripts/escape.txt", "ks/nope.ks",
                                  "scripts/", "ks/"])
def test_missing_files_folders_and_links_out_are_404(files: World, client, path: str) -> None:
    r = get(client, path, "10.0.0.1")
    assert r.status_code in (400, 404), (path, r.status_code)
    assert "secret outside" not in r.text
    if path.endswith((".sh", ".ks", ".txt", "post")):
        assert r.status_code == 404 and r.text.endswith("not found\n")


def test_missing_kickstart_folder_is_404(world: World, client) -> None:
    r = get(client, "ks/rocky9.ks", "10.0.0.1")
    assert (r.status_code, r.text) == (404, "kickstart 'rocky9.ks' not found\n")


def test_only_get_and_head(files: World, client) -> None:
    assert client.simulate_post("/igor/cb/svc/scripts/setup.sh").status_code == 405
    assert client.simulate_post("/igor/cb/svc/info", remote_addr="10.0.0.1").status_code == 405
    assert client.simulate_get("/igor/cb/svc/nope").status_code == 404


def test_a_slow_resolver_does_not_hold_a_callback_and_its_answers_are_used_later(world: World, client) -> None:
    """Lookups run in parallel and a caller waits at most RESOLVE_WAIT: an unknown caller on a site with a dead
    DNS is answered in seconds, not (hosts × resolver timeout); what resolves meanwhile is cached."""
    import threading

    from igor.services.callbacks import _ResolvedCache

    release = threading.Event()

    def slow(hostname: str) -> list[str]:
        release.wait(10)
        return ["10.9.9.4"] if hostname == "dn4" else []

    world.set_host("dn4", ip="")
    world.reserve("res4", ["dn4"], -5, 60)
    world.callbacks._resolved = _ResolvedCache(slow, 300.0, time.monotonic, wait=0.3)
    started = time.monotonic()
    r = get(client, "info", "10.9.9.4")
    assert r.status_code == 404 and time.monotonic() - started < 2
    release.set()
    deadline = time.monotonic() + 5
    while get(client, "info", "10.9.9.4").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert get(client, "info", "10.9.9.4").text == "res4 alice dn4\n"
