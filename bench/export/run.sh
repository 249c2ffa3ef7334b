#!/usr/bin/env bash
# bench/export/run.sh - Strata's point-in-time training export against pandas.merge_asof.
#
# Usage: bench/export/run.sh BUILD_DIR [--quick] [--runs N] [--instances N] [--entities N] [--out FILE] [--keep] [--perf]
#
#   BUILD_DIR      CMake build directory (BUILD_DIR/serving/stratad)
#   --quick        100k instances over 10k entities, one run: a smoke test, not a measurement
#   --runs N       repetitions of every measurement (default 3; medians are reported)
#   --instances N  instance (label) rows (default 1000000; 100000 with --quick)
#   --entities N   entity ids, ~20 versions each (default 100000; 10000 with --quick)
#   --out FILE     markdown results (default BUILD_DIR/bench-export.md)
#   --keep         keep the temporary directory (CSVs, outputs, logs, data) for inspection
#   --perf         after the timed runs, one more (untimed) export job under
#                  `perf record --call-graph dwarf -p PID`: time per thread, per
#                  phase (inclusive time of the reader's functions) and the
#                  hottest symbols (self time) go into the results
#
# What it does, all in one temporary directory:
#  1. bench/export/make_data.py writes the inputs once: values.csv, ENTITIES ids x
#     10..30 versions (~20 on average: ~2M rows at full size) of 10 features (f0..f7
#     DOUBLE, f8, f9 INT64) at distinct event times per id (no ties: see below),
#     in event-time order; instances.csv, INSTANCES rows (user_id, ts, label) in
#     random order, 5% of them exactly at a version's time. Ids are integers, times
#     RFC 3339 UTC seconds.
#  2. Loads values.csv into Strata once, untimed: a stratad with --import-dir, entity
#     `user` with f0..f9, POST /v1/imports (on_error skip_row); waits until stratad
#     has used no CPU for 3 s (flushes and compactions done), notes the compactions
#     RocksDB ran, and stops it.
#  3. Strata, every run on a *fresh* stratad over that data directory (so its VmHWM
#     is this export's peak, not the import's), with --block-cache-mb 64 and
#     --export-memory-mb 64 (the default), after it is idle:
#     a. job: POST /v1/exports:historical {instances.path, timestamp_column ts,
#        the 10 feature refs, format csv, destination.path} under --export-dir,
#        polling GET /v1/jobs/{id} every 20 ms from one process on one keep-alive
#        connection (bench/export/job.py); wall time from the POST to seeing
#        SUCCEEDED (the file is written, fsynced and renamed by then), and the job's
#        own result.duration_ms; then VmHWM from /proc/PID/status;
#     b. streamed: another fresh stratad, the same request without destination,
#        `curl -o FILE`; wall time of curl; VmHWM.
#  4. pandas (Debian python3-pandas, /usr/bin/python3): bench/export/pandas_asof.py
#     reads both CSVs, parses the timestamps, sorts, pd.merge_asof(by user_id,
#     direction backward, exact matches allowed), restores instance order, writes
#     CSV; under /usr/bin/time -v: wall time of the process (interpreter start and
#     `import pandas` included) and its maximum resident set size.
#     Strata and pandas alternate which goes first in each run.
#  5. the storage floor: bench/export/rawscan.c (compiled here against the RocksDB BUILD_DIR links)
#     iterates every key of the `values` column family of the same data directory,
#     read-only, with the export scan's read options, and nothing else;
#  6. bench/export/check.py: Strata's outputs (job and streamed, run 1) against
#     pandas' cell by cell over the whole file, and all of them against a plain
#     scan of values.csv on 2000 random instance rows. Any mismatch fails the run.
#  7. prints a results table and the targets, and writes them as markdown to --out.
#
# merge_asof cannot break ties by created time and has no TTL: the data has no two
# versions of an id at one event time and the features have no TTL, so both systems
# answer the same question. Every values.csv cell is filled (an empty cell is "no
# value" to Strata but NaN to merge_asof).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

usage() {
  sed -n '3,16p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

BUILD=""
QUICK=0
RUNS=""
RUNS_ARG=""
INSTANCES=""
ENTITIES=""
OUT=""
KEEP=0
PERF=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --runs) RUNS="${2:?}"; RUNS_ARG=1; shift ;;
    --instances) INSTANCES="${2:?}"; shift ;;
    --entities) ENTITIES="${2:?}"; shift ;;
    --out) OUT="${2:?}"; shift ;;
    --keep) KEEP=1 ;;
    --perf) PERF=1 ;;
    -h|--help) usage ;;
    -*) usage ;;
    *) [ -z "$BUILD" ] || usage; BUILD="$1" ;;
  esac
  shift
