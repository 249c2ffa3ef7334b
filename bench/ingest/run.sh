#!/usr/bin/env bash
# bench/ingest/run.sh - Strata's file import against its storage ceiling and PostgreSQL COPY.
#
# Usage: bench/ingest/run.sh BUILD_DIR [--quick] [--runs N] [--rows N] [--out FILE] [--keep] [--no-fail-mode]
#
#   BUILD_DIR      CMake build directory (BUILD_DIR/serving/stratad)
#   --quick        100k rows and one run: a smoke test, not a measurement
#   --runs N       repetitions of every measurement (default 3; medians are reported)
#   --rows N       rows in the CSV (default 1000000; 100000 with --quick)
#   --out FILE     markdown results (default BUILD_DIR/bench-ingest.md)
#   --keep         keep the temporary directory (CSV, logs, data) for inspection
#   --no-fail-mode skip the on_error=fail import (it holds the whole file in memory)
#
# What it does, all in one temporary directory:
#  1. writes one CSV: header user_id,event_time,f0,f1,f2,f3,f4; ROWS rows, one per
#     distinct user id (u + 7 digits, in a shuffled order), event times RFC 3339
#     with microseconds spread over one day; f0..f2 DOUBLE, f3 INT64, f4 STRING of
#     8 characters. Every value encodes to 9 bytes in Strata (tag + 8 bytes);
#  2. Strata: for every run a fresh stratad (default options, --sync never) with
#     --import-dir, entity `user` with features f0..f4, POST /v1/imports with
#     on_error=skip_row (the throughput mode and the headline figure; the file
#     is over import_load_min_mb, so its batches of 1M values are loaded as table
#     files), polling GET /v1/jobs/{id} until it ends; then the same
#     with on_error=fail (one atomic write, --import-atomic-max-values raised to
#     the file's value count). Time: the job's result.duration_ms, and wall clock
#     from the POST to seeing SUCCEEDED;
#  3. db_bench (rocksdb-tools, or the one built with BUILD_DIR's RocksDB when it links
#     scripts/rocksdb-release.sh's build: bench/lib.sh rocksdb_env): fillrandom of the
#     keys Strata writes — per row its `values` row (the five features share one write
#     group: one key per row) and its latest-row operand, here as 2 puts of their
#     average sizes — in WriteBatches of as many keys as a skip_row batch holds, WAL
#     on, no fsync, one thread, LZ4, 10-bit bloom: the storage ceiling. Also, as
#     context, the `values` rows alone (ROWS keys);
#  4. bench/ingest/rawwrite.c (compiled here against the RocksDB BUILD_DIR links): Strata's
#     import writes without Strata. `batches`: the very WriteBatches a skip_row
#     import commits (1 Put into `values` + 1 Merge into `latest` per row, keys
#     and values in Strata's layouts, store/store.c's column family options),
#     built in memory before the clock starts: the ceiling of today's write path.
#     `sst`: the same data sorted, written with SstFileWriter and ingested with
#     IngestExternalFile: what a bulk-load path (not in Strata) could reach;
#  5. PostgreSQL (Debian postgresql, default settings: fsync on,
#     synchronous_commit on, wal_level replica, shared_buffers 128MB): a fresh
#     cluster, `COPY events FROM 'file' WITH (FORMAT csv, HEADER)` into a table
#     without indexes (the target peer), and, as context, into one with a
#     primary key (user_id, event_time);
#  6. prints a results table and the targets, and writes them as markdown to --out.
#
# CPU seconds (the measured process with all its threads, RocksDB's flushes and
# compactions included; for PostgreSQL the whole cluster) are printed beside
# every time: on a shared machine they move less than wall clock does, and
# "other_cores" in the raw lines says how busy the rest of the machine was.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

usage() {
  sed -n '3,12p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

BUILD=""
QUICK=0
RUNS=""
RUNS_ARG=""
ROWS=""
OUT=""
KEEP=0
FAIL_MODE=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --runs) RUNS="${2:?}"; RUNS_ARG=1; shift ;;
    --rows) ROWS="${2:?}"; shift ;;
    --out) OUT="${2:?}"; shift ;;
    --keep) KEEP=1 ;;
    --no-fail-mode) FAIL_MODE=0 ;;
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
OUT="${OUT:-$BUILD/bench-ingest.md}"

