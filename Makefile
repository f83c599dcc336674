# EdgeTrust developer entry points. CMake presets (CMakePresets.json) do the real work; this file
# only strings them together. Binary dirs are build/<preset>.
#
#   make               build the release preset (installs missing Debian packages first)
#   make test          test-release, test-asan, test-tsan, fuzz-smoke; stops at the first failure
#   make test-release  | test-asan | test-tsan | test-debug   one preset only
#   make fuzz-smoke    every fuzz target for 20 s;  make fuzz FUZZ_SECONDS=600  for longer
#   make bench BENCH_ARGS='--seconds 5 --keys 1000' TLS_BENCH_ARGS='--seconds 3'
#   make demo          the narrated walk-through (scripts/demo.sh)
#   make format | format-check | tidy | clean
#
# Useful variables: CTEST_JOBS (2), CTEST_ARGS (extra ctest flags, e.g. -R Keystore),
# FUZZ_SECONDS (300), BENCH_ARGS, TLS_BENCH_ARGS.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build
# Steps share the two cores and must run in order (test stops at the first failing step).
.NOTPARALLEL:

BUILD_DIR    := build
CTEST_JOBS   ?= 2
CTEST_ARGS   ?=
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 20
BENCH_ARGS   ?=
TLS_BENCH_ARGS ?=
# Per-preset ctest timeouts (seconds per test); sanitizers run slower.
TIMEOUT_release := 300
TIMEOUT_debug   := 300
TIMEOUT_asan    := 600
TIMEOUT_tsan    := 600

# Sanitizer defaults; a developer's own settings win.
export ASAN_OPTIONS  ?= detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS  ?= halt_on_error=1:second_deadlock_stack=1

SOURCE_DIRS := include src test bench fuzz examples
PRESETS     := release debug asan tsan fuzz
TEST_PRESETS := release debug asan tsan

.PHONY: all deps build test fuzz-smoke fuzz bench demo asan tsan debug release \
        format format-check tidy clean help \
        $(addprefix configure-,$(PRESETS)) $(addprefix build-,$(PRESETS)) \
        $(addprefix test-,$(TEST_PRESETS))

all: build

help:
	@sed -n '1,/^$$/p' $(firstword $(MAKEFILE_LIST)) | sed 's/^# \{0,1\}//'

deps:
	@scripts/install-deps.sh

# --- configure / build, one pattern per preset --------------------------------------------------
# Configure only when the preset was never configured; afterwards ninja re-runs cmake by itself
# whenever a CMakeLists.txt changes.
# (Static pattern rules: GNU make skips implicit-rule search for .PHONY targets.)
$(addprefix configure-,$(PRESETS)): configure-%: deps
	@if [ ! -f $(BUILD_DIR)/$*/build.ninja ]; then cmake --preset $*; fi

$(addprefix build-,$(PRESETS)): build-%: configure-%
	cmake --build --preset $*

build: build-release
release: build-release
debug: build-debug
asan: build-asan
tsan: build-tsan

# --- tests -----------------------------------------------------------------------------------------
# ctest prints its closing "N% tests passed, N tests failed out of N" line; --no-tests=error makes
# a preset that registered no test fail instead of passing silently.
$(addprefix test-,$(TEST_PRESETS)): test-%: build-%
	ctest --preset $* -j$(CTEST_JOBS) --timeout $(TIMEOUT_$*) --no-tests=error $(CTEST_ARGS)

test: test-release test-asan test-tsan fuzz-smoke

# --- fuzzing ---------------------------------------------------------------------------------------
# The asan preset builds the libFuzzer targets too, so `make test` compiles the tree three times
# (release, asan, tsan) rather than four; `make fuzz` keeps its own preset for long runs.
fuzz-smoke: build-asan
	scripts/run-fuzzers.sh $(BUILD_DIR)/asan/bin $(FUZZ_SMOKE_SECONDS)

fuzz: build-fuzz
	scripts/run-fuzzers.sh $(BUILD_DIR)/fuzz/bin $(FUZZ_SECONDS)

# --- benchmarks and demo ---------------------------------------------------------------------------
# bench_sd, bench_tls (TLS handshakes with a secure-domain key), bench_gateway (sensors ->
# edgetrust-agent -> cloud against Mosquitto's bridge), then bench_guard (exec latency under the
# drift monitor) and bench_container_guard (injection -> detection -> healthy against polling
# the engine's changes; needs root and docker.io); BENCH_ARGS goes to bench_sd,
# TLS_BENCH_ARGS (e.g. --seconds 3) to bench_tls, GATEWAY_BENCH_ARGS (e.g. --messages 20000) to
# bench_gateway, GUARD_BENCH_ARGS (e.g. --injections 100) to bench_container_guard.
bench: build-release
	@for b in bench_sd bench_tls bench_gateway bench_guard bench_container_guard; do \
	  test -x $(BUILD_DIR)/release/bin/$$b || \
	  { echo "make bench: $(BUILD_DIR)/release/bin/$$b was not built" >&2; exit 1; }; done
	$(BUILD_DIR)/release/bin/bench_sd $(BENCH_ARGS)
	$(BUILD_DIR)/release/bin/bench_tls $(TLS_BENCH_ARGS)
	$(BUILD_DIR)/release/bin/bench_gateway $(GATEWAY_BENCH_ARGS)
	$(BUILD_DIR)/release/bin/bench_guard
	$(BUILD_DIR)/release/bin/bench_container_guard $(GUARD_BENCH_ARGS)

demo: build-release
	scripts/demo.sh $(BUILD_DIR)/release/bin

# --- code hygiene ----------------------------------------------------------------------------------
# Our own C/C++ sources only (the fuzz corpus is data, never formatted).
FIND_SOURCES = find $(SOURCE_DIRS) -path fuzz/corpus -prune -o -type f \
               \( -name '*.h' -o -name '*.cc' -o -name '*.c' \) -print 2>/dev/null

format:
	@$(FIND_SOURCES) | xargs -r clang-format -i

format-check:
	@$(FIND_SOURCES) | xargs -r clang-format --dry-run -Werror

# Uses .clang-tidy (checks and HeaderFilterRegex) on every file in the release compile database.
tidy: configure-release
	run-clang-tidy -quiet -p $(BUILD_DIR)/release '^$(CURDIR)/(src|test|bench|fuzz|examples)/'

clean:
	rm -rf $(BUILD_DIR)
