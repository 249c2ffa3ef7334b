"""Exports end to end (POST /v1/exports:historical|snapshot|history):
point-in-time semantics case by case, output formats (CSV, JSONL, TFRecord read
by an independent reader), as_of reproducibility, errors with nothing streamed,
exports to a destination as jobs (progress, cancel, no partial file), lineage
records, and the `strata export` CLI.
"""
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import harness
import tfrecord_reader

TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")

T = "2024-03-01T12:00:00Z"  # the reference event time of the cases


def at(offset_us):
    """T shifted by offset_us microseconds, as RFC 3339."""
    base = 1709294400 * 1000000  # 2024-03-01T12:00:00Z
    us = base + offset_us
    s, frac = divmod(us, 1000000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s))
    return text + (".%06dZ" % frac if frac else "Z")


SEC = 1000000


class ExportBase(unittest.TestCase):
    """A daemon with an import dir, and entities customer (age INT64, score
    DOUBLE with a 10 s TTL, tags STRING_ARRAY, blob BYTES) and merchant (risk
    STRING)."""
    extra_args = ()

    def setUp(self):
        self.imp = tempfile.mkdtemp(prefix="strata-exp-imp-")
        self.addCleanup(shutil.rmtree, self.imp, True)
        self.d = harness.Daemon(args=["--import-dir", self.imp] + list(self.extra_args))
        self.addCleanup(self.d.cleanup)
        self.d.start()
        self.exports = os.path.join(self.d.data_dir, "exports")
        for name in ("customer", "merchant"):
            self.assertEqual(self.call("POST", "/v1/entities", {"name": name})[0], 201)
        s, doc = self.call("POST", "/v1/entities/customer/features", {"features": [
            {"name": "age", "type": "INT64"},
            {"name": "score", "type": "DOUBLE", "ttl_seconds": 10},
            {"name": "tags", "type": "STRING_ARRAY"},
            {"name": "blob", "type": "BYTES"}]})
        self.assertEqual(s, 201, doc)
        s, doc = self.call("POST", "/v1/entities/merchant/features",
                           {"features": [{"name": "risk", "type": "STRING"}]})
        self.assertEqual(s, 201, doc)

    def tearDown(self):
        self.d.stop()

    def call(self, method, path, body=None):
        return self.d.call(method, path, body)

    def write(self, entity, rows):
        s, doc = self.call("POST", f"/v1/entities/{entity}:write", {"rows": rows})
        self.assertEqual(s, 200, doc)

    def export(self, body, kind="historical", status=200):
        s, hdrs, data = self.d.request("POST", f"/v1/exports:{kind}", body)
        self.assertEqual(s, status, data[:2000])
        return hdrs, data

    def wait(self, job_id, timeout=120):
        deadline = time.time() + harness.scaled(timeout)
        while time.time() < deadline:
            s, doc = self.call("GET", f"/v1/jobs/{job_id}")
            self.assertEqual(s, 200, doc)
            if doc["job"]["state"] in TERMINAL:
                return doc["job"]
            time.sleep(0.02)
        self.fail(f"job {job_id} did not finish")

    def big_instances(self, name, rows):
        path = os.path.join(self.imp, name)
        with open(path, "w") as f:
            f.write("customer_id,ts,label\n")
            f.writelines(f"c{i % 5000},2024-03-01T12:00:{i % 60:02d}Z,{i % 2}\n"
                         for i in range(rows))
        return name

    def assertError(self, status_doc, status, code, *words):
        got_status, doc = status_doc
        self.assertEqual(got_status, status, doc)
        err = doc["error"]
        self.assertEqual(err["code"], code, doc)
        for w in words:
            self.assertIn(w, err["message"], doc)
        return err