# ---- parameters -------------------------------------------------------------
FEATURES=5
ID_LEN=8              # "u" + 7 digits
VALUE_BYTES=9         # Strata's encoding of a DOUBLE, an INT64 or an 8-byte STRING
BATCH_VALUES=50000    # Strata's skip_row batch (LIMIT_IMPORT_BATCH_VALUES)
POLL_S=0.02           # job polling interval: the wall clock's resolution
QUIET_MAX=0.15        # cores others may use before a measurement starts
QUIET_WAIT_S=30       # longest wait for a quiet second before each measurement
if [ "$QUICK" = 1 ]; then
  ROWS="${ROWS:-100000}"; RUNS="${RUNS:-1}"
else
  ROWS="${ROWS:-1000000}"; RUNS="${RUNS:-3}"
fi
if ! [ "$ROWS" -ge 1 ] 2>/dev/null || [ "$ROWS" -gt 10000000 ]; then
  echo "bench: --rows must be 1..10000000 (ids are u + 7 digits)" >&2; exit 2
fi
VALUES=$((ROWS * FEATURES))
BATCH_ROWS=$((BATCH_VALUES / FEATURES))
# Strata's `values` key: entity u32 | len u16 | id | group u32 | ~event | ~created | ~seq,
# and its value: the row's cells, each varint feature id (1 byte here), varint length, value.
KEY_BYTES=$((4 + 2 + ID_LEN + 4 + 8 + 8 + 8))
ROW_BYTES=$((FEATURES * (2 + VALUE_BYTES)))
# Its `latest` merge operand per row: key entity | len | id; a fragment: format byte,
# event i64, created i64, seq u64, then the same 5 cells as the values row.
LATEST_KEY_BYTES=$((4 + 2 + ID_LEN))
LATEST_ROW_BYTES=$((1 + 24 + ROW_BYTES))
# The bytes-matched db_bench: the same key count and bytes per row as Strata's batch,
# as 2 puts of the average sizes.
BM_KEYS=$((ROWS * 2))
BM_KEY_BYTES=$(( (KEY_BYTES + LATEST_KEY_BYTES + 1) / 2 ))
BM_VALUE_BYTES=$(( (ROW_BYTES + LATEST_ROW_BYTES + 1) / 2 ))

for t in curl python3 awk cc; do
  command -v "$t" >/dev/null || { echo "bench: $t is missing (make bench installs it)" >&2; exit 1; }
done
PG_BIN=""
for d in "$(pg_config --bindir 2>/dev/null || true)" \
  $(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V -r); do
  if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then PG_BIN="$d"; break; fi
done
[ -n "$PG_BIN" ] || { echo "bench: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
PSQL="$PG_BIN/psql"
[ -x "$PSQL" ] || PSQL="$(command -v psql)"
# The server refuses to run as root: as root, run it as `postgres`.
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || { echo "bench: running as root needs the postgres user (Debian's postgresql package makes it)" >&2; exit 1; }
  AS_PG=(runuser -u postgres --)
else
  AS_PG=()
fi

# ---- processes and cleanup -----------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/strata-bench-ingest.XXXXXX")"
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
# PostgreSQL (another user when we are root) reads the CSV and owns its cluster here.
chmod 711 "$WORK"
PGDATA=""
# cleanup (bench/lib.sh) calls this first: PostgreSQL is not one of our PIDS.
bench_before_cleanup() {
  if [ -n "$PGDATA" ] && [ -f "$PGDATA/postmaster.pid" ]; then
    "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true
  fi
}

# jget FILE EXPR: a field of a JSON document (python3 expression on `d`).
jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); v=eval(sys.argv[2]); print("" if v is None else v)' "$1" "$2"; }

# ---- machine -------------------------------------------------------------------
NPROC="$(nproc)"
CPU_MODEL="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
KERNEL="$(uname -sr)"
MEM_GIB="$(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo)"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
DISK="$(df -PT "$WORK" | awk 'NR==2 {print $2 " on " $1}')"
log "machine: $NPROC x $CPU_MODEL, $MEM_GIB GiB, $KERNEL, $WORK on $DISK, load average $LOAD_BEFORE"
if awk -v l="${LOAD_BEFORE%% *}" 'BEGIN {exit !(l > 0.5)}'; then
  log "WARNING: the machine is not idle (load average $LOAD_BEFORE); numbers will be noisy"
fi

# ---- Strata's writes without Strata ----------------------------------------------------
rocksdb_env "$BUILD"
command -v "$DB_BENCH" >/dev/null || { log "$DB_BENCH is missing (make bench installs rocksdb-tools)"; exit 1; }
# shellcheck disable=SC2086 # several flags
cc -O2 -std=c11 -Wall -Wextra $ROCKSDB_CFLAGS -o "$WORK/rawwrite" "$HERE/rawwrite.c" $ROCKSDB_LIBS

