#!/usr/bin/env bash
# bench/lineage/run.sh - the metadata-graph benchmark: writes, lineage traversal, list queries.
#
# Usage: bench/lineage/run.sh BUILD_DIR [--quick] [--nodes N] [--out FILE] [--keep]
#
#   BUILD_DIR   CMake build directory of a release build (serving/stratad and the
#               lineage, store and base libraries load.c links against)
#   --quick     a small graph and short runs: a smoke test, not a measurement
#   --nodes N   graph size (default 1000000; --quick 30000)
#   --out FILE  markdown results (default BUILD_DIR/bench-lineage.md)
#   --keep      keep the temporary directory (data, logs) for inspection
#
# What it does, all on loopback, in one temporary directory:
#  1. builds load.c against BUILD_DIR's libraries and writes a graph of N nodes shaped like
#     pipelines (chains and fan-outs; load.c describes the shape) through the capture API,
#     lineage_record_run, one atomic batch per run: nodes/s written through the C API;
#  2. starts a fresh stratad and writes the same shape through HTTP (POST /v1/artifacts,
#     /v1/executions, /v1/events; HTTP_CONNS keep-alive connections): nodes/s through HTTP;
#     then, on another fresh stratad, the same shape as one POST /v1/lineage:batch per
#     pipeline run (28 nodes and their events in one request): nodes/s through the batch API;
#  3. starts stratad on the big graph and runs, with wrk (one generator thread):
#     - the 10-hop upstream traversal GET /v1/lineage?artifact_id=X&direction=upstream&max_hops=10
#       for X random among deep artifacts (FairnessReports of model versions >= 6), on one
#       connection (latency) and on TRAV_CONNS connections (throughput);
#     - the filtered, paged list GET /v1/artifacts?type=Model&filter=properties.version.int_value
#       > 5&page_size=100: its first page, and pages at random positions (page tokens);
#  4. the peer: the same graph in SQLite (Python's sqlite3, in-process, no HTTP), the same
#     traversal as a recursive CTE over an events table, and the same list query; the
#     traversal's node counts are checked equal between Strata and SQLite first;
#  5. prints a results table and writes it as markdown to --out.
#
# The load generator shares the machine's cores with the server; every number here is
# "server + generator on the same box".
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="$(cd "$HERE/../.." && pwd)"

usage() {
  sed -n '3,10p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

BUILD=""
QUICK=0
NODES=""
OUT=""
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --nodes) NODES="${2:?}"; shift ;;
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
STRATAD="$BUILD/serving/stratad"
[ -x "$STRATAD" ] || { echo "bench: $STRATAD not found; build first" >&2; exit 1; }
for lib in lineage/libstrata_lineage.a store/libstrata_store.a base/libstrata_base.a; do
  [ -f "$BUILD/$lib" ] || { echo "bench: $BUILD/$lib not found; build first" >&2; exit 1; }
done
if grep -qE '^STRATA_(ASAN|UBSAN):BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
  echo "bench: $BUILD is a sanitizer build; benchmark a release build" >&2
  exit 1
fi
BUILD_TYPE="$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD/CMakeCache.txt" 2>/dev/null)"
OUT="${OUT:-$BUILD/bench-lineage.md}"

# ---- parameters ----------------------------------------------------------------------
VERSIONS=12       # model versions per project: the depth of the warm-start chains
HTTP_CONNS=8      # concurrent keep-alive writers in the HTTP write benchmark
TRAV_CONNS=8      # connections of the traversal throughput run
STARTS_SAMPLE=5000
CHECK_STARTS=20   # traversals whose node counts are compared with SQLite's
if [ "$QUICK" = 1 ]; then
  NODES="${NODES:-30000}"; HTTP_NODES=3000; BATCH_NODES=10000; WARM_SECS=1; TRAV_SECS=3; LIST_SECS=2
  PEER_SECS=2; LIST_PAGES=20
else
  NODES="${NODES:-1000000}"; HTTP_NODES=30000; BATCH_NODES=200000; WARM_SECS=3; TRAV_SECS=15; LIST_SECS=10
  PEER_SECS=10; LIST_PAGES=200
fi

