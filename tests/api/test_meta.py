"""health, openapi.json (kept true against the registered routes), config, config/public, server.mode."""

from __future__ import annotations

import falcon
import falcon.testing

from igor.api import ROUTES, openapi_document
from igor.db import init_db
from igor.services import Services
from tests.api.conftest import Api

METHODS = ("get", "post", "put", "patch", "delete")


def test_health_needs_no_auth(api):
    r = api.client.simulate_get("/igor/health")
    assert r.status_code == 200 and r.json["data"]["ok"] is True and r.json["data"]["database"] == "ok"


def test_request_id_is_echoed_or_made(api):
    r = api.client.simulate_get("/igor/health", headers={"X-Request-Id": "abc123"})
    assert r.headers["x-request-id"] == "abc123"
    assert len(api.client.simulate_get("/igor/health").headers["x-request-id"]) == 16


def _registered(app: falcon.App) -> dict[str, set[str]]:
    """Walk falcon's router: every route template and the methods its resource really answers."""
    found: dict[str, set[str]] = {}

    def walk(nodes):
        for node in nodes:
            if node.resource is not None:
                found[node.uri_template] = {m.lower() for m in METHODS if hasattr(node.resource, f"on_{m}")}
            walk(node.children)

    walk(app._router._roots)
    return found


def test_openapi_document_matches_the_registered_routes(api):
    doc = api.client.simulate_get("/igor/openapi.json").json
    assert doc["openapi"].startswith("3.")
    registered = _registered(api.client.app)
    documented = {path: set(ops) for path, ops in doc["paths"].items()}
    assert documented == registered
    for path, ops in doc["paths"].items():
        params = {p[1:-1] for p in path.split("/") if p.startswith("{")}
        for method, op in ops.items():
            assert op["summary"] and op["responses"], (method, path)
            in_path = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert in_path == params, (method, path)


def test_openapi_documents_every_accepted_body_key_and_query_parameter():
    doc = openapi_document()
    for path, cls in ROUTES:
        for method, op in cls.OPS.items():
            entry = doc["paths"][path][method]
            query = {p["name"] for p in entry.get("parameters", []) if p["in"] == "query"}
            assert query == {f.name for f in op.query}
            if op.body:
                schema = entry["requestBody"]["content"]["application/json"]["schema"]
                assert set(schema["properties"]) == {f.name for f in op.body}


def test_public_settings(api):
    r = api.client.simulate_get("/igor/config/public")
    assert r.status_code == 200
    assert set(r.json["data"]["igor"]) == {"localAuthEnabled", "canUploadImages", "vlanEnabled", "vlanRangeMin",
                                           "vlanRangeMax", "nodeReservationLimit", "maxScheduleDays",
                                           "minReserveMinutes", "maxReserveMinutes", "defaultReserveMinutes",
                                           "hostMaintenanceMinutes"}
    assert r.json["data"]["igor"]["maxScheduleDays"] == 1457  # reference §11.1: not 4320


def test_full_config_masks_secrets(make_config):
    config = make_config({"email": {"smtpServer": "mail.example.com", "smtpPassword": "s3cret",
                                    "defaultSuffix": "example.com"}})
    services = Services(init_db(config.database.url), config)
    services.bootstrap()
    api = Api(services)
    r = api.get("/igor/config", as_user="igor-admin")
    assert r.status_code == 200
    data = r.json["data"]["igor"]
    assert data["config"]["email"]["smtpPassword"] == "********"
    assert "s3cret" not in r.text
    assert {"configPath", "clusterConfPath", "igorHome", "started", "tftpPath", "imageStoreDir"} <= set(data)


def test_unknown_route_and_method_use_the_envelope(api):
    r = api.client.simulate_get("/igor/nothing")
    assert r.status_code == 404 and r.json["status"] == "fail"
    r = api.put("/igor/users", as_user="igor-admin", json={})
    assert r.status_code == 405 and r.json["status"] == "fail"


def test_json_required_on_writes(people):
    r = people.post("/igor/groups", as_user="alice", body="name=x", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and "application/json" in r.json["message"]


def _mode_api(make_config, mode: str) -> Api:
    config = make_config({"server": {"mode": mode}})
    services = Services(init_db(config.database.url), config)
    services.bootstrap()
    return Api(services)


def test_read_only_mode_accepts_reads_and_logins_only(make_config):
    api = _mode_api(make_config, "read-only")
    assert api.get("/igor/users", as_user="igor-admin").status_code == 200
    r = api.post("/igor/users", as_user="igor-admin", json={"name": "zed", "email": "zed@example.com"})
    assert r.status_code == 403 and "read-only" in r.json["message"]
    assert api.delete("/igor/groups/admins", as_user="igor-admin").status_code == 403
    assert api.get("/igor/users", as_user="igor-admin").json["data"]["users"][0]["name"] == "igor-admin"


def test_read_delete_mode_accepts_deletes(make_config):
    api = _mode_api(make_config, "read-delete")
    r = api.post("/igor/users", as_user="igor-admin", json={"name": "zed", "email": "zed@example.com"})
    assert r.status_code == 403 and "read-delete" in r.json["message"]
    r = api.delete("/igor/groups/admins", as_user="igor-admin")
    assert r.status_code == 403 and r.json["message"] == "group 'admins' deletion not allowed"


def test_unexpected_errors_are_500_with_request_id_and_logged(api, caplog):
    def boom(*_a, **_k):
        raise RuntimeError("kaboom")

    api.services.health = boom
    r = api.client.simulate_get("/igor/health", headers={"X-Request-Id": "rid42"})
    assert r.status_code == 500 and r.json["status"] == "error" and "rid42" in r.json["message"]
    assert "kaboom" not in r.json["message"]
    assert any("rid42" in rec.getMessage() for rec in caplog.records)


def test_openapi_documents_gunicorns_html_414_on_every_operation():
    """gunicorn answers a request line over its 4094-byte limit with its own HTML 414 before Igor sees it (found
    by the API fuzzing, tests/fuzz): the document must describe that answer, or no client can trust it."""
    doc = openapi_document()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert set(op["responses"]["414"]["content"]) == {"text/html"}, (method, path)


def test_a_method_the_route_lacks_is_405_whatever_the_body(api):
    """A PUT to a route without PUT is 405 even with a body that is not JSON (found by the API fuzzing: the
    content-type check answered 415 first, telling the client to fix a body the route would never take)."""
    from tests.api.forms import multipart

    form = multipart({"kickstart": ("ks.cfg", b"text\n")})
    for path in ("/igor/kickstart/register", "/igor/distros", "/igor/users"):
        r = api.put(path, as_user="igor-admin", **form)
        assert r.status_code == 405 and r.json["status"] == "fail", (path, r.status_code, r.json)
    r = api.put("/igor/users", as_user="igor-admin", body="x", headers={"Content-Type": "text/plain"})
    assert r.status_code == 405, r.json
    # the routes that do take the method still refuse a body of the wrong type
    r = api.post("/igor/users", as_user="igor-admin", **form)
    assert r.status_code == 415 and "application/json" in r.json["message"]
