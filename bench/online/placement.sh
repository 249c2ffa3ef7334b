#!/usr/bin/env bash
# bench/online/placement.sh - where the open-loop tail comes from: the same GET
# load at one fixed rate with stratad and the generator placed on the cores in
# several ways (docs/benchmarks.md, "Where the tail at half of peak comes from").
#
# Usage: bench/online/placement.sh BUILD_DIR [--rate R] [--seconds S] [--keep]
#
#   --rate R     open-loop GET JSON rate (default 36000: half of the 73.6k peak
#                bench/online/run.sh measured on the 2-core development machine)
#   --seconds S  measured seconds per placement, after a 4-s warm run (default 15)
#
# Loads 100k ids x 10 features once (as bench/online/run.sh does), then for
# each placement starts a fresh stratad on that data and runs loadgen (open
# loop, latency from the scheduled send time, 64 connections):
#   2 workers, any core | any core        (bench/online/run.sh's setting)
#   1 worker,  any core | any core
#   1 worker,  core 0   | core 1
#   2 workers, core 0   | core 1
#   2 workers, any core | core 1
# Needs 2 or more cores and taskset (util-linux). Prints one line per placement.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
usage() { sed -n '6,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

BUILD=""
RATE=36000
SECS=15
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rate) RATE="${2:?}"; shift ;;
    --seconds) SECS="${2:?}"; shift ;;
    --keep) KEEP=1 ;;
    -h|--help|-*) usage ;;
    *) [ -z "$BUILD" ] || usage; BUILD="$1" ;;
  esac
  shift
done
[ -n "$BUILD" ] || usage
STRATAD="$(cd "$BUILD" && pwd)/serving/stratad"
[ -x "$STRATAD" ] || { echo "bench: $STRATAD not found; build first" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "bench: needs 2 cores" >&2; exit 1; }
command -v taskset >/dev/null || { echo "bench: taskset is missing" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/strata-placement.XXXXXX")"
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
log "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

cc -O2 -std=c11 -Wall -Wextra -o "$WORK/loadgen" "$HERE/loadgen.c"
mkdir -p "$WORK/batches"
awk -v n=100000 -v dir="$WORK/batches" 'BEGIN {
  split("US DE FR GB JP BR IN CA", cc, " ");
  for (s = 0; s < n; s += 1000) {
    f = sprintf("%s/%06d.json", dir, s / 1000); printf "{\"rows\":[" > f;
    for (k = s; k < s + 1000; k++) {
      if (k > s) printf "," > f;
      printf "{\"entity_id\":\"u%d\",\"values\":{\"ctr_1d\":%.17g,\"ctr_7d\":%.17g,\"spend_30d\":%.2f,", \
        k, (k % 997) / 997.0, (k % 991) / 991.0, (k * 7919 % 100000) / 100.0 > f;
      printf "\"avg_session_s\":%.3f,\"score_a\":%.17g,\"score_b\":%.17g,\"orders_30d\":%d,", \
        (k % 3600) + 0.5, (k % 10007) / 10007.0, 1 - (k % 4001) / 4001.0, k % 97 > f;
      printf "\"days_active\":%d,\"country\":\"%s\",\"segment\":\"seg_%d\"}}", \
        k % 366, cc[k % 8 + 1], k % 13 > f;
    }
    printf "]}" > f; close(f);
  }
}'

PORT="$(free_port)"
SPID=""
start() { # workers cpu-list-or-empty
  local pin=()
  [ -n "$2" ] && pin=(taskset -c "$2")
  "${pin[@]}" "$STRATAD" --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" --log-level warn \
    --threads "$1" >>"$WORK/stratad.log" 2>&1 &
  SPID=$!
  PIDS+=("$SPID")
  wait_http "http://127.0.0.1:$PORT/healthz" stratad
}
stop() { kill "$SPID"; wait "$SPID" 2>/dev/null || true; }

start 2 ""
curl -fsS -X POST -d '{"name":"user"}' "http://127.0.0.1:$PORT/v1/entities" >/dev/null
curl -fsS -X POST "http://127.0.0.1:$PORT/v1/entities/user/features" -d '{"features":[
  {"name":"ctr_1d","type":"DOUBLE"},{"name":"ctr_7d","type":"DOUBLE"},
  {"name":"spend_30d","type":"DOUBLE"},{"name":"avg_session_s","type":"DOUBLE"},
  {"name":"score_a","type":"DOUBLE"},{"name":"score_b","type":"DOUBLE"},
  {"name":"orders_30d","type":"INT64"},{"name":"days_active","type":"INT64"},
  {"name":"country","type":"STRING"},{"name":"segment","type":"STRING"}]}' >/dev/null
"$WORK/loadgen" replay --port "$PORT" --path /v1/entities/user:write --connections 4 \
  --header 'Content-Type: application/json' "$WORK"/batches/*.json >"$WORK/load.txt" 2>/dev/null
log "loaded 100k ids: $(grep -o 'values_per_s=[0-9]*' "$WORK/load.txt")"
stop

lg() { # generator-cpu-list-or-empty duration warmup
  local pin=()
  [ -n "$1" ] && pin=(taskset -c "$1")
  "${pin[@]}" "$WORK/loadgen" rate --port "$PORT" --rate "$RATE" --duration "$2" --warmup "$3" \
    --connections 64 --path-prefix /v1/entities/user/values/u --ids 100000 \
    --header 'Accept: application/json' --seed "$((RANDOM + 1))" 2>>"$WORK/gen.log" || true
}
printf '%-32s %-10s %8s %8s %8s %8s %8s %s\n' stratad generator achieved p50_us p90_us p99_us \
  p999_us not_completed
place() { # label-server label-gen workers server-cpus gen-cpus
  start "$3" "$4"
  lg "$5" 4 1 >/dev/null
  local r
  r="$(lg "$5" "$SECS" 2 | grep '^RESULT' || true)"
  stop
  [ -n "$r" ] || { log "loadgen printed no result; see $WORK/gen.log"; exit 1; }
  printf '%-32s %-10s %8s %8s %8s %8s %8s %s\n' "$1" "$2" "$(kv "$r" achieved_rps)" \
    "$(kv "$r" p50_us)" "$(kv "$r" p90_us)" "$(kv "$r" p99_us)" "$(kv "$r" p999_us)" \
    "$(kv "$r" not_completed)"
}
place "2 workers, any core" "any core" 2 "" ""
place "1 worker, any core" "any core" 1 "" ""
place "1 worker, core 0" "core 1" 1 0 1
place "2 workers, core 0" "core 1" 2 0 1
place "2 workers, any core" "core 1" 2 "" 1
