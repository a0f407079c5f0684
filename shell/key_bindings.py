"""Key bindings of the shell: Ctrl-C throws the half-typed line away, Ctrl-D on an empty line exits.

Both are prompt_toolkit's defaults, spelled out here so the behaviour is owned (and tested) by the shell.
"""

from __future__ import annotations

from prompt_toolkit.filters import Condition
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent


def build_key_bindings() -> KeyBindings:
    """The shell's bindings (merged over prompt_toolkit's defaults)."""
    kb = KeyBindings()

    @kb.add("c-c")
    def _cancel(event: KeyPressEvent) -> None:
        event.app.exit(exception=KeyboardInterrupt, style="class:aborting")

    @Condition
    def _empty() -> bool:
        from prompt_toolkit.application.current import get_app

        return not get_app().current_buffer.text

    @kb.add("c-d", filter=_empty)
    def _exit(event: KeyPressEvent) -> None:
        event.app.exit(exception=EOFError, style="class:exiting")

    return kb
