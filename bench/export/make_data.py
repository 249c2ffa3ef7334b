#!/usr/bin/env python3
"""bench/export/make_data.py - the inputs of bench/export, written once.

Usage: make_data.py OUT_DIR ENTITIES INSTANCES [SEED]

Writes two CSV files into OUT_DIR:

values.csv     user_id,event_time,f0..f9: every stored version, one row each.
               ENTITIES entity ids (integers 1000000.., so pandas parses them as
               int64: its fastest case), each with 10..30 versions (20 on average)
               at *distinct* event times (whole seconds, RFC 3339 UTC) over 2024:
               no two versions of an id share an event time, so "newest at or
               before" has one answer without created-time tie-breaks, which
               pandas.merge_asof cannot do. Every cell is filled (an empty cell
               would be "no value" for Strata but NaN for merge_asof). Rows in
               event-time order, as an append-only log is. f0..f7 DOUBLE (f0, f1
               full precision; f2..f7 rounded to 2..6 decimals), f8, f9 INT64.
instances.csv  user_id,ts,label: INSTANCES label rows in random order. 95% at a
               uniform time from 10 days before 2024 to its end (some fall before
               their id's first version: empty cells), 5% exactly at one of the
               id's version times (a value at exactly the instance time counts).

Prints one line `values_rows=N instances=M` on stdout.
"""
import sys

import numpy as np
import pandas as pd


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__.split("\n\n")[1])
    out, n_ent, n_inst = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    seed = int(sys.argv[4]) if len(sys.argv) == 5 else 20240601
    rng = np.random.default_rng(seed)

    t0 = np.datetime64("2024-01-01T00:00:00", "s").astype(np.int64)
    span = 366 * 86400

    ids = 1000000 + np.arange(n_ent, dtype=np.int64)
    nver = rng.integers(10, 31, n_ent)  # 10..30, mean 20
    ent = np.repeat(np.arange(n_ent), nver)
    t = rng.integers(0, span, len(ent))
    # Distinct times within an id: sort by (id, time) and push duplicates one second on.
    while True:
        order = np.lexsort((t, ent))
        ent, t = ent[order], t[order]
        dup = np.zeros(len(t), bool)
        dup[1:] = (ent[1:] == ent[:-1]) & (t[1:] == t[:-1])
        if not dup.any():
            break
        t[dup] += 1
    n = len(ent)

    vals = pd.DataFrame({
        "user_id": ids[ent],
        "event_time": t,
        "f0": rng.random(n),
        "f1": rng.normal(0.0, 1.0, n),
        "f2": np.round(rng.normal(50.0, 20.0, n), 4),
        "f3": np.round(rng.exponential(3.0, n), 3),
        "f4": np.round(rng.lognormal(3.0, 1.0, n), 2),
        "f5": np.round(rng.random(n), 6),
        "f6": np.round(rng.normal(0.0, 100.0, n), 3),
        "f7": np.round(rng.random(n) * 1000.0, 2),
        "f8": rng.integers(0, 1000, n),
        "f9": rng.integers(-(10**9), 10**9, n),
    })
    # The log: event-time order (ties by id).
    vals = vals.iloc[np.lexsort((vals["user_id"].to_numpy(), t))]
    vals["event_time"] = np.datetime_as_string(
        (vals["event_time"].to_numpy() + t0).astype("datetime64[s]"), unit="s")
    vals["event_time"] += "Z"
    vals.to_csv(f"{out}/values.csv", index=False)

    # Instances.
    k_exact = n_inst // 20
    ie = rng.integers(0, n_ent, n_inst - k_exact)
    it = rng.integers(-10 * 86400, span, n_inst - k_exact)
    pick = rng.integers(0, n, k_exact)  # exact version times (ent/t are in (id, time) order)
    ie = np.concatenate([ie, ent[pick]])
    it = np.concatenate([it, t[pick]])
    perm = rng.permutation(n_inst)
    ie, it = ie[perm], it[perm]
    inst = pd.DataFrame({
        "user_id": ids[ie],
        "ts": np.char.add(np.datetime_as_string((it + t0).astype("datetime64[s]"), unit="s"), "Z"),
        "label": rng.integers(0, 2, n_inst),
    })
    inst.to_csv(f"{out}/instances.csv", index=False)
    print(f"values_rows={n} instances={n_inst}")


if __name__ == "__main__":
    main()
