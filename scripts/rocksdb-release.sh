#!/usr/bin/env bash
# scripts/rocksdb-release.sh - a release build (assertions off) of the very
# RocksDB Strata links by default: Debian 12's rocksdb 7.8.3-2 source package.
#
# Usage: scripts/rocksdb-release.sh [PREFIX]     (default: build-rocksdb/ in the repository)
#
# Why: Debian builds librocksdb with CMAKE_BUILD_TYPE=None, so without
# -DNDEBUG: every assert() in RocksDB runs (about half the instructions of a
# memtable insert on Strata's lineage write path). No production deployment
# runs RocksDB like that. This builds the same source, with Debian's patches
# and Debian's compiler flags, adding only -DNDEBUG, so that a comparison
# measures the assertions and nothing else (docs/benchmarks.md "RocksDB build").
#
# What it does, into PREFIX:
#  1. downloads rocksdb_7.8.3-2.dsc, rocksdb_7.8.3.orig.tar.gz and
#     rocksdb_7.8.3-2.debian.tar.xz from deb.debian.org's pool (nothing from
#     GitHub); the .dsc is checked against the SHA-256 pinned below, every
#     other file against the SHA-256 the .dsc lists;
#  2. unpacks them and applies debian/patches/series with patch -p1;
#  3. configures with cmake -DCMAKE_BUILD_TYPE=Release and debian/rules'
#     options where they matter (snappy, lz4, zlib, zstd, bz2; PORTABLE; no
#     jemalloc, no liburing: Debian builds with neither), without tests and
#     without the shared library and the tools Strata does not use;
#  4. builds the static librocksdb.a and db_bench (the peer bench/ingest runs)
#     under nice -n 15 with 2 jobs (the machine is shared; it takes 20-40
#     minutes) and installs them into PREFIX/install: include/, lib/librocksdb.a,
#     lib/pkgconfig/rocksdb.pc, bin/db_bench.
# A second run finds PREFIX/install/.complete and does nothing. An interrupted
# run resumes: downloads are re-checked, the build directory is reused.
#
# Use it: cmake -DSTRATA_ROCKSDB_DIR=PREFIX/install, or make bench ROCKSDB=release.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="${1:-$ROOT/build-rocksdb}"
mkdir -p "$PREFIX"
PREFIX="$(cd "$PREFIX" && pwd)"
JOBS="${ROCKSDB_JOBS:-2}"

UPSTREAM=7.8.3
DEBIAN_VERSION=7.8.3-2
POOL=http://deb.debian.org/debian/pool/main/r/rocksdb
DSC="rocksdb_${DEBIAN_VERSION}.dsc"
# The .dsc of bookworm's rocksdb 7.8.3-2 (signed by its Debian maintainer; the
# signature is not checked here, this pin is what vouches for it).
DSC_SHA256=8c799d700b825cc4eebb5afbd43ebf2fb13d397828fc442c61d786f7792c2976

# Debian 12's dpkg-buildflags on amd64 (CFLAGS/CXXFLAGS + CPPFLAGS, LDFLAGS)
# minus -g (debug information changes no code and Debian strips it into
# -dbgsym packages anyway): the flags Debian's librocksdb is compiled with.
DEB_FLAGS="-O2 -fstack-protector-strong -Wformat -Werror=format-security -D_FORTIFY_SOURCE=2"
DEB_LDFLAGS="-Wl,-z,relro"

INSTALL="$PREFIX/install"
STAMP="$INSTALL/.complete"
say() { printf 'rocksdb-release: %s\n' "$*" >&2; }

if [ -f "$STAMP" ] && [ -f "$INSTALL/lib/librocksdb.a" ] && [ -x "$INSTALL/bin/db_bench" ]; then
  say "already built: $INSTALL ($(cat "$STAMP"))"
  exit 0
fi

for tool in curl sha256sum tar xz patch cmake c++ pkg-config; do
  command -v "$tool" >/dev/null || { say "needs $tool (scripts/deps.sh build)"; exit 1; }
done
# Debian's Build-Depends for what this builds (gflags: db_bench's flags).
for h in snappy.h lz4.h zstd.h zlib.h bzlib.h gflags/gflags.h; do
  echo "#include <$h>" | c++ -E -x c++ - >/dev/null 2>&1 ||
    { say "missing header $h: scripts/deps.sh build installs the libraries"; exit 1; }
done

