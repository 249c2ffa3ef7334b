"""Health, readiness, metrics, and clean shutdown."""
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import harness
from harness import DaemonTest


def gauge(text, name):
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    if not m:
        raise AssertionError(f"{name} not in /metrics")
    return float(m.group(1))


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


@unittest.skipIf(harness.STRATAD_WRAPPER, "a wrapper (valgrind) serialises the threads")
class WorkerPriorityTest(unittest.TestCase):
    """--worker-rt-priority: the HTTP workers and the acceptor run under
    SCHED_FIFO and nothing else does, or, where the user may not, the daemon
    refuses to start and says why."""

    def test_workers_fifo_or_refused(self):
        d = harness.Daemon(args=["--worker-rt-priority", "3"])
        self.addCleanup(d.cleanup)
        if not harness.fifo_permitted(3):
            with self.assertRaisesRegex(RuntimeError, "stratad exited with 1: .*"
                                        "worker_rt_priority 3: not permitted"):
                d.start(timeout=10)
            return
        d.start()
        self.addCleanup(d.stop)
        s, _ = d.call("POST", "/v1/entities", {"name": "customer"})
        self.assertEqual(s, 201)
        threads = harness.thread_scheduling(d.proc.pid)
        serving = [t for t in threads if t[0] in ("http-worker", "http-accept")]
        self.assertEqual(sorted(t[0] for t in serving), ["http-accept", "http-worker",
                                                         "http-worker"])
        for name, policy, prio in threads:
            if name in ("http-worker", "http-accept"):
                self.assertEqual((policy, prio), (1, 3), name)
            else:
                self.assertEqual(policy, 0, f"{name} runs under policy {policy}")
        self.assertEqual(d.call("GET", "/healthz"), (200, {"status": "ok"}))

    def test_default_is_normal(self):
        d = harness.Daemon()
        self.addCleanup(d.cleanup)
        d.start()
        self.addCleanup(d.stop)
        threads = harness.thread_scheduling(d.proc.pid)
        self.assertIn("http-worker", [t[0] for t in threads])
        self.assertEqual({t[1] for t in threads}, {0})

    def test_bad_priority_refused(self):
        for bad in ("100", "-1", "x", "1.5"):
            r = subprocess.run([harness.STRATAD, "--worker-rt-priority", bad],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 2, bad)
            self.assertIn("worker_rt_priority must be 0 (off) or a SCHED_FIFO priority 1-99",
                          r.stderr)


class StoreBacklogMetricsTest(unittest.TestCase):
    """RocksDB's backlog gauges (what makes writes wait) and the WAL fsync
    timings: a checkpoint flushes the memtables, which shows as level-0 files."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="strata-metrics-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.d = harness.Daemon(args=["--checkpoint-dir", os.path.join(self.tmp, "cp"),
                                      "--sync", "batch", "--block-cache-mb", "16"]).start()
        self.addCleanup(self.d.cleanup)

    def metrics(self):
        s, _, data = self.d.request("GET", "/metrics")
        self.assertEqual(s, 200)
        return data.decode()

    def test_level0_files_and_wal_syncs(self):
        text = self.metrics()
        for name in ('strata_rocksdb_immutable_memtables', 'strata_rocksdb_pending_compaction_bytes',
                     'strata_rocksdb_running{job="flush"}', 'strata_rocksdb_running{job="compaction"}',
                     'strata_rocksdb_write_stopped', 'strata_rocksdb_delayed_write_rate_bytes'):
            self.assertGreaterEqual(gauge(text, name), 0)
        self.assertEqual(gauge(text, "strata_rocksdb_write_stopped"), 0)
        l0_before = gauge(text, 'strata_rocksdb_l0_files{scope="all"}')
        self.d.call("POST", "/v1/entities", {"name": "c"})
        self.d.call("POST", "/v1/entities/c/features", {"name": "n", "type": "INT64"})
        s, doc = self.d.call("POST", "/v1/entities/c:write",
                             {"rows": [{"entity_id": f"i{k}", "values": {"n": k}} for k in range(50)]})
        self.assertEqual(s, 200, doc)
        # sync = batch: a background fsync within ~100 ms of the write.
        deadline = time.monotonic() + harness.scaled(10)
        while gauge(self.metrics(), "strata_wal_syncs_total") < 1:
            self.assertLess(time.monotonic(), deadline, "no WAL fsync after a write")
            time.sleep(0.05)
        text = self.metrics()
        self.assertGreater(gauge(text, "strata_wal_sync_seconds_total"), 0)
        self.assertGreaterEqual(gauge(text, "strata_wal_sync_seconds_max"),
                                gauge(text, "strata_wal_sync_seconds_total") /
                                gauge(text, "strata_wal_syncs_total"))
        s, doc = self.d.call("POST", "/v1/admin:checkpoint", {"path": "snap"})
        self.assertIn(s, (200, 201), doc)
        text = self.metrics()
        l0_all = gauge(text, 'strata_rocksdb_l0_files{scope="all"}')
        l0_max = gauge(text, 'strata_rocksdb_l0_files{scope="max_cf"}')
        self.assertGreater(l0_all, l0_before)  # the flushed memtables
        self.assertGreaterEqual(l0_max, 1)
        self.assertLessEqual(l0_max, l0_all)
        # Memory: reading the flushed values goes through the block cache, and
        # the rows read land in the row cache (64 MiB by default).
        cache_before = gauge(text, 'strata_rocksdb_memory_bytes{component="block_cache"}')
        rows_before = gauge(text, 'strata_rocksdb_memory_bytes{component="row_cache"}')
        for k in range(0, 50, 7):
            s, doc = self.d.call("GET", f"/v1/entities/c/values/i{k}")
            self.assertEqual(s, 200, doc)
            self.assertEqual(doc["features"]["n"]["value"], k)
        text = self.metrics()
        cap = gauge(text, "strata_rocksdb_block_cache_capacity_bytes")
        self.assertEqual(cap, 16 << 20)
        cache = gauge(text, 'strata_rocksdb_memory_bytes{component="block_cache"}')
        self.assertGreater(cache, cache_before)
        self.assertLessEqual(cache, cap)
        self.assertLessEqual(gauge(text, 'strata_rocksdb_memory_bytes{component="block_cache_pinned"}'),
                             cache)
        self.assertGreaterEqual(gauge(text, 'strata_rocksdb_memory_bytes{component="table_readers"}'), 0)
        self.assertEqual(gauge(text, "strata_rocksdb_row_cache_capacity_bytes"), 64 << 20)
        rows = gauge(text, 'strata_rocksdb_memory_bytes{component="row_cache"}')
        self.assertGreater(rows, rows_before)
        self.assertLessEqual(rows, 64 << 20)
        self.assertGreater(gauge(text, "process_resident_memory_bytes"), 4 << 20)
        for state in ("in_use", "free", "mmapped"):  # glibc's view (not ASan's allocator)
            self.assertGreaterEqual(gauge(text, 'strata_heap_bytes{state="%s"}' % state), 0)


if __name__ == "__main__":
    unittest.main()
