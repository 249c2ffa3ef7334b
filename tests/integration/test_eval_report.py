"""The evaluation report page in a real browser (headless Debian Chromium).

tests/tools/render_report renders each fixture of tests/fixtures/evaluate/
exactly as GET /v1/evaluations/{id}/report.html does; Chromium opens the file
and the test talks to it over the DevTools protocol on a pipe
(--remote-debugging-pipe: NUL-terminated JSON on fds 3 and 4, no port, no
npm). It asserts:
  - no console message, uncaught exception, browser log entry of level
    warning or error (CSP violations and blocked loads land there), failed
    load, or request for anything but the page itself;
  - the DOM holds the expected charts: <svg> elements with those ids, a
    visible size, a <title> and <desc>, and a non-trivial number of drawn
    marks;
  - printing to PDF (A4 and Letter) gives a plausible number of pages.
A control page with a script, a console error and an external image proves
the detector sees each kind of failure, so a silent browser cannot pass the
test by accident.
"""
import base64
import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures", "evaluate")
RENDER_REPORT = os.environ.get("RENDER_REPORT") or os.path.join(
    os.environ.get("STRATA_BUILD_DIR", os.path.join(HERE, "..", "..", "build")), "tests",
    "render_report")
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
TIMEOUT = 60  # seconds for any one DevTools exchange

BINARY_CHARTS = {  # chart id -> (element kind, at least this many)
    "chart-selection-rate": ("rect", 14),
    "chart-tpr-fpr": ("rect", 20),
    "chart-roc": ("polyline", 7),
    "chart-calibration": ("circle", 10),
    "chart-threshold-sweep": ("polyline", 20),
}
EXPECTED = {
    # fixture: (charts, tables, PDF pages on A4 (min, max))
    "binary": (BINARY_CHARTS, ["table-groups", "table-overall", "table-tests",
                               "table-disparities", "table-threshold-sweep",
                               "table-equalizing", "table-calibration"], (4, 12)),
    "hostile": (BINARY_CHARTS, ["table-groups", "table-disparities"], (4, 14)),
    "regression": ({"chart-group-rmse": ("rect", 4)}, ["table-groups", "table-overall"], (1, 3)),
    "multiclass": ({"chart-group-accuracy": ("rect", 2)},
                   ["table-groups", "table-per-class", "table-confusion"], (1, 3)),
    "malformed": ({"chart-roc": ("polyline", 1)}, ["table-groups"], (2, 12)),
}

PROBE = r"""
(() => {
  const marks = 'rect,line,polyline,circle,path,text';
  const charts = {};
  for (const svg of document.querySelectorAll('svg')) {
    const box = svg.getBoundingClientRect();
    const count = {};
    for (const el of svg.querySelectorAll(marks))
      count[el.tagName] = (count[el.tagName] || 0) + 1;
    charts[svg.id] = {width: box.width, height: box.height, count,
                      title: !!svg.querySelector(':scope > title'),
                      desc: (svg.querySelector(':scope > desc') || {}).textContent || ''};
  }
  const tables = [...document.querySelectorAll('table[id]')].map(t => t.id);
  return JSON.stringify({charts, tables,
                         scripts: document.querySelectorAll('script').length,
                         title: document.title,
                         text: document.body.innerText.length});
})()
"""


class Browser:
    """One headless Chromium driven over --remote-debugging-pipe."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="strata-chromium-")
        cmd_r, self._cmd_w = os.pipe()  # we write, Chromium reads fd 3
        self._ev_r, ev_w = os.pipe()    # Chromium writes fd 4, we read

        def fds():
            # via fds >= 10 first: either pipe end may itself be 3 or 4
            a = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(ev_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)  # dup2 makes them inheritable
            os.dup2(b, 4)

        args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-extensions",
                "--remote-debugging-pipe", f"--user-data-dir={self.tmp}/profile",
                "about:blank"]
        self.log = open(os.path.join(self.tmp, "chromium.log"), "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=self.log, preexec_fn=fds, close_fds=False)
        os.close(cmd_r)
        os.close(ev_w)
        self._buf = b""
        self._id = 0
        self.events = []  # (sessionId, method, params) not yet consumed

    def close(self):
        try:
            self.send("Browser.close", timeout=10)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._cmd_w)
        os.close(self._ev_r)
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _read_message(self, deadline):
        while b"\0" not in self._buf:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self._ev_r], [], [], left)
            if ready:
                chunk = os.read(self._ev_r, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium closed the DevTools pipe")
                self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method, params=None, session=None, timeout=TIMEOUT):
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self._id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            if "method" in m:
                self.events.append((m.get("sessionId"), m["method"], m.get("params", {})))

    def wait_event(self, session, method, timeout=TIMEOUT):
        deadline = time.time() + timeout
        while True:
            for i, (s, meth, _) in enumerate(self.events):
                if s == session and meth == method:
                    return self.events.pop(i)[2]
            m = self._read_message(deadline)
            if "method" in m:
                self.events.append((m.get("sessionId"), m["method"], m.get("params", {})))

    def open(self, url):
        """Loads url in a new tab; returns (session, problems seen while loading)."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=session)
        self.send("Page.navigate", {"url": url}, session=session)
        self.wait_event(session, "Page.loadEventFired")
        # let late console messages and failed loads arrive
        self.send("Runtime.evaluate", {"expression": "1"}, session=session)
        time.sleep(0.3)
        self.send("Runtime.evaluate", {"expression": "1"}, session=session)
        return session, self.problems(session, url)

    def problems(self, session, url):
        out = []
        for s, method, p in self.events:
            if s != session:
                continue
            if method == "Runtime.consoleAPICalled":
                out.append(f"console.{p.get('type')}: {p.get('args')}")
            elif method == "Runtime.exceptionThrown":
                out.append(f"exception: {p.get('exceptionDetails', {}).get('text')}")
            elif method == "Log.entryAdded" and p["entry"]["level"] in ("warning", "error"):
                out.append(f"log {p['entry']['level']}: {p['entry'].get('text')}")
            elif method == "Network.loadingFailed":
                out.append(f"load failed: {p.get('errorText')} {p.get('blockedReason', '')}")
            elif method == "Network.requestWillBeSent" and p["request"]["url"] != url:
                out.append(f"request: {p['request']['url']}")
        self.events = [e for e in self.events if e[0] != session]
        return out

    def probe(self, session):
        r = self.send("Runtime.evaluate", {"expression": PROBE, "returnByValue": True},
                      session=session)
        return json.loads(r["result"]["value"])

    def pdf_pages(self, session, width_in, height_in):
        r = self.send("Page.printToPDF", {"paperWidth": width_in, "paperHeight": height_in,
                                          "printBackground": False}, session=session)
        pdf = base64.b64decode(r["data"])
        self.assertable_pdf = pdf
        return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf)), pdf


