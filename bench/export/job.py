#!/usr/bin/env python3
"""bench/export/job.py - start a stratad job and wait for it, cheaply.

Usage: job.py BASE_URL PATH BODY_JSON OUT_JSON [POLL_S]

POSTs BODY_JSON to BASE_URL+PATH (expects 202 and a job), then polls
GET /v1/jobs/{id} every POLL_S seconds (default 0.02) on one keep-alive
connection until the job leaves PENDING/RUNNING. Writes the final job document
to OUT_JSON with "wall_ms" added: from just before the POST to the answer that
showed the job finished. Exits 1 on a refused POST.

One process and one connection for the whole wait: a poll costs well under a
millisecond of CPU, where a curl + python3 process per poll would keep most of
a core busy on the machine under test.
"""
import http.client
import json
import sys
import time
import urllib.parse


def main():
    base, path, body, out = sys.argv[1:5]
    poll = float(sys.argv[5]) if len(sys.argv) > 5 else 0.02
    u = urllib.parse.urlsplit(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    t0 = time.monotonic()
    c.request("POST", path, body=body.encode(), headers={"Content-Type": "application/json"})
    r = c.getresponse()
    text = r.read()
    if r.status != 202:
        sys.exit(f"job.py: POST {path} answered {r.status}: {text.decode(errors='replace')[:500]}")
    jid = json.loads(text)["job"]["id"]
    while True:
        c.request("GET", f"/v1/jobs/{jid}")
        r = c.getresponse()
        d = json.loads(r.read())
        if r.status != 200:
            sys.exit(f"job.py: GET /v1/jobs/{jid} answered {r.status}: {d}")
        if d["job"]["state"] not in ("PENDING", "RUNNING"):
            break
        time.sleep(poll)
    d["wall_ms"] = round((time.monotonic() - t0) * 1000)
    with open(out, "w") as f:
        json.dump(d, f)


if __name__ == "__main__":
    main()
