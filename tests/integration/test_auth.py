"""Bearer tokens and roles: every route x every role as `stratad --routes`
declares it (the router's own table, checked against the contract by
tests/unit/test_auth.c), 401 and 403 bodies, the principal in audit records,
revocation on reload, metrics of refusals, and `strata token` / `--token`."""
import ctypes
import json
import os
import re
import signal
import stat
import subprocess
import tempfile
import time
import unittest
import shutil

from harness import STRATAD, STRATA_CLI, Daemon, scaled

ROLES = ("admin", "writer", "reader", "auditor")


def cli(*args, env=None, check=False):
    e = dict(os.environ)
    for k in ("STRATA_URL", "STRATA_TOKEN", "STRATA_CACERT", "STRATA_TOKEN_FILE"):
        e.pop(k, None)
    e.update(env or {})
    return subprocess.run([STRATA_CLI, *args], capture_output=True, text=True, env=e,
                          check=check)


def routes():
    """[(method, path with placeholders, permission, roles)] from the daemon's table."""
    out = subprocess.run([STRATAD, "--routes"], capture_output=True, text=True,
                         check=True).stdout
    result = []
    for line in out.splitlines():
        method, pattern, perm, roles = line.split(" ")
        # "{}" segments take a placeholder; "{}:verb" keeps its verb.
        path = pattern.replace("{}", "x")
        result.append((method, path, perm, set() if roles == "none" else set(roles.split(","))))
    return result