# ---- the CSV ---------------------------------------------------------------------
IMPORT_DIR="$WORK/import"
mkdir -p "$IMPORT_DIR"
chmod 755 "$IMPORT_DIR"
CSV="$IMPORT_DIR/events.csv"
# Row k is user u(k*7919+12345 mod ROWS): every id once, in a shuffled order (7919 is
# a prime that divides no power of ten). Event times run through 2024-06-01.
awk -v n="$ROWS" 'BEGIN {
  print "user_id,event_time,f0,f1,f2,f3,f4";
  for (k = 0; k < n; k++) {
    u = (k * 7919 + 12345) % n;
    us = int(k * 86400000000 / n);
    s = int(us / 1000000);
    printf "u%07d,2024-06-01T%02d:%02d:%02d.%06dZ,%.6f,%.2f,%.3f,%d,seg_%04d\n",
      u, int(s / 3600), int(s / 60) % 60, s % 60, us % 1000000,
      (k % 997) / 997.0, (k * 7919 % 100000) / 100.0, (k % 3600) + 0.5, k % 1000, u % 5000;
  }
}' >"$CSV"
chmod 644 "$CSV"
CSV_BYTES="$(stat -c %s "$CSV")"
CSV_MIB="$(awk -v b="$CSV_BYTES" 'BEGIN {printf "%.1f", b / 1048576}')"
[ "$(wc -l <"$CSV")" = $((ROWS + 1)) ] || { log "the CSV does not hold $ROWS rows"; exit 1; }
log "CSV: $ROWS rows x $FEATURES features, $CSV_BYTES bytes ($CSV_MIB MiB): $(sed -n 2p "$CSV")"

RAW="$WORK/raw.txt"
: >"$RAW"

# ---- Strata -------------------------------------------------------------------------
STRATA_VERSION="$("$STRATAD" --version 2>/dev/null || echo '?')"
# strata_run MODE RUN: a fresh stratad, one import; appends a line to RAW.
strata_run() {
  local mode=$1 run=$2 port url data pid body job id state t0 t1 c0 c1 s0 s1 f rss
  port="$(free_port)"
  url="http://127.0.0.1:$port"
  data="$WORK/strata-$mode-$run"
  "$STRATAD" --data-dir "$data" --listen "127.0.0.1:$port" --import-dir "$IMPORT_DIR" \
    --import-atomic-max-values "$((VALUES > 1000000 ? VALUES : 1000000))" --log-level warn \
    >"$WORK/stratad-$mode-$run.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_http "$url/healthz" stratad
  api() { curl -fsS -X "$1" -H 'Content-Type: application/json' --data-binary "$3" "$url$2"; }
  api POST /v1/entities '{"name":"user","description":"bench/ingest"}' >/dev/null
  api POST /v1/entities/user/features '{"features":[
    {"name":"f0","type":"DOUBLE"},{"name":"f1","type":"DOUBLE"},{"name":"f2","type":"DOUBLE"},
    {"name":"f3","type":"INT64"},{"name":"f4","type":"STRING"}]}' >/dev/null
  body="{\"entity\":\"user\",\"format\":\"csv\",\"source\":{\"path\":\"events.csv\"},
    \"entity_id_column\":\"user_id\",\"event_time_column\":\"event_time\",
    \"time_unit\":\"rfc3339\",\"on_error\":\"$mode\"}"
  job="$WORK/job-$mode-$run.json"
  wait_quiet
  s0="$(sys_ticks)"; c0="$(cpu_ticks "$pid")"
  t0="$(now_ns)"
  api POST /v1/imports "$body" >"$job"
  id="$(jget "$job" 'd["job"]["id"]')"
  # Polled with curl and grep: a python3 start per poll (~50 ms) would be
  # counted in the wall time.
  while :; do
    curl -fsS "$url/v1/jobs/$id" >"$job"
    state="$(grep -o '"state": *"[A-Z]*"' "$job" | head -n 1 | grep -o '[A-Z]*"$' | tr -d '"')"
    case "$state" in PENDING|RUNNING) sleep "$POLL_S" ;; *) break ;; esac
  done
  t1="$(now_ns)"
  state="$(jget "$job" 'd["job"]["state"]')"
  c1="$(cpu_ticks "$pid")"; s1="$(sys_ticks)"
  rss="$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")"
  if [ "$state" != SUCCEEDED ]; then
    log "strata $mode import ended $state: $(jget "$job" 'd["job"]["error"]')"
    exit 1
  fi
  f="$(jget "$job" '" ".join("%s=%s" % (k, d["job"]["result"][k]) for k in ("rows_read","rows_imported","rows_rejected","values_written","duration_ms","source_bytes"))')"
  if [ "$(kv "$f" rows_imported)" != "$ROWS" ] || [ "$(kv "$f" values_written)" != "$VALUES" ]; then
    log "strata $mode: expected $ROWS rows and $VALUES values, the job says $f"
    exit 1
  fi
  local line
  line="strata-$mode run=$run $f wall_ms=$(( (t1 - t0) / 1000000 ))"
  line+=" $(awk -v s=$((s1 - s0)) -v c=$((c1 - c0)) -v h="$CLK_TCK" -v d=$((t1 - t0)) 'BEGIN {
    o = (s - c) / h; if (o < 0) o = 0; printf "server_cpu_s=%.2f other_cores=%.2f", c / h, o * 1e9 / d}')"
  line+=" peak_rss_mib=$((rss / 1024))"
  line+=" sst_files=$(find "$data" -name '*.sst' | wc -l) disk_mib=$(du -sm "$data" | cut -f1)"
  echo "$line" >>"$RAW"
  log "strata $mode run $run: $(kv "$line" duration_ms) ms in the job, $(kv "$line" wall_ms) ms wall;" \
    "stratad CPU $(kv "$line" server_cpu_s) s, peak RSS $(kv "$line" peak_rss_mib) MiB," \
    "other processes $(kv "$line" other_cores) cores"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  if grep -q -E ' (ERROR|WARN) ' "$WORK/stratad-$mode-$run.log"; then
    log "stratad $mode run $run logged warnings:"; grep -E ' (ERROR|WARN) ' "$WORK/stratad-$mode-$run.log" | head -n 5 >&2
  fi
  rm -rf "$data"
}

