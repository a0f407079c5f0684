"""Igor's permission facts: the Shiro-style wildcard permission and the grants Igor hands out.

This module owns

* :class:`Permission`, a value type for a *fact* ``part:part:part`` where each part is a comma set of subparts,
  with Igor v2's semantics (a port of Apache Shiro's ``WildcardPermission`` as ``srv/permission.go`` uses it:
  case is kept, subparts are trimmed, a ``*`` anywhere in a part makes the whole part a wildcard, a fact made only
  of wildcard parts collapses to ``*``, and missing trailing parts are implied);
* :func:`implied_by_any`, the one question authorization asks ("does any granted fact imply the required one?");
* :func:`fact`, which builds fact strings from resource / name / action / fields;
* the grants Igor v2 seeds and attaches to resources (reference §6), and :func:`rename_fact` /
  :func:`names_resource` for keeping facts in step when a resource is renamed or deleted.

Fact strings are stored exactly as Igor v2 stores them (for example ``users:bob:edit:email,password,fullName``,
unsorted), so a v2 database imports unchanged; comparisons always go through :class:`Permission`.
Malformed permission text raises :class:`igor.errors.BadInput`.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from igor.errors import BadInput

__all__ = [
    "ACTION_CREATE",
    "ACTION_DELETE",
    "ACTION_EDIT",
    "ACTION_VIEW",
    "ADMINS_GROUP_FACTS",
    "ALL_GROUP_FACTS",
    "DIVIDER",
    "ELEVATED_FACT",
    "HOST_BLOCK_PERMISSION",
    "RESOURCE_CLUSTERS",
    "RESOURCE_DISTROS",
    "RESOURCE_GROUPS",
    "RESOURCE_HOSTS",
    "RESOURCE_IMAGES",
    "RESOURCE_POWER",
    "RESOURCE_PROFILES",
    "RESOURCE_RESERVATIONS",
    "RESOURCE_USERS",
    "SUBPART",
    "WILDCARD",
    "Permission",
    "distro_group_facts",
    "distro_owner_facts",
    "fact",
    "group_member_facts",
    "group_owner_facts",
    "implied_by_any",
    "names_resource",
    "power_fact",
    "private_group_facts",
    "profile_owner_facts",
    "rename_fact",
    "reservation_group_facts",
    "reservation_owner_facts",
]

WILDCARD = "*"
DIVIDER = ":"
SUBPART = ","

RESOURCE_USERS = "users"
RESOURCE_GROUPS = "groups"
RESOURCE_RESERVATIONS = "reservations"
RESOURCE_HOSTS = "hosts"
RESOURCE_DISTROS = "distros"
RESOURCE_PROFILES = "profiles"
RESOURCE_CLUSTERS = "clusters"
RESOURCE_IMAGES = "images"
RESOURCE_POWER = "power"

ACTION_CREATE = "create"
ACTION_VIEW = "view"
ACTION_EDIT = "edit"
ACTION_DELETE = "delete"

#: What an elevated admin (or igor-admin) holds: implies every permission.
ELEVATED_FACT = WILDCARD
#: Required for blocking hosts; never granted to a group, so only :data:`ELEVATED_FACT` implies it (reference §2.3).
HOST_BLOCK_PERMISSION = "host-block"

_Parts = tuple[frozenset[str], ...]
_WILD_PART: frozenset[str] = frozenset((WILDCARD,))


@lru_cache(maxsize=8192)
def _parse(text: str) -> _Parts:
    """Parse fact text into its parts; cached because the same stored facts are checked on every request."""
    stripped = text.strip()
    if not stripped:
        raise BadInput("permission string cannot be empty")
    raw_parts = stripped.split(DIVIDER)
    if all(WILDCARD in raw for raw in raw_parts):
        return (_WILD_PART,)
    parts: list[frozenset[str]] = []
    for index, raw in enumerate(raw_parts, start=1):
        if WILDCARD in raw:
            parts.append(_WILD_PART)
            continue
        subparts = frozenset(s.strip() for s in raw.split(SUBPART)) - {""}
        if not subparts:
            raise BadInput(
                f"invalid permission '{text}': part {index} is empty "
                f"(parts are separated by '{DIVIDER}' and subparts by '{SUBPART}')"
            )
        parts.append(subparts)
    return tuple(parts)


class Permission:
    """A wildcard permission such as ``reservations:R:edit:extend,name`` (immutable, hashable).

    Args:
        text: the fact text, or another :class:`Permission` (copied).

    Raises:
        BadInput: the text is empty, whitespace only, or has a part with no subparts (``"one::two"``).

    Equality (``==``) is semantic: two permissions are equal when each implies the other, which is the same as
    having equal parts once subparts are treated as sets and trailing wildcard parts are dropped (so
    ``Permission("one:*") == Permission("one")`` although their ``str`` differ). Igor v2's one-directional
    ``Equals`` is available as :meth:`v2_equals`.
    """

    __slots__ = ("_key", "_parts")

    def __init__(self, text: str | Permission) -> None:
        if isinstance(text, Permission):
            self._parts: _Parts = text._parts
            self._key: _Parts = text._key
            return
        if not isinstance(text, str):
            raise BadInput(f"permission must be a string, got {type(text).__name__}")
        self._parts = _parse(text)
        key = list(self._parts)
        while key and key[-1] == _WILD_PART:
            key.pop()
        self._key = tuple(key)

    @classmethod
    def of(cls, value: str | Permission) -> Permission:
        """Return ``value`` itself if it already is a :class:`Permission`, else parse it."""
        return value if isinstance(value, Permission) else cls(value)

    @property
    def parts(self) -> tuple[frozenset[str], ...]:
        """The parts, each a frozen set of subparts; a wildcard part is ``frozenset({"*"})``."""
        return self._parts

    @property
    def is_all(self) -> bool:
        """True for the all-wildcard permission ``*`` (which implies everything)."""
        return not self._key

    def implies(self, other: str | Permission) -> bool:
        """Whether holding this permission grants everything ``other`` describes.

        Part by part, each part of ``self`` must be a wildcard or a superset of the matching part of ``other``.
        If ``self`` is shorter, the rest of ``other`` is implied (``one`` implies ``one:two:three``); if ``self``
        is longer, its extra parts must all be wildcards (``one:*`` implies ``one``, ``one:read`` does not).

        Args:
            other: the required permission.

        Returns:
            True if this permission implies ``other``.
        """
        other_parts = Permission.of(other)._parts
        mine = self._parts
        for index, other_part in enumerate(other_parts):
            if index >= len(mine):
                return True
            part = mine[index]
            if part != _WILD_PART and not part >= other_part:
                return False
        return all(part == _WILD_PART for part in mine[len(other_parts) :])

    def v2_equals(self, other: str | Permission) -> bool:
        """Igor v2's ``Permission.Equals``, quirks included.

        True when every part of ``self`` equals (as a set) *some* part of ``other``, at any position. Hence it is
        one-directional (``hobbit`` v2-equals ``hobbit:pippin`` but not the reverse) and ignores order of parts.
        Use ``==`` for real equality; this exists to document and test v2 behaviour.

        Args:
            other: the permission to compare with.

        Returns:
            The value Igor v2 would return.
        """
        other_parts = Permission.of(other)._parts
        return all(any(part == candidate for candidate in other_parts) for part in self._parts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Permission):
            return NotImplemented
        return self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __str__(self) -> str:
        # Subparts sorted by code point, as Go's sort.Strings orders UTF-8 bytes; v2's String() does the same.
        return DIVIDER.join(SUBPART.join(sorted(part)) for part in self._parts)

    def __repr__(self) -> str:
        return f"Permission({str(self)!r})"


def implied_by_any(facts: Iterable[str | Permission], required: str | Permission) -> bool:
    """Whether any of the granted ``facts`` implies ``required``.

    A granted fact that does not parse grants nothing (it is skipped rather than failing every request of the
    users who hold it); a malformed ``required`` permission is a programming or input error and raises.

    Args:
        facts: the facts a user holds (the union over their groups).
        required: the permission an operation needs.

    Returns:
        True if at least one fact implies ``required``.

    Raises:
        BadInput: ``required`` is not a valid permission.
    """
    needed = Permission.of(required)
    for granted in facts:
        try:
            held = Permission.of(granted)
        except BadInput:
            continue
        if held.implies(needed):
            return True
    return False


def fact(resource: str, name: str = WILDCARD, action: str = WILDCARD, fields: str | Iterable[str] | None = None) -> str:
    """Build a fact string ``resource:name:action[:fields]``, as Igor v2's ``NewPermissionString`` does.

    Values are joined as given (not sorted). Any component may itself be a comma set, e.g. ``resource`` may be
    ``"users,reservations,hosts"``. If every component contains ``*`` the result collapses to ``*``.

    Args:
        resource: the resource type (``reservations``, ``groups``, ...).
        name: the resource name, or ``*``.
        action: ``view``, ``create``, ``edit``, ``delete``, or ``*``.
        fields: for ``edit``, the fields: a comma-separated string or an iterable of names; None for no fields part.

    Returns:
        The fact text, e.g. ``fact("reservations", "R", "edit", ["extend"]) == "reservations:R:edit:extend"``.

    Raises:
        BadInput: a component contains ``:``, or the result is not a valid permission (an empty component, or an
            empty ``fields`` iterable).
    """
    components = [resource, name, action]
    if fields is not None:
        components.append(fields if isinstance(fields, str) else SUBPART.join(fields))
    for component in components:
        if DIVIDER in component:
            raise BadInput(f"invalid permission component '{component}': it may not contain '{DIVIDER}'")
    if all(WILDCARD in component for component in components):
        return WILDCARD
    text = DIVIDER.join(components)
    Permission(text)  # validates: no empty part
    return text


# --- grants seeded at install time (reference §6) -------------------------------------------------------------

#: Facts of the group ``all`` (every user): view users, reservations and hosts; create groups, reservations,
#: distros and profiles; see the members of ``all``.
ALL_GROUP_FACTS: tuple[str, ...] = (
    "users,reservations,hosts:*:view",
    "groups,reservations,distros,profiles:*:create",
    "groups:all:view",
)

#: Facts of the group ``admins`` (everything else comes from elevation, which grants ``*``).
ADMINS_GROUP_FACTS: tuple[str, ...] = ("groups:admins:view",)


def private_group_facts(username: str) -> list[str]:
    """Facts of a new user's private group ``u_<username>``: edit their own email, password and full name."""
    return [fact(RESOURCE_USERS, username, ACTION_EDIT, "email,password,fullName")]


