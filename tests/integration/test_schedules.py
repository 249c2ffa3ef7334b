"""Scheduled imports: interval and cron schedules, runs, retries, pause and
resume, catch-up after downtime, and the CLI."""
import json
import os
import subprocess
import tempfile
import time
import unittest

import harness
from harness import Daemon

STRATA_CLI = os.environ.get("STRATA_CLI", "strata")


class ScheduleTest(unittest.TestCase):
    def setUp(self):
        self.import_dir = tempfile.mkdtemp(prefix="strata-sched-")
        self.d = Daemon(args=("--import-dir", self.import_dir)).start()
        self.call("POST", "/v1/entities", {"name": "customer"})
        self.call("POST", "/v1/entities/customer/features", {"name": "age", "type": "INT64"})
        self.write_file("people.csv", "customer_id,age\nc1,30\nc2,40\n")

    def tearDown(self):
        try:
            self.d.stop()
        finally:
            self.d.cleanup()
            subprocess.run(["rm", "-rf", self.import_dir])

    def call(self, method, path, body=None):
        return self.d.call(method, path, body)

    def write_file(self, name, text):
        with open(os.path.join(self.import_dir, name), "w") as f:
            f.write(text)

    def spec(self, name="people.csv", **extra):
        return dict({"entity": "customer", "format": "csv",
                     "source": {"path": os.path.join(self.import_dir, name)}}, **extra)

    def create(self, body, status=201):
        s, doc = self.call("POST", "/v1/schedules", body)
        self.assertEqual(s, status, doc)
        return doc

    def runs(self, name):
        s, doc = self.call("GET", f"/v1/schedules/{name}/runs")
        self.assertEqual(s, 200, doc)
        return doc["runs"]

    def wait_runs(self, name, pred, timeout=20):
        deadline = time.time() + harness.scaled(timeout)
        while time.time() < deadline:
            runs = self.runs(name)
            if pred(runs):
                return runs
            time.sleep(0.2)
        self.fail(f"runs of {name} never satisfied the condition: {runs}")

    def job(self, job_id):
        return self.call("GET", f"/v1/jobs/{job_id}")[1]["job"]

    def test_interval_schedule_fires_repeatedly_and_reads_file_at_run_time(self):
        doc = self.create({"name": "every_sec", "every_seconds": 1, "import": self.spec()})
        self.assertTrue(doc["schedule"]["next_run_time"])
        runs = self.wait_runs("every_sec",
                              lambda r: sum(x["state"] == "SUCCEEDED" for x in r) >= 2)
        ok = [r for r in runs if r["state"] == "SUCCEEDED"]
        self.assertEqual(ok[0]["trigger"], "schedule")
        self.assertEqual(ok[0]["attempts"], 1)
        first = self.job(ok[-1]["job_id"])["result"]
        self.assertEqual(first["rows_imported"], 2)
        # The next run reads the file as it is then.
        self.write_file("people.csv", "customer_id,age\nc1,31\n")
        n = len(runs)
        runs = self.wait_runs("every_sec", lambda r: len(r) > n + 1 and any(
            x["state"] == "SUCCEEDED" and self.job(x["job_id"])["result"]["rows_imported"] == 1
            for x in r))
        later = [self.job(r["job_id"])["result"] for r in runs if r["state"] == "SUCCEEDED"]
        self.assertNotEqual(later[0]["source_sha256"], first["source_sha256"])
        got = self.call("GET", "/v1/entities/customer/values/c1")[1]
        self.assertEqual(got["features"]["age"]["value"], 31)
        # Lineage: the schedule is a Schedule context holding each run's Import.
        s, ctxs = self.call("GET", "/v1/contexts?type=Schedule&name=every_sec")
        self.assertEqual(s, 200, ctxs)
        self.assertEqual(len(ctxs["contexts"]), 1)
        cid = ctxs["contexts"][0]["id"]
        s, ex = self.call("GET", f"/v1/contexts/{cid}/executions")
        self.assertEqual(s, 200, ex)
        imports = [e for e in ex["executions"] if e["type"] == "Import"]
        done = [r for r in runs if r["state"] == "SUCCEEDED"]
        self.assertGreaterEqual(len(imports), len(done))
        # Runs are numbered, newest first, and page.
        page = self.call("GET", "/v1/schedules/every_sec/runs?page_size=1")[1]
        self.assertEqual(len(page["runs"]), 1)
        rest = self.call("GET", "/v1/schedules/every_sec/runs?page_size=1&page_token="
                         + page["next_page_token"])[1]
        self.assertEqual(rest["runs"][0]["run"], page["runs"][0]["run"] - 1)

    def test_validation(self):
        bad = [
            ({"name": "x", "cron": "61 * * * *", "import": self.spec()}, "minute"),
            ({"name": "x", "cron": "0 0 30 2 *", "import": self.spec()}, "never fires"),
            ({"name": "x", "cron": "* * * * *", "every_seconds": 5, "import": self.spec()},
             "exactly one"),
            ({"name": "x", "import": self.spec()}, "exactly one"),
            ({"name": "x", "every_seconds": 0, "import": self.spec()}, "every_seconds"),
            ({"name": "x", "every_seconds": 5,
              "import": {"entity": "customer", "format": "csv", "source": {"inline": "a"}}},
             "source.path"),
            ({"name": "Bad", "every_seconds": 5, "import": self.spec()}, "name"),
            ({"name": "x", "every_seconds": 5, "import": self.spec(), "colour": 1}, "colour"),
            ({"name": "x", "every_seconds": 5, "import": self.spec(), "max_retries": -1},
             "max_retries"),
        ]
        for body, word in bad:
            with self.subTest(body=body):
                s, doc = self.call("POST", "/v1/schedules", body)
                self.assertEqual(s, 400, doc)
                self.assertIn(word, doc["error"]["message"])
        self.assertEqual(self.call("GET", "/v1/schedules")[1]["schedules"], [])
        self.create({"name": "x", "cron": "0 3 * * *", "import": self.spec()})
        s, doc = self.call("POST", "/v1/schedules",
                           {"name": "x", "cron": "0 3 * * *", "import": self.spec()})
        self.assertEqual(s, 409, doc)
        self.assertEqual(self.call("GET", "/v1/schedules/nope")[0], 404)
        self.assertEqual(self.call("POST", "/v1/schedules/nope:run")[0], 404)
        self.assertEqual(self.call("PATCH", "/v1/schedules/x", {"name": "y"})[0], 400)

    def test_import_spec_checked_when_scheduled(self):
        # What POST /v1/imports would refuse before opening the file is refused
        # when the schedule is made (or changed), not by every run retrying.
        # The file itself may come later (test_retry_succeeds_when_the_file_appears).
        bad = [
            (self.spec(format="xml"), 400, "format must be"),
            (self.spec(on_eror="skip_row"), 400, "on_eror"),
            (dict(self.spec(), entity="nosuch"), 404, "nosuch"),
            ({"entity": "customer", "format": "csv", "source": {"path": "/etc/passwd"}}, 403,
             "outside the import directory"),
            ({"entity": "customer", "format": "csv", "source": {"path": "../x.csv"}}, 403,
             ".."),
        ]
        for spec, status, word in bad:
            with self.subTest(spec=spec):
                s, doc = self.call("POST", "/v1/schedules",
                                   {"name": "x", "every_seconds": 60, "import": spec})
                self.assertEqual(s, status, doc)
                self.assertIn(word, doc["error"]["message"])
                self.assertTrue(doc["error"]["message"].startswith("import"), doc)
        self.assertEqual(self.call("GET", "/v1/schedules")[1]["schedules"], [])
        self.create({"name": "x", "every_seconds": 3600, "import": self.spec("later.csv")})
        s, doc = self.call("PATCH", "/v1/schedules/x", {"import": self.spec(format="xml")})
        self.assertEqual(s, 400, doc)
        s, doc = self.call("GET", "/v1/schedules/x")
        self.assertEqual(doc["schedule"]["import"]["format"], "csv")

    def test_cron_schedule_pause_resume_run_now_delete(self):
        doc = self.create({"name": "nightly", "cron": "30 2 * * *", "import": self.spec(),
                           "description": "night load"})["schedule"]
        self.assertTrue(doc["next_run_time"].endswith("T02:30:00Z"), doc)
        s, doc = self.call("PATCH", "/v1/schedules/nightly", {"enabled": False})
        self.assertEqual(s, 200, doc)
        self.assertIsNone(doc["schedule"]["next_run_time"])
        s, doc = self.call("PATCH", "/v1/schedules/nightly", {"enabled": True,
                                                              "cron": "0 4 * * MON"})
        self.assertTrue(doc["schedule"]["next_run_time"].endswith("T04:00:00Z"))
        s, doc = self.call("POST", "/v1/schedules/nightly:run")
        self.assertEqual(s, 202, doc)
        self.assertEqual(doc["run"]["trigger"], "manual")
        runs = self.wait_runs("nightly", lambda r: r and r[0]["state"] == "SUCCEEDED")
        self.assertEqual(len(runs), 1)
        s, doc = self.call("GET", "/v1/schedules")
        self.assertEqual([x["name"] for x in doc["schedules"]], ["nightly"])
        self.assertEqual(self.call("DELETE", "/v1/schedules/nightly")[0], 200)
        self.assertEqual(self.call("GET", "/v1/schedules/nightly")[0], 404)

    def test_failed_runs_retry_then_fail(self):
        self.create({"name": "broken", "cron": "0 0 1 1 *", "max_retries": 2,
                     "retry_backoff_seconds": 0, "import": self.spec("missing.csv")})
        self.call("POST", "/v1/schedules/broken:run")
        runs = self.wait_runs("broken", lambda r: r and r[0]["state"] == "FAILED")
        self.assertEqual(runs[0]["attempts"], 3)
        self.assertIn("missing.csv", runs[0]["error"]["message"])

    def test_retry_succeeds_when_the_file_appears(self):
        self.create({"name": "late", "cron": "0 0 1 1 *", "max_retries": 3,
                     "retry_backoff_seconds": 1, "import": self.spec("later.csv")})
        self.call("POST", "/v1/schedules/late:run")
        self.wait_runs("late", lambda r: r and r[0]["state"] == "RETRY_WAIT")
        self.write_file("later.csv", "customer_id,age\nc9,9\n")
        runs = self.wait_runs("late", lambda r: r and r[0]["state"] == "SUCCEEDED")
        self.assertGreaterEqual(runs[0]["attempts"], 2)

    def test_catch_up_after_downtime(self):
        self.create({"name": "catchy", "every_seconds": 2, "catch_up": True,
                     "import": self.spec()})
        self.create({"name": "lazy", "every_seconds": 2, "import": self.spec()})
        self.d.stop()
        time.sleep(3)
        self.d.start()
        runs = self.wait_runs("catchy", lambda r: any(x["trigger"] == "catch_up" for x in r),
                              timeout=harness.scaled(10))
        self.assertTrue(runs)
        self.assertFalse(any(x["trigger"] == "catch_up" for x in self.runs("lazy")))

    def cli(self, *args):
        return subprocess.run([STRATA_CLI, "--url", f"http://127.0.0.1:{self.d.port}", *args],
                              capture_output=True, text=True)

    def test_cli(self):
        path = os.path.join(self.import_dir, "people.csv")
        r = self.cli("schedule", "create", "hourly", "--entity", "customer", "--file", path,
                     "--cron", "0 * * * *")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("created schedule hourly", r.stdout)
        r = self.cli("schedule", "list")
        self.assertIn("hourly", r.stdout)
        self.assertIn("0 * * * *", r.stdout)
        r = self.cli("--json", "schedule", "show", "hourly")
        self.assertEqual(json.loads(r.stdout)["schedule"]["import"]["entity"], "customer")
        self.assertEqual(self.cli("schedule", "pause", "hourly").returncode, 0)
        self.assertFalse(json.loads(self.cli("--json", "schedule", "show", "hourly").stdout)
                         ["schedule"]["enabled"])
        self.assertEqual(self.cli("schedule", "resume", "hourly").returncode, 0)
        r = self.cli("schedule", "run", "hourly")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.wait_runs("hourly", lambda x: x and x[0]["state"] == "SUCCEEDED")
        r = self.cli("schedule", "runs", "hourly")
        self.assertIn("SUCCEEDED", r.stdout)
        self.assertIn("manual", r.stdout)
        r = self.cli("schedule", "create", "x", "--entity", "customer", "--file", path)
        self.assertEqual(r.returncode, 2)
        r = self.cli("schedule", "show", "nope")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(self.cli("schedule", "delete", "hourly").returncode, 0)


if __name__ == "__main__":
    unittest.main()
