# The README's commands. Each installs what is missing (scripts/setup.sh),
# builds, and runs.
PRESET ?= release
BUILD  := build/$(PRESET)
JOBS   ?= $(shell nproc)

.PHONY: all setup build test demo asan fuzz bench format clean

all: build

setup:
	@bash scripts/setup.sh

build: setup
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# Every test (unit and integration, real processes on loopback).
test: build
	@ctest --preset $(PRESET) -j$(JOBS)

# The same tests under Address + UndefinedBehavior sanitizers.
asan:
	@$(MAKE) --no-print-directory test PRESET=asan

demo: build
	@bash scripts/demo.sh $(BUILD)/src/cli/graymesh

# Runs each libFuzzer target for FUZZ_SECONDS (default 60) on its corpus.
FUZZ_SECONDS ?= 60
fuzz: setup
	@cmake --preset fuzz >/dev/null
	@cmake --build build/fuzz -j$(JOBS) --target request_parser_fuzz
	@mkdir -p build/fuzz/corpus && cp -n fuzz/corpus/request_parser/* build/fuzz/corpus/ 2>/dev/null || true
	@build/fuzz/fuzz/request_parser_fuzz -max_total_time=$(FUZZ_SECONDS) build/fuzz/corpus

bench: build
	@bash bench/proxy_vs_nginx.sh

format:
	@clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	@rm -rf build