for t in wrk curl cc python3 awk shuf pkg-config; do
  command -v "$t" >/dev/null || { echo "bench: $t is missing" >&2; exit 1; }
done
python3 -c 'import sqlite3' || { echo "bench: python3 lacks sqlite3" >&2; exit 1; }

# ---- processes and cleanup ----------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/strata-bench-lineage.XXXXXX")"
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"

start_stratad() { # DATA_DIR LOG -> sets SPID, SURL
  local port
  port="$(free_port)"
  SURL="http://127.0.0.1:$port"
  "$STRATAD" --data-dir "$1" --listen "127.0.0.1:$port" --log-level warn >"$2" 2>&1 &
  SPID=$!
  PIDS+=("$SPID")
  wait_http "$SURL/healthz" stratad
}
stop_stratad() {
  kill "$SPID"
  wait "$SPID" 2>/dev/null || true
}

# ---- machine ---------------------------------------------------------------------------------
NPROC="$(nproc)"
CPU_MODEL="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
KERNEL="$(uname -sr)"
MEM_GIB="$(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo)"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
log "machine: $NPROC x $CPU_MODEL, $MEM_GIB GiB, $KERNEL, load average $LOAD_BEFORE"
if awk -v l="${LOAD_BEFORE%% *}" 'BEGIN {exit !(l > 0.5)}'; then
  log "WARNING: the machine is not idle (load average $LOAD_BEFORE); numbers will be noisy"
fi
T_START="$(date +%s)"

# ---- 1. the graph through the capture API ------------------------------------------------------
rocksdb_env "$BUILD"
# shellcheck disable=SC2046,SC2086 # pkg-config and rocksdb_env give several flags
cc -O2 -std=c11 -Wall -Wextra -I"$SRC" -o "$WORK/load" "$HERE/load.c" \
  "$BUILD/lineage/libstrata_lineage.a" "$BUILD/store/libstrata_store.a" \
  "$BUILD/base/libstrata_base.a" $ROCKSDB_LIBS $(pkg-config --libs jansson libcrypto) -lpthread
mkdir -p "$WORK/tsv"
log "writing a graph of $NODES nodes through lineage_record_run"
LOAD_RES="$("$WORK/load" graph --data-dir "$WORK/data" --nodes "$NODES" --versions "$VERSIONS" \
  --starts "$WORK/starts.txt" --tsv-dir "$WORK/tsv" 2>"$WORK/load.log")" || {
  log "load failed:"; tail -n 5 "$WORK/load.log" >&2; exit 1; }
grep -E 'load: [0-9]+ nodes' "$WORK/load.log" >&2 || true
G_NODES=$(( $(kv "$LOAD_RES" nodes) + $(kv "$LOAD_RES" contexts) ))
G_EVENTS="$(kv "$LOAD_RES" events)"
G_RUNS="$(kv "$LOAD_RES" runs)"
G_SECS="$(kv "$LOAD_RES" seconds)"
G_NPS="$(kv "$LOAD_RES" nodes_per_s)"
G_API_NPS="$(kv "$LOAD_RES" api_nodes_per_s)"
G_PROJECTS="$(kv "$LOAD_RES" projects)"
DATA_MB="$(du -sm "$WORK/data" | cut -f1)"
shuf -n "$STARTS_SAMPLE" --random-source=<(yes) "$WORK/starts.txt" >"$WORK/starts_sample.txt"

