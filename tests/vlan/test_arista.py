"""The eAPI client against the loopback switch: v2's set and clear templates, ``show vlan`` read back by short
port name, the URL as v2 took it, bounded time, every failure a ``SwitchError`` naming the switch and the
command, and TLS verified by default (a CA trusted through ``SSL_CERT_FILE``)."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from igor.network import AristaSwitch, SwitchError, short_port, switch_for
from igor.network.arista import endpoint
from tests.vlan.conftest import vlan_config
from tests.vlan.eapi import PASSWORD, USER, FakeArista, running


def client(switch: FakeArista, **kwargs) -> AristaSwitch:
    return AristaSwitch(switch.url, USER, PASSWORD, vlan_range=(100, 102), **kwargs)


def test_set_read_and_clear_with_v2s_commands(switch: FakeArista) -> None:
    c = client(switch)
    c.set_vlan(["Et1", "Et2"], 101)
    assert switch.requests == [["enable", "configure terminal",
                                "interface Et1", "switchport mode dot1q-tunnel", "switchport access vlan 101",
                                "interface Et2", "switchport mode dot1q-tunnel", "switchport access vlan 101"]]
    assert (switch.vlan_of("Et1"), switch.mode_of("Et1")) == (101, "dot1q-tunnel")
    assert c.vlans() == {"Et1": 101, "Et2": 101}
    assert switch.requests[-1] == ["show vlan 100-102"]
    c.clear(["Et1"])
    assert switch.requests[-1] == ["enable", "configure terminal", "interface Et1", "no switchport access vlan",
                                   "switchport mode access"]
    assert (switch.vlan_of("Et1"), switch.mode_of("Et1")) == (None, "access")
    assert c.vlans() == {"Et2": 101}
    c.clear(["Et1"])  # repeating a step changes nothing
    assert switch.vlan_of("Et1") is None


def test_vlans_reports_only_the_range_and_maps_ethernet_names(switch: FakeArista) -> None:
    c = client(switch)
    assert c.vlans() == {}  # EOS: no VLAN of the range exists ("not found in current VLAN database")
    switch.set_port("Et5", 200)  # outside 100-102: not Igor's
    c.set_vlan(["Ethernet3"], 102)  # a host's eth may use the long name too
    assert c.vlans() == {"Et3": 102}
    assert short_port("Ethernet4/1/1") == "Et4/1/1" and short_port("Et4/1/1") == "Et4/1/1"
    assert short_port("Port-Channel1") == "Port-Channel1"


def test_ports_are_sent_in_chunks(switch: FakeArista) -> None:
    client(switch, chunk=2).set_vlan([f"Et{i}" for i in range(1, 6)], 100)
    assert [len(r) for r in switch.requests] == [8, 8, 5]
    assert switch.configured() == {f"Et{i}": 100 for i in range(1, 6)}


def test_bad_values_are_refused_before_anything_is_sent(switch: FakeArista) -> None:
    c = client(switch)
    for ports, vlan in ((["Et1\nreload"], 100), (["Et1 ; reload"], 100), ([""], 100), (["Et1"], 0),
                        (["Et1"], 4095), (["Et1"], True)):
        with pytest.raises(ValueError):
            c.set_vlan(ports, vlan)
    assert switch.requests == []


def test_a_refused_command_names_the_switch_and_the_command(switch: FakeArista) -> None:
    c = client(switch)
    with pytest.raises(SwitchError) as err:
        c.set_vlan(["Et1", "Et99"], 100)
    assert err.value.status == 502
    assert str(err.value) == (f"switch 127.0.0.1:{switch.port}: command 'interface Et99' failed: "
                              "Interface Ethernet99 does not exist")
    assert switch.vlan_of("Et1") == 100  # EOS ran the commands before the failed one
    switch.fail("rpc")
    with pytest.raises(SwitchError, match=r"command 'interface Et2' failed: Session is locked"):
        c.set_vlan(["Et2"], 100)


@pytest.mark.parametrize(("kind", "detail"), [("http", "HTTP 500"), ("rpc", "Session is locked")])
def test_a_failed_read_names_the_command(switch: FakeArista, kind: str, detail: str) -> None:
    switch.fail(kind)
    with pytest.raises(SwitchError, match=f"command 'show vlan 100-102' failed: .*{detail}"):
        client(switch).vlans()


def test_a_wrong_password_is_a_login_refusal_that_does_not_show_it(switch: FakeArista) -> None:
    c = AristaSwitch(switch.url, USER, "not-the-password")
    with pytest.raises(SwitchError) as err:
        c.clear(["Et1"])
    assert "login refused for user 'igor' (HTTP 401" in str(err.value)
    assert "not-the-password" not in str(err.value)


def test_an_unreachable_switch_and_a_silent_one_fail_in_bounded_time(switch: FakeArista) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # nothing listens once the socket is closed
    with pytest.raises(SwitchError, match=rf"switch 127.0.0.1:{closed}: command 'show vlan 100-102' failed: "
                                          "unreachable"):
        AristaSwitch(f"127.0.0.1:{closed}", USER, PASSWORD, vlan_range=(100, 102)).vlans()
    switch.fail("hang")
    started = time.monotonic()
    with pytest.raises(SwitchError, match=r"no answer within 0.5s"):
        client(switch, timeout=0.5).set_vlan(["Et1"], 100)
    assert time.monotonic() - started < switch.hang_seconds


def test_the_url_is_taken_as_v2_took_it() -> None:
    assert endpoint("arista.site:80/command-api") == "http://arista.site:80/command-api"
    assert endpoint("https://arista.site") == "https://arista.site/command-api"
    assert endpoint("http://admin:pw@arista.site:8080/") == "http://arista.site:8080/command-api"
    assert endpoint("https://[fd00::1]:443/command-api") == "https://[fd00::1]:443/command-api"
    for bad in ("ftp://arista.site/command-api", "http:///command-api"):
        with pytest.raises(ValueError, match="not an http"):
            endpoint(bad)


def test_the_client_comes_from_the_config(make_config, switch: FakeArista) -> None:
    c = switch_for(make_config(vlan_config(switch, 101, 101)).vlan)
    assert isinstance(c, AristaSwitch) and c.vlan_range == (101, 101) and c.name == f"127.0.0.1:{switch.port}"
    c.set_vlan(["Et4"], 101)
    assert c.vlans() == {"Et4": 101} and switch.requests[-1] == ["show vlan 101"]
    with pytest.raises(ValueError, match="VLANs are off"):
        switch_for(make_config().vlan)


@pytest.fixture
def tls(tmp_path: Path) -> ssl.SSLContext:
    """A server context with a self-signed certificate for 127.0.0.1 (its file: ``tmp_path / switch.crt``)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    crt, key = tmp_path / "switch.crt", tmp_path / "switch.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(crt), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=30)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(crt, key)
    return context


def test_tls_is_verified_and_a_site_ca_is_trusted_through_ssl_cert_file(tls: ssl.SSLContext, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    with running(ssl_context=tls) as switch:
        url = f"https://127.0.0.1:{switch.port}/command-api"
        with pytest.raises(SwitchError, match="cannot verify its TLS certificate: .*SSL_CERT_FILE"):
            AristaSwitch(url, USER, PASSWORD).set_vlan(["Et1"], 100)
        assert switch.vlan_of("Et1") is None
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "switch.crt"))
        AristaSwitch(url, USER, PASSWORD).set_vlan(["Et1"], 100)
        assert switch.vlan_of("Et1") == 100
