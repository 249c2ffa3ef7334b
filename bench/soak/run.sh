#!/usr/bin/env bash
# bench/soak/run.sh - a soak: mixed load at 80% of peak for ten minutes, with no
# errors and resident memory flat.
#
# Usage: bench/soak/run.sh BUILD_DIR [--minutes N] [--out FILE] [--keep]
#
#   BUILD_DIR    CMake build directory (BUILD_DIR/serving/stratad)
#   --minutes N  soak length (default 10; 1 is a smoke run)
#   --out FILE   markdown results (default BUILD_DIR/bench-soak.md)
#   --keep       keep the temporary directory (logs, data, raw samples)
#
# What it does, on loopback, in one temporary directory:
#  1. starts stratad, creates entity `user` (score DOUBLE, clicks INT64) and
#     loads ENTITIES ids with batched writes;
#  2. starts a loop that every BG_EVERY_S seconds runs an inline import of 200
#     rows (followed to its end) and a streamed snapshot export of the entity,
#     until the end;
#  3. finds the peak rate of the mix (60% GET online reads, 25% POST
#     /v1/online:read of 10 ids, 15% writes of 10 rows) with
#     bench/online/loadgen.c --mix asked for far more than it can get (closed
#     loop on its connections), and with wrk (mix.lua) for context;
#  4. runs the same mix open loop at 80% of that peak for N minutes with
#     loadgen, which prints every 5 s the requests answered, errors, p50/p99
#     and stratad's VmRSS (/proc/PID/status);
#  5. fails if any request, import or export failed, or if RSS grew after
#     warm-up: the least-squares slope of RSS over the second half of the run,
#     times that half's length, must stay under RSS_TOL_MIB MiB or
#     RSS_TOL_PCT% of the RSS at the half's start, whichever is larger;
#  6. writes the curve (time, RSS, rate, p99, errors) as a table and an ASCII
#     plot to --out.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

usage() {
  sed -n '5,10p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

BUILD=""
MINUTES=10
OUT=""
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) MINUTES="${2:?}"; shift ;;
    --out) OUT="${2:?}"; shift ;;
    --keep) KEEP=1 ;;
    -h|--help|-*) usage ;;
    *) [ -z "$BUILD" ] || usage; BUILD="$1" ;;
  esac
  shift
done
[ -n "$BUILD" ] || usage
[[ "$MINUTES" =~ ^[1-9][0-9]*$ ]] || usage
BUILD="$(cd "$BUILD" && pwd)"
STRATAD="$BUILD/serving/stratad"
[ -x "$STRATAD" ] || { echo "bench: $STRATAD not found; build first" >&2; exit 1; }
OUT="${OUT:-$BUILD/bench-soak.md}"

# ---- parameters -------------------------------------------------------------
ENTITIES=20000       # ids loaded, read and written
MIX="get:60,post:25,write:15"
CONNS=32             # wrk and loadgen connections
PEAK_SECS=120        # the closed-loop peak measurement: a sustained rate, so...
PEAK_WARMUP=60       # ...its first minute (empty memtables, no compaction yet) is not counted
WRK_SECS=15          # wrk on the same mix, for context
LOAD_PCT=80          # soak rate, % of the peak
INTERVAL_S=5         # samples of rate, p99 and RSS
BG_EVERY_S=5         # an import and an export this often
RSS_TOL_MIB=16       # allowed RSS growth over the second half of the run ...
RSS_TOL_PCT=5        # ... or this % of RSS, whichever is larger

for t in wrk curl cc awk; do
  command -v "$t" >/dev/null || { echo "bench: $t is missing (make bench installs it)" >&2; exit 1; }
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/strata-soak.XXXXXX")"
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
log "machine: $(nproc) cores, load average $LOAD_BEFORE"

cc -O2 -std=c11 -Wall -Wextra -o "$WORK/loadgen" "$HERE/../online/loadgen.c"
LOADGEN="$WORK/loadgen"

# ---- stratad ------------------------------------------------------------------
mkdir -p "$WORK/import"
PORT="$(free_port)"
URL="http://127.0.0.1:$PORT"
"$STRATAD" --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" --import-dir "$WORK/import" \
  --log-level warn >"$WORK/stratad.log" 2>&1 &
