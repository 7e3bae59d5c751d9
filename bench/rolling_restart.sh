#!/usr/bin/env bash
# Requests per second held, failed requests and p99 while the 3 instances of
# a service are restarted one by one under load, in three setups:
#   graymesh          gateway -> payment x3 (each behind `graymesh proxy
#                     ... -- sample-app`, on a control plane) -> data; a
#                     rollout as Kubernetes does it: a new instance, wait for
#                     its /ready, SIGTERM the old sidecar (lossless drain)
#   graymesh-nodrain  the same with `--no-drain` (listeners closed at once,
#                     the app stopped with its sidecar: no preStop)
#   nginx             nginx in front of the same apps (no sidecars), the
#                     upstream list edited and `nginx -s reload` per step,
#                     then SIGTERM to the old app: what users have today
# wrk sends GET and POST /checkout in turn (a Lua script; the POST's body goes
# down the chain with it) and counts non-2xx responses and socket errors.
#
# Usage: bench/rolling_restart.sh
# Environment: DURATION=20 (seconds of wrk per setup; the rollout starts 2 s
# in), CONNECTIONS=16, LATENCY_MS=20 (payment's own latency),
# GRAYMESH_BIN (default build/release/src/cli/graymesh), KEEP_TMP=1.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-20}
CONNECTIONS=${CONNECTIONS:-16}
LATENCY_MS=${LATENCY_MS:-20}
BIN=${GRAYMESH_BIN:-$ROOT/build/release/src/cli/graymesh}
[ -x "$BIN" ] || { echo "no graymesh binary at $BIN (make build)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk missing (scripts/setup.sh)" >&2; exit 2; }
command -v nginx >/dev/null || { echo "nginx missing (scripts/setup.sh)" >&2; exit 2; }

TMP=$(mktemp -d /tmp/graymesh-rolling.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  [ -f "$TMP/nginx.pid" ] && kill -QUIT "$(cat "$TMP/nginx.pid")" 2>/dev/null || true
  if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

NEXT_PORT=$((20000 + RANDOM % 10000))  # below the ephemeral range (32768-)
port() { NEXT_PORT=$((NEXT_PORT + 1)); PORT=$NEXT_PORT; }  # sets $PORT (no subshell)
wait_http() {  # URL [tries]: until it answers 200
  for _ in $(seq 1 "${2:-100}"); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = 200 ] && return 0
    sleep 0.1
  done
  echo "timed out waiting for $1" >&2
  return 1
}
start() {  # LOG CMD...: background, remembered; pid in $LAST
  local log=$1; shift
  "$@" >"$log" 2>&1 &
  LAST=$!
  PIDS+=("$LAST")
}

# ---- graymesh ----
CP=0 GW=0 DATA_APP=0
declare -A ADMIN=() SIDECAR=()
mesh_member() {  # SERVICE CALLS LATENCY EXTRA...: starts one sidecar+app; sets $NAME
  local svc=$1 calls=$2 lat=$3; shift 3
  local app inb outb adm
  port; app=$PORT; port; inb=$PORT; port; outb=$PORT; port; adm=$PORT
  local a=(proxy --service "$svc" --app "127.0.0.1:$app" --inbound "127.0.0.1:$inb"
           --outbound "127.0.0.1:$outb" --admin "127.0.0.1:$adm" --workers 1
           --control "http://127.0.0.1:$CP" --cache "$TMP/cache-$inb.json" --ready-path /healthz
           "$@" -- "$BIN" sample-app --name "$svc" --listen "127.0.0.1:$app" --latency "$lat")
  [ -n "$calls" ] && a+=(--calls "$calls" --via "127.0.0.1:$outb")
  start "$TMP/$svc-$inb.log" "$BIN" "${a[@]}"
  NAME=$svc-$inb
  SIDECAR[$NAME]=$LAST
  ADMIN[$NAME]=$adm
}

