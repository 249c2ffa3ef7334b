#!/usr/bin/env bash
# bench/evaluate/run.sh - the evaluator (model quality + fairness with bootstrap intervals)
# against the same computation in pandas + scikit-learn, same data, same run.
#
# Usage: bench/evaluate/run.sh BUILD_DIR [--quick] [--rows N] [--replicates R]
#                              [--peer-replicates K] [--runs N] [--no-http] [--out FILE] [--keep]
#
#   BUILD_DIR   CMake build directory of a release build (trainer/ and base/ libraries;
#               serving/stratad for the HTTP stage)
#   --quick     1M rows: a smoke test, not a measurement
#   --rows N    predictions (default 10000000; 1000000 with --quick)
#   --replicates R       bootstrap replicates (default 200)
#   --peer-replicates K  run only K of the peer's R replicates and extrapolate its time
#                        linearly (its per-replicate time is measured); default: all R
#   --runs N    repetitions of each measurement, medians reported (default 1)
#   --no-http   skip the end-to-end HTTP stage
#   --out FILE  markdown results (default BUILD_DIR/bench-evaluate.md)
#   --keep      keep the temporary directory (data, results, logs)
#
# What it does, in one temporary directory:
#  1. bench/evaluate/make_data.py (Debian /usr/bin/python3 + numpy) writes N scored rows
#     once, seeded: label (base rate differing by group), score (a noisy logistic of the
#     label, whole millionths), sex (2 values) and race (5 values), skewed sizes; as binary
#     arrays for the C driver and as predictions.csv for the peer and the HTTP stage;
#  2. Strata in process: bench/evaluate/eval_bench.c, compiled against BUILD_DIR's
#     libstrata_trainer.a and libstrata_base.a, loads the arrays and times one
#     eval_compute call (binary, threshold 0.5, group_by sex and race, intersections,
#     R replicates, seed 1), under /usr/bin/time -v; then once more with replicates 0
#     (no intervals) to show what the bootstrap costs;
#  3. the peer, bench/evaluate/peer_fairness.py under /usr/bin/time -v: read_csv, the
#     scikit-learn overall metrics, per-group rates by pandas groupby for sex, race and
#     sex&race, disparities, summary, and an R-replicate row-resampling bootstrap of
#     every group rate and disparity (numpy, vectorised); each phase timed inside;
#     Strata and the peer alternate which goes first in each run;
#  4. bench/evaluate/check.py: the overall metrics, every group's counts and rates,
#     the disparities and the summary of Strata and the peer agree to 1e-9 (and the
#     bootstrap intervals are close: two resamplings of one distribution); a mismatch
#     fails the run;
#  5. the HTTP stage (end to end, unless --no-http): a fresh stratad with
#     --import-dir on the data directory; POST /v1/evaluations {"predictions":{"path":
#     "predictions.csv","label_column":"label","score_column":"score"},"group_by":
#     ["sex","race"],"intersections":true,"bootstrap":{"replicates":R,"seed":1}},
#     GET /v1/jobs/{id} polled every 20 ms on one connection (bench/export/job.py) until
#     it ends: wall time from the POST to SUCCEEDED, stratad's CPU and VmHWM; then
#     GET /v1/evaluations/{evaluation_id} goes through check.py too. If the route
#     answers 404 (a build without the evaluation service) the stage is skipped and
#     the report says so;
#  6. prints a results table and writes it as markdown to --out.
#
# Timing: "compute" is the evaluation with the data in memory (Strata: eval_compute;
# the peer: metrics + groups + bootstrap), the like-for-like figure; "process" is the
# whole program under /usr/bin/time -v (Strata: reading the binary arrays; the peer:
# the interpreter, imports and read_csv), which is also where peak RSS comes from.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="$(cd "$HERE/../.." && pwd)"

usage() {
  sed -n '3,20p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

BUILD=""
QUICK=0
ROWS=""
ROWS_ARG=""
REPLICATES=200
PEER_REPS=""
RUNS=1
HTTP=1
OUT=""
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --rows) ROWS="${2:?}"; ROWS_ARG=1; shift ;;
    --replicates) REPLICATES="${2:?}"; shift ;;
    --peer-replicates) PEER_REPS="${2:?}"; shift ;;
    --runs) RUNS="${2:?}"; shift ;;
    --no-http) HTTP=0 ;;
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
if [ "$QUICK" = 1 ]; then ROWS="${ROWS:-1000000}"; else ROWS="${ROWS:-10000000}"; fi
PEER_REPS="${PEER_REPS:-$REPLICATES}"
for v in ROWS REPLICATES PEER_REPS RUNS; do
  [ "${!v}" -ge 1 ] 2>/dev/null || { echo "bench: ${v,,} must be a positive integer" >&2; exit 2; }
