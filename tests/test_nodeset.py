"""Tests for igor.nodeset: node expressions (reference §5.1, with the comma-list quirk fixed)."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from igor.errors import BadInput
from igor.nodeset import MAX_NAMES, ClusterRange, NodeList, fold_names, parse_request

KN = ClusterRange("kn", 1, 520)
BARE = ClusterRange("", 1, 520)


def kn(*seqs: int) -> list[str]:
    return [f"kn{s}" for s in seqs]


def top_level_groups(expr: str) -> list[str]:
    """Split a folded expression at the commas outside brackets."""
    return re.split(r",(?![^\[]*\])", expr)


def assert_bad(exc: pytest.ExceptionInfo[BadInput], *words: str) -> None:
    assert isinstance(exc.value, BadInput)
    assert isinstance(exc.value, ValueError)
    message = str(exc.value)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


# --------------------------------------------------------------------------------------------
# parse_request: count or expression
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("arg", "count"), [("4", 4), ("1", 1), (" 12 ", 12), ("007", 7)])
def test_request_count(arg: str, count: int) -> None:
    assert parse_request(arg) == count
    assert parse_request(arg, KN) == count


@pytest.mark.parametrize(("arg", "words"), [("0", ["at least 1", "'0'"]), ("-3", ["'-3'"])])
def test_request_count_below_one(arg: str, words: list[str]) -> None:
    with pytest.raises(BadInput) as exc:
        parse_request(arg)
    assert_bad(exc, "count", *words)


@pytest.mark.parametrize("arg", ["", "   "])
def test_request_empty(arg: str) -> None:
    with pytest.raises(BadInput) as exc:
        parse_request(arg, KN)
    assert_bad(exc, "empty")


@pytest.mark.parametrize("arg", ["\u00b2", "\u0663", "kn\u0663"])
def test_request_non_ascii_digits_are_refused(arg: str) -> None:
    with pytest.raises(BadInput) as exc:
        parse_request(arg, KN)
    assert_bad(exc, "invalid character")


def test_request_expression_against_cluster() -> None:
    result = parse_request("kn1,kn[3-5]", KN)
    assert isinstance(result, NodeList)
    assert list(result) == kn(1, 3, 4, 5)


def test_request_expression_checked_against_cluster() -> None:
    with pytest.raises(BadInput) as exc:
        parse_request("kn[519-521]", KN)
    assert_bad(exc, "kn521", "kn[1-520]")


def test_request_expression_without_cluster_is_generic() -> None:
    result = parse_request("foo,bar[0-1]")
    assert result == NodeList(["foo", "bar0", "bar1"])


def test_request_digits_are_a_count_even_without_prefix() -> None:
    assert parse_request("10", BARE) == 10
    assert parse_request("[10]", BARE) == NodeList(["10"])


# --------------------------------------------------------------------------------------------
# ClusterRange.expand (v2 SplitRange) -- every section 5.1 example
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cluster", "expr", "expected"),
    [
        (KN, "kn1", ["kn1"]),
        (KN, "kn[1-3,100]", ["kn1", "kn2", "kn3", "kn100"]),
        (KN, "kn[008-011,100]", ["kn008", "kn009", "kn010", "kn011", "kn100"]),
        (BARE, "[1-3,100]", ["1", "2", "3", "100"]),
        (KN, "kn[3,1-2,2]", ["kn1", "kn2", "kn3"]),
    ],
    ids=["single", "range", "padded", "no-prefix", "sorted-dedup"],
)
def test_expand_reference_examples(cluster: ClusterRange, expr: str, expected: list[str]) -> None:
    assert list(cluster.expand(expr)) == expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("kn1,kn2", kn(1, 2)),
        ("kn9,kn2,kn2", kn(2, 9)),
        ("kn10,kn2", kn(2, 10)),
        ("kn1,kn[3-5]", kn(1, 3, 4, 5)),
        ("kn[4-5],kn1,kn5", kn(1, 4, 5)),
        ("kn1,", kn(1)),
    ],
)
def test_expand_plain_comma_list_is_sorted_and_deduplicated(expr: str, expected: list[str]) -> None:
    # The reference's quirk, fixed: v2 returned "kn9,kn2,kn2" as given.
    assert list(KN.expand(expr)) == expected


def test_expand_plain_comma_list_is_range_checked() -> None:
    with pytest.raises(BadInput) as exc:
        KN.expand("kn1,kn600")
    assert_bad(exc, "'kn600'", "outside", "kn[1-520]")


def test_expand_plain_comma_list_is_prefix_checked() -> None:
    with pytest.raises(BadInput) as exc:
        KN.expand("kn1,xy2")
    assert_bad(exc, "invalid host list", "'xy2'", "'kn'")


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("kn[008-011,100]", ["kn008", "kn009", "kn010", "kn011", "kn100"]),
        ("kn[8-11,0100]", kn(8, 9, 10, 11, 100)),
        ("kn[008-011,1]", kn(1, 8, 9, 10, 11)),
        ("kn[08-9]", kn(8, 9)),
        ("kn[01-03]", ["kn01", "kn02", "kn03"]),
        ("kn007", ["kn007"]),
        ("kn007,kn8", kn(7, 8)),
        ("kn[1,01]", kn(1)),
    ],
)
def test_expand_padding(expr: str, expected: list[str]) -> None:
    assert list(KN.expand(expr)) == expected


def test_expand_sorts_numerically() -> None:
    assert list(KN.expand("kn[10,9,100,2]")) == kn(2, 9, 10, 100)


def test_expand_accepts_a_nodelist() -> None:
    assert KN.expand(NodeList(kn(3, 1))) == NodeList(kn(1, 3))


def test_expand_with_existing_nodes() -> None:
    present = set(range(1, 521)) - {5}
    assert list(KN.expand("kn[4,6]", existing=present)) == kn(4, 6)
    with pytest.raises(BadInput) as exc:
        KN.expand("kn[4-6]", existing=present)
    assert_bad(exc, "'kn5'", "is not a node")


# --------------------------------------------------------------------------------------------
# ClusterRange.expand errors
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "words"),
    [
        ("kn600", ["'kn600' is outside the cluster's range kn[1-520]"]),
        ("kn0", ["'kn0'", "outside", "kn[1-520]"]),
        ("kn[519-600]", ["'kn[521-600]'", "outside", "kn[1-520]"]),
        ("kn[0,600,1000-2000]", ["'kn[0,600,1000-2000]'", "outside"]),
        ("kn[1-999999999999]", ["'kn[521-999999999999]'", "outside"]),
    ],
)
def test_expand_out_of_range(expr: str, words: list[str]) -> None:
    with pytest.raises(BadInput) as exc:
        KN.expand(expr)
    assert_bad(exc, *words)


@pytest.mark.parametrize(
    ("expr", "words"),
    [
        ("kn[1-3", ["invalid range specification in 'kn[1-3'", "unterminated '['"]),
        ("kn[[1]]", ["invalid range specification", "nested '['"]),
        ("kn1]", ["invalid range specification", "unmatched ']'"]),
        ("kn[3-1]", ["invalid range specification", "'3-1'", "backwards"]),
        ("kn[]", ["invalid range specification", "empty brackets"]),
        ("kn[a-b]", ["invalid range specification", "'a-b'"]),
        ("kn[-1]", ["invalid range specification", "'-1'"]),
        ("kn[1,,2]", ["invalid range specification", "empty item"]),
        ("kn[1-3]x", ["invalid range specification in 'kn[1-3]x'", "'kn'"]),
        ("kn[1][2]", ["invalid range specification in 'kn[1][2]'"]),
        ("kn1x", ["invalid node name 'kn1x'", "'kn' followed by a number"]),
        ("knode5", ["invalid node name 'knode5'"]),
        ("kn", ["invalid node name 'kn'"]),
        ("xy3", ["'xy3' does not have the cluster prefix 'kn'"]),
        ("kn1,foo", ["invalid host list 'kn1,foo'", "'foo'", "'kn'"]),
        ("kn1,,kn2", ["empty item", "'kn1,,kn2'"]),
        ("kn1, kn2", ["invalid character ' '", "'kn1, kn2'"]),
        ("@rack1", ["invalid character '@'"]),
        ("kn[1-10/2]", ["invalid character '/'"]),
        ("kn1!kn2", ["invalid character '!'"]),
        ("", ["empty node expression"]),
    ],
)
def test_expand_errors(expr: str, words: list[str]) -> None:
    with pytest.raises(BadInput) as exc:
        KN.expand(expr)
    assert_bad(exc, *words)


def test_expand_error_without_prefix_does_not_mention_one() -> None:
    with pytest.raises(BadInput) as exc:
        BARE.expand("kn1")
    assert_bad(exc, "invalid node name 'kn1'", "a number or a [range]")


# --------------------------------------------------------------------------------------------
# Sequence numbers (what the scheduler uses)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "seqs"),
    [
        ("kn7", (7,)),
        ("kn007", (7,)),
        ("kn[3,7-9,22-24]", (3, 7, 8, 9, 22, 23, 24)),
        ("kn9,kn2,kn2", (2, 9)),
        ("kn[010,9]", (9, 10)),
        ("kn520,kn1", (1, 520)),
    ],
)
def test_seqs(expr: str, seqs: tuple[int, ...]) -> None:
    assert KN.seqs(expr) == seqs


def test_seqs_checks_existing_nodes_and_folds_the_missing() -> None:
    present = set(range(1, 521)) - {5, 9, 10, 11}
    assert KN.seqs("kn[1-4,6-8]", existing=present) == (1, 2, 3, 4, 6, 7, 8)
    with pytest.raises(BadInput) as exc:
        KN.seqs("kn[1-12]", existing=present)
    assert_bad(exc, "'kn[5,9-11]'", "are not nodes")


def test_seqs_existing_may_be_any_collection() -> None:
    assert KN.seqs("kn[1-2]", existing=[1, 2, 3]) == (1, 2)


def test_seqs_range_error_comes_before_existing_error() -> None:
    with pytest.raises(BadInput) as exc:
        KN.seqs("kn600", existing={1})
    assert_bad(exc, "outside")


def test_seq_of_one_name() -> None:
    assert KN.seq("kn007") == 7
    assert KN.seq("kn520") == 520
    for bad in ["kn[1-2]", "kn1,kn2", "kn600", "xy1"]:
        with pytest.raises(BadInput):
            KN.seq(bad)


def test_name_and_nodes() -> None:
    assert KN.name(7) == "kn7"
    assert KN.nodes([10, 2, 2]) == NodeList(kn(2, 10))
    assert BARE.name(3) == "3"


# --------------------------------------------------------------------------------------------
# Folding a cluster's nodes (v2 UnsplitRange)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "folded"),
    [
        (kn(1, 2, 3, 4, 5), "kn[1-5]"),
        (kn(1, 2, 3, 4, 5, 20), "kn[1-5,20]"),
        (kn(44, 45, 1, 2, 3, 4, 5, 20), "kn[1-5,20,44-45]"),
        (kn(7), "kn7"),
        (kn(10, 2, 9), "kn[2,9-10]"),
        (kn(3, 3, 4), "kn[3-4]"),
        (["kn007", "kn8"], "kn[7-8]"),
    ],
)
def test_fold(names: list[str], folded: str) -> None:
    assert KN.fold(names) == folded


def test_fold_empty() -> None:
    with pytest.raises(BadInput) as exc:
        KN.fold([])
    assert_bad(exc, "nothing to parse")


@pytest.mark.parametrize(
    ("names", "words"),
    [
        (["kn1", "xy2"], ["'xy2'", "cluster prefix 'kn'"]),
        (["kn1", "kna"], ["'kna'", "invalid node name"]),
        (["kn[1-2]"], ["'kn[1-2]'"]),
        (["kn\u00b2"], ["invalid node name"]),
    ],
)
def test_fold_errors(names: list[str], words: list[str]) -> None:
    with pytest.raises(BadInput) as exc:
        KN.fold(names)
    assert_bad(exc, *words)


def test_fold_seqs() -> None:
    assert KN.fold_seqs([20, 5, 4, 3, 2, 1]) == "kn[1-5,20]"
    assert KN.fold_seqs([7]) == "kn7"
    assert BARE.fold_seqs([1, 2, 3, 100]) == "[1-3,100]"
    with pytest.raises(BadInput) as exc:
        KN.fold_seqs([])
    assert_bad(exc, "nothing to parse")
    with pytest.raises(BadInput):
        KN.fold_seqs([-1])


# --------------------------------------------------------------------------------------------
# ClusterRange itself
# --------------------------------------------------------------------------------------------


def test_cluster_range_str() -> None:
    assert str(KN) == "kn[1-520]"
    assert str(ClusterRange("kn", 5, 5)) == "kn[5]"


@pytest.mark.parametrize(("prefix", "lo", "hi"), [("kn", 5, 4), ("kn", -1, 4), ("k n", 1, 4)])
def test_cluster_range_invalid(prefix: str, lo: int, hi: int) -> None:
    with pytest.raises(BadInput):
        ClusterRange(prefix, lo, hi)


# --------------------------------------------------------------------------------------------
# Generic expansion (v2 SplitList) and folding (v2 UnsplitList)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "count"),
    [
        ("f", 1),
        ("0", 1),
        ("10", 1),
        ("foo", 1),
        ("foo,", 1),
        ("foo,bar", 2),
        ("foo,bar[0-1]", 3),
        ("foo,bar[0-1],kn[1,2,3]", 6),
    ],
)
def test_split_list_counts(expr: str, count: int) -> None:
    assert len(NodeList.parse(expr)) == count


def test_split_list_names() -> None:
    assert list(NodeList.parse("foo,bar[0-1],kn[1,2,3]")) == [
        "bar0",
        "bar1",
        "foo",
        "kn1",
        "kn2",
        "kn3",
    ]
    assert list(NodeList.parse("foo[0-1].bar[1-2]")) == [
        "foo0.bar1",
        "foo0.bar2",
        "foo1.bar1",
        "foo1.bar2",
    ]


@pytest.mark.parametrize(
    ("expr", "words"),
    [
        ("foo[1[2]]", ["nested '['"]),
        ("foo]", ["unmatched ']'"]),
        ("foo,bar[1-2", ["unterminated '['"]),
        ("foo[2-1]", ["'2-1'"]),
        ("", ["empty"]),
        ("foo bar", ["invalid character ' '"]),
    ],
)
def test_split_list_errors(expr: str, words: list[str]) -> None:
    with pytest.raises(BadInput) as exc:
        NodeList.parse(expr)
    assert_bad(exc, *words)


def test_split_list_refuses_huge_expansions() -> None:
    with pytest.raises(BadInput) as exc:
        NodeList.parse("foo[1-1000]bar[1-1000]")
    assert_bad(exc, "more than", str(MAX_NAMES))


def _range(prefix: str, lo: int, hi: int, suffix: str = "", skip: int | None = None) -> list[str]:
    return [f"{prefix}{i}{suffix}" for i in range(lo, hi + 1) if i != skip]


UNSPLIT_EXAMPLES = [
    pytest.param(
        _range("node", 0, 9) + _range("n", 0, 9) + _range("foo", 0, 9),
        "foo[0-9],node[0-9],n[0-9]",
        id="three-prefixes",
    ),
    pytest.param(
        _range("foo", 0, 4, ".bar1")
        + _range("foo", 0, 4, ".bar2")
        + _range("foo", 0, 1, ".bar3")
        + _range("foo", 0, 2, ".bar5")
        + _range("foo", 0, 4, ".car"),
        "foo2.bar[1-2,5],foo[3-4].bar[1-2],foo[0-1].bar[1-3,5],foo[0-4].car",
        id="dotted",
    ),
    pytest.param(
        "foo1.10g foo2.10g foo3.100g foo4.100g foo5.1000g foo6.1000g".split(),
        "foo[5-6].1000g,foo[3-4].100g,foo[1-2].10g",
        id="suffixes",
    ),
    pytest.param(
        _range("n", 0, 9, skip=5) + _range("node", 0, 9, skip=9),
        "node[0-8],n[0-4,6-9]",
        id="gaps",
    ),
]


@pytest.mark.parametrize(("names", "go_answer"), UNSPLIT_EXAMPLES)
def test_fold_names_expands_back_to_the_same_set(names: list[str], go_answer: str) -> None:
    folded = fold_names(names)
    assert set(NodeList.parse(folded)) == set(names)
    # Go's answer denotes the same set, so our parser reads it too.
    assert set(NodeList.parse(go_answer)) == set(names)


@pytest.mark.parametrize(("names", "go_answer"), UNSPLIT_EXAMPLES)
def test_fold_names_is_no_longer_than_go(names: list[str], go_answer: str) -> None:
    assert len(top_level_groups(fold_names(names))) <= len(top_level_groups(go_answer))


@pytest.mark.parametrize(("names", "go_answer"), UNSPLIT_EXAMPLES)
def test_fold_names_is_deterministic(names: list[str], go_answer: str) -> None:
    expected = fold_names(names)
    rng = random.Random(1234)
    for _ in range(10):
        shuffled = list(names) + rng.sample(names, k=3)  # order and duplicates do not matter
        rng.shuffle(shuffled)
        assert fold_names(shuffled) == expected


def test_fold_names_examples_exactly() -> None:
    # Our own (ClusterShell's) order: pinned so a change in it is noticed.
    assert fold_names(_range("node", 0, 9) + _range("n", 0, 9)) == "n[0-9],node[0-9]"
    assert fold_names(["kn7"]) == "kn7"
    assert fold_names(["kn008", "kn009", "kn100"]) == "kn[008-009,100]"


def test_fold_names_empty_and_invalid() -> None:
    assert fold_names([]) == ""
    with pytest.raises(BadInput) as exc:
        fold_names(["kn1", "kn[2]"])
    assert_bad(exc, "'['", "'kn[2]'")
    with pytest.raises(BadInput) as exc:
        fold_names([""])
    assert_bad(exc, "empty node name")


# --------------------------------------------------------------------------------------------
# NodeList
# --------------------------------------------------------------------------------------------


def test_nodelist_sorts_naturally_and_deduplicates() -> None:
    nodes = NodeList(["kn10", "kn2", "kn1", "kn2", "foo3.bar1", "10", "2"])
    assert nodes.names == ("2", "10", "foo3.bar1", "kn1", "kn2", "kn10")
    assert len(nodes) == 6


def test_nodelist_container_protocol() -> None:
    nodes = NodeList(kn(1, 2, 3))
    assert "kn2" in nodes
    assert "kn4" not in nodes
    assert 2 not in nodes
    assert list(iter(nodes)) == kn(1, 2, 3)
    assert bool(nodes)
    assert not NodeList()


def test_nodelist_str_is_folded() -> None:
    assert str(NodeList(kn(1, 2, 3, 4, 5, 20))) == "kn[1-5,20]"
    assert str(NodeList(kn(7))) == "kn7"
    assert str(NodeList()) == ""
    assert repr(NodeList(kn(1, 2))) == "NodeList('kn[1-2]')"


def test_nodelist_equality_and_hash() -> None:
    a = NodeList(kn(3, 1, 2))
    b = NodeList.parse("kn[1-3]")
    assert a == b
    assert hash(a) == hash(b)
    assert a != NodeList(kn(1, 2))
    assert a != "kn[1-3]"
    assert len({a, b}) == 1


def test_nodelist_set_operations() -> None:
    a = NodeList(kn(1, 2, 3))
    b = NodeList(kn(3, 4))
    assert a | b == NodeList(kn(1, 2, 3, 4))
    assert a & b == NodeList(kn(3))
    assert a - b == NodeList(kn(1, 2))


def test_nodelist_is_immutable() -> None:
    nodes = NodeList(kn(1))
    with pytest.raises(AttributeError):
        nodes.names = ("kn2",)  # type: ignore[misc]
    with pytest.raises(AttributeError):
        nodes.extra = 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["", "kn 1", "kn[1]", "kn,1"])
def test_nodelist_rejects_invalid_names(name: str) -> None:
    with pytest.raises(BadInput):
        NodeList([name])


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

seq_sets = st.sets(st.integers(min_value=1, max_value=520), min_size=1, max_size=80)


@given(seq_sets)
def test_fold_then_expand_gives_the_same_seqs(seqs: set[int]) -> None:
    folded = KN.fold_seqs(seqs)
    assert KN.seqs(folded) == tuple(sorted(seqs))
    assert KN.expand(folded) == KN.nodes(seqs)
    assert str(KN.nodes(seqs)) == folded


@given(seq_sets, st.randoms(use_true_random=False))
def test_fold_is_order_independent(seqs: set[int], rng: random.Random) -> None:
    ordered = sorted(seqs)
    shuffled = list(ordered)
    rng.shuffle(shuffled)
    names = [KN.name(s) for s in shuffled]
    assert KN.fold_seqs(shuffled) == KN.fold_seqs(ordered)
    assert KN.fold(names) == KN.fold_seqs(ordered)
    assert fold_names(names) == fold_names(reversed(names))


generic_names = st.sets(
    st.builds(
        lambda prefix, n, suffix: f"{prefix}{n}{suffix}",
        st.sampled_from(["kn", "n", "node", "foo", "bar-", ""]),
        st.integers(min_value=0, max_value=60),
        st.sampled_from(["", ".bar1", ".bar2", ".10g"]),
    ),
    min_size=1,
    max_size=60,
)


@given(generic_names, st.randoms(use_true_random=False))
def test_generic_fold_round_trips(names: set[str], rng: random.Random) -> None:
    shuffled = list(names)
    rng.shuffle(shuffled)
    folded = fold_names(shuffled)
    assert set(NodeList.parse(folded)) == names
    assert fold_names(sorted(names)) == folded
