"""Users: the system accounts and groups every installation has, and user create/show/edit/reset/delete.

Rules and messages follow reference §1.6, §5.6 and §6: every user has a private group ``u_<name>`` (owned by
igor-admin) carrying ``users:<name>:edit:email,password,fullName`` and is a member of ``all``; igor-admin is always
local, hidden from users who are not elevated, and cannot be deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pony.orm import db_session

from igor import permissions as perms
from igor.errors import BadInput, Conflict, Forbidden, NotFound
from igor.rules import check_email, check_full_name, check_password, check_username, hash_password, verify_password
from igor.services.context import (
    ADMINS_GROUP,
    ALL_GROUP,
    IGOR_ADMIN,
    PRIVATE_PREFIX,
    Principal,
    ServiceContext,
    aware,
    find,
    naive,
    require,
    require_elevated,
)
from igor.services.outbox import queue_email

IGOR_ADMIN_PASSWORD = "igor-admin"


@dataclass(frozen=True)
class UserView:
    name: str
    full_name: str
    email: str | None
    groups: tuple[str, ...] | None
    join_date: datetime

    def to_json(self) -> dict[str, Any]:
        """Igor v2's UserData: email and groups are blank/null unless the viewer is the user or elevated."""
        return {"name": self.name, "fullName": self.full_name, "email": self.email or "",
                "groups": list(self.groups) if self.groups else None, "joinDate": int(self.join_date.timestamp())}


def ensure_system(ctx: ServiceContext) -> None:
    """Create what every installation has, once: igor-admin, groups ``all`` and ``admins`` with their grants."""
    with db_session:
        db = ctx.db
        admin = find(db.User, name=IGOR_ADMIN)
        if admin is None:
            admin = db.User(name=IGOR_ADMIN, full_name="Igor Admin", pass_hash=hash_password(IGOR_ADMIN_PASSWORD),
                            created=naive(ctx.now()))
        for gname, facts, desc in ((ALL_GROUP, perms.ALL_GROUP_FACTS, "all users"),
                                   (ADMINS_GROUP, perms.ADMINS_GROUP_FACTS, "Igor administrators")):
            group = find(db.Group, name=gname)
            if group is None:
                group = db.Group(name=gname, description=desc, created=naive(ctx.now()))
                group.owners.add(admin)
            for fact in facts:
                if not db.Permission.exists(group=group, fact=fact):
                    db.Permission(group=group, fact=fact)
        find(db.Group, name=ADMINS_GROUP).members.add(admin)
        policy = find(db.HostPolicy, name="default")
        if policy is None:
            db.HostPolicy(name="default", max_res_time=ctx.config.scheduler.max_reserve_time)
        elif policy.max_res_time != ctx.config.scheduler.max_reserve_time:
            policy.max_res_time = ctx.config.scheduler.max_reserve_time  # tracks scheduler.maxReserveTime
            ctx.bump_epoch()
        if find(db.Group, name=PRIVATE_PREFIX + IGOR_ADMIN) is None:
            _private_group(ctx, admin, admin)


def _private_group(ctx: ServiceContext, user, admin):  # noqa: ANN001, ANN202 - Pony entities
    db = ctx.db
    group = db.Group(name=PRIVATE_PREFIX + user.name, is_user_private=True, created=naive(ctx.now()))
    group.owners.add(admin)
    group.members.add(user)
    for fact in perms.private_group_facts(user.name):
        db.Permission(group=group, fact=fact)
    return group


def new_account(ctx: ServiceContext, name: str, email: str | None, full_name: str, *,  # noqa: ANN201
                ldap_managed: bool = False):
    """Create a checked, not yet taken account (inside a db_session): the user, their private group, membership of
    ``all``, and the "account created" email (with the default password under local authentication). Shared by
    ``user create`` and the LDAP user sync (``ldap_managed``: created by it, so it may remove the account)."""
    db = ctx.db
    local = ctx.config.auth.scheme == "local"
    user = db.User(name=name, email=email, full_name=full_name, created=naive(ctx.now()), ldap_managed=ldap_managed,
                   pass_hash=hash_password(ctx.config.auth.default_user_password) if local else "")
    _private_group(ctx, user, find(db.User, name=IGOR_ADMIN))
    find(db.Group, name=ALL_GROUP).members.add(user)
    if email:
        queue_email(ctx, "user-created", [email], user=name,
                    password=ctx.config.auth.default_user_password if local else None)
    return user


