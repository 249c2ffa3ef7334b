"""Start the real stratad on a free port and talk HTTP to it.

Every integration test uses `Daemon`: a fresh data directory (unless given),
a free loopback port, the daemon's stderr captured to a file, and at stop a
scan of that file for sanitizer and valgrind reports, so an ASan/UBSan or
memcheck finding anywhere in the daemon fails the test that provoked it.

STRATAD_WRAPPER runs the daemon under a command (`make test-valgrind` sets it
to valgrind with its options); every timeout then scales by
STRATA_TIMEOUT_SCALE (default 10 under a wrapper): use `scaled()` for waits.

Security options (all off by default, so other tests see a plain open daemon):
`token_file` starts it with --token-file, `token` is sent as a bearer token
with every request that names no Authorization itself, and `tls` =
(cert, key, cacert) serves HTTPS and verifies it against cacert.
"""
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

STRATAD = os.environ.get("STRATAD", "stratad")
STRATA_CLI = os.environ.get("STRATA_CLI", "strata")
STRATAD_WRAPPER = shlex.split(os.environ.get("STRATAD_WRAPPER", ""))
TIMEOUT_SCALE = float(os.environ.get("STRATA_TIMEOUT_SCALE", "10" if STRATAD_WRAPPER else "1"))
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "ASSERTION FAILED", "WARNING: ThreadSanitizer")
# valgrind's summary at exit: any error (definite leaks count, see the
# Makefile's test-valgrind options) fails the test.
VALGRIND_ERRORS = re.compile(r"==\d+== ERROR SUMMARY: [1-9]")


def scaled(seconds):
    """A timeout for this run: longer when the daemon runs under a wrapper."""
    return seconds * TIMEOUT_SCALE


