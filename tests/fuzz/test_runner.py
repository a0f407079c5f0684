"""The fuzz runner's own logic (tests/fuzz/run.py), checked without starting a server or schemathesis: what it
leaves out and binds must name operations and parameters the document really has, or it silently does nothing."""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: schemathesis brings tomli
    import tomli as tomllib  # type: ignore[no-redef]

from igor.api import openapi_document
from tests.fuzz import run


def _operation_ids() -> set[str]:
    return {op["operationId"] for ops in openapi_document()["paths"].values() for op in ops.values()}


def test_every_excluded_operation_exists_in_the_document():
    assert set(run.EXCLUDE_ALWAYS + run.EXCLUDE_ADMIN) <= _operation_ids()


def test_the_command_line_carries_the_checks_bounds_token_and_exclusions():
    args = run.schemathesis_args("http://127.0.0.1:1/igor/openapi.json",
                                 run.Run("admin", "tok", run.EXCLUDE_ALWAYS + run.EXCLUDE_ADMIN),
                                 max_examples=7, max_time=30, seed=5)
    assert args[:3] == [sys.executable, "-m", "schemathesis.cli"]
    joined = " ".join(args)
    assert "--checks not_a_server_error," in joined and "response_schema_conformance" in joined
    assert "--max-examples 7" in joined and "--max-time 30" in joined and "--seed 5" in joined
    assert "Authorization: Bearer tok" in args
    excluded = [args[i + 1] for i, a in enumerate(args) if a == "--exclude-operation-id"]
    assert excluded == ["deleteLogin", "putAuthreset", "deleteElevate"]


def test_the_config_binds_only_path_parameters_the_document_has():
    config = tomllib.loads(Path(run.SCHEMATHESIS_CONFIG).read_text())
    documented = {p["name"] for ops in openapi_document()["paths"].values() for op in ops.values()
                  for p in op.get("parameters", []) if p["in"] == "path"}
    bound = {key.removeprefix("path.") for key in config["parameters"] if key.startswith("path.")}
    assert bound == documented
    for binding in config["parameters"].values():
        assert binding["dictionary"] in config["dictionaries"]
    # never the elevated admin or the admins group: a PATCH or DELETE of those would end the admin run's session
    # (the user may appear: the user's run is over before the admin's, which may then edit or delete the user)
    names = {v for d in config["dictionaries"].values() for v in d["values"]}
    assert not names & {run.ADMIN, "admins", "igor-admin"}


def test_server_errors_picks_error_records_with_their_tracebacks(tmp_path: Path):
    log = tmp_path / "igor.log"
    log.write_text("2026-01-01 10:00:00,000 INFO igor.server[1]: starting\n"
                   "2026-01-01 10:00:01,000 ERROR igor.api.envelope[2]: request abc GET /igor/x: unexpected error\n"
                   "Traceback (most recent call last):\n  ValueError: boom\n"
                   "2026-01-01 10:00:02,000 WARNING gunicorn.error[2]: Invalid request\n")
    errors = run.server_errors(log)
    assert len(errors) == 1 and "unexpected error" in errors[0] and "ValueError: boom" in errors[0]
    assert run.server_errors(tmp_path / "missing.log") == []
