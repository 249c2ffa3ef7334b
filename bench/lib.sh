# bench/lib.sh - what every bench/*/run.sh shares: process cleanup, logging,
# free ports, readiness waits, CPU accounting and the quiet-machine wait.
# Source it after setting WORK (temp dir) and KEEP (1 keeps WORK); register
# started processes in PIDS. A script that must stop something first (e.g.
# PostgreSQL) defines bench_before_cleanup.
# shellcheck shell=bash

PIDS=()
cleanup() {
  local rc=$?
  if declare -F bench_before_cleanup >/dev/null; then
    bench_before_cleanup || true
  fi
  for p in "${PIDS[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if [ "${KEEP:-0}" = 1 ]; then
    echo "bench: kept $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf 'bench: %s\n' "$*" >&2; }

free_port() {
  "${PY:-python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_http() { # URL what [tenths of a second, default 600]
  for _ in $(seq "${3:-600}"); do
    curl -fs -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "bench: $2 did not come up; see $WORK" >&2
  return 1
}

now_ns() { date +%s%N; }

# CPU time (user+system, in ticks) of processes and their threads, summed over PIDs.
CLK_TCK="$(getconf CLK_TCK)"
cpu_ticks() {
  local sum=0 p f
  for p in "$@"; do
    # Fields after the ")" closing comm: utime is the 12th, stime the 13th.
    f="$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null)" || continue
    read -r -a f <<<"$f"
    sum=$((sum + f[11] + f[12]))
  done
  echo "$sum"
}

# user+nice+system ticks of the whole machine (softirq excluded: loopback
# networking is accounted there, for our own processes too).
sys_ticks() { awk '/^cpu / {print $2 + $3 + $4}' /proc/stat; }

# Steal ticks of the whole machine: time a virtual CPU wanted to run and the
# host ran something else instead (0 on bare metal). Only what the host
# reports: a vCPU slowed down rather than descheduled does not show here.
steal_ticks() { awk '/^cpu / {print $9 + 0}' /proc/stat; }

# Waits up to QUIET_WAIT_S seconds for one second in which the machine used at
# most QUIET_MAX cores.
wait_quiet() {
  local i a b
  for ((i = 0; i < QUIET_WAIT_S; i++)); do
    a="$(sys_ticks)"; sleep 1; b="$(sys_ticks)"
    awk -v t=$((b - a)) -v h="$CLK_TCK" -v m="$QUIET_MAX" 'BEGIN {exit !(t / h <= m)}' && return 0
  done
  log "machine still busy after ${QUIET_WAIT_S}s (load average $(cut -d' ' -f1-3 /proc/loadavg)); measuring anyway"
}

# kv LINE KEY: the value of KEY=... in a "RESULT k=v ..." line.
kv() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

# bench_machine: sets NPROC, CPU_MODEL, KERNEL, MEM_GIB and LOAD_BEFORE, logs them, and warns
# when the load average says the numbers will be noisy.
bench_machine() {
  NPROC="$(nproc)"
  CPU_MODEL="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
  KERNEL="$(uname -sr)"
  MEM_GIB="$(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo)"
  LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
  log "machine: $NPROC x $CPU_MODEL, $MEM_GIB GiB, $KERNEL, load average $LOAD_BEFORE"
  if awk -v l="${LOAD_BEFORE%% *}" 'BEGIN {exit !(l > 0.5)}'; then
    log "WARNING: the machine is not idle (load average $LOAD_BEFORE on $NPROC CPUs); numbers will be noisy"
  fi
}

# rocksdb_env BUILD_DIR: the RocksDB BUILD_DIR's stratad links, for a bench's own
# programs: sets ROCKSDB_CFLAGS and ROCKSDB_LIBS (compile and link against it),
# DB_BENCH (the db_bench built from the same RocksDB) and ROCKSDB_BUILD (a line
# for the report), from BUILD_DIR/rocksdb.env, which CMakeLists.txt writes.
# Defaults (a build dir configured before that file existed): Debian's library.
# shellcheck disable=SC2034 # the variables are for the sourcing script
rocksdb_env() {
  ROCKSDB_CFLAGS=""
  ROCKSDB_LIBS="-lrocksdb"
  DB_BENCH="db_bench"
  ROCKSDB_BUILD="RocksDB, Debian librocksdb-dev"
  # shellcheck source=/dev/null
  if [ -f "$1/rocksdb.env" ]; then . "$1/rocksdb.env"; fi
  log "RocksDB: $ROCKSDB_BUILD"
}
