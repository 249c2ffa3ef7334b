"""A damaged, truncated, foreign or too-new data directory is refused at start
with one clear line and a non-zero exit, never served, and left as it was.

One pristine directory is made per class: values flushed into SST files (a
checkpoint flushes the memtables), then more values that live only in the
write-ahead log (the daemon is killed, so they are not flushed). Each test
damages a copy of it.
"""
import glob
import os
import shutil
import subprocess
import tempfile
import unittest

import harness

STORE_POKE = os.environ.get("STORE_POKE", "store_poke")
FLUSHED, LOGGED = 300, 2000  # rows in SST files, rows only in the WAL


def flip(path, offset, n=8):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(n)
        f.seek(offset)
        f.write(bytes(x ^ 0xA5 for x in b))


def truncate(path, size):
    with open(path, "r+b") as f:
        f.truncate(size)


def tables(d):
    return sorted(glob.glob(os.path.join(d, "*.sst")), key=os.path.getsize)


def state(d):
    """What a refused start must not change: table files, MANIFESTs, WALs, CURRENT."""
    out = {}
    for p in sorted(os.listdir(d)):
        if p.endswith((".sst", ".log")) or p.startswith(("MANIFEST", "CURRENT")):
            with open(os.path.join(d, p), "rb") as f:
                out[p] = f.read()
    return out


class CorruptionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="strata-corrupt-")
        cls.pristine = os.path.join(cls.root, "pristine")
        d = harness.Daemon(data_dir=cls.pristine,
                           args=["--checkpoint-dir", os.path.join(cls.root, "cp")])
        try:
            d.start()
            d.call("POST", "/v1/entities", {"name": "c"})
            d.call("POST", "/v1/entities/c/features", {"name": "n", "type": "INT64"})
            for lo in range(0, FLUSHED + LOGGED, 100):
                if lo == FLUSHED:
                    s, doc = d.call("POST", "/v1/admin:checkpoint", {"path": "flush"})
                    assert s == 201, doc
                s, doc = d.call("POST", "/v1/entities/c:write", {"rows": [
                    {"entity_id": f"id{i}", "values": {"n": i}} for i in range(lo, lo + 100)]})
                assert s == 200, doc
            d.kill9()
        finally:
            d.cleanup()
        assert tables(cls.pristine), "the fixture made no SST file"
        assert glob.glob(os.path.join(cls.pristine, "*.log")), "the fixture has no WAL"

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="case-", dir=self.root)
        os.rmdir(self.dir)
        shutil.copytree(self.pristine, self.dir)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_stratad(self, *args, data_dir=None):
        return subprocess.run([harness.STRATAD, "--data-dir", data_dir or self.dir,
                               "--listen", "127.0.0.1:0", *args],
                              capture_output=True, text=True, timeout=120)

    def assertRefused(self, *words, data_dir=None, args=()):
        d = data_dir or self.dir
        before = state(d)
        r = self.run_stratad(*args, data_dir=d)
        self.assertNotEqual(r.returncode, 0, r.stderr)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertTrue(lines[0].startswith("stratad: "), lines[0])
        for w in words:
            self.assertIn(w, lines[0])
        self.assertNotIn("listening", r.stderr)
        self.assertEqual(state(d), before, "a refused start changed the data directory")
        return lines[0]

    def read_all(self, d):
        ids = [f"id{i}" for i in range(FLUSHED + LOGGED)]
        out = []
        for lo in range(0, len(ids), 1000):
            s, doc = d.call("POST", "/v1/online:read", {"entity": "c", "ids": ids[lo:lo + 1000],
                                                        "features": ["n"]})
            self.assertEqual(s, 200, doc)
            out += [r["values"][0] for r in doc["rows"]]
        return out

    # -- the undamaged copy is served in full (the fixture is sound) -----------
    def test_pristine_copy_starts_and_checks(self):
        r = self.run_stratad("--check")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("is sound", r.stdout)
        d = harness.Daemon(data_dir=self.dir).start()
        try:
            self.assertEqual(self.read_all(d), list(range(FLUSHED + LOGGED)))
            d.stop()
        finally:
            d.cleanup()

    # -- table files -----------------------------------------------------------
    def test_sst_flipped_bytes(self):
        sst = tables(self.dir)[-1]
        flip(sst, os.path.getsize(sst) // 3)
        line = self.assertRefused("failed its check", "Corruption", os.path.basename(sst))
        self.assertIn("checksum mismatch", line)
        r = self.run_stratad("--check")
        self.assertEqual(r.returncode, 1)
        self.assertIn("checksum mismatch", r.stderr)

    def test_sst_flipped_bytes_with_quick_start_check_fails_reads_not_start(self):
        # Documented trade-off of --start-check quick: the open does not read
        # data blocks, so it starts; reads of the damaged block fail loudly.
        sst = tables(self.dir)[-1]
        flip(sst, os.path.getsize(sst) // 3)
        d = harness.Daemon(data_dir=self.dir, args=["--start-check", "quick"]).start()
        try:
            self.assertEqual(d.call("GET", "/healthz")[0], 200)
            d.stop()
        finally:
            d.cleanup()

    def test_sst_truncated(self):
        sst = tables(self.dir)[-1]
        truncate(sst, os.path.getsize(sst) // 2)
        self.assertRefused("cannot open data directory", "Corruption", os.path.basename(sst))

    def test_sst_deleted(self):
        sst = tables(self.dir)[-1]
        os.unlink(sst)
        self.assertRefused("cannot open data directory", "No such file")

    # -- MANIFEST and CURRENT --------------------------------------------------
    def manifest(self):
        return glob.glob(os.path.join(self.dir, "MANIFEST-*"))[0]

    def test_manifest_flipped_bytes(self):
        m = self.manifest()
        flip(m, os.path.getsize(m) // 2)
        self.assertRefused("cannot open data directory", "Corruption", "MANIFEST")

    def test_manifest_truncated(self):
        # RocksDB alone would recover the older state the shorter MANIFEST
        # describes, and delete the table files it no longer knows.
        m = self.manifest()
        size = os.path.getsize(m)
        for cut in (size // 4, size // 2, size - 16):
            with self.subTest(cut=cut):
                shutil.rmtree(self.dir)
                shutil.copytree(self.pristine, self.dir)
                truncate(self.manifest(), cut)
                self.assertRefused("data directory")

    def test_current_empty_or_wrong(self):
        cur = os.path.join(self.dir, "CURRENT")
        truncate(cur, 0)
        self.assertRefused("cannot open data directory", "CURRENT")
        with open(cur, "w") as f:
            f.write("MANIFEST-999999\n")
        self.assertRefused("cannot open data directory", "MANIFEST-999999")

    def test_current_deleted(self):
        os.unlink(os.path.join(self.dir, "CURRENT"))
        self.assertRefused("not a Strata data directory", "CURRENT")

    # -- write-ahead log ---------------------------------------------------------
    def wal(self):
        return max(glob.glob(os.path.join(self.dir, "*.log")), key=os.path.getsize)

    def test_wal_damaged_mid_file_is_refused_and_salvage_is_explicit(self):
        w = self.wal()
        flip(w, os.path.getsize(w) // 2)
        self.assertRefused("cannot open data directory", "Corruption", "Crash recovery")
        self.assertRefused("Corruption", args=["--check"])
        # The operator's choice: replay up to the damage, drop what follows.
        d = harness.Daemon(data_dir=self.dir, args=["--wal-recovery", "salvage"]).start()
        try:
            got = self.read_all(d)
            kept = next((i for i, v in enumerate(got) if v is None), len(got))
            self.assertEqual(got[:kept], list(range(kept)))
            self.assertEqual(got[kept:], [None] * (len(got) - kept))
            self.assertGreaterEqual(kept, FLUSHED)
            self.assertLess(kept, FLUSHED + LOGGED)
            d.stop()
        finally:
            d.cleanup()

    def test_wal_torn_tail_is_accepted(self):
        # What a power loss leaves: the last record cut short. It was never
        # acknowledged under sync=always; it is dropped, the rest is served.
        w = self.wal()
        truncate(w, os.path.getsize(w) - 20)
        d = harness.Daemon(data_dir=self.dir).start()
        try:
            got = self.read_all(d)
            self.assertEqual(got[:FLUSHED + LOGGED - 100], list(range(FLUSHED + LOGGED - 100)))
            d.stop()
        finally:
            d.cleanup()

    # -- not ours, or too new ----------------------------------------------------
    def test_directory_of_another_program(self):
        other = os.path.join(self.root, "other")
        os.makedirs(other, exist_ok=True)
        with open(os.path.join(other, "postgresql.conf"), "w") as f:
            f.write("# not ours\n")
        self.assertRefused("not a Strata data directory", "postgresql.conf", data_dir=other)
        self.assertEqual(os.listdir(other), ["postgresql.conf"])

    def test_newer_layout_version(self):
        r = subprocess.run([STORE_POKE, self.dir, "layout", "99"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRefused("layout version 99", "this build reads up to 2")
        self.assertRefused("layout version 99", args=["--check"])


if __name__ == "__main__":
    unittest.main()
