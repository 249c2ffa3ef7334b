#!/usr/bin/env bash
# bench_evaluate_check.sh - bench/evaluate's pieces at small scale, as a test (ctest
# bench_evaluate_agreement): make_data.py writes 20k seeded rows, eval_bench runs
# eval_compute on them, peer_fairness.py computes the same evaluation with pandas and
# scikit-learn, and check.py must find every overall metric, group count and rate,
# disparity and summary value equal to 1e-9 (beyond what eval_sklearn_agreement covers:
# the disparity conventions and the summary against an independent implementation).
# It also keeps the benchmark's own code from rotting. No timing is checked.
#
# Usage: bench_evaluate_check.sh EVAL_BENCH PYTHON WORK_DIR
set -euo pipefail
BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../bench/evaluate" && pwd)"
EVAL_BENCH=$1 PY=$2 WORK=$3
rm -rf "$WORK"
mkdir -p "$WORK"
"$PY" "$BENCH/make_data.py" "$WORK/data" 20000 7
"$EVAL_BENCH" "$WORK/data" --replicates 50 --seed 3 --json "$WORK/strata.json"
"$PY" "$BENCH/peer_fairness.py" "$WORK/data/predictions.csv" "$WORK/peer.json" --replicates 50 --seed 3
"$PY" "$BENCH/check.py" "$WORK/peer.json" "$WORK/strata.json"
