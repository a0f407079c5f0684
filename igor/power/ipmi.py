"""``ipmi://USER:PASS@BMC[:PORT]``: IPMI over LAN through ``ipmitool``.

Why ``ipmitool`` and not pyghmi (both tried against OpenIPMI's ``ipmi_sim``, shared/RECIPES.md §2):

* **Bounded time per call.** Each call is one short-lived process with ``-N`` (seconds per try) and ``-R``
  (tries) and a hard ``subprocess`` timeout on top, so a dead BMC costs a known few seconds and never a stuck
  thread. pyghmi shares sessions process-wide through a background thread: a BMC that goes away under a cached
  session fails the next call only after ~28 s, and with ``str`` credentials a second ``Command()`` to the same
  BMC hangs in its constructor (pyghmi 1.6.19). It also starts that thread before gunicorn forks its workers.
* **No state to go stale.** A BMC that is rebooted or re-addressed is simply reached afresh next time.
* It is what sites already run by hand, so an admin can paste the logged command to reproduce a failure.

The price is a process per call (~30 ms against ``ipmi_sim``), fine for power actions and a status poll.
``-C 3`` (cipher suite 3, RAKP-HMAC-SHA1/AES) is always passed: without it ipmitool first asks the BMC for its
cipher suites, which ``ipmi_sim`` (and some real BMCs) do not implement, and every call takes 10 s.
``?cipher=N`` and ``?interface=lan`` on the URI change the suite and the interface (``lanplus`` by default). The
password goes through ``IPMI_PASSWORD`` (``-E``), never the command line, so ``ps`` does not show it.

``cycle`` reads the state first and sends ``power on`` to a host that is off: the IPMI spec leaves a power cycle
of an off chassis undefined and some BMCs refuse it (Igor v2 notes the same of ipmitool and runs off + on).
"""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

from igor.power.base import CYCLE, OFF, ON, UNKNOWN, PowerConfigError, PowerError, PowerTarget, run, short_output

_INTERFACES = ("lanplus", "lan")


class IpmiDriver:
    """Power through ``ipmitool`` over LAN (see the module docstring for why).

    Args:
        ipmitool: The program to run.
        timeout: Hard limit in seconds for one ipmitool run (it is killed after that).
        attempt_timeout: ipmitool's ``-N``: seconds it waits for each answer.
        retries: ipmitool's ``-R``: how many times it tries each request.
    """

    def __init__(self, ipmitool: str = "ipmitool", *, timeout: float = 20.0, attempt_timeout: int = 2,
                 retries: int = 2) -> None:
        self.ipmitool = ipmitool
        self.timeout = timeout
        self.attempt_timeout = attempt_timeout
        self.retries = retries

    def act(self, target: PowerTarget, action: str) -> None:
        if action == CYCLE:
            action = ON if self.status(target) == OFF else CYCLE
        self._chassis(target, action)

    def status(self, target: PowerTarget) -> str:
        out = self._chassis(target, "status").lower()
        if "power is on" in out:
            return ON
        if "power is off" in out:
            return OFF
        return UNKNOWN

    def _chassis(self, target: PowerTarget, verb: str) -> str:
        argv, password = self.command(target, verb)
        done = run(target.name, argv, self.timeout, env={"IPMI_PASSWORD": password}, what=f"ipmitool power {verb}")
        if done.returncode != 0:
            raise PowerError(target.name, f"ipmitool power {verb} failed (exit {done.returncode}): "
                             f"{short_output(done.stderr + done.stdout) or 'no output'}")
        return done.stdout

    def command(self, target: PowerTarget, verb: str) -> tuple[list[str], str]:
        """The ipmitool command line for ``chassis power VERB`` on ``target``, and the password to pass in
        ``IPMI_PASSWORD``.

        Raises:
            PowerConfigError: the URI has no BMC or an option ipmitool cannot take.
        """
        parts = urlsplit(target.power_uri)
        host = target.name
        if not parts.hostname:
            raise PowerConfigError(host, f"power URI {_masked(target.power_uri)} names no BMC "
                                   "(ipmi://USER:PASS@BMC[:PORT])")
        try:
            port = parts.port or 623
        except ValueError:
            raise PowerConfigError(host, f"power URI {_masked(target.power_uri)} has an invalid port") from None
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = sorted(set(options) - {"cipher", "interface"})
        if unknown:
            raise PowerConfigError(host, f"power URI option {unknown[0]!r} is not known (use cipher, interface)")
        cipher = options.get("cipher", "3")
        if not cipher.isdigit() or not 0 <= int(cipher) <= 17:
            raise PowerConfigError(host, f"power URI option cipher={cipher!r} must be a cipher suite id, 0-17")
        interface = options.get("interface", "lanplus")
        if interface not in _INTERFACES:
            raise PowerConfigError(host, f"power URI option interface={interface!r} must be lanplus or lan")
        argv = [self.ipmitool, "-I", interface, "-H", parts.hostname, "-p", str(port)]
        if interface == "lanplus":
            argv += ["-C", cipher]
        if parts.username:
            argv += ["-U", unquote(parts.username)]
        argv += ["-E", "-N", str(self.attempt_timeout), "-R", str(self.retries), "chassis", "power", verb]
        return argv, unquote(parts.password or "")


def _masked(uri: str) -> str:
    """``uri`` with its password hidden (error messages reach users)."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.replace(f":{parts.password}@", ":****@", 1)
    return parts._replace(netloc=netloc).geturl()
