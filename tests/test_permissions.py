"""Tests for igor.permissions: Igor v2's permission cases (reference §5.5), grants (§6) and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from igor.errors import BadInput
from igor.permissions import (
    ADMINS_GROUP_FACTS,
    ALL_GROUP_FACTS,
    ELEVATED_FACT,
    HOST_BLOCK_PERMISSION,
    Permission,
    distro_group_facts,
    distro_owner_facts,
    fact,
    group_member_facts,
    group_owner_facts,
    implied_by_any,
    names_resource,
    power_fact,
    private_group_facts,
    profile_owner_facts,
    rename_fact,
    reservation_group_facts,
    reservation_owner_facts,
)

# --- construction ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   \t", "::,,::,:", "one::two", "one:", ":one", "one:,"])
def test_construction_errors(text: str) -> None:
    with pytest.raises(BadInput):
        Permission(text)


def test_construction_error_messages() -> None:
    with pytest.raises(BadInput, match="cannot be empty"):
        Permission("  ")
    with pytest.raises(BadInput, match=r"invalid permission '::,,::,:': part 1 is empty"):
        Permission("::,,::,:")


def test_non_string_is_rejected() -> None:
    with pytest.raises(BadInput, match="must be a string"):
        Permission(42)  # type: ignore[arg-type]


def test_subparts_are_trimmed_and_case_is_kept() -> None:
    p = Permission(" groups : TheGoodGuys , b :view ")
    assert p.parts == (frozenset({"groups"}), frozenset({"TheGoodGuys", "b"}), frozenset({"view"}))
    assert not Permission("groups:thegoodguys:view").implies("groups:TheGoodGuys:view")


def test_wildcard_anywhere_in_a_part() -> None:
    assert Permission("a:b*c:d").parts == (frozenset({"a"}), frozenset({"*"}), frozenset({"d"}))
    assert str(Permission("one,*:*,four")) == "*"


def test_copy_constructor_and_of() -> None:
    p = Permission("a:b")
    assert Permission(p) == p
    assert Permission.of(p) is p
    assert Permission.of("a:b") == p


# --- implies (srv/permission_test.go TestPermissionLists) -----------------------------------------------------

IMPLIES = [
    ("one,two", "one"),
    ("one,two,three", "one,three"),
    ("one,two:one,two,three", "one:three"),
    ("one,two:one,two,three", "one:two,three"),
    ("one:two,three", "one:three"),
    ("one,two,three:one,two,three:one,two", "one:three:two"),
    ("one", "one:two,three,four"),
    ("one", "one:two,three,four:five:six:seven"),
    ("one:two,three,four", "one:two,three,four:five:six:seven"),
    ("res:res1:*", "res:res1:profile,group,extend"),
    ("one,two:three,four", "two,one:four,three"),
]

NOT_IMPLIES = [
    ("one", "one,two"),
    ("one,three", "one,two,three"),
    ("one:three", "one,two:one,two,three"),
    ("one:three", "one:two,three"),
    ("one:three:two", "one,two,three:one,two,three:one,two"),
    ("one:two,three,four", "one"),
    ("one:two,three,four:five:six:seven", "one"),
    ("res:res1:profile,power,extend,vlan", "res:res1:profile,group,extend"),
]


@pytest.mark.parametrize(("held", "required"), IMPLIES)
def test_implies(held: str, required: str) -> None:
    assert Permission(held).implies(Permission(required))
    assert Permission(held).implies(required)


@pytest.mark.parametrize(("held", "required"), NOT_IMPLIES)
def test_does_not_imply(held: str, required: str) -> None:
    assert not Permission(held).implies(Permission(required))


# --- wildcards (TestWildcards) ----------------------------------------------------------------------------------

STAR_TARGETS = ["one", "one:two", "one,two:three,four", "one,two:three,four,five:six:seven,eight"]


@pytest.mark.parametrize("required", STAR_TARGETS)
def test_star_implies_everything(required: str) -> None:
    assert Permission("*").implies(required)


NEWSLETTER_TARGETS = [
    "newsletter:read",
    "newsletter:read,write",
    "newsletter:*",
    "newsletter:*:*",
    "newsletter:*:read",
    "newsletter:write:*",
    "newsletter:read,write:*",
    "newsletter",
]


@pytest.mark.parametrize("held", ["newsletter:*", "newsletter:*:*", "newsletter:*:*:*", "newsletter"])
@pytest.mark.parametrize("required", NEWSLETTER_TARGETS)
def test_newsletter_wildcards(held: str, required: str) -> None:
    assert Permission(held).implies(required)


@pytest.mark.parametrize(
    ("held", "required", "expected"),
    [
        ("newsletter:*:read", "newsletter:123:read", True),
        ("newsletter:*:read", "newsletter:123,456:read,write", False),
        ("newsletter:*:read", "newsletter:read", False),
        ("newsletter:*:read", "newsletter:read,write", False),
        ("newsletter:*:read", "newsletter:123:read:write", True),
        ("newsletter:*:read:*", "newsletter:123:read", True),
        ("newsletter:*:read:*", "newsletter:123:read:write", True),
    ],
)
def test_middle_wildcard(held: str, required: str, expected: bool) -> None:
    assert Permission(held).implies(required) is expected


# --- left termination (TestWildcardLeftTermination) ---------------------------------------------------------------


@pytest.mark.parametrize("held", ["one", "one:*", "one:*:*"])
@pytest.mark.parametrize("required", ["one", "one:*", "one:*:*", "one:read"])
def test_left_termination(held: str, required: str) -> None:
    assert Permission(held).implies(required)


@pytest.mark.parametrize("required", ["one", "one:*", "one:*:*"])
def test_specific_does_not_imply_wildcard(required: str) -> None:
    assert not Permission("one:read").implies(required)


# --- equality (TestPermissionEquality, TestListDifferentOrder) ---------------------------------------------------


@pytest.mark.parametrize(("a", "b"), [("*", "*:*"), ("*", "*:*:*"), ("*", "one,*:*,four"), ("*", "*:*:*:*")])
def test_all_wildcards_collapse(a: str, b: str) -> None:
    assert Permission(a) == Permission(b)
    assert Permission(a).v2_equals(b)
    assert Permission(b).v2_equals(a)
    assert str(Permission(b)) == "*"
    assert Permission(b).is_all


def test_v2_equals_is_one_directional() -> None:
    assert Permission("hobbit").v2_equals("hobbit:pippin")
    assert not Permission("hobbit:pippin").v2_equals("hobbit")
    assert not Permission("*").v2_equals("hobbit:pippin")
    # v2 matches parts at any position: another quirk worth pinning down.
    assert Permission("a:b").v2_equals("b:a")


def test_eq_is_symmetric_and_semantic() -> None:
    assert Permission("hobbit") != Permission("hobbit:pippin")
    assert Permission("hobbit:pippin") != Permission("hobbit")
    assert Permission("a:b") != Permission("b:a")
    assert Permission("one,two:three,four") == Permission("two,one:four,three")
    assert Permission("one,two:three,four").v2_equals("two,one:four,three")
    # trailing wildcards are implied, so these are the same permission
    assert Permission("one:*") == Permission("one") == Permission("one:*:*")
    assert len({Permission("one"), Permission("one:*"), Permission(" one ")}) == 1
    assert Permission("one") != "one"


# --- String() (TestString) -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("*", "*"),
        ("one", "one"),
        ("one:two", "one:two"),
        ("one,two:three,four", "one,two:four,three"),
        ("one,two:three,four,five:six:seven,eight", "one,two:five,four,three:six:eight,seven"),
        (" b , a : y,x ", "a,b:x,y"),
    ],
)
def test_str_sorts_subparts(text: str, expected: str) -> None:
    p = Permission(text)
    assert str(p) == expected
    assert Permission(str(p)) == p
    assert p.v2_equals(Permission(str(p)))
    assert repr(p) == f"Permission({expected!r})"


# --- implied_by_any and fact -------------------------------------------------------------------------------------


def test_implied_by_any() -> None:
    facts = list(ALL_GROUP_FACTS) + private_group_facts("bob")
    assert implied_by_any(facts, "reservations:R:view")
    assert implied_by_any(facts, "hosts:*:view")
    assert implied_by_any(facts, "profiles:*:create")
    assert implied_by_any(facts, "users:bob:edit:password")
    assert implied_by_any(facts, "users:bob:edit:email,fullName")
    assert not implied_by_any(facts, "users:alice:edit:password")
    assert not implied_by_any(facts, "users:bob:edit:reset")
    assert not implied_by_any(facts, "reservations:R:delete")
    assert not implied_by_any(facts, "groups:admins:view")
    assert not implied_by_any([], "reservations:R:view")
    assert implied_by_any([Permission(ELEVATED_FACT)], HOST_BLOCK_PERMISSION)
    assert not implied_by_any(facts, HOST_BLOCK_PERMISSION)


def test_implied_by_any_skips_malformed_grants() -> None:
    assert implied_by_any(["::", "reservations:*:view"], "reservations:R:view")
    assert not implied_by_any(["", "::"], "reservations:R:view")
    with pytest.raises(BadInput):
        implied_by_any(["*"], "")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("reservations", "R", "edit", "extend"), "reservations:R:edit:extend"),
        (("reservations", "R", "edit", ["extend", "name"]), "reservations:R:edit:extend,name"),
        (("users", "bob", "edit", ("email", "password", "fullName")), "users:bob:edit:email,password,fullName"),
        (("reservations", "R", "delete"), "reservations:R:delete"),
        (("reservations",), "reservations:*:*"),
        (("users,reservations,hosts", "*", "view"), "users,reservations,hosts:*:view"),
        (("*",), "*"),
        (("*", "*", "*", "*"), "*"),
    ],
)
def test_fact(args: tuple, expected: str) -> None:
    assert fact(*args) == expected


@pytest.mark.parametrize(
    "args",
    [("reservations", "a:b", "view"), ("reservations", "", "view"), ("users", "bob", "edit", []), ("", "x", "view")],
)
def test_fact_rejects_bad_components(args: tuple) -> None:
    with pytest.raises(BadInput):
        fact(*args)


# --- seeded and resource grants (reference §6) -------------------------------------------------------------------


def test_seeded_grants() -> None:
    assert ALL_GROUP_FACTS == (
        "users,reservations,hosts:*:view",
        "groups,reservations,distros,profiles:*:create",
        "groups:all:view",
    )
    assert ADMINS_GROUP_FACTS == ("groups:admins:view",)
    assert private_group_facts("tombomb") == ["users:tombomb:edit:email,password,fullName"]


def test_resource_grants() -> None:
    assert reservation_owner_facts("R") == ["reservations:R:edit:*"]
    assert reservation_group_facts("R") == ["reservations:R:delete", "reservations:R:edit:extend"]
    assert reservation_group_facts("R", []) == ["reservations:R:delete", "reservations:R:edit:extend"]
    assert reservation_group_facts("R", ["kn2", "kn10", "kn1", "kn2"]) == [
        "reservations:R:delete",
        "reservations:R:edit:extend",
        "power:kn1,kn10,kn2",
    ]
    assert group_owner_facts("G", is_ldap=False) == ["groups:G:edit:*", "groups:G:delete"]
    assert group_owner_facts("G", is_ldap=True) == ["groups:G:delete"]
    assert group_member_facts("G") == ["groups:G:view"]
    assert distro_owner_facts("D") == ["distros:D:edit:*", "distros:D:delete,view"]
    assert distro_group_facts("D") == ["distros:D:view"]
    assert profile_owner_facts("P") == ["profiles:P:edit:*", "profiles:P:delete", "profiles:P:view"]
    with pytest.raises(BadInput):
        power_fact([])


def test_v2_sample_database_facts_match(v2_sample_facts: list[tuple[str, str]]) -> None:
    """The grant builders reproduce the fact strings in a real Igor v2 database."""
    by_group: dict[str, set[str]] = {}
    for fact_text, group in v2_sample_facts:
        by_group.setdefault(group, set()).add(fact_text)
    assert by_group["all"] == set(ALL_GROUP_FACTS)
    assert by_group["admins"] == set(ADMINS_GROUP_FACTS)
    expected_glados = (
        set(private_group_facts("glados"))
        | set(distro_owner_facts("BadDistro"))
        | set(distro_group_facts("BadDistro"))
        | set(group_owner_facts("TheBadGuys", is_ldap=False))
    )
    assert by_group["u_glados"] == expected_glados
    assert by_group["TheBadGuys"] == set(distro_group_facts("BadDistro")) | set(group_member_facts("TheBadGuys"))


@pytest.fixture
def v2_sample_facts() -> list[tuple[str, str]]:
    import sqlite3
    from pathlib import Path

    path = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "igor2-v2-sample.db"
    if not path.exists():
        pytest.skip(f"Igor v2 sample database not found at {path}")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT p.fact, g.name FROM permissions p JOIN groups g ON g.id = p.group_id").fetchall()
    return [(str(f), str(g)) for f, g in rows]


def test_owner_and_group_grants_authorize_the_right_requests() -> None:
    owner = reservation_owner_facts("R") + reservation_group_facts("R", ["kn1", "kn2"])
    group = reservation_group_facts("R", ["kn1", "kn2"])
    assert implied_by_any(owner, "reservations:R:edit:name,description")
    assert implied_by_any(group, "reservations:R:edit:extend")
    assert not implied_by_any(group, "reservations:R:edit:extend,name")
    assert implied_by_any(group, "reservations:R:delete")
    assert implied_by_any(group, "power:kn1")
    assert not implied_by_any(group, "power:kn1,kn3")
    assert not implied_by_any(owner, "reservations:S:edit:extend")


# --- rename and delete -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fact_text", "kind", "old", "new", "expected"),
    [
        ("reservations:old:edit:*", "reservations", "old", "new", "reservations:new:edit:*"),
        ("reservations:old:delete", "reservations", "old", "new", "reservations:new:delete"),
        ("groups:G:view", "groups", "G", "H", "groups:H:view"),
        # not about this resource: unchanged
        ("groups:G:view", "reservations", "G", "H", "groups:G:view"),
        ("reservations:older:delete", "reservations", "old", "new", "reservations:older:delete"),
        ("reservations:Old:delete", "reservations", "old", "new", "reservations:Old:delete"),
        ("power:kn1,kn2", "power", "kn1", "kn9", "power:kn1,kn2"),
        # v2's substring replacement of ':edit:' would rewrite the action of a reservation named 'edit'
        ("reservations:R:edit:extend", "reservations", "edit", "x", "reservations:R:edit:extend"),
        ("reservations:edit:edit:*", "reservations", "edit", "x", "reservations:x:edit:*"),
        ("groups:G", "groups", "G", "H", "groups:H"),
    ],
)
def test_rename_fact(fact_text: str, kind: str, old: str, new: str, expected: str) -> None:
    assert rename_fact(fact_text, kind, old, new) == expected


@pytest.mark.parametrize("new", ["", "a:b", "a,b"])
def test_rename_fact_rejects_bad_names(new: str) -> None:
    with pytest.raises(BadInput):
        rename_fact("groups:G:view", "groups", "G", new)


def test_names_resource() -> None:
    assert names_resource("distros:foo:edit:*", "distros", "foo")
    assert names_resource("distros:foo:delete,view", "distros", "foo")
    assert not names_resource("distros:foo_bar:view", "distros", "foo")
    assert not names_resource("distros:fooXbar:view", "distros", "foo_bar")
    assert not names_resource("profiles:foo:view", "distros", "foo")
    assert not names_resource("distros", "distros", "foo")


# --- properties ------------------------------------------------------------------------------------------------------

_subpart = st.sampled_from(["a", "b", "c", "*"])
_part = st.lists(_subpart, min_size=1, max_size=3).map(",".join)
_perm_text = st.lists(_part, min_size=1, max_size=4).map(":".join)
permissions = _perm_text.map(Permission)


def _model_implies(held: Permission, required: Permission) -> bool:
    """Independent model: pad both with wildcard parts to the same length; each held part must cover its twin."""
    width = max(len(held.parts), len(required.parts))
    wild = frozenset({"*"})

    def padded(p: Permission) -> list[frozenset[str]]:
        return list(p.parts) + [wild] * (width - len(p.parts))

    return all(h == wild or (r != wild and h >= r) for h, r in zip(padded(held), padded(required), strict=True))


@given(permissions)
def test_implies_itself(p: Permission) -> None:
    assert p.implies(p)
    assert p == Permission(str(p))
    assert str(Permission(str(p))) == str(p)


@given(permissions)
def test_star_implies_every_permission(p: Permission) -> None:
    assert Permission("*").implies(p)
    assert p.implies("*") is p.is_all


@given(permissions, permissions, permissions)
def test_implies_is_transitive(a: Permission, b: Permission, c: Permission) -> None:
    if a.implies(b) and b.implies(c):
        assert a.implies(c)


@given(permissions, permissions)
def test_implies_matches_model(a: Permission, b: Permission) -> None:
    assert a.implies(b) is _model_implies(a, b)


@given(permissions, permissions)
def test_eq_is_mutual_implication(a: Permission, b: Permission) -> None:
    assert (a == b) is (a.implies(b) and b.implies(a))
    if a == b:
        assert hash(a) == hash(b)
