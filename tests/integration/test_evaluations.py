"""Evaluation and fairness through the real daemon (POST /v1/evaluations,
GET /v1/evaluations[/{id}[/report.html]], the training request's "fairness"
block, lineage and provenance, `strata evaluate`).

Numbers are checked end to end against an independent computation
(scikit-learn / numpy on the same rows): the service must feed eval_compute
the right rows (labels, scores, groups read point in time); the metric
definitions themselves are the evaluator's unit tests.
"""
import csv
import json
import math
import os
import random
import shutil
import subprocess
import tempfile
import time
import unittest

import harness

try:
    import numpy as np
    from sklearn import metrics as skm
except ImportError:  # pragma: no cover - /usr/bin/python3 has them
    np = skm = None

TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")
T0 = "2024-03-01T12:00:00Z"
T1 = "2024-03-02T12:00:00Z"
T2 = "2024-03-03T12:00:00Z"
STRATA_CLI = harness.STRATA_CLI


def close(a, b, tol=1e-9):
    return a is not None and b is not None and abs(a - b) <= tol * max(1.0, abs(b))


class EvaluationTest(harness.DaemonTest):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="strata-eval-")
        self.imp = os.path.join(self.tmp, "imports")
        self.exp = os.path.join(self.tmp, "exports")
        os.makedirs(self.imp)
        self.daemon_args = ["--import-dir", self.imp, "--export-dir", self.exp]
        super().setUp()
        self.assertEqual(self.call("POST", "/v1/entities", {"name": "applicant"})[0], 201)
        s, doc = self.call("POST", "/v1/entities/applicant/features", {"features": [
            {"name": "income", "type": "DOUBLE"},
            {"name": "age", "type": "INT64"},
            {"name": "sex", "type": "STRING"}]})
        self.assertEqual(s, 201, doc)
        rnd = random.Random(5)
        rows, later = [], []
        lines = ["applicant_id,ts,label,race"]
        self.truth = {}
        for i in range(240):
            inc = rnd.gauss(50, 10)
            age = rnd.randint(20, 70)
            sex = rnd.choice(["F", "M"])
            race = rnd.choice(["A", "B", "C"]) if i % 23 else ""  # some missing
            z = 0.15 * (inc - 50) - 0.04 * (age - 45) + (0.5 if sex == "M" else 0)
            label = "good" if rnd.random() < 1 / (1 + math.exp(-z)) else "bad"
            rows.append({"entity_id": "a%d" % i, "event_time": T0,
                         "values": {"income": inc, "age": age, "sex": sex}})
            # Written later than the instances' time: must not be seen.
            later.append({"entity_id": "a%d" % i, "event_time": T2, "values": {"sex": "X"}})
            lines.append("a%d,%s,%s,%s" % (i, T1, label, race))
            self.truth["a%d" % i] = (label, sex, race or "(missing)")
        for batch in (rows, later):
            s, doc = self.call("POST", "/v1/entities/applicant:write", {"rows": batch})
            self.assertEqual(s, 200, doc)
        self.instances = "\n".join(lines) + "\n"
        with open(os.path.join(self.imp, "holdout.csv"), "w") as f:
            f.write(self.instances)

    def tearDown(self):
        try:
            super().tearDown()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- helpers ---------------------------------------------------------------
    def wait(self, job_id, timeout=120):
        end = time.time() + timeout
        while time.time() < end:
            s, doc = self.call("GET", "/v1/jobs/" + job_id)
            self.assertEqual(s, 200, doc)
            if doc["job"]["state"] in TERMINAL:
                return doc["job"]
            time.sleep(0.05)
        self.fail("job %s did not finish" % job_id)

    def train(self, **kw):
        spec = {"model": "credit", "task": "binary_classification",
                "instances": {"inline": self.instances, "format": "csv"},
                "timestamp_column": "ts", "label_column": "label",
                "features": ["applicant:income", "applicant:age"],
                "split": {"method": "hash", "eval_fraction": 0.3},
                "hyperparameters": {"l2": 1.0, "max_iterations": 200}}
        spec.update(kw)
        s, doc = self.call("POST", "/v1/trainings", spec)
        self.assertEqual(s, 202, doc)
        job = self.wait(doc["job"]["id"])
        self.assertEqual(job["state"], "SUCCEEDED", job.get("error"))
        return job

    def evaluate(self, body, state="SUCCEEDED"):
        s, doc = self.call("POST", "/v1/evaluations", body)
        self.assertEqual(s, 202, doc)
        self.assertEqual(doc["job"]["kind"], "evaluation")
        job = self.wait(doc["job"]["id"])
        self.assertEqual(job["state"], state, job.get("error"))
        return job

    def get_eval(self, eid):
        s, doc = self.call("GET", "/v1/evaluations/" + eid)
        self.assertEqual(s, 200, doc)
        return doc["evaluation"]

    def model_body(self, **kw):
        b = {"model": "credit", "instances": {"path": "holdout.csv"},
             "timestamp_column": "ts", "label_column": "label",
             "group_by": ["applicant:sex", "race"], "intersections": True,
             "bootstrap": {"replicates": 20, "seed": 3}, "min_group_size": 10}
        b.update(kw)
        return b

    def batch_scores(self):
        """The model's scores of the holdout rows, by batch prediction (an
        independent path through the same stored model)."""
        s, doc = self.call("POST", "/v1/predictions:batch", {
            "model": "credit", "instances": {"path": "holdout.csv"},
            "timestamp_column": "ts", "destination": {"path": "scores.csv"}})
        self.assertEqual(s, 202, doc)
        job = self.wait(doc["job"]["id"])
        self.assertEqual(job["state"], "SUCCEEDED", job.get("error"))
        with open(os.path.join(self.exp, "scores.csv")) as f:
            return list(csv.DictReader(f))

    def group(self, ev, attribute, value):
        for g in ev["groups"]:
            if g["attribute"] == attribute and g["value"] == value:
                return g
        self.fail("no group %s=%s in %s" % (attribute, value,
                                            [(g["attribute"], g["value"]) for g in ev["groups"]]))

    # -- model source ----------------------------------------------------------
    def test_model_source_end_to_end(self):
        self.train()
        job = self.evaluate(self.model_body())
        r = job["result"]
        self.assertRegex(r["evaluation_id"], r"^ev-[1-9][0-9]*$")
        self.assertIsInstance(r["execution_id"], int)
        self.assertEqual(job["execution_id"], r["execution_id"])
        ev = self.get_eval(r["evaluation_id"])
        self.assertEqual(ev["id"], r["evaluation_id"])
        self.assertEqual(ev["source"], {"model": "credit", "version": 1})
        self.assertEqual(ev["label_column"], "label")
        self.assertEqual(ev["group_by"], ["applicant:sex", "race"])
        self.assertTrue(ev["intersections"])
        self.assertEqual(ev["reference_groups"], {})
        self.assertEqual(ev["execution_id"], r["execution_id"])
        self.assertEqual(ev["positive_label"], "good")
        self.assertEqual(ev["task"], "binary_classification")
        self.assertEqual(ev["n"], 240)
        # The rows fed: groups from the feature as of the row's time (never
        # the later "X") and from the instance column, missing as its own value.
        by_sex, by_race = {}, {}
        for lab, sex, race in self.truth.values():
            by_sex.setdefault(sex, [0, 0])
            by_race.setdefault(race, [0, 0])
            for d, k in ((by_sex, sex), (by_race, race)):
                d[k][0] += 1
                d[k][1] += lab == "good"
        self.assertNotIn("X", {g["value"] for g in ev["groups"] if g["attribute"] == "applicant:sex"})
        for sex, (n, pos) in by_sex.items():
            g = self.group(ev, "applicant:sex", sex)
            self.assertEqual((g["n"], g["positives"]), (n, pos), sex)
        for race, (n, pos) in by_race.items():
            g = self.group(ev, "race", race)
            self.assertEqual((g["n"], g["positives"]), (n, pos), race)
        self.assertIn("applicant:sex&race", {g["attribute"] for g in ev["groups"]})
        # Scores: the same as batch prediction's for the same rows.
        scored = self.batch_scores()
        y = [1 if row["label"] == "good" else 0 for row in scored]
        s = [float(row["score"]) for row in scored]
        if skm is not None:
            self.assertTrue(close(ev["overall"]["roc_auc"], skm.roc_auc_score(y, s), 1e-9),
                            (ev["overall"]["roc_auc"], skm.roc_auc_score(y, s)))
            self.assertTrue(close(ev["overall"]["log_loss"], skm.log_loss(y, s), 1e-6))
        # The report.
        st, hdrs, body = self.d.request("GET", "/v1/evaluations/%s/report.html" % ev["id"])
        self.assertEqual(st, 200, body[:300])
        self.assertEqual(hdrs["Content-Type"], "text/html; charset=utf-8", hdrs)
        # Served for auditors to open in a browser: no sniffing, the page's
        # CSP also as a header (frame-ancestors works only there), no framing.
        self.assertEqual(hdrs["X-Content-Type-Options"], "nosniff", hdrs)
        csp = hdrs["Content-Security-Policy"] or ""
        self.assertIn("default-src 'none'", csp)
        self.assertIn("frame-ancestors 'none'", csp)
        self.assertNotIn("script-src", csp)
        self.assertIn(ev["id"].encode(), body)
        self.assertNotIn(b"<script", body.lower())
        # A second evaluation; the list, newest first, filtered and paged.
        self.evaluate(self.model_body(group_by=["race"], intersections=False))
        self.evaluate({"predictions": {"inline": [{"y": 1, "s": 0.9}, {"y": 0, "s": 0.2}],
                                       "label_column": "y", "score_column": "s"},
                       "bootstrap": {"replicates": 0}})
        s, doc = self.call("GET", "/v1/evaluations")
        self.assertEqual(s, 200, doc)
        self.assertEqual([e["id"] for e in doc["evaluations"]], ["ev-3", "ev-2", "ev-1"])
        self.assertEqual(doc["next_page_token"], "")
        s, doc = self.call("GET", "/v1/evaluations?model=credit&page_size=1")
        self.assertEqual([e["id"] for e in doc["evaluations"]], ["ev-2"])
        self.assertEqual(doc["evaluations"][0]["source"], {"model": "credit", "version": 1})
        tok = doc["next_page_token"]
        s, doc = self.call("GET", "/v1/evaluations?model=credit&page_size=1&page_token=" + tok)
        self.assertEqual([e["id"] for e in doc["evaluations"]], ["ev-1"])
        self.assertEqual(doc["next_page_token"], "")
        self.assertError(self.call("GET", "/v1/evaluations?page_token=" + tok), 400,
                         "INVALID_ARGUMENT", "page_token")
        s, doc = self.call("GET", "/v1/evaluations?model=other")
        self.assertEqual((s, doc["evaluations"]), (200, []))
        self.assertError(self.call("GET", "/v1/evaluations/ev-99"), 404, "NOT_FOUND", "ev-99")
        self.assertError(self.call("GET", "/v1/evaluations/ev-99/report.html"), 404, "NOT_FOUND")
        self.assertError(self.call("GET", "/v1/evaluations/17"), 404, "NOT_FOUND")

    def test_model_positive_label_and_alias(self):
        self.train()
        s, doc = self.call("PUT", "/v1/models/credit/aliases/champion", {"version": 1})
        self.assertEqual(s, 200, doc)
        a = self.get_eval(self.evaluate(self.model_body(alias="champion"))["result"]["evaluation_id"])
        b = self.get_eval(self.evaluate(self.model_body(positive_label="bad"))["result"]["evaluation_id"])
        self.assertEqual(b["positive_label"], "bad")
        self.assertEqual(b["overall"]["positives"], a["overall"]["n"] - a["overall"]["positives"])
        if a["overall"].get("roc_auc") is not None:
            self.assertTrue(close(a["overall"]["roc_auc"], b["overall"]["roc_auc"], 1e-9))

    # -- predictions source ----------------------------------------------------
    def predictions(self, n=300, seed=9):
        rnd = random.Random(seed)
        rows = []
        for i in range(n):
            sex = rnd.choice(["F", "M"])
            y = 1 if rnd.random() < (0.55 if sex == "M" else 0.35) else 0
            s = min(1.0, max(0.0, rnd.gauss(0.62 if y else 0.38, 0.18)))
            s = round(s, 6)
            rows.append({"id": "r%d" % i, "y": y, "s": s, "sex": sex,
                         "race": rnd.choice(["A", "B"])})
        return rows

    def check_against_sklearn(self, ev, rows, threshold=0.5):
        if skm is None:
            self.skipTest("no scikit-learn")
        y = np.array([r["y"] for r in rows])
        s = np.array([r["s"] for r in rows])
        p = (s >= threshold).astype(int)
        o = ev["overall"]
        self.assertEqual(o["n"], len(rows))
        want = {"roc_auc": skm.roc_auc_score(y, s),
                "average_precision": skm.average_precision_score(y, s),
                "log_loss": skm.log_loss(y, s),
                "brier": skm.brier_score_loss(y, s),
                "accuracy": skm.accuracy_score(y, p),
                "precision": skm.precision_score(y, p),
                "recall": skm.recall_score(y, p),
                "f1": skm.f1_score(y, p)}
        for k, v in want.items():
            self.assertTrue(close(o[k], v, 1e-6), (k, o[k], v))
        tn, fp, fn, tp = skm.confusion_matrix(y, p).ravel()
        self.assertEqual(o["confusion"], {"tp": int(tp), "fp": int(fp), "tn": int(tn),
                                          "fn": int(fn)})
        for sex in ("F", "M"):
            m = np.array([r["sex"] == sex for r in rows])
            g = self.group(ev, "sex", sex)
            yy, pp = y[m], p[m]
            self.assertEqual(g["n"], int(m.sum()))
            self.assertEqual(g["positives"], int(yy.sum()))
            self.assertTrue(close(g["selection_rate"], pp.mean()), (g["selection_rate"], pp.mean()))
            self.assertTrue(close(g["tpr"], pp[yy == 1].mean()))
            self.assertTrue(close(g["fpr"], pp[yy == 0].mean()))
            self.assertTrue(close(g["roc_auc"], skm.roc_auc_score(yy, s[m]), 1e-6))

    def test_predictions_csv_jsonl_inline(self):
        rows = self.predictions()
        with open(os.path.join(self.imp, "p.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["id", "y", "s", "sex", "race"])
            w.writeheader()
            w.writerows(rows)
        with open(os.path.join(self.imp, "p.jsonl"), "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
        common = {"group_by": ["sex"], "bootstrap": {"replicates": 0}}
        evs = []
        for src in ({"path": "p.csv"}, {"path": "p.jsonl"}, {"inline": rows}):
            body = dict(common, predictions=dict(src, label_column="y", score_column="s"))
            job = self.evaluate(body)
            evs.append(self.get_eval(job["result"]["evaluation_id"]))
        self.assertTrue(evs[0]["source"]["predictions"].startswith("file://"))
        self.assertTrue(evs[0]["source"]["predictions"].endswith("/p.csv"))
        self.assertEqual(evs[2]["source"], {"predictions": "inline"})
        self.assertEqual(evs[0]["label_column"], "y")
        # 0/1 labels: positive is 1
        self.assertEqual(evs[0]["overall"]["positives"], sum(r["y"] for r in rows))
        for ev in evs:
            self.assertEqual(ev["overall"], evs[0]["overall"])
            self.assertEqual(ev["groups"], evs[0]["groups"])
        self.check_against_sklearn(evs[0], rows)
        # A threshold moves the predicted labels.
        ev = self.get_eval(self.evaluate(dict(common, threshold=0.6, predictions={
            "path": "p.csv", "label_column": "y", "score_column": "s"}))["result"]["evaluation_id"])
        self.check_against_sklearn(ev, rows, 0.6)

    def test_predictions_string_labels_and_prediction_column(self):
        rows = [{"y": "yes" if i % 3 else "no", "pred": "yes" if i % 2 else "no",
                 "g": "a" if i < 10 else "b"} for i in range(40)]
        ev = self.get_eval(self.evaluate({"predictions": {
            "inline": rows, "label_column": "y", "prediction_column": "pred"},
            "group_by": ["g"], "bootstrap": {"replicates": 0}})["result"]["evaluation_id"])
        self.assertEqual(ev["positive_label"], "yes")  # the later of two in byte order
        self.assertEqual(ev["overall"]["positives"], sum(r["y"] == "yes" for r in rows))
        acc = sum(r["y"] == r["pred"] for r in rows) / len(rows)
        self.assertTrue(close(ev["overall"]["accuracy"], acc))
        ev = self.get_eval(self.evaluate({"predictions": {
            "inline": rows, "label_column": "y", "prediction_column": "pred"},
            "positive_label": "no", "bootstrap": {"replicates": 0}})["result"]["evaluation_id"])
        self.assertEqual(ev["overall"]["positives"], sum(r["y"] == "no" for r in rows))

    def test_predictions_group_from_feature(self):
        # Predictions made elsewhere, grouped by a stored feature read point in time.
        rows = [{"applicant_id": "a%d" % i, "ts": T1, "y": int(self.truth["a%d" % i][0] == "good"),
                 "s": (i % 10) / 10} for i in range(60)]
        ev = self.get_eval(self.evaluate({
            "predictions": {"inline": rows, "label_column": "y", "score_column": "s"},
            "timestamp_column": "ts", "group_by": ["applicant:sex"],
            "bootstrap": {"replicates": 0}})["result"]["evaluation_id"])
        for sex in ("F", "M"):
            n = sum(1 for i in range(60) if self.truth["a%d" % i][1] == sex)
            self.assertEqual(self.group(ev, "applicant:sex", sex)["n"], n)

    # -- errors ----------------------------------------------------------------
    def test_bad_requests(self):
        self.train()
        rows = [{"y": 1, "s": 0.5, "sex": "F"}]
        good_p = {"inline": rows, "label_column": "y", "score_column": "s"}
        cases = [
            ({"model": "nope", "instances": {"path": "holdout.csv"}, "timestamp_column": "ts",
              "label_column": "label"}, 404, "NOT_FOUND", "nope"),
            (self.model_body(version=7), 404, "NOT_FOUND", "version 7"),
            (self.model_body(label_column="nolabel"), 400, "INVALID_ARGUMENT", "nolabel"),
            (self.model_body(group_by=["zip"]), 400, "INVALID_ARGUMENT", "zip"),
            (self.model_body(group_by=["applicant:zip"]), 404, "NOT_FOUND", "zip"),
            (self.model_body(group_by=["race", "race"]), 400, "INVALID_ARGUMENT", "twice"),
            (self.model_body(colour=1), 400, "INVALID_ARGUMENT", "colour"),
            (self.model_body(task="regression"), 400, "INVALID_ARGUMENT", "task"),
            (self.model_body(positive_label="maybe"), 400, "INVALID_ARGUMENT", "maybe"),
            (self.model_body(reference_groups={"sex": "F"}), 400, "INVALID_ARGUMENT", "sex"),
            (self.model_body(instances={"path": "../etc/passwd"}), 403, "PERMISSION_DENIED"),
            ({"predictions": dict(good_p, score_column="nope")}, 400, "INVALID_ARGUMENT", "nope"),
            ({"predictions": dict(good_p, extra=1)}, 400, "INVALID_ARGUMENT", "extra"),
            ({"predictions": {"inline": rows, "label_column": "y"}}, 400, "INVALID_ARGUMENT",
             "score_column"),
            ({"predictions": {"path": "missing.csv", "label_column": "y", "score_column": "s"}},
             404, "NOT_FOUND"),
            ({"predictions": good_p, "model": "credit"}, 400, "INVALID_ARGUMENT", "not both"),
            ({"predictions": good_p, "timestamp_column": "ts"}, 400, "INVALID_ARGUMENT",
             "timestamp_column"),
            ({"predictions": dict(good_p, inline=[1, 2])}, 400, "INVALID_ARGUMENT", "inline[0]"),
            ({"predictions": dict(good_p, inline=[{"y": 1, "s": 0.5}] * 100001)}, 413,
             "RESOURCE_EXHAUSTED", "100000"),
            ({"predictions": good_p, "bootstrap": {"replicates": -1}}, 400, "INVALID_ARGUMENT",
             "replicates"),
            ({"predictions": good_p, "bootstrap": {"replicates": 10001}}, 400,
             "INVALID_ARGUMENT", "replicates"),
            ({"predictions": good_p, "bootstrap": {"confidence": 1.5}}, 400, "INVALID_ARGUMENT",
             "confidence"),
            ({"predictions": good_p, "bootstrap": {"seed": "x"}}, 400, "INVALID_ARGUMENT", "seed"),
            ({"predictions": good_p, "bootstrap": {"rounds": 3}}, 400, "INVALID_ARGUMENT",
             "rounds"),
            ({"predictions": good_p, "bootstrap": 5}, 400, "INVALID_ARGUMENT", "bootstrap"),
            ({"predictions": good_p, "threshold": 2}, 400, "INVALID_ARGUMENT", "threshold"),
            ({"predictions": good_p, "thresholds": []}, 400, "INVALID_ARGUMENT", "thresholds"),
            ({"predictions": good_p, "min_group_size": -3}, 400, "INVALID_ARGUMENT",
             "min_group_size"),
            ({"predictions": good_p, "group_by": "sex"}, 400, "INVALID_ARGUMENT", "group_by"),
            ({"predictions": good_p, "group_by": ["a", "b", "c", "d", "e", "f", "g", "h", "i"]},
             400, "INVALID_ARGUMENT", "group_by"),
            ({"predictions": good_p, "intersections": "yes"}, 400, "INVALID_ARGUMENT",
             "intersections"),
            ({"predictions": good_p, "task": "ranking"}, 400, "INVALID_ARGUMENT", "task"),
            ({}, 400, "INVALID_ARGUMENT", "predictions"),
        ]
        for body, status, code, *words in cases:
            with self.subTest(body=json.dumps(body)[:200]):
                self.assertError(self.call("POST", "/v1/evaluations", body), status, code, *words)
        self.assertError(self.call("POST", "/v1/evaluations", "{not json"), 400,
                         "INVALID_ARGUMENT", "malformed JSON")
        # Nothing was stored, no job was made.
        s, doc = self.call("GET", "/v1/evaluations")
        self.assertEqual(doc["evaluations"], [])
        s, doc = self.call("GET", "/v1/jobs?kind=evaluation")
        self.assertEqual(doc["jobs"], [])

    def test_job_failures(self):
        self.train()
        # Inline rows are in the request: a bad one is a 400 naming it, no job.
        for rows, words in (([{"y": 1, "s": 0.9}, {"y": 0, "s": "high"}],
                             ["predictions.inline[1]", "high"]),
                            ([{"y": 1, "s": 0.9}, {"y": 0, "s": 1.5}],
                             ["predictions.inline[1]", "not a probability"])):
            s, doc = self.call("POST", "/v1/evaluations", {"predictions": {
                "inline": rows, "label_column": "y", "score_column": "s"}})
            self.assertEqual(s, 400, doc)
            for w in words:
                self.assertIn(w, doc["error"]["message"])
        # A file is read by the job: a bad row fails it, naming the row.
        with open(os.path.join(self.imp, "bad_scores.csv"), "w") as f:
            f.write("y,s\n1,0.9\n0,high\n")
        job = self.evaluate({"predictions": {"path": "bad_scores.csv", "label_column": "y",
                                             "score_column": "s"}}, state="FAILED")
        self.assertIn("high", job["error"]["message"])
        with open(os.path.join(self.imp, "odd.csv"), "w") as f:
            f.write("applicant_id,ts,label\na1,%s,good\na2,%s,maybe\n" % (T1, T1))
        job = self.evaluate(self.model_body(instances={"path": "odd.csv"}, group_by=[]),
                            state="FAILED")
        self.assertIn("maybe", job["error"]["message"])
        self.assertIn("row 2", job["error"]["message"])
        s, doc = self.call("GET", "/v1/evaluations")
        self.assertEqual(doc["evaluations"], [])

    def test_cancel(self):
        rows = [{"y": i % 2, "s": (i % 97) / 97, "g": "abc"[i % 3]} for i in range(100000)]
        s, doc = self.call("POST", "/v1/evaluations", {
            "predictions": {"inline": rows, "label_column": "y", "score_column": "s"},
            "group_by": ["g"], "bootstrap": {"replicates": 10000}})
        self.assertEqual(s, 202, doc)
        jid = doc["job"]["id"]
        s, doc = self.call("POST", "/v1/jobs/%s:cancel" % jid)
        self.assertEqual(s, 200, doc)
        job = self.wait(jid)
        self.assertEqual(job["state"], "CANCELLED", job)
        s, doc = self.call("GET", "/v1/evaluations")
        self.assertEqual(doc["evaluations"], [])

    # -- lineage, provenance, restart -------------------------------------------
    def test_lineage_provenance_restart(self):
        self.train()
        r = self.evaluate(self.model_body())["result"]
        s, doc = self.call("GET", "/v1/executions/%d" % r["execution_id"])
        self.assertEqual(s, 200, doc)
        ex = doc["execution"]
        self.assertEqual(ex["type"], "Evaluate")
        self.assertEqual(ex["state"], "COMPLETE")
        self.assertEqual(ex["properties"]["evaluation_id"], r["evaluation_id"])
        self.assertEqual(ex["properties"]["model"], "credit")
        self.assertEqual(ex["properties"]["version"], 1)
        s, doc = self.call("GET", "/v1/lineage?execution_id=%d&max_hops=1" % r["execution_id"])
        self.assertEqual(s, 200, doc)
        arts = {a["id"]: a for a in doc["artifacts"]}
        ev_events = [e for e in doc["events"] if e["execution_id"] == r["execution_id"]]
        kinds = sorted((e["type"], arts[e["artifact_id"]]["type"]) for e in ev_events)
        self.assertEqual(kinds, [("INPUT", "Dataset"), ("INPUT", "Model"),
                                 ("OUTPUT", "FairnessReport"), ("OUTPUT", "Metrics")])
        model = [a for a in arts.values() if a["type"] == "Model"][0]
        self.assertEqual(model["name"], "credit@1")
        fr = [a for a in arts.values() if a["type"] == "FairnessReport"][0]
        self.assertEqual(fr["properties"]["evaluation_id"], r["evaluation_id"])
        self.assertEqual(fr["uri"], "/v1/evaluations/%s/report.html" % r["evaluation_id"])
        self.assertEqual(fr["properties"]["group_by"], ["applicant:sex", "race"])
        met = [a for a in arts.values() if a["type"] == "Metrics"][0]
        self.assertEqual(met["properties"]["n"], 240)
        ds = [a for a in arts.values() if a["type"] == "Dataset"][0]
        self.assertEqual(ds["properties"]["rows"], 240)
        # Provenance of the model lists the evaluation and its report.
        s, doc = self.call("GET", "/v1/models/credit/provenance")
        self.assertEqual(s, 200, doc)
        evs = doc["provenance"]["evaluations"]
        self.assertEqual([e["evaluation_id"] for e in evs], [r["evaluation_id"]])
        self.assertEqual(evs[0]["fairness_reports"][0]["evaluation_id"], r["evaluation_id"])
        self.assertEqual(len(evs[0]["metrics"]), 1)
        self.assertNotIn("evaluations", " ".join(doc["provenance"]["missing"]))
        # Durable: the evaluation survives a restart, ids are not reused.
        before = self.get_eval(r["evaluation_id"])
        self.d.restart()
        self.assertEqual(self.get_eval(r["evaluation_id"]), before)
        r2 = self.evaluate({"predictions": {"inline": [{"y": 1, "s": 0.7}, {"y": 0, "s": 0.1}],
                                            "label_column": "y", "score_column": "s"},
                            "bootstrap": {"replicates": 0}})["result"]
        self.assertNotEqual(r2["evaluation_id"], r["evaluation_id"])
        st, _, body = self.d.request("GET", "/v1/evaluations/%s/report.html" % r["evaluation_id"])
        self.assertEqual(st, 200)

    # -- training's fairness block --------------------------------------------
    def test_training_fairness_block(self):
        job = self.train(fairness={"group_by": ["applicant:sex", "race"],
                                   "reference_groups": {"applicant:sex": "F"},
                                   "bootstrap": {"replicates": 10}})
        r = job["result"]
        self.assertRegex(r["evaluation_id"], r"^ev-")
        ev = self.get_eval(r["evaluation_id"])
        self.assertEqual(ev["source"], {"model": "credit", "version": 1})
        self.assertEqual(ev["n"], r["eval_rows"])
        self.assertEqual(ev["reference_groups"], {"applicant:sex": "F"})
        self.assertEqual(self.group(ev, "applicant:sex", "F")["reference"], True)
        # Lineage: Evaluate read the Train's Dataset and the model.
        s, doc = self.call("GET", "/v1/lineage?execution_id=%d&max_hops=1" % ev["execution_id"])
        arts = {a["id"]: a for a in doc["artifacts"]}
        ins = [arts[e["artifact_id"]] for e in doc["events"] if e["type"] == "INPUT"
               and e["execution_id"] == ev["execution_id"]]
        self.assertEqual(sorted(a["type"] for a in ins), ["Dataset", "Model"])
        s, tr = self.call("GET", "/v1/lineage?execution_id=%d&max_hops=1" % r["execution_id"])
        train_ds = [a["id"] for a in tr["artifacts"] if a["type"] == "Dataset"]
        self.assertIn([a["id"] for a in ins if a["type"] == "Dataset"][0], train_ds)
        s, doc = self.call("GET", "/v1/models/credit/versions/1")
        self.assertEqual(doc["model"]["evaluation_id"], r["evaluation_id"])
        for bad, word in (({"group_by": []}, "group_by"), ({"group_by": ["zip"]}, "zip"),
                          ({"group_by": ["race"], "colour": 1}, "colour"),
                          ("yes", "fairness")):
            s, doc = self.call("POST", "/v1/trainings", {
                "model": "credit", "task": "binary_classification",
                "instances": {"inline": self.instances, "format": "csv"},
                "timestamp_column": "ts", "label_column": "label",
                "features": ["applicant:income"], "fairness": bad})
            self.assertError((s, doc), 400, "INVALID_ARGUMENT", word)

    # -- CLI -------------------------------------------------------------------
    def cli(self, *args):
        p = subprocess.run([STRATA_CLI, "--url", "http://127.0.0.1:%d" % self.d.port] +
                           list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120, cwd=self.tmp)
        err = p.stderr.decode(errors="replace")
        for m in harness.SANITIZER_MARKERS:
            self.assertNotIn(m, err)
        if p.returncode:
            self.assertRegex(err, r"\Astrata: [^\n]+\n\Z")
        return p.returncode, p.stdout.decode(), err

    def test_cli(self):
        self.train()
        out = os.path.join(self.tmp, "report.html")
        rc, so, se = self.cli("evaluate", "--model", "credit", "--instances", "holdout.csv",
                              "--timestamp-column", "ts", "--label-column", "label",
                              "--group-by", "applicant:sex,race", "--intersections",
                              "--reference", "race=A", "--bootstrap", "10", "--seed", "2",
                              "--report", out)
        self.assertEqual(rc, 0, se)
        self.assertIn("evaluation:  ev-1", so)
        with open(out, "rb") as f:
            page = f.read()
        self.assertIn(b"ev-1", page)
        self.assertFalse(os.path.exists(out + ".part"))
        ev = self.get_eval("ev-1")
        self.assertEqual(ev["reference_groups"], {"race": "A"})
        self.assertEqual(ev["bootstrap"]["replicates"], 10)
        self.assertEqual(ev["bootstrap"]["seed"], 2)
        # --json --wait with inline JSONL predictions
        path = os.path.join(self.tmp, "local.jsonl")
        with open(path, "w") as f:
            for i in range(20):
                f.write(json.dumps({"y": i % 2, "s": i / 20, "g": "ab"[i % 2]}) + "\n")
        rc, so, se = self.cli("--json", "evaluate", "--predictions", path, "--inline",
                              "--label-column", "y", "--score-column", "s", "--group-by", "g",
                              "--bootstrap", "0", "--wait")
        self.assertEqual(rc, 0, se)
        doc = json.loads(so)
        self.assertEqual(doc["job"]["state"], "SUCCEEDED")
        self.assertEqual(doc["evaluation"]["id"], "ev-2")
        self.assertEqual(doc["evaluation"]["n"], 20)
        rc, so, se = self.cli("--json", "evaluations", "list", "--model", "credit")
        self.assertEqual(rc, 0, se)
        self.assertEqual([e["id"] for e in json.loads(so)["evaluations"]], ["ev-1"])
        rc, so, se = self.cli("evaluations", "get", "ev-2", "--report",
                              os.path.join(self.tmp, "r2.html"))
        self.assertEqual(rc, 0, se)
        self.assertTrue(os.path.exists(os.path.join(self.tmp, "r2.html")))
        # Exit codes: usage 2, refused 1, failed job 1, unreachable 3.
        self.assertEqual(self.cli("evaluate", "--label-column", "y")[0], 2)
        self.assertEqual(self.cli("evaluate", "--model", "credit", "--predictions", "p.csv",
                                  "--label-column", "y")[0], 2)
        self.assertEqual(self.cli("evaluate", "--predictions", "p.csv", "--label-column", "y",
                                  "--score-column", "s", "--bootstrap", "x")[0], 2)
        rc, so, se = self.cli("evaluate", "--model", "nope", "--instances", "holdout.csv",
                              "--timestamp-column", "ts", "--label-column", "label")
        self.assertEqual(rc, 1)
        self.assertIn("nope", se)
        bad = os.path.join(self.tmp, "bad.jsonl")
        with open(bad, "w") as f:
            f.write('{"y": 1, "s": "oops"}\n')
        rc, so, se = self.cli("evaluate", "--predictions", bad, "--inline", "--label-column", "y",
                              "--score-column", "s", "--wait")
        self.assertEqual(rc, 1)
        self.assertIn('predictions.inline[0]: score "oops" is not a finite number', se)
        self.assertEqual(self.cli("evaluations", "get", "ev-404")[0], 1)
        p = subprocess.run([STRATA_CLI, "--url", "http://127.0.0.1:1", "evaluations", "list"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 3)


if __name__ == "__main__":
    unittest.main()
