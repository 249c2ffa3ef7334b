# Strata's two commands: `make run` and `make test`. Everything else is a helper.
# CMake does the building; this wrapper installs dependencies and picks flags.
BUILD      ?= build
BUILD_ASAN ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
# CI (CI=true in the environment) turns warnings into errors.
ifeq ($(CI),true)
WERROR := -DSTRATA_WERROR=ON
endif
CMAKE_FLAGS ?=

.PHONY: all deps build run test test-asan bench clean

all: build

deps:
	@scripts/deps.sh build

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(WERROR) $(CMAKE_FLAGS) >/dev/null
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

# Benchmarks against their peers, one after the other so none disturbs another
# (installs wrk, nginx, redis, rocksdb-tools, PostgreSQL, pandas, scikit-learn,
# LIBLINEAR). One of them: make bench BENCH=online. The 10-minute soak (bench/soak)
# runs only when named: make bench BENCH=soak
BENCH ?= online ingest export lineage train evaluate durability
bench: build
	@scripts/deps.sh bench
	@for b in $(BENCH); do echo "== bench/$$b"; bench/$$b/run.sh $(BUILD) || exit 1; done

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