done
[ -n "$BUILD" ] || usage
BUILD="$(cd "$BUILD" && pwd)"
STRATAD="$BUILD/serving/stratad"
[ -x "$STRATAD" ] || { echo "bench: $STRATAD not found; build first" >&2; exit 1; }
OUT="${OUT:-$BUILD/bench-export.md}"

# ---- parameters -------------------------------------------------------------
if [ "$QUICK" = 1 ]; then
  INSTANCES="${INSTANCES:-100000}"; ENTITIES="${ENTITIES:-10000}"; RUNS="${RUNS:-1}"
else
  INSTANCES="${INSTANCES:-1000000}"; ENTITIES="${ENTITIES:-100000}"; RUNS="${RUNS:-3}"
fi
for v in INSTANCES ENTITIES RUNS; do
  if ! [ "${!v}" -ge 1 ] 2>/dev/null; then echo "bench: --${v,,} must be a positive integer" >&2; exit 2; fi
done
[ "$ENTITIES" -le 8999999 ] || { echo "bench: --entities must be <= 8999999 (ids are 7 digits)" >&2; exit 2; }
BLOCK_CACHE_MB=64
EXPORT_MEMORY_MB=64
POLL_S=0.02           # job polling interval: the wall clock's resolution
IDLE_CPU=0.05         # stratad counts as settled below this many cores ...
IDLE_SECS=3           # ... for this many consecutive seconds
IDLE_MAX_S=600        # longest wait for that
QUIET_MAX=0.15        # cores others may use before a measurement starts
QUIET_WAIT_S=15       # longest wait for a quiet second before each measurement
FEATURE_REFS='["user:f0","user:f1","user:f2","user:f3","user:f4","user:f5","user:f6","user:f7","user:f8","user:f9"]'
PY=/usr/bin/python3   # Debian's python3 with python3-pandas, whatever python3 is first on PATH

for t in curl awk cc; do
  command -v "$t" >/dev/null || { echo "bench: $t is missing" >&2; exit 1; }
done
[ -x "$PY" ] || { echo "bench: $PY is missing (apt-get install python3)" >&2; exit 1; }
"$PY" -c 'import pandas, numpy' 2>/dev/null || {
  echo "bench: $PY cannot import pandas (apt-get install python3-pandas; scripts/deps.sh bench)" >&2; exit 1; }
/usr/bin/time -v true >/dev/null 2>&1 || {
  echo "bench: GNU time is missing (apt-get install time)" >&2; exit 1; }
if [ "$PERF" = 1 ]; then
  command -v perf >/dev/null || { echo "bench: --perf needs perf (apt-get install linux-perf)" >&2; exit 1; }
fi

# ---- processes and cleanup -----------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/strata-bench-export.XXXXXX")"
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"

# wait_idle PID: until the process has used < IDLE_CPU cores for IDLE_SECS seconds in a
# row (RocksDB flushes and compactions done). Prints the seconds waited.
wait_idle() {
  local pid=$1 i a b calm=0
  for ((i = 1; i <= IDLE_MAX_S; i++)); do
    a="$(cpu_ticks "$pid")"; sleep 1; b="$(cpu_ticks "$pid")"
    if awk -v t=$((b - a)) -v h="$CLK_TCK" -v m="$IDLE_CPU" 'BEGIN {exit !(t / h < m)}'; then
      calm=$((calm + 1))
      [ "$calm" -ge "$IDLE_SECS" ] && { echo "$i"; return 0; }
    else
      calm=0
    fi
  done
  log "stratad $pid still busy after ${IDLE_MAX_S}s"
  echo "$i"
}

# RocksDB events in a data directory's current LOG (one LOG per open of the store).
rocks_events() { # DATA EVENT
  grep -c "\"event\": \"$2\"" "$1/LOG" 2>/dev/null || true
}

# compactions_between DATA T0_NS T1_NS: "N/MiB": RocksDB compactions that started in
# [T0, T1] and the MiB they read.
compactions_between() {
  { grep -h '"event": "compaction_started"' "$1/LOG" 2>/dev/null || true; } |
    sed -n 's/.*"time_micros": \([0-9]*\).*"input_data_size": \([0-9]*\).*/\1 \2/p' |
    awk -v a="$(( $2 / 1000 ))" -v b="$(( $3 / 1000 ))" \
      '$1 >= a && $1 <= b {n++; s += $2} END {printf "%d/%.1f\n", n, s / 1048576}'
}

