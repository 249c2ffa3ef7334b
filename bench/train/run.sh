#!/usr/bin/env bash
# bench/train/run.sh - the training benchmark: L2-regularized logistic regression on dense data,
# Strata's trainer against scikit-learn (lbfgs) and LIBLINEAR (-s 0) on the same data, same run.
#
# Usage: bench/train/run.sh BUILD_DIR [--quick] [--rows N] [--features P] [--reps K] [--no-cli]
#                           [--out FILE] [--keep]
#
#   BUILD_DIR   CMake build directory of a release build (trainer/ and base/ libraries)
#   --quick     100k rows, one repetition: a smoke test, not a measurement
#   --rows N    training rows (default 1000000; eval rows are N/5)
#   --features P  dense features (default 50)
#   --reps K    repetitions of each timed fit; the median is reported (default 3)
#   --no-cli    skip the liblinear-train command-line run (it parses ~1 GB of text)
#   --out FILE  markdown results (default BUILD_DIR/bench-train.md)
#   --keep      keep the temporary directory (data, coefficients, logs)
#
# What it does, in one temporary directory:
#  1. builds train_bench.c against BUILD_DIR's strata_trainer and liblinear_bench.c against
#     Debian's liblinear; generates the data once (train_bench gen: N x P float64, correlated
#     columns of unequal scale, logistic labels, ~30% positives) and every contestant reads those
#     same files;
#  2. times the fit alone, K times each, l2 = 1 (C = 1):
#     - Strata: trainer_fit, L-BFGS, its defaults (gradient 1e-6 per row, relative objective
#       change 1e-9), early stopping off, threads = cores;
#     - scikit-learn: LogisticRegression(solver="lbfgs", C=1, tol=1e-4 (default), max_iter=1000);
#     - LIBLINEAR: train() with -s 0 -B 1 at eps 0.01 (its default) and 0.0001;
#     and once, liblinear-train -s 0 on the same rows as text, wall clock including parsing;
#  3. fits a reference with Strata at gradient 1e-10 (rounding-limited), then judges every
#     solution with one piece of code (sklearn_bench.py judge): the objective
#     (1/n)[sum log-loss + 1/2 |w|^2] and scikit-learn's roc_auc_score on the eval rows;
#     "comparable tolerance" is read off the objective gap to the reference;
#  4. prints a table and writes it as markdown to --out.
#
# OpenBLAS 0.3.21 does not recognize some virtual CPUs ("Intel Xeon Processor" with AVX-512)
# and falls back to its Prescott (SSE3) kernels. When that happens on a CPU with AVX2, the run
# sets OPENBLAS_CORETYPE=Haswell for every contestant (numpy and LIBLINEAR use the same
# OpenBLAS) and says so.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="$(cd "$HERE/../.." && pwd)"

usage() {
  sed -n '3,15p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

BUILD=""
QUICK=0
ROWS=""
FEATURES=50
REPS=""
CLI=1
OUT=""
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --rows) ROWS="${2:?}"; shift ;;
    --features) FEATURES="${2:?}"; shift ;;
    --reps) REPS="${2:?}"; shift ;;
    --no-cli) CLI=0 ;;
    --out) OUT="${2:?}"; shift ;;
    --keep) KEEP=1 ;;
    -h|--help) usage ;;
    -*) usage ;;
    *) [ -z "$BUILD" ] || usage; BUILD="$1" ;;
  esac
  shift
done
[ -n "$BUILD" ] || usage
BUILD="$(cd "$BUILD" && pwd)"
if [ "$QUICK" = 1 ]; then
  ROWS="${ROWS:-100000}"
  REPS="${REPS:-1}"
else
  ROWS="${ROWS:-1000000}"
  REPS="${REPS:-3}"
fi
EVAL_ROWS=$(( ROWS / 5 ))
OUT="${OUT:-$BUILD/bench-train.md}"
PY=/usr/bin/python3

log() { echo "bench/train: $*" >&2; }

