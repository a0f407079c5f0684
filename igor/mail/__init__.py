"""Email notifications: composing (templates), the expiry-warning schedule, and SMTP delivery.

The services queue mails in the persisted outbox (:func:`igor.services.outbox.queue_email`); the lifecycle worker
turns each pending ``email`` event into a message with :func:`compose` and delivers it with :meth:`Mailer.send`,
retrying on :class:`MailTemporaryError` and giving up on :class:`MailPermanentError`. The worker's minute tick asks
:func:`warning_due` which expiry notice each reservation is owed.

* :mod:`igor.mail.templates` — the template table (reference §7) and :func:`compose`;
* :mod:`igor.mail.schedule` — the warning schedule as pure functions;
* :mod:`igor.mail.smtp` — :class:`Mailer`;
* :mod:`igor.mail.errors` — the failure vocabulary.
"""

from igor.mail.errors import MailError, MailPermanentError, MailTemplateError, MailTemporaryError
from igor.mail.schedule import FINAL, WARNING, initial_next_notify, notify_times, warning_due
from igor.mail.smtp import Mailer, recipients
from igor.mail.templates import PRIORITY_HEADERS, TEMPLATES, Template, compose, format_mail_time, format_time_left

__all__ = [
    "FINAL",
    "PRIORITY_HEADERS",
    "TEMPLATES",
    "WARNING",
    "MailError",
    "MailPermanentError",
    "MailTemplateError",
    "MailTemporaryError",
    "Mailer",
    "Template",
    "compose",
    "format_mail_time",
    "format_time_left",
    "initial_next_notify",
    "notify_times",
    "recipients",
    "warning_due",
]
