#!/usr/bin/env bash
# bench/durability/run.sh - write throughput and latency of the three sync modes
# (--sync never|batch|always): what each durability guarantee costs.
#
# For each mode a fresh stratad (fresh data directory) takes two write loads,
# replayed by bench/online/loadgen.c with CONNS requests in flight:
#   small    SMALL_REQS requests of 1 row x 10 features: one WAL record each,
#            the load where an fsync per write shows;
#   batched  BATCHED_REQS requests of 1000 rows x 10 features.
# Prints a table (values/s, p50/p99 per request, WAL fsyncs counted by the
# daemon for batch) and writes it as markdown to --out (default stdout only).
#
#   bench/durability/run.sh BUILD_DIR [--out FILE]     (default --out BUILD_DIR/bench-durability.md)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
SRC="$(cd "$HERE/../.." && pwd)"
BUILD=""
OUT=""
SMALL_REQS="${SMALL_REQS:-20000}"
BATCHED_REQS="${BATCHED_REQS:-100}"
CONNS="${CONNS:-8}"
SYNC_INTERVAL_MS="${SYNC_INTERVAL_MS:-100}"
QUIET_MAX="${QUIET_MAX:-0.3}"    # cores others may use before a measurement starts
QUIET_WAIT_S="${QUIET_WAIT_S:-20}"  # longest wait for such a quiet second
usage() { echo "usage: $0 BUILD_DIR [--out FILE]" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    -*) usage ;;
    *) [ -z "$BUILD" ] || usage; BUILD="$1"; shift ;;
  esac
done
[ -n "$BUILD" ] || usage
BUILD="$(cd "$BUILD" && pwd)"
STRATAD="$BUILD/serving/stratad"
[ -x "$STRATAD" ] || { echo "bench: $STRATAD not found; build first" >&2; exit 1; }
OUT="${OUT:-$BUILD/bench-durability.md}"
WORK="$(mktemp -d /tmp/strata-bench-durability-XXXXXX)"
KEEP="${KEEP:-0}"
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"

cc -O2 -std=c11 -Wall -Wextra -o "$WORK/loadgen" "$SRC/bench/online/loadgen.c"

# Request bodies: small (1 row) and batched (1000 rows), 10 features each.
mkdir -p "$WORK/small" "$WORK/batched"
# make_bodies DIR REQUESTS ROWS PREFIX: one request body per file, ROWS rows each.
make_bodies() {
  awk -v dir="$1" -v n="$2" -v rows="$3" -v pre="$4" 'BEGIN {
    for (r = 0; r < n; r++) {
      f = sprintf("%s/%06d.json", dir, r);
      printf "{\"rows\":[" > f;
      for (k = r * rows; k < (r + 1) * rows; k++) {
        if (k > r * rows) printf "," > f;
        printf "{\"entity_id\":\"%s%d\",\"values\":{", pre, k > f;
        for (c = 0; c < 10; c++) printf "%s\"f%d\":%d", c ? "," : "", c, k + c > f;
        printf "}}" > f;
      }
      printf "]}" > f;
      close(f);
    }
  }'
}
make_bodies "$WORK/small" "$SMALL_REQS" 1 u
make_bodies "$WORK/batched" "$BATCHED_REQS" 1000 b

TABLE="| mode | load | values/s | p50 per request | p99 per request | WAL fsyncs (batch thread) |
|---|---|---|---|---|---|"
for mode in never batch always; do
  port="$(free_port)"
  "$STRATAD" --data-dir "$WORK/data-$mode" --listen "127.0.0.1:$port" --log-level warn \
    --sync "$mode" --sync-interval-ms "$SYNC_INTERVAL_MS" >"$WORK/stratad-$mode.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_http "http://127.0.0.1:$port/healthz" stratad
  curl -fsS -H 'Content-Type: application/json' -d '{"name":"u"}' \
    "http://127.0.0.1:$port/v1/entities" >/dev/null
  feats="$(for i in $(seq 0 9); do printf '{"name":"f%d","type":"INT64"}' "$i"; [ "$i" = 9 ] || printf ,; done)"
  curl -fsS -H 'Content-Type: application/json' -d "{\"features\":[$feats]}" \
    "http://127.0.0.1:$port/v1/entities/u/features" >/dev/null
  for load in small batched; do
    wait_quiet
    res="$("$WORK/loadgen" replay --port "$port" --path /v1/entities/u:write \
      --connections "$CONNS" --header 'Content-Type: application/json' "$WORK/$load"/*.json \
      2>>"$WORK/gen.log")"
    if [ "$(kv "$res" errors)" != 0 ] || [ "$(kv "$res" non2xx)" != 0 ]; then
      log "$mode/$load failed: $res"; exit 1
    fi
    syncs="$(curl -fsS "http://127.0.0.1:$port/metrics" | awk '/^strata_wal_syncs_total/ {print $2}')"
    log "sync=$mode $load: $(kv "$res" values_per_s) values/s, p50 $(kv "$res" p50_us) us," \
      "p99 $(kv "$res" p99_us) us, $syncs background fsyncs so far"
    TABLE+="
| $mode | $load | $(kv "$res" values_per_s) | $(kv "$res" p50_us) us | $(kv "$res" p99_us) us | $syncs |"
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
done

REPORT="## Sync modes (bench/durability/run.sh)

- Machine: $(nproc) x $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(uname -sr),
  load average before: $(cut -d' ' -f1-3 /proc/loadavg); filesystem of /tmp: $(df -T /tmp | awk 'NR==2 {print $2}').
- small = $SMALL_REQS requests of 1 row x 10 features; batched = $BATCHED_REQS requests of
  1000 rows x 10 features; $CONNS requests in flight; sync_interval_ms = $SYNC_INTERVAL_MS.

$TABLE"
echo "$REPORT"
echo "$REPORT" >"$OUT"
log "report written to $OUT"