done
[ "$PEER_REPS" -le "$REPLICATES" ] || { echo "bench: --peer-replicates must be <= --replicates" >&2; exit 2; }
OUT="${OUT:-$BUILD/bench-evaluate.md}"
PY=/usr/bin/python3   # Debian's, with numpy, pandas and scikit-learn
POLL_S=0.02
QUIET_MAX=0.15        # cores others may use before a measurement starts ...
QUIET_WAIT_S=15       # ... waited for at most this long (a shared machine: then measure anyway)

for t in cc awk curl pkg-config; do
  command -v "$t" >/dev/null || { echo "bench: $t is missing" >&2; exit 1; }
done
"$PY" -c 'import numpy, pandas, sklearn' 2>/dev/null || {
  echo "bench: $PY cannot import numpy, pandas and sklearn (scripts/deps.sh build)" >&2; exit 1; }
/usr/bin/time -v true >/dev/null 2>&1 || { echo "bench: GNU time is missing (apt-get install time)" >&2; exit 1; }
for lib in trainer/libstrata_trainer.a base/libstrata_base.a; do
  [ -f "$BUILD/$lib" ] || { echo "bench: $BUILD/$lib not found; build first" >&2; exit 1; }
done
if grep -qE '^STRATA_(ASAN|UBSAN):BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
  echo "bench: $BUILD is a sanitizer build; benchmark a release build" >&2
  exit 1
fi
BUILD_TYPE="$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD/CMakeCache.txt" 2>/dev/null)"
STRATAD="$BUILD/serving/stratad"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/strata-bench-evaluate.XXXXXX")"
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"

# ---- machine ---------------------------------------------------------------------------
bench_machine
VERSIONS="pandas $("$PY" -c 'import pandas; print(pandas.__version__)'), scikit-learn $("$PY" -c 'import sklearn; print(sklearn.__version__)'), numpy $("$PY" -c 'import numpy; print(numpy.__version__)'), Python $("$PY" -c 'import platform; print(platform.python_version())')"
COMMIT="$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo '?')"
T_START="$(date +%s)"

# ---- 1. build and data ----------------------------------------------------------------
# shellcheck disable=SC2046 # pkg-config prints several flags
cc -O2 -std=c11 -Wall -Wextra -I"$SRC" -o "$WORK/eval_bench" "$HERE/eval_bench.c" \
  "$BUILD/trainer/libstrata_trainer.a" "$BUILD/base/libstrata_base.a" \
  $(pkg-config --cflags --libs openblas jansson) -lpthread -lm
DATA="$WORK/data"
t0="$(now_ns)"
GEN="$("$PY" "$HERE/make_data.py" "$DATA" "$ROWS" 1)"
CSV_BYTES="$(kv "$GEN" csv_bytes)"
POSITIVES="$(kv "$GEN" positives)"
log "data: $ROWS rows ($POSITIVES positives), predictions.csv $((CSV_BYTES / 1048576)) MiB, written in $(( ($(now_ns) - t0) / 1000000 )) ms"

