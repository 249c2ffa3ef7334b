"""Training on a label feature and on STRING_ARRAY features, through the real daemon:
label_column as an entity:feature ref read point in time (POST /v1/trainings and
POST /v1/evaluations), STRING_ARRAY features as multi-hot bags of tokens (training, the
saved preprocessing, online prediction == the stored model applied in Python == batch
prediction)."""
import csv
import math
import os
import random
import time
import unittest

import harness
import test_training as tt

T0 = "2024-03-01T12:00:00Z"
T1 = "2024-03-02T12:00:00Z"  # the instances' time
T2 = "2024-03-03T12:00:00Z"  # outcome rewritten: must not be seen at T1
T3 = "2024-03-04T12:00:00Z"
POOL = [("red", 0.6), ("blue", 0.45), ("green", 0.3), ("gold", 0.15), ("onyx", 0.05)]
N = 240


class TrainingFeaturesTest(harness.DaemonTest):
    def setUp(self):
        super().setUp()
        self.assertEqual(self.call("POST", "/v1/entities", {"name": "customer"})[0], 201)
        s, doc = self.call("POST", "/v1/entities/customer/features", {"features": [
            {"name": "income", "type": "DOUBLE"},
            {"name": "tags", "type": "STRING_ARRAY"},
            {"name": "outcome", "type": "STRING"},
            {"name": "spend", "type": "DOUBLE"},
            {"name": "codes", "type": "INT64_ARRAY"}]})
        self.assertEqual(s, 201, doc)
        rnd = random.Random(3)
        rows, later = [], []
        lines = ["customer_id,ts,label,target"]
        self.values = {}
        self.outcome = {}
        for i in range(N):
            cid = "c%d" % i
            inc = rnd.gauss(50, 10)
            tags = [t for t, p in POOL if rnd.random() < p]
            if i % 7 == 0:
                tags.append(tags[0] if tags else "red")  # a repeated token counts once
            z = 0.12 * (inc - 50) + (1.0 if "red" in tags else -0.3) + \
                (0.8 if "gold" in tags else 0)
            label = "good" if rnd.random() < 1 / (1 + math.exp(-z)) else "bad"
            spend = round(3 * inc + 10 * len(set(tags)) + rnd.gauss(0, 1), 3)
            vals = {"income": inc, "outcome": label, "spend": spend}
            if i % 11 == 0:
                pass  # no tags at all: missing
            else:
                vals["tags"] = tags  # may be [] (an empty bag)
            self.values[cid] = vals
            self.outcome[cid] = label
            rows.append({"entity_id": cid, "event_time": T0, "values": vals})
            later.append({"entity_id": cid, "event_time": T2,
                          "values": {"outcome": "paid" if label == "good" else "late"}})
            lines.append("%s,%s,%s,%.3f" % (cid, T1, label, spend))
        for batch in (rows, later):
            s, doc = self.call("POST", "/v1/entities/customer:write", {"rows": batch})
            self.assertEqual(s, 200, doc)
        self.csv = "\n".join(lines) + "\n"

    # -- helpers ---------------------------------------------------------------
    def spec(self, **kw):
        s = {"model": "churn", "task": "binary_classification",
             "instances": {"inline": self.csv, "format": "csv"},
             "timestamp_column": "ts", "label_column": "label",
             "features": ["customer:income", "customer:tags"],
             "split": {"method": "hash", "eval_fraction": 0.25},
             "hyperparameters": {"l2": 1.0, "max_iterations": 200}}
        s.update(kw)
        return s

    def train(self, state="SUCCEEDED", **kw):
        s, doc = self.call("POST", "/v1/trainings", self.spec(**kw))
        self.assertEqual(s, 202, doc)
        job = self.wait_job(doc["job"]["id"])
        self.assertEqual(job["state"], state, job.get("error"))
        return job

    def stored(self, name, version=1):
        s, doc = self.call("GET", "/v1/models/%s/versions/%d" % (name, version))
        self.assertEqual(s, 200, doc)
        return doc["model"]

    def evaluate(self, body):
        s, doc = self.call("POST", "/v1/evaluations", body)
        self.assertEqual(s, 202, doc)
        job = self.wait_job(doc["job"]["id"])
        self.assertEqual(job["state"], "SUCCEEDED", job.get("error"))
        s, doc = self.call("GET", "/v1/evaluations/" + job["result"]["evaluation_id"])
        self.assertEqual(s, 200, doc)
        return doc["evaluation"]

    # -- label from a feature ----------------------------------------------------
    def test_label_feature_point_in_time(self):
        by_col = self.train(model="bycol")["result"]
        by_ref = self.train(model="byref", label_column="customer:outcome")["result"]
        # the same rows, labels and split: the same data set and the same model
        self.assertEqual(by_ref["dataset_sha256"], by_col["dataset_sha256"])
        self.assertEqual((by_ref["train_rows"], by_ref["eval_rows"]),
                         (by_col["train_rows"], by_col["eval_rows"]))
        a, b = self.stored("bycol"), self.stored("byref")
        self.assertEqual(b["coefficients"], a["coefficients"])
        self.assertEqual(b["labels"], ["bad", "good"])
        self.assertEqual(b["label_column"], "customer:outcome")
        # read as of each row's time: after T2 the rewritten values are the labels
        later = self.csv.replace(T1, T3)
        r = self.train(model="later", label_column="customer:outcome",
                       instances={"inline": later, "format": "csv"})["result"]
        self.assertEqual(self.stored("later")["labels"], ["late", "paid"])
        self.assertEqual(r["train_rows"] + r["eval_rows"], N)
        # regression on a DOUBLE feature equals regression on the same numbers in a column
        reg = dict(task="regression", algorithm="linear_regression")
        self.train(model="spendcol", label_column="target", **reg)
        self.train(model="spendref", label_column="customer:spend", **reg)
        self.assertEqual(self.stored("spendref")["coefficients"],
                         self.stored("spendcol")["coefficients"])

        # evaluations read the label the same way: model source ...
        body = {"model": "bycol", "instances": {"inline": self.csv, "format": "csv"},
                "timestamp_column": "ts", "bootstrap": {"replicates": 0}}
        ev_col = self.evaluate(dict(body, label_column="label"))
        ev_ref = self.evaluate(dict(body, label_column="customer:outcome"))
        self.assertEqual(ev_ref["label_column"], "customer:outcome")
        self.assertEqual(ev_ref["overall"], ev_col["overall"])
        self.assertEqual(ev_ref["overall"]["n"], N)
        # ... and predictions made elsewhere, labelled from the store point in time
        rows = [{"customer_id": "c%d" % i, "ts": T1, "s": (i % 10) / 10} for i in range(60)]
        ev = self.evaluate({"predictions": {"inline": rows, "label_column": "customer:outcome",
                                            "score_column": "s"},
                            "timestamp_column": "ts", "bootstrap": {"replicates": 0}})
        self.assertEqual(ev["overall"]["n"], 60)
        pos = sum(self.outcome["c%d" % i] == "good" for i in range(60))
        c = ev["overall"]["confusion"]
        self.assertEqual(c["tp"] + c["fn"], pos)

    def test_label_feature_errors(self):
        post = lambda **kw: self.call("POST", "/v1/trainings", self.spec(**kw))
        self.assertError(post(label_column="customer:income"), 400, "INVALID_ARGUMENT",
                         "own label")
        self.assertError(post(label_column="customer:nope"), 404, "NOT_FOUND", "nope")
        self.assertError(post(label_column="customer:a:b"), 400, "INVALID_ARGUMENT",
                         "entity:feature")
        self.assertError(post(label_column="customer:codes"), 400, "INVALID_ARGUMENT",
                         "INT64_ARRAY", "one value")
        self.assertError(post(label_column="customer:outcome", task="regression",
                              algorithm="linear_regression"),
                         400, "INVALID_ARGUMENT", "regression needs a number")
        # a row whose entity has no label value fails the job, naming the row and the feature
        job = self.train(state="FAILED", label_column="customer:outcome",
                         instances={"inline": self.csv + "nobody,%s,good,1\n" % T1,
                                    "format": "csv"})
        self.assertIn("instance row %d has no label (feature customer:outcome)" % (N + 1),
                      job["error"]["message"])
        self.assertError(self.call("GET", "/v1/models/churn"), 404, "NOT_FOUND")
        # evaluations
        self.train()
        body = {"model": "churn", "instances": {"inline": self.csv, "format": "csv"},
                "timestamp_column": "ts"}
        self.assertError(self.call("POST", "/v1/evaluations",
                                   dict(body, label_column="x:y:z")),
                         400, "INVALID_ARGUMENT", "entity:feature")
        self.assertError(self.call("POST", "/v1/evaluations",
                                   dict(body, label_column="customer:nope")),
                         404, "NOT_FOUND", "nope")

    # -- STRING_ARRAY as multi-hot -------------------------------------------------
    def test_string_array_multi_hot(self):
        job = self.train(split={"method": "hash", "eval_fraction": 0.0},
                         preprocessing={"max_categories": 3})
        self.assertEqual(job["result"]["eval_rows"], 0)
        model = self.stored("churn")
        col = [c for c in model["preprocessing"]["columns"] if c["name"] == "customer__tags"]
        self.assertEqual(len(col), 1, model["preprocessing"])
        col = col[0]
        self.assertEqual(col["kind"], "multi_hot")
        self.assertTrue(col["indicator"])  # some customers have no tags
        # the vocabulary: the tokens in most rows (a row counts a token once), ties by bytes
        count = {}
        for v in self.values.values():
            for t in set(v.get("tags", [])):
                count[t] = count.get(t, 0) + 1
        want = sorted(count, key=lambda t: (-count[t], t.encode()))[:3]
        self.assertEqual(col["categories"], want)
        self.assertEqual([o for o in model["preprocessing"]["outputs"] if "tags" in o],
                         ["customer__tags=" + t for t in want] + ["customer__tags=__missing__"])
        # new customers: unseen tokens only, an empty bag, a known token among unseen ones
        extra = {"x1": {"income": 40.0, "tags": ["zzz", "yyy"]},
                 "x2": {"income": 55.0, "tags": []},
                 "x3": {"income": 61.5, "tags": ["qq", want[1], "qq"]}}
        s, doc = self.call("POST", "/v1/entities/customer:write", {"rows": [
            {"entity_id": k, "event_time": T0, "values": v} for k, v in extra.items()]})
        self.assertEqual(s, 200, doc)
        values = dict(self.values, **extra)
        ids = ["c0", "c1", "c7", "c11", "c22", "x1", "x2", "x3", "nobody"]
        s, doc = self.call("POST", "/v1/models/churn:predict", {"ids": ids})
        self.assertEqual(s, 200, doc)
        online = doc["predictions"]
        self.assertEqual([p["entity_id"] for p in online], ids)
        for p in online:
            ref = reference_score(self, model, values.get(p["entity_id"], {}))
            self.assertAlmostEqual(p["score"], ref, places=12)
        # an empty bag and an all-unseen bag are the same row: all token columns 0
        self.assertEqual(online[5]["score"], reference_score(
            self, model, {"income": 40.0, "tags": []}))
        # batch prediction: bit-identical to online for the same ids
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
        inst = "customer_id,ts\n" + "".join("%s,%s\n" % (i, now) for i in ids)
        s, doc = self.call("POST", "/v1/predictions:batch", {
            "model": "churn", "instances": {"inline": inst, "format": "csv"},
            "timestamp_column": "ts", "destination": {"path": "tags.csv"}})
        self.assertEqual(s, 202, doc)
        job = self.wait_job(doc["job"]["id"])
        self.assertEqual(job["state"], "SUCCEEDED", job.get("error"))
        with open(os.path.join(self.d.data_dir, "exports", "tags.csv")) as f:
            got = list(csv.DictReader(f))
        self.assertEqual([r["customer_id"] for r in got], ids)
        for r, p in zip(got, online):
            self.assertEqual(float(r["score"]), p["score"], (r, p))
            self.assertEqual(r["predicted_label"], p["predicted_label"])
        # the tags carry signal: red and gold raise the odds
        w = dict(zip(model["preprocessing"]["outputs"], model["coefficients"]["coef"]))
        self.assertGreater(w["customer__tags=red"], 0)


def reference_score(test, model, vals):
    """The stored preprocessing and coefficients applied in Python (docs/trainer.md)."""
    x = []
    for c in model["preprocessing"]["columns"]:
        x.extend(tt.apply_column(c, vals.get(c["name"].split("__", 1)[1])))
    w = tt.coef_vector(model["coefficients"])
    test.assertEqual(len(w), len(x))
    z = sum(wi * xi for wi, xi in zip(w, x)) + tt.coef_intercept(model["coefficients"])
    return 1 / (1 + math.exp(-z))


if __name__ == "__main__":
    unittest.main()