STRATA_PID=$!
PIDS+=("$STRATA_PID")
wait_http "$URL/healthz" stratad
log "stratad pid $STRATA_PID on port $PORT"

api() { # METHOD PATH BODY -> body on stdout; fails on non-2xx
  curl -fsS -X "$1" -H 'Content-Type: application/json' --data-binary "$3" "$URL$2"
}
api POST /v1/entities '{"name":"user","description":"bench/soak"}' >/dev/null
api POST /v1/entities/user/features \
  '{"features":[{"name":"score","type":"DOUBLE"},{"name":"clicks","type":"INT64"}]}' >/dev/null

mkdir -p "$WORK/batches"
awk -v n="$ENTITIES" -v dir="$WORK/batches" 'BEGIN {
  for (s = 0; s < n; s += 1000) {
    f = sprintf("%s/%06d.json", dir, s / 1000);
    printf "{\"rows\":[" > f;
    for (k = s; k < s + 1000 && k < n; k++)
      printf "%s{\"entity_id\":\"u%d\",\"values\":{\"score\":%.4f,\"clicks\":%d}}", \
        (k > s ? "," : ""), k, (k % 997) / 997.0, k % 89 > f;
    printf "]}" > f;
    close(f);
  }
}'
"$LOADGEN" replay --port "$PORT" --path /v1/entities/user:write --connections 4 \
  --header 'Content-Type: application/json' "$WORK"/batches/*.json >"$WORK/load.txt" 2>>"$WORK/gen.log" ||
  { log "loading failed: $(cat "$WORK/load.txt")"; exit 1; }
log "loaded $ENTITIES ids: $(grep -o 'values_per_s=[0-9]*' "$WORK/load.txt")"

# ---- background imports and exports ------------------------------------------------
BG_LOG="$WORK/background.log"
: >"$BG_LOG"
background() {
  local i=0 t0 body job state rows
  t0="$(date +%s)"
  while [ ! -e "$WORK/stop" ]; do
    i=$((i + 1))
    # An inline import of 200 rows, followed to its end.
    body="$(awk -v i="$i" -v n="$ENTITIES" 'BEGIN {
      printf "{\"entity\":\"user\",\"format\":\"csv\",\"entity_id_column\":\"id\",\"source\":{\"inline\":\"id,clicks\\n";
      for (k = 0; k < 200; k++) printf "u%d,%d\\n", (i * 200 + k) % n, i;
      printf "\"}}" }')"
    if job="$(api POST /v1/imports "$body" 2>>"$BG_LOG" | sed -n 's/.*"id":"\([0-9]*\)".*/\1/p')" && [ -n "$job" ]; then
      state=""
      for _ in $(seq 600); do
        state="$(curl -fsS "$URL/v1/jobs/$job" | sed -n 's/.*"state":"\([A-Z]*\)".*/\1/p')" || state=""
        case "$state" in SUCCEEDED|FAILED|CANCELLED) break ;; esac
        sleep 0.1
      done
      if [ "$state" = SUCCEEDED ]; then echo "$(($(date +%s) - t0)) import ok $job" >>"$BG_LOG"
      else echo "$(($(date +%s) - t0)) import FAIL job $job ended $state" >>"$BG_LOG"; fi
    else
      echo "$(($(date +%s) - t0)) import FAIL not accepted" >>"$BG_LOG"
    fi
    # A streamed snapshot export of every id.
    if rows="$(curl -fsS -X POST -H 'Content-Type: application/json' \
        --data-binary '{"entity":"user","format":"csv"}' "$URL/v1/exports:snapshot" | wc -l)" &&
       [ "$rows" -gt "$ENTITIES" ]; then
      echo "$(($(date +%s) - t0)) export ok $rows lines" >>"$BG_LOG"
    else
      echo "$(($(date +%s) - t0)) export FAIL ${rows:-0} lines" >>"$BG_LOG"
    fi
    sleep "$BG_EVERY_S"
  done
}
background &
BG_PID=$!
PIDS+=("$BG_PID")