# jget FILE EXPR: a field of a JSON document (python3 expression on `d`).
jget() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); v=eval(sys.argv[2]); print("" if v is None else v)' "$1" "$2"; }
vm_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; } # PID VmHWM|VmRSS

# ---- machine -------------------------------------------------------------------
NPROC="$(nproc)"
CPU_MODEL="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
KERNEL="$(uname -sr)"
MEM_GIB="$(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo)"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
DISK="$(df -PT "$WORK" | awk 'NR==2 {print $2 " on " $1}')"
log "machine: $NPROC x $CPU_MODEL, $MEM_GIB GiB, $KERNEL, $WORK on $DISK, load average $LOAD_BEFORE"
if awk -v l="${LOAD_BEFORE%% *}" -v n="$NPROC" 'BEGIN {exit !(l > 0.5)}'; then
  log "WARNING: the machine is not idle (load average $LOAD_BEFORE on $NPROC CPUs); numbers will be noisy"
fi
PANDAS_VERSION="$("$PY" -c 'import pandas; print(pandas.__version__)')"
NUMPY_VERSION="$("$PY" -c 'import numpy; print(numpy.__version__)')"
PY_VERSION="$("$PY" -c 'import platform; print(platform.python_version())')"

# ---- the storage floor's scanner -----------------------------------------------------
rocksdb_env "$BUILD"
# shellcheck disable=SC2086 # several flags
cc -O2 -std=c11 -Wall -Wextra $ROCKSDB_CFLAGS -o "$WORK/rawscan" "$HERE/rawscan.c" $ROCKSDB_LIBS

# ---- the data -------------------------------------------------------------------
IMPORT_DIR="$WORK/import"
EXPORT_DIR="$WORK/export"
DATA="$WORK/data"
mkdir -p "$IMPORT_DIR" "$EXPORT_DIR"
t0="$(now_ns)"
GEN="$("$PY" "$HERE/make_data.py" "$IMPORT_DIR" "$ENTITIES" "$INSTANCES")"
VALUE_ROWS="$(kv "$GEN" values_rows)"
INST_CSV="$IMPORT_DIR/instances.csv"
VALS_CSV="$IMPORT_DIR/values.csv"
INST_BYTES="$(stat -c %s "$INST_CSV")"
VALS_BYTES="$(stat -c %s "$VALS_CSV")"
mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }
log "data: values.csv $VALUE_ROWS rows x 10 features ($(mib "$VALS_BYTES") MiB), instances.csv $INSTANCES rows ($(mib "$INST_BYTES") MiB), written in $(( ($(now_ns) - t0) / 1000000 )) ms"

RAW="$WORK/raw.txt"
: >"$RAW"

STRATA_PID=""
STRATA_URL=""
# start_strata LOGNAME [extra flags...]: a stratad over DATA; sets STRATA_PID, STRATA_URL.
start_strata() {
  local name=$1 port
  shift
  port="$(free_port)"
  STRATA_URL="http://127.0.0.1:$port"
  "$STRATAD" --data-dir "$DATA" --listen "127.0.0.1:$port" --import-dir "$IMPORT_DIR" \
    --export-dir "$EXPORT_DIR" --log-level warn "$@" >"$WORK/stratad-$name.log" 2>&1 &
  STRATA_PID=$!
  PIDS+=("$STRATA_PID")
  wait_http "$STRATA_URL/healthz" stratad
}
stop_strata() {
  kill "$STRATA_PID" 2>/dev/null || true
  wait "$STRATA_PID" 2>/dev/null || true
  STRATA_PID=""
}
api() { curl -fsS -X "$1" -H 'Content-Type: application/json' --data-binary "$3" "$STRATA_URL$2"; }
# run_job PATH BODY FILE: POST a job and wait for it (bench/export/job.py: one
# process, one keep-alive connection, a poll every POLL_S); the final job, with
# wall_ms from the POST to the answer showing it ended, goes to FILE. Prints its state.
run_job() {
  "$PY" "$HERE/job.py" "$STRATA_URL" "$1" "$2" "$3" "$POLL_S" || exit 1
  jget "$3" 'd["job"]["state"]'
}

