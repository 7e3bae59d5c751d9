#!/usr/bin/env bash
# The demo: a gateway in front of an order service (a base and a gray
# instance) that calls a payment service (base and gray too), every instance
# behind its own sidecar, all on loopback. The gateway puts 10% of users
# (sticky on x-user-id) and anyone sending x-env: gray into the gray lane,
# which then follows the request through order to payment. Sends a few
# requests, prints the paths they took and where to look, then serves until
# Ctrl-C.
set -euo pipefail

BIN=${1:-build/release/src/cli/graymesh}
RUN=${DEMO_DIR:-demo-run}
GW_PORT=${GW_PORT:-8080}
mkdir -p "$RUN"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

start() {  # start NAME ARGS...: runs a graymesh command in the background, logs to $RUN/NAME.log
  local name=$1; shift
  "$BIN" "$@" >"$RUN/$name.log" 2>&1 &
  pids+=($!)
}

wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "demo: port $1 did not open; see $RUN/*.log" >&2
  exit 1
}

# Where the sidecars find payment, and the lanes (`graymesh control` can
# push the same instead: README).
cat >"$RUN/mesh.yaml" <<YAML
services:
  - name: payment
    endpoints:
      - { address: 127.0.0.1:15301 }
      - { address: 127.0.0.1:15401, labels: { lane: gray } }
YAML

cat >"$RUN/gateway.yaml" <<YAML
listeners:
  - { name: ingress, address: 127.0.0.1:$GW_PORT }
routes:
  - { pathPrefix: /, service: order }
services:
  - name: order
    endpoints:
      - { address: 127.0.0.1:15101 }
      - { address: 127.0.0.1:15201, labels: { lane: gray } }
lanes:
  - name: gray
    tag: gray
    entrance:
      match:
        - headers: { x-env: { exact: gray } }
        - percent: 10
          stickyOn: header:x-user-id
YAML

# payment: app 9301, sidecar inbound 15301
start payment-app sample-app --name payment --listen 127.0.0.1:9301
start payment-proxy proxy --service payment --app 127.0.0.1:9301 --inbound 127.0.0.1:15301 \
  --outbound 127.0.0.1:15302 --admin 127.0.0.1:15303 --config "$RUN/mesh.yaml" --workers 1
# order, base: app 9101, sidecar 15101 (in) / 15102 (out)
start order-app sample-app --name order --listen 127.0.0.1:9101 --calls payment --via 127.0.0.1:15102
start order-proxy proxy --service order --app 127.0.0.1:9101 --inbound 127.0.0.1:15101 \
  --outbound 127.0.0.1:15102 --admin 127.0.0.1:15103 --config "$RUN/mesh.yaml" --workers 1
# order, gray: app 9201, sidecar 15201 / 15202
start order-gray-app sample-app --name order --lane gray --listen 127.0.0.1:9201 --calls payment \
  --via 127.0.0.1:15202
start order-gray-proxy proxy --service order --lane gray --app 127.0.0.1:9201 \
  --inbound 127.0.0.1:15201 --outbound 127.0.0.1:15202 --admin 127.0.0.1:15203 \
  --config "$RUN/mesh.yaml" --workers 1
# payment, gray: app 9401, sidecar 15401 / 15402
start payment-gray-app sample-app --name payment --lane gray --listen 127.0.0.1:9401
start payment-gray-proxy proxy --service payment --lane gray --app 127.0.0.1:9401 \
  --inbound 127.0.0.1:15401 --outbound 127.0.0.1:15402 --admin 127.0.0.1:15403 \
  --config "$RUN/mesh.yaml" --workers 1
start gateway gateway --config "$RUN/gateway.yaml" --admin 127.0.0.1:15021 --workers 1

for p in 9301 15301 9401 15401 9101 15101 15102 9201 15201 15202 "$GW_PORT" 15021; do
  wait_port "$p"
done

show() {  # show LABEL CURL-ARGS...: one request and the path it took
  local label=$1; shift
  local path
  path=$(curl -s "$@" "http://127.0.0.1:$GW_PORT/checkout" | jq -r \
    'def lane: if .lane == "" then "base" else .lane end;
     "\(.instance) [\(lane)] -> \(.calls[0].instance // .calls[0].error) [\(.calls[0] | lane)]"')
  printf '  %-22s gateway -> %s\n' "$label" "$path"
}

echo "== 20 users through the gateway (10% of users, sticky, go gray; the lane follows to payment):"
for i in $(seq 20); do show "x-user-id: $i" -H "x-user-id: $i"; done
echo "== by header, and a user again (same lane as before):"
show "x-env: gray" -H "x-env: gray"
show "x-user-id: 2" -H "x-user-id: 2"

cat <<TXT

== graymesh is running. Where to look:
  curl -H 'x-env: gray' http://127.0.0.1:$GW_PORT/checkout   one request; the JSON shows the path
  curl http://127.0.0.1:15021/metrics              gateway counters (Prometheus text)
  curl http://127.0.0.1:15103/metrics              the base order sidecar's counters
  curl http://127.0.0.1:15021/config               the gateway's current configuration
  logs and configuration files:                    $RUN/
Ctrl-C stops everything.
TXT
wait
