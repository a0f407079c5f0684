"""API fuzzing: schemathesis against a live ``igor-server`` from its own ``/igor/openapi.json``.

    python -m tests.fuzz.run [--max-examples N] [--max-time SECONDS] [--seed N] [--only user|admin] [--advice]

Starts a real server (gunicorn, SQLite, the 16-host demo cluster, no lifecycle worker: nothing here waits for a
reservation to start) on 127.0.0.1 in a temporary IGOR_HOME, seeds a plain user and a member of ``admins``, logs
both in, elevates the admin and makes a few objects for the fuzzer to find (``seed_objects``), then runs
schemathesis twice — as the user, then as the elevated admin — with ``CHECKS``: no 5xx, and every response as the
document describes it. ``schemathesis.toml`` beside this file steers generation towards the seeded names and
Igor-shaped values. Bounded in examples per operation and in seconds per run, with a fixed seed (the time bound
and two schemathesis workers make the exact cases vary a little). Exits 1 if a run fails or the server logged an
error.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from base64 import b64encode
from dataclasses import dataclass, field
from pathlib import Path

from tests.api.forms import multipart
from tests.test_server import free_port, seed_server, stop, wait_up

USER = "fuzz-user"
ADMIN = "fuzz-admin"
PASSWORD = "changeMe$1"  # auth.defaultUserPassword: what a new local user's password is
#: schemathesis's configuration: names of the seeded objects for path parameters, and Igor-shaped strings
SCHEMATHESIS_CONFIG = Path(__file__).with_name("schemathesis.toml")

#: What the fuzzer must not call, by operationId — each would end the run's own session, not test its input:
EXCLUDE_ALWAYS = (
    # DELETE /igor/login (logout) revokes the very token the run authenticates with: all later requests get 401
    "deleteLogin",
)
EXCLUDE_ADMIN = (
    # PUT /igor/authreset revokes every token of every user, the run's own included (as the user it is a 403,
    # so that run keeps it)
    "putAuthreset",
    # DELETE /igor/elevate cancels the admin's elevation: the admin routes after it would answer 403, untested
    "deleteElevate",
)
#: No 5xx; every answer as documented (status, content type, headers, body); an undocumented method is a 405
#: with a true Allow header; a route that needs a token refuses a request without one.
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance", "unsupported_method",
          "allow_header_conformance", "ignored_auth")


@dataclass
class Run:
    """One schemathesis run: who calls, and which operations are left out."""

    name: str
    token: str
    exclude: tuple[str, ...] = field(default=EXCLUDE_ALWAYS)


def schemathesis_args(url: str, run: Run, max_examples: int, max_time: int, seed: int,
                      report: Path | None = None, advice: bool = False) -> list[str]:
    """The command line of one schemathesis run (its CLI, in this interpreter)."""
    args = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(SCHEMATHESIS_CONFIG), "run", url,
            "--checks", ",".join(CHECKS),
            "--header", f"Authorization: Bearer {run.token}",
            "--phases", "examples,coverage,fuzzing",
            "--max-examples", str(max_examples), "--max-time", str(max_time),
            "--seed", str(seed), "--generation-database", "none",
            "--workers", "2", "--request-timeout", "30", "--no-color",
            # schemathesis's advice (operations answering mostly 404 or 400, ...) is noise in CI; --advice shows it
            *([] if advice else ["--warnings", "off"]),
            # the run authenticates with the header above: no generated credentials replacing it
            "--generation-with-security-parameters", "false"]
    for operation_id in run.exclude:
        args += ["--exclude-operation-id", operation_id]
    if report is not None:
        args += ["--report", "junit", "--report-junit-path", str(report)]
    return args


def write_config(home: Path, port: int) -> Path:
    conf = home / "igor-server.yaml"
    conf.write_text(f"server:\n  host: 127.0.0.1\n  port: {port}\n  workers: 2\n"
                    f"database:\n  url: sqlite:///{home}/db/igor.db\nlog:\n  dir: {home / 'log'}\n")
    return conf


def seed(conf: Path, env: dict[str, str]) -> None:
    """Tables, system accounts, the demo cluster (hosts unblocked), the plain user and the admin."""
    seed_server(conf, env, [USER, ADMIN], admins=[ADMIN])


def call(port: int, method: str, path: str, auth: str, body: dict | None = None,
         form: dict | None = None) -> tuple[int, dict]:
    """One request (a JSON body, or a multipart ``form`` as tests.api.forms.multipart takes it)."""
    headers = {"Authorization": auth}
    data = None
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    elif form is not None:
        encoded = multipart(form)
        data, headers["Content-Type"] = encoded["body"], encoded["headers"]["Content-Type"]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}")
    finally:
        conn.close()


def seed_objects(port: int, user_token: str, admin_token: str) -> None:
    """Objects for the fuzzer to find by name (SCHEMATHESIS_CONFIG binds path parameters to these names, half
    the time): a group and two reservations of the user's, a victim user, a host policy and a kickstart."""
    now = int(time.time())
    as_user, as_admin = f"Bearer {user_token}", f"Bearer {admin_token}"
    requests = [
        (as_user, "POST", "/igor/groups", {"body": {"name": "fuzzteam", "description": "fuzzed"}}),
        (as_user, "POST", "/igor/reservations", {"body": {"name": "fuzzres", "nodeList": "dn[1-2]",
                                                          "duration": "2h"}}),
        (as_user, "POST", "/igor/reservations", {"body": {"name": "fuzzlater", "nodeCount": 2,
                                                          "start": now + 86400, "duration": "1h"}}),
        (as_admin, "POST", "/igor/users", {"body": {"name": "fuzzvictim", "email": "victim@example.com"}}),
        (as_admin, "POST", "/igor/hostpolicy", {"body": {"name": "fuzzpolicy", "maxResTime": "3d"}}),
        (as_admin, "POST", "/igor/kickstart/register",
         {"form": {"kickstart": ("fuzzks.cfg", b"# kickstart\ntext\n")}}),
    ]
    for auth, method, path, payload in requests:
        status, answer = call(port, method, path, auth, **payload)
        if status not in (200, 201):
            raise SystemExit(f"seeding {method} {path} failed: {status} {answer}")


