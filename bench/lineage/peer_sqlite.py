#!/usr/bin/env python3
"""bench/lineage peer: the same graph in SQLite, queried the way an ML Metadata user on its
SQLite backend would (MLMD keeps nodes and events in SQL tables and walks lineage with
queries over the Event table).

    peer_sqlite.py TSV_DIR STARTS_FILE DB_PATH [--seconds S] [--hops N] [--check IDS]

TSV_DIR holds nodes.tsv (kind, id, type, name, version, properties JSON) and events.tsv
(artifact_id, execution_id, type) written by `load graph --tsv-dir`. The database gets the
indexes such a schema has: nodes by (kind, id) and (kind, type, id), events by both ends.
No index on property values (Strata has none either).

Measured in-process with Python's sqlite3 module (no HTTP, no JSON answer): a single client
issuing queries back to back for S seconds each:
  - traversal: a recursive CTE walking N hops upstream from one start (random among the
    starts file), returning every reached node's row (type, name, properties) and then the
    events among them (a second query), i.e. the nodes and events Strata returns;
  - list: artifacts of type Model with version > 5, 100 per page in id order: the first
    page, and pages at random positions (keyset pagination, as Strata's tokens do).
Prints RESULT lines: RESULT name=... queries=.. p50_us=.. p99_us=.. qps=.. [nodes_avg=..].
With --check IDS, first prints "CHECK <id> <nodes>" for each start in the file: the
number of nodes the traversal reaches, for run.sh to compare with Strata's answers.
"""
import random
import sqlite3
import sys
import time


def pct(sorted_vals, p):
    if not sorted_vals:
        return 0
    return sorted_vals[min(len(sorted_vals) - 1, int(len(sorted_vals) * p / 100))]


def load(db, tsv_dir):
    t0 = time.perf_counter()
    db.executescript("""
        PRAGMA journal_mode = OFF;
        PRAGMA synchronous = OFF;
        CREATE TABLE nodes (kind INTEGER, id INTEGER, type TEXT, name TEXT, version INTEGER,
                            properties TEXT, PRIMARY KEY (kind, id)) WITHOUT ROWID;
        CREATE TABLE events (artifact_id INTEGER, execution_id INTEGER, type INTEGER);
    """)

    def rows(path, conv):
        with open(path) as f:
            for line in f:
                yield conv(line.rstrip("\n").split("\t"))

    db.executemany("INSERT INTO nodes VALUES (?,?,?,?,?,?)",
                   rows(f"{tsv_dir}/nodes.tsv",
                        lambda c: (int(c[0]), int(c[1]), c[2], c[3] or None,
                                   int(c[4]) if c[4] else None, c[5])))
    db.executemany("INSERT INTO events VALUES (?,?,?)",
                   rows(f"{tsv_dir}/events.tsv", lambda c: (int(c[0]), int(c[1]), int(c[2]))))
    db.executescript("""
        CREATE INDEX events_by_artifact ON events (artifact_id, type, execution_id);
        CREATE INDEX events_by_execution ON events (execution_id, type, artifact_id);
        CREATE INDEX nodes_by_type ON nodes (kind, type, id);
    """)
    # No ANALYZE: with statistics, SQLite 3.40 plans the recursive step with a Bloom
    # filter built by scanning all events on every step (~100x slower here). A DBA would
    # not keep that plan, so the peer runs with the plain index plan.
    db.commit()
    n = db.execute("SELECT count(*) FROM nodes").fetchone()[0]
    e = db.execute("SELECT count(*) FROM events").fetchone()[0]
    return n, e, time.perf_counter() - t0