# ---- db_bench -----------------------------------------------------------------------
# The same RocksDB options Strata sets where db_bench has a flag (store/store.c):
# LZ4, 64 MiB memtables within 256 MiB, 2 background jobs, bytes_per_sync 1 MiB,
# dynamic level bytes, a 10-bit bloom filter; WAL on, no fsync (Strata's --sync never).
DB_BENCH_COMMON=(--benchmarks=fillrandom --sync=0 --disable_wal=0 --threads=1
  --compression_type=lz4 --write_buffer_size=67108864
  --db_write_buffer_size=268435456 --max_background_jobs=2 --bytes_per_sync=1048576
  --level_compaction_dynamic_level_bytes=true --bloom_bits=10 --seed=1 --histogram=0)
# db_bench_run NAME RUN NUM KEY VALUE BATCH
db_bench_run() {
  local name=$1 run=$2 num=$3 ksz=$4 vsz=$5 batch=$6 t0 t1 out line ops secs s0 s1
  wait_quiet
  s0="$(sys_ticks)"; t0="$(now_ns)"
  out="$( { "$DB_BENCH" "${DB_BENCH_COMMON[@]}" --db="$WORK/db_bench" --num="$num" \
    --key_size="$ksz" --value_size="$vsz" --batch_size="$batch" 2>&1; times; } )" \
    || { log "db_bench failed: $out"; exit 1; }
  t1="$(now_ns)"; s1="$(sys_ticks)"
  echo "$out" >>"$WORK/db_bench.log"
  line="$(grep -E '^fillrandom[[:space:]]*:' <<<"$out")" || { log "db_bench printed no result: $out"; exit 1; }
  # "fillrandom   :  2.345 micros/op 426400 ops/sec 11.726 seconds 5000000 operations; 21.7 MB/s"
  ops="$(awk '{for (i = 1; i < NF; i++) if ($(i + 1) == "ops/sec") print $i}' <<<"$line")"
  secs="$(awk '{for (i = 1; i < NF; i++) if ($(i + 1) == "seconds") print $i}' <<<"$line")"
  local cpu
  cpu="$(tail -n 1 <<<"$out" | awk '{ s = 0; for (i = 1; i <= 2; i++) {
    split($i, a, /[ms]/); s += a[1] * 60 + a[2] } printf "%.2f", s }')"
  line="$name run=$run keys=$num key_bytes=$ksz value_bytes=$vsz ops_per_s=$ops seconds=$secs"
  line+=" wall_ms=$(( (t1 - t0) / 1000000 ))"
  line+=" $(awk -v s=$((s1 - s0)) -v c="$cpu" -v h="$CLK_TCK" -v d=$((t1 - t0)) 'BEGIN {
    o = s / h - c; if (o < 0) o = 0; printf "server_cpu_s=%.2f other_cores=%.2f", c, o * 1e9 / d}')"
  line+=" disk_mib=$(du -sm "$WORK/db_bench" | cut -f1)"
  echo "$line" >>"$RAW"
  log "$name run $run: $ops keys/s ($num keys of $ksz+$vsz bytes in $secs s);" \
    "CPU $(kv "$line" server_cpu_s) s, other processes $(kv "$line" other_cores) cores"
  rm -rf "$WORK/db_bench"
}

