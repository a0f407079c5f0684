"""Syntax highlighting of the ``igor>`` input line, driven by :data:`igor.cli.grammar.GRAMMAR`.

This module owns how a line *looks* while it is typed: :class:`IgorLexer` splits it the way the REPL will
(shlex-like words, quotes with spaces, ``--flag=value``, ``-n4``, clustered short switches, unique long-option
prefixes as argparse accepts them) and gives every piece a style class; :data:`STYLE` gives the classes colours.

Classes: ``command`` (noun, verb, shell word), ``flag``, ``hosts`` (node expressions), ``duration``, ``time``
(datetimes), ``number`` (counts, integers), ``string`` (quoted text), ``value`` (a valid choice) and ``error``
(unknown noun, verb or flag, a value that does not fit its flag's kind, an extra argument). Values are judged by
the kind of the flag or positional they belong to; words tied to no typed kind (free text, unknown context) are
coloured by shape only when the shape is unmistakable (``kn[1-4]``, ``3d5h``, ``Jan-2-27T15:04``, ``42``).

Start-up matters (the shell must be up in under 300 ms), so the shapes are plain regular expressions: nothing
here imports :mod:`igor.nodeset`, :mod:`igor.timefmt` or ClusterShell. The checks are therefore close to, not
identical with, what the batch CLI enforces (e.g. a datetime's day-of-month is not checked against the month).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.lexers import Lexer
from prompt_toolkit.styles import Style

from igor.cli.grammar import GRAMMAR, Flag, Noun, Verb

__all__ = ["STYLE", "IgorLexer", "lex_line"]

Fragment = tuple[str, str]

COMMAND, ERROR, FLAG = "class:command", "class:error", "class:flag"
HOSTS, DURATION, TIME = "class:hosts", "class:duration", "class:time"
NUMBER, STRING, VALUE, PLAIN = "class:number", "class:string", "class:value", ""

#: Solarized accents: picked to stay readable on both dark and light backgrounds; errors are also underlined so
#: they do not depend on seeing red.
STYLE = Style.from_dict({
    "command": "bold #268bd2",
    "flag": "#2aa198",
    "hosts": "#859900",
    "duration": "#b58900",
    "time": "#d33682",
    "number": "#6c71c4",
    "string": "#cb4b16",
    "value": "#268bd2",
    "error": "#dc322f underline",
})

#: First words the REPL handles itself (``help res create`` becomes ``res create --help``).
SHELL_WORDS = ("exit", "quit", "help")

# Flags argparse adds around the grammar (see igor.cli.main): at the root, on every noun and on every verb.
_JSON = Flag("json", None, "bool")
_SIMPLE = Flag("simple", "x", "bool")
_CONFIG = Flag("config", None, "str")
_HELP = Flag("help", "h", "bool")
_ROOT_FLAGS = (_JSON, _SIMPLE, _CONFIG, Flag("version", "v", "bool"), _HELP)
_NOUN_FLAGS = (_JSON, _SIMPLE, _CONFIG, _HELP)

_SPACE = " \t\r\n"
_QUOTES = "'\"\\"
_DIGITS = re.compile(r"[0-9]+")
_INT = re.compile(r"[+-]?[0-9]+")
_NEGATIVE = re.compile(r"-[0-9]+$|-[0-9]*\.[0-9]+")  # argparse takes these for values, not options
# timefmt.parse_duration: bare minutes, or [Nd] then Go-style h/m/s terms (decimals allowed)
_DURATION = re.compile(r"[0-9]+|(?=.)(?:[0-9]+d)?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[hms])*")
_DURATION_UNITS = re.compile(r"(?:[0-9]+d)?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[hms])*(?<=[dhms])")
_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
_COMPACT = re.compile(rf"(?i:{_MONTHS})-[0-9]{{1,2}}-[0-9]{{2}}[Tt][0-9]{{1,2}}:[0-9]{{2}}")
_ISO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?"
                  r"(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?")
# nodeset: names of [A-Za-z0-9._-] and [ranges], items split by commas outside brackets, one trailing comma
_RANGE = r"[0-9]+(?:-[0-9]+)?"
# one name character or one bracket group per repetition: ``(?:[…]+|…)+`` would backtrack exponentially on a long
# word that fails to match (seen: the shell hung on a generated line)
_ITEM = rf"(?:[A-Za-z0-9._-]|\[{_RANGE}(?:,{_RANGE})*\])+"
_HOSTS = re.compile(rf"{_ITEM}(?:,{_ITEM})*,?")
_BOUNDS = re.compile(r"([0-9]+)-([0-9]+)")


class _Word(NamedTuple):
    start: int  # offset in the line
    raw: str  # as typed
    text: str  # as shlex would hand it to the CLI
    quoted: bool
    open: bool  # an unterminated quote (or a trailing backslash): runs to the end of the line


# --- words ------------------------------------------------------------------------------------------------------


def _unquote(raw: str) -> tuple[str, bool, bool]:
    """POSIX shlex's reading of one word: ``(text, quoted, unterminated)``."""
    out: list[str] = []
    quoted, i, n = False, 0, len(raw)
    while i < n:
        c = raw[i]
        if c == "\\":
            if i + 1 == n:
                return "".join(out), quoted, True
            out.append(raw[i + 1])
            i += 2
        elif c in "'\"":
            quoted, j = True, i + 1
            while j < n and raw[j] != c:
                if c == '"' and raw[j] == "\\" and j + 1 < n and raw[j + 1] in '"\\':
                    j += 1
                out.append(raw[j])
                j += 1
            if j >= n:
                return "".join(out), True, True
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out), quoted, False


