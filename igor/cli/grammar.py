"""The client's command grammar as data: every noun, verb, flag, argument kind and help text, and the API call
each command makes. The batch CLI builds its argparse parsers from :data:`GRAMMAR`; the ``igor>`` shell reads the
same table for completion and highlighting. Nothing here parses or talks HTTP.

A :class:`Flag` names the API field its value goes to (``param``) and where (``to``: query, body or path).
Kinds say how the text is checked and converted client-side (see ``igor.cli.commands.convert``):

``str``       free text                     ``name``      an object name (completable: see ``values``)
``int``       integer                       ``bool``      a switch (``store_true``)
``duration``  ``90``, ``3d``, ``5h32m``     ``datetime``  ``Mar-5-26T08:00`` or ISO 8601 → epoch seconds
``when``      a duration or a datetime (``--extend``): a datetime becomes epoch seconds
``hosts``     a node expression ``kn[1-4],kn9``
``nodes``     a count (→ ``count_param``) or a node expression (→ ``param``)
``list``      comma list → JSON array / repeated query parameter
``choice``    one of ``choices``
``file``      a local file, uploaded as a ``multipart/form-data`` part named ``param``
"""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("str", "name", "int", "bool", "duration", "datetime", "when", "hosts", "nodes", "list", "choice", "file")


@dataclass(frozen=True)
class Flag:
    """One option or positional argument.

    Attributes:
        name: Long name (``--name``) or, for positionals, the metavar-ish identifier.
        short: One-letter alias, without the dash.
        kind: One of :data:`KINDS`.
        help: Help text.
        param: API field the converted value goes to (``None``: used by the command itself).
        to: ``body``, ``query`` or ``path`` (fills ``{param}`` in the verb's path).
        positional: A positional argument rather than an option.
        required: Must be given.
        choices: Allowed values of a ``choice``.
        count_param: For ``nodes``: the field an integer count goes to.
        values: What the shell completes it from (``reservation``, ``host``, ``group``, ``user``, ``policy``,
            ``distro``, ``profile``).
        exclusive: Flags sharing this tag are mutually exclusive.
        default: Sent when the flag is absent (``None``: not sent).
        admin: Only meaningful for admins (marked in help).
    """

    name: str
    short: str | None = None
    kind: str = "str"
    help: str = ""
    param: str | None = None
    to: str = "body"
    positional: bool = False
    required: bool = False
    choices: tuple[str, ...] = ()
    count_param: str | None = None
    values: str | None = None
    exclusive: str | None = None
    default: object = None
    admin: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"flag {self.name}: unknown kind {self.kind}")

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")


@dataclass(frozen=True)
class Alt:
    """When the switch ``flag`` is set, the command calls ``method path`` instead (``elevate -s``)."""

    flag: str
    method: str
    path: str


@dataclass(frozen=True)
class Verb:
    """One command: what it calls and how its answer is shown.

    Attributes:
        name: The verb (``create``), or ``""`` for a noun that is itself a command (``login``).
        help: One-line help.
        method: HTTP method (``""``: handled locally by ``commands.LOCAL``).
        path: API path with ``{param}`` placeholders filled from path flags.
        flags: Options and positionals, in order.
        fixed: Body fields always sent (``{"block": True}``).
        alts: Alternative calls selected by a switch.
        render: How the answer is printed: ``message`` (``igor: <message>``), ``json`` (pretty data), or the
            name of a table in ``igor.cli.render.TABLES``.
        admin: An ``[admin-only]`` command.
        confirm: Destructive: the shell asks before running it.
        multipart: Always sent as ``multipart/form-data`` (else only when a ``file`` flag is given).
    """

    name: str
    help: str
    method: str = ""
    path: str = ""
    flags: tuple[Flag, ...] = ()
    fixed: dict[str, object] = field(default_factory=dict)
    alts: tuple[Alt, ...] = ()
    render: str = "message"
    admin: bool = False
    confirm: bool = False
    multipart: bool = False


