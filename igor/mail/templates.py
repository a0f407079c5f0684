"""The email templates (reference §7) and :func:`compose`, which turns an outbox payload into a message.

A payload is what :func:`igor.services.outbox.queue_email` stores: ``{"template", "to", "cc", "fields"}``. The
:data:`TEMPLATES` table says, per template, which fields it requires and which it may use; the worker composes from
the payload alone, so a mail queued before a restart renders the same after it. Who gets the mail (To the owner, Cc
the members of a shared reservation group, no Cc for an owner change, ...) is the queuing service's decision, made
when it writes ``to``/``cc``; this module only renders.

Field values are plain JSON: strings, integers (``start``/``end``/``old_end`` are UTC epoch minutes, rendered like
Igor v2 as ``January 2, 2006 - 3:04 PM MST`` in the server's time zone; ``minutes_left`` is rendered as ``2 days and
23 hours``) or lists of strings (joined by commas). A field set to None counts as absent. Every value is
HTML-escaped in the HTML part; the text/plain alternative carries the same words.
"""

from __future__ import annotations

import hashlib
import html
import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta, tzinfo
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from igor.config import Config
from igor.mail.errors import MailTemplateError
from igor.timefmt import from_minutes, resolve_tz

__all__ = ["PRIORITY_HEADERS", "TEMPLATES", "Template", "compose", "format_mail_time", "format_time_left"]

IGOR_ADMIN = "igor-admin"
"""The account whose password reset has its own subject; also the local part of the From address."""

PRIORITY_HEADERS = (("X-Priority", "1 (Highest)"), ("X-MSMail-Priority", "High"), ("Importance", "High"))
"""Headers Igor v2 adds to mails it marks as priority."""

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_TIME_FIELDS = ("start", "end", "old_end")
_ADDRESS = re.compile(r"[^@\s<>,;:\"()\[\]\\]+@[^@\s<>,;:\"()\[\]\\]+")


@dataclass(frozen=True)
class Template:
    """One kind of email.

    Attributes:
        name: The outbox ``template`` key.
        subject: A ``str.format`` pattern over required fields, or a function of the rendered fields.
        body: Paragraphs, ``str.format`` patterns over the rendered fields; a paragraph naming a field the payload
            leaves out is dropped (so optional fields bring their own sentence).
        required: Fields the payload must carry.
        optional: Fields it may carry.
        details: ``(label, field)`` rows of the summary after the body; rows of absent fields are dropped.
        priority: Whether the mail gets :data:`PRIORITY_HEADERS`.
    """

    name: str
    subject: str | Callable[[Mapping[str, str]], str]
    body: tuple[str, ...]
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    details: tuple[tuple[str, str], ...] = ()
    priority: bool = False


_RES = ("reservation", "cluster", "start", "end", "hosts")
_DETAILS = (("Reservation Name", "reservation"), ("Started", "start"), ("Ends", "end"), ("Hosts", "hosts"))
_EXTEND_HINT = "To keep it longer, extend it: igor res edit {reservation} --extend DURATION (or --extend-max)."


def _res(name: str, subject: str, *body: str, required: tuple[str, ...] = (), optional: tuple[str, ...] = (),
         priority: bool = False) -> Template:
    """A reservation template: the shared fields plus ``required``, and the Reservation/Started/Ends/Hosts rows."""
    return Template(name, subject, body, _RES + required, optional, _DETAILS, priority)


def _affected(name: str, label: str, subject: str, *body: str, required: tuple[str, ...] = (),
              optional: tuple[str, ...] = ()) -> Template:
    """A priority reservation template about some of its hosts: ``hosts`` names those hosts, start/end optional."""
    details = (("Reservation Name", "reservation"), ("Started", "start"), ("Ends", "end"), (label, "hosts"))
    return Template(name, subject, body, ("reservation", "cluster", "hosts") + required, ("start", "end") + optional,
                    details, priority=True)


def _reset_subject(fields: Mapping[str, str]) -> str:
    return f"{IGOR_ADMIN if fields['user'] == IGOR_ADMIN else 'igor'} account password reset"


