# Strata's two commands: `make run` and `make test`. Everything else is a helper.
# CMake does the building; this wrapper installs dependencies and picks flags.
BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
BUILD_VALGRIND ?= build-valgrind
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
# CI (CI=true in the environment) turns warnings into errors.
ifeq ($(CI),true)
WERROR := -DSTRATA_WERROR=ON
endif
CMAKE_FLAGS ?=
# ROCKSDB=release: link a release build (-DNDEBUG) of Debian's own RocksDB
# source instead of Debian's librocksdb-dev, whose assertions are on
# (docs/benchmarks.md "RocksDB build"). scripts/rocksdb-release.sh builds it
# into build-rocksdb/ on first use (20-40 minutes, once); Strata then builds
# in its own dir, build-release, so the default build stays Debian's. E.g.
# make bench ROCKSDB=release BENCH=lineage, make test ROCKSDB=release.
ROCKSDB ?= debian
ROCKSDB_PREFIX ?= build-rocksdb
ifeq ($(ROCKSDB),release)
BUILD := build-release
ROCKSDB_DIR := $(abspath $(ROCKSDB_PREFIX))/install
else ifeq ($(ROCKSDB),debian)
ROCKSDB_DIR :=
else
$(error ROCKSDB=$(ROCKSDB): use debian (the default) or release)
endif

.PHONY: all deps build run test test-asan fuzz test-valgrind bench clean

all: build

deps:
	@scripts/deps.sh build

build: deps
	@if [ -n "$(ROCKSDB_DIR)" ]; then scripts/rocksdb-release.sh $(ROCKSDB_PREFIX); fi
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DSTRATA_ROCKSDB_DIR=$(ROCKSDB_DIR)" $(WERROR) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Start stratad on ./strata-data with a demo entity; Ctrl-C stops it.
run: build
	@scripts/run-demo.sh $(BUILD)

# Every test: cmocka unit tests and integration tests against a real stratad.
test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The same suite under AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan: deps
	@cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DSTRATA_ASAN=ON -DSTRATA_UBSAN=ON $(WERROR) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_ASAN) -j $(JOBS)
	@cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j $(JOBS)

# Every libFuzzer target (tests/fuzz/) for FUZZ_SECONDS each, built with clang
# under ASan+UBSan into build-fuzz; fails on any finding, printing the
# reproducer. One of them: make fuzz FUZZ_TARGETS=http FUZZ_SECONDS=600
# FUZZ_SEED=N fixes libFuzzer's seed (CI does, so that its exploration can be
# replayed, and run for longer, on a developer's machine); unset, each run
# draws its own.
FUZZ_SECONDS ?= 30
FUZZ_TARGETS ?=
FUZZ_SEED ?=
fuzz:
	@scripts/deps.sh fuzz
	@CC=clang CXX=clang++ cmake -S . -B $(BUILD_FUZZ) -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATA_FUZZ=ON -DSTRATA_TESTS=OFF $(WERROR) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_FUZZ) -j $(JOBS)
	@FUZZ_SEED=$(FUZZ_SEED) scripts/fuzz.sh $(BUILD_FUZZ) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The integration suite once more with stratad under valgrind (memcheck), in
# its own build dir (the wrapper and the longer timeouts are configured into
# its tests): any invalid access, uninitialised read or definite leak fails
# the test that provoked it (tests/integration/harness.py).
VALGRIND ?= valgrind --error-exitcode=97 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite --num-callers=40
test-valgrind: deps
	@scripts/deps.sh valgrind
	@cmake -S . -B $(BUILD_VALGRIND) -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DSTRATA_STRATAD_WRAPPER=$(VALGRIND)" $(WERROR) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_VALGRIND) -j $(JOBS) --target stratad strata store_poke render_report
	@cd $(BUILD_VALGRIND) && ctest --output-on-failure -j $(JOBS) -L integration

# Benchmarks against their peers, one after the other so none disturbs another
# (installs wrk, nginx, redis, rocksdb-tools, PostgreSQL, pandas, scikit-learn,
# LIBLINEAR). One of them: make bench BENCH=online. The 10-minute soak (bench/soak)
# runs only when named: make bench BENCH=soak. ROCKSDB=release (above): every
# bench against the release RocksDB build, bench/ingest's db_bench from it too.
BENCH ?= online ingest export lineage train evaluate durability
bench: build
	@scripts/deps.sh bench
	@for b in $(BENCH); do echo "== bench/$$b"; bench/$$b/run.sh $(BUILD) || exit 1; done

# build-rocksdb (the release RocksDB, slow to rebuild) stays: rm -rf it by hand.
clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ) $(BUILD_VALGRIND)
