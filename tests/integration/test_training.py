"""Training, the model registry and online prediction end to end
(POST /v1/trainings, GET /v1/models[/{name}], PUT …/aliases/{alias},
POST /v1/models/{name}:predict, provenance of a trained model, the CLI)."""
import json
import math
import os
import random
import subprocess
import time
import unittest

import harness

TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")
T0 = "2024-03-01T12:00:00Z"
T1 = "2024-03-02T12:00:00Z"


class TrainingTest(harness.DaemonTest):
    def setUp(self):
        super().setUp()
        self.assertEqual(self.call("POST", "/v1/entities", {"name": "applicant"})[0], 201)
        s, doc = self.call("POST", "/v1/entities/applicant/features", {"features": [
            {"name": "income", "type": "DOUBLE"},
            {"name": "age", "type": "INT64"},
            {"name": "city", "type": "STRING"}]})
        self.assertEqual(s, 201, doc)
        rnd = random.Random(7)
        rows, lines = [], ["applicant_id,ts,label,target"]
        self.values = {}
        for i in range(200):
            inc = rnd.gauss(50, 10)
            age = rnd.randint(20, 70)
            city = rnd.choice(["paris", "rome", "oslo"])
            z = 0.15 * (inc - 50) - 0.05 * (age - 45) + (0.8 if city == "oslo" else 0)
            label = "good" if rnd.random() < 1 / (1 + math.exp(-z)) else "bad"
            vals = {"income": inc, "age": age, "city": city}
            if i % 17 == 0:
                del vals["income"]  # missing values
            self.values["a%d" % i] = vals
            rows.append({"entity_id": "a%d" % i, "event_time": T0, "values": vals})
            lines.append("a%d,%s,%s,%.6f" % (i, T1, label, 2 * inc - age))
        s, doc = self.call("POST", "/v1/entities/applicant:write", {"rows": rows})
        self.assertEqual(s, 200, doc)
        self.csv = "\n".join(lines) + "\n"

    def spec(self, **kw):
        s = {"model": "credit", "task": "binary_classification",
             "algorithm": "logistic_regression",
             "instances": {"inline": self.csv, "format": "csv"},
             "timestamp_column": "ts", "label_column": "label",
             "features": ["applicant:income", "applicant:age", "applicant:city"],
             "split": {"method": "hash", "eval_fraction": 0.25},
             "hyperparameters": {"l2": 1.0, "max_iterations": 200}}
        s.update(kw)
        return s

    def wait(self, job_id, timeout=60):
        end = time.time() + harness.scaled(timeout)
        while time.time() < end:
            s, doc = self.call("GET", "/v1/jobs/" + job_id)
            self.assertEqual(s, 200, doc)
            if doc["job"]["state"] in TERMINAL:
                return doc["job"]
            time.sleep(0.05)
        self.fail("job %s did not finish" % job_id)

    def train(self, **kw):
        s, doc = self.call("POST", "/v1/trainings", self.spec(**kw))
        self.assertEqual(s, 202, doc)
        return self.wait(doc["job"]["id"])

    def reference_score(self, model, vals):
        """The stored preprocessing and coefficients applied in Python."""
        prep = model["preprocessing"]
        coef = model["coefficients"]
        x = []
        for c in prep["columns"]:
            name = c["name"]
            feat = name.split("__", 1)[1]
            v = vals.get(feat)
            x.extend(apply_column(c, v))
        w = coef_vector(coef)
        b = coef_intercept(coef)
        self.assertEqual(len(w), len(x), (prep, coef))
        z = sum(wi * xi for wi, xi in zip(w, x)) + b
        return 1 / (1 + math.exp(-z))

    def test_train_predict_registry_provenance(self):
        job = self.train()
        self.assertEqual(job["state"], "SUCCEEDED", job.get("error"))
        r = job["result"]
        self.assertEqual((r["model"], r["version"]), ("credit", 1))
        for m in ("roc_auc", "log_loss", "accuracy"):
            self.assertIn(m, r["train_metrics"])
            self.assertIn(m, r["eval_metrics"])
        self.assertGreater(r["train_metrics"]["roc_auc"], 0.6)
        self.assertIsNone(r["evaluation_id"])
        self.assertIsInstance(r["execution_id"], int)
        self.assertEqual(job["execution_id"], r["execution_id"])
        # hash split: deterministic on the entity id
        job2 = self.train()
        self.assertEqual(job2["result"]["version"], 2)
        self.assertEqual(job2["result"]["train_rows"], r["train_rows"])
        self.assertEqual(job2["result"]["eval_metrics"], r["eval_metrics"])
        # registry
        s, doc = self.call("GET", "/v1/models")
        self.assertEqual(s, 200, doc)
        self.assertEqual([m["name"] for m in doc["models"]], ["credit"])
        self.assertEqual(doc["models"][0]["latest_version"], 2)
        self.assertEqual(doc["next_page_token"], "")
        # Pages, as every list: by name, a token to resume after the last one.
        self.assertEqual(self.train(model="credit_b")["state"], "SUCCEEDED")
        s, doc = self.call("GET", "/v1/models?page_size=1")
        self.assertEqual(([m["name"] for m in doc["models"]], s), (["credit"], 200))
        s, doc = self.call("GET", "/v1/models?page_size=1&page_token=" + doc["next_page_token"])
        self.assertEqual([m["name"] for m in doc["models"]], ["credit_b"])
        self.assertEqual(doc["next_page_token"], "")
        for bad in ("page_size=0", "page_size=1001", "page_token=zzz"):
            self.assertError(self.call("GET", "/v1/models?" + bad), 400, "INVALID_ARGUMENT")
        s, doc = self.call("PUT", "/v1/models/credit/aliases/champion", {"version": 1})
        self.assertEqual(s, 200, doc)
        self.assertError(self.call("PUT", "/v1/models/credit/aliases/champion", {"version": 9}),
                         404, "NOT_FOUND", "no version 9")
        # Versions are 32-bit in keys: 2^32 + 1 is no version, not version 1.
        big = 2 ** 32 + 1
        self.assertError(self.call("PUT", "/v1/models/credit/aliases/big", {"version": big}),
                         404, "NOT_FOUND", str(big))
        self.assertError(self.call("GET", f"/v1/models/credit/versions/{big}"), 404, "NOT_FOUND")
        self.assertError(self.call("POST", f"/v1/models/credit:predict?version={big}",
                                   {"ids": ["a1"]}), 404, "NOT_FOUND")
        self.assertError(self.call("POST", "/v1/models/credit:predict",
                                   {"ids": ["a1"] * 100001}), 413, "RESOURCE_EXHAUSTED")
        s, doc = self.call("GET", "/v1/models/credit")
        self.assertEqual(s, 200, doc)
        m = doc["model"]
        self.assertEqual([v["version"] for v in m["versions"]], [1, 2])
        self.assertEqual(m["aliases"], {"champion": 1})
        self.assertEqual(m["versions"][0]["aliases"], ["champion"])
        self.assertIn("roc_auc", m["versions"][0]["eval_metrics"])
        self.assertTrue(m["versions"][0]["create_time"])
        # predict: request order, equal to the stored model applied in Python
        ids = ["a5", "a0", "a17", "nobody", "a3"]
        s, doc = self.call("POST", "/v1/models/credit:predict?alias=champion", {"ids": ids})
        self.assertEqual(s, 200, doc)
        preds = doc["predictions"]
        self.assertEqual([p["entity_id"] for p in preds], ids)
        stored = self.stored_model()
        for p in preds:
            ref = self.reference_score(stored, self.values.get(p["entity_id"], {}))
            self.assertAlmostEqual(p["score"], ref, places=12)
            self.assertEqual(p["predicted_label"], "good" if p["score"] >= 0.5 else "bad")
            # What was imputed, by name: a0 and a17 have no income, nobody has nothing.
            want = [f for f in self.spec()["features"]
                    if f.split(":")[1] not in self.values.get(p["entity_id"], {})]
            self.assertEqual(p["missing_features"], want, p)
        self.assertEqual([len(p["missing_features"]) for p in preds], [0, 1, 1, 3, 0])
        s, doc2 = self.call("POST", "/v1/models/credit:predict?version=1", {"ids": ids})
        self.assertEqual(doc2["predictions"], preds)
        self.assertError(self.call("POST", "/v1/models/nomodel:predict", {"ids": ["a1"]}),
                         404, "NOT_FOUND", "nomodel")
        self.assertError(self.call("POST", "/v1/models/credit:predict?version=7", {"ids": ["a1"]}),
                         404, "NOT_FOUND", "no version 7")
        # provenance
        s, doc = self.call("GET", "/v1/models/credit/provenance?version=1")
        self.assertEqual(s, 200, doc)
        pv = doc["provenance"]
        self.assertEqual(pv["model"]["versions"], [1, 2])
        self.assertIsNotNone(pv["training"]["execution"])
        self.assertEqual(pv["training"]["hyperparameters"], {"l2": 1.0, "max_iterations": 200})
        self.assertTrue(pv["training"]["code_version"])
        self.assertEqual(pv["training_data"]["feature_refs"], self.spec()["features"])
        self.assertEqual(len(pv["training_data"]["datasets"]), 1)
        dset = pv["training_data"]["datasets"][0]
        self.assertIsNotNone(dset["export_execution"])
        self.assertEqual(len(dset["artifact"]["properties"]["sha256"]), 64)
        self.assertEqual(sorted(m["split"] for m in pv["metrics"]), ["eval", "train"])
        for part in pv["missing"]:
            self.assertFalse(part.startswith(("training run", "hyperparameters", "code version",
                                              "training data", "training metrics")), pv["missing"])

    def stored_model(self, version=1):
        """The registry record: preprocessing and coefficients as stored."""
        s, doc = self.call("GET", "/v1/models/credit/versions/%d" % version)
        self.assertEqual(s, 200, doc)
        return doc["model"]

    def test_errors(self):
        self.assertError(self.call("POST", "/v1/trainings",
                                   self.spec(features=["applicant:nope"])),
                         404, "NOT_FOUND", "nope")
        self.assertError(self.call("POST", "/v1/trainings", self.spec(task="clustering")),
                         400, "INVALID_ARGUMENT", "task")
        self.assertError(self.call("POST", "/v1/trainings", self.spec(model="Bad")),
                         400, "INVALID_ARGUMENT", "model name")
        self.assertError(self.call("POST", "/v1/trainings",
                                   self.spec(hyperparameters={"l3": 1})),
                         400, "INVALID_ARGUMENT", "l3")
        self.assertError(self.call("POST", "/v1/trainings",
                                   self.spec(split={"method": "time"})),
                         400, "INVALID_ARGUMENT", "split_time")
        # Found out at submission, not by a job that fails later.
        self.assertError(self.call("POST", "/v1/trainings", self.spec(label_column="nosuch")),
                         400, "INVALID_ARGUMENT", "label_column \"nosuch\"")
        self.assertError(self.call("POST", "/v1/trainings",
                                   self.spec(as_of="2999-01-01T00:00:00Z")),
                         400, "INVALID_ARGUMENT", "future")
        spec = self.spec()
        del spec["label_column"]
        self.assertError(self.call("POST", "/v1/trainings", spec), 400, "INVALID_ARGUMENT",
                         "label_column")
        one = "applicant_id,ts,label\n" + "".join("a%d,%s,good\n" % (i, T1) for i in range(20))
        job = self.train(instances={"inline": one, "format": "csv"})
        self.assertEqual(job["state"], "FAILED", job)
        self.assertIn("single class", job["error"]["message"])
        self.assertError(self.call("GET", "/v1/models/credit"), 404, "NOT_FOUND", "credit")

    def test_tuning_grid_in_study(self):
        grid = [0.001, 1.0, 1000.0]
        job = self.train(tuning={"parameters": {"l2": grid}, "metric": "auc"})
        self.assertEqual(job["state"], "SUCCEEDED", job.get("error"))
        res = job["result"]
        tun = res["tuning"]
        self.assertEqual(tun["metric"], "roc_auc")
        self.assertEqual([t["params"] for t in tun["trials"]], [{"l2": v} for v in grid])
        aucs = [t["metric"] for t in tun["trials"]]
        best = max(range(3), key=lambda i: (aucs[i], -i))  # ties: the earlier trial
        self.assertEqual(tun["best"]["trial"], best)
        self.assertEqual(tun["best"]["params"], {"l2": grid[best]})
        self.assertEqual(tun["hyperparameters"]["l2"], grid[best])
        # the registered version is the best trial's model: its eval AUC is the trial's
        self.assertAlmostEqual(res["eval_metrics"]["roc_auc"], aucs[best], places=12)
        # 3 trial executions + the final Train, all in the Study context "credit"
        s, doc = self.call("GET", "/v1/executions/%d/contexts" % res["execution_id"])
        self.assertEqual(s, 200, doc)
        ctxs = [c for c in doc["contexts"] if c["type"] == "Study"]
        self.assertEqual([c["name"] for c in ctxs], ["credit"], doc)
        s, doc = self.call("GET", "/v1/contexts/%d/executions" % ctxs[0]["id"])
        self.assertEqual(s, 200, doc)
        ex = doc["executions"]
        self.assertEqual(len(ex), 4, ex)
        self.assertTrue(all(e["type"] == "Train" for e in ex), ex)
        ids = sorted(e["id"] for e in ex)
        self.assertEqual(ids, sorted([t["execution_id"] for t in tun["trials"]] +
                                     [res["execution_id"]]))
        by_id = {e["id"]: e for e in ex}
        for t in tun["trials"]:
            e = by_id[t["execution_id"]]
            self.assertEqual(e["properties"]["hyperparameters"]["l2"], t["params"]["l2"], e)
            self.assertAlmostEqual(e["custom_properties"]["metric_value"], t["metric"],
                                   places=12)
        final = by_id[res["execution_id"]]
        self.assertEqual(final["properties"]["hyperparameters"]["l2"], grid[best])
        # bad tuning specs are refused before any job
        for bad, word in [({"parameters": {"learning_rate": [0.1]}}, "learning_rate"),
                          ({"parameters": {"l2": {"min": 0, "max": 1, "scale": "log"}}},
                           "log"),
                          ({"parameters": {"l2": [1]}, "metric": "rmse"}, "rmse"),
                          ({"parameters": {"l2": [1]}, "trials": 0}, "trials"),
                          ({"parameters": {}}, "parameters")]:
            self.assertError(self.call("POST", "/v1/trainings", self.spec(tuning=bad)),
                             400, "INVALID_ARGUMENT", word)

    def test_regression_and_multiclass(self):
        job = self.train(model="price", task="regression", algorithm="linear_regression",
                         label_column="target", split={"method": "random", "seed": 3,
                                                       "eval_fraction": 0.2})
        self.assertEqual(job["state"], "SUCCEEDED", job.get("error"))
        self.assertGreater(job["result"]["train_metrics"]["r2"], 0.9)
        s, doc = self.call("POST", "/v1/models/price:predict", {"ids": ["a1"]})
        self.assertEqual(s, 200, doc)
        self.assertNotIn("predicted_label", doc["predictions"][0])
        v = self.values["a1"]
        self.assertAlmostEqual(doc["predictions"][0]["score"], 2 * v["income"] - v["age"],
                               delta=1.0)

    def cli(self, *args):
        cmd = [os.environ.get("STRATA_CLI", "strata"), "--url", "http://127.0.0.1:%d" % self.d.port] + list(args)
        return subprocess.run(cmd, capture_output=True, text=True,
                              timeout=harness.scaled(120))

    def test_cli(self):
        path = os.path.join(self.d.tmp, "spec.json")
        with open(path, "w") as f:
            json.dump(self.spec(), f)
        r = self.cli("train", path, "--wait")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("model: credit version 1", r.stdout)
        self.assertIn("roc_auc", r.stdout)
        self.assertIn("iteration", r.stderr)
        self.assertIn("loss", r.stderr)
        r = self.cli("models", "alias", "credit", "champion", "1")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.cli("models", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("credit", r.stdout)
        self.assertIn("champion", r.stdout)
        r = self.cli("--json", "models", "show", "credit")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["model"]["aliases"], {"champion": 1})
        r = self.cli("--json", "predict", "credit", "a1", "a2", "--alias", "champion")
        self.assertEqual(r.returncode, 0, r.stderr)
        preds = json.loads(r.stdout)["predictions"]
        self.assertEqual([p["entity_id"] for p in preds], ["a1", "a2"])
        r = self.cli("predict", "credit", "a1", "a17")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("a1", r.stdout)
        self.assertIn("MISSING_FEATURES", r.stdout)
        self.assertIn("applicant:income", r.stdout)  # a17 has none
        r = self.cli("predict", "nomodel", "a1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("not found", r.stderr)
        bad = dict(self.spec(), features=["applicant:nope"])
        with open(path, "w") as f:
            json.dump(bad, f)
        r = self.cli("train", path, "--wait")
        self.assertEqual(r.returncode, 1)
        self.assertIn("nope", r.stderr)


def apply_column(c, v):
    """prep_transform for one column, from its saved form (docs/trainer.md)."""
    out = []
    if c["kind"] == "numeric":
        miss = v is None
        out.append(0.0 if miss and c.get("scale") else
                   ((c["mean"] if miss else v) - c["mean"]) / c["scale"])
        if c.get("indicator"):
            out.append(1.0 if miss else 0.0)
    elif c["kind"] == "categorical":
        cats = c["categories"]
        out.extend(1.0 if v == k else 0.0 for k in cats)
        out.append(1.0 if v is not None and v not in cats else 0.0)
        if c.get("indicator"):
            out.append(1.0 if v is None else 0.0)
    elif c["kind"] == "multi_hot":
        bag = set(v or [])  # NULL: an empty bag; tokens outside the vocabulary are ignored
        out.extend(1.0 if k in bag else 0.0 for k in c["categories"])
        if c.get("indicator"):
            out.append(1.0 if v is None else 0.0)
    else:
        raise AssertionError("numeric arrays are not in these tests")
    return out


def coef_vector(coef):
    return coef["coef"]


def coef_intercept(coef):
    b = coef["intercept"]
    return b[0] if isinstance(b, list) else b


if __name__ == "__main__":
    unittest.main()
