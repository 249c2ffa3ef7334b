#!/usr/bin/python3
"""scikit-learn's side of bench/train (see run.sh), and the common judge.

  sklearn_bench.py fit DIR C TOL MAX_ITER OUT   time LogisticRegression(lbfgs).fit
  sklearn_bench.py judge DIR L2 NAME=COEF...    objective and eval AUC of each
                                                 solution, measured the same way

fit times .fit() alone (the arrays are loaded first). judge evaluates every
contestant's coefficients (w then b, float64) on one objective, Strata's:
  F(w, b) = (1/n) [sum_i log(1 + exp(-y_i' (x_i.w + b))) + l2/2 |w|^2]
and scikit-learn's roc_auc_score on the eval rows, so "same AUC" and
"comparable tolerance" are judged by one piece of code.
"""
import json
import sys
import time
import warnings

import numpy as np


def load(d):
    rows, erows, p = (int(v) for v in open(f"{d}/meta.txt").read().split())
    x = np.fromfile(f"{d}/train_x.f64").reshape(rows, p)
    y = np.fromfile(f"{d}/train_y.f64")
    ex = np.fromfile(f"{d}/eval_x.f64").reshape(erows, p)
    ey = np.fromfile(f"{d}/eval_y.f64")
    return x, y, ex, ey


def fit(d, C, tol, max_iter, out):
    from sklearn.linear_model import LogisticRegression
    x, y, _, _ = load(d)
    m = LogisticRegression(C=C, solver="lbfgs", tol=tol, max_iter=max_iter)
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    m.fit(x, y)
    secs = time.perf_counter() - t0
    np.append(m.coef_.ravel(), m.intercept_).astype(np.float64).tofile(out)
    print(f"seconds={secs:.4f} iterations={int(m.n_iter_[0])}")


def judge(d, l2, pairs):
    from sklearn.metrics import roc_auc_score
    x, y, ex, ey = load(d)
    res = {}
    for pair in pairs:
        name, path = pair.split("=", 1)
        c = np.fromfile(path)
        w, b = c[:-1], c[-1]
        z = x @ w + b
        m = np.where(y > 0.5, -z, z)
        loss = np.sum(np.logaddexp(0, m))
        obj = (loss + 0.5 * l2 * w @ w) / len(y)
        auc = roc_auc_score(ey, ex @ w + b)
        res[name] = {"objective": obj, "eval_auc": auc}
    print(json.dumps(res))


if __name__ == "__main__":
    if sys.argv[1] == "fit":
        fit(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
    elif sys.argv[1] == "judge":
        judge(sys.argv[2], float(sys.argv[3]), sys.argv[4:])
    else:
        sys.exit("usage: sklearn_bench.py fit|judge ...")
