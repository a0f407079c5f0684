"""``libvirt+DRIVER://…/DOMAIN``: virtual machines through ``virsh``.

The URI is libvirt's connection URI with ``libvirt+`` in front and the domain name as its last path segment:
``libvirt+qemu:///system/kn7`` is domain ``kn7`` on ``qemu:///system``; ``libvirt+qemu+ssh://root@hv1/system/kn7``
is the same on a remote hypervisor (query parameters stay with the connection); plain ``libvirt:///system/kn7``
means the qemu driver. The domain may be percent-encoded.

``on`` is ``start``, ``off`` is ``destroy`` (a hard power-off, as IPMI's), ``cycle`` is ``reset`` and, for a
domain that is not running, ``start``. Asking for the state a domain is already in succeeds: "Domain is already
active" for ``start`` and "domain is not running" for ``destroy`` are what was wanted. ``status`` is
``domstate``: ``running``, ``idle``, ``paused``, ``in shutdown``, ``blocked`` and ``pmsuspended`` count as on
(the VM exists and holds its memory), ``shut off`` and ``crashed`` as off.

``virsh`` rather than the Python bindings: nothing to compile or install beyond libvirt's client package, each
call is a process with a hard timeout (a hung hypervisor connection cannot stall a server thread), and messages
are virsh's own, which admins know. Calls run in the C locale so those messages can be matched.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from igor.power.base import CYCLE, OFF, ON, UNKNOWN, PowerConfigError, PowerError, PowerTarget, run, short_output

_ON_STATES = ("running", "idle", "paused", "in shutdown", "blocked", "pmsuspended")
_OFF_STATES = ("shut off", "shutoff", "crashed")
_ALREADY_ON = ("already active", "already running")
_ALREADY_OFF = ("domain is not running", "not active")


def split_uri(uri: str) -> tuple[str, str]:
    """``libvirt+qemu:///system/kn7`` → ``("qemu:///system", "kn7")``.

    Raises:
        ValueError: not a ``libvirt`` URI, or it names no domain.
    """
    parts = urlsplit(uri)
    scheme = parts.scheme
    if scheme == "libvirt":
        driver = "qemu"
    elif scheme.startswith("libvirt+") and len(scheme) > len("libvirt+"):
        driver = scheme[len("libvirt+"):]
    else:
        raise ValueError(f"{uri!r} is not a libvirt URI (libvirt+qemu:///system/DOMAIN)")
    path, _, domain = parts.path.rstrip("/").rpartition("/")
    if not domain:
        raise ValueError(f"{uri!r} names no domain (libvirt+qemu:///system/DOMAIN)")
    # Built by hand: urlunsplit drops the "//" of an empty authority (qemu:///system would become qemu:/system).
    connection = f"{driver}://{parts.netloc}{path or '/'}" + (f"?{parts.query}" if parts.query else "")
    return connection, unquote(domain)


class LibvirtDriver:
    """Power virtual machines with ``virsh -c CONNECTION`` (see the module docstring).

    Args:
        virsh: The program to run.
        timeout: Hard limit in seconds for one virsh run.
    """

    def __init__(self, virsh: str = "virsh", *, timeout: float = 30.0) -> None:
        self.virsh = virsh
        self.timeout = timeout

    def act(self, target: PowerTarget, action: str) -> None:
        if action == ON:
            self._virsh(target, "start", ok_if=_ALREADY_ON)
        elif action == OFF:
            self._virsh(target, "destroy", ok_if=_ALREADY_OFF)
        elif action == CYCLE:
            done, _out = self._virsh(target, "reset", ok_if=_ALREADY_OFF)
            if not done:  # not running: reset cannot, start does
                self._virsh(target, "start", ok_if=_ALREADY_ON)
        else:
            raise PowerError(target.name, f"power command {action!r} not recognized")

    def status(self, target: PowerTarget) -> str:
        state = self._virsh(target, "domstate")[1].strip().lower()
        if state in _ON_STATES:
            return ON
        if state in _OFF_STATES:
            return OFF
        return UNKNOWN

    def _virsh(self, target: PowerTarget, command: str, ok_if: tuple[str, ...] = ()) -> tuple[bool, str]:
        """Run ``virsh -c CONN COMMAND DOMAIN``: ``(True, output)`` when it succeeded, ``(False, message)`` when
        it failed with one of the ``ok_if`` messages (the domain is already in the state asked for).

        Raises:
            PowerConfigError: the URI is not a libvirt URI naming a domain.
            PowerError: virsh failed otherwise (or could not run).
        """
        try:
            connection, domain = split_uri(target.power_uri)
        except ValueError as exc:
            raise PowerConfigError(target.name, f"power URI {exc}") from None
        done = run(target.name, [self.virsh, "-c", connection, command, domain], self.timeout,
                   what=f"virsh {command}")
        if done.returncode == 0:
            return True, done.stdout
        message = short_output(done.stderr + done.stdout)
        if any(phrase in message.lower() for phrase in ok_if):
            return False, message
        raise PowerError(target.name, f"virsh {command} {domain} on {connection} failed (exit {done.returncode}): "
                         f"{message or 'no output'}")
