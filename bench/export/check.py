#!/usr/bin/env python3
"""bench/export/check.py - do Strata and pandas give the same training file?

Usage: check.py INSTANCES_CSV VALUES_CSV PANDAS_OUT STRATA_OUT [STRATA_OUT...] [--sample N]

1. Every STRATA_OUT (Strata's CSV: user_id, ts, label, user__f0..user__f9) against
   PANDAS_OUT (user_id, ts, label, f0..f9), row by row over the whole file: the
   same number of rows, in the same order; user_id and label equal; ts the same
   instant; each feature cell empty in both, or the same number (parsed as
   float64; relative difference <= 1e-12 counts as equal — INT64 columns are
   floats in pandas' output because unmatched rows make them NaN).
2. Both against the values file itself on N random instance rows (default 2000):
   for each, the newest version with event_time <= ts, found by a plain scan of
   that id's versions (no merge_asof, no Strata).
3. Strata's header is exactly the instances' header then user__f0..user__f9.

Prints `rows=… cells=… mismatches=… sample=… sample_mismatches=… empty_cells=…`
for each STRATA_OUT and the first few differences; exits 1 on any mismatch.
"""
import sys

import numpy as np
import pandas as pd

FEATS = [f"f{i}" for i in range(10)]


def load(path):
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def as_float(col):
    s = col.replace("", np.nan)
    return pd.to_numeric(s, errors="raise").to_numpy(dtype=np.float64)


def cells_equal(a, b):
    both_nan = np.isnan(a) & np.isnan(b)
    close = np.abs(a - b) <= 1e-12 * np.maximum(np.abs(a), np.abs(b))
    return both_nan | (close & ~np.isnan(a) & ~np.isnan(b))


def main():
    args = sys.argv[1:]
    sample = 2000
    if "--sample" in args:
        i = args.index("--sample")
        sample = int(args[i + 1])
        del args[i:i + 2]
    if len(args) < 4:
        sys.exit(__doc__.split("\n\n")[1])
    inst_p, vals_p, pd_p, strata_ps = args[0], args[1], args[2], args[3:]

    inst = load(inst_p)
    pdo = load(pd_p)
    n = len(inst)
    pd_ts = pd.to_datetime(pdo["ts"], utc=True).to_numpy()
    inst_ts = pd.to_datetime(inst["ts"], utc=True).to_numpy()
    pdf = {f: as_float(pdo[f]) for f in FEATS}

    # Ground truth for a sample, from the values file.
    vals = pd.read_csv(vals_p)
    vals["t"] = pd.to_datetime(vals["event_time"], utc=True).astype("int64")
    vals = vals.sort_values(["user_id", "t"], kind="stable").reset_index(drop=True)
    vid = vals["user_id"].to_numpy()
    vt = vals["t"].to_numpy()
    vf = {f: vals[f].to_numpy(dtype=np.float64) for f in FEATS}
    rng = np.random.default_rng(7)
    rows = np.sort(rng.choice(n, size=min(sample, n), replace=False))
    truth = {f: np.full(len(rows), np.nan) for f in FEATS}
    iid = inst["user_id"].to_numpy(dtype=np.int64)
    its = pd.to_datetime(inst["ts"], utc=True).astype("int64").to_numpy()
    for k, r in enumerate(rows):
        lo, hi = np.searchsorted(vid, iid[r], "left"), np.searchsorted(vid, iid[r], "right")
        best = -1
        for j in range(lo, hi):  # a plain scan: the newest version at or before ts
            if vt[j] <= its[r] and (best < 0 or vt[j] > vt[best]):
                best = j
        if best >= 0:
            for f in FEATS:
                truth[f][k] = vf[f][best]

    bad_total = 0
    pd_sample_bad = sum(int((~cells_equal(pdf[f][rows], truth[f])).sum()) for f in FEATS)
    print(f"pandas: rows={len(pdo)} sample={len(rows)} sample_mismatches={pd_sample_bad}")
    bad_total += pd_sample_bad + (len(pdo) != n)
    if len(pdo) != n or (pd_ts != inst_ts).any():
        print("pandas: rows or instance times differ from the instances file")
        bad_total += 1

    for sp in strata_ps:
        so = load(sp)
        want_cols = list(inst.columns) + [f"user__{f}" for f in FEATS]
        msgs = []
        if list(so.columns) != want_cols:
            msgs.append(f"header {list(so.columns)} != {want_cols}")
        if len(so) != n:
            print(f"{sp}: rows={len(so)}, expected {n}")
            bad_total += 1
            continue
        bad = 0
        for c in ("user_id", "ts", "label"):
            d = (so[c].to_numpy() != inst[c].to_numpy())
            if d.any():
                msgs.append(f"pass-through column {c} differs in {int(d.sum())} rows, first row {int(np.argmax(d)) + 1}")
                bad += int(d.sum())
        if (so["user_id"].to_numpy() != pdo["user_id"].to_numpy()).any() or \
           (so["label"].to_numpy() != pdo["label"].to_numpy()).any():
            msgs.append("id or label differ from pandas' output")
            bad += 1
        empty = 0
        for f in FEATS:
            sv = as_float(so[f"user__{f}"])
            empty += int(np.isnan(sv).sum())
            eq = cells_equal(sv, pdf[f])
            nb = int((~eq).sum())
            if nb:
                r = int(np.argmax(~eq))
                msgs.append(f"{f}: {nb} cells differ; first at data row {r + 1}: strata "
                            f"{so[f'user__{f}'].iloc[r]!r} pandas {pdo[f].iloc[r]!r}")
            bad += nb
        sbad = sum(int((~cells_equal(as_float(so[f"user__{f}"])[rows], truth[f])).sum()) for f in FEATS)
        print(f"{sp}: rows={len(so)} cells={len(so) * len(FEATS)} mismatches={bad} "
              f"sample={len(rows)} sample_mismatches={sbad} empty_cells={empty}")
        for m in msgs[:10]:
            print("  " + m)
        bad_total += bad + sbad + (1 if msgs else 0)
    sys.exit(1 if bad_total else 0)


if __name__ == "__main__":
    main()
