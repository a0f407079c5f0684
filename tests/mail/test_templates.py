"""Tests for igor.mail.templates: the template table, field rendering and escaping, headers, and compose errors."""

from __future__ import annotations

import html
import string
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from typing import Any

import pytest

from igor.config import Config
from igor.mail import (
    PRIORITY_HEADERS,
    TEMPLATES,
    MailPermanentError,
    MailTemplateError,
    compose,
    format_mail_time,
    format_time_left,
)
from igor.timefmt import to_minutes

UTC = timezone.utc
DENVER = "America/Denver"
START = to_minutes(datetime(2006, 1, 2, 22, 4, tzinfo=UTC))  # 3:04 PM MST
END = START + 3 * 1440 + 60

#: A value for every field any template takes; text values carry HTML metacharacters to prove the escaping.
VALUES: dict[str, Any] = {
    "reservation": "res<1>&'x'", "cluster": "kn", "start": START, "end": END, "hosts": "kn[1-4,7]",
    "actor": "<script>alert(1)</script>", "minutes_left": 4320, "old_name": 'old"<name>', "group": "g&h",
    "old_end": START + 60, "old_owner": "bob<b>", "user": "alice", "password": "pa<ss>&wd",
    "reservations": ["r1", "r<2>"], "groups": ["g1"], "distros": ["d&1"],
}
R, G = VALUES["reservation"], VALUES["group"]

#: Reference §7's subjects, with the values above.
SUBJECTS = {
    "reservation-started": f"igor reservation '{R}' on kn has started",
    "reservation-warning": f"igor reservation '{R}' on kn is nearing expiration",
    "reservation-final": f"FINAL NOTICE: igor reservation '{R}' on kn is expiring soon",
    "reservation-expired": f"igor reservation '{R}' on kn has expired",
    "reservation-deleted": f"igor reservation '{R}' on kn has been deleted",
    "reservation-extended": f"igor reservation '{R}' on kn has been extended",
    "reservation-renamed": "igor reservation 'old\"<name>' on kn has been renamed",
    "reservation-new-owner": f"igor: you are the new owner of reservation '{R}' on kn",
    "reservation-new-group": f"igor reservation '{R}' on kn is now accessible by members of group '{G}'",
    "reservation-dropped": f"igor reservation '{R}' on kn has dropped host",
    "reservation-blocked": f"igor reservation '{R}' on kn has blocked host(s)",
    "user-created": "igor account created",
    "password-reset": "igor account password reset",
    "user-removal-review": "auto-removal of igor account needs review",
    "group-created": f"new igor group '{G}' created",
    "group-added": f"igor: you have been added to group '{G}'",
    "group-removed": f"igor: you have been removed from group '{G}'",
    "group-owner-added": f"igor: you have been added as an owner of group '{G}'",
    "group-owner-removed": f"igor: you have been removed from the owner list of group '{G}'",
    "group-renamed": "igor: group 'old\"<name>' has been renamed",
}
PRIORITY = {"reservation-final", "reservation-deleted", "reservation-dropped", "reservation-blocked",
            "user-created", "password-reset", "user-removal-review"}
TO, CC = ["owner@example.org"], ["m1@example.org", "m2@example.org"]


def full_fields(name: str) -> dict[str, Any]:
    template = TEMPLATES[name]
    return {f: VALUES[f] for f in template.required + template.optional}


def payload(name: str, fields: dict[str, Any] | None = None, to: list[str] | None = None,
            cc: list[str] | None = None) -> dict[str, Any]:
    return {"template": name, "to": TO if to is None else to, "cc": CC if cc is None else cc,
            "fields": full_fields(name) if fields is None else fields}


def parts(msg: EmailMessage) -> tuple[str, str]:
    text, body = msg.get_body(("plain",)), msg.get_body(("html",))
    assert text is not None and body is not None
    return str(text.get_content()), str(body.get_content())  # type: ignore[attr-defined]


def rendered(name: str, value: Any) -> str:
    if name in ("start", "end", "old_end"):
        return format_mail_time(value, DENVER)
    if name == "minutes_left":
        return format_time_left(value)
    return ", ".join(value) if isinstance(value, list) else str(value)


# -- the table ----------------------------------------------------------------------------------------------------