def _word(start: int, raw: str) -> _Word:
    return _Word(start, raw, *_unquote(raw))


def _split(line: str) -> list[_Word]:
    """The line's words, as shlex would split it (an unterminated quote swallows the rest of the line)."""
    words: list[_Word] = []
    i, n = 0, len(line)
    while i < n:
        if line[i] in _SPACE:
            i += 1
            continue
        start = i
        while i < n and line[i] not in _SPACE:
            c = line[i]
            if c == "\\":
                i += 2
            elif c in "'\"":
                i += 1
                while i < n and line[i] != c:
                    i += 2 if c == '"' and line[i] == "\\" else 1
                i += 1
            else:
                i += 1
        i = min(i, n)
        words.append(_word(start, line[start:i]))
    return words


# --- values -----------------------------------------------------------------------------------------------------


def _is_hosts(text: str) -> bool:
    if not _HOSTS.fullmatch(text) or text == ",":
        return False
    return all(int(lo) <= int(hi) for lo, hi in _BOUNDS.findall("".join(re.findall(r"\[[^\]]*\]", text))))


def _is_duration(text: str) -> bool:
    return _DURATION.fullmatch("".join(text.split())) is not None


def _is_time(text: str) -> bool:
    stripped = text.strip()
    return _COMPACT.fullmatch(stripped) is not None or _ISO.fullmatch(stripped) is not None


def _shape(text: str) -> str:
    """The class of a bare word tied to no typed kind: only unmistakable shapes get a colour."""
    if _DIGITS.fullmatch(text):
        return NUMBER
    if _is_time(text):
        return TIME
    if _DURATION_UNITS.fullmatch(text):
        return DURATION
    if "[" in text and _is_hosts(text):
        return HOSTS
    return PLAIN


def _kind(flag: Flag) -> str:
    """The flag's kind for highlighting: flags completed from host names are node expressions."""
    if flag.values == "host" and flag.kind in ("name", "list"):
        return "hosts"
    if flag.values == "host" and flag.kind == "str":  # res speculate -n: "a count (4) or nodes (dn[1-4])"
        return "nodes"
    return flag.kind


def _value_class(word: _Word, flag: Flag | None) -> str:
    """The class of a flag's value or a positional; ``flag`` ``None``: tied to nothing known."""
    if word.open:
        return STRING
    text, kind = word.text, _kind(flag) if flag is not None else "str"
    if kind == "duration":
        return DURATION if _is_duration(text) else ERROR
    if kind == "datetime":
        return TIME if _is_time(text) else ERROR
    if kind == "when":
        return DURATION if _is_duration(text) else TIME if _is_time(text) else ERROR
    if kind == "hosts":
        return HOSTS if _is_hosts(text.strip()) else ERROR
    if kind == "nodes":
        if _DIGITS.fullmatch(text.strip()):
            return NUMBER if int(text) >= 1 else ERROR
        return HOSTS if _is_hosts(text.strip()) else ERROR
    if kind == "int":
        return NUMBER if _INT.fullmatch(text.strip()) else ERROR
    if kind == "choice" and flag is not None:
        return VALUE if text in flag.choices else ERROR
    if word.quoted:
        return STRING
    return PLAIN if kind == "name" else _shape(text)


