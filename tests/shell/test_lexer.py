"""The input-line lexer, through ``Document`` and ``lex_document`` (no terminal)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prompt_toolkit.document import Document
from prompt_toolkit.styles import Style

from igor_shell.lexer import STYLE, IgorLexer

C, E, F = "class:command", "class:error", "class:flag"
H, D, T, N = "class:hosts", "class:duration", "class:time", "class:number"
S, V = "class:string", "class:value"


def lex(text: str, lineno: int = 0) -> list[tuple[str, str]]:
    return IgorLexer().lex_document(Document(text))(lineno)


def words(text: str) -> list[tuple[str, str]]:
    """The fragments without the whitespace between words."""
    fragments = lex(text)
    assert "".join(t for _, t in fragments) == text
    return [(style, t) for style, t in fragments if t.strip()]


@pytest.mark.parametrize(("line", "expected"), [
    ("res create exp1 -n 4 -e 3d5h",
     [(C, "res"), (C, "create"), ("", "exp1"), (F, "-n"), (N, "4"), (F, "-e"), (D, "3d5h")]),
    ("res create exp1 -n kn[1-4,7] -s Jan-2-27T15:04 -e 2027-01-05T10:00",
     [(C, "res"), (C, "create"), ("", "exp1"), (F, "-n"), (H, "kn[1-4,7]"), (F, "-s"), (T, "Jan-2-27T15:04"),
      (F, "-e"), (T, "2027-01-05T10:00")]),
    ("res edit exp1 --extend 2h", [(C, "res"), (C, "edit"), ("", "exp1"), (F, "--extend"), (D, "2h")]),
    ("res edit exp1 --extend 2027-01-02T10:00",
     [(C, "res"), (C, "edit"), ("", "exp1"), (F, "--extend"), (T, "2027-01-02T10:00")]),
    ("res edit exp1 --extend soon", [(C, "res"), (C, "edit"), ("", "exp1"), (F, "--extend"), (E, "soon")]),
    ("host block kn[3-5]", [(C, "host"), (C, "block"), (H, "kn[3-5]")]),
    ("host block kn[5-3]", [(C, "host"), (C, "block"), (E, "kn[5-3]")]),
    ("policy apply default kn1,kn[3-5]", [(C, "policy"), (C, "apply"), ("", "default"), (H, "kn1,kn[3-5]")]),
    ("host show --powered true -s blocked",
     [(C, "host"), (C, "show"), (F, "--powered"), (V, "true"), (F, "-s"), ("", "blocked")]),
    ("host show --powered maybe", [(C, "host"), (C, "show"), (F, "--powered"), (E, "maybe")]),
    ("res speculate -n 4 -d 90 --limit 3",
     [(C, "res"), (C, "speculate"), (F, "-n"), (N, "4"), (F, "-d"), (D, "90"), (F, "--limit"), (N, "3")]),
    ("res speculate -n 4 --limit few",
     [(C, "res"), (C, "speculate"), (F, "-n"), (N, "4"), (F, "--limit"), (E, "few")]),
    ("res edit exp1 --add 0", [(C, "res"), (C, "edit"), ("", "exp1"), (F, "--add"), (E, "0")]),
    ("login -u alice", [(C, "login"), (F, "-u"), ("", "alice")]),
    ("show -ac --json", [(C, "show"), (F, "-ac"), (F, "--json")]),
    ("--json res show -a", [(F, "--json"), (C, "res"), (C, "show"), (F, "-a")]),
    ("help res create", [(C, "help"), (C, "res"), (C, "create")]),
    ("exit", [(C, "exit")]),
])
def test_realistic_lines(line: str, expected: list[tuple[str, str]]) -> None:
    assert words(line) == expected


def test_whitespace_is_kept_as_plain_fragments() -> None:
    assert lex("res  show\t-a ") == [(C, "res"), ("", "  "), (C, "show"), ("", "\t"), (F, "-a"), ("", " ")]


def test_bad_duration_is_an_error() -> None:
    assert words("res create exp1 -e abc") == [(C, "res"), (C, "create"), ("", "exp1"), (F, "-e"), (E, "abc")]
    assert words("res create exp1 --duration 3x")[-1] == (E, "3x")
    assert words("policy create p -t -5")[-1] == (E, "-5")  # a negative number is a value, and a bad one


def test_bad_datetime_is_an_error() -> None:
    assert words("res create exp1 -s Foo-2-27T15:04")[-1] == (E, "Foo-2-27T15:04")
    assert words("res create exp1 -s 3d")[-1] == (E, "3d")


def test_unknown_noun_is_an_error_and_the_rest_is_judged_by_shape() -> None:
    assert words("bogus x kn[1-3] 3d -q") == [(E, "bogus"), ("", "x"), (H, "kn[1-3]"), (D, "3d"), (F, "-q")]


def test_unknown_verb_is_an_error() -> None:
    assert words("res frob exp1") == [(C, "res"), (E, "frob"), ("", "exp1")]


def test_unknown_flag_is_an_error_and_its_value_is_judged_by_shape() -> None:
    # res create has no -t or -w: the flags are errors, the words after them coloured by shape only
    assert words("res create exp1 -n 4 -t 3d5h") == [
        (C, "res"), (C, "create"), ("", "exp1"), (F, "-n"), (N, "4"), (E, "-t"), (D, "3d5h")]
    assert words("res create exp1 -w kn[1-4,7] -s Jan-2-27T15:04") == [
        (C, "res"), (C, "create"), ("", "exp1"), (E, "-w"), (H, "kn[1-4,7]"), (F, "-s"), (T, "Jan-2-27T15:04")]


def test_ambiguous_abbreviation_is_an_error_unique_one_a_flag() -> None:
    # show has --sort-start, --sort-name and --sort-owner: argparse refuses --sort as ambiguous
    assert words("show --sort start") == [(C, "show"), (E, "--sort"), ("", "start")]
    assert words("show --sort-s") == [(C, "show"), (F, "--sort-s")]
    assert words("res edit exp1 --extend-m")[-1] == (F, "--extend-m")


def test_extra_positional_is_an_error() -> None:
    assert words("host block kn1 kn2") == [(C, "host"), (C, "block"), (H, "kn1"), (E, "kn2")]


def test_flag_equals_value() -> None:
    assert words("res edit exp1 --name=value") == [
        (C, "res"), (C, "edit"), ("", "exp1"), (F, "--name="), ("", "value")]
    assert words("res edit exp1 --extend=3d")[-2:] == [(F, "--extend="), (D, "3d")]
    assert words("res edit exp1 --extend=never")[-2:] == [(F, "--extend="), (E, "never")]
    assert words("res show --all=yes")[-1] == (E, "--all=yes")  # a switch takes no value


def test_short_flag_with_attached_value() -> None:
    assert words("res create exp1 -n4 -e=2h")[-4:] == [(F, "-n"), (N, "4"), (F, "-e="), (D, "2h")]


def test_quoted_description_with_spaces() -> None:
    line = 'res create exp1 -n 4 --desc "a long run, 3 days"'
    assert words(line)[-2:] == [(F, "--desc"), (S, '"a long run, 3 days"')]
    assert words("group create g --desc='two words'")[-2:] == [(F, "--desc="), (S, "'two words'")]
    # a quoted typed value is still checked as its kind
    assert words('res create exp1 -s "2027-01-02 10:00"')[-1] == (T, '"2027-01-02 10:00"')


def test_unterminated_quote_runs_to_end_of_line() -> None:
    line = 'res create exp1 --desc "still typing -n 4'
    assert words(line)[-2:] == [(F, "--desc"), (S, '"still typing -n 4')]
    assert lex("cluster motd 'x y")[-1] == (S, "'x y")


def test_empty_and_blank_lines() -> None:
    assert lex("") == []
    assert lex("   ") == [("", "   ")]


def test_lines_past_the_end_are_empty_and_each_line_is_lexed() -> None:
    get_line = IgorLexer().lex_document(Document("res show\nhost block kn1"))
    assert [s for s, t in get_line(1) if t.strip()] == [C, C, H]
    assert get_line(2) == []


def test_style_colours_every_class() -> None:
    assert isinstance(STYLE, Style)
    rules = dict(STYLE.style_rules)
    for name in ("command", "error", "flag", "hosts", "duration", "time", "number", "string", "value"):
        assert rules.get(name), name


_PIECES = st.sampled_from([
    "res", "create", "edit", "host", "block", "show", "bogus", "exp1", "-n", "-d", "-s", "--extend", "--desc",
    "--name=", "--", "-", "-ac", "kn[1-4]", "kn[", "3d5h", "90", "Jan-2-27T15:04", "'", '"', "\\", "=", ",", " ",
    "  ", "\t", "a b", "x",
])


@given(st.lists(_PIECES, max_size=12).map("".join))
def test_fragments_rejoin_to_the_line(line: str) -> None:
    fragments = lex(line)
    assert "".join(t for _, t in fragments) == line
    assert all(t for _, t in fragments)


@given(st.text(max_size=60))
def test_fragments_rejoin_to_any_text(line: str) -> None:
    line = line.split("\n", 1)[0]
    assert "".join(t for _, t in lex(line)) == line


def test_long_words_that_almost_match_lex_in_linear_time() -> None:
    import threading

    lines = ["host block " + "dn" * 3000 + "[", "res create x -n " + "a.b-" * 2000 + ",,", "show " + "x" * 20000 + "]"]
    done: list[int] = []
    worker = threading.Thread(target=lambda: done.extend(len(lex(line)) for line in lines), daemon=True)
    worker.start()
    worker.join(10)  # the old host pattern backtracked exponentially here and never finished
    assert len(done) == len(lines)
