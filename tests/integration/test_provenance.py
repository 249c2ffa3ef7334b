"""GET /v1/models/{name}/provenance: the contract's "where did this model come from?".

The graph is built through the public lineage API with Strata's built-in types, the way
imports, exports, training and evaluation record themselves:

    SourceFile -INPUT-> Import -OUTPUT-> FeatureSet -INPUT-> Export -OUTPUT-> Dataset
    Dataset -INPUT-> Train -OUTPUT-> Model "<model>@<version>" (+ Metrics)
    Model -INPUT-> Evaluate -OUTPUT-> Metrics, FairnessReport

then the answer is checked in full, for partial graphs (it fills in as the pipeline lands,
naming what is missing), for version selection, and for the 400/404 cases.
"""
import unittest
from urllib.parse import quote

from harness import DaemonTest

CODE = "0.1.0+deadbeef0000"
HYPER = {"l2": 0.01, "max_iterations": 100, "early_stop": True}


class ProvenanceTest(DaemonTest):
    # -- graph building -----------------------------------------------------------
    def ok(self, method, path, body=None, status=(200, 201)):
        s, doc = self.call(method, path, body)
        if isinstance(status, int):
            status = (status,)
        self.assertIn(s, status, f"{method} {path}: {doc}")
        return doc

    def artifact(self, type_, name=None, **kw):
        body = {"type": type_, "state": "LIVE"}
        if name is not None:
            body["name"] = name
        body.update(kw)
        return self.ok("POST", "/v1/artifacts", body, 201)["artifact"]

    def execution(self, type_, name=None, state="COMPLETE", **kw):
        body = {"type": type_, "state": state}
        if name is not None:
            body["name"] = name
        body.update(kw)
        return self.ok("POST", "/v1/executions", body, 201)["execution"]

    def event(self, a, e, type_):
        return self.ok("POST", "/v1/events",
                       {"artifact_id": a["id"], "execution_id": e["id"], "type": type_},
                       201)["event"]

    def step(self, exec_type, name, inputs, outputs, **props):
        ex = self.execution(exec_type, name, properties=props)
        for a in inputs:
            self.event(a, ex, "INPUT")
        times = [self.event(a, ex, "OUTPUT")["time"] for a in outputs]
        return ex, times

    def source(self, name, sha, size=1234):
        return self.artifact("SourceFile", name, uri=f"file:///data/{name}",
                             properties={"format": "csv", "sha256": sha, "bytes": size,
                                         "rows": 10})

    def feature_set(self, entity, features, job):
        return self.artifact("FeatureSet", uri=f"strata://entities/{entity}?import_job={job}",
                             properties={"entity": entity, "features": features,
                                         "feature_count": len(features)})

    def do_import(self, job, src, entity, features):
        fs = self.feature_set(entity, features, job)
        ex, times = self.step("Import", f"import-{job}", [src], [fs], entity=entity,
                              format="csv", source=src["uri"], job_id=job, rows_imported=10,
                              code_version=CODE)
        return ex, fs, times[0]

    def model(self, name, version):
        return self.artifact("Model", f"{name}@{version}", properties={
            "model": name, "version": version, "algorithm": "logistic_regression",
            "task": "binary_classification"})

    def pipeline(self, name="credit", version=1):
        """import x2 (two files; one file feeds a second import too) -> export -> train ->
        evaluate; plus an import into the same feature set after the export (not upstream)."""
        g = {}
        g["src_a"] = self.source("applicants.csv", "a" * 64, 5000)
        g["src_b"] = self.source("bureau.csv", "b" * 64, 700)
        g["imp_a"], g["fs_a"], _ = self.do_import("j1", g["src_a"], "applicant", ["income", "age"])
        g["imp_b"], g["fs_b"], t_b = self.do_import("j2", g["src_b"], "applicant", ["score"])
        # Fan-out: the same source file feeds an import of another entity, which the
        # export does not read.
        g["imp_c"], g["fs_c"], _ = self.do_import("j3", g["src_a"], "region", ["name"])
        g["ds"] = self.artifact("Dataset", f"{name}-train-{version}",
                                uri=f"file:///exports/{name}-{version}.csv",
                                properties={"format": "csv", "rows": 4990, "sha256": "d" * 64})
        g["export"], _ = self.step(
            "Export", f"export-{name}-{version}", [g["fs_a"], g["fs_b"]], [g["ds"]],
            feature_refs=["applicant:income", "applicant:age", "applicant:score"], as_of=t_b,
            instance_source="file:///data/instances.csv", format="csv", rows=4990,
            job_id="j4", code_version=CODE)
        # Written into fs_a after the export ran: not part of this model's data.
        late = self.execution("Import", "import-late", properties={"entity": "applicant",
                                                                   "job_id": "j9"})
        self.event(g["fs_a"], late, "OUTPUT")
        g["late"] = late
        g["model"] = self.model(name, version)
        g["m_train"] = self.artifact("Metrics", properties={
            "split": "train", "n": 3992, "metrics": {"roc_auc": 0.91, "log_loss": 0.31}})
        g["m_eval"] = self.artifact("Metrics", properties={
            "split": "eval", "n": 998, "metrics": {"roc_auc": 0.88, "log_loss": 0.35}})
        g["train"], _ = self.step(
            "Train", f"train-{name}-{version}", [g["ds"]],
            [g["model"], g["m_train"], g["m_eval"]], model=name, version=version,
            algorithm="logistic_regression", hyperparameters=HYPER, code_version=CODE,
            feature_refs=["applicant:income", "applicant:age", "applicant:score"], as_of=t_b,
            job_id="j5")
        g["ev_metrics"] = self.artifact("Metrics", properties={
            "split": "holdout", "n": 500, "metrics": {"roc_auc": 0.87}})
        g["fair"] = self.artifact("FairnessReport", properties={
            "evaluation_id": "ev1", "group_by": ["sex"], "four_fifths_rule": "pass",
            "summary": {"demographic_parity_ratio": 0.93}})
        g["evaluate"], _ = self.step("Evaluate", "evaluate-1", [g["model"]],
                                     [g["ev_metrics"], g["fair"]], model=name, version=version,
                                     evaluation_id="ev1", code_version=CODE)
        return g

    def provenance(self, name, query="", status=200):
        s, doc = self.call("GET", f"/v1/models/{quote(name, safe='')}/provenance{query}")
        self.assertEqual(s, status, doc)
        return doc["provenance"] if status == 200 else doc

    # -- the whole pipeline ---------------------------------------------------------------
    def test_full_pipeline(self):
        g = self.pipeline()
        p = self.provenance("credit")
        self.assertEqual(set(p), {"model", "training", "training_data", "metrics", "evaluations",
                                  "complete", "missing", "truncated"})
        self.assertTrue(p["complete"], p["missing"])
        self.assertEqual(p["missing"], [])
        self.assertEqual(p["truncated"], [])
        # The model.
        self.assertEqual(p["model"]["name"], "credit")
        self.assertEqual(p["model"]["version"], 1)
        self.assertEqual(p["model"]["versions"], [1])
        self.assertEqual(p["model"]["artifact"]["id"], g["model"]["id"])
        self.assertEqual(p["model"]["artifact"]["name"], "credit@1")
        # Training: execution, hyperparameters, code version.
        t = p["training"]
        self.assertEqual(t["execution"]["id"], g["train"]["id"])
        self.assertEqual(t["execution"]["type"], "Train")
        self.assertEqual(t["hyperparameters"], HYPER)
        self.assertEqual(t["code_version"], CODE)
        # Training data: the dataset, its export with feature refs / as_of / instances.
        td = p["training_data"]
        self.assertEqual(td["feature_refs"],
                         ["applicant:income", "applicant:age", "applicant:score"])
        self.assertEqual(len(td["datasets"]), 1)
        d = td["datasets"][0]
        self.assertEqual(d["artifact"]["id"], g["ds"]["id"])
        self.assertEqual(d["export_execution"]["id"], g["export"]["id"])
        self.assertEqual(d["feature_refs"],
                         ["applicant:income", "applicant:age", "applicant:score"])
        self.assertEqual(d["as_of"], g["export"]["properties"]["as_of"])
        self.assertEqual(d["instance_source"], "file:///data/instances.csv")
        self.assertEqual(sorted(f["id"] for f in d["feature_sets"]),
                         sorted([g["fs_a"]["id"], g["fs_b"]["id"]]))
        # Imports: the two that fed the export, in execution order, with source digests;
        # not the late one, not the other entity's.
        imps = td["imports"]
        self.assertEqual([i["execution_id"] for i in imps], [g["imp_a"]["id"], g["imp_b"]["id"]])
        self.assertEqual(td["imports_total"], 2)
        a = imps[0]
        self.assertEqual(a["job_id"], "j1")
        self.assertEqual(a["entity"], "applicant")
        self.assertEqual(a["state"], "COMPLETE")
        self.assertEqual(a["feature_set"]["id"], g["fs_a"]["id"])
        self.assertEqual(a["source"], {"artifact_id": g["src_a"]["id"], "name": "applicants.csv",
                                       "uri": "file:///data/applicants.csv", "sha256": "a" * 64,
                                       "bytes": 5000, "rows": 10, "format": "csv"})
        self.assertEqual(imps[1]["source"]["sha256"], "b" * 64)
        for i in imps:
            self.assertIsNotNone(i["create_time"])
            self.assertIsNotNone(i["end_time"])
        # Metrics of the training run.
        self.assertEqual(sorted((m["split"], m["artifact"]["id"]) for m in p["metrics"]),
                         [("eval", g["m_eval"]["id"]), ("train", g["m_train"]["id"])])
        m = [m for m in p["metrics"] if m["split"] == "train"][0]
        self.assertEqual(m["metrics"], {"roc_auc": 0.91, "log_loss": 0.31})
        self.assertEqual(m["n"], 3992)
        # Evaluations with their metrics and fairness reports.
        self.assertEqual(len(p["evaluations"]), 1)
        e = p["evaluations"][0]
        self.assertEqual(e["execution"]["id"], g["evaluate"]["id"])
        self.assertEqual(e["evaluation_id"], "ev1")
        self.assertEqual([x["artifact"]["id"] for x in e["metrics"]], [g["ev_metrics"]["id"]])
        self.assertEqual(len(e["fairness_reports"]), 1)
        fr = e["fairness_reports"][0]
        self.assertEqual(fr["four_fifths_rule"], "pass")
        self.assertEqual(fr["summary"], {"demographic_parity_ratio": 0.93})
        self.assertEqual(fr["group_by"], ["sex"])

    def test_as_of_limits_imports(self):
        """An export whose as_of precedes an import did not read that import's values."""
        src = self.source("a.csv", "1" * 64)
        imp1, fs1, t1 = self.do_import("k1", src, "user", ["x"])
        imp2, fs2, _ = self.do_import("k2", src, "user", ["x"])
        ds = self.artifact("Dataset", "ds")
        self.step("Export", "ex", [fs1, fs2], [ds], feature_refs=["user:x"], as_of=t1)
        m = self.model("m", 1)
        self.step("Train", "tr", [ds], [m], hyperparameters={}, code_version=CODE)
        p = self.provenance("m")
        self.assertEqual([i["execution_id"] for i in p["training_data"]["imports"]], [imp1["id"]])

    def test_train_reading_feature_sets_directly(self):
        src = self.source("direct.csv", "2" * 64)
        imp, fs, _ = self.do_import("d1", src, "user", ["x"])
        m = self.model("direct", 1)
        self.step("Train", "tr", [fs], [m], hyperparameters={"l2": 1.0}, code_version=CODE,
                  feature_refs=["user:x"])
        p = self.provenance("direct")
        td = p["training_data"]
        self.assertEqual(td["datasets"], [])
        self.assertEqual(td["feature_refs"], ["user:x"])
        self.assertEqual([i["execution_id"] for i in td["imports"]], [imp["id"]])
        self.assertFalse(any("training data" in w for w in p["missing"]), p["missing"])

    # -- partial graphs ----------------------------------------------------------------------
    def test_only_a_model(self):
        m = self.model("lonely", 1)
        p = self.provenance("lonely")
        self.assertFalse(p["complete"])
        self.assertEqual(p["model"]["artifact"]["id"], m["id"])
        self.assertEqual(p["training"], {"execution": None, "hyperparameters": None,
                                         "code_version": None})
        self.assertEqual(p["training_data"]["datasets"], [])
        self.assertEqual(p["training_data"]["imports"], [])
        self.assertEqual(p["metrics"], [])
        self.assertEqual(p["evaluations"], [])
        text = " | ".join(p["missing"])
        for words in ("training run", "training data", "training metrics", "evaluations"):
            self.assertIn(words, text)

    def test_model_and_train_without_data(self):
        m = self.model("half", 1)
        tr, _ = self.step("Train", "train-half", [], [m], model="half", version=1)
        p = self.provenance("half")
        self.assertFalse(p["complete"])
        self.assertEqual(p["training"]["execution"]["id"], tr["id"])
        self.assertIsNone(p["training"]["hyperparameters"])
        self.assertIsNone(p["training"]["code_version"])
        text = " | ".join(p["missing"])
        self.assertIn("hyperparameters", text)
        self.assertIn("code version", text)
        self.assertIn(f"Train execution {tr['id']} \"train-half\" read no Dataset", text)
        self.assertIn("training metrics", text)
        self.assertIn("evaluations", text)
        self.assertNotIn("training run (", text)

    def test_fills_in_as_the_pipeline_lands(self):
        """Each step recorded removes its line from "missing"."""
        m = self.model("grow", 1)
        ds = self.artifact("Dataset", "grow-ds")
        tr, _ = self.step("Train", "tr", [ds], [m], hyperparameters=HYPER, code_version=CODE)
        p = self.provenance("grow")
        text = " | ".join(p["missing"])
        self.assertIn(f"export of dataset {ds['id']} \"grow-ds\"", text)
        self.assertIn("feature refs of dataset", text)
        self.assertIsNone(p["training_data"]["datasets"][0]["export_execution"])
        # The export lands (reading a feature set nobody imported into yet).
        fs = self.feature_set("user", ["x"], "none")
        self.step("Export", "ex", [fs], [ds], feature_refs=["user:x"])
        p = self.provenance("grow")
        text = " | ".join(p["missing"])
        self.assertNotIn("export of dataset", text)
        self.assertIn("upstream imports", text)
        # An import without a source file is listed, and the source is named missing.
        imp = self.execution("Import", "imp-nosrc", properties={"entity": "user"})
        self.event(fs, imp, "OUTPUT")
        p = self.provenance("grow")
        # The import was recorded after the export: it is not upstream of the dataset.
        self.assertEqual(p["training_data"]["imports"], [])
        # Metrics and an evaluation land: only the upstream imports remain missing.
        mt = self.artifact("Metrics", properties={"split": "train", "metrics": {"auc": 0.5}})
        self.event(mt, tr, "OUTPUT")
        self.step("Evaluate", "ev", [m], [], evaluation_id="e")
        p = self.provenance("grow")
        self.assertEqual(len(p["missing"]), 1, p["missing"])
        self.assertIn("upstream imports", p["missing"][0])

    def test_import_without_source_is_named(self):
        fs = self.feature_set("user", ["x"], "j")
        imp = self.execution("Import", "imp-nosrc", properties={"entity": "user"})
        self.event(fs, imp, "OUTPUT")
        ds = self.artifact("Dataset", "d")
        self.step("Export", "ex", [fs], [ds], feature_refs=["user:x"])
        m = self.model("nosrc", 1)
        self.step("Train", "tr", [ds], [m], hyperparameters=HYPER, code_version=CODE)
        p = self.provenance("nosrc")
        imps = p["training_data"]["imports"]
        self.assertEqual([i["execution_id"] for i in imps], [imp["id"]])
        self.assertIsNone(imps[0]["source"])
        self.assertIn(f"source file of import execution {imp['id']} \"imp-nosrc\"",
                      " | ".join(p["missing"]))

    # -- versions -----------------------------------------------------------------------------
    def test_versions(self):
        g = self.pipeline("credit", 1)
        m2 = self.model("credit", 2)
        m10 = self.model("credit", 10)
        # Not versions of "credit": another model sharing the prefix, and odd suffixes.
        self.model("credit_x", 1)
        self.artifact("Model", "credit@01")
        self.artifact("Model", "credit@beta")
        p = self.provenance("credit")
        self.assertEqual(p["model"]["version"], 10)  # numeric, not byte order
        self.assertEqual(p["model"]["versions"], [1, 2, 10])
        self.assertEqual(p["model"]["artifact"]["id"], m10["id"])
        self.assertFalse(p["complete"])
        p = self.provenance("credit", "?version=2")
        self.assertEqual(p["model"]["artifact"]["id"], m2["id"])
        p = self.provenance("credit", "?version=1")
        self.assertEqual(p["model"]["artifact"]["id"], g["model"]["id"])
        self.assertTrue(p["complete"], p["missing"])
        # An empty version is "the newest".
        self.assertEqual(self.provenance("credit", "?version=")["model"]["version"], 10)
        self.assertError(self.call("GET", "/v1/models/credit/provenance?version=3"), 404,
                         "NOT_FOUND", "credit", "no version 3", "[1,2,10]")
        self.assertEqual(self.provenance("credit_x")["model"]["versions"], [1])

    # -- errors ----------------------------------------------------------------------------------
    def test_unknown_model_is_404(self):
        self.assertError(self.call("GET", "/v1/models/nope/provenance"), 404, "NOT_FOUND",
                         "model \"nope\" not found")
        # A Model artifact that does not follow the naming rule is no version of anything.
        self.artifact("Model", "plain")
        self.assertError(self.call("GET", "/v1/models/plain/provenance"), 404, "NOT_FOUND")
        self.assertError(self.call("GET", "/v1/models/nope/provenance?version=1"), 404,
                         "NOT_FOUND")

    def test_bad_arguments_are_400(self):
        self.model("credit", 1)
        for v in ("abc", "0", "-1", "1.5", "+1", "99999999999999999999", "1%20"):
            self.assertError(self.call("GET", f"/v1/models/credit/provenance?version={v}"), 400,
                             "INVALID_ARGUMENT", "version")
        for name in ("Credit", "credit@1", "9lives", "a-b", "x" * 65, "café"):
            self.assertError(self.call("GET", f"/v1/models/{quote(name)}/provenance"), 400,
                             "INVALID_ARGUMENT", "model name")
        # Wrong method on the route.
        s, _ = self.call("POST", "/v1/models/credit/provenance", {})
        self.assertEqual(s, 405)

    def test_survives_restart(self):
        self.pipeline("keep", 3)
        before = self.provenance("keep")
        self.d.restart()
        self.assertEqual(self.provenance("keep"), before)


if __name__ == "__main__":
    unittest.main()