DL="$PREFIX/download"
mkdir -p "$DL"
fetch() { # NAME SHA256
  local f="$DL/$1"
  if [ -f "$f" ] && echo "$2  $f" | sha256sum -c --status; then return 0; fi
  say "downloading $POOL/$1"
  curl -fsSL --retry 3 -o "$f.part" "$POOL/$1"
  if ! echo "$2  $f.part" | sha256sum -c --status; then
    say "SHA-256 mismatch for $1 (expected $2, got $(sha256sum "$f.part" | cut -d' ' -f1))"
    rm -f "$f.part"
    exit 1
  fi
  mv "$f.part" "$f"
}
fetch "$DSC" "$DSC_SHA256"
# The Checksums-Sha256 section of the .dsc: " SHA256 SIZE NAME" lines.
dsc_sha256() {
  awk -v name="$1" '/^Checksums-Sha256:/ {in_sec = 1; next}
    /^[^ ]/ {in_sec = 0}
    in_sec && $3 == name {print $1}' "$DL/$DSC"
}
ORIG="rocksdb_${UPSTREAM}.orig.tar.gz"
DEBTAR="rocksdb_${DEBIAN_VERSION}.debian.tar.xz"
for f in "$ORIG" "$DEBTAR"; do
  sum="$(dsc_sha256 "$f")"
  [ -n "$sum" ] || { say "$DSC lists no SHA-256 for $f"; exit 1; }
  fetch "$f" "$sum"
done

# Unpack and patch into a temporary directory, renamed when complete, so an
# interrupted run never leaves a half-patched tree behind.
SRC="$PREFIX/src"
if [ ! -f "$SRC/.patched" ]; then
  rm -rf "$SRC" "$SRC.tmp"
  mkdir -p "$SRC.tmp"
  tar -xzf "$DL/$ORIG" -C "$SRC.tmp" --strip-components=1
  tar -xJf "$DL/$DEBTAR" -C "$SRC.tmp"
  while read -r p _; do
    case "$p" in ''|'#'*) continue ;; esac
    say "applying debian/patches/$p"
    patch -d "$SRC.tmp" -p1 --quiet --forward <"$SRC.tmp/debian/patches/$p"
  done <"$SRC.tmp/debian/patches/series"
  touch "$SRC.tmp/.patched"
  mv "$SRC.tmp" "$SRC"
fi

GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
BLD="$PREFIX/build"
# CMAKE_*_FLAGS_RELEASE replaced: Release adds only -DNDEBUG to Debian's flags
# (CMake's default would add -O3 too, and the comparison would measure two
# things). USE_RTTI=ON keeps RTTI on as in Debian's build (RocksDB's Release
# default is -fno-rtti).
if [ ! -f "$BLD/CMakeCache.txt" ]; then
  say "configuring in $BLD"
  cmake -S "$SRC" -B "$BLD" "${GEN[@]}" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS="$DEB_FLAGS" -DCMAKE_CXX_FLAGS="$DEB_FLAGS" \
    -DCMAKE_C_FLAGS_RELEASE="-DNDEBUG" -DCMAKE_CXX_FLAGS_RELEASE="-DNDEBUG" \
    -DCMAKE_EXE_LINKER_FLAGS="$DEB_LDFLAGS" \
    -DCMAKE_INSTALL_PREFIX="$INSTALL" -DCMAKE_INSTALL_LIBDIR=lib \
    -DWITH_SNAPPY=ON -DWITH_LZ4=ON -DWITH_ZLIB=ON -DWITH_ZSTD=ON -DWITH_BZ2=ON \
    -DWITH_JEMALLOC=OFF -DWITH_LIBURING=OFF -DWITH_GFLAGS=ON \
    -DPORTABLE=ON -DFAIL_ON_WARNINGS=OFF -DUSE_RTTI=ON \
    -DROCKSDB_BUILD_SHARED=OFF -DWITH_TESTS=OFF -DWITH_BENCHMARK_TOOLS=ON \
    -DWITH_CORE_TOOLS=OFF -DWITH_TOOLS=OFF -DWITH_TRACE_TOOLS=OFF >"$PREFIX/configure.log" 2>&1 ||
    { say "cmake configure failed; see $PREFIX/configure.log"; rm -f "$BLD/CMakeCache.txt"; exit 1; }
fi

say "building librocksdb.a and db_bench (nice -n 15, $JOBS jobs; 20-40 minutes); log: $PREFIX/build.log"
nice -n 15 cmake --build "$BLD" -j "$JOBS" --target rocksdb db_bench >"$PREFIX/build.log" 2>&1 ||
  { say "build failed; see $PREFIX/build.log"; exit 1; }
cmake --install "$BLD" >"$PREFIX/install.log" 2>&1 ||
  { say "install failed; see $PREFIX/install.log"; exit 1; }
mkdir -p "$INSTALL/bin"
cp "$BLD/db_bench" "$INSTALL/bin/db_bench"
# The check this build exists for: no assert() left in the library.
if nm "$INSTALL/lib/librocksdb.a" 2>/dev/null | grep ' U __assert_fail' >/dev/null; then
  say "librocksdb.a still calls __assert_fail: -DNDEBUG did not reach the compiler"
  exit 1
fi
echo "rocksdb $DEBIAN_VERSION Release -DNDEBUG $DEB_FLAGS" >"$STAMP"
say "done: $INSTALL"
