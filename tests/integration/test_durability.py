"""Registry and values survive a restart; an acknowledged write survives kill -9."""
import unittest

from harness import Daemon


class DurabilityTest(unittest.TestCase):
    def setUp(self):
        self.d = Daemon()
        self.d.start()

    def tearDown(self):
        try:
            self.d.stop()
        finally:
            self.d.cleanup()

    def seed(self):
        self.d.call("POST", "/v1/entities", {"name": "customer", "labels": {"a": "b"}})
        self.d.call("POST", "/v1/entities/customer/features",
                    {"name": "age", "type": "INT64", "ttl_seconds": 0})

    def test_restart_keeps_registry_and_values(self):
        self.seed()
        s, doc = self.d.call("POST", "/v1/entities/customer:write",
                             {"rows": [{"entity_id": "c1", "values": {"age": 41}}]})
        self.assertEqual(s, 200, doc)
        self.d.restart()
        s, doc = self.d.call("GET", "/v1/entities/customer")
        self.assertEqual(doc["entity"]["labels"], {"a": "b"})
        self.assertEqual(doc["entity"]["features"][0]["name"], "age")
        s, doc = self.d.call("GET", "/v1/entities/customer/values/c1")
        self.assertEqual(doc["features"]["age"]["value"], 41)
        # New features after restart get fresh ids: old values stay with "age".
        s, doc = self.d.call("POST", "/v1/entities/customer/features",
                             {"name": "height", "type": "INT64"})
        self.assertEqual(s, 201, doc)
        s, doc = self.d.call("GET", "/v1/entities/customer/values/c1")
        self.assertEqual(doc["features"]["height"]["status"], "NOT_FOUND")
        # Writes after restart still order after writes before it (write seq).
        same = {"event_time": "2024-01-01T00:00:00Z", "created_time": "2024-01-01T00:00:00Z"}
        self.d.call("POST", "/v1/entities/customer:write",
                    {"rows": [dict(entity_id="c2", values={"age": 1}, **same)]})
        self.d.restart()
        self.d.call("POST", "/v1/entities/customer:write",
                    {"rows": [dict(entity_id="c2", values={"age": 2}, **same)]})
        s, doc = self.d.call("GET", "/v1/entities/customer/values/c2")
        self.assertEqual(doc["features"]["age"]["value"], 2)

    def test_kill9_right_after_acknowledged_writes(self):
        self.seed()
        for i in range(200):
            s, doc = self.d.call("POST", "/v1/entities/customer:write",
                                 {"rows": [{"entity_id": f"c{i}", "values": {"age": i}}]})
            self.assertEqual(s, 200, doc)
        self.d.kill9()
        self.d.start()
        ids = [f"c{i}" for i in range(200)]
        s, doc = self.d.call("POST", "/v1/online:read",
                             {"entity": "customer", "ids": ids, "features": ["age"]})
        self.assertEqual(s, 200, doc)
        self.assertEqual([r["values"][0] for r in doc["rows"]], list(range(200)))

    def test_locked_data_dir_is_refused_clearly(self):
        other = Daemon(data_dir=self.d.data_dir)
        try:
            with self.assertRaises(RuntimeError) as cm:
                other.start(timeout=10)
            self.assertIn("lock", str(cm.exception).lower())
        finally:
            other.cleanup()


if __name__ == "__main__":
    unittest.main()