# ---- peak (with the background imports and exports running) -----------------------------
# The soak's own generator, asked for far more than the server can answer, is
# closed loop on its CONNS connections: what it achieves over the second minute
# of two is the sustained peak of this generator and server together on this
# machine, and 80% of it is the soak's rate. (A 15-s peak into empty memtables
# overstated it by ~75%: 24.5k req/s where 13.8k held for ten minutes.) wrk on the same mix (mix.lua, two threads) is measured for context.
# (loadgen's own --warmup counts by scheduled send time, which a saturating rate
# puts all in the warm-up: so the warm-up is a separate, discarded run.)
"$LOADGEN" rate --port "$PORT" --rate 1000000 --duration "$PEAK_WARMUP" --warmup 0 \
  --connections "$CONNS" --ids "$ENTITIES" --mix "$MIX" --entity user --write-feature score \
  --header 'Content-Type: application/json' --header 'Accept: application/json' \
  >/dev/null 2>>"$WORK/gen.log" || true
"$LOADGEN" rate --port "$PORT" --rate 1000000 --duration "$((PEAK_SECS - PEAK_WARMUP))" --warmup 0 \
  --connections "$CONNS" --ids "$ENTITIES" --mix "$MIX" --entity user --write-feature score \
  --header 'Content-Type: application/json' --header 'Accept: application/json' \
  >"$WORK/peak.txt" 2>>"$WORK/gen.log" || true
PEAK_LINE="$(grep '^RESULT' "$WORK/peak.txt")" || { log "loadgen printed no peak"; exit 1; }
PEAK="$(kv "$PEAK_LINE" achieved_rps)"
[ "$(kv "$PEAK_LINE" errors)" = 0 ] && [ "$(kv "$PEAK_LINE" non2xx)" = 0 ] ||
  { log "errors at peak: $PEAK_LINE"; exit 1; }
WEIGHTS="$(sed 's/[a-z]*://g; s/,/ /g' <<<"$MIX")"
# shellcheck disable=SC2086 # WEIGHTS is three words
WRK_LINE="$(wrk -t2 -c"$CONNS" -d"${WRK_SECS}s" -s "$HERE/mix.lua" "$URL" -- "$ENTITIES" $WEIGHTS |
  grep '^RESULT')" || { log "wrk printed no result"; exit 1; }
[ "$(kv "$WRK_LINE" errors)" = 0 ] || { log "errors under wrk: $WRK_LINE"; exit 1; }
RATE="$(awk -v p="$PEAK" -v f="$LOAD_PCT" 'BEGIN {printf "%.0f", p * f / 100}')"
log "peak of the mix: $PEAK req/s with loadgen (wrk: $(kv "$WRK_LINE" rps) req/s);" \
  "soak at $LOAD_PCT%: $RATE req/s for $MINUTES min"

# ---- RocksDB's backlog, once a second -------------------------------------------------
# What makes writes wait (docs/operations.md, "Metrics"): level-0 files (RocksDB
# slows writes at 20 in one column family, stops them at 36), memtables waiting
# for a flush, the compaction debt, write stops and slow-downs, and the longest
# WAL fsync so far. One line per second: t_s then name=value.
sample_store() {
  local t0 m
  t0="$(date +%s%N)"
  while [ ! -e "$WORK/stop" ]; do
    if m="$(curl -fsS --max-time 5 "$URL/metrics")"; then
      awk -v t="$(( ($(date +%s%N) - t0) / 1000000 ))" '
        /^strata_rocksdb_l0_files\{scope="max_cf"\}/ { l0 = $2 }
        /^strata_rocksdb_immutable_memtables / { imm = $2 }
        /^strata_rocksdb_pending_compaction_bytes / { pend = $2 }
        /^strata_rocksdb_running\{job="compaction"\}/ { comp = $2 }
        /^strata_rocksdb_write_stopped / { stop = $2 }
        /^strata_rocksdb_delayed_write_rate_bytes / { delay = $2 }
        /^strata_wal_sync_seconds_max / { wal = $2 }
        /^strata_store_bytes\{component="memtable"\}/ { mt = $2 }
        /^strata_rocksdb_memory_bytes\{component="block_cache"\}/ { bc = $2 }
        /^strata_rocksdb_memory_bytes\{component="table_readers"\}/ { tr = $2 }
        /^strata_heap_bytes\{state="in_use"\}/ { hu = $2 }
        /^strata_heap_bytes\{state="free"\}/ { hf = $2 }
        /^process_resident_memory_bytes / { rss = $2 }
        END { m = 1048576
              printf "STORE t_ms=%d l0_max_cf=%d immutable=%d pending_mib=%.1f compactions=%d stopped=%d delayed=%d wal_sync_max_s=%s", \
                t, l0, imm, pend / m, comp, stop, (delay > 0), wal
              printf " rss_mib=%.1f memtable_mib=%.1f block_cache_mib=%.1f table_readers_mib=%.1f heap_in_use_mib=%.1f heap_free_mib=%.1f\n", \
                rss / m, mt / m, bc / m, tr / m, hu / m, hf / m }' <<<"$m"
    else
      echo "STORE t_ms=$(( ($(date +%s%N) - t0) / 1000000 )) unanswered=1"
    fi
    sleep 1
  done
}