class PointInTimeTest(ExportBase):
    """The table of point-in-time cases, checked in every format."""

    def setUp(self):
        super().setUp()
        C = "2024-03-02T00:00:00Z"  # a created time later than every event
        # Ties on event time: the greater created_time wins, whatever the write order.
        self.write("customer", [
            {"entity_id": "tie_ct", "event_time": T, "created_time": at(2 * SEC), "values": {"age": 1}},
            {"entity_id": "tie_ct", "event_time": T, "created_time": at(1 * SEC), "values": {"age": 2}}])
        # Ties on event and created time: the later write wins.
        self.write("customer", [
            {"entity_id": "tie_w", "event_time": T, "created_time": C, "values": {"age": 10}}])
        self.write("customer", [
            {"entity_id": "tie_w", "event_time": T, "created_time": C, "values": {"age": 11}}])
        # A value exactly at the instance time; TTL window of score (10 s).
        self.write("customer", [
            {"entity_id": "edge", "event_time": T, "values": {"age": 5, "score": 1.5}}])
        # The newest version is null.
        self.write("customer", [
            {"entity_id": "nul", "event_time": at(-5 * SEC), "values": {"age": 3}},
            {"entity_id": "nul", "event_time": T, "values": {"age": None}}])
        # Arrays, bytes, and a value needing CSV quotes.
        self.write("customer", [
            {"entity_id": "rich", "event_time": T,
             "values": {"tags": ["a", "b,c"], "blob": "AP8=", "age": 42}}])
        self.write("merchant", [
            {"entity_id": "m1", "event_time": at(-60 * SEC), "values": {"risk": "low"}},
            {"entity_id": "m1", "event_time": T, "values": {"risk": "say \"hi\", ok"}}])
        self.cases = [
            # (customer id, merchant id, ts, label, expected age, score, risk)
            ("tie_ct", "m1", at(0), "a", "1", "", 'say "hi", ok'),
            ("tie_w", "m1", at(-1), "b", "", "", "low"),  # 1 µs before T: none, the older risk
            ("tie_w", "m1", at(0), "c", "11", "", 'say "hi", ok'),
            ("edge", "m1", at(0), "d", "5", "1.5", 'say "hi", ok'),  # exactly at ts
            ("edge", "zz", at(-1), "e", "", "", ""),  # 1 µs before the value: none
            ("edge", "m1", at(10 * SEC), "f", "5", "1.5", 'say "hi", ok'),  # ts - ttl: kept
            ("edge", "m1", at(10 * SEC + 1), "g", "5", "", 'say "hi", ok'),  # 1 µs past the TTL
            ("nobody", "m1", at(0), "h", "", "", 'say "hi", ok'),  # unknown id
            ("nul", "m1", at(0), "i", "", "", 'say "hi", ok'),  # newest is null
            ("nul", "m1", at(-1), "j", "3", "", "low"),
            ("edge", "m1", at(0), "d", "5", "1.5", 'say "hi", ok'),  # a duplicate row, kept
        ]
        lines = ["customer_id,shop,ts,label"]
        lines += [f"{c},{m},{ts},{lab}" for c, m, ts, lab, *_ in self.cases]
        self.instances = "\n".join(lines) + "\n"
        self.body = {"instances": {"inline": self.instances, "format": "csv"},
                     "timestamp_column": "ts", "entity_columns": {"merchant": "shop"},
                     "features": ["customer:age", "customer:score", "merchant:risk"]}

    def test_csv_table(self):
        hdrs, data = self.export(self.body)
        self.assertEqual(hdrs["Content-Type"], "text/csv")
        self.assertEqual(hdrs.get("Transfer-Encoding"), "chunked")
        want = ["customer_id,shop,ts,label,customer__age,customer__score,merchant__risk"]
        for c, m, ts, lab, age, score, risk in self.cases:
            q = '"' + risk.replace('"', '""') + '"' if ("," in risk or '"' in risk) else risk
            want.append(f"{c},{m},{ts},{lab},{age},{score},{q}")
        self.assertEqual(data.decode(), "\n".join(want) + "\n")

    def test_jsonl(self):
        body = dict(self.body, format="jsonl")
        hdrs, data = self.export(body)
        self.assertEqual(hdrs["Content-Type"], "application/x-ndjson")
        rows = [json.loads(line) for line in data.decode().splitlines()]
        self.assertEqual(len(rows), len(self.cases))
        for row, (c, m, ts, lab, age, score, risk) in zip(rows, self.cases):
            self.assertEqual(list(row), ["customer_id", "shop", "ts", "label", "customer__age",
                                         "customer__score", "merchant__risk"])
            self.assertEqual((row["customer_id"], row["label"]), (c, lab))  # CSV cells: strings
            self.assertEqual(row["customer__age"], int(age) if age else None)
            self.assertEqual(row["customer__score"], float(score) if score else None)
            self.assertEqual(row["merchant__risk"], risk or None)

    def test_tfrecord(self):
        body = dict(self.body, format="tfrecord")
        hdrs, data = self.export(body)
        self.assertEqual(hdrs["Content-Type"], "application/octet-stream")
        examples = tfrecord_reader.read_examples(data)
        self.assertEqual(len(examples), len(self.cases))
        for ex, (c, m, ts, lab, age, score, risk) in zip(examples, self.cases):
            self.assertEqual(ex["customer_id"], ("bytes", [c.encode()]))
            self.assertEqual(ex["label"], ("bytes", [lab.encode()]))
            if age:
                self.assertEqual(ex["customer__age"], ("int64", [int(age)]))
            else:
                self.assertNotIn("customer__age", ex)  # missing → absent
            if score:
                self.assertEqual(ex["customer__score"], ("float", [float(score)]))
            else:
                self.assertNotIn("customer__score", ex)
            if risk:
                self.assertEqual(ex["merchant__risk"], ("bytes", [risk.encode()]))
            else:
                self.assertNotIn("merchant__risk", ex)
        # Corruption is caught by the independent reader: flip one byte.
        bad = bytearray(data)
        bad[20] ^= 1
        with self.assertRaises(tfrecord_reader.FormatError):
            tfrecord_reader.read_records(bytes(bad))

    def test_value_types_in_every_format(self):
        inst = "customer_id,ts\nrich," + at(0) + "\n"
        body = {"instances": {"inline": inst}, "timestamp_column": "ts",
                "features": ["customer:tags", "customer:blob", "customer:age"]}
        _, data = self.export(body)
        self.assertEqual(data.decode().splitlines()[1],
                         'rich,' + at(0) + ',"[""a"",""b,c""]",AP8=,42')
        _, data = self.export(dict(body, format="jsonl"))
        row = json.loads(data)
        self.assertEqual((row["customer__tags"], row["customer__blob"], row["customer__age"]),
                         (["a", "b,c"], "AP8=", 42))
        _, data = self.export(dict(body, format="tfrecord"))
        ex = tfrecord_reader.read_examples(data)[0]
        self.assertEqual(ex["customer__tags"], ("bytes", [b"a", b"b,c"]))
        self.assertEqual(ex["customer__blob"], ("bytes", [b"\x00\xff"]))

    def test_default_entity_column_and_jsonl_instances(self):
        # No customer_id column: the column named after the entity is used.
        lines = [json.dumps({"customer": "edge", "ts": at(0), "label": 1, "w": 0.5,
                             "meta": {"k": [1]}}),
                 json.dumps({"customer": "tie_w", "ts": at(0), "label": None, "extra": True})]
        body = {"instances": {"inline": "\n".join(lines) + "\n", "format": "jsonl"},
                "timestamp_column": "ts", "features": ["customer:age"], "format": "jsonl"}
        _, data = self.export(body)
        rows = [json.loads(x) for x in data.decode().splitlines()]
        self.assertEqual(rows[0], {"customer": "edge", "ts": at(0), "label": 1, "w": 0.5,
                                   "meta": {"k": [1]}, "extra": None, "customer__age": 5})
        self.assertEqual(rows[1], {"customer": "tie_w", "ts": at(0), "label": None, "w": None,
                                   "meta": None, "extra": True, "customer__age": 11})
        # The same instances to CSV: JSON values as text, missing keys empty.
        _, data = self.export(dict(body, format="csv"))
        self.assertEqual(data.decode().splitlines(),
                         ["customer,ts,label,w,meta,extra,customer__age",
                          f'edge,{at(0)},1,0.5,"{{""k"":[1]}}",,5',
                          f"tie_w,{at(0)},,,,true,11"])

    def test_epoch_time_unit(self):
        inst = "customer_id,ts\nedge,%d\nedge,%d\n" % (1709294400, 1709294399)
        body = {"instances": {"inline": inst}, "timestamp_column": "ts", "time_unit": "seconds",
                "features": ["customer:age"]}
        _, data = self.export(body)
        self.assertEqual(data.decode().splitlines()[1:], ["edge,1709294400,5", "edge,1709294399,"])

    def test_backfill_and_as_of(self):
        inst = "customer_id,ts\nlate," + at(100 * SEC) + "\n"
        self.write("customer", [{"entity_id": "late", "event_time": T, "values": {"age": 7}}])
        time.sleep(0.01)
        as_of = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".%06dZ" % (
            int(time.time() * 1e6) % 1000000)
        time.sleep(0.01)
        body = {"instances": {"inline": inst}, "timestamp_column": "ts",
                "features": ["customer:age"], "as_of": as_of}
        _, before = self.export(body)
        self.assertTrue(before.decode().endswith(",7\n"), before)
        # A late backfill: an event time between the old value and the instance time.
        self.write("customer", [{"entity_id": "late", "event_time": at(50 * SEC),
                                 "values": {"age": 8}}])
        _, now = self.export(dict(body, as_of=None))
        self.assertTrue(now.decode().endswith(",8\n"), now)  # without as_of: seen
        _, again = self.export(body)
        self.assertEqual(again, before)  # same as_of: the same bytes, whatever came later
        for fmt in ("jsonl", "tfrecord"):
            _, a = self.export(dict(body, format=fmt))
            self.write("customer", [{"entity_id": "late", "event_time": at(60 * SEC),
                                     "values": {"age": 9}}])
            _, b = self.export(dict(body, format=fmt))
            self.assertEqual(a, b)

    def test_empty_instances(self):
        _, data = self.export({"instances": {"inline": "customer_id,ts\n"},
                               "timestamp_column": "ts", "features": ["customer:age"]})
        self.assertEqual(data, b"customer_id,ts,customer__age\n")
        _, data = self.export({"instances": {"inline": "", "format": "jsonl"},
                               "timestamp_column": "ts", "features": ["customer:age"],
                               "format": "jsonl"})
        self.assertEqual(data, b"")


