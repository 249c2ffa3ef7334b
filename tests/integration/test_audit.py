"""The audit log: every state-changing request chained by SHA-256, listed,
paged, verified, and tampering detected at the record that was changed."""
import datetime
import hashlib
import json
import os
import struct
import subprocess
import unittest

from harness import DaemonTest

STORE_POKE = os.environ.get("STORE_POKE", "store_poke")
STRATA_CLI = os.environ.get("STRATA_CLI", "strata")


class AuditTest(DaemonTest):
    def changes(self):
        self.assertEqual(self.call("POST", "/v1/entities", {"name": "customer"})[0], 201)
        self.assertEqual(self.call("POST", "/v1/entities/customer/features",
                                   {"name": "age", "type": "INT64"})[0], 201)
        self.assertEqual(self.call("POST", "/v1/entities/customer:write",
                                   {"rows": [{"entity_id": "c1", "values": {"age": 1}}]})[0], 200)
        # Refused requests changed nothing and are not recorded; reads neither.
        self.assertEqual(self.call("POST", "/v1/entities/customer:write",
                                   {"rows": [{"entity_id": "c1", "values": {"age": "x"}}]})[0], 400)
        self.assertEqual(self.call("GET", "/v1/entities/customer")[0], 200)
        # A POST that only reads is not a change either.
        self.assertEqual(self.call("POST", "/v1/online:read",
                                   {"entity": "customer", "ids": ["c1"]})[0], 200)
        self.assertEqual(self.call("POST", "/v1/entities/customer:delete",
                                   {"entity_ids": ["c1"]})[0], 200)

    def records(self, q=""):
        s, doc = self.call("GET", "/v1/audit" + q)
        self.assertEqual(s, 200, doc)
        return doc

    def test_chain_lists_and_verifies(self):
        self.changes()
        recs = self.records()["records"]
        self.assertEqual([r["seq"] for r in recs], [1, 2, 3, 4])
        self.assertEqual([r["action"] for r in recs], [
            "POST /v1/entities", "POST /v1/entities/{}/features",
            "POST /v1/entities/{}:write", "POST /v1/entities/{}:delete"])
        self.assertEqual(recs[2]["target"], "customer")
        self.assertEqual(recs[0]["principal"], "anonymous")
        self.assertEqual(recs[0]["prev_digest"], "0" * 64)
        for a, b in zip(recs, recs[1:]):
            self.assertEqual(b["prev_digest"], a["digest"])
        s, v = self.call("GET", "/v1/audit:verify")
        self.assertEqual(v["ok"], True, v)
        self.assertEqual(v["records_checked"], 4)
        self.assertEqual(v["head_digest"], recs[-1]["digest"])
        # Paging and since_seq.
        page = self.records("?page_size=3")
        self.assertEqual(len(page["records"]), 3)
        rest = self.records("?page_size=3&page_token=" + page["next_page_token"])
        self.assertEqual([r["seq"] for r in rest["records"]], [4])
        self.assertEqual(rest["next_page_token"], "")
        self.assertEqual([r["seq"] for r in self.records("?since_seq=3")["records"]], [3, 4])
        self.assertError(self.call("GET", "/v1/audit?since_seq=x"), 400, "INVALID_ARGUMENT")
        self.assertError(self.call("GET", "/v1/audit?since_seq=2&page_token="
                                   + page["next_page_token"]), 400, "INVALID_ARGUMENT")

    def test_chain_continues_across_restart(self):
        self.changes()
        head = self.records()["records"][-1]
        self.d.restart()
        self.call("POST", "/v1/entities", {"name": "driver"})
        recs = self.records("?since_seq=5")["records"]
        self.assertEqual(recs[0]["seq"], 5)
        self.assertEqual(recs[0]["prev_digest"], head["digest"])
        self.assertTrue(self.call("GET", "/v1/audit:verify")[1]["ok"])

    def test_streamed_export_is_recorded_with_its_real_status(self):
        # A streamed export names its status once its first rows are read:
        # refused (400), it changed nothing and is not recorded; answered, it
        # is recorded with its 200.
        self.changes()
        body = {"instances": {"inline": "customer_id,ts\n,2024-06-01T00:00:00Z\n"},
                "timestamp_column": "ts", "features": ["customer:age"]}
        s, _, data = self.d.request("POST", "/v1/exports:historical", body=json.dumps(body))
        self.assertEqual(s, 400, data)
        self.assertEqual([r["seq"] for r in self.records()["records"]], [1, 2, 3, 4])
        body["instances"]["inline"] = "customer_id,ts\nc1,2024-06-01T00:00:00Z\n"
        s, _, data = self.d.request("POST", "/v1/exports:historical", body=json.dumps(body))
        self.assertEqual(s, 200, data)
        last = self.records()["records"][-1]
        self.assertEqual((last["seq"], last["action"], last["status"]),
                         (5, "POST /v1/exports:historical", 200))
        self.assertTrue(self.call("GET", "/v1/audit:verify")[1]["ok"])

    def test_value_deletes_say_what_they_removed(self):
        self.changes()  # its delete: entity_ids ["c1"], one version
        self.call("POST", "/v1/entities/customer:write", {"rows": [
            {"entity_id": i, "event_time": "2024-01-02T00:00:00Z", "values": {"age": 1}}
            for i in ("id-alice", "id-bob", "id-carol")]})
        ids = ["id-bob", "id-alice", "id-bob", "nobody"]  # repeats and unknown ids count once
        s, doc = self.call("POST", "/v1/entities/customer:delete", {"entity_ids": ids})
        self.assertEqual((s, doc), (200, {"deleted_versions": 2}))
        s, doc = self.call("POST", "/v1/entities/customer:delete", {
            "features": ["age"], "start_time": "2024-01-01T00:00:00Z",
            "end_time": "2024-02-01T00:00:00Z"})
        self.assertEqual((s, doc), (200, {"deleted_versions": 1}))
        recs = self.records()["records"]

        # Whoever holds the list of ids can check the record: SHA-256 over the
        # distinct ids in byte order, each a u32 big-endian length then its
        # bytes. The log itself keeps no id that was to be forgotten.
        def digest(ids):
            h = hashlib.sha256()
            for i in sorted(set(x.encode() for x in ids)):
                h.update(struct.pack(">I", len(i)) + i)
            return h.hexdigest()
        self.assertEqual(recs[3]["detail"], {"entity_ids": 1, "entity_ids_sha256": digest(["c1"]),
                                             "deleted_versions": 1})
        self.assertEqual(recs[-2]["detail"], {"entity_ids": 3,
                                              "entity_ids_sha256": digest(ids),
                                              "deleted_versions": 2})
        self.assertNotIn("id-alice", json.dumps(recs[-2]))
        self.assertEqual(recs[-1]["detail"], {
            "features": ["age"], "start_time": "2024-01-01T00:00:00Z",
            "end_time": "2024-02-01T00:00:00Z", "deleted_versions": 1})
        self.assertNotIn("detail", recs[0])  # other changes say no more than before
        self.assertTrue(self.call("GET", "/v1/audit:verify")[1]["ok"])
        # An auditor recomputes every digest outside Strata, as docs/api.md
        # defines it (the detail, when there is one, as compact sorted JSON).
        prev = "0" * 64
        for r in recs:
            fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if "." in r["time"] else "%Y-%m-%dT%H:%M:%SZ"
            t = datetime.datetime.strptime(r["time"], fmt).replace(tzinfo=datetime.timezone.utc)
            us = (t - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)) \
                // datetime.timedelta(microseconds=1)
            fields = [prev, str(r["seq"]), str(us), r["principal"], r["action"], r["target"],
                      str(r["status"])]
            if "detail" in r:
                fields.append(json.dumps(r["detail"], separators=(",", ":"), sort_keys=True))
            h = hashlib.sha256()
            for f in fields:
                h.update(struct.pack(">I", len(f.encode())) + f.encode())
            self.assertEqual((r["prev_digest"], r["digest"]), (prev, h.hexdigest()), r)
            prev = r["digest"]
        # The detail is chained like every other field.
        self.d.stop()
        seq = str(recs[-2]["seq"])
        rec = json.loads(self.poke(seq, "get"))
        rec["detail"]["deleted_versions"] = 0
        self.poke(seq, "set", json.dumps(rec, separators=(",", ":")))
        self.d.start()
        v = self.call("GET", "/v1/audit:verify")[1]
        self.assertEqual((v["ok"], v["first_bad_seq"]), (False, recs[-2]["seq"]), v)

    def poke(self, *args):
        return subprocess.run([STORE_POKE, self.d.data_dir, "audit", *args],
                              capture_output=True, text=True, check=True).stdout

    def test_tampering_is_detected_at_the_changed_record(self):
        self.changes()
        self.d.stop()
        rec = json.loads(self.poke("2", "get"))
        rec["target"] = "someone_else"
        self.poke("2", "set", json.dumps(rec, separators=(",", ":")))
        self.d.start()
        s, v = self.call("GET", "/v1/audit:verify")
        self.assertEqual(s, 200)
        self.assertEqual(v["ok"], False, v)
        self.assertEqual(v["first_bad_seq"], 2)
        self.assertEqual(v["records_checked"], 1)

    def cli(self, *args):
        return subprocess.run([STRATA_CLI, "--url", f"http://127.0.0.1:{self.d.port}", *args],
                              capture_output=True, text=True)

    def test_cli_log_and_verify(self):
        self.changes()
        r = self.cli("audit", "log")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("POST /v1/entities/{}:write", r.stdout)
        self.assertEqual(len(r.stdout.strip().splitlines()), 5)  # header + 4
        r = self.cli("--json", "audit", "log", "--since", "2", "--limit", "2")
        self.assertEqual([x["seq"] for x in json.loads(r.stdout)["records"]], [2, 3])
        r = self.cli("audit", "verify")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("intact: 4 records", r.stdout)
        self.d.stop()
        self.poke("4", "set", '{"seq":4}')
        self.d.start()
        r = self.cli("audit", "verify")
        self.assertEqual(r.returncode, 1)
        self.assertIn("seq 4", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_deleted_record_is_detected(self):
        self.changes()
        self.d.stop()
        self.poke("3", "delete")
        self.d.start()
        v = self.call("GET", "/v1/audit:verify")[1]
        self.assertEqual((v["ok"], v["first_bad_seq"]), (False, 3))


if __name__ == "__main__":
    unittest.main()