# ---- the soak -------------------------------------------------------------------------
log "soaking: samples every ${INTERVAL_S}s in $WORK/soak.txt, the store's backlog every 1s in $WORK/store.txt"
sample_store >"$WORK/store.txt" &
SAMPLER_PID=$!
PIDS+=("$SAMPLER_PID")
SOAK_RC=0
"$LOADGEN" rate --port "$PORT" --rate "$RATE" --duration "$((MINUTES * 60))" --warmup 5 \
  --connections "$CONNS" --ids "$ENTITIES" --mix "$MIX" --entity user --write-feature score \
  --header 'Content-Type: application/json' --header 'Accept: application/json' \
  --interval "$INTERVAL_S" --rss-pid "$STRATA_PID" --seed "$((RANDOM + 1))" \
  >"$WORK/soak.txt" 2>>"$WORK/gen.log" || SOAK_RC=$?
touch "$WORK/stop"
wait "$BG_PID" 2>/dev/null || true
wait "$SAMPLER_PID" 2>/dev/null || true
# The backlog over the soak: worst level-0 count, seconds with writes stopped
# or slowed, seconds the metrics went unanswered, the longest WAL fsync.
read -r ST_L0 ST_IMM ST_PEND ST_STOP ST_DELAY ST_UNANS ST_WAL <<<"$(awk '
  { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    if (v["unanswered"]) { un++; delete v; next }
    if (v["l0_max_cf"] > l0) l0 = v["l0_max_cf"]; if (v["immutable"] > imm) imm = v["immutable"]
    if (v["pending_mib"] > pend) pend = v["pending_mib"]
    stop += v["stopped"]; delay += v["delayed"]; wal = v["wal_sync_max_s"]; delete v }
  END { printf "%d %d %.1f %d %d %d %s\n", l0, imm, pend, stop, delay, un, (wal == "" ? 0 : wal) }' \
  "$WORK/store.txt")"
# Where resident memory went over the second half: the growth each component's
# least-squares slope implies (same method as the RSS verdict below), from the
# once-a-second /metrics samples. The heap's "in use" includes the block cache
# and the memtables (both malloc'd); "other" is in use minus the two.
MEM_SPLIT="$(awk -v total="$((MINUTES * 60))" '
  { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    t = v["t_ms"] / 1000
    if (!v["unanswered"] && t > total / 2 && v["rss_mib"] != "") {
      v["other_mib"] = v["heap_in_use_mib"] - v["block_cache_mib"] - v["memtable_mib"]
      n++; sx += t; sxx += t * t
      for (k in v) if (k ~ /_mib$/) { sy[k] += v[k]; sxy[k] += t * v[k]; last[k] = v[k] } }
    delete v }
  END { if (n < 2) { print "too few samples"; exit }
    split("rss_mib heap_in_use_mib block_cache_mib memtable_mib other_mib heap_free_mib", ks, " ")
    split("RSS|heap in use|block cache|memtables|other heap in use|heap free (kept by malloc)", names, "|")
    d = n * sxx - sx * sx
    for (j = 1; j <= 6; j++) { k = ks[j]; b = (n * sxy[k] - sx * sy[k]) / d
      printf "%s%s %+.1f MiB (%.1f at the end)", (j > 1 ? "; " : ""), names[j], b * total / 2, last[k] } }' \
  "$WORK/store.txt")"
