#!/usr/bin/env bash
# Install the Debian 12 packages Strata builds, tests and runs with, if missing.
# Usage: scripts/deps.sh [build|bench|fuzz|valgrind]   (each adds to build:
# bench the peers the benchmarks measure against: wrk, nginx, redis,
# rocksdb-tools, scikit-learn, LIBLINEAR, ...; fuzz clang with libFuzzer and
# the symbolizer for `make fuzz`; valgrind for `make test-valgrind`)
set -euo pipefail

# openssl: the TLS integration tests make their CA and certificates with it.
# librocksdb-dev also brings what scripts/rocksdb-release.sh compiles RocksDB
# with (snappy, lz4, zstd, zlib, bzip2 and gflags headers; patch and xz come
# with build-essential).
build_pkgs=(build-essential cmake pkg-config git python3
  librocksdb-dev libevent-dev libprotobuf-c-dev protobuf-c-compiler libcmocka-dev
  libjansson-dev libopenblas-dev libssl-dev libcurl4-openssl-dev libhttp-parser-dev
  libcsv-dev python3-numpy python3-pandas python3-sklearn openssl
  chromium)  # headless, for tests/integration/test_eval_report.py (the report page)
# make test checks the evaluator against scikit-learn and pandas
# (tests/tools/eval_sklearn.py), so those are build packages. bench/train's
# peers: scikit-learn, LIBLINEAR; python3-sklearn also regenerates
# tests/fixtures/trainer (bench/train/make_fixtures.py).
bench_pkgs=(wrk nginx-light redis-server redis-tools rocksdb-tools postgresql
  liblinear-tools liblinear-dev time)
# make fuzz: clang 14 with libFuzzer and the sanitizer runtimes
# (libclang-rt-14-dev), llvm-symbolizer (llvm) for readable crash stacks.
fuzz_pkgs=(clang libclang-rt-14-dev llvm)
valgrind_pkgs=(valgrind)

want=("${build_pkgs[@]}")
case "${1:-build}" in
  build) ;;
  bench) want+=("${bench_pkgs[@]}") ;;
  fuzz) want+=("${fuzz_pkgs[@]}") ;;
  valgrind) want+=("${valgrind_pkgs[@]}") ;;
  *) echo "usage: $0 [build|bench|fuzz|valgrind]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "strata: installing Debian packages: ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "strata: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
