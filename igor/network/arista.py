"""An Arista eAPI client: set, clear and read the access VLAN of switch ports (reference §8.3).

eAPI is JSON-RPC 2.0 over HTTP(S): one POST of method ``runCmds`` with a list of CLI commands, which the switch
runs in order, stopping at the first that fails; the answer has one result per command, or an error whose
``data`` holds the outputs up to and including the failed command. Commands are Igor v2's templates
(``srv/network_arista.go``):

* set: ``enable``, ``configure terminal``, then per port ``interface <eth>``, ``switchport mode dot1q-tunnel``,
  ``switchport access vlan <v>``;
* clear: ``enable``, ``configure terminal``, then per port ``interface <eth>``, ``no switchport access vlan``,
  ``switchport mode access``;
* read: ``show vlan <rangeMin>-<rangeMax>``, whose ``vlans.<id>.interfaces`` name ports ``Ethernet4/1/1`` where
  hosts' ``eth`` usually says ``Et4/1/1``: :func:`short_port` maps one to the other, as v2 did.

v2 sent one request per host; here the ports of a call go in one request (in chunks of :data:`CHUNK` ports), so
a reservation of a hundred hosts is a handful of round trips. Every command is safe to repeat, which is what lets
the lifecycle worker retry a failed step. The running configuration is changed, not saved (as v2).

**The URL** is ``vlan.networkURL`` as v2 took it: ``arista.site:80/command-api``, to which v2 put ``http://`` in
front. A URL with a scheme (``https://arista.site/command-api``) is used as it is, and one without a path gets
eAPI's ``/command-api``. The user and password go in an ``Authorization: Basic`` header, never in the URL (v2
put them in the URL), so they cannot end up in a log line or an error message.

**TLS.** An ``https`` URL is verified — the certificate chain and the host name — against the system's trust
store (v2 skipped verification; reference §11). To trust a switch whose certificate a site CA signed, add the CA
to the system store (``/usr/local/share/ca-certificates/`` and ``update-ca-certificates`` on Debian) or point
OpenSSL at a bundle that contains it with ``SSL_CERT_FILE=/etc/igor/switch-ca.pem`` in igor-server's
environment. (Igor v2 has no configuration key for this, so neither has Igor.)

**Bounded time.** Every request has a timeout (:data:`TIMEOUT` seconds for the connection and for each read), so a
switch that stops answering fails a step, which is retried later, rather than hanging the worker or a sync.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from typing import Any

from igor.config import VlanConfig
from igor.errors import IgorError

#: Seconds to wait for the connection and for each read of the answer.
TIMEOUT = 15.0
#: Most ports configured in one request.
CHUNK = 64
#: Longest answer read (``show vlan`` on a big switch is a few hundred kB).
MAX_ANSWER = 16 << 20

#: EOS's answer to ``show vlan A-B`` when no VLAN of the range exists yet: nothing is on it.
_NO_VLANS = "not found in current VLAN database"
#: A port name as it may appear in a command: no blanks, no line breaks, nothing a CLI would split on.
_PORT = re.compile(r"[A-Za-z][A-Za-z0-9/.:_-]{0,63}")
_COMMAND_NO = re.compile(r"CLI command (\d+) of \d+")


class SwitchError(IgorError):
    """The switch did not do what was asked; the message names the switch and the command that failed.

    Answered 502 by the API: the failure is downstream of Igor, as a power driver's is.
    """

    status = 502

    def __init__(self, switch: str, detail: str, *, command: str | None = None) -> None:
        where = f"switch {switch}: "
        super().__init__(where + (f"command '{command}' failed: {detail}" if command else detail))
        self.switch = switch
        self.command = command
        self.detail = detail


def short_port(name: str) -> str:
    """A port as hosts' ``eth`` names it: ``Ethernet4/1/1`` → ``Et4/1/1`` (``Et4/1/1`` and others unchanged)."""
    return "Et" + name[len("Ethernet"):] if name[:8].lower() == "ethernet" else name


