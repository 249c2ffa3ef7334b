"""End-to-end tests of the `strata` CLI (client/) against a real stratad.

One daemon serves the whole class (harness.Daemon: free port, temp data dir,
sanitizer scan of its stderr at stop); every test works on entities of its own,
so tests stay independent. Each CLI run is also checked: a failure prints
exactly one "strata: <reason>" line on stderr, and a sanitizer report from the
CLI itself (when built with ASan/UBSan) fails the test.

Run: STRATAD=path/to/stratad STRATA_CLI=path/to/strata python3 -m unittest -v test_cli
"""
import json
import os
import pty
import re
import select
import subprocess
import tempfile
import unittest

import harness

STRATA_CLI = harness.STRATA_CLI
SANITIZER_MARKERS = harness.SANITIZER_MARKERS

EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_TRANSPORT, EXIT_SERVER, EXIT_AUTH, EXIT_INPUT = range(7)


def base_env():
    env = dict(os.environ)
    for k in ("STRATA_URL", "STRATA_TOKEN", "STRATA_CACERT"):
        env.pop(k, None)
    return env


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = harness.Daemon()
        try:
            cls.d.start()
        except Exception:
            cls.d.cleanup()
            raise
        cls.url = f"http://127.0.0.1:{cls.d.port}"
        cls.tmp = tempfile.mkdtemp(prefix="strata-cli-")

    @classmethod
    def tearDownClass(cls):
        try:
            cls.d.stop()
        finally:
            cls.d.cleanup()

    # -- helpers --------------------------------------------------------------
    def run_cli(self, *args, stdin=None, url=True, env=None, stdout=None):
        """Run strata; returns (exit code, stdout, stderr) and checks the stderr contract."""
        cmd = [STRATA_CLI] + (["--url", self.url] if url else []) + list(args)
        p = subprocess.run(cmd, input=stdin.encode() if isinstance(stdin, str) else stdin,
                           stdout=stdout if stdout is not None else subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env or base_env(),
                           timeout=harness.scaled(120))
        out = p.stdout.decode() if p.stdout is not None else ""
        err = p.stderr.decode(errors="replace")
        for m in SANITIZER_MARKERS:
            self.assertNotIn(m, err, f"strata {args}: {err}")
        if p.returncode == 0:
            self.assertEqual(err, "", f"strata {args} succeeded but wrote to stderr")
        else:
            self.assertRegex(err, r"\Astrata: [^\n]+\n\Z",
                             f"strata {args} must fail with one 'strata: reason' line")
        return p.returncode, out, err

    def ok(self, *args, **kw):
        rc, out, err = self.run_cli(*args, **kw)
        self.assertEqual(rc, 0, f"strata {args}: {err}")
        return out

    def fails(self, code, *args, **kw):
        rc, out, err = self.run_cli(*args, **kw)
        self.assertEqual(rc, code, f"strata {args}: rc {rc}, stderr {err!r}, stdout {out!r}")
        self.assertEqual(out, "", "a failed command prints nothing on stdout")
        return err

    def json_of(self, *args, **kw):
        out = self.ok("--json", *args, **kw)
        self.assertEqual(out.count("\n"), 1, "--json prints one compact document")
        return json.loads(out)

    def write_file(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    @staticmethod
    def jsonl(rows):
        return "".join(json.dumps(r) + "\n" for r in rows)

    def make_entity(self, name, features=(("age", "INT64"), ("city", "STRING"))):
        self.ok("entity", "create", name)
        for fname, ftype in features:
            self.ok("feature", "create", name, fname, "--type", ftype)

    # -- help and usage ---------------------------------------------------------
    def test_help(self):
        out = self.ok("--help", url=False)
        for cmd in ("entity", "feature", "write", "get"):
            self.assertIn(cmd, out)
        self.assertIn("Exit status", out)
        out = self.ok("entity", "--help", url=False)
        for sub in ("create", "list", "show", "delete"):
            self.assertIn(sub, out)
        out = self.ok("feature", "create", "--help", url=False)
        self.assertIn("usage: strata feature create ENTITY NAME", out)
        self.assertIn("--ttl SECONDS", out)
        self.assertEqual(self.ok("help", "write", url=False), self.ok("write", "--help", url=False))
        self.assertIn("strata ", self.ok("--version", url=False))

    def test_usage_errors(self):
        cases = [
            ((), "missing command"),
            (("frobnicate",), "unknown command 'frobnicate'"),
            (("entity",), "missing subcommand"),
            (("entity", "rename", "x"), "unknown command 'rename'"),
            (("entity", "list", "--bogus"), "unknown option '--bogus'"),
            (("--bogus", "entity", "list"), "unknown option '--bogus'"),
            (("entity", "create"), "missing arguments"),
            (("entity", "show", "a", "b"), "unexpected argument 'b'"),
            (("entity", "delete", "x", "--force=yes"), "takes no value"),
            (("feature", "create", "e", "f"), "missing --type"),
            (("feature", "create", "e", "f", "--type", "INT64", "--ttl", "-5"), "invalid --ttl"),
            (("feature", "create", "e", "f", "--type", "INT64", "--ttl", "12x"), "invalid --ttl"),
            (("entity", "create", "e", "--label", "novalue"), "invalid --label"),
            (("entity", "create", "e", "--description"), "needs a value"),
            (("feature", "update", "e", "f"), "nothing to update"),
            (("write", "e", "f", "--batch-size", "0"), "invalid --batch-size"),
            (("get", "e"), "missing arguments"),
            (("--timeout", "soon", "entity", "list"), "invalid --timeout"),
        ]
        for args, words in cases:
            with self.subTest(args=args):
                err = self.fails(EXIT_USAGE, *args)
                self.assertIn(words, err)
                self.assertIn("--help", err, "a usage error hints at --help")
        err = self.fails(EXIT_USAGE, "--url", "ftp://example.com", "entity", "list", url=False)
        self.assertIn("invalid URL", err)

    # -- registry ----------------------------------------------------------------
    def test_entity_lifecycle(self):
        out = self.ok("entity", "create", "ent_life", "--description", "people who buy",
                      "--label", "team=risk", "--label", "tier=1")
        self.assertEqual(out, "created entity ent_life\n")

        err = self.fails(EXIT_REJECTED, "entity", "create", "ent_life")
        self.assertIn("ent_life", err)
        err = self.fails(EXIT_REJECTED, "entity", "create", "Bad-Name")
        self.assertIn("name", err)

        out = self.ok("entity", "list")
        lines = out.splitlines()
        self.assertRegex(lines[0], r"^NAME\s+FEATURES\s+DESCRIPTION\s+LABELS")
        row = [l for l in lines if l.startswith("ent_life ")]
        self.assertEqual(len(row), 1, out)
        self.assertIn("people who buy", row[0])
        self.assertIn("team=risk, tier=1", row[0])

        doc = self.json_of("entity", "list")
        self.assertEqual(doc["next_page_token"], "")
        names = [e["name"] for e in doc["entities"]]
        self.assertIn("ent_life", names)

        self.ok("feature", "create", "ent_life", "age", "--type", "int64")
        out = self.ok("entity", "show", "ent_life")
        self.assertRegex(out, r"(?m)^name:\s+ent_life$")
        self.assertRegex(out, r"(?m)^description:\s+people who buy$")
        self.assertRegex(out, r"(?m)^age\s+INT64\s+0")
        doc = self.json_of("entity", "show", "ent_life")
        self.assertEqual(doc["entity"]["name"], "ent_life")
        self.assertEqual(doc["entity"]["labels"], {"team": "risk", "tier": "1"})
        self.assertEqual([f["name"] for f in doc["entity"]["features"]], ["age"])

        self.assertEqual(self.ok("entity", "delete", "ent_life"), "deleted entity ent_life\n")
        err = self.fails(EXIT_REJECTED, "entity", "show", "ent_life")
        self.assertIn("not found", err)
        self.fails(EXIT_REJECTED, "entity", "delete", "ent_life")

    def test_entity_delete_needs_force_when_it_holds_values(self):
        self.make_entity("ent_force")
        self.ok("write", "ent_force", stdin=self.jsonl([{"entity_id": "a", "values": {"age": 1}}]))
        err = self.fails(EXIT_REJECTED, "entity", "delete", "ent_force")
        self.assertIn("force", err)
        self.ok("entity", "show", "ent_force")
        self.ok("entity", "delete", "ent_force", "--force")
        self.fails(EXIT_REJECTED, "entity", "show", "ent_force")

    def test_feature_commands(self):
        self.ok("entity", "create", "feat_cmds")
        out = self.ok("feature", "create", "feat_cmds", "score", "--type", "DOUBLE", "--ttl",
                      "3600", "--description", "credit score", "--label", "pii=no")
        self.assertEqual(out, "created feature feat_cmds:score (DOUBLE)\n")
        doc = self.json_of("feature", "create", "feat_cmds", "tags", "--type", "STRING_ARRAY")
        self.assertEqual(doc["feature"]["name"], "tags")
        self.assertEqual(doc["feature"]["type"], "STRING_ARRAY")
        err = self.fails(EXIT_REJECTED, "feature", "create", "feat_cmds", "x", "--type", "FLOAT")
        self.assertIn("type", err)
        self.fails(EXIT_REJECTED, "feature", "create", "feat_cmds", "score", "--type", "DOUBLE")
        self.fails(EXIT_REJECTED, "feature", "create", "no_such_entity", "x", "--type", "BOOL")

        out = self.ok("feature", "list", "feat_cmds")
        lines = out.splitlines()
        self.assertRegex(lines[0], r"^NAME\s+TYPE\s+TTL\s+DESCRIPTION\s+LABELS")
        self.assertRegex(out, r"(?m)^score\s+DOUBLE\s+3600\s+credit score\s+pii=no$")
        self.assertRegex(out, r"(?m)^tags\s+STRING_ARRAY\s+0\s+-\s+-$")
        doc = self.json_of("feature", "list", "feat_cmds")
        self.assertEqual(sorted(f["name"] for f in doc["features"]), ["score", "tags"])

        out = self.ok("feature", "show", "feat_cmds", "score")
        self.assertRegex(out, r"(?m)^type:\s+DOUBLE$")
        self.assertRegex(out, r"(?m)^ttl_seconds:\s+3600$")
        self.assertRegex(out, r"(?m)^labels:\s+pii=no$")
        self.assertEqual(self.json_of("feature", "show", "feat_cmds", "score")["feature"]["type"],
                         "DOUBLE")
        self.fails(EXIT_REJECTED, "feature", "show", "feat_cmds", "nope")

        out = self.ok("feature", "update", "feat_cmds", "score", "--ttl", "60",
                      "--description", "new words")
        self.assertEqual(out, "updated feature feat_cmds:score\n")
        f = self.json_of("feature", "show", "feat_cmds", "score")["feature"]
        self.assertEqual((f["ttl_seconds"], f["description"]), (60, "new words"))

        self.assertEqual(self.ok("feature", "delete", "feat_cmds", "tags"),
                         "deleted feature feat_cmds:tags\n")
        self.fails(EXIT_REJECTED, "feature", "show", "feat_cmds", "tags")

    def test_feature_search(self):
        self.ok("entity", "create", "srch_a")
        self.ok("entity", "create", "srch_b")
        self.ok("feature", "create", "srch_a", "zzq_income", "--type", "DOUBLE",
                "--description", "yearly income", "--label", "domain=zzqfin")
        self.ok("feature", "create", "srch_b", "zzq_income", "--type", "INT64")
        self.ok("feature", "create", "srch_b", "zzq_other", "--type", "STRING",
                "--description", "not it")

        out = self.ok("feature", "search", "zzq_income")
        self.assertRegex(out.splitlines()[0], r"^ENTITY\s+NAME\s+TYPE")
        self.assertRegex(out, r"(?m)^srch_a\s+zzq_income\s+DOUBLE")
        self.assertRegex(out, r"(?m)^srch_b\s+zzq_income\s+INT64")
        self.assertNotIn("zzq_other", out)

        doc = self.json_of("feature", "search", "zzq_income", "--type", "INT64")
        self.assertEqual([(f["entity"], f["name"]) for f in doc["features"]],
                         [("srch_b", "zzq_income")])
        doc = self.json_of("feature", "search", "zzq", "--entity", "srch_b")
        self.assertEqual(sorted(f["name"] for f in doc["features"]), ["zzq_income", "zzq_other"])
        doc = self.json_of("feature", "search", "label:domain=zzqfin")
        self.assertEqual([(f["entity"], f["name"]) for f in doc["features"]],
                         [("srch_a", "zzq_income")])
        self.assertEqual(self.ok("feature", "search", "nothing_matches_this_zzz"),
                         "no matching features\n")

    def test_list_follows_pages(self):
        # More entities than one page holds (page_size 1000): the CLI joins the pages.
        for i in range(1005):
            status, doc = self.d.call("POST", "/v1/entities", {"name": f"pg_{i:04d}"})
            self.assertEqual(status, 201, doc)
        names = [e["name"] for e in self.json_of("entity", "list")["entities"]]
        self.assertEqual([n for n in names if n.startswith("pg_")],
                         [f"pg_{i:04d}" for i in range(1005)])
        self.assertEqual(len(names), len(set(names)))

    # -- writes and reads ----------------------------------------------------------
    def test_write_file_and_get(self):
        self.make_entity("wr_file", (("age", "INT64"), ("city", "STRING"), ("score", "DOUBLE"),
                                     ("emb", "DOUBLE_ARRAY")))
        rows = [
            {"entity_id": "c1", "event_time": "2024-01-02T03:04:05Z",
             "values": {"age": 31, "city": "Paris", "score": 0.1}},
            {"entity_id": "c1", "event_time": "2024-01-03T00:00:00Z",
             "values": {"age": 32, "city": None}},
            {"entity_id": "c2", "event_time": "2024-01-02T00:00:00.5Z",
             "values": {"emb": [1.5, -2.0]}},
        ]
        path = self.write_file("wr_file.jsonl", self.jsonl(rows[:2]) + "\n  \n" +
                               self.jsonl(rows[2:]))
        out = self.ok("write", "wr_file", path)
        self.assertEqual(out, "wrote 6 values (3 rows in 1 request) to wr_file\n")

        out = self.ok("get", "wr_file", "c1")
        lines = out.splitlines()
        self.assertEqual(len(lines), 4, out)
        self.assertIn("age   = 32  (2024-01-03T00:00:00Z, PRESENT)", lines)
        self.assertIn("city  = null  (2024-01-03T00:00:00Z, NULL_VALUE)", lines)
        self.assertIn("score = 0.1  (2024-01-02T03:04:05Z, PRESENT)", lines)
        self.assertIn("emb   = null  (-, NOT_FOUND)", lines)

        out = self.ok("get", "wr_file", "c2", "emb", "age")
        self.assertRegex(out, r"(?m)^emb = \[1.5,-2.0\]  \(2024-01-02T00:00:00\.50*Z, PRESENT\)$")

        doc = self.json_of("get", "wr_file", "c1", "age", "score")
        self.assertEqual(doc["entity_id"], "c1")
        self.assertEqual(doc["features"]["age"]["value"], 32)
        self.assertEqual(doc["features"]["score"]["value"], 0.1)
        self.assertEqual(doc["features"]["age"]["status"], "PRESENT")
        self.assertEqual(set(doc["features"]), {"age", "score"})

        doc = self.json_of("write", "wr_file", path)
        self.assertEqual(doc["written_values"], 6)

        err = self.fails(EXIT_REJECTED, "get", "wr_file", "c1", "no_such_feature")
        self.assertIn("no_such_feature", err)

    def test_string_values_keep_quotes(self):
        self.make_entity("wr_quote")
        self.ok("write", "wr_quote", stdin=self.jsonl(
            [{"entity_id": "q", "event_time": "2024-05-01T00:00:00Z",
              "values": {"city": "31", "age": 31}}]))
        out = self.ok("get", "wr_quote", "q", "city", "age")
        self.assertIn('city = "31"  (2024-05-01T00:00:00Z, PRESENT)', out)
        self.assertIn('age  = 31  (2024-05-01T00:00:00Z, PRESENT)', out)

    def test_write_stdin(self):
        self.make_entity("wr_stdin")
        rows = self.jsonl([{"entity_id": f"s{i}", "values": {"age": i}} for i in range(5)])
        self.assertEqual(self.ok("write", "wr_stdin", "-", stdin=rows),
                         "wrote 5 values (5 rows in 1 request) to wr_stdin\n")
        self.assertEqual(self.ok("write", "wr_stdin", stdin=rows),
                         "wrote 5 values (5 rows in 1 request) to wr_stdin\n")
        self.assertIn("age = 4", self.ok("get", "wr_stdin", "s4", "age"))
        self.assertEqual(self.ok("write", "wr_stdin", stdin=""),
                         "wrote 0 values (0 rows in 0 requests) to wr_stdin\n")

    def test_write_batches(self):
        self.make_entity("wr_batch")
        n = 2500
        rows = self.jsonl([{"entity_id": f"b{i}", "event_time": "2024-01-01T00:00:00Z",
                            "values": {"age": i, "city": f"c{i}"}} for i in range(n)])
        doc = self.json_of("write", "wr_batch", "--batch-size", "1000", stdin=rows)
        self.assertEqual(doc, {"written_values": 2 * n, "rows": n, "requests": 3})
        doc = self.json_of("get", "wr_batch", f"b{n - 1}")
        self.assertEqual(doc["features"]["city"]["value"], f"c{n - 1}")

    def test_write_rejected_batch_is_atomic(self):
        self.make_entity("wr_bad")
        rows = [{"entity_id": "r1", "values": {"age": 1}},
                {"entity_id": "r2", "values": {"age": 2}},
                {"entity_id": "r3", "values": {"age": "three"}}]
        path = self.write_file("wr_bad.jsonl", self.jsonl(rows))
        err = self.fails(EXIT_REJECTED, "write", "wr_bad", path)
        self.assertIn(f"{path}:3: ", err, "the bad row is named by its line")
        self.assertIn("nothing was written", err)
        self.assertIn("NOT_FOUND", self.ok("get", "wr_bad", "r1", "age"))

        # With batches of 2 the first batch lands and the error says so.
        err = self.fails(EXIT_REJECTED, "write", "wr_bad", path, "--batch-size", "2")
        self.assertIn(f"{path}:3: ", err)
        self.assertIn("only lines 1-2 were written (2 rows, 2 values)", err)
        self.assertIn("age = 2", self.ok("get", "wr_bad", "r2", "age"))
        self.assertIn("NOT_FOUND", self.ok("get", "wr_bad", "r3", "age"))

    def test_write_malformed_input(self):
        self.make_entity("wr_junk")
        path = self.write_file("junk.jsonl", '{"entity_id":"j1","values":{"age":1}}\n{oops\n')
        err = self.fails(EXIT_INPUT, "write", "wr_junk", path)
        self.assertIn(f"{path}:2: ", err)
        self.assertIn("nothing was written", err)
        err = self.fails(EXIT_INPUT, "write", "wr_junk", stdin='[1,2]\n')
        self.assertIn("stdin:1: a row must be a JSON object", err)
        err = self.fails(EXIT_INPUT, "write", "wr_junk", os.path.join(self.tmp, "missing.jsonl"))
        self.assertIn("cannot open", err)
        self.assertIn("NOT_FOUND", self.ok("get", "wr_junk", "j1", "age"))

    def test_write_progress_on_terminal(self):
        self.make_entity("wr_tty")
        rows = self.jsonl([{"entity_id": f"t{i}", "values": {"age": i}} for i in range(300)])
        path = self.write_file("tty.jsonl", rows)
        master, slave = pty.openpty()
        try:
            p = subprocess.Popen([STRATA_CLI, "--url", self.url, "write", "wr_tty", path,
                                  "--batch-size", "100"], stdout=subprocess.PIPE, stderr=slave,
                                 env=base_env())
            os.close(slave)
            slave = None
            tty = b""
            while True:
                r, _, _ = select.select([master], [], [], 60)
                if not r:
                    break
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                tty += chunk
            out, _ = p.communicate(timeout=harness.scaled(60))
        finally:
            os.close(master)
            if slave is not None:
                os.close(slave)
        self.assertEqual(p.returncode, 0, tty)
        self.assertEqual(out.decode(), "wrote 300 values (300 rows in 3 requests) to wr_tty\n")
        text = tty.decode(errors="replace")
        self.assertIn("writing wr_tty", text)
        self.assertIn("100%", text)
        self.assertTrue(text.endswith("\r\x1b[K"), "the bar is erased at the end: %r" % text)

    def test_entity_ids_are_escaped(self):
        self.make_entity("wr_ids")
        ids = ["a/b", "q?x=1&y", "100%", "with space", "caf\u00e9 \u2603", "..", ".", "#frag",
               "a,b", "+plus"]
        rows = [{"entity_id": i, "values": {"city": f"v-{i}"}} for i in ids]
        self.ok("write", "wr_ids", stdin=self.jsonl(rows))
        for i in ids:
            with self.subTest(entity_id=i):
                doc = self.json_of("get", "wr_ids", i)
                self.assertEqual(doc["entity_id"], i)
                self.assertEqual(doc["features"]["city"]["value"], f"v-{i}")

    # -- errors ------------------------------------------------------------------------
    def test_unknown_entity(self):
        err = self.fails(EXIT_REJECTED, "get", "no_such_entity", "x")
        self.assertIn("no_such_entity", err)
        self.fails(EXIT_REJECTED, "feature", "list", "no_such_entity")
        err = self.fails(EXIT_REJECTED, "write", "no_such_entity",
                         stdin='{"entity_id":"x","values":{}}\n')
        self.assertIn("no_such_entity", err)

    def test_unreachable_server(self):
        port = harness.free_port()  # nothing listens there
        err = self.fails(EXIT_TRANSPORT, "--url", f"http://127.0.0.1:{port}", "entity", "list",
                         url=False)
        self.assertIn(f"cannot reach stratad at http://127.0.0.1:{port}", err)
        self.fails(EXIT_TRANSPORT, "--url", f"http://127.0.0.1:{port}", "write", "e",
                   stdin='{"entity_id":"x","values":{}}\n', url=False)

    def test_url_from_environment_and_global_options_anywhere(self):
        env = base_env()
        env["STRATA_URL"] = self.url + "/"
        self.ok("entity", "create", "env_url", url=False, env=env)
        out = self.ok("entity", "list", "--json", url=False, env=env)
        self.assertIn("env_url", [e["name"] for e in json.loads(out)["entities"]])
        self.ok("entity", "--json", "show", "env_url", url=False, env=env)
        # --url on the command line beats the environment.
        env["STRATA_URL"] = f"http://127.0.0.1:{harness.free_port()}"
        self.ok("entity", "show", "env_url", env=env)
        self.fails(EXIT_TRANSPORT, "entity", "show", "env_url", url=False, env=env)

    def test_output_write_failure_is_an_error(self):
        with open("/dev/full", "w") as full:
            rc, _, err = self.run_cli("entity", "list", stdout=full)
        self.assertEqual(rc, EXIT_INPUT, err)
        self.assertIn("cannot write output", err)


if __name__ == "__main__":
    unittest.main()