RESULT="$(grep '^RESULT' "$WORK/soak.txt")" || { log "loadgen printed no result; see $WORK/gen.log"; exit 1; }
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---- verdict ---------------------------------------------------------------------------
IMPORTS_OK="$(grep -c ' import ok ' "$BG_LOG" || true)"
EXPORTS_OK="$(grep -c ' export ok ' "$BG_LOG" || true)"
BG_FAIL="$(grep -c 'FAIL' "$BG_LOG" || true)"
REQ_ERR=$(($(kv "$RESULT" non2xx) + $(kv "$RESULT" errors) + $(kv "$RESULT" not_completed)))
LOG_ERR="$(grep -c -E ' (ERROR|WARN) ' "$WORK/stratad.log" || true)"
# Least squares over the second half: slope (MiB/min), the growth it implies,
# and the tolerance.
read -r SLOPE GROWTH TOL RSS_MID RSS_END RSS_MAX <<<"$(grep '^INTERVAL' "$WORK/soak.txt" |
  awk -v total="$((MINUTES * 60))" -v tm="$RSS_TOL_MIB" -v tp="$RSS_TOL_PCT" '
  { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    t = v["t_s"]; r = v["rss_kb"] / 1024; if (r > max) max = r; last = r
    if (t > total / 2) { n++; sx += t; sy += r; sxx += t * t; sxy += t * r; if (!first) first = r } }
  END { if (n < 2) { print "0 0 0 0 0 0"; exit }
    b = (n * sxy - sx * sy) / (n * sxx - sx * sx)   # MiB per second
    g = b * total / 2; tol = tm; if (first * tp / 100 > tol) tol = first * tp / 100
    printf "%.3f %.1f %.1f %.1f %.1f %.1f\n", b * 60, g, tol, first, last, max }')"
VERDICT="PASS"
REASONS=""
[ "$REQ_ERR" = 0 ] || { VERDICT="FAIL"; REASONS+=" $REQ_ERR requests failed or were not completed;"; }
[ "$BG_FAIL" = 0 ] || { VERDICT="FAIL"; REASONS+=" $BG_FAIL imports/exports failed;"; }
awk -v g="$GROWTH" -v t="$TOL" 'BEGIN {exit !(g <= t)}' ||
  { VERDICT="FAIL"; REASONS+=" RSS grew $GROWTH MiB over the second half (tolerance $TOL MiB);"; }