# raw_run MODE RUN: rawwrite in a fresh directory.
raw_run() {
  local mode=$1 run=$2 out line cpu s0 s1 t0 t1
  wait_quiet
  s0="$(sys_ticks)"; t0="$(now_ns)"
  out="$( { "$WORK/rawwrite" "$mode" "$WORK/rawwrite-db" "$ROWS" 2>&1; times; } )" \
    || { log "rawwrite $mode failed: $out"; exit 1; }
  t1="$(now_ns)"; s1="$(sys_ticks)"
  line="$(grep '^RESULT' <<<"$out")" || { log "rawwrite printed no result: $out"; exit 1; }
  cpu="$(tail -n 1 <<<"$out" | awk '{ s = 0; for (i = 1; i <= 2; i++) {
    split($i, a, /[ms]/); s += a[1] * 60 + a[2] } printf "%.2f", s }')"
  line="raw-$mode run=$run ${line#RESULT mode="$mode" }"
  line+=" $(awk -v s=$((s1 - s0)) -v c="$cpu" -v h="$CLK_TCK" -v d=$((t1 - t0)) 'BEGIN {
    o = s / h - c; if (o < 0) o = 0; printf "cpu_s=%.2f other_cores=%.2f", c, o * 1e9 / d}')"
  line+=" disk_mib=$(du -sm "$WORK/rawwrite-db" | cut -f1)"
  echo "$line" >>"$RAW"
  log "rawwrite $mode run $run: $(kv "$line" rows_per_s) rows/s, $(kv "$line" values_per_s) values/s" \
    "($(kv "$line" seconds) s); process CPU $(kv "$line" cpu_s) s (with building the rows)," \
    "other processes $(kv "$line" other_cores) cores"
  rm -rf "$WORK/rawwrite-db"
}

# ---- PostgreSQL ---------------------------------------------------------------------
PG_VERSION="$("$PG_BIN/postgres" --version | awk '{print $3}')"
# Cluster, socket and log in one directory the server's user owns.
PGDIR="$WORK/pg"
PGDATA="$PGDIR/data"
PGSOCK="$PGDIR"
PGLOG="$PGDIR/postgres.log"
mkdir -p "$PGDATA"
[ "${#AS_PG[@]}" = 0 ] || chown -R postgres "$PGDIR"
"${AS_PG[@]}" "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
  >"$WORK/initdb.log" 2>&1 || { log "initdb failed:"; tail -n 5 "$WORK/initdb.log" >&2; exit 1; }
PGPORT="$(free_port)"
"${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PGLOG" -w -t 60 \
  -o "-p $PGPORT -k $PGSOCK -c listen_addresses=''" start >/dev/null \
  || { log "postgres did not start:"; tail -n 5 "$PGLOG" >&2; exit 1; }
PG_PID="$(head -n 1 "$PGDATA/postmaster.pid")"
pg() { "$PSQL" -X -q -v ON_ERROR_STOP=1 -h "$PGSOCK" -p "$PGPORT" -U postgres -d postgres "$@"; }
# CPU ticks of the cluster: the postmaster, the children it has reaped (cutime,
# cstime: a COPY's backend exits with its psql) and those alive now.
pg_ticks() {
  local f sum
  f="$(sed 's/^.*) //' "/proc/$PG_PID/stat")"
  read -r -a f <<<"$f"
  sum=$((f[11] + f[12] + f[13] + f[14]))
  # shellcheck disable=SC2046 # a list of pids
  echo $((sum + $(cpu_ticks $(cat "/proc/$PG_PID/task/$PG_PID/children" 2>/dev/null))))
}
PG_SETTINGS="$(pg -At -F= -c "select name, current_setting(name) from pg_settings where name in
  ('fsync','synchronous_commit','wal_level','full_page_writes','shared_buffers','max_wal_size',
   'checkpoint_timeout','wal_compression') order by name" | tr '\n' ' ')"
