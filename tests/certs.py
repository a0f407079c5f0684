"""Test certificates made with the ``openssl`` command: a CA, a server certificate for ``localhost``/``127.0.0.1``
signed by it, and a second CA that signed nothing (what a client trusting the wrong authority holds). Made once
per test session by the ``tls_certs`` fixture of ``tests/conftest.py``."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

_EC = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")


@dataclass(frozen=True)
class Certs:
    ca: Path  # the CA certificate (PEM) that signed the server's
    cert: Path
    key: Path
    other_ca: Path  # a CA that signed nothing here
    other_key: Path  # the other CA's key: a real key that is not the server certificate's


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def have_openssl() -> bool:
    return shutil.which("openssl") is not None


def make_certs(d: Path) -> Certs:
    """Write the CAs and the server certificate (valid two days) into ``d``."""
    for name in ("ca", "other"):
        _openssl("req", "-x509", *_EC, "-days", "2", "-subj", f"/CN=Igor test {name} CA", "-keyout", f"{name}.key",
                 "-out", f"{name}.crt", cwd=d)
    _openssl("req", *_EC, "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr", cwd=d)
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "2", "-extfile", "san.ext", "-out", "server.crt", cwd=d)
    for key in ("server.key", "other.key", "ca.key"):
        (d / key).chmod(0o600)
    return Certs(ca=d / "ca.crt", cert=d / "server.crt", key=d / "server.key", other_ca=d / "other.crt",
                 other_key=d / "other.key")