# --- grants attached to resources -------------------------------------------------------------------------------


def reservation_owner_facts(res: str) -> list[str]:
    """Facts for the owner's private group of reservation ``res``: edit everything (delete comes with the group)."""
    return [fact(RESOURCE_RESERVATIONS, res, ACTION_EDIT, WILDCARD)]


def power_fact(hostnames: Iterable[str]) -> str:
    """The power grant over ``hostnames``: ``power:<h1,h2,...>``, names de-duplicated and sorted as v2 does.

    Raises:
        BadInput: ``hostnames`` is empty.
    """
    names = sorted({h.strip() for h in hostnames} - {""})
    if not names:
        raise BadInput("a power permission needs at least one host name")
    return DIVIDER.join((RESOURCE_POWER, SUBPART.join(names)))


def reservation_group_facts(res: str, hostnames: Iterable[str] | None = None) -> list[str]:
    """Facts for the group of reservation ``res``: delete it, extend it, and power its hosts while it is active.

    Args:
        res: the reservation name.
        hostnames: the reservation's hosts when it is active (adds :func:`power_fact`); None or empty otherwise.

    Returns:
        ``["reservations:R:delete", "reservations:R:edit:extend"]`` plus ``"power:h1,h2"`` when hosts are given.
    """
    facts = [
        fact(RESOURCE_RESERVATIONS, res, ACTION_DELETE),
        fact(RESOURCE_RESERVATIONS, res, ACTION_EDIT, "extend"),
    ]
    if hostnames is not None:
        names = list(hostnames)
        if names:
            facts.append(power_fact(names))
    return facts


