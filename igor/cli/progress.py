"""Progress for long waits: :class:`WaitNotice` shows ``waiting for the server … 3s`` on a terminal once a request
has taken longer than a second (``uploading 12.5 of 40.0 MB (31%) … 3s`` while an upload is being sent, fed by
:meth:`WaitNotice.update`), updates it twice a second and erases it when the answer arrives. Nothing is written
when the stream is not a terminal, so scripts and ``--json`` output stay clean.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import TextIO

ERASE = "\r\033[K"


class WaitNotice:
    """A context manager around one blocking call.

    Args:
        stream: Where the notice goes (the CLI's stderr); only used when it is a terminal.
        label: What is being waited for.
        after: Seconds of silence before the notice appears.
        every: Seconds between updates.
    """

    def __init__(self, stream: TextIO, label: str = "waiting for the server", *, after: float = 1.0,
                 every: float = 0.5) -> None:
        self.stream, self.label, self.after, self.every = stream, label, after, every
        self._done = threading.Event()
        self._shown = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.sent = self.total = 0

    def update(self, sent: int, total: int) -> None:
        """Upload progress (bytes sent, bytes in all): a client ``progress`` callback."""
        self.sent, self.total = sent, total

    def text(self, seconds: float) -> str:
        """The notice after ``seconds`` of waiting."""
        if self.total and self.sent < self.total:
            mb = 1024 * 1024
            return (f"uploading {self.sent / mb:.1f} of {self.total / mb:.1f} MB "
                    f"({100 * self.sent // self.total}%) … {int(seconds)}s (Ctrl-C to give up)")
        return f"{self.label} … {int(seconds)}s (Ctrl-C to give up)"

    def __enter__(self) -> WaitNotice:
        if _is_terminal(self.stream):
            self._thread = threading.Thread(target=self._tick, name="igor-wait-notice", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            if self._shown:
                self._write(ERASE)

    def _tick(self) -> None:
        start = time.monotonic()
        if self._done.wait(self.after):
            return
        while True:
            with self._lock:
                if self._done.is_set():
                    return
                self._shown = True
                self._write(ERASE + self.text(time.monotonic() - start))
            if self._done.wait(self.every):
                return

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken terminal: the notice is only a courtesy
            pass


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