def proc_status_kib(pid, field):
    """A kB figure of /proc/PID/status: "VmRSS" (resident now), "VmHWM" (peak)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} for pid {pid}")


def thread_scheduling(pid):
    """(name, policy, rt_priority) of each thread of pid, from /proc: policy 0
    is SCHED_OTHER, 1 SCHED_FIFO."""
    out = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        # Fields after the name start at field 3 (state); rt_priority is 40, policy 41.
        out.append((name, int(fields[41 - 3]), int(fields[40 - 3])))
    return out


def fifo_permitted(priority):
    """Whether a process of this user may take SCHED_FIFO at priority (root,
    CAP_SYS_NICE or RLIMIT_RTPRIO), tried in a child so this one stays normal."""
    code = f"import os; os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param({priority}))"
    return subprocess.run(["python3", "-c", code], stderr=subprocess.DEVNULL).returncode == 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    def __init__(self, data_dir=None, args=(), config_text=None, token_file=None, token=None,
                 tls=None, env=None):
        self.tmp = tempfile.mkdtemp(prefix="strata-it-")
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        self.args = list(args)
        self.config_text = config_text
        self.token_file = token_file
        self.token = token
        self.tls = tls
        self.env = env  # the daemon's environment (None: this process's)
        self.proc = None
        self.port = None
        self.conn = None
        self.stderr_path = os.path.join(self.tmp, "stderr.log")
        self.stderr_file = None

    # -- lifecycle ----------------------------------------------------------
    def start(self, timeout=30):
        self.port = free_port()
        timeout = scaled(timeout)
        cmd = STRATAD_WRAPPER + [STRATAD, "--data-dir", self.data_dir, "--listen", f"127.0.0.1:{self.port}",
               "--threads", "2"] + self.args
        if self.token_file:
            cmd += ["--token-file", self.token_file]
        if self.tls:
            cmd += ["--tls-cert", self.tls[0], "--tls-key", self.tls[1]]
        if self.config_text is not None:
            cfg = os.path.join(self.tmp, "stratad.conf")
            with open(cfg, "w") as f:
                f.write(self.config_text)
            cmd += ["--config", cfg]
        self.stderr_file = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.stderr_file,
                                     env=self.env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"stratad exited with {self.proc.returncode}: {self.stderr()}")
            try:
                status, _, _ = self.request("GET", "/healthz")
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("stratad did not become healthy: " + self.stderr())

    def stderr(self):
        try:
            with open(self.stderr_path, "r", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def _reap(self):
        if self.conn:
            self.conn.close()
            self.conn = None
        if self.stderr_file:
            self.stderr_file.close()
            self.stderr_file = None

    def stop(self, timeout=60):
        """SIGTERM, expect a clean exit 0 and no sanitizer report."""
        if not self.proc:
            return
        self.proc.send_signal(signal.SIGTERM)
        timeout = scaled(timeout)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("stratad did not stop within %ds" % timeout)
        finally:
            self._reap()
        self.proc = None
        self.check_stderr()
        if rc != 0:
            raise AssertionError(f"stratad exited {rc}: {self.stderr()[-4000:]}")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._reap()
        self.proc = None

    def restart(self):
        self.stop()
        return self.start()

    def check_stderr(self):
        text = self.stderr()
        for marker in SANITIZER_MARKERS:
            if marker in text:
                raise AssertionError("stratad reported: " + text[-6000:])
        if VALGRIND_ERRORS.search(text):
            raise AssertionError("valgrind reported: " + text[-12000:])

    def cleanup(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self._reap()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- HTTP -----------------------------------------------------------------
    @property
    def url(self):
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def connect(self, timeout=60):
        """A new connection to the daemon (HTTPS verified against the test CA with tls)."""
        if self.tls:
            ctx = ssl.create_default_context(cafile=self.tls[2])
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                               context=ctx)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, retry=True):
        """One request on a kept-alive connection: (status, headers, body bytes)."""
        hdrs = dict(headers or {})
        if self.token and not any(k.lower() == "authorization" for k in hdrs):
            hdrs["Authorization"] = "Bearer " + self.token
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        if self.conn is None:
            self.conn = self.connect(timeout=scaled(60))
        try:
            self.conn.request(method, path, body=body, headers=hdrs)
            resp = self.conn.getresponse()
            data = resp.read()
        except (http.client.HTTPException, ConnectionError, BrokenPipeError):
            self.conn.close()
            self.conn = None
            if not retry:
                raise
            return self.request(method, path, body, headers, retry=False)
        if resp.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        return resp.status, dict(resp.getheaders()), data

    def call(self, method, path, body=None, headers=None):
        """JSON in, JSON out: (status, parsed body)."""
        status, hdrs, data = self.request(method, path, body, headers)
        try:
            doc = json.loads(data) if data else None
        except ValueError:
            doc = data
        return status, doc


class DaemonTest(unittest.TestCase):
    """A test case with a fresh daemon per test, stopped and checked after."""
    daemon_args = ()

    def setUp(self):
        self.d = Daemon(args=self.daemon_args).start()

    def tearDown(self):
        try:
            self.d.stop()
        finally:
            self.d.cleanup()

    def call(self, method, path, body=None, headers=None):
        return self.d.call(method, path, body, headers)

    def wait_job(self, job_id, timeout=60):
        """Poll GET /v1/jobs/{id} until the job ends; its JSON."""
        end = time.time() + timeout
        while time.time() < end:
            s, doc = self.call("GET", "/v1/jobs/" + job_id)
            self.assertEqual(s, 200, doc)
            if doc["job"]["state"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
                return doc["job"]
            time.sleep(0.05)
        self.fail("job %s did not finish" % job_id)

    def assertError(self, status_doc, status, code, *words):
        """The contract's error body: status, code, and a message naming the problem."""
        got_status, doc = status_doc
        self.assertEqual(got_status, status, doc)
        self.assertIsInstance(doc, dict, doc)
        err = doc.get("error", {})
        self.assertEqual(err.get("code"), code, doc)
        for w in words:
            self.assertIn(w, err.get("message", ""), doc)
        return err
