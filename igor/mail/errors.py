"""Why an email could not be sent, split by what the sender should do next.

The lifecycle worker retries a :class:`MailTemporaryError` (the message stays pending in the outbox) and marks the
event failed on a :class:`MailPermanentError`, which also covers a :class:`MailTemplateError` (a payload that can
never be rendered). They are not :class:`igor.errors.IgorError`: no user request is answered with them.
"""

from __future__ import annotations


class MailError(Exception):
    """Base of every email failure."""


class MailTemporaryError(MailError):
    """Delivery failed for now (server down, timeout, 4xx, TLS or login trouble); sending again later may work."""


class MailPermanentError(MailError):
    """This message will never be delivered as it is (every recipient refused with 5xx, bad payload)."""


class MailTemplateError(MailPermanentError, ValueError):
    """The outbox payload names an unknown template, lacks a required field or has a malformed value."""
