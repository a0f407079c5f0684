"""The PXE boot file writer: exact pxelinux and grub contents, auto-install args, local-boot conversion, removal,
and refusal of anything that could build a path or add a line."""

from __future__ import annotations

import stat
from pathlib import Path
from types import SimpleNamespace

import pytest

from igor.errors import BadInput
from igor.pxe import (
    BootFileError,
    BootHost,
    BootSpec,
    BootWriter,
    callback_base_url,
    pxe_mac,
    remove_boot_files,
    render_boot_file,
    write_boot_files,
    write_local_boot,
)

from .conftest import umask

ID = "d942c59b" + "1" * 32
K = f"igor_images/{ID}/vmlinuz"
I = f"igor_images/{ID}/initrd.img"  # noqa: E741
CB = "http://10.0.0.254:8444"
BIOS = BootHost("kn7", "kn7.lab", "52:54:00:AB:CD:EF", "bios")
UEFI = BootHost("kn8", "kn8.lab", "52-54-00-ab-cd-f0", "uefi")


def spec(**kw) -> BootSpec:
    base = dict(reservation="myres", distro="rocky9", kernel=K, initrd=I, kernel_args="console=ttyS0 quiet",
                breed="redhat")
    base.update(kw)
    return BootSpec(**base)


# -- contents --------------------------------------------------------------------------------------------------


def test_bios_netboot_file_exact(tftp_root: Path) -> None:
    paths = write_boot_files(tftp_root, BIOS, spec(), CB)
    assert paths.per_mac == tftp_root / "pxelinux.cfg" / "01-52-54-00-ab-cd-ef"
    assert paths.master == tftp_root / "pxelinux.cfg" / "igor" / "kn7"
    assert paths.per_mac.read_text() == (
        "DEFAULT myres\n"
        "\n"
        "LABEL myres\n"
        f"\tKERNEL {K}\n"
        f"\tAPPEND initrd={I} console=ttyS0 quiet\n")
    assert paths.master.read_text() == paths.per_mac.read_text()


def test_uefi_netboot_file_exact(tftp_root: Path) -> None:
    paths = write_boot_files(tftp_root, UEFI, spec(), CB)
    assert paths.per_mac == tftp_root / "efi" / "boot" / "grub.cfg-01-52-54-00-ab-cd-f0"
    assert paths.master == tftp_root / "efi" / "boot" / "igor" / "kn8"
    assert paths.per_mac.read_text() == (
        "set default=install-menu\n"
        "set timeout=6\n"
        "\n"
        'menuentry "Reservation: myres netbooting rocky9 on host kn8" --id install-menu {\n'
        f"    linuxefi {K} console=ttyS0 quiet\n"
        f"    initrdefi {I}\n"
        "}\n")
    assert paths.master.read_text() == paths.per_mac.read_text()


def test_no_kernel_args_leaves_no_trailing_space() -> None:
    text = render_boot_file(BIOS, spec(kernel_args=""), CB)
    assert f"\tAPPEND initrd={I}\n" in text
    text = render_boot_file(UEFI, spec(kernel_args="  "), CB)
    assert f"    linuxefi {K}\n" in text


def test_redhat_local_boot_kickstart_args() -> None:
    s = spec(local_boot=True, kickstart="rocky9.ks")
    url = "http://10.0.0.254:8444/igor/cb/svc/ks/rocky9.ks"
    assert render_boot_file(BIOS, s, CB) == (
        "DEFAULT myres\n\nLABEL myres\n"
        f"\tKERNEL {K}\n"
        "\tIPAPPEND 2\n"
        f"\tAPPEND initrd={I} inst.lang= inst.kssendmac text inst.ksdevice=bootif inst.ks={url} "
        "console=ttyS0 quiet\n")
    assert (f"    linuxefi {K} lang= inst.kssendmac inst.text inst.ksdevice=bootif inst.ks={url} "
            "console=ttyS0 quiet\n") in render_boot_file(UEFI, s, CB)