log "postgres $PG_VERSION pid $PG_PID on $PGSOCK port $PGPORT: $PG_SETTINGS"

# pg_run NAME RUN WITH_KEY: a fresh table, one COPY of the CSV.
pg_run() {
  local name=$1 run=$2 pk=$3 t0 t1 c0 c1 s0 s1 out ms n bpid
  local ddl="drop table if exists events; create table events (user_id text not null,
    event_time timestamptz not null, f0 double precision, f1 double precision,
    f2 double precision, f3 bigint, f4 text"
  if [ "$pk" = 1 ]; then ddl+=", primary key (user_id, event_time))"; else ddl+=")"; fi
  pg -c "$ddl" -c checkpoint >/dev/null
  wait_quiet
  s0="$(sys_ticks)"; c0="$(pg_ticks)"
  t0="$(now_ns)"
  out="$(pg -f - 2>&1 <<SQL
select pg_backend_pid() as bpid \\gset
\\echo BPID :bpid
\\timing on
copy events from '$CSV' with (format csv, header);
SQL
)" || { log "COPY failed: $out"; exit 1; }
  t1="$(now_ns)"
  # The backend's CPU is in the postmaster's cutime once it has been reaped.
  bpid="$(sed -n 's/^BPID //p' <<<"$out")"
  for _ in $(seq 100); do [ -e "/proc/$bpid" ] || break; sleep 0.05; done
  c1="$(pg_ticks)"; s1="$(sys_ticks)"
  ms="$(sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' <<<"$out" | tail -n 1)"
  n="$(pg -At -c 'select count(*) from events')"
  [ "$n" = "$ROWS" ] || { log "postgres holds $n rows, not $ROWS"; exit 1; }
  local line="$name run=$run rows=$n copy_ms=$ms wall_ms=$(( (t1 - t0) / 1000000 ))"
  line+=" $(awk -v s=$((s1 - s0)) -v c=$((c1 - c0)) -v h="$CLK_TCK" -v d=$((t1 - t0)) 'BEGIN {
    o = (s - c) / h; if (o < 0) o = 0; printf "server_cpu_s=%.2f other_cores=%.2f", c / h, o * 1e9 / d}')"
  line+=" table_mib=$(pg -At -c "select pg_total_relation_size('events') / 1048576")"
  echo "$line" >>"$RAW"
  log "$name run $run: COPY $ms ms ($(kv "$line" wall_ms) ms wall); postgres CPU" \
    "$(kv "$line" server_cpu_s) s, other processes $(kv "$line" other_cores) cores"
}

# ---- the runs: alternate who goes first so drift on a shared machine hits all alike ---
log "$RUNS run(s) of: strata skip_row$([ "$FAIL_MODE" = 1 ] && echo ', strata fail'), db_bench, rawwrite, postgres COPY"
for run in $(seq "$RUNS"); do
  steps=(strata dbb pg)
  [ $((run % 3)) = 2 ] && steps=(dbb pg strata)
  [ $((run % 3)) = 0 ] && steps=(pg strata dbb)
  for s in "${steps[@]}"; do
    case $s in
      strata)
        strata_run skip_row "$run"
        [ "$FAIL_MODE" = 1 ] && strata_run fail "$run"
        ;;
      dbb)
        db_bench_run db_bench "$run" "$BM_KEYS" "$BM_KEY_BYTES" "$BM_VALUE_BYTES" "$((2 * BATCH_ROWS))"
        db_bench_run db_bench_values "$run" "$ROWS" "$KEY_BYTES" "$ROW_BYTES" "$BATCH_ROWS"
        raw_run batches "$run"
        raw_run sst "$run"
        ;;
      pg)
        pg_run pg_copy "$run" 0
        pg_run pg_copy_pk "$run" 1
        ;;
    esac
  done
done