def test_table_has_every_event_of_reference_section_7() -> None:
    assert set(TEMPLATES) == set(SUBJECTS)
    assert {n for n, t in TEMPLATES.items() if t.priority} == PRIORITY


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_patterns_only_use_declared_fields(name: str) -> None:
    template = TEMPLATES[name]
    declared = set(template.required + template.optional)
    for pattern in template.body:
        assert {f for _, f, _, _ in string.Formatter().parse(pattern) if f} <= declared, pattern
    if isinstance(template.subject, str):
        assert {f for _, f, _, _ in string.Formatter().parse(template.subject) if f} <= set(template.required)
    assert {f for _, f in template.details} <= declared


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_template_renders(name: str, mail_config: Config) -> None:
    msg = compose(payload(name), mail_config, tz=DENVER, message_id_seed=7)
    assert msg["Subject"] == SUBJECTS[name]
    assert msg["From"] == "igor-admin@example.org"
    assert msg["To"] == "owner@example.org"
    assert msg["Cc"] == "m1@example.org, m2@example.org"
    assert msg["Reply-To"] == "ops@example.org"
    assert msg["X-Igor-Template"] == name
    for header, value in PRIORITY_HEADERS:
        assert msg[header] == (value if name in PRIORITY else None)
    text, body = parts(msg)
    for field, value in full_fields(name).items():
        shown = rendered(field, value)
        assert shown in text, field
        assert html.escape(shown) in body, field
    assert "<script>" not in body and "<1>" not in body and "pa<ss>" not in body
    assert "Igor <Lab>" in text and "Igor &lt;Lab&gt;" in body
    assert "https://help.example.org/igor?a=1&b=2" in text
    assert '<a href="https://help.example.org/igor?a=1&amp;b=2">' in body


def test_reservation_details_block(mail_config: Config) -> None:
    text, body = parts(compose(payload("reservation-started"), mail_config, tz=DENVER))
    assert f"Reservation Name: {R}\nStarted: January 2, 2006 - 3:04 PM MST\n" \
           f"Ends: January 5, 2006 - 4:04 PM MST\nHosts: kn[1-4,7]" in text
    assert '<tr><th align="left">Started:</th><td>January 2, 2006 - 3:04 PM MST</td></tr>' in body


def test_warning_body_says_time_left(mail_config: Config) -> None:
    fields = full_fields("reservation-warning") | {"minutes_left": 2 * 1440 + 23 * 60}
    text, _ = parts(compose(payload("reservation-warning", fields), mail_config))
    assert "has 2 days and 23 hours left" in text


# -- existing callers (igor/services) -----------------------------------------------------------------------------


def test_user_created_without_password_for_ldap(mail_config: Config) -> None:
    text, body = parts(compose(payload("user-created", {"user": "alice", "password": None}, cc=[]), mail_config))
    assert "'alice'" in text and "password is" not in text and "password is" not in body


def test_user_created_with_temporary_password(mail_config: Config) -> None:
    text, _ = parts(compose(payload("user-created", {"user": "alice", "password": "changeMe$1"}), mail_config))
    assert "Your temporary password is changeMe$1" in text


def test_igor_admin_password_reset_has_its_own_subject(mail_config: Config) -> None:
    msg = compose(payload("password-reset", {"user": "igor-admin", "password": "igor-admin"}), mail_config)
    assert msg["Subject"] == "igor-admin account password reset"
    assert msg["X-Priority"] == "1 (Highest)"


@pytest.mark.parametrize("name, fields", [
    ("group-created", {"group": "team"}),
    ("group-added", {"group": "team"}),
    ("reservation-blocked", {"reservation": "r1", "cluster": "kn", "hosts": "kn[2-3]", "actor": "admin"}),
])
def test_fields_the_services_queue_today(name: str, fields: dict[str, Any], mail_config: Config) -> None:
    text, _ = parts(compose(payload(name, fields), mail_config))
    assert all(str(v) in text for v in fields.values())


def test_optional_paragraphs_are_dropped_when_absent(mail_config: Config) -> None:
    fields = {k: v for k, v in full_fields("reservation-new-owner").items() if k not in ("actor", "old_owner")}
    text, _ = parts(compose(payload("reservation-new-owner", fields), mail_config))
    assert "transferred to you by" not in text and "previous owner" not in text


def test_no_reply_to_or_help_link_when_not_configured(make_mail_config: Any) -> None:
    msg = compose(payload("group-added"), make_mail_config())
    text, _ = parts(msg)
    assert msg["Reply-To"] is None and "Help:" not in text and msg["Cc"] == "m1@example.org, m2@example.org"


def test_cc_drops_addresses_already_in_to(mail_config: Config) -> None:
    msg = compose(payload("group-added", to=["a@example.org"], cc=["a@example.org", "b@example.org"]), mail_config)
    assert msg["To"] == "a@example.org" and msg["Cc"] == "b@example.org"
    msg = compose(payload("group-added", to=["a@example.org"], cc=["a@example.org"]), mail_config)
    assert msg["Cc"] is None


