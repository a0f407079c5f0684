"""multipart/form-data bodies (images, kickstarts, distros) read against an operation's declared ``Op.form``
fields, with the same vocabulary as JSON bodies (``unknown parameter 'X' received: [V]``, ``required parameter
'X' not found``, ``requested operation had no parameters``, ``invalid parameter 'X': ...``).

File parts (``Field(type=FILE)``) are streamed to disk as they arrive — never held in memory — by a ``receive``
callback (normally :meth:`igor.imagestore.ImageStore.receive`, which checks the file name and the size limit);
text parts are short strings read with a bound. Falcon's parser limits (part count, header size) are set once by
:func:`multipart_handler`. If anything is refused, every file already received is removed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import falcon
import falcon.media

from igor.api.params import FILE, Field
from igor.errors import BadInput, IgorError
from igor.imagestore import MAX_NAME_LENGTH, Upload

MULTIPART = "multipart/form-data"
#: Most parts one form may have (the distro form has the most fields; repeats count once each).
MAX_PARTS = 64
#: Largest part headers block.
MAX_PART_HEADERS = 8192

Receive = Callable[[BinaryIO, "str | None", str], Upload]


def multipart_handler() -> falcon.media.MultipartFormHandler:
    """Falcon's multipart handler with Igor's limits."""
    handler = falcon.media.MultipartFormHandler()
    options = handler.parse_options
    options.max_body_part_count = MAX_PARTS
    options.max_body_part_headers_size = MAX_PART_HEADERS
    options.max_secure_filename_length = MAX_NAME_LENGTH
    return handler


@dataclass
class Form:
    """A parsed form: text values (converted to the declared types) and received files.

    Use it as a context manager: on leaving, any file not consumed is removed.
    """

    values: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Upload] = field(default_factory=dict)

    def __enter__(self) -> Form:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()

    def discard(self) -> None:
        for upload in self.files.values():
            upload.discard()

    def __contains__(self, key: str) -> bool:
        return key in self.values or key in self.files

    def __bool__(self) -> bool:
        return bool(self.values or self.files)


def _short(text: str) -> str:
    return text if len(text) <= 64 else text[:61] + "..."


def _text(part: Any, f: Field) -> str:
    raw = part.stream.read(f.max_len * 4 + 1)  # UTF-8: at most 4 bytes a character
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"invalid parameter '{f.name}': not UTF-8 text") from None
    if len(text) > f.max_len or part.stream.read(1):
        raise BadInput(f"invalid parameter '{f.name}': longer than {f.max_len} characters")
    return text


def _convert(f: Field, text: str) -> Any:
    if f.type is bool:
        if text.strip().lower() not in ("true", "false", "1", "0"):
            raise BadInput(f"invalid parameter: '{f.name}={_short(text)}' does not evaluate to boolean")
        return text.strip().lower() in ("true", "1")
    if f.type is int:
        try:
            return int(text)
        except ValueError:
            raise BadInput(f"invalid parameter '{f.name}': must be an integer, got {_short(text)}") from None
    return text


def read_form(req: falcon.Request, fields: tuple[Field, ...], *, receive: Receive,
              allow_empty: bool = False) -> Form:
    """The multipart form of ``req``, checked against ``fields``.

    Text fields declared ``list`` (or ``repeat``) may be given several times and as comma lists; other parts at
    most once.

    Raises:
        IgorError: 415 when the body is not multipart/form-data.
        BadInput: malformed form, unknown part, a file where text is expected or the reverse, a bad value, a
            missing required part, or no parts at all.
        FileTooLarge: (from ``receive``) a file over its limit.
    """
    out = Form()
    ctype = (req.content_type or "").split(";")[0].strip().lower()
    if req.content_length == 0 or (req.content_length is None and not ctype):
        return _finish(out, fields, allow_empty)
    if ctype != MULTIPART:
        raise IgorError(f"need content-type '{MULTIPART}', but got '{req.content_type or ''}'", status=415)
    known = {f.name: f for f in fields}
    try:
        for part in req.get_media():
            name = part.name
            if not name:
                raise BadInput("a form part has no name")
            f = known.get(name)
            if f is None:
                raise BadInput(f"unknown parameter '{_short(name)}' received: "
                               f"[{_short(part.filename or '<file>') if part.filename is not None else _peek(part)}]")
            if f.type is FILE:
                if part.filename is None:
                    raise BadInput(f"invalid parameter '{name}': must be a file, got string")
                if name in out.files:
                    raise BadInput(f"invalid parameter: '{name}' cannot have multiple values")
                out.files[name] = receive(part.stream, part.filename, name)
                continue
            if part.filename is not None:
                raise BadInput(f"invalid parameter '{name}': must be a {_want(f)}, got file")
            text = _text(part, f)
            if f.type is list or f.repeat:
                out.values.setdefault(name, []).extend(p.strip() for p in text.split(",") if p.strip())
            elif name in out.values:
                raise BadInput(f"invalid parameter: '{name}' cannot have multiple values")
            else:
                out.values[name] = _convert(f, text)
        return _finish(out, fields, allow_empty)
    except falcon.MediaMalformedError as exc:
        out.discard()
        raise BadInput(f"malformed multipart/form-data body: {exc.description or exc.title}") from None
    except BaseException:
        out.discard()
        raise


def _peek(part: Any) -> str:
    raw = part.stream.read(65)
    return _short(raw.decode("utf-8", "replace"))


def _want(f: Field) -> str:
    return {str: "string", bool: "boolean", int: "integer", list: "list of strings"}.get(f.type, "string")


def _finish(out: Form, fields: tuple[Field, ...], allow_empty: bool) -> Form:
    if not out and not allow_empty and fields:
        raise BadInput("requested operation had no parameters")
    for f in fields:
        if f.required and f.name not in out:
            out.discard()
            raise BadInput(f"required parameter '{f.name}' not found")
    return out
