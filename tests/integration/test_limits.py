"""Limits (base/limits.h) as a client meets them: every run-time limit's 4xx
names the limit and its flag and leaves the daemon serving; slow clients
(slowloris headers, slow bodies) are answered 408 within request_timeout_s of
their first byte; idle keep-alive connections are closed after
idle_timeout_s; connections over max_connections are refused while the
existing ones keep working; an unauthenticated request is answered 401/403
when its headers are complete, before its body is read (plaintext and TLS);
and every limit is settable by flag and by config file."""
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

from harness import STRATA_CLI, Daemon, DaemonTest, proc_status_kib
from test_tls import OPENSSL, make_pki

SMALL = ("--max-body-bytes", "20000", "--max-header-bytes", "4096", "--max-ids-per-read", "5",
         "--max-values-per-write", "10", "--max-inline-import-rows", "3",
         "--max-inline-eval-rows", "3")


def recv_all(sock, limit=1 << 20):
    """Everything until the peer closes (or resets) the connection."""
    data = b""
    try:
        while len(data) < limit:
            got = sock.recv(65536)
            if not got:
                break
            data += got
    except (ConnectionResetError, socket.timeout):
        pass
    return data


def one_request(port, raw, timeout=10):
    """Send raw bytes on a new connection; the whole answer until close."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(raw)
        return recv_all(s)


def read_response(sock):
    """One HTTP/1.1 response with Content-Length from a socket: (status, head, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        got = sock.recv(65536)
        if not got:
            raise ConnectionError("closed before a response head: %r" % data)
        data += got
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(body) < length:
        got = sock.recv(65536)
        if not got:
            break
        body += got
    return int(head[9:12]), head.decode(), body


def error_message(body):
    return json.loads(body)["error"]["message"]


class RequestLimitsTest(DaemonTest):
    """Each run-time limit of the request path, set small by flag."""
    daemon_args = SMALL

    def setUp(self):
        super().setUp()
        self.assertEqual(self.call("POST", "/v1/entities", {"name": "customer"})[0], 201)
        self.assertEqual(self.call("POST", "/v1/entities/customer/features",
                                   {"features": [{"name": "age", "type": "INT64"}]})[0], 201)

    def assertLimit(self, status_doc, status, key):
        flag = "--" + key.replace("_", "-")
        err = self.assertError(status_doc, status, "RESOURCE_EXHAUSTED", key, flag)
        self.assertEqual(self.call("GET", "/healthz")[0], 200)  # still serving
        return err

    def test_body_bytes(self):
        rows = [{"entity_id": "c1", "values": {"age": 1}}] * 2
        body = {"rows": rows, "pad": "x" * 30000}
        self.assertLimit(self.call("POST", "/v1/entities/customer:write", body), 413,
                         "max_body_bytes")
        self.assertEqual(self.call("GET", "/v1/entities/customer/values/c1")[1]["features"]
                         ["age"]["status"], "NOT_FOUND")

    def test_header_bytes(self):
        data = one_request(self.d.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " +
                           b"a" * 8000 + b"\r\n\r\n")
        self.assertTrue(data.startswith(b"HTTP/1.1 431"), data[:100])
        self.assertIn(b"max_header_bytes", data)
        self.assertIn(b"--max-header-bytes", data)
        self.assertEqual(self.call("GET", "/healthz")[0], 200)

    def test_ids_per_read(self):
        ids = [f"c{i}" for i in range(6)]
        self.assertLimit(self.call("POST", "/v1/online:read", {"entity": "customer", "ids": ids}),
                         413, "max_ids_per_read")
        self.assertEqual(self.call("POST", "/v1/online:read",
                                   {"entity": "customer", "ids": ids[:5]})[0], 200)

    def test_values_per_write(self):
        rows = [{"entity_id": f"c{i}", "values": {"age": i}} for i in range(11)]
        self.assertLimit(self.call("POST", "/v1/entities/customer:write", {"rows": rows}), 413,
                         "max_values_per_write")
        self.assertEqual(self.call("POST", "/v1/entities/customer:write",
                                   {"rows": rows[:10]})[0], 200)

    def test_inline_import_rows(self):
        def imp(n):
            text = "id,age\n" + "".join(f"c{i},{i}\n" for i in range(n))
            return self.call("POST", "/v1/imports", {
                "entity": "customer", "format": "csv", "source": {"inline": text},
                "entity_id_column": "id"})
        err = self.assertLimit(imp(4), 413, "max_inline_import_rows")
        self.assertIn("4 lines", err["message"])
        self.assertEqual(imp(3)[0], 202)

    def test_inline_eval_rows(self):
        def ev(n):
            rows = [{"y": i % 2, "s": 0.5} for i in range(n)]
            return self.call("POST", "/v1/evaluations", {"predictions": {
                "inline": rows, "label_column": "y", "score_column": "s"}})
        err = self.assertLimit(ev(4), 413, "max_inline_eval_rows")
        self.assertIn("4 rows", err["message"])
        self.assertEqual(ev(3)[0], 202)


class SlowClientTest(DaemonTest):
    """request_timeout_s 2 and idle_timeout_s 3."""
    daemon_args = ("--request-timeout-s", "2", "--idle-timeout-s", "3")

    def trickle(self, parts, gap):
        """Send parts gap seconds apart until the server answers: (answer, seconds
        from the first byte to the answer, bytes sent)."""
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=10)
        s.setblocking(False)
        start = time.monotonic()
        sent = 0
        data = b""
        try:
            for p in parts:
                try:
                    s.sendall(p)
                    sent += len(p)
                except (BrokenPipeError, ConnectionResetError, BlockingIOError):
                    break
                deadline = time.monotonic() + gap
                while time.monotonic() < deadline and not data:
                    try:
                        data = s.recv(65536)
                    except BlockingIOError:
                        time.sleep(0.02)
                if data:
                    break
            took = time.monotonic() - start
            s.setblocking(True)
            s.settimeout(5)
            data += recv_all(s)
        finally:
            s.close()
        return data, took, sent

    def test_slowloris_headers_cut_off_at_request_timeout(self):
        # One header byte every 1.8 s: the idle clock (3 s) never fires, the
        # request clock (2 s from the first byte) does, between two bytes.
        head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
        data, took, sent = self.trickle([head[i:i + 1] for i in range(len(head))], 1.8)
        self.assertTrue(data.startswith(b"HTTP/1.1 408"), data[:200])
        self.assertIn(b"request_timeout_s", data)
        self.assertIn(b"--request-timeout-s", data)
        self.assertGreaterEqual(took, 1.9)
        self.assertLess(took, 3.2)  # not at the next byte (3.6 s)
        self.assertLess(sent, 4)
        self.assertEqual(self.call("GET", "/healthz")[0], 200)

    def test_slow_body_cut_off_at_request_timeout(self):
        body = b'{"name":"' + b"a" * 60 + b'"}'
        head = (b"POST /v1/entities HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body))
        parts = [head] + [body[i:i + 2] for i in range(0, len(body), 2)]
        data, took, _ = self.trickle(parts, 0.5)
        self.assertTrue(data.startswith(b"HTTP/1.1 408"), data[:200])
        self.assertIn(b"request_timeout_s", data)
        self.assertLess(took, 3.2)
        # Nothing was created from the cut request.
        self.assertEqual(self.call("GET", "/v1/entities/" + "a" * 60)[0], 404)

    def test_idle_keep_alive_closed(self):
        with socket.create_connection(("127.0.0.1", self.d.port), timeout=10) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(read_response(s)[0], 200)
            start = time.monotonic()
            rest = recv_all(s)  # no answer, just the close
            took = time.monotonic() - start
        self.assertEqual(rest, b"")
        self.assertGreaterEqual(took, 2.8)
        self.assertLess(took, 4.5)
        # A connection that never sends a byte is idle too.
        with socket.create_connection(("127.0.0.1", self.d.port), timeout=10) as s:
            start = time.monotonic()
            self.assertEqual(recv_all(s), b"")
            self.assertLess(time.monotonic() - start, 4.5)

    def test_active_keep_alive_survives(self):
        # Requests 2 s apart on one connection for 6 s: never idle for 3 s, and
        # the request clock restarts with each request.
        with socket.create_connection(("127.0.0.1", self.d.port), timeout=10) as s:
            for _ in range(4):
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertEqual(read_response(s)[0], 200)
                time.sleep(2)


class ConnectionFloodTest(DaemonTest):
    daemon_args = ("--max-connections", "4")

    def test_flood_refused_existing_keep_working(self):
        self.d.conn.close()  # the harness's own keep-alive connection
        self.d.conn = None
        time.sleep(0.3)
        held = []
        for _ in range(4):
            s = socket.create_connection(("127.0.0.1", self.d.port), timeout=10)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(read_response(s)[0], 200)
            held.append(s)
        for _ in range(20):
            data = one_request(self.d.port, b"")
            self.assertTrue(data.startswith(b"HTTP/1.1 503"), data[:200])
            self.assertIn(b"max_connections", data)
        for s in held:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(read_response(s)[0], 200)
        held.pop().close()
        deadline = time.time() + 5
        while True:  # the freed slot is taken again
            data = one_request(self.d.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                               b"Connection: close\r\n\r\n")
            if data.startswith(b"HTTP/1.1 200") or time.time() > deadline:
                break
            time.sleep(0.05)
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:200])
        for s in held:
            s.close()