class SnapshotHistoryTest(ExportBase):
    def test_snapshot_and_history(self):
        self.write("customer", [
            {"entity_id": "a", "event_time": at(-20 * SEC), "values": {"age": 1, "score": 0.5}},
            {"entity_id": "a", "event_time": at(0), "values": {"age": 2}},
            {"entity_id": "bb", "event_time": at(5 * SEC), "values": {"age": 3}},
            {"entity_id": "c", "event_time": at(-1 * SEC), "values": {"score": 2.5}}])
        _, data = self.export({"entity": "customer", "features": ["age", "customer:score"],
                               "snapshot_time": at(0)}, kind="snapshot")
        # Ids in store order (shorter first); TTL 10 s drops a's score; bb has nothing yet.
        self.assertEqual(data.decode().splitlines(), [
            "customer_id,customer__age,customer__score", "a,2,", "c,,2.5", "bb,,"])
        _, data = self.export({"entity": "customer", "features": ["age"],
                               "start_time": at(-20 * SEC), "end_time": at(5 * SEC),
                               "format": "jsonl"}, kind="history")
        rows = [json.loads(x) for x in data.decode().splitlines()]
        self.assertEqual([(r["customer_id"], r["event_time"], r["value"]) for r in rows],
                         [("a", at(0), 2), ("a", at(-20 * SEC), 1)])
        self.assertEqual(list(rows[0]), ["customer_id", "feature", "event_time",
                                         "created_time", "value"])
        self.assertError(self.call("POST", "/v1/exports:snapshot", {"entity": "nope"}), 404,
                         "NOT_FOUND", "entity \"nope\" not found")
        self.assertError(self.call("POST", "/v1/exports:snapshot",
                                   {"entity": "customer", "features": ["merchant:risk"]}),
                         400, "INVALID_ARGUMENT", "not a feature of entity \"customer\"")