class TokenDaemonTest(unittest.TestCase):
    """A daemon with a token file holding one token per role (named after it)."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="strata-auth-")
        self.token_file = os.path.join(self.tmp, "tokens")
        self.tokens = {role: self.create(role, role) for role in ROLES}
        self.d = Daemon(token_file=self.token_file, token=self.tokens["admin"]).start()

    def tearDown(self):
        try:
            self.d.stop()
        finally:
            self.d.cleanup()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def create(self, role, name):
        r = cli("token", "create", role, "--name", name, "--token-file", self.token_file)
        self.assertEqual(r.returncode, 0, r.stderr)
        token = r.stdout.strip()
        self.assertRegex(token, r"^strata_[A-Za-z0-9_-]{43}$")
        self.assertIn(f'created token "{name}" ({role})', r.stderr)
        return token

    def as_role(self, role, method, path, body=None):
        return self.d.call(method, path, body,
                           headers={"Authorization": "Bearer " + self.tokens[role]})

    def wait_until(self, pred, timeout=5.0):
        start = time.time()
        while time.time() - start < scaled(timeout):
            if pred():
                return time.time() - start
            time.sleep(0.05)
        self.fail("condition not met within %.1f s" % timeout)


class RouteMatrixTest(TokenDaemonTest):
    def test_every_route_every_role(self):
        table = routes()
        self.assertGreater(len(table), 50)
        self.assertEqual([r for r in table if r[2] == "open"], [("GET", "/healthz", "open", set())])
        for method, path, perm, allowed in table:
            self.assertNotEqual(perm, "undeclared", path)
            if perm != "open":
                self.assertIn("admin", allowed, path)
            for role in ROLES:
                status, doc = self.as_role(role, method, path)
                where = f"{role} {method} {path} ({perm}: {sorted(allowed)})"
                if perm == "open" or role in allowed:
                    self.assertNotIn(status, (401, 403), f"{where}: {doc}")
                else:
                    self.assertEqual(status, 403, f"{where}: {doc}")
                    self.assertEqual(doc["error"]["code"], "PERMISSION_DENIED", where)
                    self.assertIn(f"role {role}", doc["error"]["message"], where)
            # No token, or a wrong one: 401 for everything but /healthz.
            status, hdrs, _ = self.d.request(method, path, headers={"Authorization": ""})
            self.assertEqual(status, 200 if perm == "open" else 401, path)
            status, hdrs, _ = self.d.request(method, path,
                                             headers={"Authorization": "Bearer strata_nope"})
            self.assertEqual(status, 200 if perm == "open" else 401, path)


class AuthTest(TokenDaemonTest):
    def test_401_body_and_challenge(self):
        for path in ("/v1/entities", "/no/such/route", "/metrics", "/readyz"):
            status, hdrs, data = self.d.request("GET", path, headers={"Authorization": ""})
            self.assertEqual(status, 401, path)
            self.assertEqual(hdrs.get("WWW-Authenticate"), 'Bearer realm="strata"')
            s, doc = self.d.call("GET", path, headers={"Authorization": ""})
            self.assertEqual(doc["error"]["code"], "UNAUTHENTICATED")
            self.assertIn("Authorization: Bearer", doc["error"]["message"])
            self.assertEqual(doc["error"]["details"], [])
        admin = self.tokens["admin"]
        # The admin token with its last character changed (never to itself: a
        # token ending in "A" made this a valid token once in 64 runs).
        altered = admin[:-1] + ("B" if admin.endswith("A") else "A")
        for bad in ("Bearer " + altered, "Bearer x", "Basic YTpi",
                    "Bearer", self.tokens["admin"]):
            status, hdrs, _ = self.d.request("GET", "/v1/entities", headers={"Authorization": bad})
            self.assertEqual(status, 401, bad)
            self.assertTrue(hdrs.get("WWW-Authenticate", "").startswith("Bearer"), bad)
        status, hdrs, _ = self.d.request("GET", "/v1/entities",
                                         headers={"Authorization": "Bearer nope"})
        self.assertIn('error="invalid_token"', hdrs["WWW-Authenticate"])
        # The scheme is case-insensitive (RFC 7235).
        status, _, _ = self.d.request("GET", "/v1/entities",
                                      headers={"Authorization": "bearer " + self.tokens["reader"]})
        self.assertEqual(status, 200)
        self.assertEqual(self.d.request("GET", "/healthz", headers={"Authorization": ""})[0], 200)

    def test_audit_records_carry_the_token_name(self):
        self.assertEqual(self.as_role("writer", "POST", "/v1/entities", {"name": "customer"})[0],
                         201)
        self.assertEqual(self.as_role("writer", "POST", "/v1/entities/customer/features",
                                      {"name": "age", "type": "INT64"})[0], 201)
        self.assertEqual(self.as_role("writer", "POST", "/v1/entities/customer:write",
                                      {"rows": [{"entity_id": "c1", "values": {"age": 3}}]})[0],
                         200)
        self.assertEqual(self.as_role("admin", "POST", "/v1/entities", {"name": "driver"})[0], 201)
        # Refused requests are not changes: nothing recorded for them.
        self.assertEqual(self.as_role("reader", "POST", "/v1/entities", {"name": "x"})[0], 403)
        s, doc = self.as_role("auditor", "GET", "/v1/audit")
        self.assertEqual(s, 200, doc)
        self.assertEqual([(r["principal"], r["action"]) for r in doc["records"]], [
            ("writer", "POST /v1/entities"), ("writer", "POST /v1/entities/{}/features"),
            ("writer", "POST /v1/entities/{}:write"), ("admin", "POST /v1/entities")])
        self.assertTrue(self.as_role("auditor", "GET", "/v1/audit:verify")[1]["ok"])
        # Readers read values; writers can read what they write.
        for role in ("reader", "writer"):
            s, doc = self.as_role(role, "GET", "/v1/entities/customer/values/c1")
            self.assertEqual(s, 200, doc)
            self.assertEqual(doc["features"]["age"]["value"], 3)
        self.assertEqual(self.as_role("auditor", "GET", "/v1/entities/customer/values/c1")[0], 403)

    def test_revocation_takes_effect_on_reload(self):
        self.assertEqual(self.as_role("writer", "GET", "/v1/entities")[0], 200)
        r = cli("token", "revoke", "writer", "--token-file", self.token_file)
        self.assertEqual(r.returncode, 0, r.stderr)
        took = self.wait_until(lambda: self.as_role("writer", "GET", "/v1/entities")[0] == 401)
        self.assertLess(took, 3.0)  # LIMIT_TOKEN_RELOAD_S is 1 s
        self.assertEqual(self.as_role("reader", "GET", "/v1/entities")[0], 200)
        # A new token works once the file is reloaded; SIGHUP does it at once
        # (and does not stop the daemon).
        self.tokens["late"] = self.create("reader", "late")
        self.d.proc.send_signal(signal.SIGHUP)
        self.wait_until(lambda: self.as_role("late", "GET", "/v1/entities")[0] == 200)
        # The line is written just after the new tokens take effect: wait for it too.
        self.wait_until(lambda: "token file reloaded: 4 tokens" in self.d.stderr())

    def test_signals_on_any_thread_keep_the_daemon(self):
        # A signal the kernel hands to a thread stratad did not start (OpenBLAS's pool,
        # started before main, blocks nothing) is forwarded to the main thread. Before,
        # it took its default action there: a SIGHUP arriving while the main thread was
        # busy ended the daemon with exit 129 (logrotate twice, an operator's loop).
        # tgkill puts one on every thread, which is where a burst lands by chance.
        tgkill = ctypes.CDLL(None, use_errno=True).tgkill
        pid = self.d.proc.pid
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        self.assertGreater(len(tids), 2)
        for tid in tids:
            tgkill(pid, tid, signal.SIGHUP)
        self.wait_until(lambda: "token file reloaded" in self.d.stderr())
        for _ in range(500):
            self.d.proc.send_signal(signal.SIGHUP)
        self.assertIsNone(self.d.proc.poll(), self.d.stderr()[-2000:])
        self.assertEqual(self.as_role("reader", "GET", "/v1/entities")[0], 200)
        self.d.stop()  # SIGTERM still ends it cleanly, exit 0
        self.assertIn("stopped cleanly", self.d.stderr())

    def test_broken_file_keeps_the_tokens_in_force(self):
        with open(self.token_file, "a") as f:
            f.write("this line is not a token\n")
        self.wait_until(lambda: "token file not reloaded" in self.d.stderr())
        # Two comment lines, four tokens, then the bad line.
        self.assertIn(":7: expected 4 fields", self.d.stderr())
        self.assertEqual(self.as_role("reader", "GET", "/v1/entities")[0], 200)
        os.chmod(self.token_file, 0o644)
        self.d.proc.send_signal(signal.SIGHUP)
        self.wait_until(lambda: "chmod 600" in self.d.stderr())
        self.assertEqual(self.as_role("reader", "GET", "/v1/entities")[0], 200)
        s, _, text = self.d.request("GET", "/metrics")
        # Two broken states; the second may be seen by the timer and SIGHUP both.
        failed = re.search(rb'strata_auth_reloads_total\{outcome="failed"\} (\d+)', text)
        self.assertIn(int(failed.group(1)), (2, 3), text)

    def test_metrics_count_refusals(self):
        for _ in range(3):
            self.d.request("GET", "/v1/entities", headers={"Authorization": ""})
        for _ in range(2):
            self.d.request("GET", "/v1/entities", headers={"Authorization": "Bearer guess"})
        self.as_role("reader", "POST", "/v1/entities", {"name": "x"})
        s, _, text = self.d.request("GET", "/metrics",
                                    headers={"Authorization": "Bearer " + self.tokens["reader"]})
        self.assertEqual(s, 200)
        text = text.decode()
        self.assertIn('strata_auth_failures_total{reason="missing"} 3', text)
        self.assertIn('strata_auth_failures_total{reason="invalid"} 2', text)
        self.assertIn('strata_auth_failures_total{reason="forbidden"} 1', text)
        self.assertIn("strata_auth_tokens 4", text)
        self.assertIn('route="POST /v1/entities",code="4xx"} 1', text)

    def test_cli_token_option_and_env(self):
        url = self.d.url
        r = cli("--url", url, "entity", "list")
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertIn("requires a token", r.stderr)
        r = cli("--url", url, "--token", self.tokens["writer"], "entity", "create", "customer")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = cli("--url", url, "entity", "create", "driver", env={"STRATA_TOKEN":
                                                                 self.tokens["reader"]})
        self.assertEqual(r.returncode, 5)
        self.assertIn("role reader, which may not POST /v1/entities", r.stderr)
        r = cli("--url", url, "entity", "list", "--token", self.tokens["reader"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("customer", r.stdout)
        r = cli("--url", url, "--token", self.tokens["writer"], "audit", "log")
        self.assertEqual(r.returncode, 5)
        r = cli("--url", url, "--token", self.tokens["auditor"], "audit", "log")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("writer", r.stdout)

    def test_cli_export_out_token(self):
        """`export --out` streams through libstrata: a refusal is the server's
        own message (exit 5), a token with a control character is refused
        before sending (exit 2), and no FILE or FILE.part is left behind."""
        s, doc = self.as_role("admin", "POST", "/v1/entities", {"name": "customer"})
        self.assertIn(s, (200, 201), doc)
        s, doc = self.as_role("admin", "POST", "/v1/entities/customer/features",
                              {"name": "age", "type": "INT64"})
        self.assertIn(s, (200, 201), doc)
        out = os.path.join(self.tmp, "snap.csv")
        args = ("--url", self.d.url, "export", "snapshot", "customer", "--out", out)
        body = {"entity": "customer"}

        def server_says(auth):
            s, doc = self.d.call("POST", "/v1/exports:snapshot", body,
                                 headers={"Authorization": auth})
            self.assertIn(s, (401, 403), doc)
            return "strata: " + doc["error"]["message"] + "\n"

        for auth, extra, env in (("", (), None),
                                 ("Bearer strata_nope", ("--token", "strata_nope"), None),
                                 ("Bearer " + self.tokens["reader"], (),
                                  {"STRATA_TOKEN": self.tokens["reader"]})):
            r = cli(*extra, *args, env=env)
            self.assertEqual(r.returncode, 5, (auth, r.stderr))
            self.assertEqual(r.stderr, server_says(auth))
            self.assertFalse(os.path.exists(out) or os.path.exists(out + ".part"))
        r = cli("--token", "strata_a\tb", *args)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("invalid token", r.stderr)
        self.assertFalse(os.path.exists(out) or os.path.exists(out + ".part"))
        r = cli("--token", self.tokens["writer"], *args)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("exported 0 rows", r.stdout)
        with open(out) as f:
            self.assertEqual(f.read(), "customer_id,customer__age\n")
        self.assertFalse(os.path.exists(out + ".part"))

    def test_cli_token_list_and_revoke(self):
        r = cli("token", "list", env={"STRATA_TOKEN_FILE": self.token_file})
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["NAME", "ROLE", "CREATED", "SHA256"])
        self.assertEqual([l.split()[:2] for l in lines[1:]], [[x, x] for x in ROLES])
        with open(self.token_file) as f:
            stored = f.read()
        for t in self.tokens.values():
            self.assertNotIn(t, r.stdout)
            self.assertNotIn(t[7:], stored)
        r = cli("--json", "token", "list", "--token-file", self.token_file)
        doc = json.loads(r.stdout)
        self.assertEqual(len(doc["tokens"][0]["sha256"]), 64)
        r = cli("token", "revoke", "nobody", "--token-file", self.token_file)
        self.assertEqual(r.returncode, 1)
        self.assertIn('no token named "nobody"', r.stderr)
        r = cli("token", "create", "admin", "--name", "admin", "--token-file", self.token_file)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        r = cli("token", "create", "superuser", "--token-file", self.token_file)
        self.assertEqual(r.returncode, 2)
        r = cli("token", "list")
        self.assertEqual(r.returncode, 2)
        self.assertIn("STRATA_TOKEN_FILE", r.stderr)
        self.assertEqual(stat.S_IMODE(os.stat(self.token_file).st_mode), 0o600)


class EvaluationFilesTest(TokenDaemonTest):
    """Auditors may run evaluations, but not on files of --import-dir: with
    predictions.path and group_by an auditor read any column of any file
    there (payroll SSNs as group values in the report). Files need the
    import permission; auditors send rows inline."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="strata-auth-")
        self.imp = os.path.join(self.tmp, "imports")
        os.mkdir(self.imp)
        with open(os.path.join(self.imp, "payroll.csv"), "w") as f:
            f.write("ssn,label,s\n123-45-6789,1,0.5\n987-65-4321,0,0.2\n")
        self.token_file = os.path.join(self.tmp, "tokens")
        self.tokens = {role: self.create(role, role) for role in ROLES}
        self.d = Daemon(token_file=self.token_file, token=self.tokens["admin"],
                        args=["--import-dir", self.imp]).start()

    def test_auditor_may_not_evaluate_files(self):
        from_file = {"predictions": {"path": "payroll.csv", "label_column": "label",
                                     "score_column": "s"}, "group_by": ["ssn"]}
        s, doc = self.as_role("auditor", "POST", "/v1/evaluations", from_file)
        self.assertEqual(s, 403, doc)
        self.assertEqual(doc["error"]["code"], "PERMISSION_DENIED")
        self.assertIn("predictions.path", doc["error"]["message"])
        self.assertIn("admin,writer", doc["error"]["message"])
        model = {"model": "m", "instances": {"path": "payroll.csv"}, "label_column": "label"}
        s, doc = self.as_role("auditor", "POST", "/v1/evaluations", model)
        self.assertEqual(s, 403, doc)
        self.assertIn("instances.path", doc["error"]["message"])
        s, doc = self.as_role("admin", "GET", "/v1/jobs")
        self.assertEqual(doc["jobs"], [])  # nothing was started
        # Inline rows are the auditor's own data: allowed.
        inline = {"predictions": {"inline": [{"y": 1, "s": 0.9}, {"y": 0, "s": 0.2}],
                                  "label_column": "y", "score_column": "s"},
                  "bootstrap": {"replicates": 0}}
        s, doc = self.as_role("auditor", "POST", "/v1/evaluations", inline)
        self.assertEqual(s, 202, doc)
        # A writer may use the import directory.
        s, doc = self.as_role("writer", "POST", "/v1/evaluations", from_file)
        self.assertEqual(s, 202, doc)


class StartupTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="strata-auth-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def refused(self, token_file):
        p = subprocess.run([STRATAD, "--data-dir", os.path.join(self.tmp, "data"), "--listen",
                            "127.0.0.1:0", "--token-file", token_file],
                           capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        return p.stderr

    def test_refuses_to_start_less_protected_than_configured(self):
        path = os.path.join(self.tmp, "tokens")
        self.assertIn("strata token create admin --token-file", self.refused(path))
        r = cli("token", "create", "admin", "--token-file", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        os.chmod(path, 0o644)
        self.assertIn("chmod 600", self.refused(path))
        os.chmod(path, 0o600)
        with open(path, "a") as f:
            f.write("bob admin deadbeef 2025-01-01T00:00:00Z\n")
        self.assertIn(":4: hash must be 64 hex digits", self.refused(path))

    def test_open_mode_is_anonymous(self):
        d = Daemon().start()
        try:
            self.assertEqual(d.call("POST", "/v1/entities", {"name": "customer"})[0], 201)
            recs = d.call("GET", "/v1/audit")[1]["records"]
            self.assertEqual(recs[0]["principal"], "anonymous")
        finally:
            d.stop()
            d.cleanup()


if __name__ == "__main__":
    unittest.main()
