#!/usr/bin/env python3
"""bench/export/pandas_asof.py - the peer: the same point-in-time join in pandas.

Usage: pandas_asof.py INSTANCES_CSV VALUES_CSV OUT_CSV

What a Feast user's local offline store does (read the files, pd.merge_asof per
entity key, write the result), as plain pandas: read both CSVs, parse their
timestamps (UTC), sort both by time, merge_asof(instances, values, left_on="ts",
right_on="event_time", by="user_id", direction="backward",
allow_exact_matches=True) -- the newest version at or before the instance time
-- then restore the instances' input order and write CSV (no index). Columns of
the output: user_id, ts, label, f0..f9 (ts as pandas writes a datetime).

merge_asof has no created-time tie-break and no TTL; bench/export's data has
neither ties nor TTLs, so Strata and this answer the same question.

Prints one JSON line on stdout with the phases' wall seconds and
ru_maxrss (this process's peak RSS, KiB).
"""
import json
import resource
import sys
import time

T_START = time.perf_counter()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def main():
    inst_path, vals_path, out_path = sys.argv[1:4]
    ph = {}
    t = time.perf_counter()
    ph["import_s"] = t - T_START

    inst = pd.read_csv(inst_path)
    vals = pd.read_csv(vals_path)
    ph["read_s"] = time.perf_counter() - t
    t = time.perf_counter()

    # No format=: pandas 1.5 then takes its ISO 8601 fast path (an explicit
    # "%Y-%m-%dT%H:%M:%SZ" goes through strptime, ~7x slower; so does read_csv's
    # parse_dates).
    inst["ts"] = pd.to_datetime(inst["ts"], utc=True)
    vals["event_time"] = pd.to_datetime(vals["event_time"], utc=True)
    ph["parse_s"] = time.perf_counter() - t
    t = time.perf_counter()

    inst["_row"] = np.arange(len(inst))
    inst = inst.sort_values("ts", kind="stable")
    vals = vals.sort_values("event_time", kind="stable")
    ph["sort_s"] = time.perf_counter() - t
    t = time.perf_counter()

    out = pd.merge_asof(inst, vals, left_on="ts", right_on="event_time", by="user_id",
                        direction="backward", allow_exact_matches=True)
    ph["merge_s"] = time.perf_counter() - t
    t = time.perf_counter()

    out = out.sort_values("_row", kind="stable").drop(columns=["_row", "event_time"])
    ph["reorder_s"] = time.perf_counter() - t
    t = time.perf_counter()

    out.to_csv(out_path, index=False)
    ph["write_s"] = time.perf_counter() - t
    ph["total_s"] = time.perf_counter() - T_START
    ph["rows"] = len(out)
    ph["ru_maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ph["pandas"] = pd.__version__
    ph["numpy"] = np.__version__
    print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in ph.items()}))


if __name__ == "__main__":
    main()