# ---- results -------------------------------------------------------------------------
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"
# stat NAME FIELD -> median over runs
stat_of() { grep "^$1 " "$RAW" | while read -r line; do kv "$line" "$2"; done | median; }
have() { grep -q "^$1 " "$RAW"; }
f0() { awk -v x="$1" 'BEGIN {printf "%.0f", x}'; }
k() { awk -v x="$1" 'BEGIN {printf "%.1fk", x / 1000}'; }
secs() { awk -v x="$1" 'BEGIN {printf "%.2f", x / 1000}'; }
per_s() { awk -v n="$1" -v ms="$2" 'BEGIN {printf "%.0f", n * 1000 / ms}'; }
S_MS="$(stat_of strata-skip_row duration_ms)"
S_WALL="$(stat_of strata-skip_row wall_ms)"
S_RPS="$(per_s "$ROWS" "$S_MS")"
S_VPS="$(per_s "$VALUES" "$S_MS")"
S_WALL_RPS="$(per_s "$ROWS" "$S_WALL")"
D_OPS="$(stat_of db_bench ops_per_s)"
D_SECS="$(stat_of db_bench seconds)"
DV_OPS="$(stat_of db_bench_values ops_per_s)"
DV_SECS="$(stat_of db_bench_values seconds)"
P_MS="$(stat_of pg_copy copy_ms)"
P_WALL="$(stat_of pg_copy wall_ms)"
P_RPS="$(per_s "$ROWS" "$P_MS")"
PK_MS="$(stat_of pg_copy_pk copy_ms)"
PK_RPS="$(per_s "$ROWS" "$PK_MS")"
DBENCH_VER="$("$DB_BENCH" --version 2>&1 | head -n 1) ($ROCKSDB_BUILD)"

