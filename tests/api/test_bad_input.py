"""Bad input on every route, generated from the routes' own declarations (``ROUTES`` and each resource's ``OPS``):
an unknown query parameter, an unknown body key, a wrong type for every body field, each required field missing,
an oversize value for every string field, a body that is not an object, and an unknown name in the path; for the
operations that take a multipart form (``Op.form``) the same for its parts (unknown part, a file where text is
expected and the reverse, oversize text, required part missing, empty form, malformed form, a JSON body). Each is
answered 4xx with Igor v2's message, and the database is exactly as before.

The caller is igor-admin (always elevated), so authorization passes and the input checks are what answer.
"""

from __future__ import annotations

from typing import Any

import pytest

from igor.api.app import ROUTES
from igor.api.params import FILE, Field
from tests.api.conftest import snapshot
from tests.api.forms import multipart

#: Existing names for path parameters, and names that exist nowhere.
EXISTING = {"userName": "alice", "groupName": "team", "resName": "alice-res", "hostName": "dn3",
            "hostpolicyName": "gpu", "imageName": "ki00000000", "kickstartName": "ks1",
            "distroName": "alice-distro", "profileName": "alice-prof"}
UNKNOWN = {"userName": "nobody", "groupName": "nogroup", "resName": "nores", "hostName": "nohost",
           "hostpolicyName": "nopolicy", "imageName": "kinoimage0", "kickstartName": "noks",
           "distroName": "nodistro", "profileName": "noprofile"}
WRONG: dict[Any, Any] = {str: 5, bool: "yes", int: "five", float: "soon", list: "alice", dict: [1]}
GO_TYPE: dict[Any, str] = {str: "string", bool: "boolean", int: "integer", float: "number", list: "list of strings",
                           dict: "object"}
GOT = {5: "number", "yes": "string", "five": "string", "soon": "string", "alice": "string", (1,): "list",
       "bool": "boolean"}


def _wrong(t: Any) -> Any:
    return [True] if isinstance(t, tuple) else WRONG[t]  # a union type: a list is neither


def _want(t: Any) -> str:
    return " or ".join(GO_TYPE[x] for x in t) if isinstance(t, tuple) else GO_TYPE[t]


def _path(template: str, names: dict[str, str]) -> str:
    for key, value in names.items():
        template = template.replace("{" + key + "}", value)
    return template


def _valid_body(fields: tuple[Field, ...]) -> dict[str, Any]:
    """A body with every required field, each of the right type (values need not pass the service's rules)."""
    sample: dict[Any, Any] = {str: "x", bool: True, int: 1, float: 1.0, list: ["x"], dict: {}}
    return {f.name: sample[f.type[0] if isinstance(f.type, tuple) else f.type] for f in fields if f.required}


def _valid_form(fields: tuple[Field, ...]) -> dict[str, Any]:
    """A form with every required part (files as small uploads, lists as one text part)."""
    sample: dict[Any, Any] = {str: "x", bool: "true", int: "1", list: "x", FILE: ("f.bin", b"x")}
    return {f.name: sample[f.type] for f in fields if f.required}


def _form_cases(m: str, template: str, path: str, fields: tuple[Field, ...],
                json_too: bool = False) -> list[tuple[Any, ...]]:
    """The bad-input cases of a multipart form (``json_too``: the operation also takes a JSON body, whose own
    cases come from its ``body`` declaration)."""
    base = _valid_form(fields)
    cases: list[tuple[Any, ...]] = [
        (f"{m} {template} unknown part", m, path, multipart({**base, "bogus": "1"}),
         "unknown parameter 'bogus' received: [1]"),
    ]
    if not json_too:
        cases.append((f"{m} {template} JSON body", m, path, {"json": {"x": 1}},
                      "need content-type 'multipart/form-data', but got 'application/json'"))
    else:
        cases.append((f"{m} {template} text body", m, path,
                      {"body": "name=x", "headers": {"Content-Type": "text/plain"}},
                      "need content-type 'multipart/form-data' or 'application/json', but got 'text/plain'"))
    cases += [
        (f"{m} {template} malformed form", m, path,
         {"body": b"--b\r\nnonsense", "headers": {"Content-Type": "multipart/form-data; boundary=b"}},
         "malformed multipart/form-data body"),
        (f"{m} {template} empty form", m, path, multipart({}), "requested operation had no parameters"),
    ]
    for f in fields:
        if f.type is FILE:
            cases.append((f"{m} {template} {f.name} as text", m, path, multipart({**base, f.name: "x"}),
                          f"invalid parameter '{f.name}': must be a file, got string"))
            continue
        want = {str: "string", bool: "boolean", int: "integer", list: "list of strings"}[f.type]
        cases.append((f"{m} {template} {f.name} as a file", m, path,
                      multipart({**base, f.name: ("f.txt", b"x")}),
                      f"invalid parameter '{f.name}': must be a {want}, got file"))
        if f.type in (str, list):
            cases.append((f"{m} {template} {f.name} oversize", m, path,
                          multipart({**base, f.name: "a" * (f.max_len + 1)}),
                          f"invalid parameter '{f.name}': longer than {f.max_len} characters"))
        if f.type is bool:
            cases.append((f"{m} {template} {f.name} not a boolean", m, path, multipart({**base, f.name: "yes"}),
                          f"invalid parameter: '{f.name}=yes' does not evaluate to boolean"))
        if f.required:
            rest = {k: v for k, v in base.items() if k != f.name}
            if rest:
                cases.append((f"{m} {template} {f.name} missing", m, path, multipart(rest),
                              f"required parameter '{f.name}' not found"))
    return cases


