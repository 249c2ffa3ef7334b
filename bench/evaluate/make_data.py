#!/usr/bin/env python3
"""bench/evaluate/make_data.py - the scored rows bench/evaluate measures, written once.

Usage: make_data.py OUT_DIR ROWS [SEED]

A binary classifier's predictions on ROWS people with two group attributes:

  sex   2 values, skewed:  M 58%, F 42%
  race  5 values, skewed:  White 60%, Hispanic 18%, Black 13%, Asian 6%, Other 3%
  label base rate differing by group: logit P(y=1) = -1.2 + a sex offset + a
        race offset (per-cell base rates from about 0.18 to 0.40)
  score a noisy logistic of the label: sigmoid(-1.1 + 2.2 y + group bias + N(0, 1.5^2)),
        the bias shifting some groups' scores (so selection rates, TPR and FPR
        differ by group as well as base rates); ROC AUC about 0.85.
        Scores are whole millionths in [0.000001, 0.999999] (many ties, as a
        6-decimal predictions file has), computed as k / 1e6 so that the binary
        value is exactly what a correctly rounding parser reads from "0.kkkkkk".

Writes into OUT_DIR:
  label.u8              ROWS bytes, 0/1
  score.f64             ROWS little-endian float64
  sex.u32, race.u32     ROWS little-endian uint32 codes into meta.json's values
  meta.json             {"rows", "seed", "attributes": [{"name", "values"}]}
  predictions.csv       header label,score,sex,race; one row per person, the same
                        values (score with 6 decimals, groups by name)

Prints one line `rows=N csv_bytes=B positives=P` on stdout.
"""
import json
import os
import sys

import numpy as np
import pandas as pd

SEX = (["F", "M"], [0.42, 0.58], [0.25, 0.0], [-0.20, 0.10])
RACE = (["Asian", "Black", "Hispanic", "Other", "White"], [0.06, 0.13, 0.18, 0.03, 0.60],
        [-0.35, 0.55, 0.30, 0.15, 0.0], [0.05, -0.30, -0.15, 0.0, 0.10])
CHUNK = 1_000_000  # rows per CSV write: bounds the generator's memory


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__.split("\n\n")[1])
    out, n = sys.argv[1], int(sys.argv[2])
    seed = int(sys.argv[3]) if len(sys.argv) == 4 else 1
    if n < 1:
        sys.exit("make_data.py: ROWS must be positive")
    rng = np.random.default_rng(seed)
    os.makedirs(out, exist_ok=True)

    # (values, shares, base-rate logit offsets, score logit bias) per attribute
    codes, base, bias = [], np.full(n, -1.2), np.zeros(n)
    for values, shares, base_off, score_bias in (SEX, RACE):
        c = rng.choice(len(values), size=n, p=shares).astype(np.uint32)
        codes.append(c)
        base += np.asarray(base_off)[c]
        bias += np.asarray(score_bias)[c]
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-base))).astype(np.uint8)
    logit = -1.1 + 2.2 * y + bias + rng.normal(0.0, 1.5, n)
    k = np.clip(np.rint(1e6 / (1.0 + np.exp(-logit))), 1, 999_999).astype(np.int64)
    score = k / 1e6

    y.tofile(os.path.join(out, "label.u8"))
    score.astype("<f8").tofile(os.path.join(out, "score.f64"))
    codes[0].astype("<u4").tofile(os.path.join(out, "sex.u32"))
    codes[1].astype("<u4").tofile(os.path.join(out, "race.u32"))
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump({"rows": n, "seed": seed,
                   "attributes": [{"name": "sex", "values": SEX[0]},
                                  {"name": "race", "values": RACE[0]}]}, f)

    csv = os.path.join(out, "predictions.csv")
    sex_names, race_names = np.asarray(SEX[0]), np.asarray(RACE[0])
    with open(csv, "w") as f:
        for lo in range(0, n, CHUNK):
            hi = min(n, lo + CHUNK)
            pd.DataFrame({"label": y[lo:hi], "score": score[lo:hi],
                          "sex": sex_names[codes[0][lo:hi]],
                          "race": race_names[codes[1][lo:hi]]}).to_csv(
                f, index=False, header=lo == 0, float_format="%.6f", lineterminator="\n")
    print(f"rows={n} csv_bytes={os.path.getsize(csv)} positives={int(y.sum())}")


if __name__ == "__main__":
    main()
