#!/usr/bin/python3
"""Reference values for the trainer's unit tests, from scikit-learn.

Writes CSV data and JSON references to tests/fixtures/trainer/ (or the
directory given as the first argument). The unit tests read only those files:
scikit-learn is needed to regenerate them, never to run `make test`.

    apt-get install python3-sklearn python3-pandas    # Debian 12: 1.2.1
    /usr/bin/python3 bench/train/make_fixtures.py

Every data set is split the same way as the tests do it: row i is an eval row
when i % 5 == 4, a training row otherwise. Preprocessing is Strata's
(trainer/prep.h), replicated here in numpy so both sides fit the very same
design matrix:
  numeric    (x - mean) / std over the training rows' observed values (ddof 0);
             a constant column (scikit-learn's _is_constant_feature rule) is
             scaled by 1; NULL -> mean (0 after standardizing) plus a 0/1
             `name__missing` column when the training rows had a NULL
  arrays     each element like a numeric column; one `name__missing` column
  categorical one-hot over the max_categories most frequent training values
             (ties by byte order), then `name=__other__`, then
             `name=__missing__` when the training rows had a NULL; a NULL at
             prediction without that column goes to __other__

Objective mapping (model.h): sum_i loss_i + l1 |w|_1 + l2/2 |w|^2
  LogisticRegression(C, penalty="l2")               l2 = 1/C
  LogisticRegression(C, penalty="l1", saga)         l1 = 1/C
  LogisticRegression(C, "elasticnet", l1_ratio=r)   l1 = r/C, l2 = (1-r)/C
  Ridge(alpha)                                      l2 = alpha
  ElasticNet(alpha, l1_ratio=r), n training rows    l1 = n alpha r, l2 = n alpha (1-r)

Each reference also records how well scikit-learn itself converged: the
largest KKT violation of its solution on our objective scale, and for L2
logistic the largest relative difference between lbfgs and newton-cg.
"""
import json
import os
import sys
import time
import warnings

import numpy as np
from sklearn import __version__ as sklearn_version
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.linear_model import ElasticNet, LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, log_loss, mean_squared_error, r2_score, roc_auc_score

warnings.simplefilter("ignore")
EPS = np.finfo(np.float64).eps
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "trainer")


def split(n):
    ev = np.arange(n) % 5 == 4
    return ~ev, ev


def fmt(v):
    return repr(float(v))


# ---- Strata's preprocessing, in numpy ----

def fit_numeric(col):
    """col: float array with NaN for NULL. -> mean, scale, had_missing"""
    obs = col[~np.isnan(col)]
    missing = bool(np.isnan(col).any())
    if obs.size == 0:
        return 0.0, 1.0, missing
    n = obs.size
    mean = obs.sum() / n
    d = obs - mean
    var = ((d * d).sum() - d.sum() ** 2 / n) / n
    var = max(var, 0.0)
    constant = var <= n * EPS * var + (n * mean * EPS) ** 2
    return float(mean), (1.0 if constant else float(np.sqrt(var))), missing


def apply_numeric(col, mean, scale):
    v = np.where(np.isnan(col), mean, col)
    return (v - mean) / scale


def fit_categorical(vals, max_categories):
    """vals: list of str or None."""
    counts = {}
    for v in vals:
        if v is not None:
            counts[v] = counts.get(v, 0) + 1
    order = sorted(counts, key=lambda v: (-counts[v], v.encode()))
    return order[:max_categories], any(v is None for v in vals)


def apply_categorical(vals, cats, indicator):
    idx = {c: i for i, c in enumerate(cats)}
    width = len(cats) + 1 + (1 if indicator else 0)
    out = np.zeros((len(vals), width))
    for r, v in enumerate(vals):
        if v is None:
            out[r, len(cats) + 1 if indicator else len(cats)] = 1
        else:
            out[r, idx.get(v, len(cats))] = 1
    return out


# ---- scikit-learn fits and checks ----