# ---- load the store (untimed) ------------------------------------------------------
STRATA_VERSION="$("$STRATAD" --version 2>/dev/null || echo '?')"
start_strata load
api POST /v1/entities '{"name":"user","description":"bench/export"}' >/dev/null
api POST /v1/entities/user/features '{"features":[
  {"name":"f0","type":"DOUBLE"},{"name":"f1","type":"DOUBLE"},{"name":"f2","type":"DOUBLE"},
  {"name":"f3","type":"DOUBLE"},{"name":"f4","type":"DOUBLE"},{"name":"f5","type":"DOUBLE"},
  {"name":"f6","type":"DOUBLE"},{"name":"f7","type":"DOUBLE"},
  {"name":"f8","type":"INT64"},{"name":"f9","type":"INT64"}]}' >/dev/null
t0="$(now_ns)"
state="$(run_job /v1/imports '{"entity":"user","format":"csv","source":{"path":"values.csv"},
  "entity_id_column":"user_id","event_time_column":"event_time","time_unit":"rfc3339",
  "on_error":"skip_row"}' "$WORK/import-job.json")"
IMPORT_MS=$(( ($(now_ns) - t0) / 1000000 ))
[ "$state" = SUCCEEDED ] || { log "import ended $state: $(jget "$WORK/import-job.json" 'd["job"]["error"]')"; exit 1; }
IMPORT_RES="$(jget "$WORK/import-job.json" '" ".join("%s=%s" % (k, d["job"]["result"][k]) for k in ("rows_imported","rows_rejected","values_written","duration_ms"))')"
if [ "$(kv "$IMPORT_RES" rows_imported)" != "$VALUE_ROWS" ] || [ "$(kv "$IMPORT_RES" rows_rejected)" != 0 ]; then
  log "import: expected $VALUE_ROWS rows and no rejects, the job says $IMPORT_RES"; exit 1
fi
log "import: $IMPORT_RES ($IMPORT_MS ms wall); waiting for stratad to settle"
SETTLE_S="$(wait_idle "$STRATA_PID")"
LOAD_FLUSHES="$(rocks_events "$DATA" flush_finished)"
LOAD_COMPACTIONS="$(rocks_events "$DATA" compaction_finished)"
LOAD_COMPACTIONS_OPEN=$(( $(rocks_events "$DATA" compaction_started) - LOAD_COMPACTIONS ))
stop_strata
STORE_STATE="$(find "$DATA" -name '*.sst' | wc -l) SST files, $(find "$DATA" -maxdepth 1 -name '*.log' | wc -l) WAL files, $(du -sm "$DATA" | cut -f1) MiB on disk"
log "settled after ${SETTLE_S}s: RocksDB ran $LOAD_FLUSHES flushes and $LOAD_COMPACTIONS compactions ($LOAD_COMPACTIONS_OPEN unfinished); store: $STORE_STATE"

# ---- Strata ---------------------------------------------------------------------------
STRATA_FLAGS=(--block-cache-mb "$BLOCK_CACHE_MB" --export-memory-mb "$EXPORT_MEMORY_MB")
HIST_BODY() { # [destination]
  local dest=""
  [ -n "${1:-}" ] && dest=",\"destination\":{\"path\":\"$1\",\"overwrite\":true}"
  echo "{\"instances\":{\"path\":\"instances.csv\"},\"timestamp_column\":\"ts\",\"time_unit\":\"rfc3339\",\"features\":$FEATURE_REFS,\"format\":\"csv\"$dest}"
}

# fresh_strata NAME: a fresh stratad, idle; sets FRESH to "startup_ms=… settle_s=… idle_rss_mib=…".
FRESH=""
fresh_strata() {
  local t s
  t="$(now_ns)"
  start_strata "$1" "${STRATA_FLAGS[@]}"
  s="$(wait_idle "$STRATA_PID")"
  FRESH="startup_ms=$(( ($(now_ns) - t) / 1000000 )) settle_s=$s idle_rss_mib=$(( $(vm_kib "$STRATA_PID" VmRSS) / 1024 )) startup_compactions=$(rocks_events "$DATA" compaction_finished)"
}

