"""The boot files as a node gets them: a real TFTP server (tftpy) serving tftpRoot on loopback, curl as the
client (RECIPES.md §3). curl exits 68 for "file not found"."""

from __future__ import annotations

from igor.pxe import BootHost, BootSpec, remove_boot_files, write_boot_files, write_local_boot

from .conftest import Tftp

ID = "d942c59b" + "2" * 32
SPEC = BootSpec(reservation="tftpres", distro="rocky9", kernel=f"igor_images/{ID}/vmlinuz",
                initrd=f"igor_images/{ID}/initrd.img", kernel_args="console=ttyS0", breed="redhat",
                local_boot=True, kickstart="rocky9.ks")
CB = "http://127.0.0.1:8444"


def test_a_bios_host_fetches_its_file_until_it_is_removed(tftp: Tftp) -> None:
    host = BootHost("kn1", "kn1", "52:54:00:12:34:56", "bios")
    paths = write_boot_files(tftp.root, host, SPEC, CB)
    got = tftp.fetch("pxelinux.cfg/01-52-54-00-12-34-56")
    assert got.returncode == 0, got.stderr.decode() + tftp.log.read_text()
    assert got.stdout == paths.per_mac.read_bytes()
    assert got.stdout.startswith(b"DEFAULT tftpres\n")
    assert b"inst.ks=http://127.0.0.1:8444/igor/cb/svc/ks/rocky9.ks" in got.stdout

    write_local_boot(tftp.root, host, SPEC)
    assert b"LOCALBOOT -1" in tftp.fetch("pxelinux.cfg/01-52-54-00-12-34-56").stdout

    remove_boot_files(tftp.root, host)
    assert tftp.fetch("pxelinux.cfg/01-52-54-00-12-34-56").returncode == 68
    assert tftp.fetch("pxelinux.cfg/igor/kn1").returncode == 68


def test_a_uefi_host_fetches_its_grub_file(tftp: Tftp) -> None:
    host = BootHost("kn2", "kn2", "52:54:00:12:34:57", "uefi")
    paths = write_boot_files(tftp.root, host, SPEC, CB)
    got = tftp.fetch("efi/boot/grub.cfg-01-52-54-00-12-34-57")
    assert got.returncode == 0, got.stderr.decode() + tftp.log.read_text()
    assert got.stdout == paths.per_mac.read_bytes()
    remove_boot_files(tftp.root, host)
    assert tftp.fetch("efi/boot/grub.cfg-01-52-54-00-12-34-57").returncode == 68


def test_a_host_with_no_file_gets_not_found(tftp: Tftp) -> None:
    assert tftp.fetch("pxelinux.cfg/01-52-54-00-00-00-00").returncode == 68
