#!/usr/bin/env python3
"""bench/evaluate/peer_fairness.py - the peer of bench/evaluate: the fairness
evaluation a Fairlearn / TFMA user would write with Debian's pandas, numpy and
scikit-learn (Fairlearn itself is not packaged), on the same predictions file.

Usage: peer_fairness.py PREDICTIONS_CSV OUT_JSON [--replicates R] [--run-replicates K]
                        [--seed S] [--threshold T]

Phases, each timed (wall and this process's CPU):
  load       pandas.read_csv, label int8, score float64, sex and race as
             categoricals (what a careful user declares: it is both the fastest
             and the smallest way to hold group columns);
  overall    scikit-learn: roc_auc_score, average_precision_score, log_loss,
             brier_score_loss, precision_recall_fscore_support, confusion_matrix,
             accuracy_score; predicted label = score >= T (default 0.5);
  groups     per-group confusion counts by pandas groupby for sex, race and
             sex&race (MetricFrame's by_group), from them the rates (base rate,
             selection rate, TPR, FPR, FNR, TNR, PPV, NPV, FDR, FOR, accuracy;
             NaN where the denominator is 0), the disparities per attribute
             (MetricFrame.difference/ratio, between groups and to overall) and the
             summary (demographic parity difference and ratio, equal opportunity
             and equalized odds differences, the four-fifths rule);
  bootstrap  R replicates (default 200) of the ordinary row bootstrap: resample
             the n rows with replacement and recompute every group rate and
             disparity; 95% percentile intervals (numpy's default, linear). Written
             as well as numpy allows: each row's (cell, label, prediction) is
             encoded once as a small integer, so a replicate is one index draw,
             one gather and one bincount over n rows, then array arithmetic on
             the 40 counts. (Fairlearn's MetricFrame bootstrap refits the whole
             groupby per replicate and is slower.) --run-replicates K < R runs
             only K replicates; the time of R is then extrapolated by the caller
             from the per-replicate time printed here.

Writes OUT_JSON: {"overall", "groups", "disparities", "summary", "ci"} in the
same names as Strata's evaluation (for bench/evaluate/check.py). Prints one line
on stdout: RESULT key=value ... (times in seconds, memory in MiB: VmRSS after
loading, VmHWM after each phase and at the end).
"""
import argparse
import json
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.metrics import (accuracy_score, average_precision_score, brier_score_loss,
                             confusion_matrix, log_loss, precision_recall_fscore_support,
                             roc_auc_score)

ATTRS = ["sex", "race"]
RATES = ["base_rate", "selection_rate", "tpr", "fpr", "fnr", "tnr", "ppv", "npv", "fdr", "for",
         "accuracy"]
DISPARITY_RATES = RATES[1:]  # base_rate is a property of the data, not of the model


def vm(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Phase:
    """Wall and CPU seconds of a with-block, kept in a dict."""

    def __init__(self, times, name):
        self.times, self.name = times, name

    def __enter__(self):
        self.w, self.c = time.perf_counter(), time.process_time()

    def __exit__(self, *exc):
        self.times[self.name + "_s"] = time.perf_counter() - self.w
        self.times[self.name + "_cpu_s"] = time.process_time() - self.c
        self.times[self.name + "_hwm_mib"] = vm("VmHWM")


def rates(tp, fp, tn, fn):
    """Every group rate from count arrays of any shape; NaN where undefined."""
    tp, fp, tn, fn = (np.asarray(v, dtype=np.float64) for v in (tp, fp, tn, fn))
    n, pos, neg, pp, pn = tp + fp + tn + fn, tp + fn, fp + tn, tp + fp, tn + fn
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"base_rate": pos / n, "selection_rate": pp / n, "tpr": tp / pos, "fpr": fp / neg,
                "fnr": fn / pos, "tnr": tn / neg, "ppv": tp / pp, "npv": tn / pn,
                "fdr": fp / pp, "for": fn / pn, "accuracy": (tp + tn) / n}


