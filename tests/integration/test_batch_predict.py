"""Batch prediction (POST /v1/predictions:batch): a job writing instance
columns + score (+ predicted_label) under --export-dir; scores equal the online
POST /v1/models/{name}:predict ones for the same ids at "now" (skew-free);
the request's errors."""
import csv
import io
import json
import math
import os
import random
import time
import unittest

import harness

TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")
T0 = "2024-03-01T12:00:00Z"
T1 = "2024-03-02T12:00:00Z"


class BatchPredictTest(harness.DaemonTest):
    def setUp(self):
        super().setUp()
        self.exports = os.path.join(self.d.data_dir, "exports")
        self.assertEqual(self.call("POST", "/v1/entities", {"name": "applicant"})[0], 201)
        s, doc = self.call("POST", "/v1/entities/applicant/features", {"features": [
            {"name": "income", "type": "DOUBLE"},
            {"name": "age", "type": "INT64"},
            {"name": "city", "type": "STRING"}]})
        self.assertEqual(s, 201, doc)
        rnd = random.Random(11)
        rows, lines = [], ["applicant_id,ts,label,target"]
        for i in range(160):
            inc = rnd.gauss(50, 10)
            age = rnd.randint(20, 70)
            city = rnd.choice(["paris", "rome", "oslo"])
            z = 0.15 * (inc - 50) - 0.05 * (age - 45) + (0.8 if city == "oslo" else 0)
            label = "good" if rnd.random() < 1 / (1 + math.exp(-z)) else "bad"
            vals = {"income": inc, "age": age, "city": city}
            if i % 13 == 0:
                del vals["income"]
            rows.append({"entity_id": "a%d" % i, "event_time": T0, "values": vals})
            lines.append("a%d,%s,%s,%.6f" % (i, T1, label, 2 * inc - age))
        s, doc = self.call("POST", "/v1/entities/applicant:write", {"rows": rows})
        self.assertEqual(s, 200, doc)
        self.csv = "\n".join(lines) + "\n"

    def wait(self, job_id, timeout=60):
        end = time.time() + harness.scaled(timeout)
        while time.time() < end:
            s, doc = self.call("GET", "/v1/jobs/" + job_id)
            self.assertEqual(s, 200, doc)
            if doc["job"]["state"] in TERMINAL:
                return doc["job"]
            time.sleep(0.05)
        self.fail("job %s did not finish" % job_id)

    def train(self, model="credit", task="binary_classification", label="label"):
        spec = {"model": model, "task": task,
                "instances": {"inline": self.csv, "format": "csv"},
                "timestamp_column": "ts", "label_column": label,
                "features": ["applicant:income", "applicant:age", "applicant:city"],
                "hyperparameters": {"l2": 1.0, "max_iterations": 200}}
        s, doc = self.call("POST", "/v1/trainings", spec)
        self.assertEqual(s, 202, doc)
        job = self.wait(doc["job"]["id"])
        self.assertEqual(job["state"], "SUCCEEDED", job)

    def batch(self, **kw):
        s, doc = self.call("POST", "/v1/predictions:batch", kw)
        self.assertEqual(s, 202, doc)
        self.assertEqual(doc["job"]["kind"], "batch_prediction")
        return self.wait(doc["job"]["id"])

    def instances_now(self, ids):
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
        return "applicant_id,ts,note\n" + "".join(
            "%s,%s,n%d\n" % (i, now, k) for k, i in enumerate(ids))

    def test_batch_equals_online(self):
        self.train()
        ids = ["a%d" % i for i in range(0, 160, 3)] + ["nobody", "a13"]
        job = self.batch(model="credit", instances={"inline": self.instances_now(ids),
                                                    "format": "csv"},
                         timestamp_column="ts", format="csv",
                         destination={"path": "preds.csv"})
        self.assertEqual(job["state"], "SUCCEEDED", job)
        res = job["result"]
        self.assertEqual((res["model"], res["version"], res["rows"]), ("credit", 1, len(ids)))
        self.assertEqual(res["columns"],
                         ["applicant_id", "ts", "note", "score", "predicted_label"])
        with open(os.path.join(self.exports, "preds.csv")) as f:
            got = list(csv.DictReader(f))
        self.assertEqual([r["applicant_id"] for r in got], ids)
        self.assertEqual([r["note"] for r in got], ["n%d" % k for k in range(len(ids))])
        s, doc = self.call("POST", "/v1/models/credit:predict", {"ids": ids})
        self.assertEqual(s, 200, doc)
        for r, p in zip(got, doc["predictions"]):
            self.assertEqual(float(r["score"]), p["score"], (r, p))  # bit-identical
            self.assertEqual(r["predicted_label"], p["predicted_label"])
        # no temporary file left beside it
        self.assertEqual([n for n in os.listdir(self.exports) if "strata-tmp" in n], [])

        # JSONL, by alias, regression: score only
        self.assertEqual(self.call("PUT", "/v1/models/credit/aliases/champion",
                                   {"version": 1})[0], 200)
        job = self.batch(model="credit", alias="champion",
                         instances={"inline": self.instances_now(ids[:5]), "format": "csv"},
                         timestamp_column="ts", destination={"path": "preds.jsonl"})
        self.assertEqual(job["state"], "SUCCEEDED", job)
        with open(os.path.join(self.exports, "preds.jsonl")) as f:
            objs = [json.loads(l) for l in f]
        self.assertEqual([o["score"] for o in objs],
                         [p["score"] for p in doc["predictions"][:5]])
        self.train(model="price", task="regression", label="target")
        job = self.batch(model="price", version=1,
                         instances={"inline": self.instances_now(ids[:4]), "format": "csv"},
                         timestamp_column="ts", format="jsonl",
                         destination={"path": "price.jsonl"})
        self.assertEqual(job["state"], "SUCCEEDED", job)
        with open(os.path.join(self.exports, "price.jsonl")) as f:
            objs = [json.loads(l) for l in f]
        s, doc = self.call("POST", "/v1/models/price:predict", {"ids": ids[:4]})
        self.assertEqual([o["score"] for o in objs], [p["score"] for p in doc["predictions"]])
        self.assertNotIn("predicted_label", objs[0])

    def test_errors(self):
        self.train()
        inst = {"inline": self.instances_now(["a1"]), "format": "csv"}
        ok = {"model": "credit", "instances": inst, "timestamp_column": "ts",
              "destination": {"path": "o.csv"}}
        post = lambda b: self.call("POST", "/v1/predictions:batch", b)
        self.assertError(post(dict(ok, model="nomodel")), 404, "NOT_FOUND", "nomodel")
        self.assertError(post(dict(ok, version=9)), 404, "NOT_FOUND")
        self.assertError(post(dict(ok, alias="nosuch")), 404, "NOT_FOUND")
        self.assertError(post(dict(ok, version=1, alias="x")), 400, "INVALID_ARGUMENT")
        self.assertError(post(dict(ok, version="1")), 400, "INVALID_ARGUMENT", "version")
        self.assertError(post(dict(ok, bogus=1)), 400, "INVALID_ARGUMENT", "bogus")
        self.assertError(post(dict(ok, format="tfrecord")), 400, "INVALID_ARGUMENT", "format")
        self.assertError(post({k: v for k, v in ok.items() if k != "destination"}), 400,
                         "INVALID_ARGUMENT", "destination")
        self.assertError(post({k: v for k, v in ok.items() if k != "model"}), 400,
                         "INVALID_ARGUMENT", "model")
        self.assertError(post(dict(ok, timestamp_column="nots")), 400, "INVALID_ARGUMENT")
        self.assertError(post(dict(ok, destination={"path": "/etc/o.csv"})), 403,
                         "PERMISSION_DENIED")
        self.assertError(post(dict(ok, destination={"path": "../o.csv"})), 403,
                         "PERMISSION_DENIED")
        # an existing destination is kept unless overwrite is set
        job = self.batch(**ok)
        self.assertEqual(job["state"], "SUCCEEDED", job)
        self.assertError(post(ok), 409, "ALREADY_EXISTS")
        job = self.batch(**dict(ok, destination={"path": "o.csv", "overwrite": True}))
        self.assertEqual(job["state"], "SUCCEEDED", job)
        # a column clashing with the output fails the job, leaving no file
        clash = {"inline": "applicant_id,ts,score\na1,2030-01-01T00:00:00Z,3\n",
                 "format": "csv"}
        job = self.batch(**dict(ok, instances=clash, destination={"path": "c.csv"}))
        self.assertEqual(job["state"], "FAILED", job)
        self.assertFalse(os.path.exists(os.path.join(self.exports, "c.csv")))


if __name__ == "__main__":
    unittest.main()
