#!/usr/bin/python3
"""Random evaluation cases with scikit-learn's (and pandas') answers, checked
against eval_compute by tests/tools/eval_sklearn_check.c.

Usage: eval_sklearn.py --out cases.json [--check path/to/eval_sklearn_check]

Writes cases.json, then (with --check) runs the checker on it and exits with
its status. scikit-learn, numpy and pandas must import: a missing one is a
failure, never a skip (they are build dependencies, scripts/deps.sh).

Each case holds the rows (labels, scores or probabilities, two group
attributes) and "expected": a subset of eval_compute's result computed
independently here: overall metrics by sklearn.metrics, calibration bins by
sklearn.calibration.calibration_curve, and per-group confusion counts, rates
and ROC AUC by a plain pandas groupby. The checker compares every number to
1e-12 (relative above 1).
"""
import argparse
import json
import subprocess
import sys

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

SEX = ["M", "F"]
RACE = ["B", "A", "C", "D"]  # D never occurs: its groups are empty


def num(v):
    v = float(v)
    return None if not np.isfinite(v) else v


def ratio(a, b):
    return None if b == 0 else a / b


def attrs_of(rng, n):
    sex = rng.integers(0, 2, n)
    race = rng.choice(3, n, p=[0.5, 0.3, 0.2])
    return sex, race, [
        {"name": "sex", "values": SEX, "codes": sex.tolist()},
        {"name": "race", "values": RACE, "codes": race.tolist()},
    ]


def frame(sex, race):
    return pd.DataFrame({"sex": [SEX[i] for i in sex], "race": [RACE[i] for i in race]})


def each_group(df):
    """(attribute, value, rows) for sex, race and sex&race, as eval names them."""
    for attr, cols in [("sex", "sex"), ("race", "race"), ("sex&race", ["sex", "race"])]:
        for key, g in df.groupby(cols):
            yield attr, "&".join(key if isinstance(key, tuple) else (key,)), g


