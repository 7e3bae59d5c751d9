#!/usr/bin/env bash
# `make demo` as a user runs it, twice: starts, shows gray paths through the
# gateway, registers everything through the control plane, serves the
# console, stops on Ctrl-C (SIGINT to its process group) with nothing left
# running, and a second run on the same directory works.
#   demo_test.sh GRAYMESH_BIN REPO_DIR
set -euo pipefail
set -m  # background jobs get their own process group, as a terminal's would
BIN=$1
REPO=$2
WORK=$(mktemp -d /tmp/graymesh-demo-test.XXXXXX)
OFF=11000
GW=http://127.0.0.1:$((8080 + OFF))
CONTROL=http://127.0.0.1:$((15010 + OFF))
demo_pid=""
trap '[[ -n $demo_pid ]] && kill -KILL -- -$demo_pid 2>/dev/null; rm -rf "$WORK"' EXIT

fail() { echo "demo_test: FAILED: $*" >&2; echo "---- demo output ----" >&2; cat "$WORK/out" >&2; exit 1; }

lane_at() {  # lane_at SERVICE CURL-ARGS...: the lane of SERVICE on the path a request took
  local svc=$1; shift
  curl -s --max-time 15 "$@" "$GW/checkout" |
    jq -r --arg s "$svc" '[.. | objects | select(.service == $s)][0].lane // "?" | if . == "" then "base" else . end'
}

run_once() {
  local n=$1
  (cd "$WORK" && DEMO_DIR="$WORK/run" DEMO_PORT_OFFSET=$OFF exec bash "$REPO/scripts/demo.sh" "$BIN") \
    >"$WORK/out" 2>&1 &
  demo_pid=$!
  for _ in $(seq 600); do
    grep -q "graymesh is running" "$WORK/out" && break
    kill -0 "$demo_pid" 2>/dev/null || fail "run $n: the demo exited before it was running"
    sleep 0.1
  done
  grep -q "graymesh is running" "$WORK/out" || fail "run $n: not running after 60 s"
  grep -q "console:  $CONTROL/" "$WORK/out" || fail "run $n: no console URL printed"
  grep -q "curl -H 'x-user-id: 120'" "$WORK/out" || fail "run $n: no one-line curl printed"

  [[ $(lane_at order -H 'x-env: gray') == gray ]] || fail "run $n: x-env: gray did not reach gray order"
  [[ $(lane_at data -H 'x-env: gray') == gray ]] || fail "run $n: the gray lane did not follow to data"
  [[ $(lane_at payment -H 'x-env: gray') == base ]] || fail "run $n: payment has no gray instance"
  [[ $(lane_at data -H 'x-user-id: 120') == gray ]] || fail "run $n: user 120 did not reach gray data"
  [[ $(lane_at order -H 'x-user-id: 1') == base ]] || fail "run $n: user 1 is not in the 10%"
  local gray=0
  for u in $(seq 100 199); do [[ $(lane_at order -H "x-user-id: $u") == gray ]] && gray=$((gray + 1)); done
  ((gray >= 3 && gray <= 20)) || fail "run $n: $gray of 100 users went gray at order, configured 10%"

  local instances
  instances=$(curl -s "$CONTROL/v1/instances" | jq -r '[.instances[] | .service + "/" + (if .lane == "" then "base" else .lane end)] | sort | join(" ")')
  [[ $instances == "data/base data/gray order/base order/gray payment/base" ]] ||
    fail "run $n: registered instances: $instances"
  curl -s -H 'accept: text/html' "$CONTROL/" | grep -q "<title>graymesh console</title>" ||
    fail "run $n: no console at $CONTROL/"
  [[ $(curl -s "$CONTROL/v1/events" | jq '[.events[] | select(.kind == "registered")] | length') -ge 5 ]] ||
    fail "run $n: the events do not list the registrations"

  kill -INT -- -"$demo_pid"  # Ctrl-C
  # A test started from a background job inherits SIGINT ignored (a terminal
  # never does that) and bash cannot trap a signal ignored at its start; the
  # demo stops the same way on SIGTERM.
  for _ in $(seq 50); do kill -0 "$demo_pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$demo_pid" 2>/dev/null && kill -TERM -- -"$demo_pid" 2>/dev/null
  local code=0
  wait "$demo_pid" || code=$?
  demo_pid=""
  [[ $code -eq 0 ]] || fail "run $n: exit code $code after Ctrl-C"
  grep -q "== stopping" "$WORK/out" || fail "run $n: did not stop through its own cleanup"
  # Under sanitizers (make asan): a report from any demo process fails the run.
  local reports
  reports=$(grep -lE 'SUMMARY: [A-Za-z]+Sanitizer' "$WORK/out" "$WORK"/run/*.log 2>/dev/null || true)
  [[ -z $reports ]] || fail "run $n: sanitizer reports in $reports: $(grep -hE -B40 'SUMMARY: [A-Za-z]+Sanitizer' $reports)"
  for p in $((15010 + OFF)) $((8080 + OFF)) $((15101 + OFF)) $((15501 + OFF)) $((9100 + OFF)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && fail "run $n: port $p still open after Ctrl-C"
  done
  echo "demo_test: run $n ok ($gray of 100 users gray at order)"
}

run_once 1
run_once 2
