"""The lifecycle worker with its real collaborators: boot files fetched by a real TFTP client from a real TFTP
server serving tftpRoot, and every notification of reference §7 delivered by a real SMTP server (aiosmtpd on
loopback) — with the right recipients and subject, queued while the server is down and delivered once it is back.
"""

from __future__ import annotations

from typing import Any

import pytest
from pony.orm import db_session

from tests.boot.conftest import Tftp, tftp, tftp_root  # noqa: F401 - fixtures
from tests.mail.conftest import SMTPServer, free_port, start_smtp  # noqa: F401 - fixtures

from .conftest import World


def mac_file(world: World, host: str) -> str:
    with db_session:
        mac = world.services.db.Host.get(name=host).mac
    return "pxelinux.cfg/01-" + mac.lower().replace(":", "-")


def test_a_reserved_hosts_pxe_file_is_served_by_tftp_during_the_reservation_only(world_factory,
                                                                                 tftp: Tftp) -> None:  # noqa: F811
    world: World = world_factory({"server": {"tftpRoot": str(tftp.root)}})
    world.worker._boot = None  # the real boot writer, under the TFTP server's root
    world.distro("rocky", kernel_args="console=ttyS0")
    assert tftp.fetch(mac_file(world, "dn1")).returncode == 68  # nothing before the reservation
    world.reserve("tftpres", "dn1", 0, 60, distro="rocky")
    world.tick()
    got = tftp.fetch(mac_file(world, "dn1"))
    assert got.returncode == 0, got.stderr
    text = got.stdout.decode()
    assert "LABEL tftpres" in text and "console=ttyS0" in text
    kernel = next(line.split()[1] for line in text.splitlines() if line.strip().startswith("KERNEL"))
    assert tftp.fetch(kernel).stdout == b"kernel-rocky"  # the image itself is served from the same root
    world.tick(60)
    assert world.res("tftpres") is None
    assert tftp.fetch(mac_file(world, "dn1")).returncode == 68


# -- every email event, through the outbox and a real SMTP server ----------------------------------------------


@pytest.fixture
def mail_world(world_factory, start_smtp) -> tuple[World, SMTPServer]:  # noqa: F811
    smtp = start_smtp()
    world = world_factory({"email": {"smtpServer": "127.0.0.1", "smtpPort": smtp.port,
                                     "defaultSuffix": "example.com"}})
    world.worker._mailer = None  # the real SMTP mailer
    return world, smtp


def delivered(smtp: SMTPServer) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """(subject, To, Cc) of each message received, in order."""
    def addrs(value: Any) -> tuple[str, ...]:
        return tuple(sorted(a.strip() for a in str(value).split(","))) if value else ()

    return [(m.message["Subject"], addrs(m.message["To"]), addrs(m.message["Cc"])) for m in smtp.received]


