"""Igor v2's response envelope, ``{"status", "message", "serverTime", "data"}``, and the error handlers that
render every failure in it (reference §2.1): 2xx → ``success``, 4xx → ``fail``, 5xx → ``error``.
"""

from __future__ import annotations

import logging
from typing import Any

import falcon
import falcon.media
import orjson

from igor.errors import IgorError
from igor.timefmt import format_server_time, utc_now

log = logging.getLogger("igor.api")

#: Igor v2's message for a search that found nothing.
NO_RESULTS = "search returned no results"


class OrjsonHandler(falcon.media.BaseHandler):
    """JSON bodies with orjson (several times faster than the stdlib both ways)."""

    def serialize(self, media: object, content_type: str | None = None) -> bytes:
        return orjson.dumps(media)

    def deserialize(self, stream: Any, content_type: str | None, content_length: int | None) -> object:
        data = stream.read()
        if not data:
            raise falcon.MediaNotFoundError("JSON")
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as err:
            raise falcon.MediaMalformedError("JSON") from err


def status_word(code: int) -> str:
    if code >= 500:
        return "error"
    if code >= 400:
        return "fail"
    return "success"


def envelope(code: int, message: str = "", data: Any = None) -> dict[str, Any]:
    return {"status": status_word(code), "message": message, "serverTime": format_server_time(utc_now()),
            "data": data if data is not None else {}}


def respond(resp: falcon.Response, code: int = 200, message: str = "", data: Any = None) -> None:
    """Set ``resp`` to an enveloped JSON answer."""
    resp.status = code
    resp.media = envelope(code, message, data)


def _request_id(req: falcon.Request) -> str:
    return getattr(req.context, "request_id", "-")


def handle_igor_error(req: falcon.Request, resp: falcon.Response, ex: IgorError, params: dict) -> None:
    respond(resp, ex.status, ex.message)
    if ex.status >= 500:
        log.error("request %s %s %s failed: %s", _request_id(req), req.method, req.path, ex.message)


def handle_http_error(req: falcon.Request, resp: falcon.Response, ex: falcon.HTTPError, params: dict) -> None:
    code = int(ex.status_code) if hasattr(ex, "status_code") else int(str(ex.status).split()[0])
    message = ex.description or ex.title or ""
    if code == 404 and not ex.description:
        message = f"no such route: {req.method} {req.path}"
    elif code == 405 and not ex.description:
        message = f"method {req.method} is not allowed on {req.path}"
    respond(resp, code, message)
    headers = ex.headers or {}
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers)
    for key, value in pairs:
        resp.set_header(str(key), str(value))


def handle_unexpected(req: falcon.Request, resp: falcon.Response, ex: Exception, params: dict) -> None:
    if isinstance(ex, falcon.HTTPError):  # pragma: no cover - falcon routes these to handle_http_error
        handle_http_error(req, resp, ex, params)
        return
    rid = _request_id(req)
    log.exception("request %s %s %s: unexpected error", rid, req.method, req.path)
    respond(resp, 500, f"server error; please notify admins (request id {rid})")