def private_group(ctx: ServiceContext, user):  # noqa: ANN001, ANN201
    """A user's private group entity."""
    return find(ctx.db.Group, name=PRIVATE_PREFIX + user.name)


class UserService:
    """create / show / edit / reset / delete of user accounts."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def _user(self, name: str):  # noqa: ANN202
        return find(self.ctx.db.User, name=name)

    # -- create -----------------------------------------------------------------------------------

    @db_session
    def create(self, principal: Principal, name: str, email: str, full_name: str = "") -> UserView:
        require_elevated(principal)
        if self.ctx.config.auth.ldap.sync.enable_user_sync:
            raise BadInput("cannot create local user when LDAP manages account creation")
        name = check_username(name.strip().lower())
        email = check_email(email.strip().lower())
        full_name = check_full_name(full_name.strip())
        db = self.ctx.db
        if self._user(name) is not None or find(db.Group, name=PRIVATE_PREFIX + name) is not None:
            raise Conflict(f"user '{name}' already exists")
        if find(db.User, email=email) is not None:
            raise Conflict(f"email '{email}' already used by '{find(db.User, email=email).name}'")
        user = new_account(self.ctx, name, email, full_name)
        return self._view(user, principal)

    # -- show -------------------------------------------------------------------------------------

    @db_session
    def show(self, principal: Principal, names: list[str] | None = None) -> list[UserView]:
        require(principal, "users:*:view", kind="user")
        db = self.ctx.db
        if names:
            users = [u for u in (self._user(n.strip().lower()) for n in names) if u is not None]
        else:
            users = list(db.User.select().order_by(db.User.name))
        if not principal.elevated:
            users = [u for u in users if u.name != IGOR_ADMIN]
        return [self._view(u, principal) for u in sorted(users, key=lambda u: u.name)]

    def _view(self, user, principal: Principal) -> UserView:  # noqa: ANN001
        full = principal.elevated or principal.name == user.name
        groups = tuple(sorted(g.name for g in user.groups if not g.is_user_private and g.name != ALL_GROUP)) \
            if full else None
        return UserView(name=user.name, full_name=user.full_name or "", email=(user.email or "") if full else None,
                        groups=groups, join_date=aware(user.created))  # type: ignore[arg-type]

    # -- edit -------------------------------------------------------------------------------------

    @db_session
    def edit(self, principal: Principal, name: str, changes: dict[str, Any]) -> str:
        """Apply one edit: ``{email}``/``{fullName}`` (together allowed), ``{oldPassword, password}`` alone,
        or ``{reset: true}`` alone (admin). Returns the success message."""
        if not changes:
            raise BadInput("requested operation had no parameters")
        user = self._user(name)
        keys = set(changes)
        if "reset" in keys and len(keys) > 1:
            raise BadInput("reset password cannot be executed with other user edits")
        if keys & {"email", "fullName"} and keys & {"password", "oldPassword"}:
            raise BadInput("password changes must be done separately from other edits")
        if "password" in keys and "oldPassword" not in keys:
            raise BadInput("required parameter 'oldPassword' not found")
        if "oldPassword" in keys and "password" not in keys:
            raise BadInput("required parameter 'password' not found")
        fields = sorted(keys - {"oldPassword"})
        user = self._user(name)
        external = self.ctx.config.auth.scheme != "local" and name != IGOR_ADMIN
        if external and keys & {"password", "reset"}:
            raise Forbidden("not allowed - igor authentication is being managed externally: passwords are "
                            f"checked by LDAP (auth.scheme {self.ctx.config.auth.scheme}), so change or reset them "
                            f"there; only {IGOR_ADMIN}'s password is kept by igor")
        permission = perms.fact("users", name, "edit", fields)
        # v2: a caller without the permission learns "the user 'x' does not exist" (authz); one with it
        # reaches the handler, which answers "user 'x' not found".
        require(principal, permission, kind="user", name=name, exists=user is not None or principal.can(permission))
        if user is None:
            raise NotFound(f"user '{name}' not found")
        if "reset" in keys:
            if changes["reset"] is not True:
                raise BadInput("invalid parameter 'reset': must be boolean=true to have effect")
            return self._reset(principal, user)
        if "password" in keys:
            return self._password(principal, user, changes["oldPassword"], changes["password"])
        if "email" in changes:
            email = check_email(str(changes["email"]).strip().lower())
            other = find(self.ctx.db.User, email=email)
            if other is not None and other is not user:
                raise Conflict(f"email '{email}' already used by '{other.name}'")
            user.email = email
        if "fullName" in changes:
            user.full_name = check_full_name(str(changes["fullName"]).strip())
        return f"user '{name}' updated"

    def _password(self, principal: Principal, user, old: Any, new: Any) -> str:  # noqa: ANN001
        new = check_password(new.strip())
        if principal.name != user.name:
            raise BadInput("must be signed in as original account to choose new password - admins must use reset "
                           "password for users")
        if not verify_password(old.strip(), user.pass_hash or ""):
            raise Forbidden("old password was incorrect")
        user.pass_hash = hash_password(new)
        self.ctx.db.Token.select(lambda t: t.user == user).delete(bulk=True)
        return f"user '{user.name}' password changed"

    def _reset(self, principal: Principal, user) -> str:  # noqa: ANN001
        require_elevated(principal)
        password = IGOR_ADMIN_PASSWORD if user.name == IGOR_ADMIN else self.ctx.config.auth.default_user_password
        user.pass_hash = hash_password(password)
        self.ctx.db.Token.select(lambda t: t.user == user).delete(bulk=True)
        cc = []
        if user.name == IGOR_ADMIN:  # v2: the admins hear that the admin account's password was reset
            admins = find(self.ctx.db.Group, name=ADMINS_GROUP)
            cc = [u.email for u in admins.members if u.email and u is not user] if admins is not None else []
        if user.email or cc:
            queue_email(self.ctx, "password-reset", [user.email] if user.email else cc, cc=cc if user.email else [],
                        user=user.name, password=password)
        return f"user '{user.name}' password reset"

    # -- delete -----------------------------------------------------------------------------------

    @db_session
    def delete(self, principal: Principal, name: str) -> str:
        user = self._user(name)
        permission = perms.fact("users", name, "delete")
        require(principal, permission, kind="user", name=name, exists=user is not None or principal.can(permission))
        if name == IGOR_ADMIN:
            raise Forbidden(f"user '{IGOR_ADMIN}' deletion not allowed")
        if name == principal.name:
            raise Forbidden("user not allowed to delete self - do this as igor-admin or another admin")
        if user is None:
            raise NotFound(f"user '{name}' not found")
        sole = sorted(g.name for g in user.owned_groups if not g.is_user_private and len(g.owners) == 1)
        if sole:
            raise Conflict(f"cannot delete user - remove or transfer ownership of groups in list first: "
                           f"[{' '.join(sole)}]")
        if user.reservations:
            raise Conflict("cannot delete user - remove or transfer ownership of reservations in list first: "
                           f"[{' '.join(sorted(r.name for r in user.reservations))}]")
        if user.distros:
            raise Conflict("cannot delete user - remove or transfer ownership of distros in list first: "
                           f"[{' '.join(sorted(d.name for d in user.distros))}]")
        group = private_group(self.ctx, user)
        if group is not None:
            group.delete()
        for profile in list(user.profiles):
            profile.delete()
        for ks in list(user.kickstarts):
            ks.owner = None
        user.delete()
        return f"user '{name}' deleted"
