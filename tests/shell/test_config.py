"""shell.yaml: the commented default file, good values, and bad ones named by key."""

from __future__ import annotations

from pathlib import Path

from igor_shell import config


def test_first_start_writes_the_commented_defaults(tmp_path: Path) -> None:
    settings, problems = config.load(tmp_path)
    assert (settings, problems) == (config.ShellSettings(), [])
    written = (tmp_path / "shell.yaml").read_text()
    assert written == config.DEFAULT_FILE and "# When to page" in written
    assert config.load(tmp_path) == (config.ShellSettings(), [])  # the default file reads back as the defaults


def test_values(tmp_path: Path) -> None:
    (tmp_path / "shell.yaml").write_text("pager: most\npaging: always\nvi: true\nrefresh: 0\n")
    assert config.load(tmp_path) == (config.ShellSettings(pager="most", paging="always", vi=True, refresh=0.0), [])


def test_bad_values_are_named_and_defaults_used() -> None:
    settings, problems = config.parse("paging: sometimes\nvi: maybe\nrefresh: -1\npager: 3\ncolour: red\n", "S")
    assert settings == config.ShellSettings()
    assert problems == [
        "S: paging must be one of auto, always, never, got 'sometimes'",
        "S: vi must be true or false, got 'maybe'",
        "S: refresh must be a number of seconds >= 0, got -1",
        "S: pager must be a command (text), got 3",
        "S: unknown setting 'colour' (known: pager, paging, vi, refresh)",
    ]
    assert config.parse("a: [", "S")[1][0].startswith("S: not valid YAML")
    assert config.parse("- a\n", "S")[1] == ["S: expected key: value settings; using the defaults"]


def test_no_home_means_defaults() -> None:
    assert config.load(None) == (config.ShellSettings(), [])