def group_owner_facts(group: str, is_ldap: bool) -> list[str]:
    """Facts for each owner's private group of ``group``: edit (not for LDAP-synced groups) and delete."""
    facts = [] if is_ldap else [fact(RESOURCE_GROUPS, group, ACTION_EDIT, WILDCARD)]
    facts.append(fact(RESOURCE_GROUPS, group, ACTION_DELETE))
    return facts


def group_member_facts(group: str) -> list[str]:
    """Facts of ``group`` itself: its members may view it."""
    return [fact(RESOURCE_GROUPS, group, ACTION_VIEW)]


def distro_owner_facts(distro: str) -> list[str]:
    """Facts for the owner's private group of ``distro``: edit everything, delete and view."""
    return [
        fact(RESOURCE_DISTROS, distro, ACTION_EDIT, WILDCARD),
        fact(RESOURCE_DISTROS, distro, SUBPART.join((ACTION_DELETE, ACTION_VIEW))),
    ]


def distro_group_facts(distro: str) -> list[str]:
    """Facts for each group ``distro`` is shared with (the owner's private group included): view it."""
    return [fact(RESOURCE_DISTROS, distro, ACTION_VIEW)]


def profile_owner_facts(profile: str) -> list[str]:
    """Facts for the owner's private group of ``profile``: edit everything, delete and view."""
    return [
        fact(RESOURCE_PROFILES, profile, ACTION_EDIT, WILDCARD),
        fact(RESOURCE_PROFILES, profile, ACTION_DELETE),
        fact(RESOURCE_PROFILES, profile, ACTION_VIEW),
    ]