@pytest.mark.parametrize("breed", ["debian", "ubuntu", "suse", "generic"])
def test_preseed_args_for_other_breeds(breed: str) -> None:
    s = spec(breed=breed, local_boot=True, kickstart="bookworm.preseed", kernel_args="")
    url = "http://10.0.0.254:8444/igor/cb/svc/ks/bookworm.preseed"
    assert render_boot_file(BIOS, s, CB).splitlines()[-1] == (
        f"\tAPPEND initrd={I} lang= netcfg/choose_interface=52:54:00:ab:cd:ef text auto-install/enable=true "
        f"priority=critical hostname=kn7 url={url} domain=local.lan")
    assert "IPAPPEND" not in render_boot_file(BIOS, s, CB)
    assert (f"    linuxefi {K} lang= netcfg/choose_interface=52:54:00:ab:cd:f0 text auto-install/enable=true "
            f"priority=critical url={url}\n") in render_boot_file(UEFI, s, CB)


def test_kickstart_url_has_one_slash_and_the_given_scheme() -> None:
    s = spec(local_boot=True, kickstart="a.ks")
    text = render_boot_file(BIOS, s, "https://igor.lab:8444/")
    assert "inst.ks=https://igor.lab:8444/igor/cb/svc/ks/a.ks " in text
    assert ":8444//" not in text


def test_kickstart_ignored_for_netboot_images() -> None:
    assert "inst.ks" not in render_boot_file(BIOS, spec(kickstart="a.ks"), CB)


def test_local_boot_image_without_kickstart_is_refused(tftp_root: Path) -> None:
    with pytest.raises(BadInput, match="has no kickstart"):
        write_boot_files(tftp_root, BIOS, spec(local_boot=True), CB)
    assert not (tftp_root / "pxelinux.cfg").exists()


def test_unknown_breed_is_refused() -> None:
    with pytest.raises(BadInput, match="unknown breed 'beos'"):
        render_boot_file(BIOS, spec(breed="beos"), CB)


# -- files -----------------------------------------------------------------------------------------------------


def test_files_are_world_readable_whatever_the_umask_and_no_temp_files_remain(tftp_root: Path) -> None:
    with umask(0o077):
        paths = write_boot_files(tftp_root, BIOS, spec(), CB)
    for path in (paths.per_mac, paths.master):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    leftovers = [p.name for p in tftp_root.rglob("*") if p.name.startswith(".")]
    assert leftovers == []


def test_rewriting_replaces_the_file(tftp_root: Path) -> None:
    write_boot_files(tftp_root, BIOS, spec(), CB)
    paths = write_boot_files(tftp_root, BIOS, spec(reservation="other"), CB)
    assert paths.per_mac.read_text().startswith("DEFAULT other\n")


def test_missing_tftp_root_is_a_boot_file_error(tmp_path: Path) -> None:
    with pytest.raises(BootFileError, match="is not a directory") as err:
        write_boot_files(tmp_path / "nope", BIOS, spec(), CB)
    assert isinstance(err.value, OSError) and err.value.status == 500


def test_local_boot_bios_keeps_the_master_copy(tftp_root: Path) -> None:
    paths = write_boot_files(tftp_root, BIOS, spec(), CB)
    install = paths.master.read_text()
    assert write_local_boot(tftp_root, BIOS, spec()) == paths.per_mac
    assert paths.per_mac.read_text() == (
        "DEFAULT local\nPROMPT 0\nTIMEOUT 0\nTOTALTIMEOUT 0\nONTIMEOUT local\nLABEL local\n\tLOCALBOOT -1\n")
    assert paths.master.read_text() == install


def test_local_boot_uefi_redhat_chainloads_its_grub(tftp_root: Path) -> None:
    path = write_local_boot(tftp_root, UEFI, spec())
    assert path == tftp_root / "efi" / "boot" / "grub.cfg-01-52-54-00-ab-cd-f0"
    assert path.read_text() == (
        "set default=install-menu\nset timeout=6\n\n"
        'menuentry "Reservation: myres booting rocky9 locally on host kn8" --id install-menu {\n'
        "    insmod part_gpt\n"
        "    insmod fat\n"
        "    search --no-floppy --set=root --file /EFI/redhat/grubx64.efi\n"
        "    chainloader /EFI/redhat/grubx64.efi\n"
        "}\n")


