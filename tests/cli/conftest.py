"""Fixtures of the CLI end-to-end tests: one live demo server per test module, and an ``igor`` runner per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.live import Igor
from tests.test_server import running_demo


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of an ``igor-server --demo`` shared by the tests of one module."""
    with running_demo(tmp_path_factory.mktemp("server") / "home") as (base, _proc):
        yield base


@pytest.fixture
def igor(server: str, tmp_path: Path) -> Igor:
    """The ``igor`` executable with a fresh client home (not logged in)."""
    return Igor(server, tmp_path / "client")
