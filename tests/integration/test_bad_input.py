"""Bad input gets the contract's status, a message naming the problem, and
changes nothing; the daemon keeps serving."""
import json
import socket
import unittest

from harness import Daemon, DaemonTest


class BadInputTest(DaemonTest):
    daemon_args = ("--max-body-bytes", "65536", "--max-values-per-write", "50")

    def setUp(self):
        super().setUp()
        self.call("POST", "/v1/entities", {"name": "customer"})
        self.call("POST", "/v1/entities/customer/features", {"features": [
            {"name": "age", "type": "INT64"}, {"name": "city", "type": "STRING"},
            {"name": "emb", "type": "DOUBLE_ARRAY"}, {"name": "blob", "type": "BYTES"}]})

    def assertNothingStored(self, *ids):
        for i in ids or ("c1",):
            s, doc = self.call("GET", f"/v1/entities/customer/values/{i}")
            self.assertEqual(s, 200, doc)
            for f, v in doc["features"].items():
                self.assertEqual(v["status"], "NOT_FOUND", (i, f, v))
        self.assertEqual(self.call("GET", "/healthz")[0], 200)

    def write_raw(self, body, ctype="application/json"):
        s, _, data = self.d.request("POST", "/v1/entities/customer:write", body=body,
                                    headers={"Content-Type": ctype})
        return s, json.loads(data)

    def test_malformed_json(self):
        for body in [b'{"rows": [', b"not json", b"", b"[]", b'{"rows": {}}',
                     b'{"rows":[{"entity_id":"c1","values":{"age":1}}], "rows":[]}']:
            with self.subTest(body=body):
                s, doc = self.write_raw(body)
                self.assertEqual(s, 400, doc)
                self.assertEqual(doc["error"]["code"], "INVALID_ARGUMENT")
                self.assertTrue(doc["error"]["message"])
        self.assertNothingStored()

    def test_invalid_utf8(self):
        s, doc = self.write_raw(b'{"rows":[{"entity_id":"c\xff1","values":{"age":1}}]}')
        self.assertEqual(s, 400, doc)
        self.assertIn("UTF-8", doc["error"]["message"])
        s, doc = self.write_raw(b'{"rows":[{"entity_id":"c1","values":{"city":"\xc3\x28"}}]}')
        self.assertEqual(s, 400, doc)
        # Malformed JSON whose error quotes half a character (found by fuzz_json):
        # the error body is still UTF-8 JSON (write_raw parses it).
        s, doc = self.write_raw(b'{"versi\\\xee\x80\x80"}')
        self.assertEqual(s, 400, doc)
        self.assertIn("malformed JSON", doc["error"]["message"])
        self.assertNothingStored()

    def test_nul_and_bad_escapes_in_paths_and_queries(self):
        # A %00 in a path would cut a name short ("m%00x" naming "m", an audit
        # record that could not be read back); a malformed escape in a query
        # would make a parameter empty and its default apply.
        self.call("POST", "/v1/entities/customer:write",
                  {"rows": [{"entity_id": "c2", "values": {"age": 3}}]})
        for method, path in [("GET", "/v1/entities/customer/values/c2%00x"),
                             ("GET", "/v1/entities/customer%00x"),
                             ("DELETE", "/v1/entities/customer%00x?force=true"),
                             ("GET", "/v1/models/m%00x"),
                             ("GET", "/v1/features:search?q=%ZZ"),
                             ("GET", "/v1/jobs?kind=%ZZ"),
                             ("GET", "/v1/entities/customer/values/c2?features=%2")]:
            with self.subTest(path=path):
                self.assertError(self.call(method, path), 400, "INVALID_ARGUMENT",
                                 "percent-escape")
        self.assertEqual(self.call("GET", "/v1/entities/customer")[0], 200)
        s, doc = self.call("GET", "/v1/audit:verify")
        self.assertTrue(doc["ok"], doc)
        # Ids with a NUL byte are refused everywhere: a delete names them as
        # \u0000, which JSON parsing refuses, so one stored could never be erased.
        s, doc = self.write_raw(b'{"rows":[{"entity_id":"c3\\u0000x","values":{"age":1}}]}')
        self.assertEqual(s, 400, doc)
        self.assertNothingStored("c3")

    def test_wrong_types_name_each_row_and_write_nothing(self):
        rows = [{"entity_id": "c1", "values": {"age": 30}},
                {"entity_id": "c2", "values": {"age": "thirty"}},
                {"entity_id": "c3", "values": {"age": 1.5}},
                {"entity_id": "c4", "values": {"emb": [1.0, "x"]}},
                {"entity_id": "c5", "values": {"blob": "not base64!"}},
                {"entity_id": "c7", "values": {"nope": 1}},
                {"entity_id": "c8", "event_time": "yesterday", "values": {"age": 1}},
                {"entity_id": "", "values": {"age": 1}},
                {"entity_id": "x" * 300, "values": {"age": 1}},
                {"entity_id": "c9", "values": {}},
                "not an object"]
        err = self.assertError(self.call("POST", "/v1/entities/customer:write", {"rows": rows}),
                               400, "INVALID_ARGUMENT", "nothing was written")
        bad = {d["row"]: d["reason"] for d in err["details"]}
        self.assertEqual(sorted(bad), list(range(1, len(rows))))
        self.assertIn("age", bad[1])
        self.assertIn("INT64", bad[1])
        self.assertIn("nope", bad[5])
        self.assertIn("event_time", bad[6])
        self.assertIn("256", bad[8])
        self.assertNothingStored("c1", "c2", "c9")
        # An integer past int64 cannot even be parsed: the body is refused whole.
        self.assertError(self.call("POST", "/v1/entities/customer:write",
                                   {"rows": [{"entity_id": "c1", "values": {"age": 2 ** 63}}]}),
                         400, "INVALID_ARGUMENT", "integer")
        self.assertNothingStored("c1")

    def test_unknown_names(self):
        self.assertError(self.call("POST", "/v1/entities/nobody:write",
                                   {"rows": [{"entity_id": "c1", "values": {"age": 1}}]}),
                         404, "NOT_FOUND", "nobody")
        self.assertError(self.call("GET", "/v1/entities/nobody/values/c1"), 404, "NOT_FOUND",
                         "nobody")
        self.assertError(self.call("GET", "/v1/entities/customer/values/c1?features=age,nope"),
                         404, "NOT_FOUND", "nope")
        self.assertError(self.call("POST", "/v1/online:read",
                                   {"entity": "customer", "ids": ["c1"], "features": ["nope"]}),
                         404, "NOT_FOUND", "nope")
        self.assertError(self.call("GET", "/v1/nothing"), 404, "NOT_FOUND")
        self.assertEqual(self.call("PUT", "/v1/entities")[0], 405)

    def test_oversized_body(self):
        big = {"rows": [{"entity_id": "c1", "values": {"city": "x" * 70000}}]}
        self.assertError(self.call("POST", "/v1/entities/customer:write", big),
                         413, "RESOURCE_EXHAUSTED", "max_body_bytes")
        self.assertNothingStored()

    def test_oversized_chunked_body(self):
        sock = socket.create_connection(("127.0.0.1", self.d.port))
        head = (b"POST /v1/entities/customer:write HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 40000
        sock.sendall(head + b"%x\r\n" % len(chunk) + chunk + b"\r\n" +
                     b"%x\r\n" % len(chunk) + chunk + b"\r\n0\r\n\r\n")
        data = b""
        while True:
            got = sock.recv(65536)
            if not got:
                break
            data += got
        sock.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 413"), data[:200])
        self.assertIn(b"RESOURCE_EXHAUSTED", data)
        self.assertNothingStored()

    def test_too_many_values_and_ids(self):
        rows = [{"entity_id": f"c{i}", "values": {"age": i}} for i in range(51)]
        self.assertError(self.call("POST", "/v1/entities/customer:write", {"rows": rows}),
                         413, "RESOURCE_EXHAUSTED", "max_values_per_write")
        self.assertNothingStored("c0", "c50")
        ids = [f"c{i}" for i in range(1001)]
        self.assertError(self.call("POST", "/v1/online:read", {"entity": "customer", "ids": ids}),
                         413, "RESOURCE_EXHAUSTED", "1001")
        self.assertError(self.call("POST", "/v1/online:read",
                                   {"entity": "customer", "ids": ["x" * 300]}),
                         400, "INVALID_ARGUMENT", "256")
        self.assertError(self.call("GET", "/v1/entities/customer/values/" + "x" * 300),
                         400, "INVALID_ARGUMENT", "256")

    def test_garbage_http_gets_400_and_daemon_lives(self):
        sock = socket.create_connection(("127.0.0.1", self.d.port))
        sock.sendall(b"\x16\x03\x01garbage that is not http\r\n\r\n")
        data = sock.recv(65536)
        sock.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 400"), data[:100])
        self.assertEqual(self.call("GET", "/healthz")[0], 200)

    def test_huge_headers(self):
        sock = socket.create_connection(("127.0.0.1", self.d.port))
        sock.sendall(b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n")
        data = b""
        try:
            while True:
                got = sock.recv(65536)
                if not got:
                    break
                data += got
        except ConnectionResetError:
            pass
        sock.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 431"), data[:100])
        self.assertEqual(self.call("GET", "/healthz")[0], 200)

    def test_pipelined_requests_answered_in_order(self):
        sock = socket.create_connection(("127.0.0.1", self.d.port))
        req = b"GET /v1/entities/customer HTTP/1.1\r\nHost: x\r\n\r\n"
        sock.sendall(req + b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            got = sock.recv(65536)
            if not got:
                break
            data += got
        sock.close()
        first = data.find(b"customer")
        second = data.find(b'{"status":"ok"}')
        self.assertTrue(0 < first < second, data)


class ConfigFileTest(unittest.TestCase):
    def test_limits_from_config_file_and_bad_option(self):
        d = Daemon(config_text="# limits\nmax_ids_per_read = 2\n")
        try:
            d.start()
            d.call("POST", "/v1/entities", {"name": "e"})
            s, doc = d.call("POST", "/v1/online:read", {"entity": "e", "ids": ["a", "b", "c"]})
            self.assertEqual(s, 413, doc)
            self.assertIn("max_ids_per_read", doc["error"]["message"])
            d.stop()
        finally:
            d.cleanup()
        bad = Daemon(args=("--no-such-option", "1"))
        try:
            with self.assertRaises(RuntimeError) as cm:
                bad.start()
            self.assertIn("no-such-option", str(cm.exception))
        finally:
            bad.cleanup()

    def test_sizes_that_may_be_zero_and_sizes_that_may_not(self):
        d = Daemon(args=("--row-cache-mb", "0"))
        try:
            d.start()
            text = d.request("GET", "/metrics")[2].decode()
            self.assertIn("strata_rocksdb_row_cache_capacity_bytes 0\n", text)
            d.call("POST", "/v1/entities", {"name": "e"})
            d.call("POST", "/v1/entities/e/features", {"name": "n", "type": "INT64"})
            d.call("POST", "/v1/entities/e:write", {"rows": [{"entity_id": "a", "values": {"n": 1}}]})
            s, doc = d.call("GET", "/v1/entities/e/values/a")
            self.assertEqual((s, doc["features"]["n"]["value"]), (200, 1), doc)
            d.stop()
        finally:
            d.cleanup()
        for args, words in ((("--block-cache-mb", "0"), "block_cache_mb must be a positive integer"),
                            (("--row-cache-mb", "-1"), "row_cache_mb must be a non-negative integer"),
                            (("--row-cache-mb", str(1 << 60)), "row_cache_mb is too large")):
            bad = Daemon(args=args)
            try:
                with self.assertRaises(RuntimeError) as cm:
                    bad.start()
                self.assertIn(words, str(cm.exception))
            finally:
                bad.cleanup()


if __name__ == "__main__":
    unittest.main()