for t in cc awk liblinear-train; do
  command -v "$t" >/dev/null || { log "missing $t (scripts/deps.sh bench installs the peers)"; exit 1; }
done
"$PY" -c 'import sklearn, numpy' 2>/dev/null || { log "missing python3-sklearn"; exit 1; }
[ -f /usr/include/linear.h ] || { log "missing liblinear-dev (linear.h)"; exit 1; }
for lib in "$BUILD/trainer/libstrata_trainer.a" "$BUILD/base/libstrata_base.a"; do
  [ -f "$lib" ] || { log "missing $lib: build BUILD_DIR first"; exit 1; }
done

WORK="$(mktemp -d /tmp/strata-bench-train.XXXXXX)"
cleanup() {
  if [ "$KEEP" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

NPROC="$(nproc)"
CPU_MODEL="$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
MEM_GIB="$(awk '/MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
log "machine: $NPROC x $CPU_MODEL, $MEM_GIB GiB, load average $LOAD_BEFORE"
if awk -v l="${LOAD_BEFORE%% *}" 'BEGIN {exit !(l > 0.5)}'; then
  log "WARNING: the machine is not idle (load average $LOAD_BEFORE); numbers will be noisy"
fi

# ---- 1. build and generate ---------------------------------------------------------------------
# shellcheck disable=SC2046 # pkg-config prints several flags
cc -O2 -std=c11 -Wall -Wextra -D_GNU_SOURCE -I"$SRC" -o "$WORK/train_bench" "$HERE/train_bench.c" \
  "$BUILD/trainer/libstrata_trainer.a" "$BUILD/base/libstrata_base.a" \
  $(pkg-config --cflags --libs openblas jansson libcrypto) -lmvec -lpthread -lm
cc -O2 -Wall -Wextra -o "$WORK/liblinear_bench" "$HERE/liblinear_bench.c" -llinear

CORE="$("$WORK/train_bench" blas)"
CORE_NOTE="OpenBLAS core as detected ($CORE)"
if echo "$CORE" | grep -q 'core=Prescott' && grep -qw avx2 /proc/cpuinfo; then
  export OPENBLAS_CORETYPE=Haswell
  CORE_NOTE="OpenBLAS detected Prescott on an AVX2 CPU: OPENBLAS_CORETYPE=Haswell for all"
fi
log "$CORE_NOTE"

log "generating $ROWS x $FEATURES training rows and $EVAL_ROWS eval rows"
"$WORK/train_bench" gen "$WORK/data" --rows "$ROWS" --eval-rows "$EVAL_ROWS" \
  --features "$FEATURES" --seed 1

kv() { echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k {print $2}'; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

# ---- 2. timed fits -----------------------------------------------------------------------------
S_T=""; K_T=""; L_T=""; L4_T=""
for rep in $(seq 1 "$REPS"); do
  log "repetition $rep/$REPS"
  R="$("$WORK/train_bench" strata "$WORK/data" --l2 1 --out "$WORK/strata.coef")"
  S_T="$S_T $(kv "$R" seconds)"; S_IT="$(kv "$R" iterations)"; S_EV="$(kv "$R" evaluations)"
  R="$("$PY" "$HERE/sklearn_bench.py" fit "$WORK/data" 1 1e-4 1000 "$WORK/sklearn.coef")"
  K_T="$K_T $(kv "$R" seconds)"; K_IT="$(kv "$R" iterations)"
  R="$("$WORK/liblinear_bench" "$WORK/data" 1 0.01 "$WORK/liblinear.coef")"
  L_T="$L_T $(kv "$R" seconds)"
  R="$("$WORK/liblinear_bench" "$WORK/data" 1 0.0001 "$WORK/liblinear4.coef")"
  L4_T="$L4_T $(kv "$R" seconds)"
done
S_MED="$(echo "$S_T" | median)"; K_MED="$(echo "$K_T" | median)"
L_MED="$(echo "$L_T" | median)"; L4_MED="$(echo "$L4_T" | median)"

CLI_T="-"
if [ "$CLI" = 1 ]; then
  log "writing the rows as LIBLINEAR text for liblinear-train"
  "$WORK/train_bench" libsvm "$WORK/data"
  T0="$(date +%s.%N)"
  liblinear-train -s 0 -c 1 -B 1 -q "$WORK/data/train.svm" "$WORK/cli.model" >/dev/null
  T1="$(date +%s.%N)"
  CLI_T="$(awk -v a="$T0" -v b="$T1" 'BEGIN {printf "%.3f", b - a}')"
  rm -f "$WORK/data/train.svm"
fi

# ---- 3. reference and judge --------------------------------------------------------------------
log "reference fit (gradient 1e-10)"
R="$("$WORK/train_bench" strata "$WORK/data" --l2 1 --tol 1e-10 --rel-tol 0 --max-iter 10000 \
  --out "$WORK/ref.coef")"
REF_IT="$(kv "$R" iterations)"
JUDGE="$("$PY" "$HERE/sklearn_bench.py" judge "$WORK/data" 1 ref="$WORK/ref.coef" \
  strata="$WORK/strata.coef" sklearn="$WORK/sklearn.coef" liblinear="$WORK/liblinear.coef" \
  liblinear4="$WORK/liblinear4.coef")"
jget() { echo "$JUDGE" | "$PY" -c "import json,sys; d=json.load(sys.stdin); print(d['$1']['$2'])"; }
gap() { awk -v f="$(jget "$1" objective)" -v r="$(jget ref objective)" 'BEGIN {printf "%.1e", (f - r) / r}'; }
auc() { awk -v a="$(jget "$1" eval_auc)" 'BEGIN {printf "%.6f", a}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---- 4. report ---------------------------------------------------------------------------------
{
  echo "Training $ROWS x $FEATURES dense rows (eval $EVAL_ROWS), L2 logistic regression, l2 = 1 (C = 1)."
  echo "Machine: $NPROC x $CPU_MODEL, $MEM_GIB GiB; load average $LOAD_BEFORE before, $LOAD_AFTER after."
  echo "$CORE_NOTE. Fit time only (data already in memory), median of $REPS."
  echo
  echo "| contestant | settings | fit seconds | iterations | objective gap | eval ROC AUC | time / Strata |"
  echo "|---|---|---|---|---|---|---|"
  echo "| Strata trainer_fit | L-BFGS, tolerance 1e-6, rel. objective 1e-9, $NPROC threads | $S_MED | $S_IT ($S_EV evals) | $(gap strata) | $(auc strata) | 1.00 |"
  echo "| scikit-learn $("$PY" -c 'import sklearn; print(sklearn.__version__)') | lbfgs, tol 1e-4, max_iter 1000 | $K_MED | $K_IT | $(gap sklearn) | $(auc sklearn) | $(ratio "$K_MED" "$S_MED") |"
  echo "| LIBLINEAR $(dpkg-query -W -f='${Version}' liblinear4 2>/dev/null) train() | -s 0 -B 1, eps 0.01 (default) | $L_MED | | $(gap liblinear) | $(auc liblinear) | $(ratio "$L_MED" "$S_MED") |"
  echo "| LIBLINEAR train() | -s 0 -B 1, eps 0.0001 | $L4_MED | | $(gap liblinear4) | $(auc liblinear4) | $(ratio "$L4_MED" "$S_MED") |"
  echo "| liblinear-train (CLI) | -s 0 -B 1, eps 0.01, wall clock incl. parsing text | $CLI_T | | | | |"
  echo
  echo "Objective gap: (F - F*) / F* with F = (1/n)[sum log-loss + 1/2 |w|^2] and F* from a Strata"
  echo "fit to gradient 1e-10 ($REF_IT iterations). LIBLINEAR also penalizes its bias (-B 1)."
} | tee "$OUT"
log "wrote $OUT"