def binary_case(rng, n, ties, threshold):
    sex, race, attrs = attrs_of(rng, n)
    y = (rng.random(n) < 0.3 + 0.15 * sex + 0.1 * (race == 2)).astype(float)
    s = np.clip(0.35 * y + 0.65 * rng.random(n) - 0.05 * sex, 0, 1)
    if ties:
        s = np.round(s, 2)
    s[: max(1, n // 50)] = 0.0  # the clipping of log loss
    pred = (s >= threshold).astype(int)
    exp = {
        "n": n,
        "accuracy": skm.accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred),
        "recall": skm.recall_score(y, pred),
        "f1": skm.f1_score(y, pred),
        "roc_auc": skm.roc_auc_score(y, s),
        "average_precision": skm.average_precision_score(y, s),
        "log_loss": skm.log_loss(y, s),
        "brier": skm.brier_score_loss(y, s),
    }
    tn, fp, fn, tp = skm.confusion_matrix(y, pred).ravel()
    exp["confusion"] = {"tp": int(tp), "fp": int(fp), "tn": int(tn), "fn": int(fn)}
    prob_true, prob_pred = calibration_curve(y, s, n_bins=10, strategy="uniform")
    df = frame(sex, race)
    df["y"], df["s"], df["p"] = y, s, pred
    groups = []
    for attr, value, g in each_group(df):
        tp = int(((g.y == 1) & (g.p == 1)).sum())
        fp = int(((g.y == 0) & (g.p == 1)).sum())
        tn = int(((g.y == 0) & (g.p == 0)).sum())
        fn = int(((g.y == 1) & (g.p == 0)).sum())
        m = len(g)
        auc = skm.roc_auc_score(g.y, g.s) if g.y.nunique() == 2 else None
        groups.append({
            "attribute": attr, "value": value, "n": m,
            "tp": tp, "fp": fp, "tn": tn, "fn": fn,
            "base_rate": ratio(tp + fn, m), "selection_rate": ratio(tp + fp, m),
            "tpr": ratio(tp, tp + fn), "fpr": ratio(fp, fp + tn), "fnr": ratio(fn, tp + fn),
            "tnr": ratio(tn, fp + tn), "ppv": ratio(tp, tp + fp), "npv": ratio(tn, tn + fn),
            "fdr": ratio(fp, tp + fp), "for": ratio(fn, tn + fn),
            "accuracy": ratio(tp + tn, m), "roc_auc": auc,
        })
    return {
        "task": "binary", "threshold": threshold, "y": y.tolist(), "score": s.tolist(),
        "attrs": attrs,
        "expected": {"overall": exp, "groups": groups,
                     "calibration_nonempty": {"fraction_positive": prob_true.tolist(),
                                              "mean_predicted": prob_pred.tolist()}},
    }


def multiclass_case(rng, n, k):
    sex, race, attrs = attrs_of(rng, n)
    y = rng.integers(0, k, n)
    p = rng.dirichlet(np.ones(k), n)
    p[np.arange(n), y] += rng.random(n)  # some signal
    p /= p.sum(axis=1, keepdims=True)
    p = np.round(p, 3)  # ties in argmax now and then; rows no longer sum to 1 exactly
    pred = p.argmax(axis=1)
    labels = list(range(k))
    pr, rc, f1, sup = skm.precision_recall_fscore_support(y, pred, labels=labels)
    exp = {
        "n": n,
        "accuracy": skm.accuracy_score(y, pred),
        "confusion": skm.confusion_matrix(y, pred, labels=labels).tolist(),
        "macro": {a: getattr(skm, a + "_score")(y, pred, average="macro")
                  for a in ("precision", "recall", "f1")},
        "micro": {a: getattr(skm, a + "_score")(y, pred, average="micro")
                  for a in ("precision", "recall", "f1")},
        "per_class": [{"class": str(c), "precision": pr[c], "recall": rc[c], "f1": f1[c],
                       "support": int(sup[c])} for c in labels],
    }
    # log_loss renormalizes each row after clipping, as metrics_log_loss does
    exp["log_loss"] = skm.log_loss(y, p, labels=labels)
    df = frame(sex, race)
    df["ok"] = (pred == y).astype(float)
    groups = []
    for attr, value, g in each_group(df):
        groups.append({"attribute": attr, "value": value, "n": len(g), "accuracy": g.ok.mean()})
    return {"task": "multiclass", "n_classes": k, "y": y.astype(float).tolist(),
            "score": p.ravel().tolist(), "attrs": attrs,
            "expected": {"overall": exp, "groups": groups}}


def regression_case(rng, n):
    sex, race, attrs = attrs_of(rng, n)
    y = rng.normal(3, 2, n) + sex
    p = y + rng.normal(0, 1, n)
    exp = {"n": n, "rmse": skm.mean_squared_error(y, p, squared=False),
           "mae": skm.mean_absolute_error(y, p), "r2": skm.r2_score(y, p)}
    df = frame(sex, race)
    df["y"], df["p"] = y, p
    groups = []
    for attr, value, g in each_group(df):
        e = g.y - g.p
        groups.append({
            "attribute": attr, "value": value, "n": len(g),
            "rmse": float(np.sqrt((e ** 2).mean())), "mae": float(e.abs().mean()),
            "r2": skm.r2_score(g.y, g.p) if len(g) > 1 else None,
            "mean_label": float(g.y.mean()), "mean_prediction": float(g.p.mean()),
        })
    return {"task": "regression", "y": y.tolist(), "score": p.tolist(), "attrs": attrs,
            "expected": {"overall": exp, "groups": groups}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--check")
    ap.add_argument("--seed", type=int, default=20240611)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    cases = []
    for n, ties, thr in [(60, True, 0.5), (500, True, 0.3), (2000, False, 0.5), (5000, True, 0.65),
                         (3000, False, 0.42)]:
        cases.append(binary_case(rng, n, ties, thr))
    for n, k in [(300, 3), (2000, 5)]:
        cases.append(multiclass_case(rng, n, k))
    for n in [100, 3000]:
        cases.append(regression_case(rng, n))
    with open(a.out, "w") as f:
        json.dump({"sklearn": __import__("sklearn").__version__, "cases": cases}, f,
                  default=lambda v: v.item() if hasattr(v, "item") else str(v))
    if a.check:
        sys.exit(subprocess.run([a.check, a.out]).returncode)


if __name__ == "__main__":
    main()
