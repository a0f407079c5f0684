"""Groups: create / show / edit / delete with multiple owners (reference §1.6, §6, §8.9).

A group's members hold ``groups:<g>:view`` through the group itself; its owners hold ``groups:<g>:edit:*`` and
``groups:<g>:delete`` through their private groups. System groups (``all``, ``admins``) and private groups
(``u_<name>``) cannot be renamed or deleted; LDAP-synced groups are read-only here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pony.orm import db_session

from igor import permissions as perms
from igor.errors import BadInput, Conflict, Forbidden, NotFound
from igor.rules import check_description, check_group_name, check_username
from igor.services.context import (
    ADMINS_GROUP,
    ALL_GROUP,
    IGOR_ADMIN,
    PRIVATE_PREFIX,
    Principal,
    ServiceContext,
    find,
    naive,
    require,
)
from igor.services.grants import move_reservation_group
from igor.services.history import record_history
from igor.services.outbox import queue_email

SYSTEM_GROUPS = (ALL_GROUP, ADMINS_GROUP)


@dataclass(frozen=True)
class GroupView:
    name: str
    description: str
    owners: tuple[str, ...]
    members: tuple[str, ...] | None
    distros: tuple[str, ...]
    reservations: tuple[str, ...]
    policies: tuple[str, ...]
    is_ldap: bool

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "owners": list(self.owners),
                "members": list(self.members) if self.members is not None else None,
                "distros": list(self.distros), "hostPolicies": list(self.policies),
                "reservations": list(self.reservations), "isLDAP": self.is_ldap}


def _names(values: Any, key: str) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = [v for v in values.split(",")]
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise BadInput(f"invalid parameter '{key}': must be a list of user names")
    return sorted({check_username(v.strip().lower()) for v in values if v.strip()})  # v2 checkUsernameRules


class GroupService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def _users(self, names: Iterable[str], key: str) -> list:  # noqa: ANN401
        db = self.ctx.db
        users = []
        for name in names:
            if name == IGOR_ADMIN:
                raise Forbidden(f"cannot add {IGOR_ADMIN} to any group")
            user = find(db.User, name=name)
            if user is not None:
                users.append(user)
        missing = sorted(set(names) - {u.name for u in users})
        if len(missing) == 1:
            raise NotFound(f"user '{missing[0]}' not found")
        if missing:
            raise NotFound(f"user(s) '{', '.join(missing)}' not found")
        return users

    def _grant_owner(self, group, user) -> None:  # noqa: ANN001
        from igor.services.users import private_group

        pgroup = private_group(self.ctx, user)
        for fact in perms.group_owner_facts(group.name, group.is_ldap):
            if not self.ctx.db.Permission.exists(group=pgroup, fact=fact):
                self.ctx.db.Permission(group=pgroup, fact=fact)

    def _revoke_owner(self, group, user) -> None:  # noqa: ANN001
        from igor.services.users import private_group

        pgroup = private_group(self.ctx, user)
        for fact in perms.group_owner_facts(group.name, group.is_ldap):
            row = find(self.ctx.db.Permission, group=pgroup, fact=fact)
            if row is not None:
                row.delete()

    # -- create -----------------------------------------------------------------------------------

    @db_session
    def create(self, principal: Principal, name: str, owners: Any = None, members: Any = None,
               description: str = "") -> GroupView:
        require(principal, "groups:*:create", kind="group")
        name = check_group_name(name.strip())
        description = check_description(description or "")
        db = self.ctx.db
        if find(db.Group, name=name) is not None:
            raise Conflict(f"group '{name}' already exists")
        owner_names = set(_names(owners, "owners"))
        if principal.name != IGOR_ADMIN:
            owner_names.add(principal.name)
        if not owner_names:
            raise BadInput("a group needs at least one owner (igor-admin cannot own groups it creates)")
        owner_users = self._users(sorted(owner_names), "owners")
        member_users = self._users([m for m in _names(members, "members") if m not in owner_names], "members")
        group = db.Group(name=name, description=description, created=naive(self.ctx.now()))
        for user in owner_users:
            group.owners.add(user)
            group.members.add(user)
            self._grant_owner(group, user)
        for user in member_users:
            group.members.add(user)
        for fact in perms.group_member_facts(name):
            db.Permission(group=group, fact=fact)
        if len(group.members) > 1:
            queue_email(self.ctx, "group-created", [u.email for u in group.members if u.email], group=name)
        return self._view(group, principal)

    # -- show -------------------------------------------------------------------------------------

    @db_session
    def show(self, principal: Principal, names: list[str] | None = None, owners: list[str] | None = None,
             show_members: bool = False) -> dict[str, list[GroupView]]:
        """Groups the caller may view, split into those they own and those they are a member of."""
        db = self.ctx.db
        query = db.Group.select(lambda g: not g.is_user_private)
        groups = [g for g in query.order_by(db.Group.name)
                  if principal.can(f"groups:{g.name}:view")]
        if names:
            wanted = {n.strip() for n in names}
            groups = [g for g in groups if g.name in wanted]
        if owners:
            wanted = {n.strip().lower() for n in owners}
            groups = [g for g in groups if any(u.name in wanted for u in g.owners)]
        owned, member = [], []
        for g in groups:
            view = self._view(g, principal, show_members or principal.elevated)
            if principal.name in view.owners:
                owned.append(view)
            else:
                member.append(view)
        return {"owner": owned, "member": member}

    def _view(self, group, principal: Principal, members: bool = True) -> GroupView:  # noqa: ANN001
        return GroupView(
            name=group.name, description=group.description or "",
            owners=tuple(sorted(u.name for u in group.owners)),
            # v2 leaves igor-admin out of the members of the system groups
            members=tuple(sorted(u.name for u in group.members
                                 if not (u.name == IGOR_ADMIN and group.name in SYSTEM_GROUPS))) if members else None,
            distros=tuple(sorted(d.name for d in group.distros)),
            reservations=tuple(sorted(r.name for r in group.reservations)),
            policies=tuple(sorted(p.name for p in group.policies)), is_ldap=group.is_ldap)

    # -- edit -------------------------------------------------------------------------------------

    def _editable(self, principal: Principal, name: str, action: str):  # noqa: ANN202
        db = self.ctx.db
        group = find(db.Group, name=name)
        permission = perms.fact("groups", name, action)
        # v2: authz treats private groups as missing ("the group 'x' does not exist"); a caller who passes authz
        # reaches the handler, which answers "group 'x' not found" (private groups excluded from the lookup).
        if group is not None and group.is_user_private:
            if not principal.can(permission):
                raise NotFound(f"the group '{name}' does not exist")
            if action == "delete":
                if name == PRIVATE_PREFIX + IGOR_ADMIN:
                    raise Forbidden(f"group '{name}' deletion not allowed")
                raise Forbidden(f"cannot directly delete private group '{name}'; delete user instead")
            raise NotFound(f"group '{name}' not found")
        require(principal, permission, kind="group", name=name, exists=group is not None or principal.can(permission))
        if group is None:
            raise NotFound(f"group '{name}' not found")
        return group

    @db_session
    def edit(self, principal: Principal, name: str, changes: dict[str, Any]) -> str:
        if not changes:
            raise BadInput("requested operation had no parameters")
        group = self._editable(principal, name, "edit")
        owner_ops = {"addOwners", "rmvOwners"} & set(changes)
        member_ops = {"add", "remove"} & set(changes)
        if owner_ops and member_ops:
            raise BadInput("operations on owners and members must be separate commands")
        if group.is_ldap:
            raise Forbidden(f"cannot change details of LDAP-synced group '{name}' within igor")
        before = (group.name, frozenset(group.members), frozenset(group.owners))
        if "name" in changes:
            self._rename(group, changes["name"])
        if "description" in changes:
            if not isinstance(changes["description"], str):
                raise BadInput("invalid parameter 'description': must be a string")
            group.description = check_description(changes["description"])
        if owner_ops:
            self._edit_owners(group, _names(changes.get("addOwners"), "addOwners"),
                              _names(changes.get("rmvOwners"), "rmvOwners"))
        if member_ops:
            self._edit_members(group, _names(changes.get("add"), "add"), _names(changes.get("remove"), "remove"))
        self._notify(principal, group, *before)
        return ""  # v2 answers a group edit with an empty message (only its log says "'<g>' updated")

    def _rename(self, group, new: Any) -> None:  # noqa: ANN001
        if group.name in SYSTEM_GROUPS:
            raise Forbidden(f"cannot change the name of group '{group.name}'")
        if not isinstance(new, str):
            raise BadInput("invalid parameter 'name': must be a string")
        new = check_group_name(new.strip())
        if new == group.name:
            return
        if find(self.ctx.db.Group, name=new) is not None:
            raise Conflict(f"group name '{new}' already in use")
        old = group.name
        for row in self.ctx.db.Permission.select():
            renamed = perms.rename_fact(row.fact, "groups", old, new)
            if renamed != row.fact:
                row.fact = renamed
        group.name = new
        if group.policies:  # host policies name their groups: other workers' engines must learn the new name
            self.ctx.bump_epoch()

    def _edit_owners(self, group, add: list[str], remove: list[str]) -> None:  # noqa: ANN001
        if group.name == ALL_GROUP:
            raise Forbidden(f"the owners of group '{ALL_GROUP}' cannot be changed")
        if IGOR_ADMIN in remove and group.name == ADMINS_GROUP:
            raise Forbidden(f"cannot remove {IGOR_ADMIN} from the '{ADMINS_GROUP}' group")
        both = sorted(set(add) & set(remove))
        if both:
            raise BadInput(f"cannot add and remove the same owner '{both[0]}' from group")
        for user in self._users(add, "addOwners"):
            if user not in group.owners:
                group.owners.add(user)
                group.members.add(user)
                self._grant_owner(group, user)
        for uname in remove:
            user = find(self.ctx.db.User, name=uname)
            if user is None or user not in group.owners:
                raise BadInput(f"user '{uname}' is not an owner of group '{group.name}'")
            group.owners.remove(user)
            self._revoke_owner(group, user)
        if not group.owners:
            raise BadInput("cannot remove all owners from a group")

    def _edit_members(self, group, add: list[str], remove: list[str]) -> None:  # noqa: ANN001
        if group.name == ALL_GROUP:
            raise Forbidden(f"cannot {'remove members from' if remove else 'add members to'} the '{ALL_GROUP}' group")
        both = sorted(set(add) & set(remove))
        if both:
            raise BadInput("the same user appears in both add and remove params")
        for user in self._users(add, "add"):
            if user not in group.members:
                group.members.add(user)
        for uname in remove:
            if uname == IGOR_ADMIN and group.name == ADMINS_GROUP:
                raise Forbidden(f"cannot remove {IGOR_ADMIN} from the '{ADMINS_GROUP}' group")
            user = find(self.ctx.db.User, name=uname)
            if user is None or user not in group.members:
                raise BadInput(f"user '{uname}' is not a member of group '{group.name}'")
            if user in group.owners:
                if len(group.owners) == 1:
                    raise BadInput("cannot remove the last owner of a group without designating a new one")
                group.owners.remove(user)
                self._revoke_owner(group, user)
            group.members.remove(user)

    def _notify(self, principal: Principal, group: Any, old_name: str, members: frozenset[Any],
                owners: frozenset[Any]) -> None:
        """The emails of reference §7 a group edit causes (queued in its transaction)."""
        def mail(template: str, users: Any, **fields: Any) -> None:
            queue_email(self.ctx, template, [u.email for u in users if u.email], group=group.name,
                        actor=principal.name, **fields)

        now_members, now_owners = set(group.members), set(group.owners)
        if group.name != old_name:
            mail("group-renamed", now_members, old_name=old_name)
        mail("group-added", now_members - members)
        mail("group-removed", members - now_members)
        mail("group-owner-added", now_owners - owners)
        mail("group-owner-removed", (owners - now_owners) & now_members)

    # -- delete -----------------------------------------------------------------------------------

    @db_session
    def delete(self, principal: Principal, name: str) -> str:
        group = self._editable(principal, name, "delete")
        if group.name in SYSTEM_GROUPS:
            raise Forbidden(f"group '{name}' deletion not allowed")
        if group.policies:
            raise Conflict(f"cannot delete '{name}' - must edit or remove host policies defining access for this "
                           f"group ({', '.join(sorted(p.name for p in group.policies))})")
        db = self.ctx.db
        for res in list(group.reservations):  # v2: as 'res edit -g none', grants included
            move_reservation_group(db, res, find(db.Group, name=PRIVATE_PREFIX + res.owner.name))
            record_history(self.ctx, res, "updated:group-delete")
        for owner in list(group.owners):
            self._revoke_owner(group, owner)
        prefix = f"groups:{name}:"
        db.Permission.select(lambda p: p.fact.startswith(prefix)).delete(bulk=True)
        group.distros.clear()
        group.delete()
        return ""  # v2: empty message
