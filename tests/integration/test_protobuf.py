"""Online writes and reads in protobuf (serving/strata.proto), checked with an
independent wire-format codec (pbwire.py)."""
import http.client
import struct
import unittest

import pbwire as pb
from harness import DaemonTest

PB = "application/x-protobuf"


class ProtobufTest(DaemonTest):
    def setUp(self):
        super().setUp()
        self.call("POST", "/v1/entities", {"name": "customer"})
        self.call("POST", "/v1/entities/customer/features", {"features": [
            {"name": "age", "type": "INT64"}, {"name": "city", "type": "STRING"},
            {"name": "emb", "type": "DOUBLE_ARRAY"}, {"name": "score", "type": "DOUBLE"}]})

    def post_pb(self, path, body, accept=PB):
        return self.d.request("POST", path, body=body,
                              headers={"Content-Type": PB, "Accept": accept})

    def test_write_then_read_in_protobuf_and_json(self):
        body = pb.write_request([
            ("c1", 1704067200000000, {"age": pb.v_int64(-31), "city": pb.v_string("Zürich"),
                                      "emb": pb.v_double_array([0.25, -1.5])}),
            ("c2", 0, {"score": pb.v_int64(3)})])
        s, h, data = self.post_pb("/v1/entities/customer:write", body)
        self.assertEqual(s, 200, data)
        self.assertEqual(h["Content-Type"], PB)
        self.assertEqual(pb.decode(data)[1], [4])  # written_values

        # JSON sees exactly what protobuf wrote.
        s, doc = self.call("GET", "/v1/entities/customer/values/c1?features=age,city,emb")
        f = doc["features"]
        self.assertEqual(f["age"]["value"], -31)
        self.assertEqual(f["age"]["event_time"], "2024-01-01T00:00:00Z")
        self.assertEqual(f["city"]["value"], "Zürich")
        self.assertEqual(f["emb"]["value"], [0.25, -1.5])

        s, h, data = self.post_pb("/v1/online:read",
                                  pb.read_request("customer", ["c1", "zz"], ["age", "emb", "score"]))
        self.assertEqual(s, 200, data)
        msg = pb.decode(data)
        self.assertEqual([x.decode() for x in msg[1]], ["age", "emb", "score"])
        rows = [pb.decode(r) for r in msg[2]]
        self.assertEqual(rows[0][1], [b"c1"])
        vals = [pb.decode(v) for v in rows[0][2]]
        self.assertEqual(pb.signed(vals[0][2][0]), -31)
        arr = pb.decode(vals[1][7][0])[1][0]
        self.assertEqual(struct.unpack("<2d", arr), (0.25, -1.5))
        self.assertEqual(vals[2], {})  # NOT_FOUND: no kind set
        # statuses are packed: PRESENT, PRESENT, NOT_FOUND
        self.assertEqual(list(rows[0][3][0]), [1, 1, 3])
        self.assertEqual(rows[1][1], [b"zz"])
        self.assertEqual(list(rows[1][3][0]), [3, 3, 3])

    def test_get_one_in_protobuf(self):
        self.post_pb("/v1/entities/customer:write",
                     pb.write_request([("c1", 0, {"score": pb.v_double(2.5)})]))
        s, h, data = self.d.request("GET", "/v1/entities/customer/values/c1?features=score",
                                    headers={"Accept": PB})
        self.assertEqual(s, 200)
        msg = pb.decode(data)
        self.assertEqual(msg[1], [b"c1"])
        entry = pb.decode(msg[2][0])
        self.assertEqual(entry[1], [b"score"])
        fv = pb.decode(entry[2][0])
        self.assertEqual(struct.unpack("<d", pb.decode(fv[1][0])[3][0])[0], 2.5)
        self.assertEqual(fv[3], [1])

    def test_bad_protobuf_is_400_and_writes_nothing(self):
        for body in [b"\xff\xff\xff\xff", b"\x0a\x80\x80\x80\x80\x10",
                     pb.write_request([("c1", 0, {"age": pb.v_string("x")})]),
                     pb.write_request([("c1", 0, {"nope": pb.v_int64(1)})]),
                     pb.write_request([("x" * 300, 0, {"age": pb.v_int64(1)})]),
                     # NaN and infinity, which JSON and CSV cannot carry either.
                     pb.write_request([("c1", 0, {"score": pb.v_double(float("nan"))})]),
                     pb.write_request([("c1", 0, {"score": pb.v_double(float("-inf"))})]),
                     pb.write_request([("c1", 0, {"emb": pb.v_double_array([1.0, float("inf")])})])]:
            with self.subTest(body=body[:20]):
                s, _, data = self.post_pb("/v1/entities/customer:write", body)
                self.assertEqual(s, 400, data)
                self.assertIn(b"INVALID_ARGUMENT", data)
        s, doc = self.call("GET", "/v1/entities/customer/values/c1")
        self.assertTrue(all(v["status"] == "NOT_FOUND" for v in doc["features"].values()))

    def test_nul_in_a_string_field_is_400_and_changes_nothing(self):
        # protobuf-c gives strings as C strings: "c1\0x" would arrive as "c1",
        # another entity's id. Refused wherever a string field holds a NUL.
        s, _, data = self.post_pb("/v1/entities/customer:write",
                                  pb.write_request([("c1", 0, {"age": pb.v_int64(7)})]))
        self.assertEqual(s, 200, data)
        for body in [pb.write_request([("c1\0x", 0, {"age": pb.v_int64(-999)})]),
                     pb.write_request([("c1", 0, {"age\0x": pb.v_int64(-999)})]),
                     pb.write_request([("c1", 0, {"city": pb.v_string("a\0b")})])]:
            with self.subTest(body=body):
                s, _, data = self.post_pb("/v1/entities/customer:write", body)
                self.assertEqual(s, 400, data)
                self.assertIn(b"NUL", data)
        for body in [pb.read_request("customer\0x", ["c1"], []),
                     pb.read_request("customer", ["c1\0x"], []),
                     pb.read_request("customer", ["c1"], ["age\0x"])]:
            with self.subTest(body=body):
                s, _, data = self.post_pb("/v1/online:read", body)
                self.assertEqual(s, 400, data)
                self.assertIn(b"NUL", data)
        s, doc = self.call("GET", "/v1/entities/customer/values/c1?features=age,city")
        self.assertEqual((doc["features"]["age"]["value"], doc["features"]["city"]["status"]),
                         (7, "NOT_FOUND"))

    def test_accept_negotiation_on_the_wire(self):
        # Two Accept headers are one list; q=0 refuses protobuf.
        port = self.d.port
        for accepts, want in [(["application/json;q=0.5", PB], PB),
                              (["application/json", PB + ";q=0"], "application/json"),
                              ([PB + "\t;q=0.9"], PB)]:
            with self.subTest(accepts=accepts):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.putrequest("GET", "/v1/entities/customer/values/c1")
                for a in accepts:
                    conn.putheader("Accept", a)
                conn.endheaders()
                r = conn.getresponse()
                r.read()
                self.assertEqual((r.status, r.getheader("Content-Type")), (200, want))
                conn.close()

    def test_read_without_entity_is_400(self):
        # proto3 cannot tell an empty string from an absent one: as in JSON,
        # a read that names no entity is a malformed request, not a 404.
        for body in [b"", pb.read_request("", ["c1"], [])]:
            with self.subTest(body=body):
                s, _, data = self.post_pb("/v1/online:read", body)
                self.assertEqual(s, 400, data)
                self.assertIn(b"entity", data)
        self.assertError(self.call("POST", "/v1/online:read", {"entity": "", "ids": ["c1"]}),
                         400, "INVALID_ARGUMENT", "entity")


if __name__ == "__main__":
    unittest.main()