RAW="$WORK/raw.txt"
: >"$RAW"
# time_v FILE: "process_wall_s=.. process_cpu_s=.. process_rss_mib=.." from /usr/bin/time -v's output.
time_v() {
  awk -F': ' '
    /Elapsed \(wall clock\)/ {n = split($2, p, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + p[i]}
    /User time|System time/ {c += $2}
    /Maximum resident set size/ {r = $2}
    END {printf "process_wall_s=%.2f process_cpu_s=%.2f process_rss_mib=%.0f", w, c, r / 1024}' "$1"
}
# others S0 S1 T0_NS T1_NS OWN_CPU_S: cores other processes used meanwhile.
others() {
  awk -v s=$(($2 - $1)) -v h="$CLK_TCK" -v d=$(($4 - $3)) -v c="$5" \
    'BEGIN {o = s / h - c; if (o < 0) o = 0; printf "%.2f", o * 1e9 / d}'
}

# ---- 2. Strata in process -------------------------------------------------------------
strata_run() { # RUN
  local run=$1 tv res s0 s1 t0 t1 line
  tv="$WORK/strata-time-$run.txt"
  wait_quiet
  s0="$(sys_ticks)"; t0="$(now_ns)"
  res="$(/usr/bin/time -v -o "$tv" "$WORK/eval_bench" "$DATA" --replicates "$REPLICATES" \
    --seed 1 --json "$WORK/strata-$run.json")" || { log "eval_bench failed"; exit 1; }
  t1="$(now_ns)"; s1="$(sys_ticks)"
  line="strata run=$run ${res#RESULT } $(time_v "$tv")"
  line+=" other_cores=$(others "$s0" "$s1" "$t0" "$t1" "$(kv "$line" process_cpu_s)")"
  echo "$line" >>"$RAW"
  log "strata run $run: eval_compute $(kv "$line" wall_s) s wall, $(kv "$line" cpu_s) s CPU;" \
    "peak RSS $(kv "$line" peak_rss_mib) MiB (inputs $(kv "$line" loaded_rss_mib) MiB);" \
    "process $(kv "$line" process_wall_s) s; other processes $(kv "$line" other_cores) cores"
  # The same call without intervals: what the bootstrap (and DeLong) adds.
  wait_quiet
  res="$("$WORK/eval_bench" "$DATA" --replicates 0)" || { log "eval_bench --replicates 0 failed"; exit 1; }
  echo "strata0 run=$run ${res#RESULT }" >>"$RAW"
  log "strata run $run without bootstrap: eval_compute $(kv "$res" wall_s) s wall, $(kv "$res" cpu_s) s CPU"
}

# ---- 3. the peer ----------------------------------------------------------------------
peer_run() { # RUN
  local run=$1 tv res s0 s1 t0 t1 line
  tv="$WORK/peer-time-$run.txt"
  wait_quiet
  s0="$(sys_ticks)"; t0="$(now_ns)"
  res="$(/usr/bin/time -v -o "$tv" "$PY" "$HERE/peer_fairness.py" "$DATA/predictions.csv" \
    "$WORK/peer-$run.json" --replicates "$REPLICATES" --run-replicates "$PEER_REPS" --seed 1)" || {
    log "peer_fairness.py failed"; exit 1; }
  t1="$(now_ns)"; s1="$(sys_ticks)"
  line="peer run=$run ${res#RESULT } $(time_v "$tv")"
  line+=" other_cores=$(others "$s0" "$s1" "$t0" "$t1" "$(kv "$line" process_cpu_s)")"
  echo "$line" >>"$RAW"
  log "peer run $run: compute $(kv "$line" compute_s) s wall, $(kv "$line" compute_cpu_s) s CPU" \
    "(overall $(kv "$line" overall_s), groups $(kv "$line" groups_s), bootstrap $(kv "$line" bootstrap_s) s" \
    "for $(kv "$line" replicates_run) replicates); read_csv $(kv "$line" load_s) s;" \
    "peak RSS $(kv "$line" peak_rss_mib) MiB; other processes $(kv "$line" other_cores) cores"
}

for run in $(seq "$RUNS"); do
  # Alternate who goes first so drift on a shared machine hits both alike.
  if [ $((run % 2)) = 1 ]; then strata_run "$run"; peer_run "$run"; else peer_run "$run"; strata_run "$run"; fi
done

# ---- 4. the same numbers? ---------------------------------------------------------------
CHECK_OUT="$WORK/check.txt"
CHECK_OK=1
"$PY" "$HERE/check.py" "$WORK/peer-1.json" "$WORK/strata-1.json" >"$CHECK_OUT" 2>&1 || CHECK_OK=0
sed 's/^/bench: check: /' "$CHECK_OUT" >&2

# ---- 5. end to end over HTTP -------------------------------------------------------------
HTTP_STATE="not run (--no-http)"
HTTP_OK=1
if [ "$HTTP" = 1 ] && [ ! -x "$STRATAD" ]; then
  HTTP_STATE="skipped: $STRATAD not built"
elif [ "$HTTP" = 1 ]; then
  port="$(free_port)"
  SURL="http://127.0.0.1:$port"
  "$STRATAD" --data-dir "$WORK/stratad-data" --listen "127.0.0.1:$port" --import-dir "$DATA" \
    --log-level warn >"$WORK/stratad.log" 2>&1 &
  SPID=$!
  PIDS+=("$SPID")
  if ! wait_http "$SURL/healthz" stratad; then
    PROBE=failed
    HTTP_STATE="FAILED: stratad did not start ($(tail -n 3 "$WORK/stratad.log" | tr '\n' ' '))"; HTTP_OK=0
  else
  # An empty body is refused by the route (400) without creating anything; a daemon
  # without the route answers 404.
  PROBE="$(curl -s -o "$WORK/probe.txt" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data-binary '{}' "$SURL/v1/evaluations")"
  if [ "$PROBE" = 404 ]; then
    HTTP_STATE="skipped: POST /v1/evaluations answers 404 (this stratad has no evaluation service yet)"
    log "HTTP stage $HTTP_STATE"
  else
    BODY="{\"predictions\":{\"path\":\"predictions.csv\",\"label_column\":\"label\",\"score_column\":\"score\"},\"group_by\":[\"sex\",\"race\"],\"intersections\":true,\"threshold\":0.5,\"bootstrap\":{\"replicates\":$REPLICATES,\"seed\":1}}"
    for run in $(seq "$RUNS"); do
      idle="$(awk '$1 == "VmRSS:" {print int($2 / 1024)}' "/proc/$SPID/status")"
      wait_quiet
      s0="$(sys_ticks)"; c0="$(cpu_ticks "$SPID")"; t0="$(now_ns)"
      if ! "$PY" "$HERE/../export/job.py" "$SURL" /v1/evaluations "$BODY" "$WORK/http-job-$run.json" \
          "$POLL_S" 2>"$WORK/http-job-$run.err"; then
        HTTP_STATE="FAILED: $(tail -c 400 "$WORK/http-job-$run.err")"; HTTP_OK=0; break
      fi
      t1="$(now_ns)"; c1="$(cpu_ticks "$SPID")"; s1="$(sys_ticks)"
      hwm="$(awk '$1 == "VmHWM:" {print int($2 / 1024)}' "/proc/$SPID/status")"
      state="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["job"]["state"])' "$WORK/http-job-$run.json")"
      if [ "$state" != SUCCEEDED ]; then
        HTTP_STATE="FAILED: the job ended $state: $(head -c 400 "$WORK/http-job-$run.json")"; HTTP_OK=0; break
      fi
      info="$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); r=d["job"].get("result") or {}
print("wall_ms=%s evaluation_id=%s duration_ms=%s" % (d["wall_ms"], r.get("evaluation_id", ""), r.get("duration_ms", "-")))' \
        "$WORK/http-job-$run.json")"
      cpu="$(awk -v t=$((c1 - c0)) -v h="$CLK_TCK" 'BEGIN {printf "%.2f", t / h}')"
      line="http run=$run $info cpu_s=$cpu idle_rss_mib=$idle peak_rss_mib=$hwm"
      line+=" other_cores=$(others "$s0" "$s1" "$t0" "$t1" "$cpu")"
      echo "$line" >>"$RAW"
      log "HTTP run $run: POST → SUCCEEDED $(kv "$line" wall_ms) ms, stratad CPU $cpu s, VmHWM $hwm MiB (idle $idle MiB)"
      if [ "$run" = 1 ]; then
        curl -fsS "$SURL/v1/evaluations/$(kv "$line" evaluation_id)" -o "$WORK/http-1.json" || {
          HTTP_STATE="FAILED: GET /v1/evaluations/$(kv "$line" evaluation_id)"; HTTP_OK=0; break; }
        if "$PY" "$HERE/check.py" "$WORK/peer-1.json" "$WORK/http-1.json" >"$WORK/check-http.txt" 2>&1; then
          HTTP_STATE="ran"
        else
          HTTP_STATE="FAILED: the service's evaluation differs from the peer's"; HTTP_OK=0
        fi
        sed 's/^/bench: check: /' "$WORK/check-http.txt" >&2
        cat "$WORK/check-http.txt" >>"$CHECK_OUT"
      fi
    done
    # VmHWM is the daemon's high-water mark since it started: with --runs > 1 it is the
    # largest of the runs, not each run's own.
  fi
  fi
  kill "$SPID" 2>/dev/null || true
  wait "$SPID" 2>/dev/null || true
fi

# ---- 6. results ---------------------------------------------------------------------------
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"
T_TOTAL=$(( $(date +%s) - T_START ))
stat_of() { grep "^$1 " "$RAW" | while read -r line; do kv "$line" "$2"; done | median; }
list_of() { grep "^$1 " "$RAW" | while read -r line; do kv "$line" "$2"; done | paste -sd' ' | sed 's/ /, /g'; }
f2() { awk -v v="$1" 'BEGIN {printf "%.2f", v}'; }
add() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a + b}'; }