def test_every_event_mails_the_right_people(mail_world) -> None:
    world, smtp = mail_world
    api = world.api
    world.tick()  # what populating the site queued: accounts and the team group
    assert delivered(smtp) == [
        ("igor account created", ("alice@example.com",), ()),
        ("igor account created", ("bob@example.com",), ()),
        ("igor account created", ("carol@example.com",), ()),
        ("igor account created", ("dave@example.com",), ()),
        ("new igor group 'team' created", ("alice@example.com", "bob@example.com"), ()),
        ("igor: you have been added to group 'admins'", ("dave@example.com",), ()),
    ]
    smtp.handler.received.clear()

    def step(action: Any, *expected: tuple[str, tuple[str, ...], tuple[str, ...]]) -> None:
        result = action()
        if result is not None:
            assert result.status_code in (200, 201), result.json
        world.tick()
        assert delivered(smtp) == list(expected)
        smtp.handler.received.clear()

    A, B, C, D = "alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com"
    api.elevate("dave")
    step(lambda: world.reserve("mailres", "dn[1-3]", 0, 5 * 1440, group="team"),
         ("igor reservation 'mailres' on demo has started", (A,), (B,)))
    step(lambda: api.patch("/igor/reservations/mailres", as_user="dave", json={"extend": "1h"}),
         ("igor reservation 'mailres' on demo has been extended", (A,), (B,)))
    step(lambda: api.patch("/igor/reservations/mailres", as_user="dave", json={"drop": "dn3"}),
         ("igor reservation 'mailres' on demo has dropped host", (A,), (B,)))
    step(lambda: api.patch("/igor/hosts-ctrl/block", as_user="igor-admin", json={"hosts": "dn2", "block": True}),
         ("igor reservation 'mailres' on demo has blocked host(s)", (A,), (B,)))
    step(lambda: api.patch("/igor/reservations/mailres", as_user="alice", json={"name": "renamed"}),
         ("igor reservation 'mailres' on demo has been renamed", (A,), (B,)))
    step(lambda: api.patch("/igor/reservations/renamed", as_user="alice", json={"owner": "bob"}),
         ("igor: you are the new owner of reservation 'renamed' on demo", (B,), ()))
    step(lambda: api.patch("/igor/reservations/renamed", as_user="bob", json={"group": "none"}))
    step(lambda: api.patch("/igor/reservations/renamed", as_user="bob", json={"group": "team"}),
         ("igor reservation 'renamed' on demo is now accessible by members of group 'team'", (B,), (A,)))
    # the expiry warnings: 5 days + 1 hour long, so the 3-day one, then the 1-day FINAL NOTICE, then the end
    world.tick(2 * 1440 + 60 - 1)
    assert delivered(smtp) == []
    step(lambda: world.clock.move(1),
         ("igor reservation 'renamed' on demo is nearing expiration", (B,), (A,)))
    step(lambda: world.clock.move(2 * 1440),
         ("FINAL NOTICE: igor reservation 'renamed' on demo is expiring soon", (B,), (A,)))
    step(lambda: world.clock.move(1440), ("igor reservation 'renamed' on demo has expired", (B,), (A,)))

    api.tokens.clear()  # five days on: everyone logs in again
    api.elevate("dave")
    world.reserve("gone", "dn4", 0, 60, user="carol")
    world.tick()
    smtp.handler.received.clear()
    step(lambda: api.delete("/igor/reservations/gone", as_user="dave"),
         ("igor reservation 'gone' on demo has been deleted", (C,), ()))
    # accounts and groups
    step(lambda: api.post("/igor/users", as_user="dave", json={"name": "erin", "email": "erin@example.com"}),
         ("igor account created", ("erin@example.com",), ()))
    step(lambda: api.patch("/igor/users/carol", as_user="dave", json={"reset": True}),
         ("igor account password reset", (C,), ()))
    step(lambda: api.patch("/igor/groups/team", as_user="alice", json={"add": ["carol"]}),
         ("igor: you have been added to group 'team'", (C,), ()))
    step(lambda: api.patch("/igor/groups/team", as_user="alice", json={"addOwners": ["bob"]}),
         ("igor: you have been added as an owner of group 'team'", (B,), ()))
    step(lambda: api.patch("/igor/groups/team", as_user="alice", json={"rmvOwners": ["bob"]}),
         ("igor: you have been removed from the owner list of group 'team'", (B,), ()))
    step(lambda: api.patch("/igor/groups/team", as_user="alice", json={"remove": ["carol"]}),
         ("igor: you have been removed from group 'team'", (C,), ()))
    step(lambda: api.patch("/igor/groups/team", as_user="alice", json={"name": "crew"}),
         ("igor: group 'team' has been renamed", (A, B), ()))
    assert D  # dave acted as the admin throughout: nobody mails an admin about their own action


def test_mail_queues_while_the_smtp_server_is_down_and_arrives_once_it_is_back(mail_world) -> None:
    world, smtp = mail_world
    world.tick()
    smtp.handler.received.clear()
    smtp.stop()
    world.reserve("queued", "dn1", 0, 600)
    world.tick()
    with db_session:
        row = world.services.db.Event.select(lambda e: e.key == "reservation-started").first()
        assert row.status == "pending" and row.attempts == 1 and row.last_error
    smtp.start()
    world.tick()  # still backing off
    assert delivered(smtp) == []
    world.tick(1)
    assert delivered(smtp) == [("igor reservation 'queued' on demo has started", ("alice@example.com",), ())]
    world.tick(10)
    assert len(smtp.received) == 1  # once