strata_job() { # RUN
  local run=$1 pre job state t0 t1 c0 c1 s0 s1 hwm f line
  fresh_strata "job-$run"
  pre="$FRESH"
  job="$WORK/export-job-$run.json"
  wait_quiet
  s0="$(sys_ticks)"; c0="$(cpu_ticks "$STRATA_PID")"
  t0="$(now_ns)"
  state="$(run_job /v1/exports:historical "$(HIST_BODY "train-$run.csv")" "$job")"
  t1="$(now_ns)"
  c1="$(cpu_ticks "$STRATA_PID")"; s1="$(sys_ticks)"
  hwm="$(vm_kib "$STRATA_PID" VmHWM)"
  [ "$state" = SUCCEEDED ] || { log "export job ended $state: $(jget "$job" 'd["job"]["error"]')"; exit 1; }
  f="$(jget "$job" '" ".join("%s=%s" % (k, d["job"]["result"][k]) for k in ("rows","bytes","lookups","spilled_bytes","sort_runs","instances_ms","lookups_ms","duration_ms"))')"
  [ "$(kv "$f" rows)" = "$INSTANCES" ] || { log "export job: expected $INSTANCES rows, the job says $f"; exit 1; }
  line="strata-job run=$run $f wall_ms=$(jget "$job" 'd["wall_ms"]') $pre"
  line+=" $(awk -v s=$((s1 - s0)) -v c=$((c1 - c0)) -v h="$CLK_TCK" -v d=$((t1 - t0)) 'BEGIN {
    o = (s - c) / h; if (o < 0) o = 0; printf "cpu_s=%.2f other_cores=%.2f", c / h, o * 1e9 / d}')"
  line+=" peak_rss_mib=$((hwm / 1024)) compactions=$(compactions_between "$DATA" "$t0" "$t1")"
  echo "$line" >>"$RAW"
  log "strata job run $run: $(kv "$line" wall_ms) ms wall, $(kv "$line" duration_ms) ms in the job" \
    "(instances $(kv "$line" instances_ms) ms, lookups $(kv "$line" lookups_ms) ms), stratad CPU $(kv "$line" cpu_s) s," \
    "peak RSS $(kv "$line" peak_rss_mib) MiB (idle $(kv "$line" idle_rss_mib) MiB), other processes $(kv "$line" other_cores) cores"
  stop_strata
}

strata_stream() { # RUN
  local run=$1 pre out t0 t1 c0 c1 s0 s1 hwm rows line
  fresh_strata "stream-$run"
  pre="$FRESH"
  out="$WORK/stream-$run.csv"
  wait_quiet
  s0="$(sys_ticks)"; c0="$(cpu_ticks "$STRATA_PID")"
  t0="$(now_ns)"
  curl -fsS -X POST -H 'Content-Type: application/json' --data-binary "$(HIST_BODY)" \
    "$STRATA_URL/v1/exports:historical" -o "$out"
  t1="$(now_ns)"
  c1="$(cpu_ticks "$STRATA_PID")"; s1="$(sys_ticks)"
  hwm="$(vm_kib "$STRATA_PID" VmHWM)"
  rows=$(( $(wc -l <"$out") - 1 ))
  [ "$rows" = "$INSTANCES" ] || { log "streamed export: $rows rows, expected $INSTANCES"; exit 1; }
  line="strata-stream run=$run rows=$rows bytes=$(stat -c %s "$out") wall_ms=$(( (t1 - t0) / 1000000 )) $pre"
  line+=" $(awk -v s=$((s1 - s0)) -v c=$((c1 - c0)) -v h="$CLK_TCK" -v d=$((t1 - t0)) 'BEGIN {
    o = (s - c) / h; if (o < 0) o = 0; printf "cpu_s=%.2f other_cores=%.2f", c / h, o * 1e9 / d}')"
  line+=" peak_rss_mib=$((hwm / 1024)) compactions=$(compactions_between "$DATA" "$t0" "$t1")"
  echo "$line" >>"$RAW"
  log "strata streamed run $run: $(kv "$line" wall_ms) ms wall, stratad CPU $(kv "$line" cpu_s) s," \
    "peak RSS $(kv "$line" peak_rss_mib) MiB, other processes $(kv "$line" other_cores) cores"
  stop_strata
  [ "$run" = 1 ] || rm -f "$out"
}