def test_fields_cannot_inject_headers(mail_config: Config) -> None:
    fields = full_fields("reservation-started") | {"reservation": "r1\r\nBcc: spy@example.net"}
    msg = compose(payload("reservation-started", fields), mail_config)
    assert msg["Bcc"] is None
    assert msg["Subject"] == "igor reservation 'r1 Bcc: spy@example.net' on kn has started"


# -- Message-ID ---------------------------------------------------------------------------------------------------


def test_message_id_is_stable_per_seed(mail_config: Config) -> None:
    first = compose(payload("group-added"), mail_config, message_id_seed=41)["Message-ID"]
    assert compose(payload("group-added"), mail_config, message_id_seed=41)["Message-ID"] == first
    assert compose(payload("group-added"), mail_config, message_id_seed=42)["Message-ID"] != first
    assert first.startswith("<igor.") and first.endswith("@example.org>")
    unseeded = {compose(payload("group-added"), mail_config)["Message-ID"] for _ in range(2)}
    assert len(unseeded) == 2


# -- errors -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad, message", [
    ({"template": "no-such"}, "unknown email template 'no-such'"),
    ({"template": None}, "unknown email template None"),
    (["not", "a", "mapping"], "must be a mapping"),
    (payload("reservation-started", {"reservation": "r", "cluster": "kn"}), "missing field(s) 'start', 'end', 'hosts'"),
    (payload("group-added", {"group": None}), "missing field(s) 'group'"),
    (payload("reservation-warning", full_fields("reservation-warning") | {"minutes_left": "3d"}),
     "field 'minutes_left' must be an integer"),
    (payload("reservation-started", full_fields("reservation-started") | {"start": "Jan-2-06T15:04"}),
     "field 'start' must be an integer"),
    (payload("reservation-started", full_fields("reservation-started") | {"end": True}), "field 'end' must be"),
    (payload("group-added", {"group": {"x": 1}}), "field 'group' must be text"),
    (payload("group-added", to=[]), "no 'to' recipient"),
    (payload("group-added", to=["a@example.org, b@example.org"]), "invalid address"),
    (payload("group-added", cc=["bob"]), "'cc' has an invalid address 'bob'"),
    (payload("group-added", to="a@example.org"), "must be a list of addresses"),
    ({"template": "group-added", "to": TO, "fields": ["group"]}, "'fields' must be a mapping"),
])
def test_bad_payloads_name_the_problem(bad: Any, message: str, mail_config: Config) -> None:
    with pytest.raises(MailTemplateError) as caught:
        compose(bad, mail_config)
    assert message in str(caught.value)
    assert isinstance(caught.value, MailPermanentError)


# -- value rendering ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("when, tz, expected", [
    (datetime(2006, 1, 2, 22, 4, tzinfo=UTC), DENVER, "January 2, 2006 - 3:04 PM MST"),
    (datetime(2026, 7, 4, 6, 0, tzinfo=UTC), DENVER, "July 4, 2026 - 12:00 AM MDT"),
    (datetime(2026, 7, 4, 18, 30, tzinfo=UTC), DENVER, "July 4, 2026 - 12:30 PM MDT"),
    (datetime(2026, 3, 5, 8, 0, tzinfo=UTC), "UTC", "March 5, 2026 - 8:00 AM UTC"),
    (datetime(2026, 3, 5, 8, 0, tzinfo=UTC), timezone(timedelta(hours=5, minutes=30)),
     "March 5, 2026 - 1:30 PM +0530"),
    (datetime(2026, 3, 5, 8, 0, tzinfo=UTC), "Asia/Dubai", "March 5, 2026 - 12:00 PM +04"),
])
def test_format_mail_time(when: datetime, tz: Any, expected: str) -> None:
    assert format_mail_time(to_minutes(when), tz) == expected


def test_format_mail_time_defaults_to_server_local_zone() -> None:
    local = datetime(2026, 3, 5, 8, 0, tzinfo=UTC).astimezone()
    assert format_mail_time(to_minutes(local), None) == format_mail_time(to_minutes(local), local.tzinfo)


@pytest.mark.parametrize("minutes, expected", [
    (0, "0 minutes"), (1, "1 minute"), (45, "45 minutes"), (60, "1 hour"), (89, "1 hour"), (90, "2 hours"),
    (1440, "1 day"), (1500, "1 day and 1 hour"), (4319, "3 days"), (2 * 1440 + 23 * 60, "2 days and 23 hours"),
])
def test_format_time_left(minutes: int, expected: str) -> None:
    assert format_time_left(minutes) == expected
