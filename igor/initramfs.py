"""Reading boot files without trusting them: forward-only readers of a file, plain or decompressed (gzip, xz,
lzma, bzip2, and zstd when the optional ``zstandard`` package is installed), that charge every byte to a
:class:`Budget`, and :func:`members`, which walks the newc cpio archives of an initramfs — several may be
concatenated, typically an uncompressed early-microcode archive and then the compressed main one, with NUL padding
between them, as the kernel unpacks them (``init/initramfs.c``).

Nothing here decides what a file *means* (that is ``igor.imagedetect``); everything here is bounded: at most
:attr:`Limits.max_output` bytes read or decompressed and :attr:`Limits.seconds` spent per file, member names and
kept member data capped, and a damaged archive simply ends the walk.
"""

from __future__ import annotations

import bz2
import logging
import lzma
import posixpath
import stat
import time
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

log = logging.getLogger("igor.images")

CHUNK = 256 << 10
CPIO_MAGICS = (b"070701", b"070702")  # newc, and newc with checksums
CPIO_HEADER = 110
CPIO_TRAILER = "TRAILER!!!"
#: Longest member name read (PATH_MAX); a longer one means a damaged header.
MAX_NAME = 4096
#: Largest member whose data :func:`members` hands out (release files are a few hundred bytes).
MAX_MEMBER = 64 << 10


@dataclass(frozen=True)
class Limits:
    """How much reading one file may cost.

    Attributes:
        max_output: bytes read or decompressed from one file, at most.
        seconds: time spent on one file, at most.
    """

    max_output: int = 512 << 20
    seconds: float = 30.0


DEFAULT_LIMITS = Limits()


class Stop(Exception):
    """The budget is spent or the data cannot be read further: the reading ends with what it has."""