# ---- 2. the same shape through HTTP ------------------------------------------------------------
http_load() { # NAME NODES [--batch] -> sets RES (load's RESULT line), TICKS (stratad CPU ticks)
  local name=$1 nodes=$2 c0 c1
  shift 2
  start_stratad "$WORK/$name-data" "$WORK/stratad-$name.log"
  c0="$(cpu_ticks "$SPID")"
  RES="$("$WORK/load" http --port "${SURL##*:}" --nodes "$nodes" --connections "$HTTP_CONNS" \
    --versions "$VERSIONS" "$@" 2>>"$WORK/load.log")" || {
    log "HTTP load ($name) failed:"; tail -n 5 "$WORK/load.log" >&2; exit 1; }
  c1="$(cpu_ticks "$SPID")"
  stop_stratad
  TICKS=$((c1 - c0))
}
log "writing $HTTP_NODES nodes through HTTP on $HTTP_CONNS connections (fresh daemon)"
http_load http "$HTTP_NODES"
H_NODES="$(kv "$RES" nodes)"
H_NPS="$(kv "$RES" nodes_per_s)"
H_RPS="$(kv "$RES" requests_per_s)"
H_P50="$(kv "$RES" p50_us)"
H_P99="$(kv "$RES" p99_us)"
H_REQ="$(kv "$RES" requests)"
H_CPU_US="$(awk -v t="$TICKS" -v h="$CLK_TCK" -v n="$H_REQ" 'BEGIN {printf "%.0f", t * 1e6 / h / n}')"
log "HTTP writes: $H_NODES nodes, $H_REQ requests: $H_NPS nodes/s, $H_RPS requests/s;" \
  "p50 ${H_P50} us, p99 ${H_P99} us; stratad CPU ${H_CPU_US} us/request"

log "writing $BATCH_NODES nodes through POST /v1/lineage:batch on $HTTP_CONNS connections (fresh daemon)"
http_load batch "$BATCH_NODES" --batch
B_NODES="$(kv "$RES" nodes)"
B_NPS="$(kv "$RES" nodes_per_s)"
B_RPS="$(kv "$RES" requests_per_s)"
B_P50="$(kv "$RES" p50_us)"
B_P99="$(kv "$RES" p99_us)"
B_CPU_US="$(awk -v t="$TICKS" -v h="$CLK_TCK" -v n="$B_NODES" 'BEGIN {printf "%.1f", t * 1e6 / h / n}')"
log "HTTP batch writes: $B_NODES nodes, $(kv "$RES" requests) requests: $B_NPS nodes/s," \
  "$B_RPS requests/s; p50 ${B_P50} us, p99 ${B_P99} us; stratad CPU ${B_CPU_US} us/node"

# ---- 3. reads on the big graph -----------------------------------------------------------------
start_stratad "$WORK/data" "$WORK/stratad.log"
log "stratad pid $SPID on $SURL over the $G_NODES-node graph ($DATA_MB MiB on disk)"
TRAV_Q="direction=upstream&max_hops=10"
awk -v q="$TRAV_Q" '{print "/v1/lineage?artifact_id=" $1 "&" q}' "$WORK/starts_sample.txt" \
  >"$WORK/trav_paths.txt"
# The answers: sizes, and node counts for the cross-check with SQLite.
head -n "$CHECK_STARTS" "$WORK/starts_sample.txt" >"$WORK/check_ids.txt"
: >"$WORK/strata_counts.txt"
while read -r id; do
  curl -fsS "$SURL/v1/lineage?artifact_id=$id&$TRAV_Q" -o "$WORK/answer.json"
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1]));
assert d["next_page_token"] == "", "the answer paged";
print(sys.argv[2], len(d["artifacts"]) + len(d["executions"]), len(d["events"]),
      len(d["contexts"]))' "$WORK/answer.json" "$id" >>"$WORK/strata_counts.txt"
done <"$WORK/check_ids.txt"
ANSWER_BYTES="$(stat -c %s "$WORK/answer.json")"
T_NODES_AVG="$(awk '{s += $2} END {printf "%.1f", s / NR}' "$WORK/strata_counts.txt")"
T_EVENTS_AVG="$(awk '{s += $3} END {printf "%.1f", s / NR}' "$WORK/strata_counts.txt")"
log "traversal answers: $T_NODES_AVG nodes, $T_EVENTS_AVG events on average; last one $ANSWER_BYTES bytes"