def logistic_kkt(X, y, w, b, C, l1_ratio, sw=None):
    """Largest violation of the optimality conditions of
    C * sum sw_i loss_i + l1_ratio |w|_1 + (1 - l1_ratio)/2 |w|^2."""
    sw = np.ones(len(y)) if sw is None else sw
    z = X @ w + b
    r = sw * (1 / (1 + np.exp(-z)) - y)
    g = C * (X.T @ r) + (1 - l1_ratio) * w
    gb = C * r.sum()
    viol = abs(gb)
    for j in range(len(w)):
        if w[j] != 0:
            viol = max(viol, abs(g[j] + l1_ratio * np.sign(w[j])))
        else:
            viol = max(viol, max(0.0, abs(g[j]) - l1_ratio))
    return float(viol)


def logistic_case(name, Xtr, ytr, Xev, yev, C, penalty="l2", l1_ratio=None, class_weight=None):
    """The reference is the most accurate scikit-learn solver for the penalty:
    newton-cg (tol 1e-14) for L2, saga (tol 1e-15) for L1 and elastic net.
    For L2, lbfgs (tol 1e-12) is recorded beside it: scipy stops it on its
    default relative-reduction test (factr 1e7), well before 1e-4 accuracy."""
    t0 = time.time()
    sw = None
    if class_weight == "balanced":
        cnt = np.bincount(ytr.astype(int))
        sw = (len(ytr) / (2 * cnt))[ytr.astype(int)]
    lbfgs = None
    if penalty == "l2":
        m = LogisticRegression(C=C, solver="newton-cg", tol=1e-14, max_iter=100000,
                               class_weight=class_weight).fit(Xtr, ytr)
        lb = LogisticRegression(C=C, solver="lbfgs", tol=1e-12, max_iter=100000,
                                class_weight=class_weight).fit(Xtr, ytr)
        a = np.append(lb.coef_.ravel(), lb.intercept_)
        b = np.append(m.coef_.ravel(), m.intercept_)
        lbfgs = {"n_iter": int(lb.n_iter_[0]),
                 "kkt_violation": logistic_kkt(Xtr, ytr, lb.coef_.ravel(), lb.intercept_[0], C,
                                               0.0, sw),
                 "max_rel_diff_to_reference": float(np.max(
                     np.abs(a - b) / np.maximum(np.abs(b), 1e-2 * np.max(np.abs(b))))),
                 "coef": [float(v) for v in lb.coef_.ravel()],
                 "intercept": float(lb.intercept_[0]),
                 "roc_auc_eval": float(roc_auc_score(yev, lb.predict_proba(Xev)[:, 1]))}
        solver, tol, l1, l2, r = "newton-cg", 1e-14, 0.0, 1.0 / C, 0.0
    else:
        r = 1.0 if penalty == "l1" else l1_ratio
        m = LogisticRegression(C=C, solver="saga", penalty=penalty, l1_ratio=l1_ratio,
                               tol=1e-15, max_iter=2000000,
                               class_weight=class_weight).fit(Xtr, ytr)
        solver, tol, l1, l2 = "saga", 1e-15, r / C, (1 - r) / C
    kkt = logistic_kkt(Xtr, ytr, m.coef_.ravel(), m.intercept_[0], C, r, sw)
    pev = m.predict_proba(Xev)[:, 1]
    ptr = m.predict_proba(Xtr)[:, 1]
    out = {
        "name": name, "l1": l1, "l2": l2,
        "class_weights": class_weight or "none",
        "sklearn": {"estimator": "LogisticRegression", "solver": solver, "tol": tol, "C": C,
                    "penalty": penalty, "l1_ratio": l1_ratio, "n_iter": int(m.n_iter_[0]),
                    "seconds": round(time.time() - t0, 3)},
        "kkt_violation": kkt,
        "coef": [float(v) for v in m.coef_.ravel()],
        "intercept": float(m.intercept_[0]),
        "zeros": int(np.sum(m.coef_ == 0)),
        "roc_auc_eval": float(roc_auc_score(yev, pev)),
        "roc_auc_train": float(roc_auc_score(ytr, ptr)),
        "log_loss_eval": float(log_loss(yev, pev)),
        "accuracy_eval": float(accuracy_score(yev, (pev >= 0.5).astype(int))),
        "sklearn_lbfgs": lbfgs,
    }
    print(f"  {name}: {solver} n_iter {out['sklearn']['n_iter']}, kkt {kkt:.2e}, "
          f"auc_eval {out['roc_auc_eval']:.6f}" +
          (f"; lbfgs kkt {lbfgs['kkt_violation']:.2e} rel diff "
           f"{lbfgs['max_rel_diff_to_reference']:.2e}" if lbfgs else ""))
    return out