class ErrorsTest(ExportBase):
    def test_refusals_stream_nothing(self):
        ok = {"instances": {"inline": "customer_id,ts\nc1,2024-01-01T00:00:00Z\n"},
              "timestamp_column": "ts", "features": ["customer:age"]}
        outside = tempfile.mkdtemp(prefix="strata-exp-out-")
        self.addCleanup(shutil.rmtree, outside, True)
        secret = os.path.join(outside, "s.csv")
        with open(secret, "w") as f:
            f.write("customer_id,ts\n")
        cases = [
            (dict(ok, features=["nobody:age"]), 404, "NOT_FOUND", 'entity "nobody" not found'),
            (dict(ok, features=["customer:nope"]), 404, "NOT_FOUND", 'feature "nope" not found'),
            (dict(ok, timestamp_column="when"), 400, "INVALID_ARGUMENT",
             'timestamp_column "when" is not in'),
            (dict(ok, entity_columns={"customer": "cid"}), 400, "INVALID_ARGUMENT",
             'entity column "cid"'),
            (dict(ok, instances={"inline": "id,ts\n"}), 400, "INVALID_ARGUMENT",
             "no entity column for entity \"customer\""),
            (dict(ok, as_of="yesterday"), 400, "INVALID_ARGUMENT", "as_of"),
            # Not reproducible: what is written until then would come in.
            (dict(ok, as_of="2999-01-01T00:00:00Z"), 400, "INVALID_ARGUMENT", "future"),
            (dict(ok, format="parquet"), 400, "INVALID_ARGUMENT", "format must be"),
            (dict(ok, instances={"inline": "x", "format": "xml"}), 400, "INVALID_ARGUMENT",
             "instances.format"),
            (dict(ok, features="customer:age"), 400, "INVALID_ARGUMENT", "features"),
            (dict(ok, extra=1), 400, "INVALID_ARGUMENT", 'unknown field "extra"'),
            (dict(ok, instances={"path": "missing.csv"}), 404, "NOT_FOUND", "not found"),
            (dict(ok, instances={"path": secret}), 403, "PERMISSION_DENIED",
             "outside the import directory"),
            (dict(ok, instances={"path": "../x.csv"}), 403, "PERMISSION_DENIED", '".."'),
            (dict(ok, destination={"path": os.path.join(outside, "o.csv")}), 403,
             "PERMISSION_DENIED", "outside the export directory"),
            (dict(ok, destination={"path": "nodir/o.csv"}), 404, "NOT_FOUND",
             "does not exist"),
            # Bad rows, found before the head: 400 naming the line.
            (dict(ok, instances={"inline": "customer_id,ts\nc1,2024-01-01T00:00:00Z\nc2,soon\n"}),
             400, "INVALID_ARGUMENT", "instances line 3", "timestamp"),
            (dict(ok, instances={"inline": "customer_id,ts\nc1,2024-01-01T00:00:00Z,9\n"}),
             400, "INVALID_ARGUMENT", "instances line 2"),
            (dict(ok, instances={"inline": "customer_id,ts\n,2024-01-01T00:00:00Z\n"}),
             400, "INVALID_ARGUMENT", "instances line 2", "empty"),
            (dict(ok, instances={"inline": '{"customer_id":"a","ts":"2024-01-01T00:00:00Z"}\n'
                                           '{"customer_id":"a"}\n', "format": "jsonl"}),
             400, "INVALID_ARGUMENT", "instances line 2", "missing"),
        ]
        for body, status, code, *words in cases:
            with self.subTest(body=body, words=words):
                s, hdrs, data = self.d.request("POST", "/v1/exports:historical", body)
                self.assertEqual(s, status, data)
                self.assertEqual(hdrs["Content-Type"], "application/json")
                self.assertNotIn("Transfer-Encoding", hdrs)
                doc = json.loads(data)
                self.assertEqual(doc["error"]["code"], code)
                for w in words:
                    self.assertIn(w, doc["error"]["message"])
        # Invalid UTF-8 in a file's row: 400 with its line.
        with open(os.path.join(self.imp, "bad.csv"), "wb") as f:
            f.write(b"customer_id,ts\nc1,2024-01-01T00:00:00Z\nc\xff,2024-01-01T00:00:00Z\n")
        self.assertError(self.call("POST", "/v1/exports:historical",
                                   dict(ok, instances={"path": "bad.csv"})),
                         400, "INVALID_ARGUMENT", "instances line 3", "UTF-8")
        # An existing destination is kept unless overwrite is asked for.
        with open(os.path.join(self.exports, "taken.csv"), "w") as f:
            f.write("keep")
        self.assertError(self.call("POST", "/v1/exports:historical",
                                   dict(ok, destination={"path": "taken.csv"})),
                         409, "ALREADY_EXISTS", "overwrite")
        # The connection is still usable after every refusal.
        _, data = self.export(ok)
        self.assertEqual(data.decode().splitlines()[1], "c1,2024-01-01T00:00:00Z,")


