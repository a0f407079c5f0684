"""Input rules for the values people give Igor: passwords, emails, user/full/resource/group names, descriptions,
eth names and image references; plus local password hashing.

Each ``check_*`` function returns the (normalised) value when it is acceptable and raises
:class:`igor.errors.BadInput` otherwise, with Igor v2's wording (reference §5.6, ``srv/authn_local.go``,
``srv/user_util.go``, ``srv/handler_util.go``, ``srv/group_util.go``) extended to name the offending value and the
rule. Password messages never echo the password. The validators are strict: callers that, like v2, accept
``Bob`` as the username ``bob`` lower-case and trim at the API edge before checking.

Passwords are hashed with bcrypt at cost :data:`BCRYPT_ROUNDS` (13, like v2; the environment variable
``IGOR_BCRYPT_ROUNDS`` lowers it for tests, never below 4). Hashes written by Go's ``x/crypto/bcrypt``
(``$2a$...``) verify unchanged.
"""

from __future__ import annotations

import os
import re

import bcrypt

from igor.errors import BadInput

__all__ = [
    "BCRYPT_ROUNDS",
    "PASSWORD_MAX_LENGTH",
    "PASSWORD_MIN_LENGTH",
    "RESERVED_RESOURCE_NAMES",
    "check_description",
    "check_email",
    "check_eth",
    "check_full_name",
    "check_group_name",
    "check_image_id",
    "check_image_ref",
    "check_initrd_info",
    "check_password",
    "check_resource_name",
    "check_username",
    "hash_password",
    "is_reserved_group_name",
    "verify_password",
]

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 16

#: bcrypt's input limit; longer passwords are refused rather than silently truncated.
_BCRYPT_MAX_BYTES = 72
_BCRYPT_MIN_ROUNDS = 4
_BCRYPT_MAX_ROUNDS = 31
_BCRYPT_DEFAULT_ROUNDS = 13


def _rounds_from_env(value: str | None) -> int:
    """Read the bcrypt cost from ``IGOR_BCRYPT_ROUNDS``: default 13, clamped to bcrypt's 4..31."""
    if value is None or not value.strip():
        return _BCRYPT_DEFAULT_ROUNDS
    try:
        rounds = int(value)
    except ValueError:
        return _BCRYPT_DEFAULT_ROUNDS
    return min(max(rounds, _BCRYPT_MIN_ROUNDS), _BCRYPT_MAX_ROUNDS)


#: bcrypt cost used by :func:`hash_password`; read at call time, so tests may lower it.
BCRYPT_ROUNDS: int = _rounds_from_env(os.environ.get("IGOR_BCRYPT_ROUNDS"))

