"""``/igor/clusters``, ``/igor/clusters/motd`` and ``/igor/hosts`` (read side)."""

from __future__ import annotations

import falcon

from igor.api.envelope import NO_RESULTS, respond
from igor.api.params import Field
from igor.api.resources import Op, Resource
from igor.errors import BadInput
from igor.services.cluster import HOST_FILTERS


class Clusters(Resource):
    OPS = {
        "post": Op("Create the cluster and its new hosts from the server's igor-clusters.yaml (admin); new "
                   "hosts start blocked", auth="admin", ok=201, data=("clusters",)),
        "get": Op("Show the cluster (admin); dump=true writes it back to igor-clusters.yaml (with a backup), "
                  "getYaml=true returns it as YAML", auth="admin", data=("clusters", "yaml"),
                  query=(Field("dump", bool), Field("getYaml", bool), Field("name"), Field("prefix"))),
    }

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.query(req, "post")
        view, created = self.services.cluster.configure(self.principal(req))
        respond(resp, 201, f"'{view.name}' created with following hosts [{' '.join(created)}]",
                {"clusters": [view.to_json()]})

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = self.query(req, "get")
        principal = self.principal(req)
        if q.get("dump") and q.get("getYaml"):
            raise BadInput("dump and getYaml cannot be used together")
        if q.get("getYaml"):
            respond(resp, 200, "", {"yaml": self.services.cluster.yaml(principal)})
            return
        if q.get("dump"):
            path, backup = self.services.cluster.dump(principal)
            note = f" (previous file kept as {backup})" if backup else ""
            respond(resp, 200, f"cluster written to {path}{note}", {"path": path, "backup": backup or ""})
            return
        views = self.services.cluster.show(principal, q.get("name"), q.get("prefix"))
        respond(resp, 200, "", {"clusters": [v.to_json() for v in views]})


class Motd(Resource):
    OPS = {"patch": Op("Set (or clear with \"\") the message of the day (admin)", auth="admin",
                       body=(Field("motd", required=True, max_len=1024), Field("motdUrgent", bool, required=True)))}

    def on_patch(self, req: falcon.Request, resp: falcon.Response) -> None:
        data = self.body(req, "patch")
        respond(resp, 200, self.services.cluster.set_motd(self.principal(req), data["motd"], data["motdUrgent"]))


class Hosts(Resource):
    OPS = {"get": Op("Show hosts, filtered by any of the parameters (each may repeat or be a comma list)",
                     data=("hosts",),
                     query=tuple(Field(name, repeat=True, csv=name != "name") for name in HOST_FILTERS))}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = self.query(req, "get")
        views = self.services.cluster.hosts(self.principal(req), q)
        respond(resp, 200, "" if views else NO_RESULTS, {"hosts": [v.to_json() for v in views]})
