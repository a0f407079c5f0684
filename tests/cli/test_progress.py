"""The wait notice: shown on a terminal after a second, erased when the answer comes; never on a pipe. Also
through ``igor`` against a deliberately slow server."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from igor.cli.main import main
from igor.cli.progress import ERASE, WaitNotice


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_notice_appears_after_the_delay_and_is_erased() -> None:
    err = Terminal()
    with WaitNotice(err, after=0.05, every=0.05):
        time.sleep(0.3)
    text = err.getvalue()
    assert "waiting for the server … 0s (Ctrl-C to give up)" in text
    assert text.endswith(ERASE)


def test_quick_answers_and_pipes_show_nothing() -> None:
    err = Terminal()
    with WaitNotice(err, after=0.5):
        pass
    assert err.getvalue() == ""
    piped = io.StringIO()
    with WaitNotice(piped, after=0.0, every=0.01):
        time.sleep(0.1)
    assert piped.getvalue() == ""


class _Slow(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        time.sleep(1.6)
        body = json.dumps({"status": "success", "message": "", "data": {"reservations": []}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slow_server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_igor_shows_progress_while_a_slow_server_answers(slow_server: str, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("IGOR_SERVER", slow_server)
    monkeypatch.setenv("IGOR_CLIENT_HOME", str(tmp_path))
    monkeypatch.delenv("IGOR_CLIENT_CONFIG", raising=False)
    out, err = io.StringIO(), Terminal()
    assert main(["res", "show"], out=out, err=err) == 0
    assert "waiting for the server … 1s" in err.getvalue() and err.getvalue().endswith(ERASE)
    assert "no reservations to show" in out.getvalue()
