"""HTTPS: a CA -> intermediate -> server chain made with the openssl CLI;
clients that trust the CA get through (Python, curl, the strata CLI), clients
that do not, or that reach the daemon by a name the certificate does not
carry, are refused; plaintext to the TLS port fails cleanly and the daemon
goes on serving; large bodies, streamed (chunked) exports and close_notify
work over TLS; tokens over TLS."""
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import unittest

from harness import STRATAD, STRATA_CLI, Daemon

OPENSSL = shutil.which("openssl")
CURL = shutil.which("curl")


def run(*args, **kw):
    return subprocess.run(list(args), capture_output=True, text=True, check=True, **kw)


def make_pki(d):
    """ca.pem (root), chain.pem (server + intermediate), server.key: EC P-256.
    The server certificate names only IP 127.0.0.1, so "localhost" is a wrong name."""
    p = lambda n: os.path.join(d, n)
    ext = p("ext.cnf")
    with open(ext, "w") as f:
        f.write("[ca]\nbasicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n"
                "[srv]\nbasicConstraints=CA:false\nsubjectAltName=IP:127.0.0.1\n"
                "extendedKeyUsage=serverAuth\n")
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run(OPENSSL, "req", "-x509", *key, "-keyout", p("ca.key"), "-out", p("ca.pem"), "-days", "2",
        "-subj", "/CN=Strata Test Root", "-addext", "basicConstraints=critical,CA:true",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run(OPENSSL, "req", *key, "-keyout", p("int.key"), "-out", p("int.csr"),
        "-subj", "/CN=Strata Test Intermediate")
    run(OPENSSL, "x509", "-req", "-in", p("int.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
        "-CAcreateserial", "-out", p("int.pem"), "-days", "2", "-extfile", ext,
        "-extensions", "ca")
    run(OPENSSL, "req", *key, "-keyout", p("server.key"), "-out", p("server.csr"),
        "-subj", "/CN=stratad test")
    run(OPENSSL, "x509", "-req", "-in", p("server.csr"), "-CA", p("int.pem"), "-CAkey",
        p("int.key"), "-CAcreateserial", "-out", p("server.pem"), "-days", "2",
        "-extfile", ext, "-extensions", "srv")
    with open(p("chain.pem"), "w") as out:
        for n in ("server.pem", "int.pem"):
            with open(p(n)) as f:
                out.write(f.read())
    os.chmod(p("server.key"), 0o600)
    return p("chain.pem"), p("server.key"), p("ca.pem")


def cli(*args, env=None):
    e = {k: v for k, v in os.environ.items()
         if k not in ("STRATA_URL", "STRATA_TOKEN", "STRATA_CACERT")}
    e.update(env or {})
    return subprocess.run([STRATA_CLI, *args], capture_output=True, text=True, env=e)


@unittest.skipUnless(OPENSSL, "needs the openssl CLI (scripts/deps.sh installs it)")
class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki = tempfile.mkdtemp(prefix="strata-pki-")
        cls.cert, cls.key, cls.ca = make_pki(cls.pki)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.pki, ignore_errors=True)

    def setUp(self):
        self.d = Daemon(tls=(self.cert, self.key, self.ca)).start()

    def tearDown(self):
        try:
            self.d.stop()
        finally:
            self.d.cleanup()

    def test_verified_clients_get_through(self):
        self.assertEqual(self.d.call("GET", "/healthz"), (200, {"status": "ok"}))
        self.assertEqual(self.d.call("POST", "/v1/entities", {"name": "customer"})[0], 201)
        r = cli("--url", self.d.url, "--cacert", self.ca, "entity", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("customer", r.stdout)
        r = cli("--url", self.d.url, "entity", "list", env={"STRATA_CACERT": self.ca})
        self.assertEqual(r.returncode, 0, r.stderr)
        if CURL:
            r = subprocess.run([CURL, "-sS", "--cacert", self.ca, self.d.url + "/healthz"],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout), {"status": "ok"})

    def test_unverified_clients_are_refused(self):
        # Not trusting the CA.
        r = cli("--url", self.d.url, "entity", "list")
        self.assertEqual(r.returncode, 3)
        self.assertIn("certificate", r.stderr)
        self.assertIn("--cacert", r.stderr)
        # Trusting it, but reaching the daemon by a name the certificate lacks.
        wrong = f"https://localhost:{self.d.port}"
        r = cli("--url", wrong, "--cacert", self.ca, "entity", "list")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("localhost", r.stderr)
        if CURL:
            r = subprocess.run([CURL, "-sS", self.d.url + "/healthz"], capture_output=True)
            self.assertEqual(r.returncode, 60)  # peer certificate cannot be authenticated
            r = subprocess.run([CURL, "-sS", "--cacert", self.ca, wrong + "/healthz"],
                               capture_output=True)
            self.assertEqual(r.returncode, 60)
        # The CA alone (no intermediate) would not verify: the daemon sends the chain.
        ctx = ssl.create_default_context(cafile=self.ca)
        with socket.create_connection(("127.0.0.1", self.d.port)) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                self.assertEqual(len(s.getpeercert()["subjectAltName"]), 1)
                self.assertIn(s.version(), ("TLSv1.2", "TLSv1.3"))
        self.assertEqual(self.d.call("GET", "/healthz")[0], 200)

    def test_cli_export_out_over_tls(self):
        """`strata export --out` streams through libstrata's handle setup: the
        chain and host name verified against --cacert, and a refused
        certificate explained as for every other command."""
        self.assertEqual(self.d.call("POST", "/v1/entities", {"name": "customer"})[0], 201)
        self.assertEqual(self.d.call("POST", "/v1/entities/customer/features",
                                     {"name": "age", "type": "INT64"})[0], 201)
        s, doc = self.d.call("POST", "/v1/entities/customer:write",
                             {"rows": [{"entity_id": "c1", "event_time": "2024-01-01T00:00:00Z",
                                        "values": {"age": 7}}]})
        self.assertEqual(s, 200, doc)
        out = os.path.join(self.pki, "snap.csv")
        export = ("export", "snapshot", "customer", "--out", out)
        r = cli("--url", self.d.url, "--cacert", self.ca, *export)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out) as f:
            self.assertEqual(f.read(), "customer_id,customer__age\nc1,7\n")
        os.unlink(out)
        r = cli("--url", self.d.url, *export)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("TLS certificate not verified", r.stderr)
        self.assertIn("--cacert", r.stderr)
        r = cli("--url", f"https://localhost:{self.d.port}", "--cacert", self.ca, *export)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("localhost", r.stderr)
        self.assertFalse(os.path.exists(out) or os.path.exists(out + ".part"))

    def test_plaintext_to_the_tls_port(self):
        with socket.create_connection(("127.0.0.1", self.d.port), timeout=10) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                got = s.recv(4096)
            except ConnectionResetError:
                got = b""
            self.assertFalse(got.startswith(b"HTTP/"), got)
        r = cli("--url", f"http://127.0.0.1:{self.d.port}", "entity", "list")
        self.assertEqual(r.returncode, 3)
        self.assertIn("use an https:// URL", r.stderr)
        # The daemon is unharmed.
        self.assertEqual(self.d.call("GET", "/healthz")[0], 200)

    def test_close_notify_on_connection_close(self):
        ctx = ssl.create_default_context(cafile=self.ca)
        with socket.create_connection(("127.0.0.1", self.d.port), timeout=10) as raw:
            # suppress_ragged_eofs=False: a TCP close without close_notify raises.
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1",
                                 suppress_ragged_eofs=False) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        self.assertTrue(data.startswith(b"HTTP/1.1 200 OK"), data)
        self.assertTrue(data.endswith(b'{"status":"ok"}'), data)

    def test_large_bodies_and_streamed_exports(self):
        self.assertEqual(self.d.call("POST", "/v1/entities", {"name": "customer"})[0], 201)
        self.assertEqual(self.d.call("POST", "/v1/entities/customer/features",
                                     {"name": "note", "type": "STRING"})[0], 201)
        n = 4000
        note = "x" * 2000  # ~8 MB of body
        rows = [{"entity_id": f"c{i:05d}", "event_time": "2024-01-01T00:00:00Z",
                 "values": {"note": note + str(i)}} for i in range(n)]
        s, doc = self.d.call("POST", "/v1/entities/customer:write", {"rows": rows})
        self.assertEqual(s, 200, doc)
        s, hdrs, data = self.d.request("POST", "/v1/exports:snapshot",
                                       {"entity": "customer", "features": ["note"],
                                        "snapshot_time": "2024-06-01T00:00:00Z"})
        self.assertEqual(s, 200, data[:300])
        self.assertEqual(hdrs.get("Transfer-Encoding"), "chunked")
        lines = data.decode().splitlines()
        self.assertEqual(lines[0], "customer_id,customer__note")
        self.assertEqual(len(lines), n + 1)
        self.assertEqual(sorted(lines[1:])[7], f"c00007,{note}7")
        # A large answer, and the connection still serves requests after it.
        s, doc = self.d.call("POST", "/v1/online:read",
                             {"entity": "customer", "ids": [f"c{i:05d}" for i in range(1000)]})
        self.assertEqual(s, 200)
        self.assertEqual(doc["rows"][999]["values"][0], note + "999")
        self.assertEqual(self.d.call("GET", "/healthz")[0], 200)


