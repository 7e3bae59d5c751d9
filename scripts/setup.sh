#!/usr/bin/env bash
# Installs what graymesh needs to build, test and benchmark, from Debian's
# packages. Idempotent: asks apt only for what is missing.
set -euo pipefail

PACKAGES=(
  g++ cmake ninja-build make pkg-config
  libasio-dev node-llhttp libnghttp2-dev libssl-dev libsqlite3-dev
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev libre2-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  curl jq procps python3
  nginx  # tests/integration/nginx_chain_test: a real access layer in front of a sidecar
  etcd-server etcd-client
  nodejs npm  # tests/h2: Node's http2 server and @grpc/grpc-js peers (tests/h2/grpc)
)
# Only the benchmark needs these; `setup.sh --bench` adds them.
BENCH_PACKAGES=(wrk nghttp2-client)  # nghttp2-client: h2load

want=("${PACKAGES[@]}")
if [[ "${1:-}" == "--bench" ]]; then want+=("${BENCH_PACKAGES[@]}"); fi

# The gRPC test peers: the versions in the committed lockfile, from npm.
install_grpc_peers() {
  local dir
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/h2/grpc"
  if [[ ! -d "$dir/node_modules/@grpc/grpc-js" ]]; then
    echo "setup: npm ci in tests/h2/grpc"
    (cd "$dir" && npm ci --no-audit --no-fund --silent)
  fi
}

missing=()
for p in "${want[@]}"; do
  # nodejs from NodeSource ships npm itself; Debian's npm package then conflicts.
  if [[ "$p" == "npm" ]] && command -v npm >/dev/null; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  install_grpc_peers
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
install_grpc_peers