def standardize_all(X, tr):
    stats = [fit_numeric(X[tr, j]) for j in range(X.shape[1])]
    Z = np.column_stack([apply_numeric(X[:, j], s[0], s[1]) for j, s in enumerate(stats)])
    return Z, stats


def write_numeric_csv(path, names, X, y):
    with open(path, "w") as f:
        f.write(",".join(names + ["label"]) + "\n")
        for i in range(X.shape[0]):
            f.write(",".join([fmt(v) for v in X[i]] + [fmt(y[i])]) + "\n")


def dump(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def breast_cancer():
    d = load_breast_cancer()
    X, y = d.data, d.target.astype(float)
    names = [f"f{j}" for j in range(X.shape[1])]
    write_numeric_csv(os.path.join(OUT, "breast_cancer.csv"), names, X, y)
    tr, ev = split(len(y))
    Z, stats = standardize_all(X, tr)
    print("breast_cancer", X.shape)
    cases = [
        logistic_case("l2_c1", Z[tr], y[tr], Z[ev], y[ev], C=1.0),
        logistic_case("l2_c0.05_balanced", Z[tr], y[tr], Z[ev], y[ev], C=0.05,
                      class_weight="balanced"),
        logistic_case("l1_c0.5", Z[tr], y[tr], Z[ev], y[ev], C=0.5, penalty="l1"),
        logistic_case("elasticnet_c1_r0.5", Z[tr], y[tr], Z[ev], y[ev], C=1.0,
                      penalty="elasticnet", l1_ratio=0.5),
    ]
    dump(os.path.join(OUT, "breast_cancer.json"), {
        "source": "sklearn.datasets.load_breast_cancer (569 x 30), label = target",
        "split": "eval rows: i % 5 == 4",
        "preprocessing": {"numeric": "standardize"},
        "means": [s[0] for s in stats], "scales": [s[1] for s in stats],
        "cases": cases})


def wine():
    d = load_wine()
    X, y = d.data, d.target.astype(float)
    names = [f"f{j}" for j in range(X.shape[1])]
    write_numeric_csv(os.path.join(OUT, "wine.csv"), names, X, y)
    tr, ev = split(len(y))
    Z, _ = standardize_all(X, tr)
    print("wine", X.shape)
    C = 1.0
    m = LogisticRegression(C=C, solver="newton-cg", multi_class="multinomial", tol=1e-14,
                           max_iter=100000).fit(Z[tr], y[tr])
    lb = LogisticRegression(C=C, solver="lbfgs", multi_class="multinomial", tol=1e-12,
                            max_iter=100000).fit(Z[tr], y[tr])
    a = np.append(lb.coef_.ravel(), lb.intercept_ - lb.intercept_.mean())
    b = np.append(m.coef_.ravel(), m.intercept_ - m.intercept_.mean())
    agree = float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-2 * np.max(np.abs(b)))))
    P = m.predict_proba(Z[ev])
    case = {
        "name": "multinomial_l2_c1", "l1": 0.0, "l2": 1.0 / C,
        "sklearn": {"estimator": "LogisticRegression", "solver": "newton-cg", "tol": 1e-14,
                    "multi_class": "multinomial", "C": C, "n_iter": int(m.n_iter_[0])},
        "sklearn_lbfgs": {"n_iter": int(lb.n_iter_[0]), "max_rel_diff_to_reference": agree,
                          "coef": [[float(v) for v in row] for row in lb.coef_],
                          "intercept": [float(v) for v in lb.intercept_]},
        "coef": [[float(v) for v in row] for row in m.coef_],
        "intercept": [float(v) for v in m.intercept_],
        "log_loss_eval": float(log_loss(y[ev], P)),
        "accuracy_eval": float(accuracy_score(y[ev], P.argmax(axis=1))),
    }
    print(f"  multinomial: newton-cg n_iter {case['sklearn']['n_iter']}, "
          f"lbfgs rel diff {agree:.2e}")
    dump(os.path.join(OUT, "wine.json"), {
        "source": "sklearn.datasets.load_wine (178 x 13, 3 classes)",
        "split": "eval rows: i % 5 == 4", "preprocessing": {"numeric": "standardize"},
        "cases": [case]})


