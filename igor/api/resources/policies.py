"""``/igor/hostpolicy``, ``/igor/hostpolicy/{hostpolicyName}`` and ``/igor/hosts-ctrl/policy`` (apply)."""

from __future__ import annotations

from typing import Any

import falcon

from igor.api.envelope import NO_RESULTS, respond
from igor.api.params import MAX_BODY, Field
from igor.api.resources import Op, Resource
from igor.errors import BadInput

#: Body keys holding not-available windows.
BLOCK_KEYS = ("notAvailable", "addNotAvailable", "removeNotAvailable")
BLOCK_DOC = ("not-available windows, each '<5-field cron>:<duration>' (e.g. '0 0 * * 6:2d') or, as Igor v2 sends "
             "them, {\"start\": cron, \"duration\": duration}")
MAX_BLOCKS = 100
MAX_GROUPS = 100


def _block_text(key: str, item: Any) -> Any:
    """Igor v2's ``{"start": cron, "duration": dur}`` as ``"cron:dur"``; other values are left for the
    declared type check to refuse."""
    if not isinstance(item, dict):
        return item
    start, duration = item.get("start"), item.get("duration")
    if set(item) != {"start", "duration"} or not isinstance(start, str) or not isinstance(duration, str):
        raise BadInput(f"invalid parameter '{key}': each window must be '<cron>:<duration>' or "
                       f"{{\"start\": cron, \"duration\": duration}} (both strings), got {_short(item)}")
    return f"{start}:{duration}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 64 else text[:61] + "..."


class _PolicyResource(Resource):
    def policy_body(self, req: falcon.Request, method: str) -> dict[str, Any]:
        """The body, with v2's object form of windows turned into ``"cron:duration"`` strings first."""
        if req.content_length and req.content_length > MAX_BODY:
            raise falcon.HTTPPayloadTooLarge(description=f"request body is larger than {MAX_BODY} bytes")
        try:
            media = req.get_media(default_when_empty=None)
        except falcon.MediaMalformedError:
            media = None  # body() reports it
        if isinstance(media, dict):
            for key in BLOCK_KEYS:
                if isinstance(media.get(key), list):
                    media[key] = [_block_text(key, item) for item in media[key]]
        return self.body(req, method)


class PolicyCollection(_PolicyResource):
    OPS = {
        "post": Op("Create a host policy (admin): maximum reservation time (default scheduler.maxReserveTime), "
                   "access groups (default: everybody) and not-available windows", auth="admin", ok=201,
                   data=("hostPolicy",),
                   body=(Field("name", required=True, max_len=64, doc="3-24 characters; not 'default'"),
                         Field("maxResTime", max_len=64, doc="a duration (720h, 30d, 90m), at least 1 minute"),
                         Field("accessGroups", list, max_len=MAX_GROUPS, doc="groups whose members may reserve "
                               "the hosts (not all, admins, none or private groups)"),
                         Field("notAvailable", list, max_len=MAX_BLOCKS, doc=BLOCK_DOC))),
        "get": Op("Show host policies (any user), narrowed by name, access group or host", data=("hostPolicies",),
                  query=(Field("name", repeat=True, doc="policy names"),
                         Field("accessGroups", repeat=True, doc="policies any of these groups may use"),
                         Field("hosts", repeat=True, csv=False, doc="policies of these hosts, e.g. kn[1-4]"))),
    }

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        data = self.policy_body(req, "post")
        view = self.services.policies.create(self.principal(req), data)
        respond(resp, 201, "", {"hostPolicy": [view.to_json()]})

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = self.query(req, "get")
        views = self.services.policies.show(self.principal(req), q)
        respond(resp, 200, "" if views else NO_RESULTS, {"hostPolicies": [v.to_json() for v in views]})


class PolicyItem(_PolicyResource):
    OPS = {
        "patch": Op("Edit a host policy (admin; not 'default'): rename, maxResTime, add/remove access groups, "
                    "add/remove not-available windows. Existing reservations are not changed",
                    auth="admin",
                    body=(Field("name", max_len=64), Field("maxResTime", max_len=64),
                          Field("addGroups", list, max_len=MAX_GROUPS),
                          Field("removeGroups", list, max_len=MAX_GROUPS),
                          Field("addNotAvailable", list, max_len=MAX_BLOCKS, doc=BLOCK_DOC),
                          Field("removeNotAvailable", list, max_len=MAX_BLOCKS,
                                doc="windows to remove, exactly as shown; each removes only itself"))),
        "delete": Op("Delete a host policy (admin; not 'default', not while any host uses it)", auth="admin"),
    }

    def on_patch(self, req: falcon.Request, resp: falcon.Response, hostpolicyName: str) -> None:  # noqa: N803
        data = self.policy_body(req, "patch")
        respond(resp, 200, self.services.policies.edit(self.principal(req), hostpolicyName, data))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, hostpolicyName: str) -> None:  # noqa: N803
        respond(resp, 200, self.services.policies.delete(self.principal(req), hostpolicyName))


class ApplyPolicy(Resource):
    OPS = {"patch": Op("Make a policy the policy of hosts (admin); 'default' reverts them. Reservations already on "
                       "those hosts are not changed", auth="admin",
                       body=(Field("policy", required=True, max_len=64),
                             Field("nodeList", required=True, doc="hosts, e.g. kn[1-4,7]")))}

    def on_patch(self, req: falcon.Request, resp: falcon.Response) -> None:
        data = self.body(req, "patch")
        respond(resp, 200, self.services.policies.apply(self.principal(req), data["policy"], data["nodeList"]))


ROUTES: tuple[tuple[str, type[Resource]], ...] = (
    ("/igor/hostpolicy", PolicyCollection),
    ("/igor/hostpolicy/{hostpolicyName}", PolicyItem),
    ("/igor/hosts-ctrl/policy", ApplyPolicy),
)
