# The README's commands. Each installs what is missing (scripts/setup.sh),
# builds, and runs.
PRESET ?= release
BUILD  := build/$(PRESET)
JOBS   ?= $(shell nproc)

.PHONY: all setup build test demo asan tsan fuzz bench format clean

all: build

setup:
	@bash scripts/setup.sh

build: setup
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# Every test (unit and integration, real processes on loopback).
test: build
	@ctest --preset $(PRESET) -j$(JOBS) --output-on-failure

# The same tests under Address + UndefinedBehavior sanitizers.
asan:
	@$(MAKE) --no-print-directory test PRESET=asan

# The tests labelled `threads` (tests/CMakeLists.txt) under ThreadSanitizer:
# workers and snapshot swaps, endpoint health, control-plane watch and push,
# the control-plane agent's stop, the access log writer and traffic reports.
# Builds only what they run.
TSAN_TARGETS := graymesh proxy_test proxy_health_test control_mesh_test traffic_test \
                proxy_control_agent_test
tsan: setup
	@cmake --preset tsan >/dev/null
	@cmake --build build/tsan -j$(JOBS) --target $(TSAN_TARGETS)
	@ctest --preset tsan -j$(JOBS) --output-on-failure

demo: build
	@bash scripts/demo.sh $(BUILD)/src/cli/graymesh

# Runs each libFuzzer target (fuzz/NAME_fuzz.cc, seeds in fuzz/corpus/NAME)
# for FUZZ_SECONDS (default 60), one after the other; FUZZ=NAME runs one.
# The working corpus is build/fuzz/corpus/NAME; new findings worth keeping
# are copied to fuzz/corpus/NAME by hand.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := request_parser
FUZZ_TARGETS += response_parser
FUZZ_TARGETS += config_yaml
FUZZ_TARGETS += rule_docs
FUZZ_TARGETS += snapshot_json
FUZZ_TARGETS += baggage
FUZZ_TARGETS += request_view
FUZZ_TARGETS += h2_input
FUZZ_TARGETS += traffic_report
FUZZ ?= $(FUZZ_TARGETS)
fuzz: setup
	@cmake --preset fuzz >/dev/null
	@cmake --build build/fuzz -j$(JOBS) --target $(addsuffix _fuzz,$(FUZZ))
	@set -e; for t in $(FUZZ); do \
	  mkdir -p build/fuzz/corpus/$$t; \
	  cp -n fuzz/corpus/$$t/* build/fuzz/corpus/$$t/ 2>/dev/null || true; \
	  echo "== $$t ($(FUZZ_SECONDS) s)"; \
	  build/fuzz/fuzz/$${t}_fuzz -max_total_time=$(FUZZ_SECONDS) build/fuzz/corpus/$$t; \
	done

bench: build
	@bash bench/proxy_vs_nginx.sh

format:
	@clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	@rm -rf build