# --- keeping facts in step with resources -----------------------------------------------------------------------


def names_resource(fact_text: str, kind: str, name: str) -> bool:
    """Whether ``fact_text`` is about the resource ``name`` of type ``kind`` (``kind:name:...``).

    Matching is by part, exactly and case-sensitively: the first part must be ``kind`` and the second part must
    be ``name`` (ignoring surrounding whitespace). Use it to find the facts to delete with a resource; unlike
    v2's ``LIKE 'kind:name:%'`` it treats neither ``_`` nor ``%`` in names as patterns and ignores letter case
    nowhere.

    Args:
        fact_text: a stored fact.
        kind: the resource type, e.g. ``reservations``.
        name: the resource name.

    Returns:
        True if the fact names that resource.
    """
    parts = fact_text.strip().split(DIVIDER)
    return len(parts) >= 2 and parts[0].strip() == kind and parts[1].strip() == name


def rename_fact(fact: str, kind: str, old: str, new: str) -> str:
    """Rewrite ``fact`` for a resource renamed from ``old`` to ``new``.

    Igor v2 replaces the first substring ``:<old>:`` anywhere in the fact; this rewrites only the name part
    (index 1) and only when the fact is about that resource (see :func:`names_resource`), so a fact whose action
    or fields happen to equal ``old`` is left alone. Other facts are returned unchanged.

    Args:
        fact: a stored fact, e.g. ``reservations:old:edit:*``.
        kind: the resource type of the renamed resource.
        old: the old name.
        new: the new name.

    Returns:
        The rewritten fact (``reservations:new:edit:*``), or ``fact`` itself if it is not about ``kind:old``.

    Raises:
        BadInput: ``new`` contains ``:`` or ``,``, or is empty.
    """
    if not new.strip() or DIVIDER in new or SUBPART in new:
        raise BadInput(f"invalid new name '{new}' for a permission: it must be non-empty without ':' or ','")
    if not names_resource(fact, kind, old):
        return fact
    parts = fact.strip().split(DIVIDER)
    parts[1] = new
    return DIVIDER.join(parts)