class JobTest(ExportBase):
    def test_destination_job_progress_and_lineage(self):
        self.write("customer", [{"entity_id": f"c{i}", "event_time": "2024-03-01T00:00:00Z",
                                 "values": {"age": i}} for i in range(100)])
        name = self.big_instances("inst.csv", 20000)
        t = time.time()  # after the writes, and not in the future (refused)
        as_of = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % (
            int(t * 1e6) % 1000000)
        body = {"instances": {"path": name}, "timestamp_column": "ts",
                "features": ["customer:age"], "destination": {"path": "train.csv"},
                "as_of": as_of}
        s, doc = self.call("POST", "/v1/exports:historical", body)
        self.assertEqual(s, 202, doc)
        job = doc["job"]
        self.assertEqual((job["kind"], job["state"]), ("export", "PENDING"))
        done = self.wait(job["id"])
        self.assertEqual(done["state"], "SUCCEEDED", done)
        # In rows, one per instance (the three passes a third each).
        self.assertEqual((done["progress"]["done"], done["progress"]["total"],
                          done["progress"]["unit"]), (20000, 20000, "rows"))
        res = done["result"]
        path = os.path.join(self.exports, "train.csv")
        with open(path, "rb") as f:
            data = f.read()
        self.assertEqual(res["rows"], 20000)
        self.assertEqual(res["sha256"], hashlib.sha256(data).hexdigest())
        self.assertEqual(res["path"], os.path.realpath(path))
        self.assertEqual(data.count(b"\n"), 20001)
        self.assertEqual(data.split(b"\n")[1], b"c0,2024-03-01T12:00:00Z,0,0")
        self.assertEqual([f for f in os.listdir(self.exports) if "strata-tmp" in f], [])
        # Lineage: an Export execution with its properties, a Dataset output.
        ex_id = done["execution_id"]
        s, doc = self.call("GET", f"/v1/executions/{ex_id}")
        self.assertEqual(s, 200, doc)
        ex = doc["execution"]
        self.assertEqual((ex["type"], ex["state"]), ("Export", "COMPLETE"))
        self.assertEqual(ex["properties"]["feature_refs"], ["customer:age"])
        self.assertEqual(ex["properties"]["as_of"], as_of)
        self.assertTrue(ex["properties"]["instance_source"].startswith("file://"))
        self.assertEqual(ex["properties"]["rows"], 20000)
        s, g = self.call("GET", f"/v1/lineage?execution_id={ex_id}&direction=both&max_hops=1")
        self.assertEqual(s, 200, g)
        ds = [a for a in g["artifacts"] if a["type"] == "Dataset"]
        self.assertEqual(len(ds), 1)
        self.assertEqual(ds[0]["uri"], "file://" + os.path.realpath(path))
        self.assertEqual(ds[0]["properties"]["sha256"], res["sha256"])
        self.assertEqual(ds[0]["properties"]["rows"], 20000)
        src = [a for a in g["artifacts"] if a["type"] == "SourceFile"]
        self.assertEqual(len(src), 1)
        with open(os.path.join(self.imp, name), "rb") as f:
            self.assertEqual(src[0]["properties"]["sha256"], hashlib.sha256(f.read()).hexdigest())

    def test_cancel_leaves_no_file(self):
        name = self.big_instances("big.csv", 600000)
        body = {"instances": {"path": name}, "timestamp_column": "ts",
                "features": ["customer:age"], "destination": {"path": "big.csv"}}
        s, doc = self.call("POST", "/v1/exports:historical", body)
        self.assertEqual(s, 202, doc)
        jid = doc["job"]["id"]
        deadline = time.time() + harness.scaled(30)
        while time.time() < deadline:
            s, doc = self.call("GET", f"/v1/jobs/{jid}")
            if doc["job"]["state"] == "RUNNING" and doc["job"]["progress"]["done"] > 0:
                break
            self.assertNotIn(doc["job"]["state"], TERMINAL, doc)
            time.sleep(0.005)
        s, doc = self.call("POST", f"/v1/jobs/{jid}:cancel")
        self.assertEqual(s, 200, doc)
        done = self.wait(jid)
        self.assertEqual(done["state"], "CANCELLED", done)
        self.assertEqual(os.listdir(self.exports), [])

    def test_shutdown_during_streams(self):
        """SIGTERM while one stream is still reading its instances and another
        is sending rows: the daemon joins both producers and exits cleanly."""
        import http.client
        self.write("customer", [{"entity_id": f"c{i}", "event_time": "2024-03-01T00:00:00Z",
                                 "values": {"age": i}} for i in range(100)])
        name = self.big_instances("s.csv", 400000)
        body = json.dumps({"instances": {"path": name}, "timestamp_column": "ts",
                           "features": ["customer:age"]})
        sending = http.client.HTTPConnection("127.0.0.1", self.d.port,
                                                 timeout=harness.scaled(60))
        sending.request("POST", "/v1/exports:historical", body,
                        {"Content-Type": "application/json"})
        resp = sending.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertTrue(resp.read(1000))  # rows are flowing; the client stops reading
        reading = http.client.HTTPConnection("127.0.0.1", self.d.port,
                                                 timeout=harness.scaled(60))
        reading.request("POST", "/v1/exports:historical", body,
                        {"Content-Type": "application/json"})
        time.sleep(0.05)
        t0 = time.time()
        self.d.stop(timeout=60)
        self.assertLess(time.time() - t0, 30)
        sending.close()
        reading.close()
        self.d.start()  # tearDown stops it again

    def test_streamed_export_lineage(self):
        self.write("customer", [{"entity_id": "c1", "event_time": T, "values": {"age": 4}}])
        inst = "customer_id,ts\nc1," + at(SEC) + "\n"
        _, data = self.export({"instances": {"inline": inst}, "timestamp_column": "ts",
                               "features": ["customer:age"], "format": "jsonl"})
        digest = hashlib.sha256(data).hexdigest()
        deadline = time.time() + harness.scaled(10)
        while True:
            s, doc = self.call("GET", "/v1/artifacts?type=Dataset")
            self.assertEqual(s, 200, doc)
            if doc["artifacts"] or time.time() > deadline:
                break
            time.sleep(0.02)
        ds = doc["artifacts"][0]
        self.assertEqual(ds["properties"]["sha256"], digest)
        self.assertEqual(ds["properties"]["rows"], 1)
        self.assertTrue(ds["uri"].startswith("stream:export-stream-"), ds)
        s, doc = self.call("GET", "/v1/executions?type=Export")
        ex = doc["executions"][0]
        self.assertEqual(ex["state"], "COMPLETE")
        self.assertEqual(ex["name"], ds["uri"][len("stream:"):])
        self.assertTrue(ex["properties"]["instance_source"].startswith("inline:sha256:"))
        self.assertNotIn("as_of", ex["properties"])


