#!/usr/bin/env bash
# The demo: the seed topology on loopback, every process a real graymesh.
#
#   control plane (SQLite, web console at /)
#   gateway :8080 -> order (base + gray) -> payment (base only) -> data (base + gray)
#
# Every instance is a sample app behind its own sidecar, registered through
# the control plane; the gateway and the sidecars take routes, instances and
# lanes from it. Lane `gray` takes 10% of users (sticky on x-user-id) and
# anyone sending `x-env: gray`; lane `vip-data` sends users 100..199 to the
# gray `data` (a rule on a service two hops from the entry). A trickle of
# requests keeps the console's graph moving. Ctrl-C stops everything.
#
# Environment: DEMO_DIR (default demo-run: logs, store, configuration),
# DEMO_PORT_OFFSET (default 0: added to every port, to run beside another),
# DEMO_RPS (default 4: the trickle's requests per second, 0 = none).
set -euo pipefail

BIN=$(realpath "${1:-build/release/src/cli/graymesh}")
RUN=${DEMO_DIR:-demo-run}
OFF=${DEMO_PORT_OFFSET:-0}
RPS=${DEMO_RPS:-4}
port() { echo $(($1 + OFF)); }
CONTROL_PORT=$(port 15010)
GW_PORT=$(port 8080)
GW_ADMIN=$(port 15021)
CONTROL=http://127.0.0.1:$CONTROL_PORT
mkdir -p "$RUN"

for p in "$CONTROL_PORT" "$GW_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "demo: port $p is in use (another demo still running?); stop it or set DEMO_PORT_OFFSET" >&2
    exit 1
  fi
done