class Budget:
    """What is left of one file's :class:`Limits`."""

    def __init__(self, limits: Limits) -> None:
        self.left = limits.max_output
        self.deadline = time.monotonic() + limits.seconds

    def charge(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise Stop("read limit reached")
        if time.monotonic() > self.deadline:
            raise Stop("time limit reached")


# -- forward-only readers --------------------------------------------------------------------------------------


class Reader(ABC):
    """Bytes read forward only (peek, read, skip), each chunk charged to the budget. ``pos`` counts what was
    consumed, from ``start``."""

    def __init__(self, budget: Budget, start: int = 0) -> None:
        self.budget = budget
        self.pos = start
        self._buf = bytearray()
        self._off = 0

    @abstractmethod
    def _more(self) -> bytes:
        """The next chunk of bytes, or b"" at the end (each kind of reader says where from)."""

    def _fill(self, n: int) -> None:
        while len(self._buf) - self._off < n:
            chunk = self._more()
            if not chunk:
                return
            self.budget.charge(len(chunk))
            if self._off:
                del self._buf[:self._off]
                self._off = 0
            self._buf += chunk

    def peek(self, n: int) -> bytes:
        self._fill(n)
        return bytes(self._buf[self._off:self._off + n])

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes (fewer only at the end)."""
        data = self.peek(n)
        self._off += len(data)
        self.pos += len(data)
        return data

    def skip(self, n: int) -> None:
        """Pass over ``n`` bytes without keeping them (raises :class:`Stop` at an early end)."""
        while n > 0:
            avail = len(self._buf) - self._off
            if avail == 0:
                self._fill(1)
                avail = len(self._buf) - self._off
                if avail == 0:
                    raise Stop("unexpected end of data")
            step = min(avail, n)
            self._off += step
            self.pos += step
            n -= step

    def skip_zeros(self) -> None:
        """Pass over NUL padding (between concatenated archives)."""
        while True:
            head = self.peek(4096)
            rest = head.lstrip(b"\0")
            self.skip(len(head) - len(rest))
            if rest or not head:
                return


class RawReader(Reader):
    """A file from ``start`` on, as it is."""

    def __init__(self, fh: BinaryIO, start: int, budget: Budget) -> None:
        super().__init__(budget, start)
        self._fh = fh
        fh.seek(start)

    def _more(self) -> bytes:
        return self._fh.read(CHUNK)


class Inflater(Reader):
    """The decompressed bytes of one compressed stream that starts at ``start`` in the file (``kind``: a name
    :func:`compression` gives).

    :meth:`raw_end` says where the stream ended in the file once it is fully read (None for zstd, whose reader
    reads ahead), so that a segment after it can be read too.
    """

    def __init__(self, fh: BinaryIO, start: int, kind: str, budget: Budget) -> None:
        super().__init__(budget)
        self._fh = fh
        self._start = start
        self._fed = 0
        self._tail = b""
        self._kind = kind
        fh.seek(start)
        self._zstd: Any = None
        self._dec: Any = None
        if kind == "gzip":
            self._dec = zlib.decompressobj(wbits=31)
        elif kind == "xz":
            self._dec = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
        elif kind == "lzma":
            self._dec = lzma.LZMADecompressor(format=lzma.FORMAT_ALONE)
        elif kind == "bzip2":
            self._dec = bz2.BZ2Decompressor()
        elif kind == "zstd":
            self._zstd = _zstd_reader(_Counted(self))
        else:
            raise Stop(f"unsupported compression {kind}")

    def raw(self, n: int = CHUNK) -> bytes:
        """Compressed bytes from the file (counted, for :meth:`raw_end`)."""
        data = self._fh.read(min(n, CHUNK) if n > 0 else CHUNK)
        self._fed += len(data)
        return data

    def _more(self) -> bytes:
        if self._zstd is not None:
            try:
                return bytes(self._zstd.read(CHUNK))
            except Exception as exc:  # noqa: BLE001 - zstandard raises its own ZstdError
                raise Stop(f"zstd: {exc}") from None
        dec = self._dec
        try:
            while not dec.eof:
                # max_length bounds what one call may produce: a small input can inflate enormously
                if self._kind == "gzip":
                    data = self._tail or self.raw()
                    if not data:
                        return b""
                    out = dec.decompress(data, CHUNK)
                    self._tail = dec.unconsumed_tail
                else:
                    data = self.raw() if dec.needs_input else b""
                    if dec.needs_input and not data:
                        return b""
                    out = dec.decompress(data, CHUNK)
                if out:
                    return bytes(out)
        except (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError) as exc:
            raise Stop(f"{self._kind}: {exc}") from None
        return b""

    def raw_end(self) -> int | None:
        """The file offset just after the compressed stream, once it is completely read."""
        if self._zstd is not None or not self._dec.eof:
            return None
        return self._start + self._fed - len(self._tail) - len(self._dec.unused_data)


class _Counted:
    """The file as python-zstandard's stream reader reads it, counted by the :class:`Inflater`."""

    def __init__(self, inflater: Inflater) -> None:
        self._inflater = inflater

    def read(self, n: int = -1) -> bytes:
        return self._inflater.raw(n if n is not None else -1)


def _zstd_reader(source: Any) -> Any:
    try:
        import zstandard  # optional: python-zstandard
    except ImportError:
        raise Stop("zstd-compressed data (install the zstandard package to read it)") from None
    return zstandard.ZstdDecompressor().stream_reader(source, read_size=CHUNK, read_across_frames=False)


def compression(head: bytes) -> str | None:
    """The compression a stream starting with ``head`` (its first 8 bytes) uses, or None."""
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz"
    if head[:3] == b"BZh":
        return "bzip2"
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return "zstd"
    if head[:3] == b"\x5d\x00\x00":  # lzma "alone": properties 0x5d, then a little-endian dictionary size
        return "lzma"
    return None


# -- cpio archives ---------------------------------------------------------------------------------------------


def norm(name: str) -> str:
    """An archive member's path without ``./``, ``..`` or a leading ``/``."""
    return posixpath.normpath("/" + name).lstrip("/")


def _pad4(n: int) -> int:
    return (-n) % 4


def _archives(reader: Reader, wanted: Callable[[str], bool]) -> Iterator[tuple[str, int, bytes]]:
    """The wanted members of the cpio archives that follow one another in ``reader``; ends at the end of what
    ``reader`` holds or at the first thing that is not an archive."""
    while True:
        reader.skip_zeros()
        if reader.peek(6) not in CPIO_MAGICS:
            return
        while True:
            header = reader.read(CPIO_HEADER)
            if len(header) < CPIO_HEADER or header[:6] not in CPIO_MAGICS:
                raise Stop("truncated or damaged cpio archive")
            try:
                fields = [int(header[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
            except ValueError:
                raise Stop("damaged cpio header") from None
            mode, size, name_size = fields[1], fields[6], fields[11]
            if name_size > MAX_NAME:
                raise Stop("damaged cpio header (name too long)")
            name = reader.read(name_size).rstrip(b"\0").decode("utf-8", "replace")
            reader.skip(_pad4(reader.pos))
            if name == CPIO_TRAILER:
                break
            path = norm(name)
            if size <= MAX_MEMBER and (stat.S_ISREG(mode) or stat.S_ISLNK(mode)) and wanted(path):
                data = reader.read(size)
                if len(data) < size:
                    raise Stop("truncated cpio archive")
                yield path, mode, data
            else:
                reader.skip(size)
            reader.skip(_pad4(reader.pos))


def members(path: Path, wanted: Callable[[str], bool],
            limits: Limits = DEFAULT_LIMITS) -> Iterator[tuple[str, int, bytes]]:
    """``(path, mode, data)`` of each regular file or symlink (data: its target) of at most :data:`MAX_MEMBER`
    bytes for which ``wanted(path)`` holds, in every archive of the initramfs at ``path``, in order. Stop
    iterating once you have enough: nothing more is read. The walk ends quietly (logged) at the budget's end, at
    damaged data or at a compression it cannot read.

    Raises:
        OSError: the file cannot be opened.
    """
    budget = Budget(limits)
    with open(path, "rb") as fh:
        offset = 0
        try:
            while True:
                raw = RawReader(fh, offset, budget)
                raw.skip_zeros()
                head = raw.peek(8)
                if not head:
                    return
                if head[:6] in CPIO_MAGICS:
                    yield from _archives(raw, wanted)
                    offset = raw.pos  # where something other than an archive starts
                    continue
                kind = compression(head)
                if kind is None:
                    return
                inner = Inflater(fh, raw.pos, kind, budget)
                yield from _archives(inner, wanted)
                end = inner.raw_end()
                if end is None or end <= offset:
                    return
                offset = end
        except Stop as why:
            log.info("initrd %s: read ended early (%s)", path, why)


__all__ = ["CHUNK", "DEFAULT_LIMITS", "MAX_MEMBER", "Budget", "Inflater", "Limits", "RawReader", "Reader", "Stop",
           "compression", "members", "norm"]