@unittest.skipUnless(OPENSSL, "needs the openssl CLI (scripts/deps.sh installs it)")
class TlsStartupTest(unittest.TestCase):
    def setUp(self):
        self.pki = tempfile.mkdtemp(prefix="strata-pki-")
        self.cert, self.key, self.ca = make_pki(self.pki)

    def tearDown(self):
        shutil.rmtree(self.pki, ignore_errors=True)

    def refused(self, *args):
        p = subprocess.run([STRATAD, "--data-dir", os.path.join(self.pki, "data"), "--listen",
                            "127.0.0.1:0", *args], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        return p.stderr

    def test_bad_certificates_are_refused_at_start(self):
        self.assertIn("needs both --tls-cert and --tls-key", self.refused("--tls-cert", self.cert))
        self.assertIn("cannot load TLS certificate /nonexistent",
                      self.refused("--tls-cert", "/nonexistent", "--tls-key", self.key))
        other = os.path.join(self.pki, "int.key")
        self.assertIn("does not match the certificate",
                      self.refused("--tls-cert", self.cert, "--tls-key", other))

    def signed_with_dates(self, start, end):
        """The test server's key in a certificate valid from start to end (YYYYMMDDHHMMSSZ)."""
        p = lambda n: os.path.join(self.pki, n)
        open(p("index.txt"), "w").close()
        with open(p("serial"), "w") as f:
            f.write("1000\n")
        with open(p("ca.cnf"), "w") as f:
            f.write("[ca]\ndefault_ca=d\n[d]\ndatabase=%s\nnew_certs_dir=%s\nserial=%s\n"
                    "default_md=sha256\npolicy=p\nunique_subject=no\n[p]\ncommonName=supplied\n"
                    % (p("index.txt"), self.pki, p("serial")))
        out = p("dated-%s.pem" % start)
        subprocess.run([OPENSSL, "ca", "-batch", "-config", p("ca.cnf"), "-cert", p("ca.pem"),
                        "-keyfile", p("ca.key"), "-in", p("server.csr"), "-out", out,
                        "-startdate", start, "-enddate", end, "-extfile", p("ext.cnf"),
                        "-extensions", "srv"], check=True, capture_output=True)
        return out

    def test_expired_or_future_certificate_refused_at_start(self):
        # Clients always verify (there is no --insecure): a daemon serving an
        # expired certificate would fail every handshake; it says so at start.
        expired = self.signed_with_dates("20200101000000Z", "20200102000000Z")
        err = self.refused("--tls-cert", expired, "--tls-key", self.key)
        self.assertIn("expired", err)
        self.assertIn("Jan  2 00:00:00 2020 GMT", err)
        future = self.signed_with_dates("20990101000000Z", "20991231000000Z")
        self.assertIn("not valid before", self.refused("--tls-cert", future, "--tls-key", self.key))

    def test_tokens_over_tls(self):
        tokens = os.path.join(self.pki, "tokens")
        r = cli("token", "create", "writer", "--name", "loader", "--token-file", tokens)
        self.assertEqual(r.returncode, 0, r.stderr)
        token = r.stdout.strip()
        d = Daemon(token_file=tokens, tls=(self.cert, self.key, self.ca)).start()
        try:
            r = cli("--url", d.url, "--cacert", self.ca, "entity", "create", "customer")
            self.assertEqual(r.returncode, 5)
            r = cli("--url", d.url, "--cacert", self.ca, "--token", token, "entity", "create",
                    "customer")
            self.assertEqual(r.returncode, 0, r.stderr)
            d.token = token
            self.assertEqual(d.call("GET", "/v1/entities/customer")[0], 200)
        finally:
            d.stop()
            d.cleanup()


if __name__ == "__main__":
    unittest.main()