class EvalReportInBrowser(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(CHROMIUM):
            raise AssertionError(f"{CHROMIUM} not found: scripts/deps.sh installs chromium")
        if not os.path.exists(RENDER_REPORT):
            raise AssertionError(f"{RENDER_REPORT} not built")
        cls.tmp = tempfile.mkdtemp(prefix="strata-report-")
        cls.browser = Browser()

    @classmethod
    def tearDownClass(cls):
        cls.browser.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def render(self, name):
        out = os.path.join(self.tmp, name + ".html")
        subprocess.run([RENDER_REPORT, os.path.join(FIXTURES, name + ".json"), out], check=True,
                       timeout=60)
        return out

    def check_fixture(self, name):
        charts, tables, (lo, hi) = EXPECTED[name]
        path = self.render(name)
        url = "file://" + path
        session, problems = self.browser.open(url)
        self.assertEqual(problems, [], f"{name}: the browser reported problems")
        dom = self.browser.probe(session)
        self.assertEqual(dom["scripts"], 0)
        self.assertGreater(dom["text"], 500)
        for chart_id, (kind, least) in charts.items():
            self.assertIn(chart_id, dom["charts"], f"{name}: no <svg id={chart_id}>")
            c = dom["charts"][chart_id]
            self.assertGreater(c["width"], 200, f"{name} {chart_id}: not visible")
            self.assertGreater(c["height"], 100, f"{name} {chart_id}: not visible")
            self.assertTrue(c["title"], f"{name} {chart_id}: no <title>")
            self.assertGreater(len(c["desc"]), 40, f"{name} {chart_id}: no text alternative")
            self.assertGreaterEqual(c["count"].get(kind, 0), least,
                                    f"{name} {chart_id}: too few <{kind}>: {c['count']}")
            self.assertGreaterEqual(sum(c["count"].values()), 20)
        for t in tables:
            self.assertIn(t, dom["tables"], f"{name}: no table {t}")
        a4, pdf = self.browser.pdf_pages(session, 8.27, 11.69)
        self.assertTrue(pdf.startswith(b"%PDF-"))
        self.assertTrue(lo <= a4 <= hi, f"{name}: {a4} A4 pages, expected {lo}..{hi}")
        letter, _ = self.browser.pdf_pages(session, 8.5, 11)
        self.assertTrue(lo <= letter <= hi, f"{name}: {letter} Letter pages")
        with open(os.path.join(self.tmp, name + ".pdf"), "wb") as f:
            f.write(pdf)
        return dom

    def test_binary(self):
        dom = self.check_fixture("binary")
        self.assertIn("ev_01HXB7T3M8", dom["title"])

    def test_hostile_strings(self):
        dom = self.check_fixture("hostile")
        # the hostile id is shown as text, not interpreted
        self.assertIn('ev_"><script>alert(2)</script>', dom["title"])

    def test_regression(self):
        self.check_fixture("regression")

    def test_multiclass(self):
        self.check_fixture("multiclass")

    def test_malformed(self):
        self.check_fixture("malformed")

    def control(self, name, head, body):
        path = os.path.join(self.tmp, name + ".html")
        with open(path, "w") as f:
            f.write(f'<!DOCTYPE html><html><head><meta charset="utf-8">{head}<title>c</title>'
                    f'</head><body>{body}</body></html>')
        _, problems = self.browser.open("file://" + path)
        return "\n".join(problems)

    def test_detector_sees_problems(self):
        """The control: what the checks above look for is actually caught."""
        text = self.control("control", "",
                            '<p>control</p><img src="http://127.0.0.1:9/x.png"><script>'
                            'console.error("boom"); console.warn("careful"); missingFunction();'
                            '</script>')
        self.assertIn("console.error", text)
        self.assertIn("console.warning", text)
        self.assertIn("exception", text)
        self.assertIn("request: http://127.0.0.1:9/x.png", text)
        self.assertIn("load failed", text)
        # and a CSP like the report's blocks and reports both
        text = self.control("control-csp", '<meta http-equiv="Content-Security-Policy" '
                            'content="default-src \'none\'; style-src \'unsafe-inline\'">',
                            '<img src="http://127.0.0.1:9/y.png"><script>console.error("x")'
                            '</script>')
        self.assertNotIn("console.error", text)
        self.assertIn("log error", text)
        self.assertIn("Content Security Policy", text)


if __name__ == "__main__":
    unittest.main()
