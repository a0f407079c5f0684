"""Tests for igor.rules: Igor v2's input rules (reference §5.6) and bcrypt password hashing."""

from __future__ import annotations

import pytest

from igor import rules
from igor.errors import BadInput
from igor.rules import (
    RESERVED_RESOURCE_NAMES,
    check_description,
    check_email,
    check_eth,
    check_full_name,
    check_group_name,
    check_image_id,
    check_image_ref,
    check_initrd_info,
    check_password,
    check_resource_name,
    check_username,
    hash_password,
    is_reserved_group_name,
    verify_password,
)

# --- passwords (srv/user_util_test.go) ---------------------------------------------------------------------------

MISSING = "new password is missing "


@pytest.mark.parametrize(
    ("pw", "message"),
    [
        ("&fhso", "password must have minimum length of 8 characters"),
        ("*fdhs8adGBDiodcbd", "password cannot exceed maximum length of 16 characters"),
        (" pass$ word1", "password contains characters that are not allowed"),
        ("3$pãssword", "password contains characters that are not allowed"),
        ("1password", MISSING + "at least 1 special character"),
        ("pas$word", MISSING + "at least 1 number"),
        ("436^&#0384", MISSING + "at least 1 letter"),
        ("abcdefgh", MISSING + "at least 1 number, at least 1 special character"),
        ("12345678", MISSING + "at least 1 letter, at least 1 special character"),
        ("!@#$%^&*", MISSING + "at least 1 number, at least 1 letter"),
        ("tab\tpass1$", "password contains characters that are not allowed"),
        ("trailing1$\n", "password contains characters that are not allowed"),
        ("", "password must have minimum length of 8 characters"),
    ],
)
def test_rejected_passwords(pw: str, message: str) -> None:
    with pytest.raises(BadInput) as info:
        check_password(pw)
    assert str(info.value) == message
    assert info.value.status == 400
    if pw.strip():
        assert pw not in str(info.value)


@pytest.mark.parametrize("pw", ["*fdhs8`adGBD", '*fdhs8adGBD"', "a1!aaaaa", "a1~b2|c3<d4>e5=f"])
def test_accepted_passwords(pw: str) -> None:
    assert check_password(pw) == pw


def test_password_must_be_a_string() -> None:
    with pytest.raises(BadInput, match="must be a string"):
        check_password(None)  # type: ignore[arg-type]


# --- bcrypt ----------------------------------------------------------------------------------------------------


@pytest.fixture
def fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules, "BCRYPT_ROUNDS", 4)


@pytest.mark.usefixtures("fast_bcrypt")
def test_hash_and_verify() -> None:
    hashed = hash_password("s3cret!pw")
    assert hashed.startswith("$2b$04$")
    assert verify_password("s3cret!pw", hashed)
    assert verify_password("s3cret!pw", hashed.encode())
    assert not verify_password("s3cret!pW", hashed)
    assert hash_password("s3cret!pw") != hashed  # salted


def test_hash_uses_module_rounds_by_default() -> None:
    assert rules.BCRYPT_ROUNDS >= 4
    assert hash_password("x", rounds=5).startswith("$2b$05$")
    assert hash_password("x", rounds=1).startswith("$2b$04$")  # clamped to bcrypt's minimum


@pytest.mark.usefixtures("fast_bcrypt")
def test_verify_accepts_go_style_2a_hashes() -> None:
    # Go's x/crypto/bcrypt writes $2a$; for passwords under 255 bytes $2a$ and $2b$ are the same algorithm.
    hashed = hash_password("igor-admin1!")
    go_style = "$2a$" + hashed[4:]
    assert verify_password("igor-admin1!", go_style)
    assert not verify_password("igor-admin1?", go_style)


def test_verify_real_igor_v2_hash(v2_admin_hash: bytes) -> None:
    assert v2_admin_hash.startswith(b"$2a$13$")
    assert verify_password("definitely not the password", v2_admin_hash) is False