def rss_bytes(pid):
    return proc_status_kib(pid, "VmRSS") * 1024


class JsonShapeTest(DaemonTest):
    """A body within max_body_bytes can still cost ~30 times its size once
    parsed (a 60 MB "[0,0,...]" peaked at 1.3 GB): bodies are measured before
    parsing, values against max_json_values and nesting against
    LIMIT_JSON_DEPTH."""
    daemon_args = ("--max-json-values", "500000")

    def test_too_many_values_refused_before_parsing(self):
        before = rss_bytes(self.d.proc.pid)
        for filler in (b"0,", b"{},", b"[],", b'"",'):
            body = b'{"ids":[' + filler * 4_000_000 + b'0]}'
            st, doc = self.call_raw(body)
            self.assertEqual(st, 413, doc)
            self.assertEqual(doc["error"]["code"], "RESOURCE_EXHAUSTED")
            self.assertIn("max_json_values, --max-json-values", doc["error"]["message"])
        # Parsed, 4M "{}" alone peaks at 921 MiB; what remains is the bodies'
        # buffers (and, under ASan, its quarantine of freed ones: ~210 MiB).
        grown = rss_bytes(self.d.proc.pid) - before
        self.assertLess(grown, 400 << 20, "RSS grew %d MiB" % (grown >> 20))
        # Under the limit, the request goes on to its handler.
        st, doc = self.call_raw(b'{"ids":[' + b'"a",' * 400_000 + b'"a"]}')
        self.assertEqual(doc["error"]["message"], 'field "entity" is required')

    def test_nesting_deeper_than_the_limit_refused(self):
        for depth in (63, 64, 3000):  # the body's object is one more level
            body = b'{"ids":' + b"[" * depth + b"]" * depth + b"}"
            st, doc = self.call_raw(body)
            self.assertEqual(st, 400, doc)
            msg = doc["error"]["message"]
            if depth + 1 > 64:
                self.assertIn("nests arrays and objects deeper than 64", msg)
            else:
                self.assertNotIn("deeper", msg)
        # Brackets inside strings (escaped quotes too) are text, not nesting.
        st, doc = self.call_raw(b'{"ids":["' + b"[" * 100 + b'\\"' + b"{" * 100 + b'"]}')
        self.assertNotIn("deeper", doc["error"]["message"])

    def call_raw(self, body):
        st, _, data = self.d.request("POST", "/v1/online:read", body=body,
                                     headers={"Content-Type": "application/json"})
        return st, json.loads(data)


