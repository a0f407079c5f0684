"""Kickstarts over the API: ``POST /igor/kickstart/register``, ``GET /igor/kickstart``,
``PATCH/DELETE /igor/kickstart/{name}`` (reference §1.7, §2.4, §8.8; SPEC §7).

Every refusal is checked to leave the database as it was and the kickstart folder unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pony.orm import db_session

from igor.imagestore import Upload
from tests.api.conftest import snapshot
from tests.api.forms import multipart

ROOT = "igor-admin"
ELEVATE_MSG = "elevated access is required before running this command"
KS = b"# kickstart\nlang en_US\n%post\ncurl http://igor:8444/igor/cb/svc/local\n%end\n"


# -- helpers -------------------------------------------------------------------------------------------------------


def register_kickstart(services, filename: str, content: bytes):
    """Register a kickstart through the service as igor-admin."""
    stage = Path(services.config.igor_home) / "scratch-ks"
    stage.mkdir(exist_ok=True)
    path = stage / f"upload-{filename}"
    path.write_bytes(content)
    return services.kickstarts.register(services.auth.principal_for(ROOT), Upload(path, filename, len(content)))


def folder(api) -> Path:
    return api.services.kickstarts.store.kickstarts_root


def files(api) -> dict[str, bytes]:
    root = folder(api)
    return {p.name: p.read_bytes() for p in sorted(root.iterdir())} if root.exists() else {}


def staged(api) -> list[str]:
    stage = api.services.kickstarts.store.stage_dir
    return sorted(p.name for p in stage.iterdir()) if stage.exists() else []


def rows(api) -> list[tuple[str, str, str]]:
    with db_session:
        return sorted((k.name, k.filename, k.owner.name if k.owner else "")
                      for k in api.services.db.Kickstart.select())


def refused(api, method: str, path: str, status: int, message: str, as_user: str | None = ROOT, *,
            prefix: bool = False, **kw) -> Any:
    before, on_disk = snapshot(api.services), files(api)
    r = api.call(method, path, as_user, **kw)
    assert r.status_code == status, r.json
    got = r.json["message"]
    assert got.startswith(message) if prefix else got == message, r.json
    assert r.json["status"] == "fail"
    assert snapshot(api.services) == before
    assert files(api) == on_disk
    assert staged(api) == []
    return r


def upload(filename: str = "fae.ks", content: bytes = KS, **extra: Any) -> dict[str, Any]:
    return multipart({"kickstart": (filename, content), **extra})


def distro(api, name: str, kickstart: str) -> None:
    with db_session:
        db = api.services.db
        db.Distro(name=name, kickstart=db.Kickstart.get(name=kickstart))


# -- register and show ---------------------------------------------------------------------------------------------


def test_register_stores_the_file_and_names_it_before_the_first_dot(people):
    r = people.post("/igor/kickstart/register", ROOT, **upload("fae.v2.ks"))
    assert (r.status_code, r.json["message"]) == (201, "kickstart file registered successfully as: fae")
    assert r.json["data"]["kickstart"] == {"name": "fae", "fileName": "fae.v2.ks", "owner": ROOT}
    assert files(people) == {"fae.v2.ks": KS}
    assert folder(people) == Path(people.services.config.server.tftp_root) / "kickstarts"
    assert staged(people) == []
    assert rows(people) == [("fae", "fae.v2.ks", ROOT)]


def test_show_lists_and_filters_by_name(people):
    r = people.get("/igor/kickstart", ROOT)
    assert (r.status_code, r.json["message"], r.json["data"]) == (200, "no kickstart file found",
                                                                  {"kickstarts": []})
    register_kickstart(people.services, "zeta.cfg", KS)
    people.elevate("dave")
    assert people.post("/igor/kickstart/register", "dave", **upload("alpha.ks")).status_code == 201
    r = people.get("/igor/kickstart", ROOT)
    assert r.json["message"] == ""
    assert r.json["data"]["kickstarts"] == [{"name": "alpha", "fileName": "alpha.ks", "owner": "dave"},
                                            {"name": "zeta", "fileName": "zeta.cfg", "owner": ROOT}]
    r = people.get("/igor/kickstart", ROOT, query_string="name=zeta")
    assert [k["name"] for k in r.json["data"]["kickstarts"]] == ["zeta"]
    r = people.get("/igor/kickstart", ROOT, query_string="name=nothing")
    assert r.json["message"] == "no kickstart file found"


def test_duplicate_file_names_and_names_are_refused(people):
    register_kickstart(people.services, "fae.ks", KS)
    refused(people, "POST", "/igor/kickstart/register", 409, "a kickstart file already exists with file name: fae.ks",
            **upload("fae.ks", b"other\n"))
    refused(people, "POST", "/igor/kickstart/register", 409, "a kickstart named 'fae' already exists",
            **upload("fae.cfg"))
    assert files(people) == {"fae.ks": KS}


@pytest.mark.parametrize(("filename", "message"), [
    ("../fae.ks", "'kickstart' file name '../fae.ks' must be a plain file name, without '/' or '\\'"),
    ("/etc/fae.ks", "'kickstart' file name '/etc/fae.ks' must be a plain file name, without '/' or '\\'"),
    ("fae..ks", "'kickstart' file name 'fae..ks' must not contain '..'"),
    (".ks", "'kickstart' file name '.ks' must not start with '.'"),
    ("fae ks", "'kickstart' file name 'fae ks' must not contain spaces or control characters"),
    ("register.ks", "kickstart name cannot be the restricted word 'register'"),
])
def test_unsafe_names_are_refused(people, filename, message):
    r = refused(people, "POST", "/igor/kickstart/register", 400, "", prefix=True, **upload(filename))
    assert r.json["message"].endswith(message), r.json["message"]


def test_contents_and_sizes_are_checked(people):
    refused(people, "POST", "/igor/kickstart/register", 400,
            "kickstart file 'bin.ks' is not a text file (it contains NUL bytes)", **upload("bin.ks", b"\x7fELF\0\0"))
    refused(people, "POST", "/igor/kickstart/register", 400, "kickstart file 'latin.ks' is not UTF-8 text",
            **upload("latin.ks", b"caf\xe9\n"))
    refused(people, "POST", "/igor/kickstart/register", 400, "kickstart file 'void.ks' is empty",
            **upload("void.ks", b"\n"))
    people.services.kickstarts.store.max_kickstart_bytes = 10
    refused(people, "POST", "/igor/kickstart/register", 413,
            "file 'kickstart' (fae.ks) is larger than the limit of 10 bytes", **upload())


def test_wrong_content_type_and_missing_or_wrong_parts(people):
    refused(people, "POST", "/igor/kickstart/register", 415,
            "need content-type 'multipart/form-data', but got 'application/json'", json={"kickstart": "x"})
    refused(people, "POST", "/igor/kickstart/register", 400, "requested operation had no parameters")
    refused(people, "POST", "/igor/kickstart/register", 400,
            "invalid parameter 'kickstart': must be a file, got string", **multipart({"kickstart": "fae.ks"}))
    refused(people, "POST", "/igor/kickstart/register", 400, "unknown parameter 'name' received: [fae]",
            **upload(name="fae"))


def test_non_admins_are_refused(people):
    refused(people, "POST", "/igor/kickstart/register", 403, "access denied", "alice", **upload())
    refused(people, "POST", "/igor/kickstart/register", 403, ELEVATE_MSG, "dave", **upload())
    refused(people, "GET", "/igor/kickstart", 403, "access denied", "bob")
    register_kickstart(people.services, "fae.ks", KS)
    refused(people, "PATCH", "/igor/kickstart/fae", 403, "access denied", "carol", **multipart({"name": "elf"}))
    refused(people, "DELETE", "/igor/kickstart/fae", 403, ELEVATE_MSG, "dave")


# -- edit ----------------------------------------------------------------------------------------------------------


def test_edit_replaces_the_content_under_the_same_file_name(people):
    register_kickstart(people.services, "fae.ks", KS)
    r = people.patch("/igor/kickstart/fae", ROOT, **upload("fae.ks", b"new content\n"))
    assert (r.status_code, r.json["message"]) == (200, "kickstart file updated successfully: fae")
    assert files(people) == {"fae.ks": b"new content\n"}
    assert rows(people) == [("fae", "fae.ks", ROOT)]
    assert staged(people) == []


def test_edit_with_another_file_name_takes_that_file_name(people):
    register_kickstart(people.services, "fae.ks", KS)
    r = people.patch("/igor/kickstart/fae", ROOT, **upload("fae-9.cfg", b"nine\n"))
    assert r.status_code == 200, r.json
    assert files(people) == {"fae-9.cfg": b"nine\n"}
    assert rows(people) == [("fae", "fae-9.cfg", ROOT)]


def test_edit_renames_and_both_at_once(people):
    register_kickstart(people.services, "fae.ks", KS)
    r = people.patch("/igor/kickstart/fae", ROOT, **multipart({"name": "elf"}))
    assert (r.status_code, r.json["message"]) == (200, "kickstart file updated successfully: fae")
    assert rows(people) == [("elf", "fae.ks", ROOT)]
    r = people.patch("/igor/kickstart/elf", ROOT, **upload("elf.ks", b"elvish\n", name="pixie"))
    assert r.status_code == 200, r.json
    assert rows(people) == [("pixie", "elf.ks", ROOT)] and files(people) == {"elf.ks": b"elvish\n"}


def test_edit_refusals(people):
    register_kickstart(people.services, "fae.ks", KS)
    register_kickstart(people.services, "gnome.ks", KS)
    refused(people, "PATCH", "/igor/kickstart/nope", 404, "kickstart 'nope' not found", **multipart({"name": "x"}))
    refused(people, "PATCH", "/igor/kickstart/fae", 400, "requested operation had no parameters")
    refused(people, "PATCH", "/igor/kickstart/fae", 409, "a kickstart named 'gnome' already exists",
            **multipart({"name": "gnome"}))
    refused(people, "PATCH", "/igor/kickstart/fae", 400,
            "'a.b' is not a legal kickstart name (1-64 letters, digits, '_', '+', '~' or '-')",
            **multipart({"name": "a.b"}))
    refused(people, "PATCH", "/igor/kickstart/fae", 409, "a kickstart file already exists with file name: gnome.ks",
            **upload("gnome.ks"))
    refused(people, "PATCH", "/igor/kickstart/fae", 400,
            "'kickstart' file name '../gnome.ks' must be a plain file name, without '/' or '\\'",
            **upload("../gnome.ks"))
    refused(people, "PATCH", "/igor/kickstart/fae", 400, "kickstart file 'fae.ks' is not a text file (it contains "
                                                         "NUL bytes)", **upload("fae.ks", b"\0"))
    refused(people, "PATCH", "/igor/kickstart/fae", 415,
            "need content-type 'multipart/form-data', but got 'application/json'", json={"name": "x"})


# -- delete --------------------------------------------------------------------------------------------------------


def test_delete_removes_the_row_and_the_file(people):
    register_kickstart(people.services, "fae.ks", KS)
    r = people.delete("/igor/kickstart/fae", ROOT)
    assert (r.status_code, r.json["message"]) == (200, "")
    assert rows(people) == [] and files(people) == {}
    refused(people, "DELETE", "/igor/kickstart/fae", 404, "kickstart 'fae' not found")


def test_delete_is_refused_while_distros_are_linked(people):
    register_kickstart(people.services, "fae.ks", KS)
    distro(people, "realm", "fae")
    distro(people, "court", "fae")
    refused(people, "DELETE", "/igor/kickstart/fae", 409, "cannot delete kickstart while linked to existing distros. "
                                                          "Delete the following distros first: [court realm]")
    assert files(people) == {"fae.ks": KS}