@pytest.fixture
def v2_admin_hash() -> bytes:
    import sqlite3
    from pathlib import Path

    path = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "igor2-v2-sample.db"
    if not path.exists():
        pytest.skip(f"Igor v2 sample database not found at {path}")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        (value,) = conn.execute("SELECT pass_hash FROM users WHERE name = 'igor-admin'").fetchone()
    return bytes(value)


@pytest.mark.parametrize(
    "hashed",
    ["", b"", "not a hash", "$2a$13$short", "$2a$99$" + "a" * 53, "$2ä$", b"\xff\xfe", None, 12],
)
def test_verify_never_raises_on_malformed_hashes(hashed: object) -> None:
    assert verify_password("password1!", hashed) is False  # type: ignore[arg-type]


@pytest.mark.usefixtures("fast_bcrypt")
def test_verify_odd_passwords() -> None:
    hashed = hash_password("ok1!ok1!")
    assert verify_password(None, hashed) is False  # type: ignore[arg-type]
    assert verify_password("x" * 100, hashed) is False
    assert verify_password("", hashed) is False


def test_hash_rejects_passwords_bcrypt_would_truncate() -> None:
    with pytest.raises(BadInput, match="72 bytes"):
        hash_password("é" * 37)


@pytest.mark.parametrize(
    ("env", "expected"), [(None, 13), ("", 13), ("4", 4), ("1", 4), ("10", 10), ("40", 31), ("abc", 13)]
)
def test_rounds_from_env(env: str | None, expected: int) -> None:
    assert rules._rounds_from_env(env) == expected


# --- email ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "email",
    ["fhsogmail.com", "Takeshi.Kovacs@gmail.co1", "gfgd @agency.gov", "me..too@gmail.com", "", "a@b.c", "a@b.com\n"],
)
def test_rejected_emails(email: str) -> None:
    with pytest.raises(BadInput, match=rf"^invalid email address '{email}'"):
        check_email(email)


@pytest.mark.parametrize("email", ["tester@level1.level2.level3.gov", "Takeshi.Kovacs@gmail.com", "a+b%c@x-y.io"])
def test_accepted_emails(email: str) -> None:
    assert check_email(email) == email


# --- usernames and full names --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["igor-admin", "bob", "_svc", "a", "a" * 32, "x1_y-2"])
def test_accepted_usernames(name: str) -> None:
    assert check_username(name) == name


@pytest.mark.parametrize("name", ["Bob", "1bob", "-bob", "", "a" * 33, "bob smith", "bob.smith", "bob\n", "böb"])
def test_rejected_usernames(name: str) -> None:
    with pytest.raises(BadInput) as info:
        check_username(name)
    assert f"'{name}'" in str(info.value)


def test_username_message() -> None:
    with pytest.raises(BadInput) as info:
        check_username("Bob")
    assert str(info.value) == (
        "invalid username 'Bob': must start with a lower-case letter or underscore and contain only "
        "a-z, 0-9, _ and - (at most 32 characters)"
    )


@pytest.mark.parametrize("name", ["", "Takeshi Kovacs", "J. R. R. Tolkien", "Mary-Jane", "a" * 32])
def test_accepted_full_names(name: str) -> None:
    assert check_full_name(name) == name


@pytest.mark.parametrize("name", ["R2D2", "O'Brien", "a" * 33, "Zoë", "name\n"])
def test_rejected_full_names(name: str) -> None:
    with pytest.raises(BadInput, match="invalid full name"):
        check_full_name(name)


# --- resource and group names --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["willow", "test-chamber", "OldForest", "_x1", "1ab", "a.b", "a" * 24, "kn1.2_x"])
def test_accepted_resource_names(name: str) -> None:
    assert check_resource_name(name) == name


@pytest.mark.parametrize(
    "name", ["ab", "a" * 25, ".abc", "-abc", "has space", "a/b", "123", "1.2-3", "___", "ab\n", "wïllow"]
)
def test_rejected_resource_names(name: str) -> None:
    with pytest.raises(BadInput) as info:
        check_resource_name(name, "distro")
    assert str(info.value).startswith(f"'{name}' is not a legal distro name")


def test_empty_resource_name() -> None:
    with pytest.raises(BadInput, match="^profile name cannot be empty$"):
        check_resource_name("", "profile")