@unittest.skipIf(harness.STRATAD_WRAPPER, "a wrapper (valgrind) serialises the threads")
@unittest.skipUnless(harness.fifo_permitted(2), "this user may not use SCHED_FIFO")
class WorkerPriorityStreamTest(ExportBase):
    """A streamed export's producer is started by a SCHED_FIFO worker
    (--worker-rt-priority) but runs as a normal thread: a long scan must not
    take a core from everything else at real-time priority."""
    extra_args = ("--worker-rt-priority", "2")

    def test_producer_runs_normally(self):
        import http.client
        self.write("customer", [{"entity_id": f"c{i}", "event_time": "2024-03-01T00:00:00Z",
                                 "values": {"age": i}} for i in range(100)])
        name = self.big_instances("s.csv", 400000)
        body = json.dumps({"instances": {"path": name}, "timestamp_column": "ts",
                           "features": ["customer:age"]})
        conn = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=harness.scaled(60))
        self.addCleanup(conn.close)
        conn.request("POST", "/v1/exports:historical", body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertTrue(resp.read(1000))  # the producer is running; the client stops reading
        threads = harness.thread_scheduling(self.d.proc.pid)
        self.assertIn("export-stream", [t[0] for t in threads])
        for tname, policy, _ in threads:
            if tname in ("http-worker", "http-accept"):
                self.assertEqual(policy, 1, tname)
            else:
                self.assertEqual(policy, 0, f"{tname} runs under policy {policy}")


class DestinationSwapTest(ExportBase):
    """The destination is checked by name when the request comes and written by
    a job later: a directory replaced by a symlink meanwhile must not take the
    file outside the export directory. One job thread, so the second export
    waits (PENDING) behind a long first one while the directory is swapped."""
    extra_args = ("--job-threads", "1")

    def test_directory_swapped_for_a_symlink(self):
        outside = tempfile.mkdtemp(prefix="strata-exp-outside-")
        self.addCleanup(shutil.rmtree, outside, True)
        sub = os.path.join(self.exports, "sub")
        os.makedirs(sub)
        self.write("customer", [{"entity_id": "c1", "event_time": "2024-03-01T00:00:00Z",
                                 "values": {"age": 1}}])
        big = self.big_instances("big.csv", 600000)
        small = self.big_instances("small.csv", 10)
        s, doc = self.call("POST", "/v1/exports:historical",
                           {"instances": {"path": big}, "timestamp_column": "ts",
                            "features": ["customer:age"], "destination": {"path": "first.csv"}})
        self.assertEqual(s, 202, doc)
        first = doc["job"]["id"]
        s, doc = self.call("POST", "/v1/exports:historical",
                           {"instances": {"path": small}, "timestamp_column": "ts",
                            "features": ["customer:age"], "destination": {"path": "sub/b.csv"}})
        self.assertEqual(s, 202, doc)  # checked now: sub is inside
        second = doc["job"]["id"]
        s, doc = self.call("GET", f"/v1/jobs/{second}")
        if doc["job"]["state"] != "PENDING":
            self.skipTest("the first export finished before the swap")  # not seen in practice
        os.rename(sub, sub + ".old")
        os.symlink(outside, sub)
        self.call("POST", f"/v1/jobs/{first}:cancel")  # may have finished meanwhile
        done = self.wait(second)
        self.assertEqual(done["state"], "FAILED", done)
        self.assertEqual(done["error"]["code"], "PERMISSION_DENIED", done)
        self.assertIn("no longer inside the export directory", done["error"]["message"])
        self.assertEqual(os.listdir(outside), [])
        self.assertEqual(os.listdir(sub + ".old"), [])


class CliTest(ExportBase):
    def cli(self, *args):
        return subprocess.run([harness.STRATA_CLI, "--url", f"http://127.0.0.1:{self.d.port}"]
                              + list(args), capture_output=True, text=True,
                              timeout=harness.scaled(60))

    def test_cli_stream_and_job(self):
        self.write("customer", [{"entity_id": "c1", "event_time": T, "values": {"age": 4}}])
        with open(os.path.join(self.imp, "inst.csv"), "w") as f:
            f.write("customer_id,ts\nc1," + at(SEC) + "\nc2," + at(SEC) + "\n")
        out = os.path.join(self.imp, "local-out.csv")
        p = self.cli("export", "historical", "--instances", "inst.csv", "--features",
                     "customer:age", "--timestamp-column", "ts", "--out", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("exported 2 rows", p.stdout)
        with open(out) as f:
            self.assertEqual(f.read(), f"customer_id,ts,customer__age\nc1,{at(SEC)},4\nc2,{at(SEC)},\n")
        # A refusal: exit 1, one line, no file.
        bad = os.path.join(self.imp, "never.csv")
        p = self.cli("export", "historical", "--instances", "inst.csv", "--features",
                     "customer:nope", "--timestamp-column", "ts", "--out", bad)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn('feature "nope" not found', p.stderr)
        self.assertFalse(os.path.exists(bad) or os.path.exists(bad + ".part"))
        # Inline instances, TFRecord by the file name.
        tf = os.path.join(self.imp, "o.tfrecord")
        p = self.cli("export", "historical", "--instances", os.path.join(self.imp, "inst.csv"),
                     "--inline", "--features", "customer:age", "--timestamp-column", "ts",
                     "--out", tf)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(tf, "rb") as f:
            self.assertEqual(len(tfrecord_reader.read_examples(f.read())), 2)
        # A job with --wait.
        p = self.cli("--json", "export", "snapshot", "customer", "--features", "age",
                     "--destination", "snap.csv", "--wait")
        self.assertEqual(p.returncode, 0, p.stderr)
        job = json.loads(p.stdout)["job"]
        self.assertEqual(job["state"], "SUCCEEDED")
        with open(os.path.join(self.exports, "snap.csv")) as f:
            self.assertEqual(f.read(), "customer_id,customer__age\nc1,4\n")
        # --server-path: --out names the file on the server (a job, waited for).
        p = self.cli("export", "snapshot", "customer", "--out", "snap2.jsonl", "--server-path")
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(os.path.join(self.exports, "snap2.jsonl")) as f:
            self.assertEqual(json.loads(f.read()),
                             {"customer_id": "c1", "customer__age": 4, "customer__score": None,
                              "customer__tags": None, "customer__blob": None})
        p = self.cli("export", "historical", "--features", "customer:age", "--out", out)
        self.assertEqual(p.returncode, 2, p.stderr)


if __name__ == "__main__":
    unittest.main()