def disparities(g, o):
    """MetricFrame's four conventions over the last axis (the groups of one
    attribute), NaN groups left out; g: (..., groups), o: overall value(s)."""
    o = np.asarray(o, dtype=np.float64)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices
        hi, lo = np.nanmax(g, axis=-1), np.nanmin(g, axis=-1)
        to_o = np.where(np.isnan(g), np.nan, np.minimum(g, o) / np.maximum(g, o))
        return {"difference_between_groups": hi - lo,
                "ratio_between_groups": np.where(hi == 0, np.nan, lo / hi),
                "difference_to_overall": np.nanmax(np.abs(g - o), axis=-1),
                "ratio_to_overall": np.nanmin(to_o, axis=-1)}


def by_attribute(cells):
    """cells: (..., sex, race, 4) counts [tp, fp, tn, fn] -> {attr: (..., groups, 4)}."""
    return {"sex": cells.sum(axis=-2), "race": cells.sum(axis=-3),
            "sex&race": cells.reshape(cells.shape[:-3] + (-1, 4))}


def num(v):
    v = float(v)
    return None if np.isnan(v) else v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("out")
    ap.add_argument("--replicates", type=int, default=200)
    ap.add_argument("--run-replicates", type=int, default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threshold", type=float, default=0.5)
    a = ap.parse_args()
    run_reps = a.replicates if a.run_replicates is None else min(a.run_replicates, a.replicates)
    t = {}

    with Phase(t, "load"):
        df = pd.read_csv(a.csv, dtype={"label": "int8", "score": "float64", "sex": "category",
                                       "race": "category"})
    loaded_rss = vm("VmRSS")
    y, s = df["label"].to_numpy(), df["score"].to_numpy()
    n = len(df)

    with Phase(t, "overall"):
        pred = (s >= a.threshold).astype(np.int8)
        tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
        prec, rec, f1, _ = precision_recall_fscore_support(y, pred, average="binary",
                                                           zero_division=0)
        overall = {"n": n, "positives": int(tp + fn), "negatives": int(tn + fp),
                   "accuracy": accuracy_score(y, pred), "precision": prec, "recall": rec,
                   "f1": f1, "roc_auc": roc_auc_score(y, s),
                   "average_precision": average_precision_score(y, s),
                   "log_loss": log_loss(y, s), "brier": brier_score_loss(y, s),
                   "confusion": {"tp": int(tp), "fp": int(fp), "tn": int(tn), "fn": int(fn)}}
        o_rates = rates(tp, fp, tn, fn)

    with Phase(t, "groups"):
        yb, pb = y.astype(bool), pred.astype(bool)
        df["tp"], df["fp"] = (yb & pb).astype(np.int8), (~yb & pb).astype(np.int8)
        df["tn"], df["fn"] = (~yb & ~pb).astype(np.int8), (yb & ~pb).astype(np.int8)
        groups, disp, summary = [], {m: {"by_attribute": {}} for m in DISPARITY_RATES}, {}
        for keys in (["sex"], ["race"], ["sex", "race"]):
            attr = "&".join(keys)
            c = df.groupby(keys, observed=False)[["tp", "fp", "tn", "fn"]].sum()
            r = rates(c["tp"], c["fp"], c["tn"], c["fn"])
            for i, idx in enumerate(c.index):
                value = "&".join(idx) if isinstance(idx, tuple) else idx
                row = c.iloc[i]
                g = {"attribute": attr, "value": value, "n": int(row.sum()),
                     "positives": int(row.tp + row.fn), "negatives": int(row.fp + row.tn),
                     **{k: int(row[k]) for k in ("tp", "fp", "tn", "fn")},
                     **{k: num(v[i]) for k, v in r.items()}}
                groups.append(g)
            for m in DISPARITY_RATES:
                disp[m]["by_attribute"][attr] = {
                    k: num(v) for k, v in disparities(np.asarray(r[m]), o_rates[m]).items()}
            sel, tpr = disp["selection_rate"]["by_attribute"][attr], disp["tpr"]["by_attribute"][attr]
            fpr = disp["fpr"]["by_attribute"][attr]
            ratio = sel["ratio_between_groups"]
            summary[attr] = {
                "demographic_parity_difference": sel["difference_between_groups"],
                "demographic_parity_ratio": ratio,
                "equal_opportunity_difference": tpr["difference_between_groups"],
                "equalized_odds_difference": max(tpr["difference_between_groups"],
                                                 fpr["difference_between_groups"]),
                "four_fifths_rule": None if ratio is None else "pass" if ratio >= 0.8 else "fail"}

    with Phase(t, "bootstrap"):
        sex = df["sex"].cat.codes.to_numpy().astype(np.int32)
        race = df["race"].cat.codes.to_numpy().astype(np.int32)
        n_race = len(df["race"].cat.categories)
        n_sex = len(df["sex"].cat.categories)
        # 0 tp, 1 fp, 2 tn, 3 fn: the cell's confusion category
        conf = np.where(yb, np.where(pb, 0, 3), np.where(pb, 1, 2)).astype(np.int32)
        code = ((sex * n_race + race) * 4 + conf).astype(np.int16)
        rng = np.random.default_rng(a.seed)
        boot = {}  # (attr, rate) -> (reps, groups); ("disp", attr, metric, conv) -> (reps,)
        counts = np.empty((run_reps, n_sex, n_race, 4), dtype=np.int64)
        for r in range(run_reps):
            idx = rng.integers(0, n, size=n)
            counts[r] = np.bincount(code[idx], minlength=n_sex * n_race * 4).reshape(
                n_sex, n_race, 4)
        ot = counts.sum(axis=(1, 2))
        o_boot = rates(ot[:, 0], ot[:, 1], ot[:, 2], ot[:, 3])
        for attr, c in by_attribute(counts).items():
            br = rates(c[..., 0], c[..., 1], c[..., 2], c[..., 3])
            for m, v in br.items():
                boot[(attr, m)] = v
            for m in DISPARITY_RATES:
                for conv, v in disparities(br[m], o_boot[m]).items():
                    boot[("disp", attr, m, conv)] = v
        ci = {}

        def interval(v):
            v = v[~np.isnan(v)]
            if len(v) == 0:
                return {"low": None, "high": None, "replicates_used": 0}
            lo, hi = np.percentile(v, [2.5, 97.5])
            return {"low": float(lo), "high": float(hi), "replicates_used": int(len(v))}

        for g in groups:
            i = [x["value"] for x in groups if x["attribute"] == g["attribute"]].index(g["value"])
            ci[f'{g["attribute"]}={g["value"]}'] = {
                m: interval(boot[(g["attribute"], m)][:, i]) for m in RATES}
        for key, v in boot.items():
            if key[0] == "disp":
                ci.setdefault(f"disparity:{key[2]}:{key[1]}", {})[key[3]] = interval(v)
    t["bootstrap_per_replicate_s"] = t["bootstrap_s"] / max(run_reps, 1)
    t["bootstrap_per_replicate_cpu_s"] = t["bootstrap_cpu_s"] / max(run_reps, 1)

    peak = vm("VmHWM")
    with open(a.out, "w") as f:
        json.dump({"overall": overall, "groups": groups, "disparities": disp,
                   "summary": {"by_attribute": summary}, "ci": ci,
                   "bootstrap": {"replicates": a.replicates, "replicates_run": run_reps,
                                 "seed": a.seed}}, f)
    compute = sum(t[p + "_s"] for p in ("overall", "groups", "bootstrap"))
    compute_cpu = sum(t[p + "_cpu_s"] for p in ("overall", "groups", "bootstrap"))
    print("RESULT rows=%d replicates_run=%d %s compute_s=%.3f compute_cpu_s=%.3f "
          "loaded_rss_mib=%.0f peak_rss_mib=%.0f" % (
              n, run_reps, " ".join(("%s=%.0f" if k.endswith("_mib") else "%s=%.4f") % (k, v) for k, v in t.items()), compute, compute_cpu,
              loaded_rss, peak))


if __name__ == "__main__":
    main()
