"""Uploads from the client: the multipart body (fields, repeated fields, files streamed with progress, exact
Content-Length) as a real HTTP server receives it, the ``file`` kind's checks, and the upload progress text."""

from __future__ import annotations

import email.parser
import email.policy
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from igor.cli.commands import UsageError, build_request
from igor.cli.grammar import GRAMMAR
from igor.cli.progress import WaitNotice
from igor.client import IgorClient, TokenStore
from igor.multipart import encode

received: list[tuple[dict[str, str], bytes]] = []


class _Capture(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers["Content-Length"])
        received.append(({k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length)))
        body = json.dumps({"status": "success", "message": "stored", "data": {}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    received.clear()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _parts(headers: dict[str, str], raw: bytes) -> list[tuple[str, str | None, bytes]]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {headers['content-type']}\r\n\r\n".encode() + raw)
    return [(p.get_param("name", header="content-disposition"), p.get_filename(), p.get_payload(decode=True))
            for p in message.iter_parts()]


def test_multipart_round_trip(server: str, tmp_path: Path) -> None:
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(bytes(range(256)) * 4096)  # 1 MiB, binary
    initrd = tmp_path / "initrd.img"
    initrd.write_bytes(b"\r\n--not-a-boundary\r\n" * 10)
    seen: list[tuple[int, int]] = []
    client = IgorClient(server, TokenStore(tmp_path / "home"))
    resp = client.call("POST", "/igor/images/register",
                       body={"breed": "redhat", "localBoot": True, "boot": ["bios", "uefi"]},
                       files={"kernelFile": kernel, "initrdFile": initrd}, progress=lambda s, t: seen.append((s, t)))
    assert resp.message == "stored"
    headers, raw = received[0]
    assert headers["content-type"].startswith("multipart/form-data; boundary=")
    assert int(headers["content-length"]) == len(raw) and "transfer-encoding" not in headers
    assert _parts(headers, raw) == [
        ("breed", None, b"redhat"), ("localBoot", None, b"true"), ("boot", None, b"bios"), ("boot", None, b"uefi"),
        ("kernelFile", "vmlinuz", kernel.read_bytes()), ("initrdFile", "initrd.img", initrd.read_bytes())]
    assert seen[-1][0] == seen[-1][1] == len(raw)
    assert [s for s, _ in seen] == sorted(s for s, _ in seen) and len(seen) >= 4  # streamed in chunks


def test_encode_length_is_exact(tmp_path: Path) -> None:
    f = tmp_path / 'we"ird name.ks'
    f.write_text("text\n")
    body = encode({"name": "x"}, {"kickstart": f})
    assert len(b"".join(body.chunks)) == body.length


def test_file_flags_are_checked_and_make_the_request_multipart(tmp_path: Path) -> None:
    register = next(n for n in GRAMMAR if n.name == "image").verb("register")
    with pytest.raises(UsageError, match="--kernel: .*nope: no such file"):
        build_request(register, {"kernel": str(tmp_path / "nope")})
    with pytest.raises(UsageError, match="not a file"):
        build_request(register, {"kernel": str(tmp_path)})
    (tmp_path / "k").write_bytes(b"k")
    request = build_request(register, {"kernel": str(tmp_path / "k"), "breed": "debian"})
    assert request.files == {"kernelFile": tmp_path / "k"} and request.body == {"breed": "debian"}
    staged = build_request(register, {"kstaged": "k1", "istaged": "i1"})  # multipart even without files (v2)
    assert staged.files == {} and staged.body == {"kstaged": "k1", "istaged": "i1"}
    profile = next(n for n in GRAMMAR if n.name == "profile").verb("create")
    assert build_request(profile, {"name": "p", "distro": "d"}).files is None  # plain JSON


def test_upload_progress_text() -> None:
    import io

    notice = WaitNotice(io.StringIO())
    notice.update(5 * 1024 * 1024, 20 * 1024 * 1024)
    assert notice.text(3.2) == "uploading 5.0 of 20.0 MB (25%) … 3s (Ctrl-C to give up)"
    notice.update(20 * 1024 * 1024, 20 * 1024 * 1024)
    assert notice.text(4) == "waiting for the server … 4s (Ctrl-C to give up)"