def test_local_boot_uefi_other_breeds_exit_to_the_firmware(tftp_root: Path) -> None:
    text = write_local_boot(tftp_root, UEFI, spec(breed="generic")).read_text()
    assert text.endswith('menuentry "Reservation: myres booting rocky9 locally on host kn8" --id install-menu {\n'
                         "    exit\n}\n")
    assert "chainloader" not in text
    text = write_local_boot(tftp_root, UEFI).read_text()
    assert 'menuentry "Host kn8 booting locally" --id install-menu {\n    exit\n}\n' in text


def test_remove_takes_only_the_hosts_files_and_is_idempotent(tftp_root: Path) -> None:
    write_boot_files(tftp_root, BIOS, spec(), CB)
    other = BootHost("kn9", "kn9", "52:54:00:00:00:09", "bios")
    write_boot_files(tftp_root, other, spec(), CB)
    (tftp_root / "pxelinux.cfg" / "default").write_text("DEFAULT menu\n")
    removed = remove_boot_files(tftp_root, BIOS)
    assert sorted(p.relative_to(tftp_root).as_posix() for p in removed) == [
        "pxelinux.cfg/01-52-54-00-ab-cd-ef", "pxelinux.cfg/igor/kn7"]
    assert remove_boot_files(tftp_root, BIOS) == []
    assert sorted(p.relative_to(tftp_root).as_posix() for p in tftp_root.rglob("*") if p.is_file()) == [
        "pxelinux.cfg/01-52-54-00-00-00-09", "pxelinux.cfg/default", "pxelinux.cfg/igor/kn9"]


def test_remove_also_takes_the_other_boot_modes_files(tftp_root: Path) -> None:
    write_boot_files(tftp_root, BIOS, spec(), CB)
    switched = BootHost(BIOS.name, BIOS.hostname, BIOS.mac, "uefi")
    write_boot_files(tftp_root, switched, spec(), CB)
    assert len(remove_boot_files(tftp_root, switched)) == 4
    assert [p for p in tftp_root.rglob("*") if p.is_file()] == []


def test_remove_with_no_folders_at_all(tftp_root: Path) -> None:
    assert remove_boot_files(tftp_root, UEFI) == []


# -- refusals --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mac", ["52:54:00:12:34", "52:54:00:12:34:5g", "52:54-00:12:34:56", "../../etc/passwd",
                                 "52:54:00:12:34:56/../../x", "", "52:54:00:12:34:56\n"])
def test_bad_mac_is_refused_and_nothing_is_written(tftp_root: Path, mac: str) -> None:
    host = BootHost("kn7", "kn7", mac, "bios")
    with pytest.raises(BadInput, match="invalid MAC address"):
        write_boot_files(tftp_root, host, spec(), CB)
    with pytest.raises(BadInput, match="invalid MAC address"):
        remove_boot_files(tftp_root, host)
    with pytest.raises(BadInput):
        write_local_boot(tftp_root, host)
    assert list(tftp_root.iterdir()) == []


def test_pxe_mac() -> None:
    assert pxe_mac("52:54:00:AB:CD:EF") == pxe_mac("52-54-00-ab-cd-ef") == "01-52-54-00-ab-cd-ef"


@pytest.mark.parametrize("name", ["../kn7", "a/b", ".hidden", "..", "", "kn 7", "kn7\n"])
def test_bad_host_name_is_refused(tftp_root: Path, name: str) -> None:
    host = BootHost(name, "kn7", "52:54:00:ab:cd:ef", "bios")
    with pytest.raises(BadInput, match="invalid host name"):
        write_boot_files(tftp_root, host, spec(), CB)
    with pytest.raises(BadInput, match="invalid host name"):
        remove_boot_files(tftp_root, host)
    assert list(tftp_root.iterdir()) == []


def test_unknown_boot_mode_is_refused(tftp_root: Path) -> None:
    with pytest.raises(BadInput, match="unknown boot mode 'ipxe'"):
        write_boot_files(tftp_root, BootHost("kn7", "kn7", "52:54:00:ab:cd:ef", "ipxe"), spec(), CB)


@pytest.mark.parametrize("field, value", [
    ("reservation", "my res"), ("reservation", "x\nDEFAULT evil"), ("distro", 'a"b'), ("distro", "$x"),
    ("kernel", "/etc/passwd"), ("kernel", "igor_images/../../etc/passwd"), ("initrd", "a b"), ("kernel", ""),
])
def test_values_that_could_add_a_line_or_escape_are_refused(field: str, value: str) -> None:
    for host in (BIOS, UEFI):
        with pytest.raises(BadInput):
            render_boot_file(host, spec(**{field: value}), CB)


