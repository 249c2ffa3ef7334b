"""stratad and OpenBLAS's kernels (trainer/blas.c, docs/operations.md "OpenBLAS kernels"):
on a CPU with AVX2 and FMA the daemon never trains on OpenBLAS's pre-AVX2 fallback kernels
unless the operator asked for them, restarting itself with OPENBLAS_CORETYPE=Haswell when
OpenBLAS misjudged the CPU; the kernels in use are logged."""
import os
import re
import unittest

import harness

PRE_AVX2 = {"prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai",
            "coppermine", "northwood", "banias", "sandybridge"}


def cpu_flags():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


class OpenBlasCoreTest(unittest.TestCase):
    def run_daemon(self, **env):
        e = {k: v for k, v in os.environ.items()
             if k not in ("OPENBLAS_CORETYPE", "STRATA_OPENBLAS_REEXEC")}
        e.update(env)
        d = harness.Daemon(env=e).start()
        try:
            self.assertEqual(d.call("GET", "/healthz")[0], 200)
            d.stop()
            log = d.stderr()
        finally:
            d.cleanup()
        m = re.search(r"(INFO|WARN) openblas: (\S+) kernels(.*)", log)
        self.assertIsNotNone(m, log)
        # a re-exec keeps the process: the one started served and exited 0 on SIGTERM
        return m.group(1), m.group(2), m.group(3), log

    def test_kernels_logged_and_fast_on_avx2(self):
        level, core, rest, log = self.run_daemon()
        self.assertEqual(level, "INFO", log)
        if {"avx2", "fma"} <= cpu_flags():
            self.assertNotIn(core.lower(), PRE_AVX2, log)
        if "restarted itself" in rest:
            self.assertEqual(core, "Haswell", log)
            self.assertEqual(log.count("listening on"), 1, log)

    def test_operator_choice_kept(self):
        level, core, rest, log = self.run_daemon(OPENBLAS_CORETYPE="Prescott")
        self.assertEqual(core, "Prescott", log)
        self.assertNotIn("restarted", log)
        if {"avx2", "fma"} <= cpu_flags():
            self.assertEqual(level, "WARN", log)
            self.assertIn("OPENBLAS_CORETYPE=Prescott", rest)
            self.assertIn("OPENBLAS_CORETYPE=Haswell", rest)


if __name__ == "__main__":
    unittest.main()
