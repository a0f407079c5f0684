"""Build multipart/form-data request bodies for the API tests (falcon's TestClient has no form encoder)."""

from __future__ import annotations

import uuid
from typing import Any


def multipart(fields: dict[str, Any]) -> dict[str, Any]:
    """Request kwargs (``body``, ``headers``) for a form.

    Each value is a string (a text part), a list (one part per item), or ``(filename, bytes)`` /
    ``(filename, bytes, content_type)`` for a file part.
    """
    boundary = uuid.uuid4().hex
    chunks: list[bytes] = []
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            chunks.append(f"--{boundary}\r\n".encode())
            if isinstance(item, tuple):
                filename, data, *ctype = item
                chunks.append(f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                              f"Content-Type: {ctype[0] if ctype else 'application/octet-stream'}\r\n\r\n"
                              .encode())
                chunks.append(data if isinstance(data, bytes) else data.encode())
            else:
                chunks.append(f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
                chunks.append(str(item).encode())
            chunks.append(b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return {"body": b"".join(chunks), "headers": {"Content-Type": f"multipart/form-data; boundary={boundary}"}}