RAW="$WORK/raw.txt"
: >"$RAW"
run_wrk() { # NAME PATHS_FILE CONNS SECS
  local name=$1 paths=$2 conns=$3 secs=$4 res c0 c1
  wrk -t1 -c"$conns" -d"${WARM_SECS}s" -s "$HERE/paths.lua" "$SURL" -- "$paths" \
    >/dev/null 2>>"$WORK/wrk.log"
  c0="$(cpu_ticks "$SPID")"
  res="$(wrk -t1 -c"$conns" -d"${secs}s" --timeout 30s -s "$HERE/paths.lua" "$SURL" -- "$paths" \
    2>>"$WORK/wrk.log" | grep '^RESULT')" || { log "wrk ($name) printed no result"; exit 1; }
  c1="$(cpu_ticks "$SPID")"
  local bad=$(( $(kv "$res" errors_status) + $(kv "$res" errors_connect) + $(kv "$res" errors_read) \
    + $(kv "$res" errors_write) + $(kv "$res" errors_timeout) ))
  [ "$bad" = 0 ] || { log "wrk ($name): $bad errors or non-2xx answers"; exit 1; }
  local cpu_us
  cpu_us="$(awk -v t=$((c1 - c0)) -v h="$CLK_TCK" -v n="$(kv "$res" requests)" \
    'BEGIN {printf "%.0f", t * 1e6 / h / n}')"
  echo "$name $res cpu_us_per_req=$cpu_us load=$(cut -d' ' -f1 /proc/loadavg)" >>"$RAW"
  log "$(printf '%-16s %6s req/s  p50 %6s us  p90 %6s us  p99 %6s us  (%s requests, server CPU %s us/req)' \
    "$name" "$(kv "$res" rps)" "$(kv "$res" p50_us)" "$(kv "$res" p90_us)" "$(kv "$res" p99_us)" \
    "$(kv "$res" requests)" "$cpu_us")"
}
run_wrk trav_c1 "$WORK/trav_paths.txt" 1 "$TRAV_SECS"
run_wrk trav_c$TRAV_CONNS "$WORK/trav_paths.txt" "$TRAV_CONNS" "$TRAV_SECS"

# The list query: its first page, and LIST_PAGES pages reached by following tokens.
LIST_PATH="/v1/artifacts?type=Model&filter=properties.version.int_value%20%3E%205&page_size=100"
echo "$LIST_PATH" >"$WORK/list_first.txt"
cp "$WORK/list_first.txt" "$WORK/list_pages.txt"
tok=""
for _ in $(seq "$LIST_PAGES"); do
  tok="$(curl -fsS "$SURL$LIST_PATH${tok:+&page_token=$tok}" | python3 -c \
    'import json,sys; d=json.load(sys.stdin); assert len(d["artifacts"]) <= 100; print(d["next_page_token"])')"
  [ -n "$tok" ] || break
  echo "$LIST_PATH&page_token=$tok" >>"$WORK/list_pages.txt"
done
sed -i 1d "$WORK/list_pages.txt" # pages after the first
log "list query: first page, and $(wc -l <"$WORK/list_pages.txt") later pages"
run_wrk list_first "$WORK/list_first.txt" 1 "$LIST_SECS"
[ -s "$WORK/list_pages.txt" ] && run_wrk list_pages "$WORK/list_pages.txt" 1 "$LIST_SECS"
stop_stratad

# ---- 4. the peer: SQLite -----------------------------------------------------------------------
log "peer: the same graph in SQLite $(python3 -c 'import sqlite3; print(sqlite3.sqlite_version)')"
PEER_OUT="$(python3 "$HERE/peer_sqlite.py" "$WORK/tsv" "$WORK/starts_sample.txt" "$WORK/peer.db" \
  --seconds "$PEER_SECS" --check "$WORK/check_ids.txt")"
while read -r id n _ _; do
  pn="$(awk -v id="$id" '$1 == "CHECK" && $2 == id {print $3}' <<<"$PEER_OUT")"
  [ "$pn" = "$n" ] || { log "traversal from $id: Strata returned $n nodes, SQLite $pn"; exit 1; }
done <"$WORK/strata_counts.txt"
log "traversal node counts agree with SQLite on $CHECK_STARTS starts"
peer() { grep "^RESULT name=$1 " <<<"$PEER_OUT"; }
P_LOAD="$(peer load)"
P_TRAV="$(peer traversal)"
P_FIRST="$(peer list_first)"
P_PAGES="$(peer list_pages)"
log "SQLite: traversal p50 $(kv "$P_TRAV" p50_us) us p99 $(kv "$P_TRAV" p99_us) us;" \
  "list first page p50 $(kv "$P_FIRST" p50_us) us; later pages p50 $(kv "$P_PAGES" p50_us) us"

