"""Fixtures for the lifecycle worker: a populated API on a settable clock, and recording stand-ins for the boot
writer, the power controller and the mailer (the real ones have their own tests and the end-to-end tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pony.orm import db_session

from igor.db import init_db
from igor.services import Services
from igor.timefmt import to_minutes
from igor.worker import LifecycleWorker
from tests.api.conftest import Api
from tests.api.test_reservations import Clock, populate


class FakeBoot:
    """Boot files by MAC, and every call."""

    def __init__(self) -> None:
        self.files: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str]] = []
        self.fail: set[str] = set()

    def write(self, host: dict[str, str], spec: dict[str, Any]) -> None:
        self.calls.append(("write", host["name"]))
        if host["name"] in self.fail:
            raise OSError("disk full")
        self.files[host["mac"]] = dict(spec, host=host["name"])

    def remove(self, host: dict[str, str]) -> None:
        self.calls.append(("remove", host["name"]))
        self.files.pop(host["mac"], None)


class FakePower:
    """Power states by host name (everything starts on), and every action."""

    def __init__(self) -> None:
        self.state: dict[str, str] = {}
        self.actions: list[tuple[str, str]] = []
        self.fail: set[str] = set()

    def configured(self, target: Any, action: str) -> bool:
        return True

    def status(self, targets: list[Any]) -> dict[str, str]:
        return {t.name: self.state.get(t.name, "on") for t in targets}

    def act(self, targets: list[Any], action: str) -> dict[str, str]:
        errors = {}
        for t in targets:
            if t.name in self.fail:
                errors[t.name] = "BMC not answering"
                continue
            self.actions.append((t.name, action))
            self.state[t.name] = action
        return errors


class FakeMailer:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, message: Any) -> None:
        self.sent.append(message)


class World:
    """The API, its services, the clock and a worker with recording collaborators."""

    def __init__(self, api: Api, clock: Clock) -> None:
        self.api = api
        self.services = api.services
        self.clock = clock
        self.boot = FakeBoot()
        self.power = FakePower()
        self.mailer = FakeMailer()
        self.worker = LifecycleWorker(self.services, boot=self.boot, power=self.power, mailer=self.mailer,
                                      holder="test-worker")

    def tick(self, minutes: int = 0) -> None:
        self.clock.move(minutes)
        assert self.worker.tick()

    def reserve(self, name: str, hosts: str, start: int, minutes: int, user: str = "alice", **extra: Any) -> None:
        """Reserve ``hosts`` from ``start`` minutes after the clock's minute, for ``minutes``."""
        now = to_minutes(self.clock())
        body = {"name": name, "nodeList": hosts, "start": (now + start) * 60, "duration": (now + start + minutes) * 60,
                **extra}
        r = self.api.post("/igor/reservations", as_user=user, json=body)
        assert r.status_code == 201, r.json

    @db_session
    def res(self, name: str) -> Any:
        r = self.services.db.Reservation.get(name=name)
        return None if r is None else {"installed": r.installed, "error": r.install_error or "",
                                       "hosts": sorted(h.name for h in r.hosts)}

    @db_session
    def states(self, *names: str) -> dict[str, int]:
        return {h.name: h.state for h in self.services.db.Host.select() if h.name in names}

    @db_session
    def events(self, kind: str | None = None) -> list[tuple[str, str, str]]:
        return sorted((e.kind, e.key or "", e.status) for e in self.services.db.Event.select()
                      if kind is None or e.kind == kind)

    @db_session
    def history(self, name: str) -> list[str]:
        db = self.services.db
        return [h.status for h in db.HistoryRecord.select(lambda h: h.name == name).order_by(db.HistoryRecord.id)]

    def distro(self, name: str = "rocky", *, default: bool = False, kernel_args: str = "console=ttyS0") -> None:
        """Register an image (as igor-admin) and create distro ``name`` on it, public (or the default)."""
        home = Path(str(self.services.config.igor_home))
        kernel, initrd = home / f"{name}.vmlinuz", home / f"{name}.img"
        kernel.write_bytes(b"kernel-" + name.encode())
        initrd.write_bytes(b"initrd-" + name.encode())
        admin = self.services.auth.principal_for("igor-admin")
        image = self.services.images.register_files(admin, kernel, initrd, breed="redhat")
        self.services.distros.create(admin, {"name": name, "imageRef": image.name, "public": not default,
                                             "default": default, "kernelArgs": kernel_args})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def world_factory(make_config, clock: Clock):
    made: list[Services] = []

    def build(data: dict[str, Any] | None = None) -> World:
        config = make_config(data)
        services = Services(init_db(config.database.url), config, clock)
        services.bootstrap()
        made.append(services)
        return World(populate(Api(services)), clock)

    yield build
    for services in made:
        services.db.disconnect()


@pytest.fixture
def world(world_factory) -> World:
    return world_factory()