_TABLE: tuple[Template, ...] = (
    _res("reservation-started", "igor reservation '{reservation}' on {cluster} has started",
         "Your reservation '{reservation}' on {cluster} has started: its hosts are yours until it ends."),
    _res("reservation-warning", "igor reservation '{reservation}' on {cluster} is nearing expiration",
         "Your reservation '{reservation}' on {cluster} has {minutes_left} left.", _EXTEND_HINT,
         required=("minutes_left",)),
    _res("reservation-final", "FINAL NOTICE: igor reservation '{reservation}' on {cluster} is expiring soon",
         "Your reservation '{reservation}' on {cluster} is expiring soon: it ends on {end}.",
         "It has {minutes_left} left.",
         "When it ends its hosts are powered off and released; save your work now. " + _EXTEND_HINT,
         optional=("minutes_left",), priority=True),
    _res("reservation-expired", "igor reservation '{reservation}' on {cluster} has expired",
         "Your reservation '{reservation}' on {cluster} has expired and its hosts have been released."),
    _res("reservation-deleted", "igor reservation '{reservation}' on {cluster} has been deleted",
         "Your reservation '{reservation}' on {cluster} has been deleted by {actor}; its hosts have been released.",
         required=("actor",), priority=True),
    _res("reservation-extended", "igor reservation '{reservation}' on {cluster} has been extended",
         "Your reservation '{reservation}' on {cluster} has been extended by {actor}.",
         "It was due to end on {old_end}.", "It now ends on {end}.",
         required=("actor",), optional=("old_end",)),
    _res("reservation-renamed", "igor reservation '{old_name}' on {cluster} has been renamed",
         "Your reservation '{old_name}' on {cluster} has been renamed to '{reservation}'; use the new name from now "
         "on.", "It was renamed by {actor}.",
         required=("old_name",), optional=("actor",)),
    _res("reservation-new-owner", "igor: you are the new owner of reservation '{reservation}' on {cluster}",
         "You are now the owner of reservation '{reservation}' on {cluster}.",
         "It was transferred to you by {actor}.", "Its previous owner was {old_owner}.",
         optional=("actor", "old_owner")),
    _res("reservation-new-group",
         "igor reservation '{reservation}' on {cluster} is now accessible by members of group '{group}'",
         "Reservation '{reservation}' on {cluster} is now accessible by members of group '{group}': they may power "
         "its hosts, extend it and delete it.", "The change was made by {actor}.",
         required=("group",), optional=("actor",)),
    _affected("reservation-dropped", "Dropped hosts",
              "igor reservation '{reservation}' on {cluster} has dropped host",
              "{actor} has dropped host(s) {hosts} from your reservation '{reservation}' on {cluster}.",
              "Those hosts are no longer yours; the rest of the reservation is unchanged.",
              required=("actor",)),
    _affected("reservation-blocked", "Blocked hosts",
              "igor reservation '{reservation}' on {cluster} has blocked host(s)",
              "An administrator has blocked host(s) {hosts} of your reservation '{reservation}' on {cluster}.",
              "The block was set by {actor}.",
              "You keep access to the blocked hosts until the reservation ends, but it cannot be extended while "
              "they are blocked.",
              optional=("actor",)),
    Template("user-created", "igor account created",
             ("An igor account has been created for you with the user name '{user}'.",
              "Your temporary password is {password} - change it right after your first login with "
              "'igor user edit --password'.",
              "Log in with 'igor login'; 'igor show' then shows the cluster and its reservations."),
             ("user",), ("password",), priority=True),
    Template("password-reset", _reset_subject,
             ("The password of the igor account '{user}' has been reset by an administrator.",
              "The new temporary password is {password} - change it right after logging in with "
              "'igor user edit --password'."),
             ("user", "password"), priority=True),
    Template("user-removal-review", "auto-removal of igor account needs review",
             ("The igor account '{user}' was removed automatically by the LDAP user sync: it is no longer in any "
              "of the synced LDAP groups.",
              "What it owned alone now belongs to igor-admin and needs review (re-assign or delete it):",
              "Reservations: {reservations}", "Groups: {groups}", "Distros: {distros}"),
             ("user",), ("reservations", "groups", "distros"), priority=True),
    Template("group-created", "new igor group '{group}' created",
             ("A new igor group '{group}' has been created and you are a member of it.",
              "It was created by {actor}."),
             ("group",), ("actor",)),
    Template("group-added", "igor: you have been added to group '{group}'",
             ("You have been added to the igor group '{group}'.", "You were added by {actor}."),
             ("group",), ("actor",)),
    Template("group-removed", "igor: you have been removed from group '{group}'",
             ("You have been removed from the igor group '{group}'.", "You were removed by {actor}."),
             ("group",), ("actor",)),
    Template("group-owner-added", "igor: you have been added as an owner of group '{group}'",
             ("You are now an owner of the igor group '{group}': you may edit its members and owners and delete it.",
              "You were made an owner by {actor}."),
             ("group",), ("actor",)),
    Template("group-owner-removed", "igor: you have been removed from the owner list of group '{group}'",
             ("You are no longer an owner of the igor group '{group}'.", "You were removed by {actor}."),
             ("group",), ("actor",)),
    Template("group-renamed", "igor: group '{old_name}' has been renamed",
             ("The igor group '{old_name}' has been renamed to '{group}'; use the new name from now on.",
              "It was renamed by {actor}."),
             ("group", "old_name"), ("actor",)),
)

