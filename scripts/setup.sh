#!/usr/bin/env bash
# Installs what graymesh needs to build, test and benchmark, from Debian's
# packages. Idempotent: asks apt only for what is missing.
set -euo pipefail

PACKAGES=(
  g++ cmake ninja-build make pkg-config ccache  # ccache: clones and work trees share objects
  libasio-dev node-llhttp libnghttp2-dev libssl-dev libsqlite3-dev
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev libre2-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  curl jq procps python3
  nginx  # tests/integration/nginx_chain_test: a real access layer in front of a sidecar
  etcd-server etcd-client
  chromium  # tests/console: the web console in a real browser
  prometheus  # tests/integration/prometheus_test: a real Prometheus scrapes the proxies
)
# Only the benchmark needs these; `setup.sh --bench` adds them.
# nghttp2-client: h2load; haproxy: the second peer of proxy_vs_nginx.sh; strace: its
# syscalls per request (the allocation counter is built with g++'s cc); valgrind:
# bench/instructions_per_request.sh
BENCH_PACKAGES=(wrk nghttp2-client haproxy strace valgrind)

want=("${PACKAGES[@]}")
if [[ "${1:-}" == "--bench" ]]; then want+=("${BENCH_PACKAGES[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
# Node.js for the browser and gRPC tests; a node that brings its own npm (NodeSource)
# counts, Debian's npm package would conflict with it.
command -v npm >/dev/null || missing+=(nodejs npm)

if [[ ${#missing[@]} -gt 0 ]]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# playwright-core (drives chromium in tests/console), pinned by the committed
# lockfile, into build/node; again only when the lockfile changed.
cd "$(dirname "$0")/.."
NODE_DIR=build/node
if ! cmp -s tests/console/package-lock.json "$NODE_DIR/package-lock.json" ||
   [[ ! -d "$NODE_DIR/node_modules/playwright-core" ]]; then
  echo "setup: npm ci playwright-core into $NODE_DIR"
  mkdir -p "$NODE_DIR"
  cp tests/console/package.json tests/console/package-lock.json "$NODE_DIR/"
  # Only the browser test needs it: without the npm registry the rest
  # (build, demo) still works, and that test says what is missing.
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
    echo "setup: warning: npm ci failed; tests/console cannot run until it succeeds" >&2
fi

# The gRPC test peers' modules (tests/h2/grpc): the versions in its committed
# lockfile, into build/grpc (not the source tree); the tests point node's
# NODE_PATH there. Again only when the lockfile changed.
GRPC_DIR=build/grpc
if ! cmp -s tests/h2/grpc/package-lock.json "$GRPC_DIR/package-lock.json" ||
   [[ ! -d "$GRPC_DIR/node_modules/@grpc/grpc-js" ]]; then
  echo "setup: npm ci gRPC test peers into $GRPC_DIR"
  mkdir -p "$GRPC_DIR"
  cp tests/h2/grpc/package.json tests/h2/grpc/package-lock.json "$GRPC_DIR/"
  (cd "$GRPC_DIR" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null) ||
    echo "setup: warning: npm ci failed in $GRPC_DIR; the gRPC tests cannot run until it succeeds" >&2
fi
# Earlier versions installed them into the source tree, where they would be
# found before NODE_PATH: gone once build/grpc has them.
if [[ -d "$GRPC_DIR/node_modules/@grpc/grpc-js" ]]; then rm -rf tests/h2/grpc/node_modules; fi