@pytest.mark.parametrize("word", sorted(RESERVED_RESOURCE_NAMES))
def test_reserved_words(word: str) -> None:
    with pytest.raises(BadInput, match=f"restricted word '{word}'"):
        check_resource_name(word)


def test_reserved_word_list() -> None:
    assert RESERVED_RESOURCE_NAMES == {
        "groups", "users", "clusters", "distros", "hosts", "profiles", "reservations", "hostPolicy",
        "group", "user", "cluster", "distro", "host", "profile", "reservation",
    }  # fmt: skip
    # matching is exact, as in v2
    assert check_resource_name("Groups") == "Groups"
    assert check_resource_name("hostpolicy") == "hostpolicy"


@pytest.mark.parametrize("name", ["all", "ALL", "none", "None", "u_bob", "U_bob", "admins", "Administrators", "admin1"])
def test_reserved_group_names(name: str) -> None:
    assert is_reserved_group_name(name)
    with pytest.raises(BadInput, match=f"group name '{name}' is not allowed"):
        check_group_name(name)


@pytest.mark.parametrize("name", ["TheGoodGuys", "allstars", "nonexistent", "my_admins", "u-team"])
def test_accepted_group_names(name: str) -> None:
    assert not is_reserved_group_name(name)
    assert check_group_name(name) == name


@pytest.mark.parametrize("name", ["ab", "123", "group", "bad name"])
def test_group_names_follow_resource_rules(name: str) -> None:
    with pytest.raises(BadInput, match="group"):
        check_group_name(name)


# --- descriptions, eth, images -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", ""), ("  padded  ", "padded"), ("Testing (phase 2): ok? yes!", "Testing (phase 2): ok? yes!"),
     ("a" * 256, "a" * 256)],
)  # fmt: skip
def test_accepted_descriptions(text: str, expected: str) -> None:
    assert check_description(text) == expected


@pytest.mark.parametrize(
    ("text", "detail"), [("mail me@x", "found '@'"), ("a" * 257, "it has 257 characters"), ("semi;colon", "found ';'")]
)
def test_rejected_descriptions(text: str, detail: str) -> None:
    with pytest.raises(BadInput) as info:
        check_description(text)
    assert str(info.value).startswith("description field invalid, must be 0-256 characters")
    assert detail in str(info.value)


@pytest.mark.parametrize("text", ["RHEL 9.2", " Ubuntu [22.04] ", "unknown"])
def test_accepted_initrd_info(text: str) -> None:
    assert check_initrd_info(text) == text.strip()


@pytest.mark.parametrize("text", ["ab", "a" * 31, "os@release"])
def test_rejected_initrd_info(text: str) -> None:
    with pytest.raises(BadInput, match="invalid initrd info"):
        check_initrd_info(text)


@pytest.mark.parametrize("name", ["Ethernet1/2", "eth0", "Et1", "a" * 24])
def test_accepted_eth(name: str) -> None:
    assert check_eth(name) == name


@pytest.mark.parametrize("name", ["1eth", "et", "eth-0", "a" * 25, "eth 0"])
def test_rejected_eth(name: str) -> None:
    with pytest.raises(BadInput, match=f"'{name}' is not a legal eth name"):
        check_eth(name)


@pytest.mark.parametrize("ref", ["kid942c59b", "iso12345678", "kiABCDEFGH"])
def test_accepted_image_refs(ref: str) -> None:
    assert check_image_ref(ref) == ref


@pytest.mark.parametrize("ref", ["kid942c59", "kid942c59b1", "xxd942c59b", "ki-942c59b", "", "kid942c59b\n"])
def test_rejected_image_refs(ref: str) -> None:
    with pytest.raises(BadInput, match=f"invalid image reference '{ref}'"):
        check_image_ref(ref)


def test_image_ids() -> None:
    good = "d942c59b7cd38145330b421d11a52ac6936a0bab"
    assert check_image_id(good) == good
    for bad in (good[:-1], good + "0", good[:-1] + "-"):
        with pytest.raises(BadInput, match=f"invalid image id '{bad}'"):
            check_image_id(bad)
