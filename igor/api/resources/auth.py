"""``/igor/login`` (HTTP Basic → token, ``DELETE`` revokes it), ``/igor/elevate`` and ``/igor/authreset``."""

from __future__ import annotations

import base64
import binascii

import falcon

from igor.api.envelope import respond
from igor.api.resources import Op, Resource
from igor.errors import BadInput
from igor.services.auth import NoElevationNeeded

LDAP_DOWN = "auth.scheme is LDAP and the LDAP server cannot be reached (igor-admin still logs in locally)"


def _basic(req: falcon.Request) -> tuple[str, str]:
    header = req.get_header("Authorization") or ""
    if header[:6].lower() != "basic ":
        raise BadInput("user authentication   failed - problem reading basic auth header")
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise BadInput("user authentication failed - problem reading basic auth header") from None
    name, sep, password = decoded.partition(":")
    if not sep:
        raise BadInput("user authentication failed - problem reading basic auth header")
    return name, password


class Login(Resource):
    OPS = {
        "get": Op("Log in with HTTP Basic; returns a token (also set as cookie auth_token)", auth="basic",
                  data=("token", "user", "expires"), also={503: LDAP_DOWN}),
        "post": Op("Log in with HTTP Basic (same as GET)", auth="basic", data=("token", "user", "expires"),
                   also={503: LDAP_DOWN}),
        "delete": Op("Log out: revoke the token this request carries"),
    }

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.query(req, "get")
        name, password = _basic(req)
        result = self.services.auth.login(name, password)
        resp.set_cookie("auth_token", result.token, http_only=True, secure=req.scheme == "https",
                        same_site="Strict", path="/igor",
                        max_age=int(self.services.config.auth.token_duration * 3600))
        respond(resp, 200, "",
                {"token": result.token, "user": result.user, "expires": result.expires.isoformat()})

    on_post = on_get

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        from igor.api.middleware import Authenticate

        token = Authenticate.token(req)
        self.services.auth.resolve(token)  # an unknown token is a 401, not a silent success
        self.services.auth.logout(token)
        resp.unset_cookie("auth_token", path="/igor")
        respond(resp, 200, "auth session closed")


class Elevate(Resource):
    OPS = {
        "patch": Op("Elevate to admin rights for auth.elevateTimeout minutes (members of admins)",
                    also={202: "igor-admin: always elevated, nothing to do"}),
        "get": Op("How long the caller's elevation has left (elevatedUntil: epoch seconds, 0 when not elevated)",
                  data=("elevatedUntil",)),
        "delete": Op("Cancel the caller's elevation"),
    }

    def on_patch(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._answer(resp, self.services.auth.elevate, req)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.query(req, "get")
        try:
            message, until = self.services.auth.elevation(self.principal(req))
        except NoElevationNeeded as note:
            respond(resp, 200, note.message, {"elevatedUntil": 0})
            return
        respond(resp, 200, message, {"elevatedUntil": until})

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._answer(resp, self.services.auth.elevate_cancel, req)

    def _answer(self, resp: falcon.Response, action, req: falcon.Request) -> None:  # noqa: ANN001
        try:
            respond(resp, 200, action(self.principal(req)))
        except NoElevationNeeded as note:  # igor-admin: not an error (v2 answers 202; its GET/DELETE crash)
            respond(resp, 202 if req.method == "PATCH" else 200, note.message)


class AuthReset(Resource):
    OPS = {"put": Op("Revoke every token of every user", auth="admin", data=("result",))}

    def on_put(self, req: falcon.Request, resp: falcon.Response) -> None:
        result = self.services.auth.auth_reset(self.principal(req))
        respond(resp, 200, "", {"result": result})