run_graymesh() {  # EXTRA sidecar flags for payment
  port; CP=$PORT; port; GW=$PORT
  start "$TMP/control.log" "$BIN" control --listen "127.0.0.1:$CP" --store "sqlite:$TMP/c-$CP.db"
  wait_http "http://127.0.0.1:$CP/metrics"
  mesh_member data "" 0
  local payments=()
  for _ in 1 2 3; do mesh_member payment data "$LATENCY_MS" "$@"; payments+=("$NAME"); done
  printf 'kind: Route\nname: shop\nspec:\n  pathPrefix: /\n  service: payment\n' >"$TMP/route.yaml"
  "$BIN" apply -f "$TMP/route.yaml" --control "http://127.0.0.1:$CP" >/dev/null
  start "$TMP/gateway.log" "$BIN" gateway --listen "127.0.0.1:$GW" --control "http://127.0.0.1:$CP" \
    --admin none --workers 1 --cache "$TMP/gw-$GW.json"
  for n in "${payments[@]}"; do wait_http "http://127.0.0.1:${ADMIN[$n]}/ready"; done
  wait_http "http://127.0.0.1:$GW/checkout"
  measure "$GW" &
  local wrk_job=$!
  sleep 2
  for old in "${payments[@]}"; do
    mesh_member payment data "$LATENCY_MS" "$@"
    wait_http "http://127.0.0.1:${ADMIN[$NAME]}/ready"
    sleep 1
    kill -TERM "${SIDECAR[$old]}"
    wait "${SIDECAR[$old]}" 2>/dev/null || true
    sleep 1
  done
  wait "$wrk_job"
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 2
  PIDS=()
}

# ---- nginx ----
run_nginx() {
  local data front
  port; data=$PORT; port; front=$PORT
  start "$TMP/ndata.log" "$BIN" sample-app --name data --listen "127.0.0.1:$data"
  local apps=() pids=()
  nginx_app() {
    local p; port; p=$PORT
    start "$TMP/napp-$p.log" "$BIN" sample-app --name payment --listen "127.0.0.1:$p" \
      --latency "$LATENCY_MS" --calls data --via "127.0.0.1:$data"
    APP_PORT=$p APP_PID=$LAST
    wait_http "http://127.0.0.1:$p/healthz"
  }
  write_conf() {
    {
      echo "worker_processes 1; pid $TMP/nginx.pid; error_log $TMP/nginx-error.log;"
      echo "events { worker_connections 4096; }"
      echo "http { access_log off; upstream payment { keepalive 32;"
      for a in "${apps[@]}"; do echo "  server 127.0.0.1:$a;"; done
      echo "} server { listen 127.0.0.1:$front; location / { proxy_pass http://payment;"
      echo "  proxy_http_version 1.1; proxy_set_header Connection \"\"; } } }"
    } >"$TMP/nginx.conf"
  }
  for _ in 1 2 3; do nginx_app; apps+=("$APP_PORT"); pids+=("$APP_PID"); done
  write_conf
  nginx -c "$TMP/nginx.conf" -p "$TMP"
  wait_http "http://127.0.0.1:$front/checkout"
  measure "$front" &
  local wrk_job=$!
  sleep 2
  for i in 0 1 2; do
    nginx_app
    apps[$i]=$APP_PORT
    write_conf
    sleep 1
    nginx -c "$TMP/nginx.conf" -p "$TMP" -s reload
    kill -TERM "${pids[$i]}"
    pids[$i]=$APP_PID
    sleep 1
  done
  wait "$wrk_job"
  nginx -c "$TMP/nginx.conf" -p "$TMP" -s quit || true
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 1
  PIDS=()
}

measure() {  # PORT: wrk for DURATION into $TMP/wrk.out, GET and POST in turn
  cat >"$TMP/mix.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  if n % 2 == 0 then
    return wrk.format("POST", "/checkout", {["content-type"] = "text/plain"}, "order-" .. n)
  end
  return wrk.format("GET", "/checkout")
end
LUA
  wrk -t 2 -c "$CONNECTIONS" -d "${DURATION}s" --latency -s "$TMP/mix.lua" \
    "http://127.0.0.1:$1/checkout" >"$TMP/wrk.out" 2>&1
}

row() {  # NAME: one table row from $TMP/wrk.out
  local rps p99 non2xx sock total
  rps=$(awk '/Requests\/sec/ {print $2}' "$TMP/wrk.out")
  p99=$(awk '$1 == "99%" {print $2}' "$TMP/wrk.out")
  total=$(awk '/requests in/ {print $1}' "$TMP/wrk.out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$TMP/wrk.out"); non2xx=${non2xx:-0}
  sock=$(awk -F'[ ,]+' '/Socket errors/ {print $4 + $6 + $8 + $10}' "$TMP/wrk.out"); sock=${sock:-0}
  printf '| %-17s | %9s | %8s | %7s | %13s | %7s |\n' "$1" "$rps" "$total" "$non2xx" "$sock" "$p99"
}

echo "rolling restart of 3 payment instances under wrk -c $CONNECTIONS for ${DURATION}s (payment latency ${LATENCY_MS} ms)"
echo
echo "| setup             | req/s     | requests | non-2xx | socket errors | p99     |"
echo "| ---               | ---       | ---      | ---     | ---           | ---     |"
run_graymesh; row graymesh
run_graymesh --no-drain; row graymesh-nodrain
run_nginx; row nginx
