#!/usr/bin/env bash
# Run every libFuzzer target (tests/fuzz/fuzz_*.c) for a bounded time.
# Usage: scripts/fuzz.sh BUILD_DIR SECONDS [TARGET...]   (make fuzz calls it)
# FUZZ_SEED=N in the environment fixes libFuzzer's seed for every target.
#
# Each target starts from a scratch copy of its seed corpus and regression
# inputs (tests/fuzz/corpus/<t>/, tests/fuzz/regressions/<t>/), so the
# committed corpus never grows by itself; the scratch directory is
# BUILD_DIR/fuzz-runs/<t>/ (the grown corpus, the log, any crash input).
# Every target runs even after one fails; the exit status is 1 when any found
# a crash, a leak, a timeout or an out-of-memory, each with its reproducer's
# path and the command that replays it.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: scripts/fuzz.sh BUILD_DIR SECONDS [TARGET...]}
seconds=${2:?usage: scripts/fuzz.sh BUILD_DIR SECONDS [TARGET...]}
shift 2
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do
    t=${f#tests/fuzz/fuzz_}
    targets+=("${t%.c}")
  done
fi

# Inputs big enough for a pipelined request or a small CSV file; the
# daemon-backed targets get a longer per-input timeout (a request may run a
# RocksDB compaction or start a training job).
max_len() { case "$1" in http|json|pb) echo 16384 ;; *) echo 8192 ;; esac; }
dict() {
  case "$1" in
    http) echo tests/fuzz/dict/http.dict ;;
    json) echo tests/fuzz/dict/json.dict ;;
    filter) echo tests/fuzz/dict/filter.dict ;;
  esac
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
sym=$(command -v llvm-symbolizer || command -v llvm-symbolizer-14 || true)
[ -n "$sym" ] && export ASAN_SYMBOLIZER_PATH=$sym

failed=()
for t in "${targets[@]}"; do
  bin=$build/tests/fuzz/fuzz_$t
  [ -x "$bin" ] || { echo "fuzz: no target $bin" >&2; failed+=("$t"); continue; }
  run=$build/fuzz-runs/$t
  rm -rf "$run"
  mkdir -p "$run/corpus" "$run/crashes"
  cp tests/fuzz/corpus/"$t"/* "$run/corpus/"
  if [ -d tests/fuzz/regressions/"$t" ]; then cp tests/fuzz/regressions/"$t"/* "$run/corpus/"; fi
  opts=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=30 -max_len="$(max_len "$t")"
        -artifact_prefix="$run/crashes/" -print_final_stats=1)
  [ -n "${FUZZ_SEED:-}" ] && opts+=(-seed="$FUZZ_SEED")
  d=$(dict "$t")
  [ -n "$d" ] && opts+=(-dict="$d")
  echo "== fuzz_$t: ${seconds}s from $(ls "$run/corpus" | wc -l) seeds${FUZZ_SEED:+, seed $FUZZ_SEED}"
  start=$(date +%s)
  TMPDIR=$run "$bin" "${opts[@]}" "$run/corpus" >"$run/log" 2>&1
  rc=$?
  grep -aE "^stat::number_of_executed_units|^stat::peak_rss_mb" "$run/log" | awk '!seen[$0]++' |
    tr -s ' ' | tr '\n' ' '
  echo "($(( $(date +%s) - start ))s, $(ls "$run/corpus" | wc -l) corpus files)"
  if [ $rc -ne 0 ] || [ -n "$(ls "$run/crashes")" ]; then
    failed+=("$t")
    echo "fuzz_$t FAILED (exit $rc); log: $run/log" >&2
    grep -aE "ERROR: |FUZZ CHECK FAILED|runtime error|SUMMARY" "$run/log" | head -5 >&2
    for c in "$run"/crashes/*; do
      [ -e "$c" ] || continue
      echo "  reproducer: $c" >&2
      echo "  replay:     $bin $c   (or a plain build's fuzz_$t; see docs/testing.md)" >&2
    done
  fi
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no findings"
