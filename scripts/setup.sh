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
  prometheus  # tests/integration/prometheus_test: a real Prometheus scrapes the proxies
)
# Only the benchmark needs these; `setup.sh --bench` adds them.
BENCH_PACKAGES=(wrk)

want=("${PACKAGES[@]}")
if [[ "${1:-}" == "--bench" ]]; then want+=("${BENCH_PACKAGES[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "setup: installing ${missing[*]}"
SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
