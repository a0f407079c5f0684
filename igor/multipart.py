"""``multipart/form-data`` request bodies for the client's uploads (images, kickstarts, distros): text fields and
files, streamed from disk in chunks with a progress callback, and with an exact ``Content-Length`` computed up
front (so the server sees a plain, non-chunked request and can refuse an oversize one before reading it).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHUNK = 256 * 1024
Progress = Callable[[int, int], None]  # (bytes sent, bytes in all)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _quote(name: str) -> str:
    return name.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ")


@dataclass(frozen=True)
class MultipartBody:
    """A body ready to send: its content type, exact length and a chunk iterator (one pass)."""

    content_type: str
    length: int
    chunks: Iterator[bytes]


def encode(fields: Mapping[str, Any], files: Mapping[str, Path], progress: Progress | None = None) -> MultipartBody:
    """Encode ``fields`` (lists become repeated parts) and ``files`` (part name → local path).

    Raises:
        OSError: A file cannot be read (its size is taken here, its bytes while sending).
    """
    boundary = f"igor-{uuid.uuid4().hex}"
    pieces: list[bytes | Path] = []
    for name, value in fields.items():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            pieces.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote(name)}"\r\n\r\n'
                          f"{_text(item)}\r\n".encode())
    for name, path in files.items():
        pieces.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote(name)}"; '
                      f'filename="{_quote(path.name)}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode())
        pieces.append(path)
        pieces.append(b"\r\n")
    pieces.append(f"--{boundary}--\r\n".encode())
    length = sum(os.stat(p).st_size if isinstance(p, Path) else len(p) for p in pieces)
    return MultipartBody(f"multipart/form-data; boundary={boundary}", length, _chunks(pieces, length, progress))


def _chunks(pieces: list[bytes | Path], length: int, progress: Progress | None) -> Iterator[bytes]:
    sent = 0
    for piece in pieces:
        if isinstance(piece, bytes):
            sent += len(piece)
            yield piece
            continue
        with open(piece, "rb") as handle:
            while block := handle.read(CHUNK):
                sent += len(block)
                if progress is not None:
                    progress(sent, length)
                yield block
    if progress is not None:
        progress(sent, length)