pids=()      # every process, in start order; the control plane first
stopping=0
cleanup() {
  [[ $stopping -eq 1 ]] && return
  stopping=1
  trap '' INT TERM  # a second Ctrl-C (make passes one on) must not cut the cleanup short
  echo
  echo "== stopping"
  # Everything but the control plane first, so sidecars can deregister.
  local others=("${pids[@]:1}")
  stop "${others[@]}"
  stop "${pids[0]}"
}
stop() {  # stop PIDS...: SIGTERM, then SIGKILL what is left after 10 s
  [[ $# -eq 0 ]] && return
  kill "$@" 2>/dev/null || true
  for _ in $(seq 100); do
    local alive=0
    for p in "$@"; do running "$p" && alive=1; done
    [[ $alive -eq 0 ]] && break
    sleep 0.1
  done
  kill -KILL "$@" 2>/dev/null || true
  # No `wait` here: run from a trap that interrupted the main `wait`, bash can
  # lose a child's exit and then wait for it forever (seen: the control plane
  # never got its SIGTERM). Exited children are reaped when this script ends.
}
running() {  # running PID: the process exists and has not exited (a zombie has)
  local state
  state=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}
trap cleanup EXIT
trap 'exit 0' INT TERM  # runs the EXIT trap

start() {  # start NAME ARGS...: runs a graymesh command in the background, logs to $RUN/NAME.log
  local name=$1; shift
  "$BIN" "$@" >"$RUN/$name.log" 2>&1 &
  pids+=($!)
}

wait_ready() {  # wait_ready URL NAME: until URL answers 2xx (30 s)
  for _ in $(seq 300); do
    curl -sf -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "demo: $2 did not get ready ($1); see $RUN/$2.log" >&2
  exit 1
}

# In a session of its own, so Ctrl-C reaches it only through cleanup, after
# the sidecars have deregistered.
setsid "$BIN" control --listen "127.0.0.1:$CONTROL_PORT" --store "sqlite:$RUN/control.db" \
  >"$RUN/control.log" 2>&1 &
pids+=($!)
wait_ready "$CONTROL/healthz" control

# The rules: stored by the control plane (a second run finds them unchanged).
cat >"$RUN/rules.yaml" <<'YAML'
kind: Route
name: shop
spec:
  pathPrefix: /
  service: order
---
kind: TrafficLane
name: gray
spec:
  tag: gray
  entrance:
    match:
      - headers: { x-env: { exact: gray } }
      - percent: 10
        stickyOn: header:x-user-id
---
kind: TrafficLane
name: vip-data
spec:
  tag: gray
  entrance:
    service: data
    match:
      - headers: { x-user-id: { range: { min: 100, max: 199 } } }
YAML
"$BIN" apply -f "$RUN/rules.yaml" --control "$CONTROL" | sed 's/^/  /'

instance() {  # instance NAME SERVICE LANE BASE CALLS: app on BASE+0, sidecar in/out/admin on +1/+2/+3 of 15000+BASE
  local name=$1 service=$2 lane=$3 base=$4 calls=$5
  local app=$(port $((9000 + base))) in=$(port $((15000 + base + 1)))
  local out=$(port $((15000 + base + 2))) admin=$(port $((15000 + base + 3)))
  local app_args=(sample-app --name "$service" --listen "127.0.0.1:$app")
  [[ -n $lane ]] && app_args+=(--lane "$lane")
  [[ -n $calls ]] && app_args+=(--calls "$calls" --via "127.0.0.1:$out")
  start "$name-app" "${app_args[@]}"
  local proxy_args=(proxy --service "$service" --app "127.0.0.1:$app" --inbound "127.0.0.1:$in"
    --outbound "127.0.0.1:$out" --admin "127.0.0.1:$admin" --control "$CONTROL"
    --cache "$RUN/$name.snapshot.json" --workers 1)
  [[ -n $lane ]] && proxy_args+=(--lane "$lane")
  start "$name-proxy" "${proxy_args[@]}"
  admins+=("$name-proxy http://127.0.0.1:$admin/ready")
}
admins=()
instance order order "" 100 payment
instance order-gray order gray 200 payment
instance payment payment "" 300 data
instance data data "" 400 ""
instance data-gray data gray 500 ""
start gateway gateway --listen "127.0.0.1:$GW_PORT" --admin "127.0.0.1:$GW_ADMIN" \
  --control "$CONTROL" --cache "$RUN/gateway.snapshot.json" --workers 1
for a in "${admins[@]}"; do wait_ready "${a#* }" "${a%% *}"; done
wait_ready "http://127.0.0.1:$GW_ADMIN/ready" gateway

# One request and the path it took: service [lane] at every hop.
path() {
  curl -s --max-time 5 "$@" "http://127.0.0.1:$GW_PORT/checkout" | jq -r \
    'def lane: if (.lane // "") == "" then "base" else .lane end;
     def hop: "\(.service) [\(lane)]" + (if (.calls // []) == [] then ""
       else " -> " + (.calls[0] | if .error then "\(.service) ERROR \(.status) \(.error)" else hop end) end);
     hop' 2>/dev/null || echo "(no answer)"
}
show() { printf '  %-16s gateway -> %s\n' "$1" "$(shift; path "$@")"; }

# Every sidecar has the snapshot once /ready; routes reach the gateway with it.
for _ in $(seq 50); do
  [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GW_PORT/checkout") == 200 ]] && break
  sleep 0.1
done
echo "== 12 users (10% of users, sticky, go gray; the lane follows to data, past payment's base):"
for i in $(seq 12); do show "x-user-id: $i" -H "x-user-id: $i"; done
echo "== by header, and a vip-data user (gray at data only):"
show "x-env: gray" -H "x-env: gray"
show "x-user-id: 120" -H "x-user-id: 120"

if [[ $RPS != 0 ]]; then
  ( trap 'exit 0' TERM
    while :; do
      curl -s -o /dev/null --max-time 2 -H "x-user-id: $((RANDOM % 1000))" \
        "http://127.0.0.1:$GW_PORT/checkout" || true
      sleep "$(awk "BEGIN { print 1 / $RPS }")"
    done ) &
  pids+=($!)
fi

cat <<TXT

== graymesh is running
  console:  http://127.0.0.1:$CONTROL_PORT/   (topology, instances, release events, rules)
  try:      curl -H 'x-user-id: 120' http://127.0.0.1:$GW_PORT/checkout   (the JSON shows the gray path)
  also:     curl -H 'x-env: gray' http://127.0.0.1:$GW_PORT/checkout
            GRAYMESH_CONTROL=$CONTROL $BIN get instances
            curl http://127.0.0.1:$GW_ADMIN/metrics   (gateway counters)
  logs, store and configuration: $RUN/
Ctrl-C stops everything.
TXT
wait
