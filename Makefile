# Thin wrapper: the real build is CMake (CMakePresets.json), the real
# cluster is tests/cluster/. Two commands matter: `make run` and `make test`.
PRESET ?= dev
BUILD_DIR := build/$(PRESET)
CLUSTER := tests/cluster/cluster
DEMO_CLUSTER ?= vigil-demo
JOBS ?= $(shell nproc)

.PHONY: all deps build cluster-bin test test-unit run cluster-up cluster-down clean

all: build

deps:
	@packaging/install-deps.sh

build: deps
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build --preset $(PRESET) -j $(JOBS)

cluster-bin: deps
	@tests/cluster/build

# Every test: unit, ui and integration (against a real local cluster that
# CTest starts and always tears down).
test: build cluster-bin
	@ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS) --timeout 900

test-unit: build
	@ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS) -L unit

# The app on a local simulated cluster with broken workloads (namespace demo).
run: build cluster-bin
	@kubeconfig=$$($(CLUSTER) up --name $(DEMO_CLUSTER) --scenarios | tail -n 1) && \
	  packaging/run-demo.sh "$(BUILD_DIR)" "$$kubeconfig"

cluster-up: cluster-bin
	@$(CLUSTER) up --name $(DEMO_CLUSTER) --scenarios

cluster-down:
	@$(CLUSTER) down --name $(DEMO_CLUSTER)

clean:
	rm -rf build

# libFuzzer targets (clang-14) in build/fuzz, side by side at nice 19, each
# until it has used FUZZ_SECONDS of CPU time, after its deep-nesting seeds;
# crashes land in build/fuzz/artifacts (tests/fuzz/run.sh).
FUZZ_SECONDS ?= 60
.PHONY: fuzz
fuzz:
	@packaging/install-deps.sh --fuzz
	@tests/fuzz/run.sh build/fuzz $(FUZZ_SECONDS)