class PipelineTest(DaemonTest):
    """A client that pipelines requests and never reads the answers: the
    server stops reading its requests once LIMIT_PIPELINE_OUTPUT_BYTES of
    answers wait (a 37-byte GET /metrics answers kilobytes), so memory does
    not grow with the number of requests sent; the connection is cut at
    request_timeout_s without progress, and a reading client is unaffected."""
    daemon_args = ("--request-timeout-s", "4",)

    def test_unread_pipelined_answers_bounded(self):
        st, _, body = self.d.request("GET", "/metrics")
        self.assertEqual(st, 200)
        self.assertGreater(len(body), 2000)  # the amplification this test relies on
        req = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
        n = (512 << 20) // len(body) + 1  # answers worth 512 MiB if all were read
        before = rss_bytes(self.d.proc.pid)
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=10)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.setblocking(False)
        data = req * n
        sent = 0
        deadline = time.monotonic() + 3
        while sent < len(data) and time.monotonic() < deadline:
            try:
                sent += s.send(data[sent:sent + 65536])
            except BlockingIOError:
                time.sleep(0.01)
        time.sleep(1)
        grown = rss_bytes(self.d.proc.pid) - before
        self.assertLess(grown, 64 << 20, "RSS grew %d MiB after %d of %d pipelined requests"
                        % (grown >> 20, sent // len(req), n))
        # Not read for request_timeout_s: the server gives up on the connection.
        time.sleep(5)
        s.setblocking(True)
        s.settimeout(10)
        got = recv_all(s, limit=1 << 30)
        s.close()
        self.assertLess(len(got), sent // len(req) * len(body))
        # A well-behaved pipelining client still gets every answer.
        with socket.create_connection(("127.0.0.1", self.d.port), timeout=10) as c:
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 50 + req * 1000 +
                      b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            got = recv_all(c, limit=1 << 30)
        self.assertEqual(got.count(b"HTTP/1.1 200 OK\r\n"), 1051)


def create_token(token_file, role, name):
    r = subprocess.run([STRATA_CLI, "token", "create", role, "--name", name, "--token-file",
                        token_file], capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(r.stderr)
    return r.stdout.strip()


class EarlyRejectTest(unittest.TestCase):
    """401/403 when the headers are complete: the body is never read."""
    BODY = 48 << 20  # under the default max_body_bytes (64 MiB)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="strata-limits-")
        self.tokens = os.path.join(self.tmp, "tokens")
        self.admin = create_token(self.tokens, "admin", "ops")
        self.reader = create_token(self.tokens, "reader", "rd")
        self.tls = None
        self.d = None

    def tearDown(self):
        if self.d:
            try:
                self.d.stop()
            finally:
                self.d.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, tls=None):
        self.d = Daemon(token_file=self.tokens, token=self.admin, tls=tls).start()

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=10)
        if self.d.tls:
            ctx = ssl.create_default_context(cafile=self.d.tls[2])
            s = ctx.wrap_socket(s, server_hostname="127.0.0.1")
        return s

    def push_big_body(self, auth_header, expect):
        """Headers of a BODY-byte write, then the body as fast as the server takes
        it: the answer must come before the body, and the server must stop
        taking bytes long before all of it is sent."""
        s = self.connect()
        head = (b"POST /v1/entities/customer:write HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\n" + auth_header +
                b"Content-Length: %d\r\n\r\n" % self.BODY)
        start = time.monotonic()
        s.sendall(head)
        status, resp_head, body = read_response(s)
        self.assertEqual(status, expect, body)
        self.assertIn("Connection: close", resp_head)
        chunk = b"x" * (1 << 20)
        sent = 0
        s.settimeout(5)
        try:
            while sent < self.BODY:
                s.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError, socket.timeout, ssl.SSLError, OSError):
            pass
        s.close()
        took = time.monotonic() - start
        # What the kernel buffers on both sides plus the bounded lingering read
        # (LIMIT_LINGER_BYTES) is a few MiB; the daemon never took the body.
        self.assertLess(sent, self.BODY // 3, "the server read %d bytes of the body" % sent)
        self.assertLess(took, 8)
        return json.loads(body)["error"]

    def check_early_reject(self):
        err = self.push_big_body(b"", 401)
        self.assertEqual(err["code"], "UNAUTHENTICATED")
        err = self.push_big_body(b"Authorization: Bearer strata_not_a_token\r\n", 401)
        self.assertEqual(err["code"], "UNAUTHENTICATED")
        err = self.push_big_body(b"Authorization: Bearer " + self.reader.encode() + b"\r\n", 403)
        self.assertEqual(err["code"], "PERMISSION_DENIED")
        # Expect: 100-continue gets the 401 instead of the go-ahead.
        s = self.connect()
        s.sendall(b"POST /v1/entities/customer:write HTTP/1.1\r\nHost: x\r\n"
                  b"Expect: 100-continue\r\nContent-Length: 1000000\r\n\r\n")
        status, _, _ = read_response(s)
        s.close()
        self.assertEqual(status, 401)
        # Authorized requests are unaffected; a bodiless 401 keeps the connection.
        self.assertEqual(self.d.call("POST", "/v1/entities", {"name": "customer"})[0], 201)
        s = self.connect()
        s.sendall(b"GET /v1/entities HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(read_response(s)[0], 401)
        s.sendall(b"GET /v1/entities HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                  self.reader.encode() + b"\r\n\r\n")
        self.assertEqual(read_response(s)[0], 200)
        s.close()

    def test_plaintext(self):
        self.start()
        self.check_early_reject()

    @unittest.skipUnless(OPENSSL, "needs the openssl CLI (scripts/deps.sh installs it)")
    def test_tls(self):
        pki = os.path.join(self.tmp, "pki")
        os.mkdir(pki)
        self.start(tls=make_pki(pki))
        self.check_early_reject()


class ConfigPathsTest(unittest.TestCase):
    """The same limits from a config file, and flags overriding it."""

    def test_config_file_and_flag_override(self):
        d = Daemon(config_text="max_ids_per_read = 2\nmax_inline_import_rows = 1\n"
                               "request_timeout_s = 1\nidle_timeout_s = 30\n",
                   args=("--max-ids-per-read", "4"))
        try:
            d.start()
            self.assertEqual(d.call("POST", "/v1/entities", {"name": "e"})[0], 201)
            ids = {"entity": "e", "ids": ["a", "b", "c", "d"]}
            self.assertEqual(d.call("POST", "/v1/online:read", ids)[0], 200)  # the flag's 4
            ids["ids"].append("f")
            s, doc = d.call("POST", "/v1/online:read", ids)
            self.assertEqual(s, 413, doc)
            self.assertIn("over the limit of 4 (max_ids_per_read", doc["error"]["message"])
            s, doc = d.call("POST", "/v1/imports", {
                "entity": "e", "format": "csv", "source": {"inline": "id\na\nb\n"},
                "entity_id_column": "id"})
            self.assertEqual(s, 413, doc)
            self.assertIn("limit of 1 (max_inline_import_rows", doc["error"]["message"])
            start = time.monotonic()
            data = one_request(d.port, b"GET /healthz HTTP/1.1\r\n")
            self.assertTrue(data.startswith(b"HTTP/1.1 408"), data[:100])
            self.assertIn(b"within 1 s", data)
            self.assertLess(time.monotonic() - start, 2.5)
            d.stop()
        finally:
            d.cleanup()
        for bad in (("--idle-timeout-s", "0"), ("--max-inline-eval-rows", "-3")):
            b = Daemon(args=bad)
            try:
                with self.assertRaises(RuntimeError) as cm:
                    b.start()
                self.assertIn(bad[0][2:].replace("-", "_"), str(cm.exception))
            finally:
                b.cleanup()


if __name__ == "__main__":
    unittest.main()
