"""The HTTP client shared by the batch CLI and the ``igor>`` shell: client configuration (``igor.yaml``), token
storage under the client home, and :class:`IgorClient`, which speaks Igor's JSON envelope over ``urllib``.

Nothing here prints or exits: failures are :class:`ClientError` subclasses carrying a message fit for the user.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from igor import __version__, multipart
from igor.multipart import Progress
from igor.tokenstore import TokenStore, client_home

__all__ = ["ApiError", "ClientConfig", "ClientError", "ConfigError", "ConnectionFailed", "IgorClient",
           "Response", "TokenStore", "client_home"]

#: Where the client looks for ``igor.yaml`` after ``--config`` and ``$IGOR_CLIENT_CONFIG``, in order.
DEFAULT_CONFIG_PATHS: tuple[str, ...] = ("~/.igor/igor.yaml", "/etc/igor/igor.yaml")
DEFAULT_SERVER_URL = "https://127.0.0.1:8443"
USER_AGENT = f"IgorCLI/{__version__}"


class ClientError(Exception):
    """A failure the CLI reports as ``igor: <message>`` and exit status 1."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(ClientError):
    """The client configuration file is unreadable or holds a bad value (the message names the key)."""


class ConnectionFailed(ClientError):
    """The server could not be reached."""


class ApiError(ClientError):
    """The server refused (4xx) or failed (5xx); ``message`` is the server's own message."""

    def __init__(self, status: int, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.data = data or {}

    @property
    def auth_required(self) -> bool:
        """The token is missing, expired or revoked (401, or Igor v2's 307 to ``/igor/login``)."""
        return self.status in (401, 307)


# ---------------------------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class ClientConfig:
    """What ``igor.yaml`` says, after ``$IGOR_SERVER`` is applied.

    Attributes:
        server_url: Base URL of the server, without a trailing slash.
        timezone: IANA zone for typed and printed times; ``None`` = the local zone.
        ca_cert: CA bundle to verify the server's certificate with; ``None`` = the system store.
        path: The file the values came from, if any.
    """

    server_url: str = DEFAULT_SERVER_URL
    timezone: str | None = None
    ca_cert: str | None = None
    path: Path | None = None

    @classmethod
    def find(cls, explicit: str | None = None, env: Mapping[str, str] | None = None) -> Path | None:
        """The config file: ``explicit``, ``$IGOR_CLIENT_CONFIG``, ``~/.igor/igor.yaml``, ``/etc/igor/igor.yaml``.

        An explicit or environment path that does not exist is an error; the default locations are optional.
        """
        environ: Mapping[str, str] = os.environ if env is None else env
        for source, given in (("--config", explicit), ("$IGOR_CLIENT_CONFIG", environ.get("IGOR_CLIENT_CONFIG"))):
            if given:
                path = Path(given).expanduser()
                if not path.is_file():
                    raise ConfigError(f"client config {path} (from {source}) does not exist")
                return path
        for candidate in DEFAULT_CONFIG_PATHS:
            path = Path(candidate).expanduser()
            if path.is_file():
                return path
        return None

    @classmethod
    def load(cls, explicit: str | None = None, env: Mapping[str, str] | None = None) -> ClientConfig:
        """Find and parse the client config; ``$IGOR_SERVER`` overrides ``server.url``."""
        environ: Mapping[str, str] = os.environ if env is None else env
        path = cls.find(explicit, environ)
        doc: dict[str, Any] = {}
        if path is not None:
            try:
                loaded = yaml.safe_load(path.read_text()) or {}
            except (OSError, yaml.YAMLError) as err:
                raise ConfigError(f"cannot read client config {path}: {err}") from None
            if not isinstance(loaded, dict):
                raise ConfigError(f"client config {path}: expected a mapping at the top level")
            doc = loaded
        url = _get(doc, "server.url", path) or DEFAULT_SERVER_URL
        if environ.get("IGOR_SERVER"):
            url = environ["IGOR_SERVER"]
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            where = "$IGOR_SERVER" if environ.get("IGOR_SERVER") else f"server.url in {path}"
            raise ConfigError(f"{where}: '{url}' is not an http(s) URL such as https://igor.example.org:8443")
        tz = _get(doc, "client.timezone", path)
        if tz:
            from igor.timefmt import resolve_tz  # local import: keeps `igor --help` fast
            try:
                resolve_tz(tz)
            except Exception:  # noqa: BLE001 - any failure here means a bad zone name
                raise ConfigError(f"client.timezone in {path}: unknown time zone '{tz}'") from None
        ca = _get(doc, "client.caCert", path)
        if ca:
            ca = str(Path(ca).expanduser())
            if not Path(ca).is_file():
                raise ConfigError(f"client.caCert in {path}: file {ca} does not exist")
        return cls(server_url=url.rstrip("/"), timezone=tz or None, ca_cert=ca or None, path=path)


def _get(doc: dict[str, Any], dotted: str, path: Path | None) -> str | None:
    section, key = dotted.split(".")
    block = doc.get(section)
    if block is None:
        return None
    if not isinstance(block, dict):
        raise ConfigError(f"{section} in {path}: expected a mapping")
    value = block.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{dotted} in {path}: expected a string, got {value!r}")
    return value


# ---------------------------------------------------------------------------------------------------------------
# HTTP


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Igor v2 answers a CLI with a stale token by 307 → /igor/login: that is a login prompt, not a redirect."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def,unused-ignore]
        return None


@dataclass(frozen=True)
class Response:
    """A successful answer: the envelope's ``message``, ``data`` and ``serverTime``."""

    status: int
    message: str
    data: dict[str, Any]
    server_time: str = ""


class IgorClient:
    """Calls the Igor API: ``client.call("GET", "/igor/reservations", query={...})``.

    Args:
        base_url: ``https://host:port`` of the server.
        token_store: Where the bearer token is read from (and stored by :meth:`login`).
        ca_file: CA bundle to verify the server with; verification is always on for https.
        timeout: Seconds before a request is abandoned (Igor v2: 3 minutes).
    """

    def __init__(self, base_url: str, token_store: TokenStore, ca_file: str | None = None,
                 timeout: float = 180) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens = token_store
        self.timeout = timeout
        handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
        if self.base_url.startswith("https"):
            context = ssl.create_default_context(cafile=ca_file)
            handlers.append(urllib.request.HTTPSHandler(context=context))
        self._opener = urllib.request.build_opener(*handlers)

    def url(self, path: str, query: dict[str, Any] | None = None) -> str:
        """The full URL of ``path`` with ``query`` (lists become repeated parameters, bools ``true``/``false``)."""
        out = self.base_url + path
        pairs: list[tuple[str, str]] = []
        for key, value in (query or {}).items():
            if value is None:
                continue
            for item in value if isinstance(value, (list, tuple)) else [value]:
                pairs.append((key, _query_value(item)))
        if pairs:
            out += "?" + urllib.parse.urlencode(pairs)
        return out

    def call(self, method: str, path: str, *, query: dict[str, Any] | None = None,
             body: dict[str, Any] | None = None, auth: str | None = None,
             files: Mapping[str, Path] | None = None, progress: Progress | None = None) -> Response:
        """Send one request and unwrap the envelope.

        Args:
            method: HTTP verb.
            path: Path under the base URL, e.g. ``/igor/reservations/demo1`` (already quoted).
            query: Query parameters.
            body: JSON body (POST/PUT/PATCH).
            auth: An ``Authorization`` header value; default = the stored bearer token, if any.
            files: Send ``multipart/form-data`` instead of JSON: ``body`` as text parts, these files (part
                name → local path) streamed from disk.
            progress: Called with (bytes sent, bytes in all) while a multipart body is sent.

        Raises:
            ApiError: The server answered 3xx/4xx/5xx (message = the server's).
            ConnectionFailed: No answer (the message names the URL).
        """
        url = self.url(path, query)
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if auth is None:
            token = self.tokens.token()
            if token:
                headers["Authorization"] = f"Bearer {token}"
        else:
            headers["Authorization"] = auth
        payload: Any = None
        if files is not None:
            try:
                form = multipart.encode(body or {}, files, progress)
            except OSError as err:
                raise ClientError(f"cannot read {err.filename}: {err.strerror}") from None
            payload = form.chunks
            headers["Content-Type"] = form.content_type
            headers["Content-Length"] = str(form.length)
        elif body is not None or method in ("POST", "PUT", "PATCH"):
            payload = json.dumps(body or {}).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=payload, method=method, headers=headers)
        try:
            with self._opener.open(request, timeout=self.timeout) as resp:
                answer = _unwrap(resp.status, resp.read(), resp.headers.get_content_type())
            if "Authorization" in headers:
                self.tokens.touch()
            return answer
        except urllib.error.HTTPError as err:
            raw = err.read() if err.fp is not None else b""
            if err.code == 307:
                raise ApiError(307, "authentication required (token missing or expired)") from None
            raise _api_error(err.code, raw, err.reason) from None
        except urllib.error.URLError as err:
            reason = err.reason
            if isinstance(reason, ssl.SSLCertVerificationError):
                raise ConnectionFailed(f"cannot verify the TLS certificate of {self.base_url}: "
                                       f"{reason.verify_message} (set client.caCert in igor.yaml)") from None
            if isinstance(reason, ssl.SSLError) and (reason.reason in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE")
                                                     or "record layer failure" in str(reason)):
                # a plain-HTTP answer to the TLS hello: OpenSSL 3.0 says the first, 3.2 and later the second
                plain = "http://" + self.base_url.removeprefix("https://")
                raise ConnectionFailed(f"the server at {self.base_url} does not speak TLS (plain HTTP, as the demo "
                                       f"server on loopback): use {plain} ($IGOR_SERVER or server.url in "
                                       "igor.yaml)") from None
            raise ConnectionFailed(f"cannot reach the igor server at {self.base_url}: {reason}") from None
        except (TimeoutError, OSError) as err:
            raise ConnectionFailed(f"no answer from the igor server at {self.base_url}: {err}") from None

    def login(self, user: str, password: str) -> Response:
        """Log in with HTTP Basic and store the token."""
        creds = base64.b64encode(f"{user}:{password}".encode()).decode()
        resp = self.call("GET", "/igor/login", auth=f"Basic {creds}")
        token = resp.data.get("token")
        if not isinstance(token, str) or not token:
            raise ApiError(resp.status, "the server answered the login without a token")
        self.tokens.save(token, str(resp.data.get("user") or user))
        return resp

    def logout(self) -> Response:
        """Revoke the token on the server (best effort) and forget it locally."""
        try:
            if self.tokens.token():
                return self.call("DELETE", "/igor/login")
            return Response(200, "auth session closed", {})
        except ApiError as err:
            if err.auth_required:  # already expired or revoked: closing it locally is all that is left
                return Response(200, "auth session closed", {})
            raise
        finally:
            self.tokens.clear()


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return None


def _unwrap(status: int, raw: bytes, content_type: str) -> Response:
    if content_type != "application/json":
        return Response(status, "", {"text": raw.decode(errors="replace")})
    doc = _decode(raw)
    if not isinstance(doc, dict):
        raise ApiError(status, f"the server sent an unreadable answer (HTTP {status})")
    data = doc.get("data")
    if "status" not in doc:  # not an envelope (e.g. the OpenAPI document)
        return Response(status, "", doc)
    return Response(status, str(doc.get("message") or ""), data if isinstance(data, dict) else {},
                    str(doc.get("serverTime") or ""))


def _api_error(code: int, raw: bytes, reason: str) -> ApiError:
    doc = _decode(raw)
    if isinstance(doc, dict) and doc.get("message"):
        data = doc.get("data")
        return ApiError(code, str(doc["message"]), data if isinstance(data, dict) else {})
    fallback = "unspecified failure" if code < 500 else "unspecified error"
    return ApiError(code, f"{fallback} (HTTP {code} {reason})".strip())
