#!/usr/bin/python3
"""icount.py - stratad's instructions per request on the bench/online loads.

Usage: bench/online/icount.py BUILD_DIR [--entities N] [--requests N] [--threads N]
                              [--keep DIR] [--out FILE]

Wall-clock figures mean nothing on a shared machine; instruction counts do not
depend on who else runs. This script:

 1. starts BUILD_DIR/serving/stratad on a fresh data directory, creates entity
    `user` with bench/online's 10 features and writes N ids (default 100k) of
    the same values as bench/online/run.sh, 1,000 rows per request;
 2. stops it and starts it again under `valgrind --tool=callgrind` on that
    data (recovery flushes the load to SST files, as the benchmark's reads find
    it: latest rows are unmerged single operands) and reads every id once, so
    the block cache holds every block, as it does after the benchmark's first
    seconds;
 3. for each load, warms it up, zeroes the counters (callgrind_control -z),
    sends a fixed number of requests one after another on one keep-alive
    connection (random ids, fixed seed) and dumps the counters: the table gives
    every stratad thread's instructions (Ir) divided by the requests.

Loads: GET JSON, GET protobuf (one id, 10 features), POST /v1/online:read with
10 ids in JSON and in protobuf, and batched writes of 1,000 new rows x 10
features (per request and per value). Client time is not counted; nothing here
depends on the load generator.

--keep DIR keeps the callgrind dumps there, one per load and thread
(DIR/get_json.NN: callgrind_annotate reads them), and the daemon's log.
"""
import argparse
import glob
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

FEATURES = [("ctr_1d", "DOUBLE"), ("ctr_7d", "DOUBLE"), ("spend_30d", "DOUBLE"),
            ("avg_session_s", "DOUBLE"), ("score_a", "DOUBLE"), ("score_b", "DOUBLE"),
            ("orders_30d", "INT64"), ("days_active", "INT64"), ("country", "STRING"),
            ("segment", "STRING")]
COUNTRIES = ["US", "DE", "FR", "GB", "JP", "BR", "IN", "CA"]