def endpoint(network_url: str) -> str:
    """The eAPI URL for ``vlan.networkURL`` (see the module docstring).

    Raises:
        ValueError: not an http(s) URL with a host.
    """
    text = network_url.strip()
    if "://" not in text:
        text = "http://" + text  # v2: fmt.Sprintf("http://%s:%s@%s", user, password, URL)
    parts = urllib.parse.urlsplit(text)
    netloc = parts.netloc.rpartition("@")[2]  # credentials belong in networkUser/networkPassword
    if parts.scheme not in ("http", "https") or not netloc:
        raise ValueError(f"vlan.networkURL {network_url!r} is not an http(s) URL such as arista.site:80/command-api")
    path = parts.path if parts.path not in ("", "/") else "/command-api"
    return urllib.parse.urlunsplit((parts.scheme, netloc, path, parts.query, ""))


def _ports(ports: Iterable[str]) -> list[str]:
    out = []
    for port in ports:
        if not isinstance(port, str) or not _PORT.fullmatch(port):
            raise ValueError(f"{port!r} is not a switch port name (such as Et4/1/1)")
        if port not in out:
            out.append(port)
    return out


def _check_vlan(vlan: int) -> int:
    if isinstance(vlan, bool) or not isinstance(vlan, int) or not 1 <= vlan <= 4094:
        raise ValueError(f"{vlan!r} is not a VLAN id (1-4094)")
    return vlan