# ---- pandas ----------------------------------------------------------------------------
pandas_run() { # RUN
  local run=$1 out tv t0 t1 s0 s1 ph rss cpu line
  out="$WORK/pandas-$run.csv"
  tv="$WORK/pandas-time-$run.txt"
  wait_quiet
  s0="$(sys_ticks)"
  t0="$(now_ns)"
  ph="$(/usr/bin/time -v -o "$tv" "$PY" "$HERE/pandas_asof.py" "$INST_CSV" "$VALS_CSV" "$out")"
  t1="$(now_ns)"; s1="$(sys_ticks)"
  rss="$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$tv")"
  cpu="$(awk -F': ' '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$tv")"
  line="pandas run=$run wall_ms=$(( (t1 - t0) / 1000000 )) cpu_s=$cpu peak_rss_mib=$((rss / 1024))"
  line+=" $(awk -v s=$((s1 - s0)) -v c="$cpu" -v h="$CLK_TCK" -v d=$((t1 - t0)) 'BEGIN {
    o = s / h - c; if (o < 0) o = 0; printf "other_cores=%.2f", o * 1e9 / d}')"
  line+=" $("$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); print(" ".join("%s=%s" % (k, v) for k, v in d.items() if k.endswith("_s") or k == "rows"))' "$ph")"
  [ "$(kv "$line" rows)" = "$INSTANCES" ] || { log "pandas: expected $INSTANCES rows: $line"; exit 1; }
  echo "$line" >>"$RAW"
  log "pandas run $run: $(kv "$line" wall_ms) ms wall (read $(kv "$line" read_s) s, parse $(kv "$line" parse_s) s," \
    "sort $(kv "$line" sort_s) s, merge_asof $(kv "$line" merge_s) s, reorder $(kv "$line" reorder_s) s," \
    "write $(kv "$line" write_s) s), CPU $cpu s, peak RSS $(kv "$line" peak_rss_mib) MiB, other processes $(kv "$line" other_cores) cores"
  [ "$run" = 1 ] || rm -f "$out"
}

for run in $(seq "$RUNS"); do
  # Alternate who goes first so slow drift on a shared machine hits both alike.
  if [ $((run % 2)) = 1 ]; then
    strata_job "$run"; strata_stream "$run"; pandas_run "$run"
  else
    pandas_run "$run"; strata_stream "$run"; strata_job "$run"
  fi
  [ "$run" = 1 ] || rm -f "$EXPORT_DIR/train-$run.csv"
done

# ---- the storage floor -----------------------------------------------------------------
for run in $(seq "$RUNS"); do
  wait_quiet
  line="rawscan run=$run $("$WORK/rawscan" "$DATA")"
  echo "$line" >>"$RAW"
  log "rawscan run $run: $(kv "$line" keys) value keys iterated in $(kv "$line" wall_ms) ms ($(kv "$line" cpu_ms) ms CPU)"
done

# ---- correctness ------------------------------------------------------------------------
log "checking Strata's outputs against pandas' and against values.csv"
CHECK_OUT="$WORK/check.txt"
if "$PY" "$HERE/check.py" "$INST_CSV" "$VALS_CSV" "$WORK/pandas-1.csv" \
    "$EXPORT_DIR/train-1.csv" "$WORK/stream-1.csv" >"$CHECK_OUT" 2>&1; then
  CHECK_OK=1
else
  CHECK_OK=0
fi
sed 's/^/bench: check: /' "$CHECK_OUT" >&2
CMP_JOB="$(cmp -s "$EXPORT_DIR/train-1.csv" "$WORK/stream-1.csv" && echo identical || echo DIFFERENT)"

# ---- optional profile ---------------------------------------------------------------------
PERF_TXT="$WORK/perf-report.txt"
if [ "$PERF" = 1 ]; then
  log "profiling one more export job (perf record --call-graph dwarf, untimed)"
  fresh_strata perf
  perf record -F 250 --call-graph dwarf,32768 -p "$STRATA_PID" -o "$WORK/perf.data" >"$WORK/perf-record.log" 2>&1 &
  PERF_PID=$!
  PIDS+=("$PERF_PID")
  sleep 1
  run_job /v1/exports:historical "$(HIST_BODY train-perf.csv)" "$WORK/export-job-perf.json" >/dev/null
  kill -INT "$PERF_PID" 2>/dev/null || true
  wait "$PERF_PID" 2>/dev/null || true
  stop_strata
  log "perf report (a minute or two)"
  # Inclusive time of the functions that mark the reader's passes and the costs inside
  # them (names from ingest/, store/, base/ and RocksDB; static ones may be inlined).
  PHASES='export_job_run|pass_csv|add_row|lookup_part|scan_group|store_values_scan_next|rocksdb::DBIter::Next'
  PHASES+='|rocksdb::BlockFetcher::ReadBlockContents|rocksdb::UncompressBlockData|ZSTD_decompress_usingDict|LZ4_decompress_safe'
  PHASES+='|sorter_add|sorter_next|sorter_finish|drive_run|export_reader_next|writer_row|jsonw_double|jsonw_i64|EVP_DigestUpdate|file_write|__tls_get_addr'
  {
    echo "# samples by thread (pid:comm)"
    perf report -i "$WORK/perf.data" --stdio --no-children --sort pid --percent-limit 0.5 -g none 2>/dev/null | grep -v -e '^#' -e '^$' | head -n 8 || true
    echo "# inclusive time (children) of the reader's phases and costs"
    perf report -i "$WORK/perf.data" --stdio --children --sort sym -g none 2>/dev/null | grep -E "\] ($PHASES)\$" || true
    echo "# self time by symbol"
    perf report -i "$WORK/perf.data" --stdio --no-children --sort dso,sym --percent-limit 0.7 -g none 2>/dev/null | grep -v -e '^#' -e '^$' | head -n 30 || true
  } >"$PERF_TXT"
  rm -f "$EXPORT_DIR/train-perf.csv"