def row(k):
    """The values bench/online/run.sh writes for id u<k>."""
    return ('{"entity_id":"u%d","event_time":"2024-06-01T12:%02d:%02d.%06dZ","values":{'
            '"ctr_1d":%.17g,"ctr_7d":%.17g,"spend_30d":%.2f,"avg_session_s":%.3f,'
            '"score_a":%.17g,"score_b":%.17g,"orders_30d":%d,"days_active":%d,'
            '"country":"%s","segment":"seg_%d"}}') % (
                k, (k // 60) % 60, k % 60, k % 1000000, (k % 997) / 997.0, (k % 991) / 991.0,
                (k * 7919 % 100000) / 100.0, (k % 3600) + 0.5, (k % 10007) / 10007.0,
                1 - (k % 4001) / 4001.0, k % 97, k % 366, COUNTRIES[k % 8], k % 13)


def batch(start, n):
    return ('{"rows":[' + ",".join(row(k) for k in range(start, start + n)) + "]}").encode()


def pb_bytes(field, s):
    s = s.encode() if isinstance(s, str) else s
    n, head = len(s), b""
    while True:
        b = n & 0x7F
        n >>= 7
        head += bytes([b | (0x80 if n else 0)])
        if not n:
            break
    return bytes([field << 3 | 2]) + head + s


class Conn:
    """One keep-alive HTTP/1.1 connection; answers must carry Content-Length."""

    def __init__(self, port):
        self.port = port
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def request(self, method, path, headers=(), body=b""):
        head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % (method, path, self.port)
        for h in headers:
            head += h + "\r\n"
        if body or method == "POST":
            head += "Content-Length: %d\r\n" % len(body)
        self.s.sendall(head.encode() + b"\r\n" + body)
        while b"\r\n\r\n" not in self.buf:
            self._more()
        end = self.buf.index(b"\r\n\r\n") + 4
        rhead = self.buf[:end].decode("latin-1")
        m = re.search(r"(?im)^content-length:\s*(\d+)", rhead)
        if not m:
            raise RuntimeError("answer without Content-Length: " + rhead)
        n = int(m.group(1))
        while len(self.buf) < end + n:
            self._more()
        status = int(rhead.split(" ", 2)[1])
        rbody, self.buf = self.buf[end:end + n], self.buf[end + n:]
        if status // 100 != 2:
            raise RuntimeError("%s %s -> %d %r" % (method, path, status, rbody[:300]))
        return rbody

    def _more(self):
        d = self.s.recv(1 << 16)
        if not d:
            raise RuntimeError("connection closed")
        self.buf += d

    def close(self):
        self.s.close()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_up(port, proc, secs):
    t = time.time() + secs
    while time.time() < t:
        if proc.poll() is not None:
            raise RuntimeError("stratad exited with %d" % proc.returncode)
        try:
            c = Conn(port)
            c.request("GET", "/healthz")
            c.close()
            return
        except (OSError, RuntimeError):
            time.sleep(0.2)
    raise RuntimeError("stratad did not come up")


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build")
    ap.add_argument("--entities", type=int, default=100000)
    ap.add_argument("--requests", type=int, default=2000, help="per GET load (POSTs: a quarter)")
    ap.add_argument("--threads", type=int, default=2, help="stratad --threads")
    ap.add_argument("--keep", help="keep callgrind dumps and the log in this directory")
    ap.add_argument("--out", help="also write the table (markdown) here")
    a = ap.parse_args()
    stratad = os.path.join(a.build, "serving", "stratad")
    work = tempfile.mkdtemp(prefix="strata-icount.")
    data = os.path.join(work, "data")
    port = free_port()
    args = [stratad, "--data-dir", data, "--listen", "127.0.0.1:%d" % port, "--log-level",
            "warn", "--threads", str(a.threads)]
    log = open(os.path.join(work, "stratad.log"), "w")
    procs = []
    try:
        # 1. The load, at full speed.
        p = subprocess.Popen(args, stdout=log, stderr=log)
        procs.append(p)
        wait_up(port, p, 60)
        c = Conn(port)
        c.request("POST", "/v1/entities", ["Content-Type: application/json"],
                  b'{"name":"user","description":"bench/online icount"}')
        c.request("POST", "/v1/entities/user/features", ["Content-Type: application/json"],
                  json.dumps({"features": [{"name": n, "type": t} for n, t in FEATURES]}).encode())
        for s in range(0, a.entities, 1000):
            c.request("POST", "/v1/entities/user:write", ["Content-Type: application/json"],
                      batch(s, min(1000, a.entities - s)))
        c.close()
        stop(p)

        # 2. Again under callgrind.
        vg = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + work + "/cg.%p",
              "--separate-threads=yes"]
        p = subprocess.Popen(vg + args, stdout=log, stderr=log)
        procs.append(p)
        wait_up(port, p, 600)

        # Every block into the block cache, as after the benchmark's first
        # seconds: otherwise each read would also pay a decompression.
        c = Conn(port)
        for s in range(0, a.entities, 1000):
            b = json.dumps({"entity": "user",
                            "ids": ["u%d" % k for k in range(s, min(s + 1000, a.entities))]})
            c.request("POST", "/v1/online:read", ["Content-Type: application/json"], b.encode())
        c.close()

        rng = random.Random(42)
        n_get, n_post, n_write = a.requests, max(1, a.requests // 4), 5
        ids = lambda n: ["u%d" % rng.randrange(a.entities) for _ in range(n)]
        jget = ["Accept: application/json"]
        pget = ["Accept: application/x-protobuf"]
        jpost = ["Accept: application/json", "Content-Type: application/json"]
        ppost = ["Accept: application/x-protobuf", "Content-Type: application/x-protobuf"]

        def get(hdrs):
            return lambda c: c.request("GET", "/v1/entities/user/values/" + ids(1)[0], hdrs)

        def post_json(c):
            b = json.dumps({"entity": "user", "ids": ids(10)}, separators=(",", ":")).encode()
            return c.request("POST", "/v1/online:read", jpost, b)

        def post_pb(c):
            b = pb_bytes(1, "user") + b"".join(pb_bytes(2, i) for i in ids(10))
            return c.request("POST", "/v1/online:read", ppost, b)

        next_id = [a.entities]

        def write(c):
            b = batch(next_id[0], 1000)
            next_id[0] += 1000
            return c.request("POST", "/v1/entities/user:write", ["Content-Type: application/json"],
                             b)

        loads = [("get_json", "GET JSON, 1 id x 10 features", get(jget), n_get, 1),
                 ("get_pb", "GET protobuf", get(pget), n_get, 1),
                 ("post_json", "POST online:read JSON, 10 ids", post_json, n_post, 1),
                 ("post_pb", "POST online:read protobuf, 10 ids", post_pb, n_post, 1),
                 ("write", "batched write, 1,000 rows x 10 features", write, n_write, 10000)]
        results = []
        c = Conn(port)
        for name, title, fn, n, values in loads:
            for _ in range(max(2, n // 20)):  # warm-up: caches, buffers
                fn(c)
            subprocess.run(["callgrind_control", "-z", str(p.pid)], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(n):
                fn(c)
            before = set(glob.glob(work + "/cg.%d*" % p.pid))
            subprocess.run(["callgrind_control", "-d", name, str(p.pid)], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # One dump per thread; "totals:" is the sum of the costs in a file.
            new = sorted(set(glob.glob(work + "/cg.%d*" % p.pid)) - before)
            if not new:
                raise RuntimeError("callgrind wrote no dump")
            total = 0
            for path in new:
                with open(path) as f:
                    total += next(int(l.split()[1]) for l in f if l.startswith("totals:"))
                if a.keep:
                    os.makedirs(a.keep, exist_ok=True)
                    shutil.copy(path, os.path.join(a.keep, name + "." + path.rsplit("-", 1)[-1]))
            results.append((name, title, n, total, values))
            print("%-10s %6d requests %15d Ir %10.0f Ir/request" % (name, n, total, total / n),
                  file=sys.stderr)
        c.close()
        stop(p)
        lines = ["| load | requests | instructions | per request | per value |",
                 "|---|---|---|---|---|"]
        for name, title, n, total, values in results:
            lines.append("| %s | %d | %s | %s | %s |" % (
                title, n, format(total, ","), format(round(total / n), ","),
                format(round(total / n / values), ",") if values > 1 else ""))
        print("\n".join(lines))
        if a.out:
            with open(a.out, "w") as f:
                f.write("\n".join(lines) + "\n")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        log.close()
        if a.keep:
            os.makedirs(a.keep, exist_ok=True)
            shutil.copy(os.path.join(work, "stratad.log"), a.keep)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