def diabetes():
    d = load_diabetes(scaled=False)
    X, y = d.data, d.target.astype(float)
    names = [f"f{j}" for j in range(X.shape[1])]
    write_numeric_csv(os.path.join(OUT, "diabetes.csv"), names, X, y)
    tr, ev = split(len(y))
    Z, _ = standardize_all(X, tr)
    n = int(tr.sum())
    print("diabetes", X.shape)
    cases = []

    def add(name, est, l1, l2, extra):
        est.fit(Z[tr], y[tr])
        pred = est.predict(Z[ev])
        c = {"name": name, "l1": l1, "l2": l2, "sklearn": extra,
             "coef": [float(v) for v in est.coef_], "intercept": float(est.intercept_),
             "zeros": int(np.sum(est.coef_ == 0)),
             "rmse_eval": float(np.sqrt(mean_squared_error(y[ev], pred))),
             "r2_eval": float(r2_score(y[ev], pred))}
        cases.append(c)
        print(f"  {name}: rmse_eval {c['rmse_eval']:.4f}, zeros {c['zeros']}")

    add("ridge_alpha1", Ridge(alpha=1.0), 0.0, 1.0, {"estimator": "Ridge", "alpha": 1.0})
    add("ols", LinearRegression(), 0.0, 0.0, {"estimator": "LinearRegression"})
    a, r = 0.5, 0.7
    add("elasticnet_a0.5_r0.7", ElasticNet(alpha=a, l1_ratio=r, tol=1e-14, max_iter=1000000),
        n * a * r, n * a * (1 - r), {"estimator": "ElasticNet", "alpha": a, "l1_ratio": r})
    add("lasso_a2", ElasticNet(alpha=2.0, l1_ratio=1.0, tol=1e-14, max_iter=1000000),
        n * 2.0, 0.0, {"estimator": "Lasso", "alpha": 2.0})
    dump(os.path.join(OUT, "diabetes.json"), {
        "source": "sklearn.datasets.load_diabetes(scaled=False) (442 x 10)",
        "split": "eval rows: i % 5 == 4", "preprocessing": {"numeric": "standardize"},
        "training_rows": n, "cases": cases})