fi

# ---- results ------------------------------------------------------------------------------
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"
STRATA_ERRS="$(cat "$WORK"/stratad-*.log | grep -c -E ' (ERROR|WARN) ' || true)"
stat_of() { grep "^$1 " "$RAW" | while read -r line; do kv "$line" "$2"; done | median; }
secs() { awk -v m="$1" 'BEGIN {printf "%.2f", m / 1000}'; }
rps() { awk -v m="$1" -v n="$INSTANCES" 'BEGIN {printf "%.0f", n / (m / 1000)}'; }
list_of() { grep "^$1 " "$RAW" | while read -r line; do kv "$line" "$2"; done | paste -sd' ' | sed 's/ /, /g'; }

J_WALL="$(stat_of strata-job wall_ms)"
J_DUR="$(stat_of strata-job duration_ms)"
J_RSS="$(stat_of strata-job peak_rss_mib)"
S_WALL="$(stat_of strata-stream wall_ms)"
S_RSS="$(stat_of strata-stream peak_rss_mib)"
P_WALL="$(stat_of pandas wall_ms)"
P_RSS="$(stat_of pandas peak_rss_mib)"
SPEED_J="$(ratio "$P_WALL" "$J_WALL")"
SPEED_S="$(ratio "$P_WALL" "$S_WALL")"
MEM_J="$(ratio "$J_RSS" "$P_RSS")"
MEM_S="$(ratio "$S_RSS" "$P_RSS")"