@dataclass(frozen=True)
class Noun:
    """A top-level word: either a group of verbs (``res``) or a command itself (``login``, one verb named ``""``)."""

    name: str
    help: str
    verbs: tuple[Verb, ...]

    @property
    def is_command(self) -> bool:
        return len(self.verbs) == 1 and self.verbs[0].name == ""

    def verb(self, name: str) -> Verb:
        for v in self.verbs:
            if v.name == name:
                return v
        raise KeyError(name)


# --- shared flags ------------------------------------------------------------------------------------------

_SIMPLE = Flag("simple", "x", "bool", "plain output: no colour or box drawing")


def _res_name(help_: str = "reservation name") -> Flag:
    return Flag("res", kind="name", help=help_, param="resName", to="path", positional=True, required=True,
                values="reservation")


def _filter(name: str, short: str | None, param: str, help_: str, values: str | None = None) -> Flag:
    return Flag(name, short, "list", help_, param=param, to="query", values=values)


#: Whose profile ``profile edit|del`` means (profile names are unique per owner only): admins naming another's.
_PROFILE_OWNER = Flag("owner", "o", "name", "the profile's owner (admins: another user's profile)", param="owner",
                      to="query", values="user", admin=True)


# --- the table ---------------------------------------------------------------------------------------------

GRAMMAR: tuple[Noun, ...] = (
    Noun("login", "log in to the igor server and store the token", (
        Verb("", "log in to the igor server and store the token", flags=(
            Flag("user", "u", "name", "user name (default: prompt, enter = OS user)", values="user"),
            Flag("password-stdin", None, "bool", "read the password from standard input (for scripts)"),
        )),
    )),
    Noun("logout", "log out: revoke the token and delete it", (Verb("", "log out: revoke and delete the token"),)),
    Noun("last", "show who used this client last and when", (Verb("", "show the last access from this client"),)),
    Noun("elevate", "elevate to admin rights for a while (members of admins)", (
        Verb("", "elevate to admin rights for a while", "PATCH", "/igor/elevate", flags=(
            Flag("status", "s", "bool", "show how long the elevation has left", exclusive="elevate"),
            Flag("cancel", "c", "bool", "cancel the elevation", exclusive="elevate"),
        ), alts=(Alt("status", "GET", "/igor/elevate"), Alt("cancel", "DELETE", "/igor/elevate"))),
    )),
    Noun("settings", "show the server's public settings (-a: whole configuration)", (
        Verb("", "show the server's settings", "GET", "/igor/config/public", flags=(
            Flag("all", "a", "bool", "the whole server configuration", admin=True),
        ), alts=(Alt("all", "GET", "/igor/config"),), render="json"),
    )),
    Noun("auth-reset", "revoke every token of every user", (
        Verb("", "revoke every token of every user", "PUT", "/igor/authreset", admin=True, confirm=True),
    )),
    Noun("show", "the cluster map, node status and reservations", (
        Verb("", "the cluster map, node status and reservations", "GET", "/igor", render="show", flags=(
            Flag("all", "a", "bool", "every reservation, not only yours and your groups'"),
            Flag("current", "c", "bool", "only current reservations"),
            Flag("future", "f", "bool", "only future reservations"),
            Flag("group", "g", "bool", "only reservations of your groups"),
            Flag("error", "e", "bool", "only reservations with install errors"),
            Flag("filter-name", "n", "list", "reservations whose name contains any of these", values="reservation"),
            Flag("filter-owner", "o", "list", "reservations of these owners", values="user"),
            Flag("sort-start", None, "bool", "sort by start time", exclusive="sort"),
            Flag("sort-name", None, "bool", "sort by name", exclusive="sort"),
            Flag("sort-owner", None, "bool", "sort by owner", exclusive="sort"),
            Flag("reverse", "r", "bool", "reverse the sort"),
            Flag("time-left", "t", "bool", "show the time left instead of the end"),
            Flag("no-color", None, "bool", "no colour"),
            Flag("no-map", None, "bool", "no node map"),
            _SIMPLE,
        )),
    )),
    Noun("res", "reservations", (
        Verb("create", "reserve nodes", "POST", "/igor/reservations", flags=(
            Flag("name", kind="name", help="reservation name", param="name", positional=True, required=True),
            Flag("nodes", "n", "nodes", "a count (4) or nodes (dn[1-4])", param="nodeList", count_param="nodeCount",
                 required=True, values="host"),
            Flag("start", "s", "datetime", "start time (default: now)", param="start"),
            Flag("end", "e", "when", "how long (90, 3d, 5h32m) or until when (a datetime); default: the "
                 "server's defaultReserveTime", param="duration", exclusive="end"),
            Flag("duration", None, "duration", "how long (the same as -e with a duration)", param="duration",
                 exclusive="end"),
            Flag("group", "g", "name", "group sharing the reservation", param="group", values="group"),
            Flag("desc", None, "str", "description", param="description"),
            Flag("owner", "o", "name", "owner (admins)", param="owner", values="user", admin=True),
            Flag("distro", "d", "name", "distro to install", param="distro", values="distro", exclusive="image"),
            Flag("profile", "p", "name", "profile to install", param="profile", values="profile",
                 exclusive="image"),
            Flag("kernel-args", "k", "str", "kernel arguments (with --distro)", param="kernelArgs"),
            Flag("vlan", "v", "str", "VLAN id or a reservation's name", param="vlan"),
            Flag("no-cycle", None, "bool", "do not power-cycle the nodes at start", param="noCycle"),
            Flag("where", None, "str", "only nodes whose attributes match (ram_gb>=64)", param="where"),
            Flag("dry-run", None, "bool", "check and schedule without reserving", param="dryRun"),
        )),
        Verb("show", "list reservations", "GET", "/igor/reservations", render="reservations", flags=(
            Flag("all", "a", "bool", "every reservation", param="all", to="query"),
            _filter("names", "n", "name", "these reservations", "reservation"),
            _filter("owners", "o", "owner", "reservations of these owners", "user"),
            _filter("groups", "g", "group", "reservations of these groups", "group"),
            _filter("distros", "d", "distro", "reservations with these distros", "distro"),
            _filter("profiles", "p", "profile", "reservations with these profiles", "profile"),
            _SIMPLE,
        )),
        Verb("edit", "extend, resize, rename or hand over a reservation", "PATCH", "/igor/reservations/{resName}",
             flags=(
                 _res_name(),
                 Flag("extend", None, "when", "extend by a duration or to a datetime", param="extend",
                      exclusive="op"),
                 Flag("extend-max", None, "bool", "extend as far as allowed", param="extendMax", exclusive="op"),
                 Flag("drop", None, "hosts", "remove these nodes", param="drop", values="host", exclusive="op"),
                 Flag("add", None, "nodes", "add a count or these nodes", param="addNodeList",
                      count_param="addNodeCount", values="host", exclusive="op"),
                 Flag("name", "n", "name", "new name", param="name"),
                 Flag("owner", "o", "name", "new owner", param="owner", values="user"),
                 Flag("group", "g", "name", "new group (none = the owner's own)", param="group", values="group"),
                 Flag("desc", None, "str", "new description", param="description"),
                 Flag("distro", "d", "name", "new distro", param="distro", values="distro"),
                 Flag("profile", "p", "name", "new profile", param="profile", values="profile"),
                 Flag("kernel-args", "k", "str", "new kernel arguments", param="kernelArgs"),
                 Flag("dry-run", None, "bool", "check without changing anything", param="dryRun"),
             )),
        Verb("del", "delete a reservation", "DELETE", "/igor/reservations/{resName}", flags=(_res_name(),),
             confirm=True),
        Verb("speculate", "the earliest windows in which a request would be granted", "GET",
             "/igor/reservations/speculate", render="windows", flags=(
                 Flag("nodes", "n", "str", "a count (4) or nodes (dn[1-4])", param="nodes", to="query",
                      required=True, values="host"),
                 Flag("duration", "d", "duration", "how long", param="duration", to="query"),
                 Flag("start", "s", "datetime", "not before this time", param="after", to="query"),
                 Flag("limit", None, "int", "how many windows", param="limit", to="query"),
                 Flag("where", None, "str", "only nodes whose attributes match", param="where", to="query"),
             )),
    )),
    Noun("host", "hosts (nodes)", (
        Verb("show", "list hosts", "GET", "/igor/hosts", render="hosts", flags=(
            Flag("nodes", "n", "hosts", "these nodes", param="name", to="query", values="host"),
            _filter("hostnames", "d", "hostname", "these host names"),
            _filter("eths", "e", "eth", "these interfaces"),
            _filter("ips", "i", "ip", "these IPs"),
            _filter("macs", "m", "mac", "these MACs"),
            _filter("policies", "p", "hostPolicy", "hosts with these policies", "policy"),
            _filter("states", "s", "state", "available, reserved, blocked, error"),
            _filter("reservations", "r", "reservation", "hosts in these reservations", "reservation"),
            Flag("powered", None, "choice", "powered on or off", param="powered", to="query",
                 choices=("true", "false")),
            _SIMPLE,
        )),
        Verb("edit", "edit a host", "PATCH", "/igor/hosts/{hostName}", admin=True, flags=(
            Flag("host", kind="name", help="host name", param="hostName", to="path", positional=True,
                 required=True, values="host"),
            Flag("policy", "p", "name", "host policy", param="hostPolicy", values="policy"),
            Flag("hostname", "d", "str", "network host name", param="hostname"),
            Flag("boot", "b", "choice", "boot mode", param="boot", choices=("bios", "uefi")),
            Flag("ip", "i", "str", "IP address", param="ip"),
            Flag("eth", "e", "str", "network interface", param="eth"),
            Flag("mac", "m", "str", "MAC address", param="mac"),
        )),
        Verb("del", "delete a host", "DELETE", "/igor/hosts/{hostName}", admin=True, confirm=True, flags=(
            Flag("host", kind="name", help="host name", param="hostName", to="path", positional=True,
                 required=True, values="host"),
        )),
        Verb("block", "block hosts from new reservations", "PATCH", "/igor/hosts-ctrl/block", admin=True,
             confirm=True, fixed={"block": True}, flags=(
                 Flag("nodes", kind="hosts", help="nodes", param="hosts", positional=True, required=True,
                      values="host"),
             )),
        Verb("unblock", "unblock hosts", "PATCH", "/igor/hosts-ctrl/block", admin=True, fixed={"block": False},
             flags=(Flag("nodes", kind="hosts", help="nodes", param="hosts", positional=True, required=True,
                         values="host"),)),
    )),
    Noun("power", "power nodes on, off or through a cycle (yours while a reservation runs; admins any)", tuple(
        Verb(cmd, help_, "PATCH", "/igor/hosts-ctrl/power", fixed={"cmd": cmd}, render="power", confirm=cmd != "on",
             flags=(
            Flag("nodes", "n", "hosts", "these nodes", param="hosts", values="host", exclusive="target"),
            Flag("res", "r", "name", "the nodes of this reservation", param="resName", values="reservation",
                 exclusive="target"),
        )) for cmd, help_ in (("on", "power nodes on"), ("off", "power nodes off"),
                              ("cycle", "power-cycle nodes (off, then on)")))),
    Noun("policy", "host policies", (
        Verb("create", "create a host policy", "POST", "/igor/hostpolicy", admin=True, flags=(
            Flag("name", kind="name", help="policy name", param="name", positional=True, required=True),
            Flag("max-time", "t", "duration", "longest reservation", param="maxResTime"),
            Flag("groups", "g", "list", "groups allowed to use the hosts", param="accessGroups", values="group"),
            Flag("unavail", "u", "list", "unavailable windows 'CRON:DURATION'", param="notAvailable"),
        )),
        Verb("show", "list host policies", "GET", "/igor/hostpolicy", render="policies", flags=(
            _filter("names", "n", "name", "these policies", "policy"),
            _filter("groups", "g", "accessGroups", "policies of these groups", "group"),
            _filter("hosts", None, "hosts", "policies of these hosts", "host"),
            _SIMPLE,
        )),
        Verb("edit", "edit a host policy", "PATCH", "/igor/hostpolicy/{hostpolicyName}", admin=True, flags=(
            Flag("policy", kind="name", help="policy name", param="hostpolicyName", to="path", positional=True,
                 required=True, values="policy"),
            Flag("name", "n", "name", "new name", param="name"),
            Flag("max-time", "t", "duration", "longest reservation", param="maxResTime"),
            Flag("add-groups", "g", "list", "add access groups", param="addGroups", values="group"),
            Flag("remove-groups", "r", "list", "remove access groups", param="removeGroups", values="group"),
            Flag("add-unavail", "u", "list", "add unavailable windows", param="addNotAvailable"),
            Flag("remove-unavail", "x", "list", "remove unavailable windows", param="removeNotAvailable"),
        )),
        Verb("apply", "make a policy the policy of hosts ('default' reverts)", "PATCH", "/igor/hosts-ctrl/policy",
             admin=True, flags=(
                 Flag("policy", kind="name", help="policy name", param="policy", positional=True, required=True,
                      values="policy"),
                 Flag("nodes", kind="hosts", help="nodes", param="nodeList", positional=True, required=True,
                      values="host"),
             )),
        Verb("del", "delete a host policy", "DELETE", "/igor/hostpolicy/{hostpolicyName}", admin=True,
             confirm=True, flags=(
                 Flag("policy", kind="name", help="policy name", param="hostpolicyName", to="path",
                      positional=True, required=True, values="policy"),
             )),
    )),
    Noun("user", "users", (
        Verb("create", "create a user", "POST", "/igor/users", admin=True, flags=(
            Flag("name", kind="name", help="user name", param="name", positional=True, required=True),
            Flag("email", kind="str", help="e-mail address", param="email", positional=True, required=True),
            Flag("full-name", "f", "str", "full name", param="fullName"),
        )),
        Verb("show", "list users (default: yourself)", "GET", "/igor/users", render="users", flags=(
            Flag("all", "a", "bool", "every user"),
            _filter("names", "n", "name", "these users", "user"),
            _SIMPLE,
        )),
        Verb("edit", "change e-mail, full name or password", "PATCH", "/igor/users/{userName}", flags=(
            Flag("name", "n", "name", "the user to edit (default: you)", param="userName", to="path",
                 values="user"),
            Flag("email", "e", "str", "new e-mail address", param="email"),
            Flag("full-name", "f", "str", "new full name", param="fullName"),
            Flag("password", None, "bool", "change your password (prompts)"),
            Flag("password-stdin", None, "bool", "change your password, reading the current and the new one from "
                 "standard input, one per line (for scripts)"),
        )),
        Verb("reset", "reset a user's password", "PATCH", "/igor/users/{userName}", admin=True,
             fixed={"reset": True}, flags=(
                 Flag("user", kind="name", help="user name", param="userName", to="path", positional=True,
                      required=True, values="user"),
             )),
        Verb("del", "delete a user", "DELETE", "/igor/users/{userName}", admin=True, confirm=True, flags=(
            Flag("user", kind="name", help="user name", param="userName", to="path", positional=True,
                 required=True, values="user"),
        )),
    )),
    Noun("group", "groups", (
        Verb("create", "create a group (you become an owner)", "POST", "/igor/groups", flags=(
            Flag("name", kind="name", help="group name", param="name", positional=True, required=True),
            Flag("owners", "o", "list", "more owners", param="owners", values="user"),
            Flag("members", "m", "list", "members", param="members", values="user"),
            Flag("desc", None, "str", "description", param="description"),
            Flag("ldap", "L", "bool", "an LDAP-synced group", param="isLDAP"),
        )),
        Verb("show", "list groups", "GET", "/igor/groups", render="groups", flags=(
            _filter("names", "n", "name", "these groups", "group"),
            _filter("owners", "o", "owner", "groups of these owners", "user"),
            Flag("members", "m", "bool", "show members", param="showMembers", to="query"),
            _SIMPLE,
        )),
        Verb("edit", "rename a group or change its owners and members", "PATCH", "/igor/groups/{groupName}",
             flags=(
                 Flag("group", kind="name", help="group name", param="groupName", to="path", positional=True,
                      required=True, values="group"),
                 Flag("name", "n", "name", "new name", param="name"),
                 Flag("desc", None, "str", "new description", param="description"),
                 Flag("add-owners", "o", "list", "add owners", param="addOwners", values="user"),
                 Flag("rmv-owners", "w", "list", "remove owners", param="rmvOwners", values="user"),
                 Flag("add", "a", "list", "add members", param="add", values="user"),
                 Flag("remove", "r", "list", "remove members", param="remove", values="user"),
             )),
        Verb("del", "delete a group", "DELETE", "/igor/groups/{groupName}", confirm=True, flags=(
            Flag("group", kind="name", help="group name", param="groupName", to="path", positional=True,
                 required=True, values="group"),
        )),
    )),
    Noun("image", "OS boot images (kernel + initrd pairs)", (
        Verb("register", "register a kernel and initrd (upload, or files staged on the server)", "POST",
             "/igor/images/register", admin=True, multipart=True, flags=(
                 Flag("kernel", "k", "file", "kernel file to upload", param="kernelFile", exclusive="kernel"),
                 Flag("initrd", "i", "file", "initrd file to upload", param="initrdFile", exclusive="initrd"),
                 Flag("kstaged", None, "str", "kernel file name in the server's imageStagePath", param="kstaged",
                      exclusive="kernel"),
                 Flag("istaged", None, "str", "initrd file name in the server's imageStagePath", param="istaged",
                      exclusive="initrd"),
                 Flag("boot", None, "list", "boot modes the image supports: bios, uefi", param="boot",
                      required=True),
                 Flag("breed", "b", "str", "OS family (redhat, debian, ubuntu, suse, … generic-linux)",
                      param="breed"),
                 Flag("local-boot", "l", "bool", "the image installs to local disk (needs a kickstart)",
                      param="localBoot"),
             )),
        Verb("show", "list boot images", "GET", "/igor/images", render="images", admin=True, flags=(_SIMPLE,)),
        Verb("del", "delete a boot image no distro uses", "DELETE", "/igor/images/{imageName}", admin=True,
             confirm=True, flags=(
                 Flag("image", kind="name", help="image name (ki + 8 hex digits)", param="imageName", to="path",
                      positional=True, required=True, values="image"),
             )),
    )),
    Noun("kickstart", "kickstart / preseed files for local installs", (
        Verb("register", "upload a kickstart file", "POST", "/igor/kickstart/register", admin=True, multipart=True,
             flags=(Flag("file", "k", "file", "the kickstart file", param="kickstart", required=True),)),
        Verb("show", "list kickstart files", "GET", "/igor/kickstart", render="kickstarts", admin=True,
             flags=(_SIMPLE,)),
        Verb("edit", "replace or rename a kickstart", "PATCH", "/igor/kickstart/{kickstartName}", admin=True,
             multipart=True, flags=(
                 Flag("kickstart", kind="name", help="kickstart name", param="kickstartName", to="path",
                      positional=True, required=True, values="kickstart"),
                 Flag("file", "k", "file", "new file", param="kickstart"),
                 Flag("name", "n", "name", "new name", param="name"),
             )),
        Verb("del", "delete a kickstart no distro uses", "DELETE", "/igor/kickstart/{kickstartName}", admin=True,
             confirm=True, flags=(
                 Flag("kickstart", kind="name", help="kickstart name", param="kickstartName", to="path",
                      positional=True, required=True, values="kickstart"),
             )),
    )),
    Noun("distro", "distros: an image with kernel args, shared with groups", (
        Verb("create", "create a distro", "POST", "/igor/distros", flags=(
            Flag("name", kind="name", help="distro name", param="name", positional=True, required=True),
            Flag("image-ref", None, "name", "an existing image (ki + 8 hex digits)", param="imageRef", values="image",
                 exclusive="source"),
            Flag("copy-distro", None, "name", "copy one of your distros", param="copyDistro", values="distro",
                 exclusive="source"),
            Flag("use-distro-image", None, "name", "the image of one of your distros", param="useDistroImage",
                 values="distro", exclusive="source"),
            Flag("kernel", None, "file", "kernel file to upload (with --initrd)", param="kernelFile"),
            Flag("initrd", None, "file", "initrd file to upload (with --kernel)", param="initrdFile"),
            Flag("distro", "d", "str", "a folder holding ONE kernel (*.kernel, vmlinuz*, vmlinux*, bzImage*, linux*) "
                 "and ONE initrd (*.initrd, initrd*, initramfs*) to upload, as --kernel/--initrd",
                 exclusive="source"),
            Flag("kstaged", None, "str", "kernel file name in the server's imageStagePath (with --istaged)",
                 param="kstaged", admin=True),
            Flag("istaged", None, "str", "initrd file name in the server's imageStagePath (with --kstaged)",
                 param="istaged", admin=True),
            Flag("groups", "g", "list", "groups to share it with", param="distroGroups", values="group"),
            Flag("kernel-args", "k", "str", "kernel arguments", param="kernelArgs"),
            Flag("kickstart", None, "name", "kickstart for local-boot images", param="kickstart",
                 values="kickstart"),
            Flag("public", "p", "bool", "share with everyone (cannot be undone by users)", param="public"),
            Flag("default", None, "bool", "the default distro (used after maintenance)", param="default",
                 admin=True),
            Flag("desc", None, "str", "description", param="description"),
        )),
        Verb("show", "list the distros you may use", "GET", "/igor/distros", render="distros", flags=(
            _filter("names", "n", "name", "these distros", "distro"),
            _filter("owners", "o", "owner", "distros of these owners", "user"),
            _filter("groups", "g", "group", "distros of these groups", "group"),
            _filter("image-ids", None, "imageID", "distros of these images", "image"),
            _filter("kernels", None, "kernel", "distros with these kernel files"),
            _filter("initrds", None, "initrd", "distros with these initrd files"),
            Flag("default", None, "bool", "the default distro", param="default", to="query", admin=True),
            _SIMPLE,
        )),
        Verb("edit", "edit a distro", "PATCH", "/igor/distros/{distroName}", flags=(
            Flag("distro", kind="name", help="distro name", param="distroName", to="path", positional=True,
                 required=True, values="distro"),
            Flag("name", "n", "name", "new name", param="name"),
            Flag("owner", "o", "name", "new owner", param="owner", values="user"),
            Flag("add", "a", "list", "share with these groups too", param="addGroup", values="group"),
            Flag("remove", "r", "list", "stop sharing with these groups", param="removeGroup", values="group"),
            Flag("kernel-args", "k", "str", "new kernel arguments", param="kernelArgs"),
            Flag("desc", None, "str", "new description", param="description"),
            Flag("os-info", "i", "str", "OS of the initrd, as shown (admins)", param="initrdInfo", admin=True),
            Flag("public", "p", "bool", "share with everyone", param="public"),
            Flag("deprecate", "d", "bool", "deprecate: only admins see it (alone)", param="deprecate", admin=True),
            Flag("default", None, "bool", "make it the default distro", param="default", admin=True,
                 exclusive="default"),
            Flag("default-remove", None, "bool", "stop it being the default", param="default_remove", admin=True,
                 exclusive="default"),
            Flag("kickstart", None, "name", "new kickstart", param="kickstart", values="kickstart"),
        )),
        Verb("del", "delete a distro no profile uses", "DELETE", "/igor/distros/{distroName}", confirm=True, flags=(
            Flag("distro", kind="name", help="distro name", param="distroName", to="path", positional=True,
                 required=True, values="distro"),
        )),
    )),
    Noun("profile", "profiles: your distro choice with your kernel args", (
        Verb("create", "create a profile", "POST", "/igor/profiles", flags=(
            Flag("name", kind="name", help="profile name", param="name", positional=True, required=True),
            Flag("distro", kind="name", help="distro", param="distro", positional=True, required=True,
                 values="distro"),
            Flag("kernel-args", "k", "str", "kernel arguments (after the distro's)", param="kernelArgs"),
            Flag("desc", None, "str", "description", param="description"),
        )),
        Verb("show", "list your profiles", "GET", "/igor/profiles", render="profiles", flags=(
            _filter("names", "n", "name", "these profiles", "profile"),
            _filter("owners", "o", "owner", "profiles of these owners (admins)", "user"),
            _filter("kernel-args", "k", "kernelArgs", "profiles with these kernel args"),
            _filter("distros", "d", "distro", "profiles of these distros", "distro"),
            _SIMPLE,
        )),
        Verb("edit", "edit a profile (a reservation's temporary profile becomes permanent)", "PATCH",
             "/igor/profiles/{profileName}", flags=(
                 Flag("profile", kind="name", help="profile name", param="profileName", to="path", positional=True,
                      required=True, values="profile"),
                 _PROFILE_OWNER,
                 Flag("name", "n", "name", "new name", param="name"),
                 Flag("kernel-args", "k", "str", "new kernel arguments", param="kernelArgs"),
                 Flag("desc", None, "str", "new description", param="description"),
             )),
        Verb("del", "delete a profile no reservation uses", "DELETE", "/igor/profiles/{profileName}",
             confirm=True, flags=(
                 Flag("profile", kind="name", help="profile name", param="profileName", to="path",
                      positional=True, required=True, values="profile"),
                 _PROFILE_OWNER,
             )),
    )),
    Noun("cluster", "the cluster", (
        Verb("config", "create the cluster and new hosts from the server's igor-clusters.yaml", "POST",
             "/igor/clusters", admin=True),
        Verb("show", "show the cluster", "GET", "/igor/clusters", admin=True, render="clusters", flags=(
            Flag("dump", "d", "bool", "write the database state back to igor-clusters.yaml", param="dump",
                 to="query", exclusive="cl"),
            Flag("yaml", "y", "bool", "print the cluster as YAML", param="getYaml", to="query", exclusive="cl"),
            _SIMPLE,
        )),
        Verb("motd", "set the message of the day ('' clears it)", "PATCH", "/igor/clusters/motd", admin=True,
             flags=(
                 Flag("message", kind="str", help="the message", param="motd", positional=True, required=True),
                 Flag("urgent", "u", "bool", "mark it urgent", param="motdUrgent", default=False),
             )),
    )),
    Noun("sync", "compare the switch's VLANs with the reservations' and correct them (-f)", (
        Verb("", "report (and with -f correct) each host's VLAN on the switch against its reservation's", "GET",
             "/igor/sync", admin=True, render="sync", flags=(
                 Flag("command", kind="choice", help="the switch kind (only arista)", param="cmd", to="query",
                      positional=True, required=True, choices=("arista",)),
                 Flag("force", "f", "bool", "set the switch to Igor's VLAN where they differ", param="force",
                      to="query"),
                 Flag("quiet", "q", "bool", "show only the hosts out of sync", param="quiet", to="query"),
                 Flag("scope", "s", "str", "these nodes (dn[1-4]) or the hosts of these reservations (r1,r2); "
                      "default: every host in a running reservation", param="scope", to="query"),
             )),
    )),
    Noun("stats", "usage statistics from the reservation history", (
        Verb("", "usage per user and in all over a window of days: reservations, nodes, cancellations, extensions, "
             "reservation time and node-hours", "GET", "/igor/stats", admin=True, render="stats", flags=(
                 Flag("start", "s", "str", "the window's last day, 2021-Jan-02 or 2021-01-02 (00:00 UTC; default: "
                      "now)", param="start", to="query"),
                 Flag("duration", "d", "int", "days the window reaches back from the start (default 7; 0 = all "
                      "history)", param="duration", to="query"),
                 Flag("verbose", "v", "bool", "also each user's reservations and every history record",
                      param="verbose", to="query"),
             )),
    )),
)


def noun(name: str) -> Noun:
    """The noun called ``name``."""
    for n in GRAMMAR:
        if n.name == name:
            return n
    raise KeyError(name)


def lookup(noun_name: str, verb_name: str = "") -> Verb:
    """The verb ``noun_name verb_name`` (``verb_name`` empty for a noun that is itself a command)."""
    return noun(noun_name).verb(verb_name)
