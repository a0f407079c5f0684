"""Which typed lines need a "Really …? [y/N]" first: the verbs the grammar marks ``confirm``."""

from __future__ import annotations

from igor.cli.grammar import GRAMMAR, Verb

_WHAT = {"res": "reservation", "host": "host", "user": "user", "group": "group", "policy": "host policy",
         "image": "image", "kickstart": "kickstart", "distro": "distro", "profile": "profile", "power": "nodes"}
_ACTION = {"del": "delete", "block": "block", "off": "power off", "cycle": "power-cycle"}


def find_verb(argv: list[str]) -> Verb | None:
    """The grammar verb ``argv`` names, or ``None``."""
    noun = next((n for n in GRAMMAR if argv and n.name == argv[0]), None)
    if noun is None:
        return None
    if noun.is_command:
        return noun.verbs[0]
    return next((v for v in noun.verbs if len(argv) > 1 and v.name == argv[1]), None)


def question(argv: list[str]) -> str | None:
    """The confirmation question for ``argv``, or ``None`` when it runs without asking."""
    verb = find_verb(argv)
    if verb is None or not verb.confirm or "-h" in argv or "--help" in argv:
        return None
    if not verb.name:
        return f"Really {verb.help}? [y/N] "
    targets = [w for w in argv[2:] if not w.startswith("-")]
    what = _WHAT.get(argv[0], argv[0])
    if verb.name == "block":
        what = "hosts"
    if argv[0] == "power" and any(w in ("-r", "--res") or w.startswith("--res=") for w in argv):
        what = "the nodes of reservation"
    target = f" {' '.join(targets)}" if targets else ""
    return f"Really {_ACTION.get(verb.name, verb.name)} {what}{target}? [y/N] "