# Go's regexp `$` means end of text, so every pattern is applied with fullmatch (Python's `$` also matches
# before a trailing newline).
_EMAIL = re.compile(r"[a-zA-Z0-9._%+\-]+@[a-zA-Z0-9.\-]+\.[a-zA-Z]{2,}")
_USERNAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
_FULL_NAME = re.compile(r"[a-zA-Z. -]{0,32}")
_STD_NAME = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{2,23}")
_DESCRIPTION = re.compile(r"[a-zA-Z0-9 :,)(.?!_-]{0,256}")
_DESCRIPTION_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 :,)(.?!_-")
_INITRD_INFO = re.compile(r"[a-zA-Z0-9 :,)(.?!_\-\[\]]{3,30}")
_ETH = re.compile(r"[a-zA-Z][a-zA-Z0-9/]{2,23}")
_IMAGE_REF = re.compile(r"(ki|iso)[a-zA-Z0-9]{8}")
_IMAGE_ID = re.compile(r"[a-zA-Z0-9]{40}")
_DIGITS_AND_PUNCTUATION = frozenset("0123456789._-")

#: Words that cannot name a resource because they would confuse permission checks (v2 ``isResourceNameMatch``).
RESERVED_RESOURCE_NAMES: frozenset[str] = frozenset(
    (
        "groups users clusters distros hosts profiles reservations hostPolicy "
        "group user cluster distro host profile reservation"
    ).split()
)

_GROUP_ALL = "all"
_GROUP_NONE = "none"
_GROUP_USER_PREFIX = "u_"
_GROUP_ADMIN_PREFIX = "admin"


def _require_str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise BadInput(f"{what} must be a string, got {type(value).__name__}")
    return value


# --- passwords ------------------------------------------------------------------------------------------------


def check_password(pw: str) -> str:
    """Check a new local password against Igor v2's rules.

    8 to 16 characters, each an ASCII letter, digit, punctuation mark or symbol (no spaces, no non-ASCII
    characters: v2 compares its count of characters with the byte length, so multi-byte letters fail), with at
    least one number, one letter and one special character.

    Args:
        pw: the proposed password.

    Returns:
        The password, unchanged.

    Raises:
        BadInput: with v2's message, e.g. ``password must have minimum length of 8 characters`` or
            ``new password is missing at least 1 number, at least 1 special character``. The password is never
            part of the message.
    """
    _require_str(pw, "password")
    if any(not ("!" <= c <= "~") for c in pw):
        raise BadInput("password contains characters that are not allowed")
    if len(pw) < PASSWORD_MIN_LENGTH:
        raise BadInput(f"password must have minimum length of {PASSWORD_MIN_LENGTH} characters")
    if len(pw) > PASSWORD_MAX_LENGTH:
        raise BadInput(f"password cannot exceed maximum length of {PASSWORD_MAX_LENGTH} characters")
    missing = []
    if not any(c.isdigit() for c in pw):
        missing.append("at least 1 number")
    if not any(c.isalpha() for c in pw):
        missing.append("at least 1 letter")
    if all(c.isalnum() for c in pw):
        missing.append("at least 1 special character")
    if missing:
        raise BadInput("new password is missing " + ", ".join(missing))
    return pw


def hash_password(pw: str, rounds: int | None = None) -> str:
    """Hash a password with bcrypt.

    Args:
        pw: the password (any text; rules are :func:`check_password`'s job).
        rounds: bcrypt cost; defaults to the module's current :data:`BCRYPT_ROUNDS`.

    Returns:
        The bcrypt hash as text (``$2b$13$...``).

    Raises:
        BadInput: the password is longer than bcrypt's 72 bytes (v2's Go library refuses those too).
    """
    _require_str(pw, "password")
    data = pw.encode("utf-8")
    if len(data) > _BCRYPT_MAX_BYTES:
        raise BadInput(f"password is too long to hash (bcrypt accepts at most {_BCRYPT_MAX_BYTES} bytes)")
    cost = BCRYPT_ROUNDS if rounds is None else rounds
    cost = min(max(cost, _BCRYPT_MIN_ROUNDS), _BCRYPT_MAX_ROUNDS)
    return bcrypt.hashpw(data, bcrypt.gensalt(rounds=cost)).decode("ascii")


def verify_password(pw: str, hashed: str | bytes) -> bool:
    """Check a password against a bcrypt hash, including ``$2a$`` hashes written by Igor v2.

    Args:
        pw: the password offered at login.
        hashed: the stored hash, as text or bytes.

    Returns:
        True if it matches; False if it does not, or if either argument is malformed (never raises).
    """
    if not isinstance(pw, str):
        return False
    try:
        hash_bytes = hashed.encode("ascii") if isinstance(hashed, str) else bytes(hashed)
    except (UnicodeEncodeError, TypeError, ValueError):
        return False
    data = pw.encode("utf-8")
    if not hash_bytes or len(data) > _BCRYPT_MAX_BYTES:
        return False
    try:
        return bool(bcrypt.checkpw(data, hash_bytes))
    except (ValueError, TypeError):
        return False


# --- people ---------------------------------------------------------------------------------------------------


def check_email(e: str) -> str:
    """Check an email address: ``^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$`` and no ``..``.

    Returns:
        The address, unchanged.

    Raises:
        BadInput: ``invalid email address 'X'`` (with the reason when it contains ``..``).
    """
    _require_str(e, "email address")
    if ".." in e:
        raise BadInput(f"invalid email address '{e}': it may not contain '..'")
    if not _EMAIL.fullmatch(e):
        raise BadInput(f"invalid email address '{e}'")
    return e


def check_username(name: str) -> str:
    """Check a username: Linux-style, ``^[a-z_][a-z0-9_-]{0,31}$`` (so ``igor-admin`` passes).

    Returns:
        The username, unchanged.

    Raises:
        BadInput: naming the value and the rule.
    """
    _require_str(name, "username")
    if not _USERNAME.fullmatch(name):
        raise BadInput(
            f"invalid username '{name}': must start with a lower-case letter or underscore and contain only "
            "a-z, 0-9, _ and - (at most 32 characters)"
        )
    return name


def check_full_name(name: str) -> str:
    """Check a full name: ``^[a-zA-Z. -]{0,32}$`` (may be empty).

    Returns:
        The full name, unchanged.

    Raises:
        BadInput: naming the value and the rule.
    """
    _require_str(name, "full name")
    if not _FULL_NAME.fullmatch(name):
        raise BadInput(
            f"invalid full name '{name}': may contain only letters, spaces, '.' and '-' (at most 32 characters)"
        )
    return name


# --- resources ------------------------------------------------------------------------------------------------


def check_resource_name(name: str, kind: str = "reservation") -> str:
    """Check the name of a reservation, distro, profile, policy, cluster, ... (v2 ``checkGenericNameRules``).

    3-24 characters from ``a-zA-Z0-9._-``, first one a letter, digit or underscore, not made only of digits and
    ``._-``, and not one of :data:`RESERVED_RESOURCE_NAMES`.

    Args:
        name: the proposed name.
        kind: what is being named, used in the message.

    Returns:
        The name, unchanged.

    Raises:
        BadInput: naming the value and the rule.
    """
    _require_str(name, f"{kind} name")
    if not name:
        raise BadInput(f"{kind} name cannot be empty")
    if not _STD_NAME.fullmatch(name) or all(c in _DIGITS_AND_PUNCTUATION for c in name):
        raise BadInput(
            f"'{name}' is not a legal {kind} name (must be 3-24 characters from letters, digits, '_', '-' and '.', "
            "start with a letter, digit or underscore, and not be all digits or punctuation)"
        )
    if name in RESERVED_RESOURCE_NAMES:
        raise BadInput(f"{kind} name cannot be the restricted word '{name}'")
    return name


def is_reserved_group_name(name: str) -> bool:
    """Whether ``name`` is kept for Igor's own groups: ``all``, ``none``, ``u_*``, ``admin*`` (any letter case)."""
    lowered = name.lower()
    return (
        lowered in (_GROUP_ALL, _GROUP_NONE)
        or lowered.startswith(_GROUP_USER_PREFIX)
        or lowered.startswith(_GROUP_ADMIN_PREFIX)
    )


def check_group_name(name: str) -> str:
    """Check a name for a new or renamed group: :func:`check_resource_name` rules, and not reserved.

    Reserved (case-insensitively, as v2 ``checkReservedGroupNames``): ``all``, ``none``, names starting with
    ``u_`` (private groups) or ``admin``. Looking up existing system groups must not go through this check.

    Returns:
        The name, unchanged.

    Raises:
        BadInput: naming the value and the rule.
    """
    check_resource_name(name, "group")
    if is_reserved_group_name(name):
        raise BadInput(
            f"group name '{name}' is not allowed: 'all', 'none' and names starting with 'u_' or 'admin' are reserved"
        )
    return name


def check_description(text: str) -> str:
    """Check a description: after trimming, 0-256 characters of letters, digits, space and ``:,)(.?!_-``.

    Returns:
        The trimmed description.

    Raises:
        BadInput: v2's message, plus the first offending character or the length.
    """
    _require_str(text, "description")
    trimmed = text.strip()
    if not _DESCRIPTION.fullmatch(trimmed):
        bad = next((c for c in trimmed if c not in _DESCRIPTION_CHARS), None)
        detail = f"found {bad!r}" if bad is not None else f"it has {len(trimmed)} characters"
        raise BadInput(
            "description field invalid, must be 0-256 characters and may only contain letters, numbers, space "
            f"and .,_-():?! characters ({detail})"
        )
    return trimmed


def check_initrd_info(text: str) -> str:
    """Check an image's initrd OS info (an admin override): trimmed, 3-30 letters, digits, spaces or ``:,)(.?!_-[]``.

    Returns:
        The trimmed text.

    Raises:
        BadInput: naming the value and the rule.
    """
    _require_str(text, "initrd info")
    trimmed = text.strip()
    if not _INITRD_INFO.fullmatch(trimmed):
        raise BadInput(
            f"invalid initrd info '{trimmed}': must be 3-30 characters and may only contain letters, numbers, "
            "space and .,_-()[]:?! characters"
        )
    return trimmed


def check_eth(name: str) -> str:
    """Check a switch interface name: ``^[a-zA-Z][a-zA-Z0-9/]{2,23}$`` (e.g. ``Ethernet1/2``).

    Returns:
        The name, unchanged.

    Raises:
        BadInput: naming the value and the rule.
    """
    _require_str(name, "eth name")
    if not _ETH.fullmatch(name):
        raise BadInput(
            f"'{name}' is not a legal eth name (must be 3-24 characters, start with a letter and contain only "
            "letters, digits and '/')"
        )
    return name


def check_image_ref(ref: str) -> str:
    """Check an image reference (image name): ``ki`` or ``iso`` then 8 letters or digits, e.g. ``kid942c59b``.

    Returns:
        The reference, unchanged.

    Raises:
        BadInput: naming the value and the rule.
    """
    _require_str(ref, "image reference")
    if not _IMAGE_REF.fullmatch(ref):
        raise BadInput(
            f"invalid image reference '{ref}': must be 'ki' or 'iso' followed by 8 letters or digits (e.g. kid942c59b)"
        )
    return ref


def check_image_id(image_id: str) -> str:
    """Check an image id: 40 letters or digits (the hex SHA-1 of kernel then initrd).

    Returns:
        The id, unchanged.

    Raises:
        BadInput: naming the value and the rule.
    """
    _require_str(image_id, "image id")
    if not _IMAGE_ID.fullmatch(image_id):
        raise BadInput(f"invalid image id '{image_id}': must be exactly 40 letters or digits")
    return image_id