# --- options ----------------------------------------------------------------------------------------------------


def _verb_flags(verb: Verb) -> tuple[Flag, ...]:
    """The verb's options plus the ones argparse adds, minus any whose name or letter the verb already uses."""
    names = {f.name for f in verb.flags}
    shorts = {f.short for f in verb.flags if f.short}
    extra: list[Flag] = []
    for common in _NOUN_FLAGS:
        if common.name in names:
            continue
        extra.append(Flag(common.name, None, common.kind) if common.short in shorts else common)
    return tuple(f for f in verb.flags if not f.positional) + tuple(extra)


def _lookup(option: str, flags: Sequence[Flag]) -> list[Flag]:
    """The flags ``option`` names: an exact ``--name``/``-s``, else every long name it is a prefix of (argparse's
    abbreviations; more than one is ambiguous)."""
    for f in flags:
        if option == f"--{f.name}" or (f.short and option == f"-{f.short}"):
            return [f]
    if option.startswith("--") and len(option) > 2:
        return [f for f in flags if f"--{f.name}".startswith(option)]
    return []


def _is_option(text: str) -> bool:
    return text.startswith("-") and text != "-" and not _NEGATIVE.fullmatch(text)


def _split_value(word: _Word, at: int, flag: Flag) -> list[Fragment]:
    """``--name=value`` / ``-nvalue``: the option part as a flag, the rest judged as the flag's value."""
    if any(c in _QUOTES for c in word.raw[:at]):  # a quoted option part: too odd to take apart
        return [(FLAG, word.raw)]
    value = _word(word.start + at, word.raw[at:])
    return [(FLAG, word.raw[:at]), (_value_class(value, flag), value.raw)]


def _option(word: _Word, flags: Sequence[Flag]) -> tuple[list[Fragment], Flag | None, bool]:
    """One option word: ``(fragments, flag still waiting for its value, known)``."""
    text = word.text
    found = _lookup(text, flags)
    if len(found) == 1:
        return [(FLAG, word.raw)], (found[0] if found[0].kind != "bool" else None), True
    if text.startswith("--"):
        if "=" in text and not found:
            name = text.split("=", 1)[0]
            named = _lookup(name, flags)
            if len(named) == 1 and named[0].kind != "bool":
                return _split_value(word, len(name) + 1, named[0]), None, True
        return [(ERROR, word.raw)], None, False
    if "=" in text:  # -n=4 means -n 4
        named = _lookup(text.split("=", 1)[0], flags)
        if len(named) == 1 and named[0].kind != "bool":
            return _split_value(word, 3, named[0]), None, True
    for i, letter in enumerate(text[1:], start=1):  # -ac: switches; -n4 / -an4: the rest is the value
        named = _lookup(f"-{letter}", flags)
        if not named:
            return [(ERROR, word.raw)], None, False
        if named[0].kind != "bool":
            if i + 1 == len(text):
                return [(FLAG, word.raw)], named[0], True
            return _split_value(word, i + 1, named[0]), None, True
    return [(FLAG, word.raw)], None, True


# --- the line ---------------------------------------------------------------------------------------------------


