"""Falcon resources, one module per entity. Each declares its operations (``OPS``) — summary, who may call,
query and body fields — and its responders validate with exactly those declarations; the OpenAPI document is
generated from the same ``OPS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import falcon

from igor.api.forms import Form, Receive, read_form
from igor.api.params import Field, body, query
from igor.services import Principal, Services


@dataclass(frozen=True)
class Op:
    """One documented operation of a resource.

    Attributes:
        summary: one line.
        auth: ``none`` (public), ``basic`` (HTTP Basic), ``user`` (any token) or ``admin`` (elevated).
        query: accepted query parameters.
        body: accepted JSON body keys.
        form: accepted multipart/form-data parts, instead of a JSON body (``igor.api.forms``; files are
            ``Field(type=FILE)``).
        ok: the success status code.
        data: the keys of ``data`` in a successful answer (for the document).
        also: other answers it gives besides ``ok`` and 4xx (code → description), for the document.
        content: the media type of the answers (JSON envelopes unless said otherwise).
    """

    summary: str
    auth: str = "user"
    query: tuple[Field, ...] = ()
    body: tuple[Field, ...] = ()
    form: tuple[Field, ...] = ()
    ok: int = 200
    data: tuple[str, ...] = ()
    also: dict[int, str] = field(default_factory=dict)
    content: str = "application/json"


class Resource:
    """Base of every resource: holds the services and offers input helpers bound to ``OPS``."""

    OPS: dict[str, Op] = {}

    def __init__(self, services: Services) -> None:
        self.services = services

    def query(self, req: falcon.Request, method: str) -> dict[str, Any]:
        return query(req, self.OPS[method].query)

    def body(self, req: falcon.Request, method: str, *, allow_empty: bool = False) -> dict[str, Any]:
        return body(req, self.OPS[method].body, allow_empty=allow_empty)

    def form(self, req: falcon.Request, method: str, receive: Receive, *, allow_empty: bool = False) -> Form:
        return read_form(req, self.OPS[method].form, receive=receive, allow_empty=allow_empty)

    @staticmethod
    def principal(req: falcon.Request) -> Principal:
        return req.context.principal
