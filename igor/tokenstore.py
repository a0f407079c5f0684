"""Where the client keeps its state: the client home (``$IGOR_CLIENT_HOME`` or ``~/.igor``) and, in it, the login
token (mode 0600) and the last user name. Kept free of HTTP and YAML so the shell can read it at start-up cheaply.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def client_home(env: Mapping[str, str] | None = None) -> Path:
    """``$IGOR_CLIENT_HOME`` or ``~/.igor``."""
    environ: Mapping[str, str] = os.environ if env is None else env
    return Path(environ.get("IGOR_CLIENT_HOME") or "~/.igor").expanduser()


class TokenStore:
    """The login token (``auth_token``, mode 0600) and the last user name (``lastuser``) in the client home."""

    def __init__(self, home: Path | str) -> None:
        self.home = Path(home)

    @property
    def token_path(self) -> Path:
        return self.home / "auth_token"

    @property
    def user_path(self) -> Path:
        return self.home / "lastuser"

    def _ensure_home(self) -> None:
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.home, 0o700)

    def _write_private(self, path: Path, text: str) -> None:
        self._ensure_home()
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, text.encode())
        finally:
            os.close(fd)
        os.replace(tmp, path)

    def token(self) -> str | None:
        try:
            return self.token_path.read_text().strip() or None
        except OSError:
            return None

    def user(self) -> str | None:
        try:
            return self.user_path.read_text().strip() or None
        except OSError:
            return None

    def save(self, token: str, user: str) -> None:
        """Store a fresh token for ``user``."""
        self._write_private(self.token_path, token)
        self._write_private(self.user_path, user)

    def clear(self) -> None:
        """Forget the token (``lastuser`` stays, as in Igor v2)."""
        try:
            self.token_path.unlink()
        except FileNotFoundError:
            pass

    @property
    def access_path(self) -> Path:
        return self.home / "lastaccess"

    def touch(self) -> None:
        """Record an answered request (``igor last``); kept across logouts, as Igor v2's record is."""
        try:
            self._write_private(self.access_path, "")
        except OSError:  # a read-only home: only ``igor last`` loses precision
            pass

    def last_access(self) -> float | None:
        """When the server last answered this client (epoch seconds), else when the token was written."""
        for path in (self.access_path, self.token_path):
            try:
                return path.stat().st_mtime
            except OSError:
                continue
        return None