class AristaSwitch:
    """One Arista switch reached through eAPI.

    Args:
        url: ``vlan.networkURL`` (see :func:`endpoint`).
        user: ``vlan.networkUser``.
        password: ``vlan.networkPassword``.
        vlan_range: ``vlan.rangeMin``, ``vlan.rangeMax``: the VLANs :meth:`vlans` reports.
        timeout: seconds for the connection and for each read.
        ssl_context: for ``https``; default: verify against the system trust store.
        chunk: most ports per request.
    """

    def __init__(self, url: str, user: str, password: str, *, vlan_range: tuple[int, int] = (1, 4094),
                 timeout: float = TIMEOUT, ssl_context: ssl.SSLContext | None = None, chunk: int = CHUNK) -> None:
        self.url = endpoint(url)
        self.name = urllib.parse.urlsplit(self.url).netloc
        self.user = user
        self.vlan_range = vlan_range
        self.timeout = timeout
        self.chunk = max(1, chunk)
        self._auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self._ids = itertools.count(1)
        handlers: list[urllib.request.BaseHandler] = []
        if self.url.startswith("https:"):
            handlers.append(urllib.request.HTTPSHandler(context=ssl_context or ssl.create_default_context()))
        self._opener = urllib.request.build_opener(*handlers)

    @classmethod
    def from_config(cls, cfg: VlanConfig, **kwargs: Any) -> AristaSwitch:
        return cls(cfg.network_url, cfg.network_user, cfg.network_password,
                   vlan_range=(cfg.range_min, cfg.range_max), **kwargs)

    # -- what Igor asks ---------------------------------------------------------------------------------------

    def set_vlan(self, ports: Iterable[str], vlan: int) -> None:
        """Put ``ports`` in 802.1ad tunnel mode with outer VLAN ``vlan`` (v2's set template).

        Raises:
            ValueError: a port name or the VLAN is not valid (nothing is sent).
            SwitchError: the switch could not be reached or refused a command.
        """
        vlan = _check_vlan(vlan)
        self._configure(_ports(ports), ["switchport mode dot1q-tunnel", f"switchport access vlan {vlan}"])

    def clear(self, ports: Iterable[str]) -> None:
        """Take ``ports`` off any access VLAN, back to plain access mode (v2's clear template).

        Raises:
            ValueError: a port name is not valid (nothing is sent).
            SwitchError: the switch could not be reached or refused a command.
        """
        self._configure(_ports(ports), ["no switchport access vlan", "switchport mode access"])

    def vlans(self) -> dict[str, int]:
        """The VLAN of every port on a VLAN of ``vlan_range``, by short port name (``Et4/1/1``).

        Raises:
            SwitchError: the switch could not be reached, refused the command or answered nonsense.
        """
        lo, hi = self.vlan_range
        command = f"show vlan {lo}-{hi}" if lo != hi else f"show vlan {lo}"
        try:
            (answer,) = self.run([command])
        except SwitchError as exc:
            if exc.command == command and _NO_VLANS in exc.detail:
                return {}
            raise
        table = answer.get("vlans") if isinstance(answer, dict) else None
        if not isinstance(table, dict):
            raise SwitchError(self.name, "the answer has no 'vlans' table", command=command)
        out: dict[str, int] = {}
        for key, info in table.items():
            try:
                vlan = int(key)
            except (TypeError, ValueError):
                continue
            interfaces = info.get("interfaces") if isinstance(info, dict) else None
            if not lo <= vlan <= hi or not isinstance(interfaces, dict):
                continue
            for port in interfaces:
                out[short_port(str(port))] = vlan
        return out

    # -- eAPI -------------------------------------------------------------------------------------------------

    def _configure(self, ports: list[str], per_port: list[str]) -> None:
        for start in range(0, len(ports), self.chunk):
            commands = ["enable", "configure terminal"]
            for port in ports[start:start + self.chunk]:
                commands += [f"interface {port}", *per_port]
            self.run(commands)

    def run(self, commands: Sequence[str]) -> list[Any]:
        """Run ``commands`` (JSON output) and return their results, one per command.

        Raises:
            SwitchError: no answer, an HTTP error, a JSON-RPC error (naming the command that failed) or an
                answer that is not a JSON-RPC result.
        """
        commands = list(commands)
        summary = _summary(commands)
        request_id = next(self._ids)
        body = json.dumps({"jsonrpc": "2.0", "method": "runCmds", "id": request_id,
                           "params": {"version": 1, "cmds": commands, "format": "json"}}).encode()
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json", "Accept": "application/json", "Authorization": self._auth})
        try:
            with self._opener.open(request, timeout=self.timeout) as resp:
                raw = resp.read(MAX_ANSWER + 1)
        except urllib.error.HTTPError as err:
            if err.code in (401, 403):
                detail = f"login refused for user '{self.user}' (HTTP {err.code}; check vlan.networkUser/Password)"
            else:
                detail = f"HTTP {err.code} {err.reason}"
            raise SwitchError(self.name, detail, command=summary) from None
        except urllib.error.URLError as err:
            reason = err.reason
            if isinstance(reason, ssl.SSLCertVerificationError):
                raise SwitchError(self.name, f"cannot verify its TLS certificate: {reason.verify_message} (trust "
                                  "the CA that signed it: system store or SSL_CERT_FILE)", command=summary) from None
            raise SwitchError(self.name, f"unreachable at {self.url}: {reason}", command=summary) from None
        except (TimeoutError, OSError) as err:
            raise SwitchError(self.name, f"no answer within {self.timeout:g}s: {err}", command=summary) from None
        if len(raw) > MAX_ANSWER:
            raise SwitchError(self.name, f"answer larger than {MAX_ANSWER} bytes", command=summary)
        try:
            answer = json.loads(raw)
        except ValueError:
            raise SwitchError(self.name, f"answer is not JSON: {raw[:80]!r}", command=summary) from None
        if not isinstance(answer, dict):
            raise SwitchError(self.name, "answer is not a JSON-RPC object", command=summary)
        if answer.get("error") is not None:
            command, detail = _failure(commands, answer["error"])
            raise SwitchError(self.name, detail, command=command or summary)
        result = answer.get("result")
        if not isinstance(result, list) or len(result) != len(commands):
            raise SwitchError(self.name, f"answer has no result for each of the {len(commands)} command(s)",
                              command=summary)
        return result


def _summary(commands: list[str]) -> str:
    """The commands of a request in a few words, for an error that is about all of them."""
    body = [c for c in commands if c not in ("enable", "configure terminal")] or commands
    return body[0] if len(body) == 1 else f"{body[0]} ... {body[-1]}"


def _failure(commands: list[str], error: Any) -> tuple[str | None, str]:
    """The command a JSON-RPC error is about, and what went wrong with it.

    EOS puts each command's output in ``error.data`` up to the failed one, which carries ``errors``; its message
    says ``CLI command 3 of 5 'interface Et9' failed: invalid command``.
    """
    if not isinstance(error, dict):
        return None, f"JSON-RPC error: {error!r}"
    message = str(error.get("message") or f"JSON-RPC error {error.get('code')}")
    data = error.get("data")
    if isinstance(data, list):
        for index, output in enumerate(data):
            errors = output.get("errors") if isinstance(output, dict) else None
            if errors and index < len(commands):
                return commands[index], "; ".join(str(e) for e in errors)
    match = _COMMAND_NO.search(message)
    if match and 1 <= int(match.group(1)) <= len(commands):
        return commands[int(match.group(1)) - 1], message
    return None, message
