"""A 10M-row historical export under a fixed memory cap.

The instances (10 million rows, ~400 MB of CSV) are far larger than the
export's memory budget (export_memory_mb = 16), so both sorts spill sorted runs
to DATA/tmp and merge them; the daemon's peak resident set (VmHWM) must stay
under a fixed cap while the output holds every row, in input order.
"""
import os
import shutil
import tempfile
import time
import unittest

import harness

ROWS = 10_000_000
BLOCK = 100_000  # distinct lines, repeated: row i of the file is block line i % BLOCK
IDS = 2000
CAP_MB = 300


def sanitized_build():
    """ASan keeps freed memory in quarantine and shadows every byte: its RSS
    says nothing about the export's budget."""
    cache = os.path.join(os.environ.get("STRATA_BUILD_DIR", ""), "CMakeCache.txt")
    try:
        with open(cache) as f:
            return "STRATA_ASAN:BOOL=ON" in f.read()
    except OSError:
        return False


def peak_rss_mb(pid):
    return harness.proc_status_kib(pid, "VmHWM") / 1024


@unittest.skipIf(harness.STRATAD_WRAPPER,
                 "peak RSS and a 10M-row export mean nothing under a wrapper such as valgrind")
class ExportMemoryTest(unittest.TestCase):
    def setUp(self):
        self.imp = tempfile.mkdtemp(prefix="strata-exp-mem-")
        self.addCleanup(shutil.rmtree, self.imp, True)
        self.d = harness.Daemon(args=["--import-dir", self.imp, "--export-memory-mb", "16",
                                      "--block-cache-mb", "32"])
        self.addCleanup(self.d.cleanup)
        self.d.start()

    def tearDown(self):
        self.d.stop(timeout=120)

    def test_ten_million_rows_under_cap(self):
        d = self.d
        self.assertEqual(d.call("POST", "/v1/entities", {"name": "customer"})[0], 201)
        s, doc = d.call("POST", "/v1/entities/customer/features", {"features": [
            {"name": "age", "type": "INT64"}, {"name": "score", "type": "DOUBLE"}]})
        self.assertEqual(s, 201, doc)
        rows = []
        for i in range(IDS):
            for h in range(3):
                rows.append({"entity_id": f"c{i}", "event_time": f"2024-03-01T{10 + h:02d}:00:00Z",
                             "values": {"age": i + h, "score": h + 0.5}})
        for k in range(0, len(rows), 5000):
            s, doc = d.call("POST", "/v1/entities/customer:write", {"rows": rows[k:k + 5000]})
            self.assertEqual(s, 200, doc)

        block = "".join(f"c{(i * 7919) % IDS},2024-03-01T{9 + i % 4:02d}:30:00Z,{i % 2}\n"
                        for i in range(BLOCK)).encode()
        path = os.path.join(self.imp, "instances.csv")
        with open(path, "wb") as f:
            f.write(b"customer_id,ts,label\n")
            for _ in range(ROWS // BLOCK):
                f.write(block)
        t0 = time.time()
        s, doc = d.call("POST", "/v1/exports:historical", {
            "instances": {"path": "instances.csv"}, "timestamp_column": "ts",
            "features": ["customer:age", "customer:score"], "destination": {"path": "big.csv"}})
        self.assertEqual(s, 202, doc)
        jid = doc["job"]["id"]
        deadline = time.time() + 540
        while time.time() < deadline:
            s, doc = d.call("GET", f"/v1/jobs/{jid}")
            if doc["job"]["state"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
                break
            time.sleep(0.5)
        job = doc["job"]
        self.assertEqual(job["state"], "SUCCEEDED", job)
        elapsed = time.time() - t0
        peak = peak_rss_mb(d.proc.pid)
        res = job["result"]
        print(f"\n10M-row export: {elapsed:.1f} s, peak RSS {peak:.0f} MB, "
              f"spilled {res['spilled_bytes'] / 2**20:.0f} MiB in {res['sort_runs']} runs",
              flush=True)
        self.assertEqual(res["rows"], ROWS)
        self.assertGreater(res["spilled_bytes"], 0)
        if not sanitized_build():
            self.assertLess(peak, CAP_MB, f"stratad's peak RSS {peak:.0f} MB is over {CAP_MB} MB")
        out = os.path.join(d.data_dir, "exports", "big.csv")
        n, first, tail = 0, None, b""
        with open(out, "rb") as f:
            first = f.read(1 << 16)
            f.seek(0)
            while True:
                chunk = f.read(16 << 20)
                if not chunk:
                    break
                n += chunk.count(b"\n")
                tail = (tail + chunk)[-4096:]
        self.assertEqual(n, ROWS + 1)
        lines = first.split(b"\n")
        self.assertEqual(lines[0], b"customer_id,ts,label,customer__age,customer__score")
        # Row i is block line i: c((i*7919) % IDS) at hour 9 + i % 4, the newest version before.
        for i in range(1, 50):
            c = (i - 1) * 7919 % IDS
            hour = 9 + (i - 1) % 4
            want = f"c{c},2024-03-01T{hour:02d}:30:00Z,{(i - 1) % 2},"
            want += "," if hour == 9 else f"{c + hour - 10},{hour - 10 + 0.5}"
            self.assertEqual(lines[i].decode(), want)
        last = tail.split(b"\n")[-2].decode()
        i = ROWS - 1
        self.assertTrue(last.startswith(f"c{(i % BLOCK) * 7919 % IDS},"), last)
        self.assertEqual([f for f in os.listdir(os.path.join(d.data_dir, "tmp"))], [])


if __name__ == "__main__":
    unittest.main()
