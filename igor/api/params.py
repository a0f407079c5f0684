"""Request input: query parameters and JSON bodies checked against a declared shape, with Igor v2's messages
(``unknown parameter 'X' received: V``, ``required parameter 'X' not found``, ``invalid parameter 'X': must be a
T, got G``, ``requested operation had no parameters``).

A ``Field`` declares a name, a type and whether it is required; the same declarations feed the OpenAPI document,
so what is validated and what is documented cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import falcon

from igor.errors import BadInput

#: Longest string accepted in any field unless the field says otherwise.
MAX_STRING = 4096
#: Largest JSON body accepted.
MAX_BODY = 1 << 20

_TYPE_NAMES = {str: "string", bool: "boolean", int: "integer", list: "list", dict: "object", float: "number"}

#: The ``Field.type`` of a multipart/form-data part that must be an uploaded file (``igor.api.forms``).
FILE = bytes


@dataclass(frozen=True)
class Field:
    """One query parameter or body key.

    Attributes:
        name: the key.
        type: ``str``, ``bool``, ``int``, ``list`` (of strings) or ``dict``; in a multipart form also
            :data:`FILE` (an uploaded file part).
        required: whether it must be present.
        doc: one line for the OpenAPI document.
        repeat: (query only) may be given several times (and, when ``csv``, as a comma list).
        max_len: longest string (or list) accepted.
    """

    name: str
    type: Any = str
    required: bool = False
    doc: str = ""
    repeat: bool = False
    max_len: int = MAX_STRING
    csv: bool = True

    def schema(self) -> dict[str, Any]:
        if isinstance(self.type, tuple):
            return {"oneOf": [{"type": _TYPE_NAMES[t]} for t in self.type]}
        if self.type is FILE:
            return {"type": "string", "format": "binary"}
        if self.type is list or self.repeat:
            return {"type": "array", "items": {"type": "string"}}
        return {"type": _TYPE_NAMES[self.type]}


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if value is None:
        return "null"
    return "object"


def _check_type(f: Field, value: Any) -> Any:
    if isinstance(f.type, tuple):
        for t in f.type:
            try:
                return _check_type(Field(f.name, t, max_len=f.max_len), value)
            except BadInput:
                continue
        want = " or ".join(_TYPE_NAMES[t] for t in f.type)
        raise BadInput(f"invalid parameter '{f.name}': must be a {want}, got {_go_type(value)}")
    ok = {
        str: isinstance(value, str),
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        list: isinstance(value, list) and all(isinstance(v, str) for v in value),
        dict: isinstance(value, dict),
    }[f.type]
    if not ok:
        want = "list of strings" if f.type is list else _TYPE_NAMES[f.type]
        raise BadInput(f"invalid parameter '{f.name}': must be a {want}, got {_go_type(value)}")
    if isinstance(value, (str, list)) and len(value) > f.max_len:
        raise BadInput(f"invalid parameter '{f.name}': longer than {f.max_len} "
                       f"{'characters' if isinstance(value, str) else 'items'}")
    if isinstance(value, list) and any(len(v) > MAX_STRING for v in value):
        raise BadInput(f"invalid parameter '{f.name}': an item is longer than {MAX_STRING} characters")
    return value


def body(req: falcon.Request, fields: tuple[Field, ...], *, allow_empty: bool = False) -> dict[str, Any]:
    """The JSON body of ``req``, checked against ``fields``.

    Raises:
        BadInput: not a JSON object, unknown key, missing required key, or a value of the wrong type.
    """
    if req.content_length and req.content_length > MAX_BODY:
        raise falcon.HTTPPayloadTooLarge(description=f"request body is larger than {MAX_BODY} bytes")
    try:
        data = req.get_media(default_when_empty=None)
    except falcon.MediaMalformedError:
        raise BadInput("request body is not valid JSON") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BadInput(f"request body must be a JSON object, got {_go_type(data)}")
    if not data and not allow_empty and fields:
        raise BadInput("requested operation had no parameters")
    known = {f.name: f for f in fields}
    for key, value in data.items():
        if key not in known:
            raise BadInput(f"unknown parameter '{key}' received: {_short(value)}")
    for f in fields:
        if f.name in data:
            _check_type(f, data[f.name])
        elif f.required:
            raise BadInput(f"required parameter '{f.name}' not found")
    return data


def query(req: falcon.Request, fields: tuple[Field, ...]) -> dict[str, Any]:
    """The query parameters of ``req``, checked against ``fields``.

    Repeatable fields come back as lists (``?name=a&name=b`` and ``?name=a,b`` alike); booleans accept
    ``true``/``false``/``1``/``0``; integers must be whole numbers.
    """
    known = {f.name: f for f in fields}
    out: dict[str, Any] = {}
    for key, raw in req.params.items():
        values = raw if isinstance(raw, list) else [raw]
        if key not in known:  # Go prints the []string of values
            raise BadInput(f"unknown parameter '{key}' received: [{_short(' '.join(values))}]")
        f = known[key]
        if any(len(v) > f.max_len for v in values):
            raise BadInput(f"invalid parameter '{key}': longer than {f.max_len} characters")
        if f.repeat:
            out[key] = [p.strip() for v in values for p in (v.split(",") if f.csv else [v]) if p.strip()]
            continue
        if len(values) > 1:
            raise BadInput(f"invalid parameter: '{key}' cannot have multiple values")
        value = values[0]
        if f.type is bool:
            if value.lower() not in ("true", "false", "1", "0"):
                raise BadInput(f"invalid parameter: '{key}={_short(value)}' does not evaluate to boolean")
            out[key] = value.lower() in ("true", "1")
        elif f.type is int:
            try:
                out[key] = int(value)
            except ValueError:
                raise BadInput(f"invalid parameter '{key}': must be an integer, got {_short(value)}") from None
        else:
            out[key] = value
    for f in fields:
        if f.required and f.name not in out:
            raise BadInput(f"required parameter '{f.name}' not found")
    return out


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 64 else text[:61] + "..."