def login(port: int, user: str) -> str:
    basic = b64encode(f"{user}:{PASSWORD}".encode()).decode()
    status, body = call(port, "GET", "/igor/login", f"Basic {basic}")
    if status != 200:
        raise SystemExit(f"login as {user} failed: {status} {body}")
    return body["data"]["token"]


def elevate(port: int, token: str) -> None:
    status, body = call(port, "PATCH", "/igor/elevate", f"Bearer {token}")
    if status != 200:
        raise SystemExit(f"elevate failed: {status} {body}")


def server_errors(log: Path) -> list[str]:
    """The ERROR records of the server's log (an unexpected error, logged with its traceback, is one)."""
    if not log.exists():
        return []
    records: list[str] = []
    for line in log.read_text(errors="replace").splitlines():
        if line[:4].isdigit():  # a record starts with its timestamp; other lines continue the one before
            records.append(line)
        elif records:
            records[-1] += "\n" + line
    return [r for r in records if r.split(" ", 3)[2:3] in (["ERROR"], ["CRITICAL"])]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.fuzz.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--max-examples", type=int, default=20, help="test cases per operation (20)")
    p.add_argument("--max-time", type=int, default=45, help="seconds per run, two runs (45)")
    p.add_argument("--seed", type=int, default=2024, help="random seed (2024)")
    p.add_argument("--report-dir", type=Path, help="write a JUnit report of each run here")
    p.add_argument("--only", choices=("user", "admin"), help="one run only")
    p.add_argument("--advice", action="store_true", help="show schemathesis's warnings (coverage advice)")
    args = p.parse_args(argv)

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="igor-fuzz-") as tmp:
        home = Path(tmp)
        port = free_port()
        conf = write_config(home, port)
        env = {**os.environ, "IGOR_HOME": str(home), "IGOR_BCRYPT_ROUNDS": "4"}
        env.pop("IGOR_CONFIG", None)
        seed(conf, env)
        log = (home / "server.out").open("w")
        proc = subprocess.Popen([sys.executable, "-m", "igor.server", "--config", str(conf), "--no-lifecycle"],
                                env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        results: dict[str, int] = {}
        try:
            wait_up(f"http://127.0.0.1:{port}", proc)
            user_token, admin_token = login(port, USER), login(port, ADMIN)
            elevate(port, admin_token)
            seed_objects(port, user_token, admin_token)
            runs = [Run("user", user_token), Run("elevated admin", admin_token, EXCLUDE_ALWAYS + EXCLUDE_ADMIN)]
            if args.only:
                runs = [r for r in runs if r.name.endswith(args.only)]
            url = f"http://127.0.0.1:{port}/igor/openapi.json"
            for run in runs:
                print(f"== schemathesis as the {run.name}", flush=True)
                report = (args.report_dir.resolve() / f"{run.name.replace(' ', '-')}.xml" if args.report_dir
                          else None)
                cmd = schemathesis_args(url, run, args.max_examples, args.max_time, args.seed, report, args.advice)
                # in the temporary directory: schemathesis keeps a cache of the failures it found (.schemathesis/)
                # for `st replay`; a run replaying an old checkout's failures first would not be this run
                results[run.name] = subprocess.run(cmd, cwd=home, timeout=args.max_time + 120).returncode
        finally:
            # read before stopping: what the workers log while shutting down is not the fuzzing's doing
            errors = server_errors(home / "log" / "igor.log")
            stop(proc)
            log.close()
            if errors:  # an unexpected error is a 500 schemathesis has seen too; anything else is a bug as well
                print("igor.log errors:\n" + "\n".join(errors)[-20000:])
                results["server log"] = 1
    took = time.monotonic() - started
    summary = ", ".join(f"{name}: {'ok' if rc == 0 else f'FAILED ({rc})'}" for name, rc in results.items())
    print(f"== API fuzzing: {summary or 'nothing ran'} in {took:.0f}s")
    return 0 if results and all(rc == 0 for rc in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