class _Walk:
    """One pass over a line's words, filling ``classes`` (one fragment list per word)."""

    def __init__(self, words: list[_Word], grammar: Sequence[Noun]) -> None:
        self.words = words
        self.grammar = grammar
        self.classes: list[list[Fragment]] = [[(PLAIN, w.raw)] for w in words]

    def line(self, i: int = 0) -> None:
        i = self.options(i, _ROOT_FLAGS)
        if i >= len(self.words):
            return
        first = self.words[i].text
        if first in SHELL_WORDS and i == 0:
            self.set(i, COMMAND)
            if first == "help":
                self.line(i + 1)
            return
        noun = next((n for n in self.grammar if n.name == first), None)
        if noun is None:
            self.set(i, ERROR)
            self.shapes(i + 1)
            return
        self.set(i, COMMAND)
        if noun.is_command:
            self.arguments(i + 1, noun.verbs[0])
            return
        i = self.options(i + 1, _NOUN_FLAGS)
        if i >= len(self.words):
            return
        verb = next((v for v in noun.verbs if v.name == self.words[i].text), None)
        if verb is None:
            self.set(i, ERROR)
            self.shapes(i + 1)
            return
        self.set(i, COMMAND)
        self.arguments(i + 1, verb)

    def set(self, i: int, style: str) -> None:
        self.classes[i] = [(style, self.words[i].raw)]

    def shapes(self, i: int) -> None:
        """After an unknown noun or verb: options look like options, other words are judged by shape."""
        for j in range(i, len(self.words)):
            word = self.words[j]
            self.set(j, FLAG if _is_option(word.text) and not word.open else _value_class(word, None))

    def options(self, i: int, flags: Sequence[Flag]) -> int:
        """Options (with their values) before the noun or verb; returns the index of the first other word."""
        pending: Flag | None = None
        while i < len(self.words):
            word = self.words[i]
            if pending is not None and not _is_option(word.text):
                self.set(i, _value_class(word, pending))
                pending = None
            elif _is_option(word.text):
                self.classes[i], pending, _ = _option(word, flags)
            else:
                return i
            i += 1
        return i

    def arguments(self, i: int, verb: Verb) -> None:
        flags = _verb_flags(verb)
        positionals = [f for f in verb.flags if f.positional]
        pending: Flag | None = None
        guessing = only_positionals = False  # guessing: the word after an unknown option may be its value
        for j in range(i, len(self.words)):
            word = self.words[j]
            if not only_positionals and word.text == "--" and not word.quoted:
                self.set(j, FLAG)
                only_positionals, pending, guessing = True, None, False
            elif not only_positionals and _is_option(word.text):
                self.classes[j], pending, known = _option(word, flags)
                guessing = not known
            elif pending is not None:
                self.set(j, _value_class(word, pending))
                pending = None
            elif guessing:
                self.set(j, _value_class(word, None))
                guessing = False
            elif positionals:
                self.set(j, _value_class(word, positionals.pop(0)))
            else:
                self.set(j, ERROR)  # argparse: "unrecognized arguments"


def lex_line(line: str, grammar: Sequence[Noun] = GRAMMAR) -> StyleAndTextTuples:
    """Highlight one input line.

    Args:
        line: The text of the line.
        grammar: The command table (default: the client's).

    Returns:
        ``(style class, text)`` fragments whose texts join back to exactly ``line``.
    """
    words = _split(line)
    walk = _Walk(words, grammar)
    walk.line()
    fragments: StyleAndTextTuples = []
    pos = 0
    for word, pieces in zip(words, walk.classes, strict=True):
        if word.start > pos:
            fragments.append((PLAIN, line[pos:word.start]))
        fragments.extend(piece for piece in pieces if piece[1])
        pos = word.start + len(word.raw)
    if pos < len(line):
        fragments.append((PLAIN, line[pos:]))
    return fragments


class IgorLexer(Lexer):
    """A prompt_toolkit lexer for ``igor>`` lines: see the module docstring for what gets which class."""

    def __init__(self, grammar: Sequence[Noun] = GRAMMAR) -> None:
        self.grammar = grammar

    def lex_document(self, document: Document) -> Callable[[int], StyleAndTextTuples]:
        """Highlight ``document`` line by line.

        Args:
            document: The buffer's document.

        Returns:
            A function from a line number to that line's fragments (``[]`` past the last line).
        """
        lines = document.lines
        cache: dict[int, StyleAndTextTuples] = {}

        def get_line(lineno: int) -> StyleAndTextTuples:
            if not 0 <= lineno < len(lines):
                return []
            if lineno not in cache:
                cache[lineno] = lex_line(lines[lineno], self.grammar)
            return cache[lineno]

        return get_line
