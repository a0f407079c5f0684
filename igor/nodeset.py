"""Node expressions: parsing, validating and folding the names users type for nodes.

This module owns every string-to-node conversion in Igor (house style point 9): a node request is
either a *count* (``"4"``) or an *expression* (``kn7``, ``kn1,kn7``, ``kn[3,7-9,22-35]``,
``kn1,kn[3-5]``). Everything else in Igor works with the values produced here:

* :class:`NodeList` -- an immutable, naturally sorted, de-duplicated set of node names whose
  ``str()`` is the folded form (``kn[1-5,20]``).
* :class:`ClusterRange` -- a cluster's naming scheme, ``<prefix><seq>`` with ``lo <= seq <= hi``
  (Igor v2's ``Range{prefix,min,max}``). It expands expressions into names or sequence numbers,
  checks them against the range (and optionally against the nodes that exist), and folds them back.
* :func:`parse_request` -- tells a count from an expression.
* :func:`fold_names` -- folds arbitrary names with any prefixes (Igor v2's ``UnsplitList``).

Parsing and folding are done by ClusterShell's ``NodeSet``/``RangeSet``; this module adds Igor's
grammar on top (a deliberately smaller one: no groups, operators or steps) so that every mistake
is reported as a :class:`~igor.errors.BadInput` naming the offending value.

Differences from Igor v2 (reference section 5.1), on purpose:

* A plain comma list (``kn9,kn2,kn2``) is validated, sorted and de-duplicated exactly like the
  bracketed form (v2 returned it as given, checking only the prefix).
* A range whose bounds have different widths (``kn[08-9]``) means the unpadded numbers, as in v2;
  ClusterShell alone would reject it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass

from ClusterShell.NodeSet import RESOLVER_NOGROUP, NodeSet, NodeSetException
from ClusterShell.RangeSet import RangeSet, RangeSetException

from igor.errors import BadInput

__all__ = [
    "MAX_NAMES",
    "ClusterRange",
    "NodeList",
    "fold_names",
    "parse_request",
]

#: Upper bound on the names one generic expression may expand to. It keeps ``foo[1-999999999]``
#: from exhausting memory; cluster expressions are bounded by the cluster's range instead.
MAX_NAMES = 100_000

# Host-name characters. Everything else ClusterShell would give a meaning to (``@`` groups,
# ``!&^`` operators, ``*`` wildcards, spaces) is refused up front with a clear message.
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
_EXPR_CHARS = _NAME_CHARS | frozenset("[],")
_RANGE_ITEM = re.compile(r"(\d+)(?:-(\d+))?")
_SEGMENT = re.compile(r"\[([^\]]*)\]|([^\[]+)")
_DIGITS = re.compile(r"(\d+)")


# --------------------------------------------------------------------------------------------
# Low-level grammar
# --------------------------------------------------------------------------------------------


def _bad_spec(expr: str, detail: str) -> BadInput:
    return BadInput(f"invalid range specification in {expr!r}: {detail}")


def _split_top(expr: str) -> list[str]:
    """Split a stripped, non-empty expression at the commas outside brackets.

    One trailing comma is tolerated (``foo,`` is ``foo``, as in Igor v2); any other empty item
    is an error. Bracket structure is checked here, once, for every caller.
    """
    for ch in expr:
        if ch not in _EXPR_CHARS:
            raise BadInput(f"invalid character {ch!r} in node expression {expr!r}")
    items: list[str] = []
    start = 0
    inside = False
    for i, ch in enumerate(expr):
        if ch == "[":
            if inside:
                raise _bad_spec(expr, f"nested '[' at position {i}")
            inside = True
        elif ch == "]":
            if not inside:
                raise _bad_spec(expr, f"unmatched ']' at position {i}")
            inside = False
        elif ch == "," and not inside:
            items.append(expr[start:i])
            start = i + 1
    if inside:
        raise _bad_spec(expr, "unterminated '['")
    items.append(expr[start:])
    if len(items) > 1 and items[-1] == "":
        items.pop()
    if "" in items:
        raise BadInput(f"empty item in node list {expr!r}")
    return items


def _parse_ranges(content: str, expr: str) -> tuple[str, list[tuple[int, int]]]:
    """Validate the inside of one ``[...]``.

    Returns:
        The content normalised for ``RangeSet`` (bounds of different widths lose their zero
        padding, as in Igor v2) and the ``(lo, hi)`` intervals it denotes.
    """
    if content == "":
        raise _bad_spec(expr, "empty brackets '[]'")
    normalised: list[str] = []
    intervals: list[tuple[int, int]] = []
    for item in content.split(","):
        match = _RANGE_ITEM.fullmatch(item)
        if match is None:
            shown = repr(item) if item else "an empty item"
            raise _bad_spec(expr, f"{shown} is not a number or a range like 3-7")
        lo_text, hi_text = match.group(1), match.group(2)
        if hi_text is None:
            normalised.append(lo_text)
            intervals.append((int(lo_text), int(lo_text)))
            continue
        lo, hi = int(lo_text), int(hi_text)
        if lo > hi:
            raise _bad_spec(expr, f"{item!r} runs backwards")
        if len(lo_text) != len(hi_text):
            lo_text, hi_text = str(lo), str(hi)
        normalised.append(f"{lo_text}-{hi_text}")
        intervals.append((lo, hi))
    return ",".join(normalised), intervals


def _format_intervals(prefix: str, intervals: Iterable[tuple[int, int]]) -> str:
    """Fold possibly huge intervals without enumerating them (for error messages)."""
    merged: list[list[int]] = []
    for lo, hi in sorted(intervals):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    parts = [str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in merged]
    if len(parts) == 1 and merged[0][0] == merged[0][1]:
        return f"{prefix}{parts[0]}"
    return f"{prefix}[{','.join(parts)}]"


def _natural_key(name: str) -> tuple[tuple[str | int, ...], str]:
    # re.split with a capturing group alternates text/number, so positions compare like with like;
    # the name itself breaks ties between kn8 and kn008.
    parts = _DIGITS.split(name)
    key = tuple(int(p) if i % 2 else p for i, p in enumerate(parts))
    return key, name


def _expand_generic(expr: str) -> list[str]:
    """Expand an expression with any prefixes (Igor v2 ``SplitList``) through ClusterShell."""
    rebuilt: list[str] = []
    total = 0
    for token in _split_top(expr):
        size = 1
        pieces: list[str] = []
        for match in _SEGMENT.finditer(token):
            if match.group(2) is not None:
                pieces.append(match.group(2))
                continue
            content, intervals = _parse_ranges(match.group(1), expr)
            size *= sum(hi - lo + 1 for lo, hi in intervals)
            pieces.append(f"[{content}]")
        total += size
        if total > MAX_NAMES:
            raise BadInput(f"node expression {expr!r} expands to more than {MAX_NAMES} names")
        rebuilt.append("".join(pieces))
    try:
        return list(NodeSet(",".join(rebuilt), resolver=RESOLVER_NOGROUP))
    except (NodeSetException, RangeSetException) as exc:  # pragma: no cover - grammar checked above
        raise BadInput(f"invalid node expression {expr!r}: {exc}") from exc


# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------


class NodeList:
    """An immutable set of node names, kept sorted naturally (``kn2`` before ``kn10``).

    ``str()`` gives the folded form (``kn[1-5,20]``), so callers never build or slice node strings
    themselves. Two lists are equal when they hold the same names.
    """

    __slots__ = ("_names",)

    def __init__(self, names: Iterable[str] = ()) -> None:
        """Build a list from names; duplicates are dropped.

        Raises:
            BadInput: a name is empty or contains a character a host name cannot have.
        """
        unique = set(names)
        for name in unique:
            _check_name(name)
        self._names: tuple[str, ...] = tuple(sorted(unique, key=_natural_key))

    @classmethod
    def parse(cls, expr: str) -> NodeList:
        """Expand an expression with any prefixes: ``"foo,bar[0-1]"`` -> foo, bar0, bar1.

        This is the prefix-agnostic form (Igor v2 ``SplitList``); use
        :meth:`ClusterRange.expand` for a cluster's own nodes.

        Raises:
            BadInput: the expression is empty or malformed (nested ``[``, unmatched ``]``,
                unterminated ``[``, a bad range item) or expands to more than ``MAX_NAMES`` names.
        """
        text = expr.strip()
        if not text:
            raise BadInput("empty node expression")
        return cls(_expand_generic(text))

    @property
    def names(self) -> tuple[str, ...]:
        """The names, sorted naturally."""
        return self._names

    def __len__(self) -> int:
        return len(self._names)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NodeList):
            return NotImplemented
        return self._names == other._names

    def __hash__(self) -> int:
        return hash(self._names)

    def __or__(self, other: NodeList) -> NodeList:
        return NodeList(self._names + other._names)

    def __and__(self, other: NodeList) -> NodeList:
        return NodeList(n for n in self._names if n in other)

    def __sub__(self, other: NodeList) -> NodeList:
        return NodeList(n for n in self._names if n not in other)

    def __str__(self) -> str:
        return fold_names(self._names)

    def __repr__(self) -> str:
        return f"NodeList({str(self)!r})"


def _is_number(text: str) -> bool:
    # str.isdigit alone accepts "²" and non-ASCII digits, which int() then rejects or misreads.
    return text.isascii() and text.isdigit()


def _check_name(name: str) -> None:
    if not name:
        raise BadInput("empty node name")
    for ch in name:
        if ch not in _NAME_CHARS:
            raise BadInput(f"invalid character {ch!r} in node name {name!r}")


def fold_names(names: Iterable[str]) -> str:
    """Fold names with any prefixes into the shortest expression ClusterShell finds.

    ``foo0..9, n0..9`` -> ``foo[0-9],n[0-9]``; ``foo0.bar1, foo1.bar1`` -> ``foo[0-1].bar1``.
    The result is deterministic (independent of input order and duplicates) and expands back to
    exactly the same names. An empty input gives ``""``.

    Raises:
        BadInput: a name is empty or contains a character a host name cannot have.
    """
    unique = set(names)
    for name in unique:
        _check_name(name)
    if not unique:
        return ""
    return str(NodeSet.fromlist(sorted(unique), resolver=RESOLVER_NOGROUP))


def fold_sequence(prefix: str, seqs: Iterable[int]) -> str:
    """Fold ``prefix<n>`` names given by their numbers: ``("kn", [1, 2, 3, 7])`` -> ``kn[1-3,7]``, one number ->
    ``kn7``, none -> ``""``. The same text :func:`fold_names` gives for unpadded names, without parsing them."""
    ordered = sorted(set(seqs))
    if not ordered:
        return ""
    if len(ordered) == 1:
        return f"{prefix}{ordered[0]}"
    parts = []
    lo = prev = ordered[0]
    for n in ordered[1:]:
        if n != prev + 1:
            parts.append(f"{lo}-{prev}" if prev != lo else str(lo))
            lo = n
        prev = n
    parts.append(f"{lo}-{prev}" if prev != lo else str(lo))
    return f"{prefix}[{','.join(parts)}]"


@dataclass(frozen=True)
class ClusterRange:
    """A cluster's node naming scheme: ``<prefix><seq>`` for ``lo <= seq <= hi``.

    Igor v2's ``Range{prefix,min,max}``. ``str(ClusterRange("kn", 1, 520))`` is ``kn[1-520]``.
    """

    prefix: str
    lo: int
    hi: int

    def __post_init__(self) -> None:
        if self.lo < 0 or self.lo > self.hi:
            raise BadInput(f"invalid cluster range {self.lo}-{self.hi} for prefix {self.prefix!r}")
        for ch in self.prefix:
            if ch not in _NAME_CHARS:
                raise BadInput(f"invalid character {ch!r} in cluster prefix {self.prefix!r}")

    def __str__(self) -> str:
        if self.lo == self.hi:
            return f"{self.prefix}[{self.lo}]"
        return f"{self.prefix}[{self.lo}-{self.hi}]"

    # -- expressions -> numbers / names ------------------------------------------------------

    def expand(self, expr: str | NodeList, existing: Collection[int] | None = None) -> NodeList:
        """Expand an expression into this cluster's node names (Igor v2 ``SplitRange``).

        ``kn[1-3,100]`` -> kn1, kn2, kn3, kn100. Zero padding is kept when every number has the
        width of the first (``kn[008-011,100]`` -> kn008 ... kn100); mixed widths drop it.

        Args:
            expr: A name, a comma list, a bracketed range or a mixture; or a :class:`NodeList`.
            existing: If given, the sequence numbers that exist; any other node is an error.

        Raises:
            BadInput: malformed expression, wrong prefix, number outside the range, or a node
                not in ``existing``.
        """
        texts = self._numbers(expr)
        seqs = self._checked(texts, existing)
        widths = {len(t) for t in texts}
        pad = widths.pop() if len(widths) == 1 else 0
        return NodeList(f"{self.prefix}{str(s).zfill(pad)}" for s in seqs)

    def seqs(
        self, expr: str | NodeList, existing: Collection[int] | None = None
    ) -> tuple[int, ...]:
        """The sorted, distinct sequence numbers of an expression: ``kn[007,3]`` -> ``(3, 7)``.

        Args:
            expr: As for :meth:`expand`.
            existing: If given, the sequence numbers that exist; any other node is an error.

        Raises:
            BadInput: as for :meth:`expand`.
        """
        return self._checked(self._numbers(expr), existing)

    def seq(self, name: str) -> int:
        """The sequence number of one node name: ``kn007`` -> 7.

        Raises:
            BadInput: not a single node of this cluster.
        """
        if "[" in name or "," in name:
            raise BadInput(f"{name!r} is not a single node name of cluster {self}")
        return self.seqs(name)[0]

    # -- numbers / names -> expressions ------------------------------------------------------

    def name(self, seq: int) -> str:
        """The node name of a sequence number: 7 -> ``kn7``."""
        return f"{self.prefix}{seq}"

    def nodes(self, seqs: Iterable[int]) -> NodeList:
        """The node names of sequence numbers, as a :class:`NodeList`."""
        return NodeList(self.name(s) for s in seqs)

    def fold_seqs(self, seqs: Iterable[int]) -> str:
        """Fold sequence numbers: ``[1, 2, 3, 4, 5, 20]`` -> ``kn[1-5,20]``; ``[7]`` -> ``kn7``.

        Raises:
            BadInput: nothing to fold, or a negative number.
        """
        unique = sorted(set(seqs))
        if not unique:
            raise BadInput("nothing to parse: no nodes to fold")
        if unique[0] < 0:
            raise BadInput(f"invalid sequence number {unique[0]} for cluster {self}")
        if len(unique) == 1:
            return self.name(unique[0])
        return f"{self.prefix}[{RangeSet.fromlist([str(s) for s in unique])}]"

    def fold(self, names: Iterable[str]) -> str:
        """Fold this cluster's node names (v2 ``UnsplitRange``): kn1..kn5, kn20 -> ``kn[1-5,20]``.

        Names are read as numbers, so the result is sorted numerically, de-duplicated and
        unpadded (``kn007`` folds as ``kn7``). The range itself is not checked: folding only
        formats.

        Raises:
            BadInput: nothing to fold, or a name that is not the prefix followed by digits.
        """
        seqs: list[int] = []
        for name in names:
            rest = self._strip_prefix(name)
            if not _is_number(rest):
                raise BadInput(f"invalid node name {name!r}: expected {self.prefix!r} and digits")
            seqs.append(int(rest))
        return self.fold_seqs(seqs)

    # -- internals ---------------------------------------------------------------------------

    def _shape(self) -> str:
        """How this cluster's node names look, for error messages."""
        if not self.prefix:
            return "a number or a [range], like 7 or [1-3]"
        p = self.prefix
        return f"{p!r} followed by a number or a [range], like {p}7 or {p}[1-3]"

    def _strip_prefix(self, name: str) -> str:
        if not name.startswith(self.prefix):
            raise BadInput(f"{name!r} does not have the cluster prefix {self.prefix!r}")
        return name[len(self.prefix) :]

    def _numbers(self, expr: str | NodeList) -> list[str]:
        """Validate an expression and return its numbers as typed (padding matters)."""
        if isinstance(expr, NodeList):
            text = ",".join(expr)
            tokens = list(expr)
        else:
            text = expr.strip()
            if not text:
                raise BadInput("empty node expression")
            tokens = _split_top(text)
        numbers: list[str] = []
        pending: list[str] = []  # bracket contents, expanded once every bound is known to be sane
        outside: list[tuple[int, int]] = []
        for token in tokens:
            try:
                rest = self._strip_prefix(token)
            except BadInput as exc:
                if len(tokens) > 1:
                    raise BadInput(f"invalid host list {text!r}: {exc}") from None
                raise
            if _is_number(rest):
                numbers.append(rest)
                intervals = [(int(rest), int(rest))]
            elif rest.startswith("[") and rest.endswith("]") and rest.count("[") == 1:
                content, intervals = _parse_ranges(rest[1:-1], token)
                pending.append(content)
            else:
                what = "range specification in" if rest.startswith("[") else "node name"
                raise BadInput(f"invalid {what} {token!r}: expected {self._shape()}")
            for lo, hi in intervals:
                if lo < self.lo:
                    outside.append((lo, min(hi, self.lo - 1)))
                if hi > self.hi:
                    outside.append((max(lo, self.hi + 1), hi))
        if outside:
            bad = _format_intervals(self.prefix, outside)
            raise BadInput(f"{bad!r} is outside the cluster's range {self}")
        for content in pending:
            numbers.extend(RangeSet(content))
        return numbers

    def _checked(self, numbers: list[str], existing: Collection[int] | None) -> tuple[int, ...]:
        seqs = tuple(sorted({int(n) for n in numbers}))
        if existing is not None:
            present = existing if isinstance(existing, (set, frozenset)) else set(existing)
            missing = [s for s in seqs if s not in present]
            if missing:
                verb = "is not a node" if len(missing) == 1 else "are not nodes"
                raise BadInput(f"{self.fold_seqs(missing)!r} {verb} of this cluster")
        return seqs


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


def parse_request(arg: str, cluster: ClusterRange | None = None) -> int | NodeList:
    """Tell a node count from a node expression: ``"4"`` -> 4, ``"kn[1-4]"`` -> a NodeList.

    An argument made only of digits is always a count, even on a cluster without a prefix; name
    such a node with brackets (``[10]``).

    Args:
        arg: What the user typed after ``-n``.
        cluster: If given, the expression is expanded and checked against this cluster;
            otherwise it is expanded with any prefixes (:meth:`NodeList.parse`).

    Raises:
        BadInput: empty argument, a count below 1, or a malformed/invalid expression.
    """
    text = arg.strip()
    if not text:
        raise BadInput("empty node request: give a count (like 4) or nodes (like kn[1-4])")
    if _is_number(text) or (text[0] == "-" and _is_number(text[1:])):
        count = int(text)
        if count < 1:
            raise BadInput(f"node count must be at least 1, got {text!r}")
        return count
    if cluster is not None:
        return cluster.expand(text)
    return NodeList.parse(text)