def test_kernel_args_rules() -> None:
    with pytest.raises(BadInput, match="control characters"):
        render_boot_file(BIOS, spec(kernel_args="quiet\nLABEL evil"), CB)
    with pytest.raises(BadInput, match="grub's special characters: \\$ ;"):
        render_boot_file(UEFI, spec(kernel_args="quiet; $x"), CB)
    # pxelinux has no script language: the same args are fine on a BIOS host
    assert "quiet; $x" in render_boot_file(BIOS, spec(kernel_args="quiet; $x"), CB)


@pytest.mark.parametrize("url", ["ftp://x", "http://", "http://a b", "http://x/?q=1", "10.0.0.1:8444"])
def test_bad_callback_url_is_refused(url: str) -> None:
    with pytest.raises(BadInput, match="callback base URL"):
        render_boot_file(BIOS, spec(local_boot=True, kickstart="a.ks"), url)


def test_bad_kickstart_name_is_refused() -> None:
    with pytest.raises(BadInput):
        render_boot_file(BIOS, spec(local_boot=True, kickstart="../x.ks"), CB)


# -- the lifecycle worker's entry point ------------------------------------------------------------------------


def _config(tftp_root: Path, **server) -> SimpleNamespace:
    base = dict(tftp_root=tftp_root, cb_host="10.0.0.254", host="10.0.0.254", cb_port=8444, cb_use_tls=False)
    base.update(server)
    return SimpleNamespace(server=SimpleNamespace(**base))


def test_boot_writer_takes_the_lifecycle_mappings(tftp_root: Path) -> None:
    writer = BootWriter(_config(tftp_root))  # type: ignore[arg-type]
    host = {"name": "kn7", "hostname": "kn7.lab", "mac": "52:54:00:ab:cd:ef", "boot": "bios", "power": "sim://"}
    mapping = {"reservation": "myres", "distro": "rocky9", "kernel": K, "initrd": I, "kernel_args": "x=1",
               "breed": "generic-linux", "local_boot": True, "kickstart": "a.preseed"}
    paths = writer.write(host, mapping)
    assert paths.per_mac.read_text() == render_boot_file(
        BIOS, spec(kernel_args="x=1", breed="generic", local_boot=True, kickstart="a.preseed"), CB)
    writer.local(host, mapping)
    assert "LOCALBOOT -1" in paths.per_mac.read_text()
    assert len(writer.remove(host)) == 2 and writer.remove(host) == []


def test_boot_writer_errors_are_os_or_value_errors(tmp_path: Path) -> None:
    writer = BootWriter(_config(tmp_path / "missing"))  # type: ignore[arg-type]
    host = {"name": "kn7", "hostname": "kn7", "mac": "52:54:00:ab:cd:ef", "boot": "bios"}
    with pytest.raises(OSError):
        writer.write(host, {"reservation": "r1x", "distro": "d1x", "kernel": K, "initrd": I})
    with pytest.raises(ValueError):
        writer.write(dict(host, mac="nope"), {"reservation": "r1x", "distro": "d1x", "kernel": K, "initrd": I})


@pytest.mark.parametrize("server, expected", [
    ({}, "http://10.0.0.254:8444"),
    ({"cb_use_tls": True}, "https://10.0.0.254:8444"),
    ({"cb_host": "0.0.0.0", "host": "igor.lab"}, "http://igor.lab:8444"),
    ({"cb_host": "::", "host": "0.0.0.0"}, "http://igor-server.lab:8444"),
    ({"cb_host": "2001:db8::1"}, "http://[2001:db8::1]:8444"),
    ({"cb_host": "[2001:db8::1]", "cb_port": 9000}, "http://[2001:db8::1]:9000"),
])
def test_callback_base_url(tftp_root: Path, server: dict, expected: str) -> None:
    config = _config(tftp_root, **server)
    assert callback_base_url(config, fqdn=lambda: "igor-server.lab") == expected  # type: ignore[arg-type]