# ---- results -----------------------------------------------------------------------------
{
  echo "## bench/soak results ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
  echo
  echo "- Machine: $(nproc) cores, load average before $LOAD_BEFORE, after $LOAD_AFTER" \
    "(shared: other processes' load is in every number)."
  echo "- stratad \`$("$STRATAD" --version 2>/dev/null || echo '?')\`, build \`$(basename "$BUILD")\`" \
    "$(grep -m1 CMAKE_BUILD_TYPE:STRING "$BUILD/CMakeCache.txt" 2>/dev/null | cut -d= -f2); $ENTITIES ids of \`user\`."
  echo "- Mix ($MIX): GET online read, POST online:read of 10 ids, write of 10 rows; plus every" \
    "${BG_EVERY_S}s an inline import of 200 rows (followed to its end) and a streamed snapshot export."
  echo "- Peak (sustained: ${PEAK_SECS}s closed loop, the first ${PEAK_WARMUP}s not counted; imports and exports running): loadgen --mix saturated on $CONNS" \
    "connections $PEAK req/s; for context wrk -t2 -c$CONNS" \
    "(mix.lua) $(kv "$WRK_LINE" rps) req/s, p99 $(kv "$WRK_LINE" p99_us) us."
  echo "- Soak: $MINUTES min open loop at $LOAD_PCT% = $RATE req/s (loadgen --mix, $CONNS connections," \
    "latency from the scheduled send time): achieved $(kv "$RESULT" achieved_rps) req/s," \
    "p50 $(kv "$RESULT" p50_us) us, p99 $(kv "$RESULT" p99_us) us, p99.9 $(kv "$RESULT" p999_us) us," \
    "max $(kv "$RESULT" max_us) us; sent get/post/write $(kv "$RESULT" sent_get)/$(kv "$RESULT" sent_post)/$(kv "$RESULT" sent_write)."
  echo "- Errors: $(kv "$RESULT" non2xx) non-2xx, $(kv "$RESULT" errors) connection errors," \
    "$(kv "$RESULT" not_completed) not completed; imports $IMPORTS_OK ok, exports $EXPORTS_OK ok," \
    "$BG_FAIL failed; stratad log: $LOG_ERR WARN/ERROR lines."
  echo "- RSS: $RSS_MID MiB at mid-run, $RSS_END MiB at the end, max $RSS_MAX MiB; slope over the" \
    "second half $SLOPE MiB/min = $GROWTH MiB over it (tolerance $TOL MiB: max of $RSS_TOL_MIB MiB" \
    "and $RSS_TOL_PCT% of the mid-run RSS)."
  echo "- RocksDB's backlog (sampled every second from /metrics): at most $ST_L0 level-0 files in" \
    "one column family (writes slow at 20, stop at 36), $ST_IMM memtables waiting for a flush," \
    "$ST_PEND MiB of compaction debt; writes stopped in $ST_STOP samples, slowed in $ST_DELAY;" \
    "/metrics unanswered within 5 s in $ST_UNANS samples; longest WAL fsync ${ST_WAL} s."
  echo "- Memory over the second half, by component (least-squares growth from the 1 s /metrics" \
    "samples): $MEM_SPLIT."
  echo "- **Verdict: $VERDICT**${REASONS:+ —$REASONS}"
  echo
  echo "RSS over time (each column one ${INTERVAL_S}s sample; rows from the lowest to the highest sample):"
  echo
  echo '```'
  grep '^INTERVAL' "$WORK/soak.txt" | awk '
    { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      r[NR] = v["rss_kb"] / 1024; if (NR == 1 || r[NR] < lo) lo = r[NR]; if (r[NR] > hi) hi = r[NR] }
    END { rows = 10; if (hi - lo < 1) hi = lo + 1
      for (y = rows; y >= 1; y--) {
        lvl = lo + (hi - lo) * (y - 0.5) / rows; line = sprintf("%7.1f MiB |", lo + (hi - lo) * y / rows)
        for (x = 1; x <= NR; x++) line = line ((r[x] >= lvl) ? "#" : " ")
        print line }
      line = "            +"; for (x = 1; x <= NR; x++) line = line ((x % 12) ? "-" : "+"); print line
      print "             time; + every minute" }'
  echo '```'
  echo
  echo "| t (s) | RSS (MiB) | req/s | p50 (us) | p99 (us) | errors | L0 files (max) | s stopped / slowed | block cache / memtables / other heap / heap free (MiB) |"
  echo "|---|---|---|---|---|---|---|---|---|"
  # Store samples binned by the interval they fall in (the soak starts just
  # after the sampler, so their clocks agree within a second).
  awk -v step="$INTERVAL_S" '
    FNR == NR { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      b = int(v["t_ms"] / 1000 / step) + 1
      if (v["l0_max_cf"] > l0[b]) l0[b] = v["l0_max_cf"]; st[b] += v["stopped"]; dl[b] += v["delayed"]
      if (v["rss_mib"] != "") mem[b] = sprintf("%.0f / %.0f / %.0f / %.0f", v["block_cache_mib"], v["memtable_mib"],
        v["heap_in_use_mib"] - v["block_cache_mib"] - v["memtable_mib"], v["heap_free_mib"])
      delete v; next }
    /^INTERVAL/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      b = int(v["t_s"] / step + 0.5)
      printf "| %s | %.1f | %s | %s | %s | %d | %d | %d / %d | %s |\n", v["t_s"], v["rss_kb"] / 1024, v["rps"],
        v["p50_us"], v["p99_us"], v["non2xx"] + v["errors"], l0[b], st[b], dl[b], mem[b]; delete v }' \
    "$WORK/store.txt" "$WORK/soak.txt"
  echo
  echo "Reproduce: \`bench/soak/run.sh $(basename "$BUILD") --minutes $MINUTES\` (or \`make bench BENCH=soak\`)."
} >"$OUT"

cat "$OUT"
log "results written to $OUT"
[ "$VERDICT" = PASS ] && [ "$SOAK_RC" = 0 ]
