# Thin wrapper: the real build is CMake (CMakePresets.json), the real
# cluster is tests/cluster/. Two commands matter: `make run` and `make test`.
PRESET ?= dev
BUILD_DIR := build/$(PRESET)
CLUSTER := tests/cluster/cluster
DEMO_CLUSTER ?= vigil-demo
JOBS ?= $(shell nproc)

.PHONY: all help deps build cluster-bin test test-unit run cluster-up cluster-down clean

all: build

help:
	@echo "make run             build, start a local cluster with broken workloads, open Vigil on it"
	@echo "make test            every test: unit, ui and integration (against a real local cluster)"
	@echo "make test-unit       the unit tests only"
	@echo "make check-sanitize  the tests not labelled integration under ASan+UBSan+LSan (build/asan),"
	@echo "                     then under valgrind memcheck (build/dev); any report or definite leak fails."
	@echo "                     CHECK_SANITIZE_TESTS=REGEX runs (and builds) only the matching tests"
	@echo "make fuzz            libFuzzer targets for FUZZ_SECONDS each (build/fuzz)"
	@echo "make soak            the long chaos soak on a cluster of its own (SOAK_FAULTS, SOAK_SECONDS)"
	@echo "make cluster-up / cluster-down   the demo cluster; make clean removes build/"

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

# Memory checks of every test not labelled integration (unit and ui):
# AddressSanitizer + UBSan + LeakSanitizer (asan preset, build/asan, detect_leaks=1),
# then valgrind memcheck over the Debug build (build/dev; definite leaks and
# memcheck errors fail). Suppressions in tests/sanitize/ name system libraries
# only. CHECK_SANITIZE_TESTS=REGEX limits both runs, and the builds, to the
# matching tests. A full run builds everything twice: about an hour on 2 cores.
CHECK_SANITIZE_TESTS ?=
.PHONY: check-sanitize
check-sanitize:
	@packaging/install-deps.sh --sanitize
	@tests/sanitize/check.sh --asan-dir build/asan --debug-dir build/dev --jobs $(JOBS) \
	  --tests '$(CHECK_SANITIZE_TESTS)'

# libFuzzer targets (clang-14) in build/fuzz, side by side at nice 19, each
# until it has used FUZZ_SECONDS of CPU time, after its deep-nesting seeds;
# crashes land in build/fuzz/artifacts (tests/fuzz/run.sh).
FUZZ_SECONDS ?= 60
.PHONY: fuzz
fuzz:
	@packaging/install-deps.sh --fuzz
	@tests/fuzz/run.sh build/fuzz $(FUZZ_SECONDS)

# The long chaos soak (tests/hardening/tst_chaos_soak_cluster.cpp): SOAK_FAULTS
# faults over SOAK_SECONDS against a cluster of its own, always brought down;
# the figures land in build/soak/figures.json (BENCHMARKS.md, Hardening).
# `make test` runs the short version (40 faults) as an integration test.
SOAK_FAULTS ?= 250
SOAK_SECONDS ?= 720
SOAK_CLUSTER ?= vigil-soak
.PHONY: soak
soak: build cluster-bin
	@mkdir -p build/soak
	@$(CLUSTER) up --name $(SOAK_CLUSTER) --workdir $(CURDIR)/build/soak/cluster \
	  --write-path $(CURDIR)/build/soak/kubeconfig.path >/dev/null
	@VIGIL_TEST_CLUSTER_FILE=$(CURDIR)/build/soak/kubeconfig.path VIGIL_SOURCE_DIR=$(CURDIR) \
	  VIGIL_SOAK_OWN_CLUSTER=1 VIGIL_SOAK_FAULTS=$(SOAK_FAULTS) VIGIL_SOAK_SECONDS=$(SOAK_SECONDS) \
	  VIGIL_SOAK_REPORT=$(CURDIR)/build/soak/figures.json \
	  $(BUILD_DIR)/tests/hardening/tst_chaos_soak_cluster; rc=$$?; \
	  $(CLUSTER) down --name $(SOAK_CLUSTER) --workdir $(CURDIR)/build/soak/cluster; exit $$rc