def mixed():
    """Categorical columns, NULLs, an array column and a constant column."""
    rng = np.random.default_rng(20240601)
    n = 3000
    tr, ev = split(n)
    age = rng.normal(40, 12, n)
    age[rng.random(n) < 0.08] = np.nan
    income = rng.lognormal(10, 0.5, n)
    income[ev & (rng.random(n) < 0.05)] = np.nan  # NULLs only at prediction
    const = np.full(n, 7.0)
    cities = [f"c{k:02d}" for k in range(15)]
    pc = 1.0 / np.arange(1, 16) ** 1.1
    city = list(rng.choice(cities, n, p=pc / pc.sum()))
    for i in range(n):
        if rng.random() < 0.05:
            city[i] = None
        elif ev[i] and rng.random() < 0.03:
            city[i] = "unseen_city"  # out of vocabulary at prediction
    plan = list(rng.choice(["basic", "plus", "pro"], n, p=[0.6, 0.3, 0.1]))
    emb = rng.normal(0, 1, (n, 3))
    emb_missing = rng.random(n) < 0.04
    emb[emb_missing] = np.nan
    ceff = {c: rng.normal(0, 0.8) for c in cities}
    z = (0.04 * np.nan_to_num(age - 40) + 0.9 * (np.log(np.nan_to_num(income, nan=22026.0)) - 10)
         + np.array([ceff.get(c, 0.0) if c else 0.5 for c in city])
         + np.array([{"basic": -0.4, "plus": 0.2, "pro": 0.9}[p] for p in plan])
         + np.nan_to_num(emb) @ np.array([0.5, -0.3, 0.2]) + 0.6 * np.isnan(age))
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(float)

    with open(os.path.join(OUT, "mixed.csv"), "w") as f:
        f.write("age,income,const,city,plan,emb,label\n")
        for i in range(n):
            e = "" if emb_missing[i] else ";".join(fmt(v) for v in emb[i])
            f.write(",".join(["" if np.isnan(age[i]) else fmt(age[i]),
                              "" if np.isnan(income[i]) else fmt(income[i]),
                              fmt(const[i]), city[i] or "", plan[i], e, fmt(y[i])]) + "\n")

    max_categories = 6
    blocks_tr, blocks_ev, outputs, prep = [], [], [], []
    for name, col in (("age", age), ("income", income), ("const", const)):
        mean, scale, miss = fit_numeric(col[tr])
        prep.append({"name": name, "kind": "numeric", "mean": mean, "scale": scale,
                     "indicator": miss})
        outputs.append(name)
        for rows, blocks in ((tr, blocks_tr), (ev, blocks_ev)):
            b = [apply_numeric(col[rows], mean, scale)]
            if miss:
                b.append(np.isnan(col[rows]).astype(float))
            blocks.append(np.column_stack(b))
        if miss:
            outputs.append(name + "__missing")
    for name, vals in (("city", city), ("plan", plan)):
        cats, miss = fit_categorical([vals[i] for i in np.flatnonzero(tr)], max_categories)
        prep.append({"name": name, "kind": "categorical", "categories": cats, "indicator": miss})
        outputs += [f"{name}={c}" for c in cats] + [f"{name}=__other__"]
        if miss:
            outputs.append(f"{name}=__missing__")
        blocks_tr.append(apply_categorical([vals[i] for i in np.flatnonzero(tr)], cats, miss))
        blocks_ev.append(apply_categorical([vals[i] for i in np.flatnonzero(ev)], cats, miss))
    stats = [fit_numeric(emb[tr, e]) for e in range(3)]
    miss = bool(emb_missing[tr].any())
    prep.append({"name": "emb", "kind": "numeric_array", "width": 3,
                 "mean": [s[0] for s in stats], "scale": [s[1] for s in stats],
                 "indicator": miss})
    outputs += [f"emb[{e}]" for e in range(3)] + (["emb__missing"] if miss else [])
    for rows, blocks in ((tr, blocks_tr), (ev, blocks_ev)):
        b = [apply_numeric(emb[rows, e], stats[e][0], stats[e][1]) for e in range(3)]
        if miss:
            b.append(emb_missing[rows].astype(float))
        blocks.append(np.column_stack(b))
    Xtr, Xev = np.hstack(blocks_tr), np.hstack(blocks_ev)
    assert Xtr.shape[1] == len(outputs)
    print("mixed", Xtr.shape, Xev.shape)
    cases = [
        logistic_case("l2_c1", Xtr, y[tr], Xev, y[ev], C=1.0),
        logistic_case("l1_c0.2", Xtr, y[tr], Xev, y[ev], C=0.2, penalty="l1"),
    ]
    dump(os.path.join(OUT, "mixed.json"), {
        "source": "synthetic, numpy default_rng(20240601), see make_fixtures.py mixed()",
        "split": "eval rows: i % 5 == 4",
        "preprocessing": {"numeric": "standardize", "categorical": "one_hot",
                          "max_categories": max_categories, "missing": "mean_and_indicator"},
        "columns": prep, "outputs": outputs,
        "design_train_head": [[float(v) for v in row] for row in Xtr[:40]],
        "design_eval_head": [[float(v) for v in row] for row in Xev[:40]],
        # checksums of the full matrices: column sums, and column sums weighted
        # by (row index + 1) so a permutation of rows shows too
        "design_train_colsum": [float(v) for v in Xtr.sum(axis=0)],
        "design_train_rowweighted": [float(v) for v in (np.arange(1, len(Xtr) + 1) @ Xtr)],
        "design_eval_colsum": [float(v) for v in Xev.sum(axis=0)],
        "design_eval_rowweighted": [float(v) for v in (np.arange(1, len(Xev) + 1) @ Xev)],
        "cases": cases})


def main():
    os.makedirs(OUT, exist_ok=True)
    print(f"scikit-learn {sklearn_version}, numpy {np.__version__} -> {os.path.abspath(OUT)}")
    breast_cancer()
    wine()
    diabetes()
    mixed()


if __name__ == "__main__":
    main()
