"""Modes of what stratad creates: nothing it writes is readable by others,
whatever the umask it was started with and even when the operator made the
data, export or checkpoint directory world-readable. RocksDB's files, the
rejects file (it quotes rejected values), exports and checkpoints (a full copy
of the data) are all covered: stratad sets umask 027 at start."""
import os
import shutil
import stat
import tempfile
import time
import unittest

import harness


class FileModesTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="strata-modes-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        # An operator's directories, made world-readable before stratad ran.
        self.dirs = {}
        for name in ("data", "imports", "exports", "checkpoints"):
            self.dirs[name] = os.path.join(self.tmp, name)
            os.mkdir(self.dirs[name])
            os.chmod(self.dirs[name], 0o755)
        old = os.umask(0o022)
        try:
            self.d = harness.Daemon(data_dir=self.dirs["data"], args=[
                "--import-dir", self.dirs["imports"], "--export-dir", self.dirs["exports"],
                "--checkpoint-dir", self.dirs["checkpoints"]])
            self.addCleanup(self.d.cleanup)
            self.d.start()
        finally:
            os.umask(old)

    def tearDown(self):
        self.d.stop()

    def wait(self, job_id):
        deadline = time.time() + 60
        while time.time() < deadline:
            s, doc = self.d.call("GET", "/v1/jobs/" + job_id)
            self.assertEqual(s, 200, doc)
            if doc["job"]["state"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
                return doc["job"]
            time.sleep(0.05)
        self.fail("job %s did not finish" % job_id)

    def test_nothing_created_is_open_to_others(self):
        d = self.d
        self.assertEqual(d.call("POST", "/v1/entities", {"name": "customer"})[0], 201)
        s, doc = d.call("POST", "/v1/entities/customer/features",
                        {"features": [{"name": "age", "type": "INT64"}]})
        self.assertEqual(s, 201, doc)
        with open(os.path.join(self.dirs["imports"], "a.csv"), "w") as f:
            f.write("customer_id,age\nc1,41\nc2,secret-value\n")
        s, doc = d.call("POST", "/v1/imports", {"entity": "customer", "source": {"path": "a.csv"},
                                                "on_error": "skip_row"})
        self.assertEqual(s, 202, doc)
        job = self.wait(doc["job"]["id"])
        self.assertEqual(job["state"], "SUCCEEDED", job)
        rejects = job["result"]["rejects_file"]
        self.assertTrue(rejects and os.path.exists(rejects), job)
        s, doc = d.call("POST", "/v1/exports:snapshot", {
            "entity": "customer", "features": ["customer:age"], "format": "csv",
            "destination": {"path": "snap.csv"}})
        self.assertEqual(s, 202, doc)
        job = self.wait(doc["job"]["id"])
        self.assertEqual(job["state"], "SUCCEEDED", job)
        s, doc = d.call("POST", "/v1/admin:checkpoint", {"path": "cp1"})
        self.assertEqual(s, 201, doc)

        checkpoint = os.path.join(self.dirs["checkpoints"], "cp1")
        created = [rejects, os.path.join(self.dirs["exports"], "snap.csv"), checkpoint]
        for top in (self.dirs["data"], checkpoint):
            for root, dirs, files in os.walk(top):
                created += [os.path.join(root, n) for n in dirs + files]
        self.assertGreater(len(created), 10)
        open_to_others = ["%s %04o" % (p, stat.S_IMODE(os.lstat(p).st_mode)) for p in created
                          if os.lstat(p).st_mode & 0o007]
        self.assertEqual(open_to_others, [])


if __name__ == "__main__":
    unittest.main()
