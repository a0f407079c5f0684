"""Igor v2's ``externalCmds`` templates, for hosts without a ``powerUri`` (reference §3.1).

``externalCmds.powerOn``/``powerOff``/``powerCycle`` are command lines with one ``%s``, the host's real hostname,
e.g. ``ipmipower -h %s-bmc --on``. A template is split into words like a shell would (``shlex``) and ``%s`` is
then replaced inside each word, so a hostname can never become more than the word it is in; the program runs
without a shell, with a bounded time. Cycle follows v2: a ``powerCycle`` starting with ``ipmitool`` is replaced
by ``powerOff`` then ``powerOn`` (ipmitool may leave an off host off), ``ipmipower`` gets ``--on-if-off``, and an
empty ``powerCycle`` means off then on. Templates cannot read the state, so ``status`` is always ``unknown``.
"""

from __future__ import annotations

import shlex

from igor.config import ExternalCmdsConfig
from igor.power.base import CYCLE, OFF, ON, UNKNOWN, PowerConfigError, PowerError, PowerTarget, run, short_output

_KEYS = {ON: "powerOn", OFF: "powerOff", CYCLE: "powerCycle"}


def not_configured(target: PowerTarget, action: str) -> PowerConfigError:
    """The error for a host that has neither a ``powerUri`` nor a template for ``action``."""
    wanted = "externalCmds.powerCycle (or powerOff and powerOn)" if action == CYCLE \
        else f"externalCmds.{_KEYS[action]}"
    problem = f"no power control configured: set powerUri in igor-clusters.yaml or {wanted}"
    return PowerConfigError(target.name, problem, message=f"no power control configured for host {target.name}: "
                            f"set powerUri in igor-clusters.yaml or {wanted}")


class ExternalCommands:
    """Power through the ``externalCmds`` templates.

    Args:
        config: The ``externalCmds`` settings.
        timeout: Hard limit in seconds for one command.
    """

    def __init__(self, config: ExternalCmdsConfig, *, timeout: float = 60.0) -> None:
        self.config = config
        self.timeout = timeout

    def templates(self, action: str) -> list[tuple[str, str]]:
        """The ``(key, template)`` pairs ``action`` runs, in order (empty: nothing is configured for it)."""
        cfg = self.config
        if action == ON:
            return [("powerOn", cfg.power_on)] if cfg.power_on else []
        if action == OFF:
            return [("powerOff", cfg.power_off)] if cfg.power_off else []
        cycle = cfg.power_cycle.strip()
        if cycle and not cycle.startswith("ipmitool"):
            if cycle.startswith("ipmipower") and "--on-if-off" not in cycle:
                cycle += " --on-if-off"
            return [("powerCycle", cycle)]
        if cfg.power_off and cfg.power_on:
            return [("powerOff", cfg.power_off), ("powerOn", cfg.power_on)]
        return []

    def configured(self, action: str) -> bool:
        return bool(self.templates(action))

    def act(self, target: PowerTarget, action: str) -> None:
        if action not in _KEYS:
            raise PowerError(target.name, f"power command {action!r} not recognized")
        steps = self.templates(action)
        if not steps:
            raise not_configured(target, action)
        for key, template in steps:
            argv = self.argv(target, key, template)
            done = run(target.name, argv, self.timeout, what=f"externalCmds.{key}")
            if done.returncode != 0:
                raise PowerError(target.name, f"externalCmds.{key} `{shlex.join(argv)}` failed (exit "
                                 f"{done.returncode}): {short_output(done.stderr + done.stdout) or 'no output'}")

    def status(self, target: PowerTarget) -> str:
        return UNKNOWN

    @staticmethod
    def argv(target: PowerTarget, key: str, template: str) -> list[str]:
        """The command line of ``template`` for ``target``.

        Raises:
            PowerConfigError: the template is not a valid command line.
        """
        try:
            words = shlex.split(template)
        except ValueError as exc:
            raise PowerConfigError(target.name, f"externalCmds.{key} is not a valid command line: {exc}") from None
        if not words:
            raise not_configured(target, ON if key == "powerOn" else OFF if key == "powerOff" else CYCLE)
        return [word.replace("%s", target.hostname) for word in words]
