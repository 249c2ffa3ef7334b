"""The job API (GET /v1/jobs, GET /v1/jobs/{id}, POST /v1/jobs/{id}:cancel), jobs
in /metrics and the audit log, persistence across a clean restart, and
`strata jobs list|show|cancel`.
"""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import harness

TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")


class JobsTest(unittest.TestCase):
    def setUp(self):
        self.imp = tempfile.mkdtemp(prefix="strata-imp-")
        self.addCleanup(shutil.rmtree, self.imp, True)
        # One job thread, so a second job waits PENDING behind a long first one.
        self.d = harness.Daemon(args=["--import-dir", self.imp, "--job-threads", "1"])
        self.addCleanup(self.d.cleanup)
        self.d.start()
        self.assertEqual(self.call("POST", "/v1/entities", {"name": "customer"})[0], 201)
        self.assertEqual(self.call("POST", "/v1/entities/customer/features",
                                   {"name": "age", "type": "INT64"})[0], 201)

    def tearDown(self):
        self.d.stop()

    def call(self, method, path, body=None):
        return self.d.call(method, path, body)

    def inline_import(self, rows=1, bad=False):
        text = "customer_id,age\n" + "".join(f"x{i},{'z' if bad else i}\n" for i in range(rows))
        s, doc = self.call("POST", "/v1/imports", {"entity": "customer",
                                                   "source": {"inline": text}})
        self.assertEqual(s, 202, doc)
        return doc["job"]["id"]

    def big_import(self, rows=400000):
        with open(os.path.join(self.imp, "big.csv"), "w") as f:
            f.write("customer_id,age\n")
            f.writelines(f"b{i},{i}\n" for i in range(rows))
        s, doc = self.call("POST", "/v1/imports", {"entity": "customer",
                                                   "source": {"path": "big.csv"},
                                                   "on_error": "skip_row"})
        self.assertEqual(s, 202, doc)
        return doc["job"]["id"]

    def wait(self, jid, states=TERMINAL):
        for _ in range(6000):
            s, doc = self.call("GET", f"/v1/jobs/{jid}")
            self.assertEqual(s, 200, doc)
            if doc["job"]["state"] in states:
                return doc["job"]
            time.sleep(0.01)
        self.fail(f"job {jid} never reached {states}")

    def test_get_list_pages_and_filters(self):
        ids = [self.inline_import(bad=(i == 2)) for i in range(4)]
        self.assertEqual(ids, ["1", "2", "3", "4"])
        for jid in ids:
            self.wait(jid)
        s, doc = self.call("GET", "/v1/jobs/3")
        job = doc["job"]
        self.assertEqual(s, 200)
        for key in ("id", "kind", "state", "progress", "result", "error", "execution_id",
                    "create_time", "start_time", "end_time", "spec"):
            self.assertIn(key, job)
        self.assertEqual(job["state"], "FAILED")
        self.assertEqual(job["error"]["code"], "INVALID_ARGUMENT")
        # Newest first, in pages.
        s, doc = self.call("GET", "/v1/jobs?page_size=3")
        self.assertEqual([j["id"] for j in doc["jobs"]], ["4", "3", "2"])
        tok = doc["next_page_token"]
        self.assertTrue(tok)
        s, doc = self.call("GET", f"/v1/jobs?page_size=3&page_token={tok}")
        self.assertEqual([j["id"] for j in doc["jobs"]], ["1"])
        self.assertEqual(doc["next_page_token"], "")
        # A token reused with other parameters is refused.
        s, doc = self.call("GET", f"/v1/jobs?page_size=3&state=FAILED&page_token={tok}")
        self.assertEqual(s, 400, doc)
        s, doc = self.call("GET", "/v1/jobs?state=FAILED&kind=import")
        self.assertEqual([j["id"] for j in doc["jobs"]], ["3"])
        s, doc = self.call("GET", "/v1/jobs?kind=export")
        self.assertEqual(doc, {"jobs": [], "next_page_token": ""})
        # A kind that no job has is a bad filter, not an empty list.
        for bad in ("state=DONE", "kind=Import!", "kind=bogus", "page_size=0", "page_size=1001"):
            with self.subTest(query=bad):
                s, doc = self.call("GET", f"/v1/jobs?{bad}")
                self.assertEqual(s, 400, doc)
                self.assertEqual(doc["error"]["code"], "INVALID_ARGUMENT")

    def test_404_and_412(self):
        for path in ("/v1/jobs/999", "/v1/jobs/abc", "/v1/jobs/0"):
            s, doc = self.call("GET", path)
            self.assertEqual(s, 404, doc)
            self.assertEqual(doc["error"]["code"], "NOT_FOUND")
            self.assertIn("not found", doc["error"]["message"])
        s, doc = self.call("POST", "/v1/jobs/999:cancel")
        self.assertEqual(s, 404, doc)
        jid = self.inline_import()
        self.wait(jid)
        s, doc = self.call("POST", f"/v1/jobs/{jid}:cancel")
        self.assertEqual(s, 412, doc)
        self.assertEqual(doc["error"]["code"], "FAILED_PRECONDITION")
        self.assertIn("already finished (SUCCEEDED)", doc["error"]["message"])
        s, doc = self.call("DELETE", f"/v1/jobs/{jid}")
        self.assertEqual(s, 405, doc)

    def test_cancel_pending_and_running(self):
        running = self.big_import()
        pending = self.inline_import()
        self.wait(running, ("RUNNING",))
        s, doc = self.call("GET", f"/v1/jobs/{pending}")
        self.assertEqual(doc["job"]["state"], "PENDING")
        s, doc = self.call("POST", f"/v1/jobs/{pending}:cancel")
        self.assertEqual(s, 200, doc)
        self.assertEqual(doc["job"]["state"], "CANCELLED")
        self.assertIn("before it started", doc["job"]["error"]["message"])
        s, doc = self.call("POST", f"/v1/jobs/{running}:cancel")
        self.assertEqual(s, 200, doc)
        self.assertTrue(doc["job"]["cancel_requested"])
        job = self.wait(running)
        self.assertEqual(job["state"], "CANCELLED", job)
        # The cancelled pending import never ran: its row is absent.
        s, doc = self.call("GET", "/v1/entities/customer/values/x0")
        self.assertEqual(doc["features"]["age"]["status"], "NOT_FOUND")
        # Metrics count jobs by state; the audit log has the import and both cancels.
        text = self.d.request("GET", "/metrics")[2].decode()
        self.assertIn('strata_jobs{state="CANCELLED"} 2', text)
        self.assertIn('strata_jobs{state="RUNNING"} 0', text)
        s, doc = self.call("GET", "/v1/audit")
        actions = [r["action"] for r in doc["records"]]
        self.assertEqual(actions.count("POST /v1/imports"), 2)
        self.assertEqual(actions.count("POST /v1/jobs/{}:cancel"), 2)

    def test_jobs_survive_a_clean_restart(self):
        done = self.inline_import(rows=3)
        self.wait(done)
        running = self.big_import()
        self.wait(running, ("RUNNING",))
        self.d.restart()  # SIGTERM while the import runs
        s, doc = self.call("GET", f"/v1/jobs/{done}")
        self.assertEqual(doc["job"]["state"], "SUCCEEDED")
        self.assertEqual(doc["job"]["result"]["rows_imported"], 3)
        s, doc = self.call("GET", f"/v1/jobs/{running}")
        job = doc["job"]
        self.assertEqual(job["state"], "FAILED", job)
        self.assertTrue(job["error"]["message"].startswith(
            "stratad shut down while the job was running; "), job)
        # Ids keep counting.
        self.assertEqual(self.inline_import(), str(int(running) + 1))

    def cli(self, *args, check=0):
        p = subprocess.run([harness.STRATA_CLI, "--url", f"http://127.0.0.1:{self.d.port}"] +
                           list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=harness.scaled(120))
        out, err = p.stdout.decode(), p.stderr.decode(errors="replace")
        for m in harness.SANITIZER_MARKERS:
            self.assertNotIn(m, err)
        self.assertEqual(p.returncode, check, out + err)
        if check:
            self.assertEqual(len(err.splitlines()), 1, err)
        return out, err

    def test_cli(self):
        ok = self.inline_import(rows=2)
        failed = self.inline_import(bad=True)
        self.wait(ok)
        self.wait(failed)
        out, _ = self.cli("jobs", "list")
        lines = out.splitlines()
        self.assertTrue(lines[0].startswith("ID"), out)
        self.assertTrue(lines[1].startswith(failed), out)
        self.assertIn("2 rows imported, 0 rejected", lines[2])
        out, _ = self.cli("jobs", "list", "--state", "FAILED")
        self.assertEqual(len(out.splitlines()), 2, out)
        out, _ = self.cli("--json", "jobs", "list", "--kind", "import")
        self.assertEqual([j["id"] for j in json.loads(out)["jobs"]], [failed, ok])
        out, _ = self.cli("jobs", "show", ok)
        self.assertIn(f"job {ok} (import) SUCCEEDED", out)
        self.assertIn("rows read 2, imported 2, rejected 0", out)
        self.assertIn("spec:", out)
        out, err = self.cli("jobs", "show", failed, "--wait", check=1)
        self.assertIn("FAILED", err)
        out, err = self.cli("jobs", "show", "777", check=1)
        self.assertIn("job \"777\" not found", err)
        out, err = self.cli("jobs", "cancel", ok, check=1)
        self.assertIn("already finished", err)
        running = self.big_import()
        self.wait(running, ("RUNNING",))
        out, _ = self.cli("jobs", "cancel", running)
        self.assertIn(f"job {running} is stopping", out)
        out, err = self.cli("jobs", "show", running, "--wait", check=1)
        self.assertIn("CANCELLED", err)


if __name__ == "__main__":
    unittest.main()