TEMPLATES: Mapping[str, Template] = {t.name: t for t in _TABLE}
"""Every template by name."""


# -- rendering values ---------------------------------------------------------------------------------------------


def format_mail_time(minutes: int, tz: str | tzinfo | None = None) -> str:
    """Render epoch minutes as Igor v2's mails do: ``January 2, 2006 - 3:04 PM MST``.

    Args:
        minutes: UTC epoch minutes.
        tz: Zone to render in (IANA name or tzinfo); None means the server's local time zone.
    """
    instant = from_minutes(minutes)
    local = instant.astimezone() if tz is None else instant.astimezone(resolve_tz(tz))
    hour = local.hour % 12 or 12
    return (f"{_MONTHS[local.month - 1]} {local.day}, {local.year} - {hour}:{local.minute:02d} "
            f"{'PM' if local.hour >= 12 else 'AM'} {_zone_abbrev(local.utcoffset(), local.tzname())}")


def _zone_abbrev(offset: timedelta | None, name: str | None) -> str:
    """The zone's abbreviation, or ``+0100`` as Go prints zones that have none."""
    if name and not (name.startswith("UTC") and name != "UTC"):
        return name
    off = (offset or timedelta(0)) // timedelta(minutes=1)
    return f"{'-' if off < 0 else '+'}{abs(off) // 60:02d}{abs(off) % 60:02d}"


def format_time_left(minutes: int) -> str:
    """Render a time left as ``2 days and 23 hours``, ``3 days``, ``5 hours`` or ``45 minutes`` (hours rounded)."""
    if minutes < 60:
        return _plural(max(minutes, 0), "minute")
    days, hours = divmod((minutes + 30) // 60, 24)
    if not days or not hours:
        return _plural(hours, "hour") if not days else _plural(days, "day")
    return f"{_plural(days, 'day')} and {_plural(hours, 'hour')}"


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}{'' if n == 1 else 's'}"


def _render_value(template: str, name: str, value: Any, tz: str | tzinfo | None) -> str:
    """One field as text; raises MailTemplateError naming the field when its type is wrong."""
    if name in _TIME_FIELDS or name == "minutes_left":
        if isinstance(value, bool) or not isinstance(value, int):
            raise MailTemplateError(f"template {template!r}: field {name!r} must be an integer (minutes), "
                                    f"not {value!r}")
        return format_mail_time(value, tz) if name in _TIME_FIELDS else format_time_left(value)
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return ", ".join(value) if value else "none"
    raise MailTemplateError(f"template {template!r}: field {name!r} must be text, not {value!r}")


def _render_fields(template: Template, fields: Any, tz: str | tzinfo | None) -> dict[str, str]:
    """The template's fields rendered as text; absent optional fields are left out."""
    if not isinstance(fields, Mapping):
        raise MailTemplateError(f"template {template.name!r}: 'fields' must be a mapping, not {fields!r}")
    missing = [f for f in template.required if fields.get(f) is None]
    if missing:
        raise MailTemplateError(f"template {template.name!r}: missing field(s) {', '.join(map(repr, missing))}")
    return {name: _render_value(template.name, name, fields[name], tz)
            for name in template.required + template.optional if fields.get(name) is not None}


def _field_names(pattern: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(pattern) if name}


def _paragraphs(template: Template, values: Mapping[str, str]) -> list[str]:
    return [p.format_map(values) for p in template.body if _field_names(p) <= values.keys()]


def _one_line(text: str) -> str:
    """Collapse whitespace, so no field can break a header."""
    return " ".join(text.split())


# -- payload ------------------------------------------------------------------------------------------------------


def _template(payload: Any) -> Template:
    if not isinstance(payload, Mapping):
        raise MailTemplateError(f"email payload must be a mapping, not {payload!r}")
    name = payload.get("template")
    template = TEMPLATES.get(name) if isinstance(name, str) else None
    if template is None:
        raise MailTemplateError(f"unknown email template {name!r}")
    return template