# ---- 5. results --------------------------------------------------------------------------------
stat_of() { grep "^$1 " "$RAW" | head -n1 | { read -r line; kv "$line" "$2"; }; }
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"
T_TOTAL=$(( $(date +%s) - T_START ))
verdict() { # VALUE OP TARGET
  awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN {ok = op == "<" ? v < t : v >= t; print ok ? "met" : "MISSED"}'
}
TRAV_P99="$(stat_of trav_c1 p99_us)"
{
  echo "Command: \`bench/lineage/run.sh $(basename "$BUILD")$([ "$QUICK" = 1 ] && echo ' --quick')\`" \
    "($(date -u +%Y-%m-%dT%H:%MZ), build type ${BUILD_TYPE:-?}, $ROCKSDB_BUILD, $T_TOTAL s in all)."
  echo "Machine: $NPROC x $CPU_MODEL, $MEM_GIB GiB, $KERNEL; load average $LOAD_BEFORE before," \
    "$LOAD_AFTER after."
  echo
  echo "Graph: $G_NODES nodes ($G_PROJECTS projects x $VERSIONS versions x 28 nodes, plus one" \
    "Study context per project), $G_EVENTS events, $G_RUNS captured runs; $DATA_MB MiB on disk."
  echo
  echo "| measure | Strata | SQLite peer | target |"
  echo "|---|---|---|---|"
  echo "| nodes/s written, capture API (lineage_record_run, 1 writer, 1 batch per run) | $G_NPS ($G_API_NPS inside the call) | $(kv "$P_LOAD" rows_per_s) rows/s bulk insert (not comparable: no checks, no indexes during insert) | ≥ 50000: $(verdict "$G_NPS" ">=" 50000) |"
  echo "| nodes/s written, HTTP ($HTTP_CONNS connections, one node or event per request) | $H_NPS ($H_RPS requests/s; p50 $H_P50 us, p99 $H_P99 us; $H_CPU_US us server CPU/request) | | |"
  echo "| nodes/s written, HTTP POST /v1/lineage:batch ($HTTP_CONNS connections, one pipeline run of 28 nodes per request) | $B_NPS ($B_RPS requests/s; p50 $B_P50 us, p99 $B_P99 us; $B_CPU_US us server CPU/node) | | |"
  for name in trav_c1 "trav_c$TRAV_CONNS"; do
    conns="${name#trav_c}"
    peer_cell=""
    [ "$conns" = 1 ] && peer_cell="p50 $(kv "$P_TRAV" p50_us) us, p99 $(kv "$P_TRAV" p99_us) us, $(kv "$P_TRAV" qps)/s (in-process)"
    target=""
    [ "$conns" = 1 ] && target="p99 < 5000 us: $(verdict "$TRAV_P99" "<" 5000)"
    plural="s"
    [ "$conns" = 1 ] && plural=""
    echo "| 10-hop upstream traversal, $conns connection$plural ($T_NODES_AVG nodes, $T_EVENTS_AVG events per answer) | p50 $(stat_of "$name" p50_us) us, p90 $(stat_of "$name" p90_us) us, p99 $(stat_of "$name" p99_us) us, $(stat_of "$name" rps)/s; $(stat_of "$name" cpu_us_per_req) us server CPU/request | $peer_cell | $target |"
  done
  echo "| list Models version > 5, first page of 100, 1 connection | p50 $(stat_of list_first p50_us) us, p99 $(stat_of list_first p99_us) us ($(stat_of list_first requests) requests; $(stat_of list_first cpu_us_per_req) us server CPU/request) | p50 $(kv "$P_FIRST" p50_us) us, p99 $(kv "$P_FIRST" p99_us) us | |"
  if grep -q '^list_pages ' "$RAW"; then
    echo "| same query, later pages (page tokens), 1 connection | p50 $(stat_of list_pages p50_us) us, p90 $(stat_of list_pages p90_us) us, p99 $(stat_of list_pages p99_us) us, $(stat_of list_pages rps)/s | p50 $(kv "$P_PAGES" p50_us) us, p99 $(kv "$P_PAGES" p99_us) us | |"
  fi
} >"$OUT"
cat "$OUT"
log "results written to $OUT"
