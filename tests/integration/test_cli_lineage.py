"""`strata lineage` and `strata provenance` against a real stratad.

One daemon serves the class; setUpClass records a small pipeline through the public
lineage API (two imports of one source file, an export, a training run, an evaluation),
so the graph holds a diamond (the source reached through both imports) and the tree
must print it once and refer to it. Checked: the exact tree, DOT structure (parsed with
plain string handling), --json against the HTTP answer with pages merged, the provenance
summary, usage errors (exit 2), unknown ids and models (exit 1), and the one-line stderr
contract of every run.
"""
import json
import os
import re
import subprocess
import unittest
import urllib.request
from urllib.parse import quote

import harness

STRATA_CLI = harness.STRATA_CLI
EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2


def base_env():
    env = dict(os.environ)
    for k in ("STRATA_URL", "STRATA_TOKEN", "STRATA_CACERT"):
        env.pop(k, None)
    return env


class CliLineageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = harness.Daemon()
        try:
            cls.d.start()
            cls.url = f"http://127.0.0.1:{cls.d.port}"
            cls.g = cls.build()
        except Exception:
            cls.d.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.d.stop()
        finally:
            cls.d.cleanup()

    # -- graph --------------------------------------------------------------------------
    @classmethod
    def post(cls, path, body):
        s, doc = cls.d.call("POST", path, body)
        assert s == 201, (path, body, s, doc)
        return doc

    @classmethod
    def art(cls, type_, name=None, **props):
        body = {"type": type_, "state": "LIVE", "properties": props}
        if name:
            body["name"] = name
        return cls.post("/v1/artifacts", body)["artifact"]["id"]

    @classmethod
    def run_step(cls, type_, name, ins, outs, **props):
        e = cls.post("/v1/executions", {"type": type_, "name": name, "state": "COMPLETE",
                                        "properties": props})["execution"]["id"]
        for a in ins:
            cls.post("/v1/events", {"artifact_id": a, "execution_id": e, "type": "INPUT"})
        for a in outs:
            cls.post("/v1/events", {"artifact_id": a, "execution_id": e, "type": "OUTPUT"})
        return e

    @classmethod
    def build(cls):
        g = {}
        g["src"] = cls.art("SourceFile", "src.csv", sha256="f" * 64, bytes=321, format="csv")
        g["fa"] = cls.art("FeatureSet", entity="user")
        g["fb"] = cls.art("FeatureSet", entity="user")
        g["ia"] = cls.run_step("Import", "imp-a", [g["src"]], [g["fa"]], job_id="ja",
                               entity="user")
        g["ib"] = cls.run_step("Import", "imp-b", [g["src"]], [g["fb"]], job_id="jb",
                               entity="user")
        g["ds"] = cls.art("Dataset", "ds", rows=10)
        g["ex"] = cls.run_step("Export", "export", [g["fa"], g["fb"]], [g["ds"]],
                               feature_refs=["user:x"], instance_source="inline")
        g["model"] = cls.art("Model", "churn@1", model="churn", version=1)
        g["mt"] = cls.art("Metrics", split="train", metrics={"auc": 0.75}, n=8)
        g["tr"] = cls.run_step("Train", "train", [g["ds"]], [g["model"], g["mt"]],
                               hyperparameters={"l2": 0.5}, code_version="0.1.0+cafe")
        g["fr"] = cls.art("FairnessReport", four_fifths_rule="fail",
                          summary={"demographic_parity_ratio": 0.7, "attribute": "sex",
                                   "by_attribute": {"sex": {}}})
        g["ev"] = cls.run_step("Evaluate", "eval", [g["model"]], [g["fr"]], evaluation_id="e1")
        g["half"] = cls.art("Model", "half@1", model="half", version=1)
        return g

    # -- helpers -------------------------------------------------------------------------
    def run_cli(self, *args):
        cmd = [STRATA_CLI, "--url", self.url] + list(args)
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=base_env(), timeout=harness.scaled(120))
        out, err = p.stdout.decode(), p.stderr.decode(errors="replace")
        for m in harness.SANITIZER_MARKERS:
            self.assertNotIn(m, err, f"strata {args}: {err}")
        if p.returncode == 0:
            self.assertEqual(err, "", f"strata {args} succeeded but wrote to stderr")
        else:
            self.assertRegex(err, r"\Astrata: [^\n]+\n\Z",
                             f"strata {args} must fail with one 'strata: reason' line")
            self.assertEqual(out, "", "a failed command prints nothing on stdout")
        return p.returncode, out, err

    def ok(self, *args):
        rc, out, err = self.run_cli(*args)
        self.assertEqual(rc, 0, f"strata {args}: {err}")
        return out

    def fails(self, code, *args):
        rc, out, err = self.run_cli(*args)
        self.assertEqual(rc, code, f"strata {args}: rc {rc}, stderr {err!r}")
        return err

    def http(self, path):
        with urllib.request.urlopen(self.url + path) as r:
            return json.loads(r.read())

    # -- the tree ---------------------------------------------------------------------------
    def test_tree_upstream_prints_each_node_once(self):
        g = self.g
        out = self.ok("lineage", "--artifact", str(g["ds"]), "--direction", "upstream")
        want = "\n".join([
            f'artifact {g["ds"]} Dataset "ds"',
            f'`-- [OUTPUT] execution {g["ex"]} Export "export"',
            f'    |-- [INPUT] artifact {g["fa"]} FeatureSet',
            f'    |   `-- [OUTPUT] execution {g["ia"]} Import "imp-a"',
            f'    |       `-- [INPUT] artifact {g["src"]} SourceFile "src.csv"',
            f'    `-- [INPUT] artifact {g["fb"]} FeatureSet',
            f'        `-- [OUTPUT] execution {g["ib"]} Import "imp-b"',
            f'            `-- [INPUT] artifact {g["src"]} SourceFile "src.csv" (see above)',
        ]) + "\n"
        self.assertEqual(out, want)

    def test_tree_max_hops_and_downstream(self):
        g = self.g
        out = self.ok("lineage", "--artifact", str(g["ds"]), "--direction", "upstream",
                      "--max-hops", "1")
        self.assertEqual(out, f'artifact {g["ds"]} Dataset "ds"\n'
                              f'`-- [OUTPUT] execution {g["ex"]} Export "export"\n')
        out = self.ok("lineage", "--artifact", str(g["ds"]), "--max-hops", "0")
        self.assertEqual(out, f'artifact {g["ds"]} Dataset "ds"\n')
        out = self.ok("lineage", "--execution", str(g["tr"]), "--direction", "downstream")
        lines = out.splitlines()
        self.assertEqual(lines[0], f'execution {g["tr"]} Train "train"')
        self.assertIn(f'|-- [OUTPUT] artifact {g["model"]} Model "churn@1"', lines)
        self.assertIn(f'|   `-- [INPUT] execution {g["ev"]} Evaluate "eval"', lines)
        self.assertIn(f'|       `-- [OUTPUT] artifact {g["fr"]} FairnessReport', lines)
        self.assertIn(f'`-- [OUTPUT] artifact {g["mt"]} Metrics', lines)
        self.assertEqual(len(lines), 5, out)

    def test_tree_both_directions_and_indentation_is_hops(self):
        g = self.g
        out = self.ok("lineage", "--artifact", str(g["model"]))
        doc = self.http(f"/v1/lineage?artifact_id={g['model']}")
        nodes = len(doc["artifacts"]) + len(doc["executions"])
        lines = out.splitlines()
        first = [l for l in lines if not l.endswith(("(see above)", "(see below)"))]
        self.assertEqual(len(first), nodes, out)
        # Each node printed in full once.
        labels = [re.sub(r"^[|`\- ]*(\[[A-Z_,]+\] )?", "", l) for l in first]
        self.assertEqual(len(labels), len(set(labels)), out)
        # The model's training run is one hop away: one level of indentation.
        self.assertIn(f'|-- [OUTPUT] execution {g["tr"]} Train "train"', lines)
        # The source file is 5 hops up: model <- train <- ds <- export <- fs <- import <- src
        # is 6; its line is indented 6 levels (4 characters each, plus the branch).
        src = [l for l in first if f'artifact {g["src"]} SourceFile' in l][0]
        self.assertEqual(src.index("["), 4 * 6 + 4 - 4, src)

    def test_tree_from_filter_and_several_ids(self):
        g = self.g
        out = self.ok("lineage", "--filter", "type = 'Model'", "--max-hops", "0")
        self.assertEqual(out, f'artifact {g["model"]} Model "churn@1"\n'
                              f'artifact {g["half"]} Model "half@1"\n')
        out = self.ok("lineage", "--artifact", f'{g["fa"]},{g["fb"]}', "--direction",
                      "upstream")
        lines = out.splitlines()
        self.assertEqual(lines[0], f'artifact {g["fa"]} FeatureSet')
        self.assertIn(f'artifact {g["fb"]} FeatureSet', lines)
        self.assertEqual(sum("(see above)" in l for l in lines), 1, out)
        # --artifact repeated is the same as a list.
        self.assertEqual(self.ok("lineage", "--artifact", str(g["fa"]), "--artifact",
                                 str(g["fb"]), "--direction", "upstream"), out)

    # -- DOT -----------------------------------------------------------------------------
    def parse_dot(self, text):
        lines = text.strip().splitlines()
        self.assertEqual(lines[0], "digraph lineage {")
        self.assertEqual(lines[-1], "}")
        nodes, edges = {}, []
        for l in lines[1:-1]:
            l = l.strip()
            m = re.fullmatch(r'([ae]\d+) \[shape=(box|ellipse), label="(.*)"(, penwidth=2)?\];',
                             l)
            if m:
                self.assertNotIn(m.group(1), nodes)
                nodes[m.group(1)] = (m.group(2), m.group(3))
                continue
            m = re.fullmatch(r'([ae]\d+) -> ([ae]\d+) \[label="([A-Z_]+)"\];', l)
            if m:
                edges.append(m.groups())
                continue
            self.assertIn(l, ("rankdir=LR;", "node [fontsize=10];"), l)
        return nodes, edges

    def test_dot(self):
        g = self.g
        out = self.ok("lineage", "--artifact", str(g["model"]), "--dot")
        nodes, edges = self.parse_dot(out)
        doc = self.http(f"/v1/lineage?artifact_id={g['model']}")
        self.assertEqual(len(nodes), len(doc["artifacts"]) + len(doc["executions"]))
        self.assertEqual(len(edges), len(doc["events"]))
        for a in doc["artifacts"]:
            self.assertEqual(nodes[f"a{a['id']}"][0], "box")
        for e in doc["executions"]:
            self.assertEqual(nodes[f"e{e['id']}"][0], "ellipse")
        self.assertEqual(nodes[f"a{g['model']}"][1], f"artifact {g['model']}\\nModel\\nchurn@1")
        # Edges point the way data flows, labelled with the event type.
        self.assertIn((f"a{g['ds']}", f"e{g['tr']}", "INPUT"), edges)
        self.assertIn((f"e{g['tr']}", f"a{g['model']}", "OUTPUT"), edges)
        for src, dst, label in edges:
            self.assertIn(src, nodes)
            self.assertIn(dst, nodes)
            self.assertEqual(src[0], "a" if label == "INPUT" else "e")
        # The start node is drawn bold.
        self.assertIn(f'a{g["model"]} [shape=box, label="artifact {g["model"]}\\nModel\\nchurn@1", '
                      'penwidth=2];', out)

    # -- JSON ------------------------------------------------------------------------------
    def test_json_merges_pages(self):
        g = self.g
        doc = self.http(f"/v1/lineage?artifact_id={g['model']}&page_size=10000")
        for size in ("2", "10000"):
            out = self.ok("lineage", "--artifact", str(g["model"]), "--page-size", size,
                          "--json")
            got = json.loads(out)
            self.assertEqual(out.count("\n"), 1)
            self.assertEqual(got["next_page_token"], "")
            for k in ("artifacts", "executions", "events"):
                key = (lambda x: (x["artifact_id"], x["execution_id"], x["type"])) \
                    if k == "events" else (lambda x: x["id"])
                self.assertEqual(sorted(map(key, got[k])), sorted(map(key, doc[k])), k)
        # Paged tree output equals the unpaged one.
        self.assertEqual(self.ok("lineage", "--artifact", str(g["model"]), "--page-size", "3"),
                         self.ok("lineage", "--artifact", str(g["model"])))

    def test_as_of(self):
        g = self.g
        # Before anything existed: the start did not exist then.
        err = self.fails(EXIT_REJECTED, "lineage", "--artifact", str(g["ds"]), "--as-of",
                         "2001-01-01T00:00:00Z")
        self.assertIn("did not exist yet at as_of", err)
        out = self.ok("lineage", "--artifact", str(g["ds"]), "--as-of", "2999-01-01T00:00:00Z",
                      "--direction", "upstream")
        self.assertEqual(len(out.splitlines()), 8)

    # -- errors ------------------------------------------------------------------------------
    def test_usage_errors(self):
        g = self.g
        a = str(g["ds"])
        for args in (
                [],
                ["--artifact", a, "--execution", "1"],
                ["--artifact", a, "--filter", "id = 1"],
                ["--artifact", "0"],
                ["--artifact", "abc"],
                ["--artifact", "1,,2"],
                ["--artifact", "-3"],
                ["--filter", ""],
                ["--artifact", a, "--direction", "sideways"],
                ["--artifact", a, "--max-hops", "101"],
                ["--artifact", a, "--max-hops", "-1"],
                ["--artifact", a, "--max-hops", "x"],
                ["--artifact", a, "--as-of", "yesterday"],
                ["--artifact", a, "--page-size", "0"],
                ["--artifact", a, "--page-size", "10001"],
                ["--artifact", a, "--dot", "--json"],
                ["--artifact", a, "--bogus"],
                ["--artifact", a, "extra"],
        ):
            self.fails(EXIT_USAGE, "lineage", *args)
        self.fails(EXIT_USAGE, "provenance")
        self.fails(EXIT_USAGE, "provenance", "a", "b")
        for v in ("0", "-1", "x", "1.5"):
            self.fails(EXIT_USAGE, "provenance", "churn", "--version", v)

    def test_unknown_ids_and_models(self):
        err = self.fails(EXIT_REJECTED, "lineage", "--artifact", "999999")
        self.assertIn("artifact 999999 not found", err)
        self.fails(EXIT_REJECTED, "lineage", "--execution", "999999", "--dot")
        self.fails(EXIT_REJECTED, "lineage", "--filter", "name = 'nothing-like-this'")
        err = self.fails(EXIT_REJECTED, "lineage", "--filter", "name = ")
        self.assertIn("filter", err)
        self.assertIn("not found", self.fails(EXIT_REJECTED, "provenance", "nope"))
        self.assertIn("no version 7", self.fails(EXIT_REJECTED, "provenance", "churn",
                                                 "--version", "7"))
        self.assertIn("model name", self.fails(EXIT_REJECTED, "provenance", "Not-A-Name"))

    # -- provenance ---------------------------------------------------------------------------
    def test_provenance_summary(self):
        g = self.g
        out = self.ok("provenance", "churn")
        lines = out.splitlines()
        self.assertTrue(lines[0].startswith("model:          churn version 1 (versions 1), "
                                            f"artifact {g['model']}  LIVE"), lines[0])
        self.assertIn(f'training:       execution {g["tr"]} "train"  COMPLETE', out)
        self.assertIn("  code version:    0.1.0+cafe", lines)
        self.assertIn("  hyperparameters: l2=0.5", lines)
        self.assertIn(f"  dataset {g['ds']} ds", out)
        self.assertIn("    feature refs: user:x", lines)
        self.assertIn("    instances:    inline", lines)
        self.assertIn("  imports: 2", lines)
        # Each import with its source file (no uri recorded: its name) and digest.
        self.assertEqual(lines.count(f"      source src.csv  sha256 {'f' * 64}  bytes 321"), 2,
                         out)
        self.assertEqual(sum(l.startswith("    execution ") and " job j" in l for l in lines), 2)
        self.assertIn("metrics:        1", lines)
        self.assertIn(f"  train  n=8  auc=0.75  (artifact {g['mt']})", lines)
        self.assertIn("evaluations:    1", lines)
        # The headline only: the worst attribute and its numbers, not by_attribute.
        self.assertIn(f"    fairness report {g['fr']}: four_fifths_rule fail (worst: sex) "
                      "demographic_parity_ratio=0.7", lines)
        self.assertTrue(lines[-1].startswith("missing:        "), lines[-1])
        self.assertEqual(lines[-1], "missing:        nothing (provenance complete)")
        # --json is the server's answer.
        got = json.loads(self.ok("provenance", "churn", "--json"))
        self.assertEqual(got, self.http("/v1/models/churn/provenance"))
        self.assertEqual(json.loads(self.ok("--json", "provenance", "churn", "--version", "1")),
                         got)

    def test_provenance_incomplete(self):
        out = self.ok("provenance", "half")
        last = out.splitlines()[-1]
        self.assertTrue(last.startswith("missing:        training run ("), last)
        self.assertIn("; evaluations (", last)
        self.assertIn("training:       -", out)

    def test_help(self):
        out = self.ok("lineage", "--help")
        self.assertIn("--direction", out)
        self.assertIn("(see above)", out)
        self.assertIn("--version", self.ok("provenance", "--help"))
        usage = self.ok("--help")
        self.assertIn("lineage", usage)
        self.assertIn("provenance", usage)


if __name__ == "__main__":
    unittest.main()