TRAVERSAL = """
WITH RECURSIVE walk(kind, id, hop) AS (
    VALUES (0, :start, 0)
    UNION
    SELECT 1, e.execution_id, w.hop + 1 FROM walk w JOIN events e
        ON w.kind = 0 AND e.artifact_id = w.id AND e.type IN (1, 4) WHERE w.hop < :hops
    UNION
    SELECT 0, e.artifact_id, w.hop + 1 FROM walk w JOIN events e
        ON w.kind = 1 AND e.execution_id = w.id AND e.type IN (2, 3) WHERE w.hop < :hops
),
reached AS (SELECT kind, id, min(hop) AS hop FROM walk GROUP BY kind, id)
SELECT n.kind, n.id, n.type, n.name, n.properties, r.hop
FROM reached r JOIN nodes n ON n.kind = r.kind AND n.id = r.id
"""

LIST = """
SELECT id, type, name, properties FROM nodes
WHERE kind = 0 AND type = 'Model' AND version > 5 AND id > :after
ORDER BY id LIMIT 100
"""


def timed(fn, seconds):
    lat = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        fn()
        lat.append((time.perf_counter() - t0) * 1e6)
    return sorted(lat)


def main():
    args = sys.argv[1:]
    seconds, hops, check = 10.0, 10, None
    if "--check" in args:
        i = args.index("--check")
        check = args[i + 1]
        del args[i:i + 2]
    if "--seconds" in args:
        i = args.index("--seconds")
        seconds = float(args[i + 1])
        del args[i:i + 2]
    if "--hops" in args:
        i = args.index("--hops")
        hops = int(args[i + 1])
        del args[i:i + 2]
    tsv_dir, starts_file, db_path = args
    db = sqlite3.connect(db_path)
    n, e, secs = load(db, tsv_dir)
    print(f"RESULT name=load nodes={n} events={e} seconds={secs:.2f} "
          f"rows_per_s={(n + e) / secs:.0f}", flush=True)
    starts = [int(x) for x in open(starts_file).read().split()]
    rnd = random.Random(1)
    sizes = []

    def traverse():
        rows = db.execute(TRAVERSAL, {"start": rnd.choice(starts), "hops": hops}).fetchall()
        arts = [r[1] for r in rows if r[0] == 0]
        execs = [r[1] for r in rows if r[0] == 1]
        ev = db.execute(
            f"SELECT artifact_id, execution_id, type FROM events WHERE artifact_id IN "
            f"({','.join('?' * len(arts))}) AND execution_id IN ({','.join('?' * len(execs))})",
            arts + execs).fetchall() if arts and execs else []
        sizes.append(len(rows))
        return rows, ev

    if check:
        for x in open(check).read().split():
            n_reached = len(db.execute(TRAVERSAL, {"start": int(x), "hops": hops}).fetchall())
            print(f"CHECK {x} {n_reached}", flush=True)
    for _ in range(50):  # warm the page cache
        traverse()
    sizes.clear()
    lat = timed(traverse, seconds)
    print(f"RESULT name=traversal queries={len(lat)} p50_us={pct(lat, 50):.0f} "
          f"p99_us={pct(lat, 99):.0f} qps={len(lat) / seconds:.0f} "
          f"nodes_avg={sum(sizes) / max(1, len(sizes)):.1f}", flush=True)

    # List: the first page, then pages at random keyset positions.
    models = [r[0] for r in db.execute(
        "SELECT id FROM nodes WHERE kind = 0 AND type = 'Model' AND version > 5 ORDER BY id")]
    lat = timed(lambda: db.execute(LIST, {"after": 0}).fetchall(), seconds / 2)
    print(f"RESULT name=list_first queries={len(lat)} p50_us={pct(lat, 50):.0f} "
          f"p99_us={pct(lat, 99):.0f} qps={len(lat) / (seconds / 2):.0f} matches={len(models)}",
          flush=True)
    afters = [models[i] for i in range(99, len(models), 100)] or [0]
    lat = timed(lambda: db.execute(LIST, {"after": rnd.choice(afters)}).fetchall(), seconds / 2)
    print(f"RESULT name=list_pages queries={len(lat)} p50_us={pct(lat, 50):.0f} "
          f"p99_us={pct(lat, 99):.0f} qps={len(lat) / (seconds / 2):.0f}", flush=True)


if __name__ == "__main__":
    main()