def _cases() -> list[tuple[str, str, str, dict[str, Any], str]]:
    """(id, method, path, request kwargs, expected message start)."""
    cases = []
    for template, cls in ROUTES:
        path = _path(template, EXISTING)
        for method, op in cls.OPS.items():
            m = method.upper()
            base = _valid_body(op.body)
            kw: dict[str, Any] = {"json": base} if op.body else {}
            cases.append((f"{m} {template} ?bogus", m, path, {**kw, "query_string": "bogus=1"},
                          "unknown parameter 'bogus' received: [1]"))
            if op.form:
                cases.extend(_form_cases(m, template, path, op.form, json_too=bool(op.body)))
            if not op.body:
                continue
            cases.append((f"{m} {template} unknown key", m, path, {"json": {**base, "bogus": 1}},
                          "unknown parameter 'bogus' received: 1"))
            cases.append((f"{m} {template} not an object", m, path, {"json": ["x"]},
                          "request body must be a JSON object, got list"))
            cases.append((f"{m} {template} not JSON", m, path,
                          {"body": "{nope", "headers": {"Content-Type": "application/json"}},
                          "request body is not valid JSON"))
            for f in op.body:
                wrong = _wrong(f.type)
                got = "list" if isinstance(wrong, list) else GOT[wrong]
                cases.append((f"{m} {template} {f.name} wrong type", m, path, {"json": {**base, f.name: wrong}},
                              f"invalid parameter '{f.name}': must be a {_want(f.type)}, got {got}"))
                if f.type is str:
                    cases.append((f"{m} {template} {f.name} oversize", m, path,
                                  {"json": {**base, f.name: "a" * (f.max_len + 1)}},
                                  f"invalid parameter '{f.name}': longer than {f.max_len} characters"))
                if f.required:
                    body = {k: v for k, v in base.items() if k != f.name}
                    if body:
                        cases.append((f"{m} {template} {f.name} missing", m, path, {"json": body},
                                      f"required parameter '{f.name}' not found"))
            if any(f.required for f in op.body) or op.body:
                cases.append((f"{m} {template} empty body", m, path, {"json": {}},
                              "requested operation had no parameters"))
    return cases


CASES = _cases()


@pytest.mark.parametrize(("method", "path", "kw", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_and_changes_nothing(people, method, path, kw, message):
    people.login("igor-admin")
    before = snapshot(people.services)
    r = people.call(method, path, "igor-admin", **kw)
    assert 400 <= r.status_code < 500, (r.status_code, r.json)
    assert r.json["status"] == "fail"
    assert r.json["message"].startswith(message), r.json["message"]
    assert snapshot(people.services) == before


NAMED = [(m.upper(), t) for t, cls in ROUTES for m in cls.OPS if "{" in t]


@pytest.mark.parametrize(("method", "template"), NAMED, ids=[f"{m} {t}" for m, t in NAMED])
def test_unknown_names_in_paths_are_404_and_change_nothing(people, method, template):
    from igor.api.app import ROUTES as routes

    op = dict(routes)[template].OPS[method.lower()]
    body = {f.name: "1h" if isinstance(f.type, tuple) else "x" for f in op.body[:1]
            if f.type is str or isinstance(f.type, tuple)}  # one harmless edit
    form = {f.name: "x" for f in op.form[:2] if f.type is str}  # a harmless text part
    kw: dict[str, Any] = multipart(form) if form else {"json": body} if body else {}
    people.login("igor-admin")
    before = snapshot(people.services)
    r = people.call(method, _path(template, UNKNOWN), "igor-admin", **kw)
    assert r.status_code == 404, r.json
    assert r.json["message"].endswith("not found") or r.json["message"].endswith("does not exist")
    assert snapshot(people.services) == before


def test_every_route_has_bad_input_cases():
    covered = {c[0].split(" ?")[0] for c in CASES if c[0].endswith("?bogus")}
    declared = {f"{m.upper()} {t}" for t, cls in ROUTES for m in cls.OPS}
    assert covered == declared