REPRO="bench/ingest/run.sh $(basename "$BUILD")"
[ "$QUICK" = 1 ] && REPRO+=" --quick"
[ -n "$RUNS_ARG" ] && REPRO+=" --runs $RUNS"
[ "$FAIL_MODE" = 0 ] && REPRO+=" --no-fail-mode"
{
  echo "### bench/ingest results ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
  echo
  echo "- Machine: $NPROC x $CPU_MODEL, $MEM_GIB GiB RAM, $KERNEL; data on $DISK;" \
    "load average before $LOAD_BEFORE, after $LOAD_AFTER."
  echo "- Input: one CSV, $ROWS rows x $FEATURES features ($VALUES values), $CSV_BYTES bytes" \
    "($CSV_MIB MiB); header \`$(head -n 1 "$CSV")\`; first row \`$(sed -n 2p "$CSV")\`."
  echo "- stratad \`$STRATA_VERSION\`, build \`$(basename "$BUILD")\`" \
    "$(grep -m1 CMAKE_BUILD_TYPE:STRING "$BUILD/CMakeCache.txt" 2>/dev/null | cut -d= -f2), default options" \
    "(--sync never: WAL written, not fsynced), a fresh data directory per run;" \
    "$DBENCH_VER; PostgreSQL $PG_VERSION ($PG_SETTINGS)."
  echo "- Median of $RUNS run(s); the order of the systems rotates between runs."
  echo
  echo "| system | rows/s | values (keys)/s | seconds | notes |"
  echo "|---|---|---|---|---|"
  echo "| **Strata import, on_error=skip_row** | $(k "$S_RPS") | $(k "$S_VPS") | $(secs "$S_MS") (wall $(secs "$S_WALL"))" \
    "| job duration_ms; wall = POST to SUCCEEDED (${POLL_S}s polls): $(k "$S_WALL_RPS") rows/s; the file is over" \
    "import_load_min_mb, so batches of 1,000,000 values loaded as table files (LIMIT_IMPORT_LOAD_VALUES)," \
    "each row = 1 values put (its write group's row) + 1 latest-row merge; stratad CPU $(stat_of strata-skip_row server_cpu_s) s," \
    "peak RSS $(stat_of strata-skip_row peak_rss_mib) MiB |"
  if have strata-fail; then
    F_MS="$(stat_of strata-fail duration_ms)"
    echo "| Strata import, on_error=fail | $(k "$(per_s "$ROWS" "$F_MS")") | $(k "$(per_s "$VALUES" "$F_MS")")" \
      "| $(secs "$F_MS") (wall $(secs "$(stat_of strata-fail wall_ms)")) | one atomic batch of the whole file, loaded" \
      "(--import-atomic-max-values $VALUES); stratad CPU $(stat_of strata-fail server_cpu_s) s," \
      "peak RSS $(stat_of strata-fail peak_rss_mib) MiB |"
  fi
  echo "| RocksDB db_bench fillrandom (the ceiling) | $(k "$(awk -v o="$D_OPS" 'BEGIN {print o / 2}')")" \
    "| $(k "$(awk -v o="$D_OPS" -v f="$FEATURES" 'BEGIN {print o / 2 * f}')") | $D_SECS | Strata's keys: $BM_KEYS keys of $BM_KEY_BYTES + $BM_VALUE_BYTES bytes" \
    "(2 puts per row: the ${ROW_BYTES}-byte values row under its $KEY_BYTES-byte key and the ${LATEST_ROW_BYTES}-byte latest-row operand," \
    "at their average sizes), WriteBatch of $((2 * BATCH_ROWS)), WAL on, no fsync, 1 thread, LZ4; rows/s = keys/s / 2;" \
    "CPU $(stat_of db_bench server_cpu_s) s |"
  echo "| db_bench, the values rows alone | $(k "$DV_OPS")" \
    "| $(k "$(awk -v o="$DV_OPS" -v f="$FEATURES" 'BEGIN {print o * f}')") | $DV_SECS | context: $ROWS keys of $KEY_BYTES + $ROW_BYTES bytes," \
    "WriteBatch of $BATCH_ROWS; rows/s = keys/s; CPU $(stat_of db_bench_values server_cpu_s) s |"
  R_RPS="$(stat_of raw-batches rows_per_s)"
  echo "| RocksDB alone, Strata's WriteBatches (rawwrite batches) | $(k "$R_RPS") | $(k "$(stat_of raw-batches values_per_s)")" \
    "| $(stat_of raw-batches seconds) | the same Put + Merge per row, keys and options as Strata's," \
    "batches of $BATCH_VALUES values, WAL on, no fsync; no CSV, no HTTP, no checks: today's write path's ceiling;" \
    "CPU $(stat_of raw-batches cpu_s) s |"
  echo "| RocksDB bulk load: sort + SstFileWriter + IngestExternalFile (rawwrite sst) | $(k "$(stat_of raw-sst rows_per_s)")" \
    "| $(k "$(stat_of raw-sst values_per_s)") | $(stat_of raw-sst seconds) | context: the same data the way Strata does not write today" \
    "(no memtable, no WAL; not atomic across the 2 column families); CPU $(stat_of raw-sst cpu_s) s |"
  echo "| PostgreSQL COPY, no index | $(k "$P_RPS") | $(k "$(per_s "$VALUES" "$P_MS")") | $(secs "$P_MS") (wall $(secs "$P_WALL"))" \
    "| \`COPY events FROM file (FORMAT csv, HEADER)\`, one transaction, default durability;" \
    "postgres CPU $(stat_of pg_copy server_cpu_s) s; table $(stat_of pg_copy table_mib) MiB |"
  echo "| PostgreSQL COPY, primary key (user_id, event_time) | $(k "$PK_RPS") | $(k "$(per_s "$VALUES" "$PK_MS")")" \
    "| $(secs "$PK_MS") | context: with the index a point lookup needs;" \
    "postgres CPU $(stat_of pg_copy_pk server_cpu_s) s; table + index $(stat_of pg_copy_pk table_mib) MiB |"
  echo
  r_db="$(ratio "$S_RPS" "$(awk -v o="$D_OPS" 'BEGIN {print o / 2}')")"
  r_pg="$(ratio "$S_RPS" "$P_RPS")"
  echo "Targets:"
  echo
  echo "- Strata >= 50% of db_bench's batched write rate: $(k "$S_RPS") rows/s vs $(k "$(awk -v o="$D_OPS" 'BEGIN {print o / 2}')") rows/s" \
    "= $(awk -v r="$r_db" 'BEGIN {printf "%.0f%%", r * 100}') ->" \
    "$(awk -v r="$r_db" 'BEGIN {print (r >= 0.50) ? "met" : "NOT met"}')"
  echo "- (context) Strata vs db_bench writing the values rows alone: $(k "$S_RPS") vs $(k "$DV_OPS") rows/s" \
    "= $(awk -v a="$S_RPS" -v b="$DV_OPS" 'BEGIN {printf "%.0f%%", a / b * 100}')"
  echo "- (context) Strata vs RocksDB alone with Strata's own batches: $(k "$S_RPS") vs $(k "$R_RPS") rows/s" \
    "= $(awk -v a="$S_RPS" -v b="$R_RPS" 'BEGIN {printf "%.0f%%", a / b * 100}')"
  echo "- Strata faster than PostgreSQL COPY: $(k "$S_RPS") vs $(k "$P_RPS") rows/s = ${r_pg}x ->" \
    "$(awk -v r="$r_pg" 'BEGIN {print (r > 1) ? "met" : "NOT met"}')"
  echo
  echo "Other processes on the machine during the measurements (cores; 0 = quiet): median" \
    "$(while read -r line; do kv "$line" other_cores; done <"$RAW" | median), max" \
    "$(while read -r line; do kv "$line" other_cores; done <"$RAW" | sort -g | tail -n 1)."
  echo
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