REPRO="bench/export/run.sh $(basename "$BUILD")"
if [ "$QUICK" = 1 ]; then REPRO+=" --quick"; fi
if [ -n "$RUNS_ARG" ]; then REPRO+=" --runs $RUNS"; fi
if [ "$PERF" = 1 ]; then REPRO+=" --perf"; fi
met() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN {print ((op == ">=" ? v >= t : v < t) ? "met" : "NOT met")}'; }
{
  echo "## bench/export results ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
  echo
  echo "- Machine: $NPROC x $CPU_MODEL, $MEM_GIB GiB RAM, $KERNEL, $DISK; load average before $LOAD_BEFORE, after $LOAD_AFTER."
  echo "- Data: values.csv $VALUE_ROWS rows ($ENTITIES ids x ~20 versions) x 10 features, $(mib "$VALS_BYTES") MiB;" \
    "instances.csv $INSTANCES rows, $(mib "$INST_BYTES") MiB. Output: $(stat_of strata-job bytes) bytes of CSV."
  echo "- Import (untimed here): $(kv "$IMPORT_RES" values_written) values in $(secs "$(kv "$IMPORT_RES" duration_ms)") s;" \
    "settled ${SETTLE_S}s later ($LOAD_FLUSHES flushes, $LOAD_COMPACTIONS compactions, $LOAD_COMPACTIONS_OPEN unfinished); store: $STORE_STATE."
  echo "- stratad \`$STRATA_VERSION\`, build \`$(basename "$BUILD")\`" \
    "$(grep -m1 CMAKE_BUILD_TYPE:STRING "$BUILD/CMakeCache.txt" 2>/dev/null | cut -d= -f2); a fresh stratad per measurement" \
    "with --block-cache-mb $BLOCK_CACHE_MB --export-memory-mb $EXPORT_MEMORY_MB, idle before the request (RSS at idle $(stat_of strata-job idle_rss_mib) MiB);" \
    "RocksDB compactions that started during each measurement (count/MiB read): $(list_of strata-job compactions) (jobs), $(list_of strata-stream compactions) (streamed)" \
    "(tiny BottommostFiles compactions of the small column families start when an export releases its snapshot)."
  echo "- pandas $PANDAS_VERSION, numpy $NUMPY_VERSION, Python $PY_VERSION (Debian); wall time and max RSS of the whole process (/usr/bin/time -v)."
  echo "- Median of $RUNS run(s); Strata and pandas alternate which goes first."
  echo
  echo "| system | wall s | rows/s | peak RSS MiB | speed vs pandas (pandas wall ÷ wall) | RSS vs pandas (RSS ÷ pandas') |"
  echo "|---|---|---|---|---|---|"
  echo "| Strata export job (POST → SUCCEEDED, file fsynced) | $(secs "$J_WALL") | $(rps "$J_WALL") | $J_RSS | ${SPEED_J}× | $MEM_J |"
  echo "| Strata streamed (\`curl -o\`) | $(secs "$S_WALL") | $(rps "$S_WALL") | $S_RSS | ${SPEED_S}× | $MEM_S |"
  echo "| pandas.merge_asof (read, parse, sort, join, reorder, write) | $(secs "$P_WALL") | $(rps "$P_WALL") | $P_RSS | 1 | 1 |"
  echo
  echo "Targets:"
  echo
  echo "- ≥ 5× faster than pandas end to end (job): ${SPEED_J}× → $(met "$SPEED_J" 5 ">=") (streamed: ${SPEED_S}×)"
  echo "- peak memory under a quarter of pandas' (job): $MEM_J → $(met "$MEM_J" 0.25 "<") (streamed: $MEM_S)"
  echo
  echo "Strata job, inside: result.duration_ms $(secs "$J_DUR") s (instances pass $(secs "$(stat_of strata-job instances_ms)") s," \
    "lookups $(secs "$(stat_of strata-job lookups_ms)") s, the rest assembling and writing);" \
    "$(stat_of strata-job lookups) lookups, $(stat_of strata-job spilled_bytes) bytes spilled in $(stat_of strata-job sort_runs) runs;" \
    "stratad CPU $(stat_of strata-job cpu_s) s (streamed: $(stat_of strata-stream cpu_s) s)."
  echo "Storage floor (bench/export/rawscan.c, no stratad): iterating the $(stat_of rawscan keys) keys of \`values\` alone took" \
    "$(secs "$(stat_of rawscan wall_ms)") s ($(secs "$(stat_of rawscan cpu_ms)") s CPU; $(stat_of rawscan key_bytes) key bytes, $(stat_of rawscan value_bytes) value bytes)."
  echo "pandas, inside (s): read $(stat_of pandas read_s), parse $(stat_of pandas parse_s), sort $(stat_of pandas sort_s)," \
    "merge_asof $(stat_of pandas merge_s), reorder $(stat_of pandas reorder_s), write $(stat_of pandas write_s)," \
    "interpreter + import $(stat_of pandas import_s); CPU $(stat_of pandas cpu_s) s."
  echo "Per run — wall ms: job $(list_of strata-job wall_ms); streamed $(list_of strata-stream wall_ms); pandas $(list_of pandas wall_ms)." \
    "Other processes' CPU during them (cores): job $(list_of strata-job other_cores); streamed $(list_of strata-stream other_cores); pandas $(list_of pandas other_cores)."
  echo
  echo "Correctness: $( [ "$CHECK_OK" = 1 ] && echo "**no mismatch**" || echo "**MISMATCHES**" ) (bench/export/check.py, run 1;" \
    "job and streamed outputs $CMP_JOB byte for byte):"
  echo
  echo '```'
  cat "$CHECK_OUT"
  echo '```'
  echo
  echo "stratad logs: $STRATA_ERRS WARN/ERROR lines."
  echo
  if [ "$PERF" = 1 ]; then
    echo "Profile of one more export job (perf record -F 250 --call-graph dwarf -p stratad; percentages of all stratad samples):"
    echo
    echo '```'
    cat "$PERF_TXT"
    echo '```'
    echo
  fi
  echo "Reproduce: \`$REPRO\`."
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
[ "$CHECK_OK" = 1 ] || { log "Strata's output differs from pandas'"; exit 1; }
