"""Writes, version order, online reads, TTL status and deletes."""
import base64
import datetime
import unittest

from harness import DaemonTest


def ts(days_ago=0, seconds=0):
    t = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days_ago)
    t += datetime.timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


ALL_TYPES = [("b", "BOOL", True), ("i", "INT64", -9007199254740993), ("d", "DOUBLE", 0.1),
             ("s", "STRING", "héllo \"q\"\n"), ("y", "BYTES", base64.b64encode(b"\x00\xff").decode()),
             ("ia", "INT64_ARRAY", [1, -2, 3]), ("da", "DOUBLE_ARRAY", [0.5, 1.25]),
             ("sa", "STRING_ARRAY", ["a", "", "ü"])]


class ValuesTest(DaemonTest):
    def setUp(self):
        super().setUp()
        self.assertEqual(self.call("POST", "/v1/entities", {"name": "customer"})[0], 201)
        s, doc = self.call("POST", "/v1/entities/customer/features", {"features": [
            {"name": n, "type": t} for n, t, _ in ALL_TYPES] + [
            {"name": "age", "type": "INT64"}, {"name": "city", "type": "STRING"},
            {"name": "fresh", "type": "DOUBLE", "ttl_seconds": 3600}]})
        self.assertEqual(s, 201, doc)

    def write(self, rows, status=200):
        s, doc = self.call("POST", "/v1/entities/customer:write", {"rows": rows})
        self.assertEqual(s, status, doc)
        return doc

    def get(self, ident, features=None):
        q = f"?features={','.join(features)}" if features else ""
        s, doc = self.call("GET", f"/v1/entities/customer/values/{ident}{q}")
        self.assertEqual(s, 200, doc)
        return doc

    def test_feature_listed_twice_is_400(self):
        # GET's answer is a JSON object keyed by feature: a name twice would be
        # a duplicate key, which Strata refuses in what it is sent too.
        self.write([{"entity_id": "c1", "values": {"age": 3}}])
        for method, path, body in [
                ("GET", "/v1/entities/customer/values/c1?features=age,age", None),
                ("POST", "/v1/online:read",
                 {"entity": "customer", "ids": ["c1"], "features": ["age", "age"]})]:
            with self.subTest(method=method):
                self.assertError(self.call(method, path, body), 400, "INVALID_ARGUMENT",
                                 "listed twice")

    def test_every_type_round_trips(self):
        doc = self.write([{"entity_id": "c1", "values": {n: v for n, _, v in ALL_TYPES}}])
        self.assertEqual(doc["written_values"], len(ALL_TYPES))
        got = self.get("c1", [n for n, _, _ in ALL_TYPES])
        self.assertEqual(got["entity_id"], "c1")
        for n, _, v in ALL_TYPES:
            with self.subTest(feature=n):
                self.assertEqual(got["features"][n]["status"], "PRESENT")
                self.assertEqual(got["features"][n]["value"], v)

    def test_version_order_out_of_order_write_never_wins(self):
        self.write([{"entity_id": "c1", "event_time": "2024-01-02T00:00:00Z",
                     "values": {"age": 2}}])
        # An older event arriving later must not replace what online reads return.
        self.write([{"entity_id": "c1", "event_time": "2024-01-01T00:00:00Z",
                     "values": {"age": 1}}])
        got = self.get("c1", ["age"])["features"]["age"]
        self.assertEqual((got["value"], got["event_time"]), (2, "2024-01-02T00:00:00Z"))
        # Equal event time: the greater created_time wins, whatever the arrival order.
        self.write([{"entity_id": "c2", "event_time": "2024-01-01T00:00:00Z",
                     "created_time": "2024-01-05T00:00:00Z", "values": {"age": 5}}])
        self.write([{"entity_id": "c2", "event_time": "2024-01-01T00:00:00Z",
                     "created_time": "2024-01-04T00:00:00Z", "values": {"age": 4}}])
        self.assertEqual(self.get("c2", ["age"])["features"]["age"]["value"], 5)
        # Equal event and created time: the later write wins.
        same = {"event_time": "2024-01-01T00:00:00Z", "created_time": "2024-01-01T00:00:00Z"}
        self.write([dict(entity_id="c3", values={"age": 7}, **same)])
        self.write([dict(entity_id="c3", values={"age": 8}, **same)])
        self.assertEqual(self.get("c3", ["age"])["features"]["age"]["value"], 8)
        # ... also within one request.
        self.write([dict(entity_id="c4", values={"age": 1}, **same),
                    dict(entity_id="c4", values={"age": 2}, **same)])
        self.assertEqual(self.get("c4", ["age"])["features"]["age"]["value"], 2)

    def test_null_and_not_found_and_ttl(self):
        self.write([{"entity_id": "c1", "values": {"city": "Oslo"}},
                    {"entity_id": "c1", "event_time": ts(seconds=1), "values": {"city": None}},
                    {"entity_id": "c1", "event_time": ts(days_ago=1), "values": {"fresh": 1.5}},
                    {"entity_id": "c2", "event_time": ts(seconds=-60), "values": {"fresh": 2.5}}])
        f = self.get("c1", ["city", "age", "fresh"])["features"]
        self.assertEqual(f["city"]["status"], "NULL_VALUE")
        self.assertIsNone(f["city"]["value"])
        self.assertEqual(f["age"], {"value": None, "event_time": None, "status": "NOT_FOUND"})
        self.assertEqual(f["fresh"]["status"], "OUTSIDE_MAX_AGE")
        self.assertIsNone(f["fresh"]["value"])
        f2 = self.get("c2", ["fresh"])["features"]["fresh"]
        self.assertEqual((f2["status"], f2["value"]), ("PRESENT", 2.5))
        # An id never written: every feature NOT_FOUND.
        f3 = self.get("nobody")["features"]
        self.assertTrue(all(v["status"] == "NOT_FOUND" for v in f3.values()))
        self.assertEqual(len(f3), len(ALL_TYPES) + 3)

    def test_online_read_batch_in_request_order(self):
        self.write([{"entity_id": f"c{i}", "values": {"age": i, "city": f"city{i}"}}
                    for i in range(5)])
        ids = ["c3", "zz", "c0", "c3"]
        s, doc = self.call("POST", "/v1/online:read",
                           {"entity": "customer", "ids": ids, "features": ["city", "age"]})
        self.assertEqual(s, 200, doc)
        self.assertEqual(doc["features"], ["city", "age"])
        self.assertEqual([r["entity_id"] for r in doc["rows"]], ids)
        self.assertEqual(doc["rows"][0]["values"], ["city3", 3])
        self.assertEqual(doc["rows"][1]["values"], [None, None])
        self.assertEqual(doc["rows"][1]["statuses"], ["NOT_FOUND", "NOT_FOUND"])
        self.assertEqual(doc["rows"][1]["event_times"], [None, None])
        self.assertEqual(doc["rows"][2]["statuses"], ["PRESENT", "PRESENT"])
        self.assertEqual(doc["rows"][3], doc["rows"][0])

    def test_online_read_agrees_with_get_on_merged_rows(self):
        # Rows made of several merge operands (three writes, one out of
        # order), read in one batch with duplicates and misses, must answer
        # what a GET of each id answers.
        ids = [f"m{i}" for i in range(40)]
        self.write([{"entity_id": i, "event_time": "2024-01-02T00:00:00Z",
                     "values": {"age": k, "city": f"a{k}"}} for k, i in enumerate(ids)])
        self.write([{"entity_id": i, "event_time": "2024-01-01T00:00:00Z",
                     "values": {"age": -k, "d": k / 7}} for k, i in enumerate(ids) if k % 2])
        self.write([{"entity_id": i, "event_time": "2024-01-03T00:00:00Z",
                     "values": {"city": None}} for k, i in enumerate(ids) if k % 3 == 0])
        asked = ids + ["nobody", ids[5], ids[0]]
        feats = ["age", "city", "d"]
        s, doc = self.call("POST", "/v1/online:read",
                           {"entity": "customer", "ids": asked, "features": feats})
        self.assertEqual(s, 200, doc)
        for ident, row in zip(asked, doc["rows"]):
            with self.subTest(id=ident):
                one = self.get(ident, feats)["features"]
                self.assertEqual(row["values"], [one[f]["value"] for f in feats])
                self.assertEqual(row["statuses"], [one[f]["status"] for f in feats])
                self.assertEqual(row["event_times"], [one[f]["event_time"] for f in feats])
        self.assertEqual(doc["rows"][3]["values"], [3, None, 3 / 7])

    def test_ids_with_odd_characters(self):
        odd = "a/b?c%d e:f#ü"
        self.write([{"entity_id": odd, "values": {"age": 42}}])
        from urllib.parse import quote
        got = self.get(quote(odd, safe=""), ["age"])
        self.assertEqual(got["entity_id"], odd)
        self.assertEqual(got["features"]["age"]["value"], 42)

    def test_delete_by_ids(self):
        self.write([{"entity_id": "c1", "values": {"age": 1}},
                    {"entity_id": "c2", "values": {"age": 2}}])
        s, doc = self.call("POST", "/v1/entities/customer:delete", {"entity_ids": ["c1"]})
        self.assertEqual(s, 200, doc)
        self.assertEqual(doc["deleted_versions"], 1)
        self.assertEqual(self.get("c1", ["age"])["features"]["age"]["status"], "NOT_FOUND")
        self.assertEqual(self.get("c2", ["age"])["features"]["age"]["value"], 2)

    def test_delete_by_time_range_rebuilds_latest(self):
        self.write([{"entity_id": "c1", "event_time": "2024-01-01T00:00:00Z", "values": {"age": 1}},
                    {"entity_id": "c1", "event_time": "2024-02-01T00:00:00Z", "values": {"age": 2}},
                    {"entity_id": "c1", "event_time": "2024-02-01T00:00:00Z",
                     "values": {"city": "x"}}])
        s, doc = self.call("POST", "/v1/entities/customer:delete", {
            "features": ["age"], "start_time": "2024-01-15T00:00:00Z",
            "end_time": "2024-03-01T00:00:00Z"})
        self.assertEqual(s, 200, doc)
        self.assertEqual(doc["deleted_versions"], 1)
        f = self.get("c1", ["age", "city"])["features"]
        self.assertEqual((f["age"]["value"], f["age"]["event_time"]), (1, "2024-01-01T00:00:00Z"))
        self.assertEqual(f["city"]["value"], "x")

    def test_ints_into_double_and_integral_checks(self):
        self.write([{"entity_id": "c1", "values": {"d": 3}}])
        self.assertEqual(self.get("c1", ["d"])["features"]["d"]["value"], 3.0)


if __name__ == "__main__":
    unittest.main()
