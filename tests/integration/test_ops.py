"""Health, readiness, metrics, and clean shutdown."""
import re
import unittest

from harness import DaemonTest


class OpsTest(DaemonTest):
    def test_health_ready(self):
        self.assertEqual(self.call("GET", "/healthz"), (200, {"status": "ok"}))
        self.assertEqual(self.call("GET", "/readyz")[0], 200)

    def test_metrics_count_routes_and_values(self):
        self.call("POST", "/v1/entities", {"name": "customer"})
        self.call("POST", "/v1/entities/customer/features", {"name": "age", "type": "INT64"})
        self.call("POST", "/v1/entities/customer:write",
                  {"rows": [{"entity_id": f"c{i}", "values": {"age": i}} for i in range(7)]})
        for _ in range(3):
            self.call("GET", "/v1/entities/customer/values/c1")
        self.call("GET", "/v1/entities/customer/values/" + "x" * 300)
        s, h, data = self.d.request("GET", "/metrics")
        self.assertEqual(s, 200)
        self.assertTrue(h["Content-Type"].startswith("text/plain"))
        text = data.decode()
        self.assertIn("strata_values_written_total 7\n", text)
        route = 'route="GET /v1/entities/{}/values/{}"'
        self.assertIn('strata_http_requests_total{%s,code="2xx"} 3' % route, text)
        self.assertIn('strata_http_requests_total{%s,code="4xx"} 1' % route, text)
        m = re.search(r'strata_http_request_duration_seconds_count\{%s\} (\d+)' % re.escape(route),
                      text)
        self.assertEqual(int(m.group(1)), 4)
        self.assertRegex(text, r'strata_store_bytes\{component="memtable"\} \d+')
        self.assertIn("strata_build_info{build_id=", text)


if __name__ == "__main__":
    unittest.main()
