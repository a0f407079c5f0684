"""One error vocabulary for the whole product.

Every layer raises a subclass of :class:`IgorError`; each carries the HTTP status the API answers with and a
message a person can act on (it names the offending value). The API translates them once; the CLI prints the
message and exits 1. Value parsers (node expressions, durations, datetimes) raise :class:`BadInput`, which is
also a ``ValueError`` so plain-Python callers can catch it without knowing Igor.
"""

from __future__ import annotations


class IgorError(Exception):
    """Base of every error Igor reports to a user."""

    status: int = 500

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        return self.message


class BadInput(IgorError, ValueError):
    """The request itself is malformed: a value does not parse or breaks a rule (HTTP 400)."""

    status = 400


class Forbidden(IgorError):
    """The caller may not do this (HTTP 403)."""

    status = 403


class NotFound(IgorError):
    """A named thing does not exist (HTTP 404)."""

    status = 404


class Conflict(IgorError):
    """The request collides with existing state: a reservation, a block, a policy window (HTTP 409)."""

    status = 409
