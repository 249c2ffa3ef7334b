"""Backups with `strata admin checkpoint` (POST /v1/admin:checkpoint) and read
replicas (stratad --secondary-of): restore = start stratad on a checkpoint;
a replica serves what the primary wrote after catching up and refuses every
change.
"""
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import harness


def write(d, ids, feature="n", entity="c"):
    s, doc = d.call("POST", f"/v1/entities/{entity}:write", {"rows": [
        {"entity_id": i, "values": {feature: int(i[1:])}} for i in ids]})
    assert s == 200, doc


def read(d, ids, entity="c", feature="n"):
    s, doc = d.call("POST", "/v1/online:read", {"entity": entity, "ids": ids,
                                                "features": [feature]})
    assert s == 200, doc
    return [r["values"][0] for r in doc["rows"]]


class CheckpointTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="strata-cp-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.cpdir = os.path.join(self.tmp, "checkpoints")
        self.d = harness.Daemon(args=["--checkpoint-dir", self.cpdir]).start()
        self.addCleanup(self.d.cleanup)
        self.d.call("POST", "/v1/entities", {"name": "c"})
        self.d.call("POST", "/v1/entities/c/features", {"name": "n", "type": "INT64"})

    def cli(self, *args):
        return subprocess.run([harness.STRATA_CLI, "--url", f"http://127.0.0.1:{self.d.port}",
                               *args], capture_output=True, text=True, timeout=60)

    def test_checkpoint_restores_exactly_the_first_writes(self):
        first = [f"a{i}" for i in range(500)]
        later = [f"b{i}" for i in range(500)]
        write(self.d, first)
        r = self.cli("admin", "checkpoint", "snap-1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(os.path.join(os.path.realpath(self.cpdir), "snap-1"), r.stdout)
        write(self.d, later)
        s, doc = self.d.call("POST", "/v1/entities", {"name": "after"})
        self.assertEqual(s, 201, doc)
        self.d.stop()

        restored = harness.Daemon(data_dir=os.path.join(self.cpdir, "snap-1")).start()
        try:
            self.assertEqual(read(restored, first), list(range(500)))
            self.assertEqual(read(restored, later), [None] * 500)
            self.assertEqual(restored.call("GET", "/v1/entities/after")[0], 404)
            s, doc = restored.call("GET", "/v1/audit:verify")
            self.assertEqual(s, 200, doc)
            self.assertTrue(doc["ok"], doc)
            # The audit log ends with the writes before the checkpoint.
            s, log = restored.call("GET", "/v1/audit?page_size=1000")
            actions = [r["action"] for r in log["records"]]
            self.assertEqual(actions[-1], "POST /v1/entities/{}:write")
            # A restored directory is a normal one: it takes writes.
            write(restored, ["z1"])
            restored.stop()
        finally:
            restored.cleanup()
        # The original is untouched by its checkpoint being used.
        self.d.start()
        self.assertEqual(read(self.d, later[:3]), [0, 1, 2])

    def test_checkpoint_names_stay_inside_the_directory(self):
        outside = os.path.join(self.tmp, "escaped")
        for bad in ("../escaped", "/tmp/escaped", ".hidden", "a/b", "", "x" * 129, "sp ace"):
            with self.subTest(path=bad):
                s, doc = self.d.call("POST", "/v1/admin:checkpoint", {"path": bad})
                self.assertEqual(s, 400, doc)
                self.assertEqual(doc["error"]["code"], "INVALID_ARGUMENT")
                self.assertIn("checkpoint directory", doc["error"]["message"])
        self.assertFalse(os.path.exists(outside))
        self.assertEqual(os.listdir(self.cpdir), [])
        s, doc = self.d.call("POST", "/v1/admin:checkpoint", {"path": 7})
        self.assertEqual(s, 400, doc)
        s, doc = self.d.call("POST", "/v1/admin:checkpoint", {"path": "ok", "extra": 1})
        self.assertEqual(s, 400, doc)
        self.assertIn("extra", doc["error"]["message"])
        self.assertEqual(self.d.call("POST", "/v1/admin:checkpoint", {"path": "ok"})[0], 201)
        s, doc = self.d.call("POST", "/v1/admin:checkpoint", {"path": "ok"})
        self.assertEqual(s, 409, doc)
        self.assertEqual(doc["error"]["code"], "ALREADY_EXISTS")
        r = self.cli("admin", "checkpoint", "ok")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("already exists", r.stderr)

    def test_checkpoints_refused_without_a_directory(self):
        d = harness.Daemon().start()
        try:
            s, doc = d.call("POST", "/v1/admin:checkpoint", {"path": "x"})
            self.assertEqual(s, 412, doc)
            self.assertIn("--checkpoint-dir", doc["error"]["message"])
            d.stop()
        finally:
            d.cleanup()


class ReplicaTest(unittest.TestCase):
    def setUp(self):
        self.primary = harness.Daemon().start()
        self.addCleanup(self.primary.cleanup)
        self.primary.call("POST", "/v1/entities", {"name": "c"})
        self.primary.call("POST", "/v1/entities/c/features", {"name": "n", "type": "INT64"})
        write(self.primary, ["a1", "a2"])
        self.replica = harness.Daemon(args=["--secondary-of", self.primary.data_dir,
                                            "--catch-up-ms", "50"]).start()
        self.addCleanup(self.replica.cleanup)

    def tearDown(self):
        self.replica.stop()
        self.primary.stop()

    def eventually(self, fn, want, timeout=10):
        deadline = time.time() + timeout
        while True:
            got = fn()
            if got == want or time.time() > deadline:
                return got
            time.sleep(0.05)

    def test_replica_reads_what_the_primary_wrote(self):
        self.assertEqual(read(self.replica, ["a1", "a2"]), [1, 2])
        write(self.primary, [f"b{i}" for i in range(100)])
        self.assertEqual(self.eventually(lambda: read(self.replica, ["b0", "b99"]), [0, 99]),
                         [0, 99])
        # Registry changes arrive too (the replica reloads its registry).
        self.primary.call("POST", "/v1/entities", {"name": "late"})
        self.primary.call("POST", "/v1/entities/late/features", {"name": "n", "type": "INT64"})
        write(self.primary, ["x7"], entity="late")
        # The feature, not just the entity: a catch-up between the two
        # registry writes shows the entity without it (read() asserts 200).
        self.assertEqual(self.eventually(
            lambda: self.replica.call("GET", "/v1/entities/late/features/n")[0], 200), 200)
        self.assertEqual(self.eventually(lambda: read(self.replica, ["x7"], entity="late"), [7]),
                         [7])
        s, doc = self.replica.call("GET", "/v1/audit:verify")
        self.assertEqual(s, 200, doc)
        self.assertTrue(doc["ok"], doc)

    def test_replica_refuses_every_change(self):
        for method, path, body in (
                ("POST", "/v1/entities/c:write", {"rows": [{"entity_id": "r", "values": {"n": 1}}]}),
                ("POST", "/v1/entities", {"name": "nope"}),
                ("DELETE", "/v1/entities/c", None),
                ("POST", "/v1/imports", {"entity": "c", "source": {"inline": "c_id,n\nr,1\n"}}),
                ("POST", "/v1/admin:checkpoint", {"path": "x"}),
                ("POST", "/v1/artifacts", {"type": "Dataset", "name": "d"}),
                ("GET", "/v1/schedules", None)):
            with self.subTest(route=f"{method} {path}"):
                s, doc = self.replica.call(method, path, body)
                self.assertEqual(s, 412, doc)
                self.assertEqual(doc["error"]["code"], "FAILED_PRECONDITION")
                self.assertIn("read-only replica", doc["error"]["message"])
        self.assertEqual(read(self.replica, ["r"]), [None])
        self.assertEqual(self.primary.call("GET", "/v1/entities/nope")[0], 404)
        # Reads that are POSTs are served.
        self.assertEqual(read(self.replica, ["a1"]), [1])

    def test_replica_of_a_missing_directory_is_refused(self):
        d = harness.Daemon(args=["--secondary-of", "/nonexistent/strata"])
        try:
            with self.assertRaises(RuntimeError) as cm:
                d.start(timeout=20)
            self.assertIn("no such directory", str(cm.exception))
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main()