S_WALL="$(stat_of strata wall_s)"; S_CPU="$(stat_of strata cpu_s)"
S_PEAK="$(stat_of strata peak_rss_mib)"; S_LOADED="$(stat_of strata loaded_rss_mib)"
P_PER="$(stat_of peer bootstrap_per_replicate_s)"; P_PER_CPU="$(stat_of peer bootstrap_per_replicate_cpu_s)"
# The peer's figures for all R replicates: measured when it ran them all, else
# measured phases + R x its per-replicate time.
MISSING=$((REPLICATES - PEER_REPS))
P_WALL="$(add "$(stat_of peer compute_s)" "$(awk -v p="$P_PER" -v m="$MISSING" 'BEGIN {print p * m}')")"
P_CPU="$(add "$(stat_of peer compute_cpu_s)" "$(awk -v p="$P_PER_CPU" -v m="$MISSING" 'BEGIN {print p * m}')")"
P_PWALL="$(add "$(stat_of peer process_wall_s)" "$(awk -v p="$P_PER" -v m="$MISSING" 'BEGIN {print p * m}')")"
P_PCPU="$(add "$(stat_of peer process_cpu_s)" "$(awk -v p="$P_PER_CPU" -v m="$MISSING" 'BEGIN {print p * m}')")"
P_BOOT="$(add "$(stat_of peer bootstrap_s)" "$(awk -v p="$P_PER" -v m="$MISSING" 'BEGIN {print p * m}')")"
EXTRA=""
[ "$MISSING" -gt 0 ] && EXTRA=" (extrapolated: $PEER_REPS of $REPLICATES replicates run)"
REPRO="bench/evaluate/run.sh $(basename "$BUILD")"
[ "$QUICK" = 1 ] && REPRO+=" --quick"
[ -n "$ROWS_ARG" ] && REPRO+=" --rows $ROWS"
[ "$REPLICATES" != 200 ] && REPRO+=" --replicates $REPLICATES"
[ "$MISSING" -gt 0 ] && REPRO+=" --peer-replicates $PEER_REPS"
[ "$RUNS" != 1 ] && REPRO+=" --runs $RUNS"
[ "$HTTP" = 0 ] && REPRO+=" --no-http"
{
  echo "Command: \`$REPRO\` ($(date -u +%Y-%m-%dT%H:%MZ), tree at \`$COMMIT\`, build type ${BUILD_TYPE:-?}, $T_TOTAL s in all)."
  echo "Machine: $NPROC x $CPU_MODEL, $MEM_GIB GiB, $KERNEL; **load average $LOAD_BEFORE before, $LOAD_AFTER after**."
  echo "Data: $ROWS predictions ($POSITIVES positives), sex (2 values) x race (5 values) with intersections: 17 groups;" \
    "predictions.csv $((CSV_BYTES / 1048576)) MiB. $REPLICATES bootstrap replicates, seed 1. Peer: $VERSIONS."
  echo "Median of $RUNS run(s); Strata and the peer alternate which goes first."
  echo
  echo "| contestant | what is timed | wall s | CPU s | peak RSS MiB | RSS with inputs loaded MiB | peer ÷ Strata (wall / CPU / peak RSS) |"
  echo "|---|---|---|---|---|---|---|"
  echo "| Strata \`eval_compute\`, in process | the evaluation, inputs in memory | $(f2 "$S_WALL") | $(f2 "$S_CPU") | $S_PEAK | $S_LOADED | 1 |"
  echo "| pandas + scikit-learn + numpy | the same: metrics, groups, disparities, bootstrap$EXTRA | $P_WALL | $P_CPU | $(stat_of peer peak_rss_mib) | $(stat_of peer loaded_rss_mib) | **$(ratio "$P_WALL" "$S_WALL") / $(ratio "$P_CPU" "$S_CPU") / $(ratio "$(stat_of peer peak_rss_mib)" "$S_PEAK")** |"
  echo "| Strata eval_bench process | load binary arrays + evaluate + serialise | $(stat_of strata process_wall_s) | $(stat_of strata process_cpu_s) | $(stat_of strata process_rss_mib) | | |"
  echo "| peer process | interpreter, imports, read_csv + the above$EXTRA | $P_PWALL | $P_PCPU | $(stat_of peer process_rss_mib) | | $(ratio "$P_PWALL" "$(stat_of strata process_wall_s)") / $(ratio "$P_PCPU" "$(stat_of strata process_cpu_s)") / $(ratio "$(stat_of peer process_rss_mib)" "$(stat_of strata process_rss_mib)") |"
  if grep -q '^http ' "$RAW"; then
    echo "| Strata over HTTP (stratad) | POST /v1/evaluations → job SUCCEEDED (reads the CSV) | $(awk -v m="$(stat_of http wall_ms)" 'BEGIN {printf "%.2f", m / 1000}') | $(stat_of http cpu_s) | $(stat_of http peak_rss_mib) | idle $(stat_of http idle_rss_mib) | $(ratio "$P_PWALL" "$(awk -v m="$(stat_of http wall_ms)" 'BEGIN {print m / 1000}')") / $(ratio "$P_PCPU" "$(stat_of http cpu_s)") / $(ratio "$(stat_of peer process_rss_mib)" "$(stat_of http peak_rss_mib)") (vs the peer process) |"
  fi
  echo
  echo "Peer phases (s, wall / CPU): read_csv $(f2 "$(stat_of peer load_s)") / $(f2 "$(stat_of peer load_cpu_s)");" \
    "overall metrics $(f2 "$(stat_of peer overall_s)") / $(f2 "$(stat_of peer overall_cpu_s)");" \
    "groups, disparities, summary $(f2 "$(stat_of peer groups_s)") / $(f2 "$(stat_of peer groups_cpu_s)");" \
    "bootstrap $P_BOOT$EXTRA, $(awk -v p="$P_PER" 'BEGIN {printf "%.3f", p}') s per replicate" \
    "($(awk -v p="$P_PER_CPU" 'BEGIN {printf "%.3f", p}') CPU). Its high-water mark (MiB) after each phase:" \
    "$(stat_of peer load_hwm_mib), $(stat_of peer overall_hwm_mib), $(stat_of peer groups_hwm_mib), $(stat_of peer bootstrap_hwm_mib)."
  echo "Strata without intervals (replicates 0, same call otherwise): $(f2 "$(stat_of strata0 wall_s)") s wall," \
    "$(f2 "$(stat_of strata0 cpu_s)") s CPU, peak RSS $(stat_of strata0 peak_rss_mib) MiB: the $REPLICATES replicates add" \
    "$(awk -v a="$S_CPU" -v b="$(stat_of strata0 cpu_s)" 'BEGIN {d = a - b; printf (d < 0.05 && d > -0.05) ? "nothing measurable (%+.2f s of CPU)" : "%.2f s of CPU", d}')" \
    "(the peer's bootstrap: $(awk -v p="$P_PER_CPU" -v r="$REPLICATES" 'BEGIN {printf "%.1f", p * r}') s)."
  echo "Strata: inputs read in $(f2 "$(stat_of strata load_s)") s; the result is $(stat_of strata json_bytes) bytes of JSON," \
    "serialised in $(f2 "$(stat_of strata dump_s)") s (not in the evaluation's time)."
  echo "Other processes' CPU during each measurement (cores): Strata $(list_of strata other_cores); peer $(list_of peer other_cores)$(grep -q '^http ' "$RAW" && echo "; HTTP $(list_of http other_cores)")."
  echo "HTTP stage: $HTTP_STATE."
  echo
  echo "Agreement ($( [ "$CHECK_OK" = 1 ] && [ "$HTTP_OK" = 1 ] && echo "no mismatch" || echo "**MISMATCHES**" ); bench/evaluate/check.py, run 1):"
  echo
  echo '```'
  cat "$CHECK_OUT"
  echo '```'
  echo
  echo "Raw runs:"
  echo
  echo '```'
  cat "$RAW"
  echo '```'
} >"$OUT"
echo
cat "$OUT"
log "results written to $OUT"
[ "$CHECK_OK" = 1 ] || { log "Strata's evaluation differs from the peer's"; exit 1; }
[ "$HTTP_OK" = 1 ] || { log "the HTTP stage failed: $HTTP_STATE"; exit 1; }
