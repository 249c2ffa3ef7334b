#!/usr/bin/env python3
"""bench/evaluate/check.py - are Strata's evaluation and the peer's the same numbers?

Usage: check.py PEER_JSON STRATA_JSON [STRATA_JSON ...]

PEER_JSON is bench/evaluate/peer_fairness.py's output; each STRATA_JSON an
evaluation result (eval_bench --json, or the "evaluation" of
GET /v1/evaluations/{id}, which may wrap it as {"evaluation": {...}}).

Compared, to TOL (absolute, relative above 1; a NaN/null on one side must be
null on the other):
  - overall: n, positives, negatives, accuracy, precision, recall, f1, roc_auc,
    average_precision, log_loss, brier, confusion;
  - every group of sex, race and sex&race, found by (attribute, value): n, the
    confusion counts and every rate the peer computes;
  - every disparity convention by attribute for the rates both compute, and
    the summary by attribute;
  - every group present on one side only is a mismatch.
Prints the number of values compared and every mismatch; exits 1 on any.

The bootstrap intervals are two independent resamplings of the same
distribution (Strata's multinomial draw of cell counts, the peer's row
resample), so they cannot agree to TOL; the check prints how far apart the
endpoints are as a fraction of the interval's width (median and 90th
percentile over every group rate and disparity) and fails only if the median
exceeds 1, which would mean the two are not estimating the same thing.
"""
import json
import math
import sys

TOL = 1e-9
OVERALL = ["n", "positives", "negatives", "accuracy", "precision", "recall", "f1", "roc_auc",
           "average_precision", "log_loss", "brier"]


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= TOL * max(1.0, abs(b))


class Checker:
    def __init__(self, name):
        self.name, self.compared, self.bad = name, 0, []

    def eq(self, where, strata, peer):
        self.compared += 1
        if not close(strata, peer):
            self.bad.append(f"{where}: Strata {strata!r}, peer {peer!r}")


def check(peer, strata, name):
    c = Checker(name)
    so, po = strata["overall"], peer["overall"]
    for k in OVERALL:
        c.eq(f"overall.{k}", so.get(k), po.get(k))
    for k in ("tp", "fp", "tn", "fn"):
        c.eq(f"overall.confusion.{k}", so["confusion"].get(k), po["confusion"].get(k))

    sg = {(g["attribute"], g["value"]): g for g in strata["groups"]}
    pg = {(g["attribute"], g["value"]): g for g in peer["groups"]}
    for key in sorted(set(sg) | set(pg)):
        if key not in sg or key not in pg:
            c.bad.append(f"group {key[0]}={key[1]}: only in {'peer' if key in pg else 'Strata'}")
            continue
        for k, v in pg[key].items():
            if k not in ("attribute", "value"):
                c.eq(f"group {key[0]}={key[1]}.{k}", sg[key].get(k), v)

    for m, pd in peer["disparities"].items():
        for attr, conv in pd["by_attribute"].items():
            sd = strata["disparities"][m]["by_attribute"].get(attr, {})
            for k, v in conv.items():
                c.eq(f"disparities.{m}.{attr}.{k}", sd.get(k), v)
    for attr, ps in peer["summary"]["by_attribute"].items():
        ss = strata["summary"]["by_attribute"].get(attr, {})
        for k, v in ps.items():
            if isinstance(v, str) or v is None and isinstance(ss.get(k), str):
                c.compared += 1
                if ss.get(k) != v:
                    c.bad.append(f"summary.{attr}.{k}: Strata {ss.get(k)!r}, peer {v!r}")
            else:
                c.eq(f"summary.{attr}.{k}", ss.get(k), v)
    return c


def interval_gaps(peer, strata):
    """|endpoint difference| / interval width over every interval both have."""
    gaps = []

    def add(si, pi):
        if not si or not pi or None in (si.get("low"), si.get("high"), pi["low"], pi["high"]):
            return
        width = max(si["high"] - si["low"], pi["high"] - pi["low"])
        if width > 0:
            gaps.append(abs(si["low"] - pi["low"]) / width)
            gaps.append(abs(si["high"] - pi["high"]) / width)

    for g in strata["groups"]:
        pci = peer["ci"].get(f'{g["attribute"]}={g["value"]}', {})
        for m, pi in pci.items():
            add(g.get("ci", {}).get(m), pi)
    for key, convs in peer["ci"].items():
        if key.startswith("disparity:"):
            _, m, attr = key.split(":", 2)
            sci = strata["disparities"][m]["by_attribute"].get(attr, {}).get("ci", {})
            for conv, pi in convs.items():
                add(sci.get(conv), pi)
    gaps.sort()
    return gaps


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__.split("\n\n")[1])
    with open(sys.argv[1]) as f:
        peer = json.load(f)
    failed = False
    for path in sys.argv[2:]:
        with open(path) as f:
            strata = json.load(f)
        strata = strata.get("evaluation", strata)
        c = check(peer, strata, path)
        for b in c.bad:
            print(f"MISMATCH {path}: {b}")
        print(f"{path}: {c.compared} values compared with the peer to {TOL:g}, "
              f"{len(c.bad)} mismatches")
        failed |= bool(c.bad)
        gaps = interval_gaps(peer, strata)
        if gaps:
            med = gaps[len(gaps) // 2]
            p90 = gaps[min(len(gaps) - 1, math.ceil(0.9 * len(gaps)) - 1)]
            print(f"{path}: bootstrap intervals, {len(gaps)} endpoints: |Strata - peer| / width "
                  f"median {med:.2f}, 90th percentile {p90:.2f}, max {gaps[-1]:.2f}")
            if med > 1:
                print(f"MISMATCH {path}: bootstrap intervals disagree (median gap {med:.2f} widths)")
                failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
