"""Lineage and ML metadata, as the contract's section of that name and ML Metadata say:
types and their evolution, nodes, events, contexts, queries, traversal, as_of, paging,
restart persistence. Every error case is checked through HTTP, and after each rejected
write that nothing was stored."""
import http.client
import json
import threading
import time
import unittest
from urllib.parse import quote
import urllib.parse

import harness
from harness import DaemonTest


def q(s):
    return quote(s, safe="")


class LineageTest(DaemonTest):
    # -- helpers ------------------------------------------------------------------
    def ok(self, method, path, body=None, status=(200, 201)):
        s, doc = self.call(method, path, body)
        if isinstance(status, int):
            status = (status,)
        self.assertIn(s, status, f"{method} {path}: {doc}")
        return doc

    def artifact(self, type_, name=None, **kw):
        body = {"type": type_}
        if name is not None:
            body["name"] = name
        body.update(kw)
        return self.ok("POST", "/v1/artifacts", body, 201)["artifact"]

    def execution(self, type_, name=None, **kw):
        body = {"type": type_}
        if name is not None:
            body["name"] = name
        body.update(kw)
        return self.ok("POST", "/v1/executions", body, 201)["execution"]

    def context(self, type_, name, **kw):
        body = {"type": type_, "name": name}
        body.update(kw)
        return self.ok("POST", "/v1/contexts", body, 201)["context"]

    def event(self, a, e, type_, path=None):
        body = {"artifact_id": a, "execution_id": e, "type": type_}
        if path is not None:
            body["path"] = path
        return self.ok("POST", "/v1/events", body, 201)["event"]

    def run_step(self, exec_type, inputs, outputs, name=None):
        ex = self.execution(exec_type, name, state="COMPLETE")
        for a in inputs:
            self.event(a["id"], ex["id"], "INPUT")
        for a in outputs:
            self.event(a["id"], ex["id"], "OUTPUT")
        return ex

    def list_all(self, path, key, page_size=2):
        out, token, sep = [], "", "&" if "?" in path else "?"
        while True:
            doc = self.ok("GET", f"{path}{sep}page_size={page_size}&page_token={token}", None, 200)
            out += doc[key]
            token = doc["next_page_token"]
            if not token:
                return out

    def names(self, items):
        return [i["name"] for i in items]

    def graph(self, query):
        return self.ok("GET", "/v1/lineage?" + query, None, 200)

    def graph_ids(self, doc):
        return (sorted(a["id"] for a in doc["artifacts"]),
                sorted(e["id"] for e in doc["executions"]))

    # -- types ----------------------------------------------------------------------
    def test_type_evolution(self):
        body = {"name": "Thing", "properties": {"size": "INT", "label": "STRING"}}
        s, doc = self.call("POST", "/v1/artifact-types", body)
        self.assertEqual(s, 201, doc)
        tid = doc["id"]
        self.assertEqual(doc["artifact_type"]["properties"], {"size": "INT", "label": "STRING"})
        # The same definition again: same id, 200.
        s, doc = self.call("POST", "/v1/artifact-types", body)
        self.assertEqual((s, doc["id"]), (200, tid), doc)
        # A changed property: 409 naming it, even with both flags.
        self.assertError(self.call("POST", "/v1/artifact-types", {
            "name": "Thing", "properties": {"size": "DOUBLE", "label": "STRING"},
            "can_add_fields": True, "can_omit_fields": True}), 409, "ALREADY_EXISTS", "size")
        # A dropped property: 409 unless can_omit_fields.
        self.assertError(self.call("POST", "/v1/artifact-types", {
            "name": "Thing", "properties": {"size": "INT"}}), 409, "ALREADY_EXISTS", "label")
        s, doc = self.call("POST", "/v1/artifact-types", {
            "name": "Thing", "properties": {"size": "INT"}, "can_omit_fields": True})
        self.assertEqual((s, doc["id"]), (200, tid), doc)
        self.assertEqual(doc["artifact_type"]["properties"], {"size": "INT", "label": "STRING"})
        # An added property: 409 unless can_add_fields; then the type grows, same id.
        self.assertError(self.call("POST", "/v1/artifact-types", {
            "name": "Thing", "properties": {"size": "INT", "label": "STRING", "ok": "BOOL"}}),
            409, "ALREADY_EXISTS", "ok")
        s, doc = self.call("POST", "/v1/artifact-types", {
            "name": "Thing", "properties": {"size": "INT", "label": "STRING", "ok": "BOOL"},
            "can_add_fields": True})
        self.assertEqual((s, doc["id"]), (200, tid), doc)
        s, doc = self.call("GET", "/v1/artifact-types/Thing")
        self.assertEqual(s, 200)
        self.assertEqual(doc["artifact_type"]["properties"],
                         {"size": "INT", "label": "STRING", "ok": "BOOL"})
        # Kinds have their own namespaces.
        s, doc = self.call("POST", "/v1/execution-types", {"name": "Thing"})
        self.assertEqual(s, 201, doc)
        self.assertError(self.call("GET", "/v1/context-types/Thing"), 404, "NOT_FOUND", "Thing")

    def test_type_bad_definitions(self):
        cases = [
            ({"name": "9lives"}, "9lives"),
            ({"name": "Bad-Name"}, "Bad-Name"),
            ({"name": "x" * 129}, "type name"),
            ({}, "name"),
            ({"name": "T", "properties": {"p": "FLOAT"}}, "p"),
            ({"name": "T", "properties": {"a.b": "INT"}}, "a.b"),
            ({"name": "T", "properties": ["INT"]}, "properties"),
            ({"name": "T", "can_add_fields": "yes"}, "can_add_fields"),
            ({"name": "T", "colour": "red"}, "colour"),
        ]
        for body, word in cases:
            with self.subTest(body=body):
                self.assertError(self.call("POST", "/v1/artifact-types", body),
                                 400, "INVALID_ARGUMENT", word)
        self.assertError(self.call("GET", "/v1/artifact-types/T"), 404, "NOT_FOUND")
        # Dots and underscores are part of the contract's type-name alphabet.
        s, doc = self.call("POST", "/v1/context-types", {"name": "tfx.Pipeline_run"})
        self.assertEqual(s, 201, doc)

    def test_builtin_types_and_type_list_paging(self):
        want = {
            "artifact": ["Dataset", "FairnessReport", "FeatureSet", "Metrics", "Model",
                         "SourceFile"],
            "execution": ["Evaluate", "Export", "Import", "Train"],
            "context": ["Schedule", "Study"],
        }
        for kind, names in want.items():
            got = self.list_all(f"/v1/{kind}-types", f"{kind}_types", page_size=4)
            self.assertEqual([t["name"] for t in got], names)
        s, doc = self.call("GET", "/v1/execution-types/Train")
        props = doc["execution_type"]["properties"]
        self.assertEqual(props["hyperparameters"], "STRUCT")
        self.assertEqual(props["code_version"], "STRING")
        s, doc = self.call("GET", "/v1/artifact-types/Dataset")
        self.assertEqual(doc["artifact_type"]["properties"]["rows"], "INT")
        self.assertEqual(doc["artifact_type"]["properties"]["sha256"], "STRING")
        s, doc = self.call("GET", "/v1/artifact-types?page_size=2")
        tok = doc["next_page_token"]
        self.assertTrue(tok)
        self.assertError(self.call("GET", f"/v1/execution-types?page_token={tok}"),
                         400, "INVALID_ARGUMENT", "page_token")

    # -- nodes ----------------------------------------------------------------------
    def test_node_create_and_property_checks(self):
        self.ok("POST", "/v1/artifact-types", {"name": "Typed", "properties": {
            "i": "INT", "d": "DOUBLE", "s": "STRING", "b": "BOOL", "st": "STRUCT"}}, 201)
        a = self.artifact("Typed", "all", uri="s3://bucket/x", state="LIVE", external_id="ext-1",
                          properties={"i": 3, "d": 2, "s": "x", "b": True,
                                      "st": {"k": [1, 2]}},
                          custom_properties={"note": "free", "n": 1.5, "obj": {"a": None}})
        self.assertIsInstance(a["id"], int)
        for k in ("id", "type", "name", "uri", "state", "external_id", "properties",
                  "custom_properties", "create_time", "update_time"):
            self.assertIn(k, a)
        self.assertEqual(a["type"], "Typed")
        self.assertEqual(a["properties"]["d"], 2.0)  # DOUBLE takes any number
        self.assertEqual(a["properties"]["st"], {"k": [1, 2]})
        self.assertEqual(a["custom_properties"]["obj"], {"a": None})
        self.assertTrue(a["create_time"].endswith("Z"))
        self.assertEqual(self.ok("GET", f"/v1/artifacts/{a['id']}", None, 200)["artifact"], a)

        bad = [
            ({"properties": {"nope": 1}}, "nope"),
            ({"properties": {"i": 1.5}}, "\"i\""),
            ({"properties": {"i": "3"}}, "\"i\""),
            ({"properties": {"d": "2.0"}}, "\"d\""),
            ({"properties": {"s": 5}}, "\"s\""),
            ({"properties": {"b": 1}}, "\"b\""),
            ({"properties": {"st": "x"}}, "\"st\""),
            ({"properties": []}, "properties"),
            ({"custom_properties": "x"}, "custom_properties"),
            ({"state": "ALIVE"}, "ALIVE"),
            ({"state": "RUNNING"}, "RUNNING"),  # an execution state
            ({"name": ""}, "name"),
            ({"colour": "red"}, "colour"),
            ({"uri": 5}, "uri"),
        ]
        for extra, word in bad:
            with self.subTest(extra=extra):
                body = {"type": "Typed", "name": "bad"}
                body.update(extra)
                self.assertError(self.call("POST", "/v1/artifacts", body),
                                 400, "INVALID_ARGUMENT", word)
        self.assertError(self.call("POST", "/v1/artifacts", {"type": "Nope", "name": "x"}),
                         404, "NOT_FOUND", "Nope")
        self.assertError(self.call("POST", "/v1/artifacts", {"name": "x"}),
                         400, "INVALID_ARGUMENT", "type")
        # Nothing of the rejected requests was stored.
        s, doc = self.call("GET", "/v1/artifacts?name=bad")
        self.assertEqual(doc["artifacts"], [])
        self.assertEqual(len(self.list_all("/v1/artifacts", "artifacts")), 1)

        # Executions and contexts: their own states; contexts need a name, have no state.
        e = self.execution("Train", "t", state="RUNNING",
                           properties={"hyperparameters": {"l2": 0.1}})
        self.assertEqual(e["state"], "RUNNING")
        self.assertError(self.call("POST", "/v1/executions", {"type": "Train", "state": "LIVE"}),
                         400, "INVALID_ARGUMENT", "LIVE")
        for st in ("NEW", "COMPLETE", "FAILED", "CACHED", "CANCELED"):
            self.execution("Train", state=st)
        for st in ("PENDING", "MARKED_FOR_DELETION", "DELETED", "ABANDONED"):
            self.artifact("Dataset", state=st)
        self.assertError(self.call("POST", "/v1/contexts", {"type": "Study"}),
                         400, "INVALID_ARGUMENT", "name")
        self.assertError(self.call("POST", "/v1/contexts",
                                   {"type": "Study", "name": "s", "state": "LIVE"}),
                         400, "INVALID_ARGUMENT", "state")
        c = self.context("Study", "s")
        self.assertIsNone(c["state"])

    def test_unique_names_and_external_ids(self):
        a = self.artifact("Dataset", "d", external_id="E1")
        self.assertError(self.call("POST", "/v1/artifacts", {"type": "Dataset", "name": "d"}),
                         409, "ALREADY_EXISTS", "d")
        # The same name in another type is another node.
        self.artifact("Model", "d")
        # External ids are unique across types of the kind.
        self.assertError(self.call("POST", "/v1/artifacts",
                                   {"type": "Model", "name": "m", "external_id": "E1"}),
                         409, "ALREADY_EXISTS", "E1")
        self.assertEqual(self.call("GET", "/v1/artifacts?name=m")[1]["artifacts"], [])
        # ... but not across kinds.
        self.execution("Train", "d", external_id="E1")
        # Unnamed artifacts and executions are allowed (ML Metadata); any number of them.
        self.artifact("Dataset")
        self.artifact("Dataset")
        # Two contexts of one type and name: 409.
        self.context("Study", "s")
        self.assertError(self.call("POST", "/v1/contexts", {"type": "Study", "name": "s"}),
                         409, "ALREADY_EXISTS", "s")
        b = self.artifact("Dataset", "other")
        self.assertError(self.call("PATCH", f"/v1/artifacts/{b['id']}", {"external_id": "E1"}),
                         409, "ALREADY_EXISTS", "E1")
        doc = self.ok("GET", "/v1/artifacts?external_id=E1", None, 200)
        self.assertEqual([x["id"] for x in doc["artifacts"]], [a["id"]])
        # Ids are integers unique per kind, allocated in order.
        self.assertEqual(b["id"], a["id"] + 4)

    def test_patch_immutability_preconditions_and_history(self):
        a = self.artifact("Dataset", "d", uri="file:///v1", state="PENDING",
                          properties={"rows": 1}, custom_properties={"k": "v"})
        path = f"/v1/artifacts/{a['id']}"
        self.assertError(self.call("PATCH", path, {"name": "other"}),
                         400, "INVALID_ARGUMENT", "name")
        self.assertError(self.call("PATCH", path, {"type": "Model"}),
                         400, "INVALID_ARGUMENT", "type")
        self.assertError(self.call("PATCH", path, {"properties": {"rows": "many"}}),
                         400, "INVALID_ARGUMENT", "rows")
        self.assertError(self.call("PATCH", path, {"state": "RUNNING"}),
                         400, "INVALID_ARGUMENT", "RUNNING")
        self.assertError(self.call("PATCH", path, {"if_update_time": "yesterday"}),
                         400, "INVALID_ARGUMENT", "if_update_time")
        self.assertError(self.call("PATCH", "/v1/artifacts/999", {"state": "LIVE"}),
                         404, "NOT_FOUND", "999")
        self.assertError(self.call("PATCH", "/v1/artifacts/abc", {"state": "LIVE"}),
                         400, "INVALID_ARGUMENT", "abc")
        # Echoing the unchanged name and type back is fine.
        b = self.ok("PATCH", path, {"name": "d", "type": "Dataset", "state": "LIVE",
                                    "if_update_time": a["update_time"]}, 200)["artifact"]
        self.assertEqual(b["state"], "LIVE")
        self.assertGreater(b["update_time"], a["update_time"])
        # A stale if_update_time: 412, nothing changes.
        self.assertError(self.call("PATCH", path, {"properties": {"rows": 5},
                                                   "if_update_time": a["update_time"]}),
                         412, "FAILED_PRECONDITION", "if_update_time")
        self.assertEqual(self.ok("GET", path, None, 200)["artifact"], b)
        # Merge semantics: null removes, other keys stay.
        c = self.ok("PATCH", path, {"properties": {"rows": 5, "format": "csv"},
                                    "custom_properties": {"k": None, "j": [1]},
                                    "uri": "file:///v2",
                                    "if_update_time": b["update_time"]}, 200)["artifact"]
        self.assertEqual(c["properties"], {"rows": 5, "format": "csv"})
        self.assertEqual(c["custom_properties"], {"j": [1]})
        self.assertEqual(c["uri"], "file:///v2")
        # The uri index follows the change.
        self.assertEqual(self.call("GET", "/v1/artifacts?uri=" + q("file:///v1"))[1]["artifacts"],
                         [])
        self.assertEqual([x["id"] for x in self.call(
            "GET", "/v1/artifacts?uri=" + q("file:///v2"))[1]["artifacts"]], [a["id"]])
        d = self.ok("PATCH", path, {"uri": None, "state": None}, 200)["artifact"]
        self.assertIsNone(d["uri"])
        self.assertIsNone(d["state"])
        # A patch that changes nothing stores no version.
        e = self.ok("PATCH", path, {"properties": {"rows": 5}}, 200)["artifact"]
        self.assertEqual(e["update_time"], d["update_time"])
        # History: every version, oldest first, each a full snapshot.
        versions = self.list_all(path + "/history", "versions")
        self.assertEqual([v["version"] for v in versions], [1, 2, 3, 4])
        self.assertEqual(versions[0], a)
        self.assertEqual(versions[1], b)
        self.assertEqual(versions[2]["properties"], {"rows": 5, "format": "csv"})
        self.assertEqual(versions[3], d)
        times = [v["update_time"] for v in versions]
        self.assertEqual(times, sorted(times))
        self.assertError(self.call("GET", "/v1/artifacts/77/history"), 404, "NOT_FOUND")
        # Executions and contexts keep history the same way.
        ex = self.execution("Train", "t", state="RUNNING")
        self.ok("PATCH", f"/v1/executions/{ex['id']}", {"state": "COMPLETE"}, 200)
        hist = self.ok("GET", f"/v1/executions/{ex['id']}/history", None, 200)["versions"]
        self.assertEqual([h["state"] for h in hist], ["RUNNING", "COMPLETE"])
        cx = self.context("Study", "s", properties={"owner": "ann"})
        self.ok("PATCH", f"/v1/contexts/{cx['id']}", {"properties": {"owner": "bob"}}, 200)
        hist = self.ok("GET", f"/v1/contexts/{cx['id']}/history", None, 200)["versions"]
        self.assertEqual([h["properties"]["owner"] for h in hist], ["ann", "bob"])
        self.assertError(self.call("PATCH", f"/v1/contexts/{cx['id']}", {"state": "LIVE"}),
                         400, "INVALID_ARGUMENT", "state")

    # -- events and contexts --------------------------------------------------------------
    def test_events(self):
        a = self.artifact("Dataset", "d")
        e = self.execution("Train", "t")
        path = [{"key": "train"}, {"index": 0}, {"key": "ünï"}, {"index": -3}]
        ev = self.event(a["id"], e["id"], "INPUT", path)
        self.assertEqual(ev["path"], path)
        self.assertEqual(ev["type"], "INPUT")
        self.assertError(self.call("POST", "/v1/events", {
            "artifact_id": a["id"], "execution_id": e["id"], "type": "INPUT"}),
            409, "ALREADY_EXISTS", "INPUT")
        # Another type for the same pair is another event.
        self.event(a["id"], e["id"], "DECLARED_INPUT")
        self.assertError(self.call("POST", "/v1/events", {
            "artifact_id": 999, "execution_id": e["id"], "type": "OUTPUT"}),
            404, "NOT_FOUND", "artifact 999")
        self.assertError(self.call("POST", "/v1/events", {
            "artifact_id": a["id"], "execution_id": 999, "type": "OUTPUT"}),
            404, "NOT_FOUND", "execution 999")
        for body, word in [
            ({"artifact_id": a["id"], "execution_id": e["id"], "type": "READ"}, "READ"),
            ({"artifact_id": a["id"], "execution_id": e["id"]}, "type"),
            ({"artifact_id": "1", "execution_id": e["id"], "type": "OUTPUT"}, "artifact_id"),
            ({"execution_id": e["id"], "type": "OUTPUT"}, "artifact_id"),
            ({"artifact_id": a["id"], "execution_id": e["id"], "type": "OUTPUT",
              "path": [{"step": 1}]}, "path[0]"),
            ({"artifact_id": a["id"], "execution_id": e["id"], "type": "OUTPUT",
              "path": [{"index": 1, "key": "a"}]}, "path[0]"),
            ({"artifact_id": a["id"], "execution_id": e["id"], "type": "OUTPUT",
              "path": [{"index": "1"}]}, "index"),
            ({"artifact_id": a["id"], "execution_id": e["id"], "type": "OUTPUT",
              "path": {"key": "a"}}, "path"),
        ]:
            with self.subTest(body=body):
                self.assertError(self.call("POST", "/v1/events", body),
                                 400, "INVALID_ARGUMENT", word)
        # The rejected OUTPUT was not stored.
        evs = self.list_all(f"/v1/executions/{e['id']}/events", "events", page_size=1)
        self.assertEqual(sorted(x["type"] for x in evs), ["DECLARED_INPUT", "INPUT"])
        self.assertEqual([x["path"] for x in evs if x["type"] == "INPUT"], [path])
        evs = self.ok("GET", f"/v1/artifacts/{a['id']}/events", None, 200)["events"]
        self.assertEqual(len(evs), 2)
        self.assertError(self.call("GET", "/v1/executions/42/events"), 404, "NOT_FOUND")

    def test_batch(self):
        src = self.artifact("SourceFile", "s.csv")
        study = self.context("Study", "batch-study")
        body = {
            "executions": [{"type": "Import", "name": "imp-b", "state": "COMPLETE",
                            "properties": {"rows_read": 10}}],
            "artifacts": [{"type": "FeatureSet", "uri": "strata://fs/1"},
                          {"type": "Dataset", "name": "batch-ds", "properties": {"rows": 3}}],
            "contexts": [{"type": "Study", "name": "batch-new"}],
            "events": [
                {"artifact_id": src["id"], "execution_index": 0, "type": "INPUT",
                 "path": [{"key": "source"}]},
                {"artifact_index": 0, "execution_index": 0, "type": "OUTPUT"},
                {"artifact_index": 1, "execution_index": 0, "type": "OUTPUT"}],
            "attributions": [{"context_id": study["id"], "artifact_index": 0},
                             {"context_index": 0, "artifact_id": src["id"]},
                             {"context_id": study["id"], "artifact_index": 0}],
            "associations": [{"context_id": study["id"], "execution_index": 0}],
        }
        b = self.ok("POST", "/v1/lineage:batch", body, 200)["batch"]
        self.assertEqual(len(b["artifact_ids"]), 2)
        self.assertEqual(len(b["execution_ids"]), 1)
        self.assertEqual(len(b["context_ids"]), 1)
        self.assertEqual(b["events"], 3)
        self.assertEqual(b["links_created"], 3)  # the repeated attribution is one link
        ex = b["execution_ids"][0]
        evs = self.ok("GET", f"/v1/executions/{ex}/events", None, 200)["events"]
        self.assertEqual(sorted((e["artifact_id"], e["type"]) for e in evs),
                         sorted([(src["id"], "INPUT"), (b["artifact_ids"][0], "OUTPUT"),
                                 (b["artifact_ids"][1], "OUTPUT")]))
        self.assertEqual([e["path"] for e in evs if e["type"] == "INPUT"], [[{"key": "source"}]])
        ds = self.ok("GET", f"/v1/artifacts/{b['artifact_ids'][1]}", None, 200)["artifact"]
        self.assertEqual((ds["name"], ds["properties"]), ("batch-ds", {"rows": 3}))
        ctxs = self.ok("GET", f"/v1/artifacts/{src['id']}/contexts", None, 200)["contexts"]
        self.assertEqual([c["name"] for c in ctxs], ["batch-new"])
        up = self.graph(f"artifact_id={b['artifact_ids'][1]}&direction=upstream")
        self.assertEqual(self.graph_ids(up), (sorted([src["id"], b["artifact_ids"][1]]), [ex]))

        # Every bad batch is refused whole, naming the entry; nothing is stored.
        before = self.list_all("/v1/artifacts", "artifacts", page_size=100)
        bad = [
            ({"artifacts": [{"type": "Dataset", "name": "x1"}, {"type": "Dataset", "nme": "y"}]},
             400, "artifacts[1].nme"),
            ({"artifacts": [{"type": "Dataset", "name": "x2"}, {"type": "Dataset", "name": "x2"}]},
             409, "artifacts[1]"),
            ({"artifacts": [{"type": "Dataset", "name": "x3", "properties": {"rows": "3"}}]},
             400, "artifacts[0]"),
            ({"artifacts": [{"type": "Dataset", "name": "x4"}],
              "events": [{"artifact_index": 0, "execution_id": ex, "type": "INPUT"},
                         {"artifact_index": 0, "execution_id": ex, "type": "INPUT"}]},
             409, "events[1]"),
            ({"artifacts": [{"type": "Dataset", "name": "x5"}],
              "events": [{"artifact_index": 1, "execution_id": ex, "type": "INPUT"}]},
             400, "events[0]: artifact_index 1"),
            ({"artifacts": [{"type": "Dataset", "name": "x6"}],
              "events": [{"artifact_index": 0, "execution_id": 99999, "type": "INPUT"}]},
             404, "execution 99999"),
            ({"artifacts": [{"type": "Dataset", "name": "x7"}],
              "events": [{"artifact_index": 0, "artifact_id": 1, "execution_id": ex,
                          "type": "INPUT"}]}, 400, "exactly one"),
            ({"artifacts": [{"type": "Dataset", "name": "x8"}],
              "attributions": [{"context_id": 99999, "artifact_index": 0}]},
             404, "attributions[0]: context 99999"),
            ({"artifacts": [{"type": "Dataset", "name": "x9"}], "events": [{"type": "INPUT",
              "artifact_index": 0, "execution_id": ex, "path": [{"step": 1}]}]},
             400, "path[0]"),
            ({"artifacts": {"type": "Dataset"}}, 400, "artifacts"),
            ({"artifacts": [{"type": "Dataset"}] * 10001}, 413, "at most 10000"),
            ({"nodes": []}, 400, "nodes"),
        ]
        for body, status, word in bad:
            with self.subTest(word=word):
                code = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 409: "ALREADY_EXISTS",
                        413: "RESOURCE_EXHAUSTED"}[status]
                self.assertError(self.call("POST", "/v1/lineage:batch", body), status, code, word)
        self.assertEqual(self.list_all("/v1/artifacts", "artifacts", page_size=100), before)
        evs2 = self.ok("GET", f"/v1/executions/{ex}/events", None, 200)["events"]
        self.assertEqual(len(evs2), 3)

    def test_attributions_associations_parents(self):
        c1, c2, c3 = (self.context("Study", n) for n in ("c1", "c2", "c3"))
        a = self.artifact("Dataset", "d")
        e = self.execution("Train", "t")
        s, doc = self.call("POST", f"/v1/contexts/{c1['id']}/artifacts", {"artifact_id": a["id"]})
        self.assertEqual(s, 201, doc)
        s, doc = self.call("POST", f"/v1/contexts/{c1['id']}/artifacts", {"artifact_id": a["id"]})
        self.assertEqual(s, 200, doc)  # idempotent
        s, doc = self.call("POST", f"/v1/contexts/{c1['id']}/executions",
                           {"execution_id": e["id"]})
        self.assertEqual(s, 201, doc)
        s, doc = self.call("POST", f"/v1/contexts/{c1['id']}/executions",
                           {"execution_id": e["id"]})
        self.assertEqual(s, 200, doc)
        self.assertError(self.call("POST", f"/v1/contexts/{c1['id']}/artifacts",
                                   {"artifact_id": 99}), 404, "NOT_FOUND", "artifact 99")
        self.assertError(self.call("POST", "/v1/contexts/99/artifacts",
                                   {"artifact_id": a["id"]}), 404, "NOT_FOUND", "context 99")
        self.assertError(self.call("POST", f"/v1/contexts/{c1['id']}/executions",
                                   {"execution_id": 99}), 404, "NOT_FOUND", "execution 99")
        self.assertError(self.call("POST", f"/v1/contexts/{c1['id']}/artifacts", {}),
                         400, "INVALID_ARGUMENT", "artifact_id")
        # Parents: c1 -> c2 -> c3 (child -> parent).
        s, _ = self.call("POST", f"/v1/contexts/{c1['id']}/parents", {"parent_id": c2["id"]})
        self.assertEqual(s, 201)
        s, _ = self.call("POST", f"/v1/contexts/{c1['id']}/parents", {"parent_id": c2["id"]})
        self.assertEqual(s, 200)
        s, _ = self.call("POST", f"/v1/contexts/{c2['id']}/parents", {"parent_id": c3["id"]})
        self.assertEqual(s, 201)
        self.assertError(self.call("POST", f"/v1/contexts/{c1['id']}/parents",
                                   {"parent_id": c1["id"]}), 400, "INVALID_ARGUMENT", "own parent")
        self.assertError(self.call("POST", f"/v1/contexts/{c3['id']}/parents",
                                   {"parent_id": c1["id"]}), 400, "INVALID_ARGUMENT", "cycle")
        self.assertError(self.call("POST", f"/v1/contexts/{c2['id']}/parents",
                                   {"parent_id": c1["id"]}), 400, "INVALID_ARGUMENT", "cycle")
        self.assertError(self.call("POST", f"/v1/contexts/{c2['id']}/parents",
                                   {"parent_id": 99}), 404, "NOT_FOUND")
        # A diamond is not a cycle.
        s, _ = self.call("POST", f"/v1/contexts/{c1['id']}/parents", {"parent_id": c3["id"]})
        self.assertEqual(s, 201)
        # Reading the links.
        ids = lambda docs: [d["id"] for d in docs]
        self.assertEqual(ids(self.ok("GET", f"/v1/contexts/{c1['id']}/artifacts", None, 200)
                             ["artifacts"]), [a["id"]])
        self.assertEqual(ids(self.ok("GET", f"/v1/contexts/{c1['id']}/executions", None, 200)
                             ["executions"]), [e["id"]])
        self.assertEqual(ids(self.list_all(f"/v1/contexts/{c1['id']}/parents", "contexts", 1)),
                         [c2["id"], c3["id"]])
        self.assertEqual(ids(self.ok("GET", f"/v1/contexts/{c3['id']}/children", None, 200)
                             ["contexts"]), [c1["id"], c2["id"]])
        self.assertEqual(ids(self.ok("GET", f"/v1/artifacts/{a['id']}/contexts", None, 200)
                             ["contexts"]), [c1["id"]])
        self.assertEqual(ids(self.ok("GET", f"/v1/executions/{e['id']}/contexts", None, 200)
                             ["contexts"]), [c1["id"]])
        self.assertError(self.call("GET", "/v1/artifacts/99/contexts"), 404, "NOT_FOUND")

    # -- queries --------------------------------------------------------------------------
    def test_list_by_type_name_uri_order_and_paging(self):
        made = []
        for i, (t, n, u) in enumerate([("Dataset", "b", "s3://x"), ("Model", "a", "s3://x"),
                                       ("Dataset", "c", "s3://y"), ("Dataset", "a", "s3://x"),
                                       ("Model", "e", "s3://xy")]):
            made.append(self.artifact(t, n, uri=u))
            time.sleep(0.002)
        ids = lambda docs: [d["id"] for d in docs]
        all_ids = [m["id"] for m in made]
        self.assertEqual(ids(self.list_all("/v1/artifacts", "artifacts")), all_ids)
        self.assertEqual(ids(self.list_all("/v1/artifacts?type=Dataset", "artifacts")),
                         [all_ids[0], all_ids[2], all_ids[3]])
        self.assertEqual(ids(self.list_all("/v1/artifacts?name=a", "artifacts", 1)),
                         [all_ids[1], all_ids[3]])
        self.assertEqual(ids(self.list_all("/v1/artifacts?type=Model&name=a", "artifacts")),
                         [all_ids[1]])
        self.assertEqual(ids(self.list_all("/v1/artifacts?uri=" + q("s3://x"), "artifacts")),
                         [all_ids[0], all_ids[1], all_ids[3]])
        self.assertEqual(ids(self.list_all("/v1/artifacts?uri=" + q("s3://x") + "&type=Model",
                                           "artifacts")), [all_ids[1]])
        self.assertEqual(self.call("GET", "/v1/artifacts?type=Nope")[1]["artifacts"], [])
        # order_by, each through several pages.
        self.assertEqual(ids(self.list_all("/v1/artifacts?order_by=id%20desc", "artifacts")),
                         all_ids[::-1])
        by_name = self.list_all("/v1/artifacts?order_by=name", "artifacts")
        self.assertEqual([(d["name"], d["id"]) for d in by_name],
                         sorted((d["name"], d["id"]) for d in made))
        self.assertEqual(ids(self.list_all("/v1/artifacts?order_by=create_time+desc",
                                           "artifacts")), all_ids[::-1])
        self.assertEqual(ids(self.list_all("/v1/artifacts?order_by=create_time%20asc",
                                           "artifacts")), all_ids)
        self.assertEqual(ids(self.list_all("/v1/artifacts?type=Dataset&order_by=name%20desc",
                                           "artifacts", 1)),
                         [all_ids[2], all_ids[0], all_ids[3]])
        # Updating moves a node to the end of update_time order.
        self.ok("PATCH", f"/v1/artifacts/{all_ids[0]}", {"state": "LIVE"}, 200)
        self.assertEqual(ids(self.list_all("/v1/artifacts?order_by=update_time", "artifacts")),
                         all_ids[1:] + all_ids[:1])
        # Tokens are bound to every other parameter.
        doc = self.ok("GET", "/v1/artifacts?type=Dataset&page_size=1", None, 200)
        tok = doc["next_page_token"]
        self.assertTrue(tok)
        for other in ("type=Model", "type=Dataset&name=a", "type=Dataset&order_by=name",
                      "type=Dataset&filter=" + q("name = 'a'"), ""):
            with self.subTest(other=other):
                self.assertError(self.call("GET", f"/v1/artifacts?{other}&page_token={tok}"),
                                 400, "INVALID_ARGUMENT", "page_token")
        self.assertError(self.call("GET", f"/v1/executions?type=Dataset&page_token={tok}"),
                         400, "INVALID_ARGUMENT", "page_token")
        # ... but the page size may change between pages.
        s, doc = self.call("GET", f"/v1/artifacts?type=Dataset&page_size=5&page_token={tok}")
        self.assertEqual(s, 200, doc)
        self.assertEqual(ids(doc["artifacts"]), [all_ids[2], all_ids[3]])
        for bad in ("order_by=colour", "order_by=name%20sideways", "order_by=id%20asc%20x",
                    "page_size=0", "page_size=1001", "page_token=zz"):
            with self.subTest(bad=bad):
                self.assertError(self.call("GET", "/v1/artifacts?" + bad), 400,
                                 "INVALID_ARGUMENT")

    def test_filter_queries(self):
        c = self.context("Study", "run_42")
        small = self.artifact("Dataset", "small", uri="s3://a", properties={"rows": 10})
        big = self.artifact("Dataset", "big", properties={"rows": 5000, "format": "csv"})
        model = self.artifact("Model", "model_1", properties={"version": 3},
                              custom_properties={"team": "risk"})
        self.ok("POST", f"/v1/contexts/{c['id']}/artifacts", {"artifact_id": big["id"]}, 201)
        self.ok("POST", f"/v1/contexts/{c['id']}/artifacts", {"artifact_id": model["id"]}, 201)

        def ids(f, kind="artifacts"):
            return [d["id"] for d in self.list_all(f"/v1/{kind}?filter=" + q(f), kind)]
        self.assertEqual(ids("properties.rows.int_value > 1000"), [big["id"]])
        # Form-encoded, as Python's urlencode writes it: '+' for each space.
        doc = self.ok("GET", "/v1/artifacts?" + urllib.parse.urlencode(
            {"filter": "properties.rows.int_value > 1000"}), None, 200)
        self.assertEqual([d["id"] for d in doc["artifacts"]], [big["id"]])
        self.assertEqual(ids("type = 'Dataset' AND properties.rows.int_value <= 1000"),
                         [small["id"]])
        self.assertEqual(ids("contexts_a.name = 'run_42'"), [big["id"], model["id"]])
        self.assertEqual(ids("contexts_a.name = 'run_42' AND type = 'Model'"), [model["id"]])
        self.assertEqual(ids("name LIKE 'model_%' OR uri = 's3://a'"), [small["id"], model["id"]])
        self.assertEqual(ids("NOT (type = 'Dataset')"), [model["id"]])
        self.assertEqual(ids("uri IS NULL"), [big["id"], model["id"]])
        self.assertEqual(ids(f"id IN ({small['id']}, {model['id']})"), [small["id"], model["id"]])
        self.assertEqual(ids("custom_properties.team.string_value = 'risk'"), [model["id"]])
        self.assertEqual(ids("properties.format.string_value = 'csv'"), [big["id"]])
        self.assertEqual(ids("name = 'run_42'", "contexts"), [c["id"]])
        # The filter combines with the index parameters and with paging.
        self.assertEqual(ids("properties.rows.int_value > 0") , [small["id"], big["id"]])
        doc = self.ok("GET", "/v1/artifacts?type=Dataset&filter=" +
                      q("properties.rows.int_value > 0") + "&order_by=name", None, 200)
        self.assertEqual([d["name"] for d in doc["artifacts"]], ["big", "small"])
        for bad in ("properties.rows.int_value >", "name = ", "((name = 'a')", "nme = 'a'",
                    "name = 'a' AND"):
            with self.subTest(bad=bad):
                err = self.assertError(self.call("GET", "/v1/artifacts?filter=" + q(bad)),
                                       400, "INVALID_ARGUMENT", "filter")
                self.assertIn("position", err["message"])

    # -- traversal ---------------------------------------------------------------------------
    def build_pipeline(self):
        """src -Import-> ds -Export-> train_ds -Train-> model -Evaluate-> metrics
                                                     model -Export-> scored"""
        g = {}
        g["src"] = self.artifact("SourceFile", "src.csv", uri="file:///src.csv")
        g["ds"] = self.artifact("Dataset", "ds")
        g["imp"] = self.run_step("Import", [g["src"]], [g["ds"]], "imp")
        g["train_ds"] = self.artifact("Dataset", "train_ds")
        g["exp"] = self.run_step("Export", [g["ds"]], [g["train_ds"]], "exp")
        g["model"] = self.artifact("Model", "credit", properties={"version": 1})
        g["train"] = self.execution("Train", "train", properties={"hyperparameters": {"l2": 1}})
        self.event(g["train_ds"]["id"], g["train"]["id"], "INPUT", [{"key": "examples"}])
        self.event(g["model"]["id"], g["train"]["id"], "OUTPUT", [{"key": "model"}])
        g["metrics"] = self.artifact("Metrics", "m")
        g["eval"] = self.run_step("Evaluate", [g["model"]], [g["metrics"]], "eval")
        g["scored"] = self.artifact("Dataset", "scored")
        g["score"] = self.run_step("Export", [g["model"]], [g["scored"]], "score")
        g["study"] = self.context("Study", "credit_study")
        self.ok("POST", f"/v1/contexts/{g['study']['id']}/executions",
                {"execution_id": g["train"]["id"]}, 201)
        self.ok("POST", f"/v1/contexts/{g['study']['id']}/artifacts",
                {"artifact_id": g["model"]["id"]}, 201)
        return g

    def test_lineage_traversal(self):
        g = self.build_pipeline()
        ids = lambda *names: sorted(g[n]["id"] for n in names)
        m = g["model"]["id"]
        # max_hops 0: the start nodes only.
        doc = self.graph(f"artifact_id={m}&max_hops=0")
        self.assertEqual(self.graph_ids(doc), ([m], []))
        self.assertEqual(doc["events"], [])
        self.assertEqual([c["name"] for c in doc["contexts"]], ["credit_study"])
        # One hop is node -> event -> node.
        doc = self.graph(f"artifact_id={m}&direction=upstream&max_hops=1")
        self.assertEqual(self.graph_ids(doc), ([m], ids("train")))
        self.assertEqual([(e["type"], e["path"]) for e in doc["events"]],
                         [("OUTPUT", [{"key": "model"}])])
        doc = self.graph(f"artifact_id={m}&direction=upstream&max_hops=2")
        self.assertEqual(self.graph_ids(doc), (ids("model", "train_ds"), ids("train")))
        self.assertEqual(len(doc["events"]), 2)
        # All the way up.
        doc = self.graph(f"artifact_id={m}&direction=upstream")
        self.assertEqual(self.graph_ids(doc), (ids("model", "train_ds", "ds", "src"),
                                               ids("train", "exp", "imp")))
        self.assertEqual(len(doc["events"]), 6)
        for e in doc["events"]:
            self.assertIn(e["artifact_id"], [a["id"] for a in doc["artifacts"]])
            self.assertIn(e["execution_id"], [x["id"] for x in doc["executions"]])
        self.assertEqual(sorted(c["name"] for c in doc["contexts"]), ["credit_study"])
        # Downstream from the imported dataset.
        doc = self.graph(f"artifact_id={g['ds']['id']}&direction=downstream")
        self.assertEqual(self.graph_ids(doc),
                         (ids("ds", "train_ds", "model", "metrics", "scored"),
                          ids("exp", "train", "eval", "score")))
        # Both: every event at every hop (ML Metadata's BIDIRECTIONAL).
        doc = self.graph(f"artifact_id={g['metrics']['id']}&direction=both&max_hops=2")
        self.assertEqual(self.graph_ids(doc), (ids("metrics", "model"), ids("eval")))
        doc = self.graph(f"artifact_id={g['metrics']['id']}&direction=both&max_hops=3")
        self.assertEqual(self.graph_ids(doc), (ids("metrics", "model"),
                                               ids("eval", "train", "score")))
        doc = self.graph(f"artifact_id={g['metrics']['id']}")  # default both, 20 hops
        self.assertEqual(len(doc["artifacts"]) + len(doc["executions"]), 11)
        # Each node once, even with two starts that share ancestors.
        doc = self.graph(f"artifact_id={g['metrics']['id']},{g['scored']['id']}"
                         "&direction=upstream")
        all_ids = [("a", a["id"]) for a in doc["artifacts"]] + \
                  [("e", e["id"]) for e in doc["executions"]]
        self.assertEqual(len(all_ids), len(set(all_ids)))
        self.assertEqual(len(doc["artifacts"]), 6)
        # From executions, and from a filter.
        doc = self.graph(f"execution_id={g['train']['id']}&direction=upstream&max_hops=1")
        self.assertEqual(self.graph_ids(doc), (ids("train_ds"), ids("train")))
        doc = self.graph("filter=" + q("type = 'Metrics'") + "&direction=upstream&max_hops=2")
        self.assertEqual(self.graph_ids(doc), (ids("metrics", "model"), ids("eval")))
        doc = self.graph("execution_filter=" + q("name = 'imp'") + "&direction=downstream"
                         "&max_hops=1")
        self.assertEqual(self.graph_ids(doc), (ids("ds"), ids("imp")))
        # A start that matches nothing: 404.
        self.assertError(self.call("GET", "/v1/lineage?artifact_id=999"), 404, "NOT_FOUND", "999")
        self.assertError(self.call("GET", "/v1/lineage?execution_id=999"), 404, "NOT_FOUND")
        self.assertError(self.call("GET", "/v1/lineage?filter=" + q("name = 'nothing'")),
                         404, "NOT_FOUND", "filter")
        for bad, word in [("", "start"), (f"artifact_id={m}&execution_id=1", "start"),
                          (f"artifact_id={m}&direction=sideways", "direction"),
                          (f"artifact_id={m}&max_hops=101", "max_hops"),
                          (f"artifact_id={m}&max_hops=-1", "max_hops"),
                          ("artifact_id=x", "artifact_id"),
                          (f"artifact_id={m}&as_of=yesterday", "as_of"),
                          # an offset's '+' written as it is reads as a space
                          (f"artifact_id={m}&as_of=2024-01-01T00:00:00+02:00", "%2B"),
                          ("filter=" + q("name ="), "filter"),
                          (f"artifact_id={m}&page_size=10001", "page_size")]:
            with self.subTest(bad=bad):
                self.assertError(self.call("GET", "/v1/lineage?" + bad), 400,
                                 "INVALID_ARGUMENT", word)

    def test_lineage_as_of(self):
        ds = self.artifact("Dataset", "ds", properties={"rows": 1})
        ex = self.execution("Train", "train")
        t0 = self.event(ds["id"], ex["id"], "INPUT")["time"]
        time.sleep(0.01)
        later_model = self.artifact("Model", "late")
        self.event(later_model["id"], ex["id"], "OUTPUT")  # an edge after t0
        self.ok("PATCH", f"/v1/artifacts/{ds['id']}", {"properties": {"rows": 2}}, 200)
        ctx = self.context("Study", "late_study")
        self.ok("POST", f"/v1/contexts/{ctx['id']}/artifacts", {"artifact_id": ds["id"]}, 201)

        now = self.graph(f"artifact_id={ds['id']}&direction=downstream")
        self.assertEqual(self.graph_ids(now), (sorted([ds["id"], later_model["id"]]), [ex["id"]]))
        self.assertEqual(now["artifacts"][0]["properties"], {"rows": 2})
        self.assertEqual([c["name"] for c in now["contexts"]], ["late_study"])
        then = self.graph(f"artifact_id={ds['id']}&direction=downstream&as_of={q(t0)}")
        self.assertEqual(self.graph_ids(then), ([ds["id"]], [ex["id"]]))
        self.assertEqual(len(then["events"]), 1)
        self.assertEqual(then["artifacts"][0]["properties"], {"rows": 1})
        self.assertEqual(then["artifacts"][0]["version"], 1)
        self.assertEqual(then["contexts"], [])
        # A start created after as_of did not exist then.
        self.assertError(self.call("GET", f"/v1/lineage?artifact_id={later_model['id']}"
                                   f"&as_of={q(t0)}"), 404, "NOT_FOUND")

    def test_lineage_paging_of_a_large_traversal(self):
        # A fan-out: one import writes 30 datasets; each feeds an export.
        src = self.artifact("SourceFile", "big.csv")
        imp = self.execution("Import", "imp")
        self.event(src["id"], imp["id"], "INPUT")
        for i in range(30):
            d = self.artifact("Dataset", f"part{i}")
            self.event(d["id"], imp["id"], "OUTPUT", [{"index": i}])
            ex = self.execution("Export", f"exp{i}")
            self.event(d["id"], ex["id"], "INPUT")
        full = self.graph(f"artifact_id={src['id']}&direction=downstream")
        self.assertEqual(full["next_page_token"], "")
        self.assertEqual((len(full["artifacts"]), len(full["executions"]), len(full["events"])),
                         (31, 31, 61))
        base = f"artifact_id={src['id']}&direction=downstream&page_size=7"
        seen_nodes, seen_events, token, pages = [], [], "", 0
        while True:
            doc = self.graph(base + (f"&page_token={token}" if token else ""))
            pages += 1
            seen_nodes += [("a", a["id"]) for a in doc["artifacts"]]
            seen_nodes += [("e", e["id"]) for e in doc["executions"]]
            seen_events += [(e["artifact_id"], e["execution_id"], e["type"])
                            for e in doc["events"]]
            self.assertLessEqual(len(doc["artifacts"]) + len(doc["executions"]), 7)
            token = doc["next_page_token"]
            if not token:
                break
            if pages == 1:
                first_token = token
        self.assertEqual(pages, 9)
        self.assertEqual(len(seen_nodes), len(set(seen_nodes)))
        self.assertEqual(sorted(seen_nodes),
                         sorted([("a", a["id"]) for a in full["artifacts"]] +
                                [("e", e["id"]) for e in full["executions"]]))
        self.assertEqual(sorted(seen_events),
                         sorted((e["artifact_id"], e["execution_id"], e["type"])
                                for e in full["events"]))
        # Nodes added after the first page do not shift later pages.
        late = self.execution("Export", "late")
        self.event(src["id"], late["id"], "INPUT")
        doc = self.graph(base + f"&page_token={first_token}")
        self.assertNotIn(late["id"], [e["id"] for e in doc["executions"]])
        # The token is bound to the other parameters.
        self.assertError(self.call("GET", f"/v1/lineage?artifact_id={src['id']}"
                                   f"&direction=upstream&page_size=7&page_token={first_token}"),
                         400, "INVALID_ARGUMENT", "page_token")

    # -- concurrency ------------------------------------------------------------------------
    def test_concurrent_writers(self):
        """Uniqueness checks and id allocation hold under parallel requests."""
        results, lock = [], threading.Lock()

        def worker(i):
            conn = http.client.HTTPConnection("127.0.0.1", self.d.port,
                                              timeout=harness.scaled(60))
            mine = []
            for k in range(10):
                for name in ("shared", f"own-{i}-{k}"):
                    conn.request("POST", "/v1/artifacts",
                                 body=json.dumps({"type": "Dataset", "name": name}),
                                 headers={"Content-Type": "application/json"})
                    r = conn.getresponse()
                    mine.append((name, r.status, json.loads(r.read())))
            conn.close()
            with lock:
                results.extend(mine)
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        shared = [st for name, st, _ in results if name == "shared"]
        self.assertEqual(shared.count(201), 1, shared)
        self.assertEqual(shared.count(409), len(shared) - 1)
        ids = [doc["artifact"]["id"] for _, st, doc in results if st == 201]
        self.assertEqual(len(ids), 61)
        self.assertEqual(sorted(ids), list(range(1, 62)))

    # -- durability -------------------------------------------------------------------------
    def test_restart_persistence(self):
        self.ok("POST", "/v1/artifact-types", {"name": "Thing", "properties": {"a": "INT"}}, 201)
        tid = self.ok("POST", "/v1/artifact-types", {
            "name": "Thing", "properties": {"a": "INT", "b": "STRING"},
            "can_add_fields": True}, 200)["id"]
        a = self.artifact("Thing", "t", properties={"a": 1, "b": "x"}, external_id="X")
        self.ok("PATCH", f"/v1/artifacts/{a['id']}", {"properties": {"a": 2}}, 200)
        e = self.execution("Train", "t")
        self.event(a["id"], e["id"], "OUTPUT", [{"key": "k"}])
        c = self.context("Study", "s")
        self.ok("POST", f"/v1/contexts/{c['id']}/artifacts", {"artifact_id": a["id"]}, 201)
        before = self.graph(f"artifact_id={a['id']}")
        self.d.restart()
        self.assertEqual(self.ok("POST", "/v1/artifact-types", {
            "name": "Thing", "properties": {"a": "INT", "b": "STRING"}}, 200)["id"], tid)
        after = self.graph(f"artifact_id={a['id']}")
        before.pop("next_page_token")
        after.pop("next_page_token")
        self.assertEqual(after, before)
        hist = self.ok("GET", f"/v1/artifacts/{a['id']}/history", None, 200)["versions"]
        self.assertEqual([h["properties"]["a"] for h in hist], [1, 2])
        self.assertError(self.call("POST", "/v1/artifacts", {"type": "Thing", "name": "t"}),
                         409, "ALREADY_EXISTS")
        self.assertError(self.call("POST", "/v1/artifacts",
                                   {"type": "Dataset", "external_id": "X"}),
                         409, "ALREADY_EXISTS")
        self.assertError(self.call("POST", "/v1/events", {
            "artifact_id": a["id"], "execution_id": e["id"], "type": "OUTPUT"}),
            409, "ALREADY_EXISTS")
        # Ids continue after the ones already used; none is reused.
        b = self.artifact("Thing", "u")
        self.assertEqual(b["id"], a["id"] + 1)
        s, _ = self.call("POST", f"/v1/contexts/{c['id']}/artifacts", {"artifact_id": a["id"]})
        self.assertEqual(s, 200)


if __name__ == "__main__":
    unittest.main()