def _addresses(template: str, key: str, value: Any) -> list[str]:
    if value is None:
        value = []
    if not isinstance(value, list | tuple):
        raise MailTemplateError(f"template {template!r}: {key!r} must be a list of addresses, not {value!r}")
    for address in value:
        if not isinstance(address, str) or not _ADDRESS.fullmatch(address):
            raise MailTemplateError(f"template {template!r}: {key!r} has an invalid address {address!r}")
    return list(dict.fromkeys(value))


def _recipients(template: str, payload: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    to = _addresses(template, "to", payload.get("to"))
    if not to:
        raise MailTemplateError(f"template {template!r}: no 'to' recipient")
    cc = [a for a in _addresses(template, "cc", payload.get("cc")) if a not in to]
    return to, cc


# -- the message --------------------------------------------------------------------------------------------------


def _text_body(paragraphs: Sequence[str], details: Sequence[tuple[str, str]], config: Config) -> str:
    parts = list(paragraphs)
    if details:
        parts.append("\n".join(f"{label}: {value}" for label, value in details))
    signature = f"--\n{config.instance_name}"
    if config.email.help_link:
        signature += f"\nHelp: {config.email.help_link}"
    parts.append(signature)
    return "\n\n".join(parts) + "\n"


def _html_link(link: str) -> str:
    text = html.escape(link)
    return f'<a href="{text}">{text}</a>' if link.startswith(("http://", "https://", "mailto:")) else text


def _html_body(paragraphs: Sequence[str], details: Sequence[tuple[str, str]], config: Config) -> str:
    lines = ["<!DOCTYPE html>", "<html><body>"]
    lines += [f"<p>{html.escape(p)}</p>" for p in paragraphs]
    if details:
        lines.append("<table>")
        lines += [f'<tr><th align="left">{html.escape(label)}:</th><td>{html.escape(value)}</td></tr>'
                  for label, value in details]
        lines.append("</table>")
    signature = f"<p>--<br>{html.escape(config.instance_name)}"
    if config.email.help_link:
        signature += f"<br>Help: {_html_link(config.email.help_link)}"
    lines += [signature + "</p>", "</body></html>"]
    return "\n".join(lines) + "\n"


def _message_id(seed: str | int | None, config: Config, domain: str) -> str:
    """A Message-ID that is the same every time the same outbox event is sent, so a resend can be recognised."""
    if seed is None:
        return make_msgid(domain=domain)
    digest = hashlib.sha256(f"{config.instance_name}\0{seed}".encode()).hexdigest()[:32]
    return f"<igor.{digest}@{domain}>"


def compose(payload: Mapping[str, Any], config: Config, *, tz: str | tzinfo | None = None,
            message_id_seed: str | int | None = None) -> EmailMessage:
    """Render one outbox payload as a multipart (text + HTML) message ready for :meth:`Mailer.send`.

    Args:
        payload: ``{"template": name, "to": [...], "cc": [...], "fields": {...}}`` as queued by the services.
        config: The server configuration (``instanceName`` and ``email.*``).
        tz: Zone the dates are written in; None means the server's local time zone.
        message_id_seed: The outbox event's id; the same seed always gives the same ``Message-ID``.

    Returns:
        The message, with From ``igor-admin@<defaultSuffix>``, To, Cc, optional Reply-To and, for priority
        templates, :data:`PRIORITY_HEADERS`.

    Raises:
        MailTemplateError: Unknown template, missing required field, malformed value or address.
    """
    template = _template(payload)
    to, cc = _recipients(template.name, payload)
    values = _render_fields(template, payload.get("fields", {}), tz)
    domain = config.email.default_suffix.lstrip("@")
    if not domain:
        raise MailTemplateError("email.defaultSuffix is not set: there is no From address to send from")
    subject = template.subject(values) if callable(template.subject) else template.subject.format_map(values)
    paragraphs = _paragraphs(template, values)
    details = [(label, values[field]) for label, field in template.details if field in values]

    msg = EmailMessage()
    msg["Subject"] = _one_line(subject)
    msg["From"] = f"{IGOR_ADMIN}@{domain}"
    msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    if config.email.reply_to:
        msg["Reply-To"] = _one_line(config.email.reply_to)
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = _message_id(message_id_seed, config, domain)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies to a robot
    msg["X-Igor-Template"] = template.name
    if template.priority:
        for header, value in PRIORITY_HEADERS:
            msg[header] = value
    msg.set_content(_text_body(paragraphs, details, config))
    msg.add_alternative(_html_body(paragraphs, details, config), subtype="html")
    return msg
