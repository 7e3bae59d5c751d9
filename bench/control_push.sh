#!/usr/bin/env bash
# Control-plane push benchmark: starts `graymesh control` on a free loopback
# port with a temp SQLite store, then runs bench/control_push against it:
# 10,000 registrations (100 services x 100 instances), 1,000 long-polling
# snapshot watchers in one process, 20 TrafficLane applies one at a time,
# each timed from just before the apply to the moment the last watcher holds
# the new revision. Prints p50/p99/max of that, the control plane's VmRSS
# before/after, bytes pushed per change and the registration time.
#
# Usage: bench/control_push.sh [extra control_push flags, e.g. --clients 200]
# Environment:
#   GRAYMESH_BIN   graymesh binary (default build/release/src/cli/graymesh)
#   PUSH_BIN       control_push binary (default build/release/bench/control_push)
#   (either is built with `cmake --build build/release --target ...` if missing)
#   LEASE_TTL=600s lease TTL, long enough that no registration expires mid-run
#   KEEP_TMP=1     keep the temp dir (store, control plane log)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GRAYMESH_BIN=${GRAYMESH_BIN:-$ROOT/build/release/src/cli/graymesh}
PUSH_BIN=${PUSH_BIN:-$ROOT/build/release/bench/control_push}
LEASE_TTL=${LEASE_TTL:-600s}

need=()
[[ -x $GRAYMESH_BIN ]] || need+=(graymesh)
[[ -x $PUSH_BIN ]] || need+=(control_push)
if ((${#need[@]})); then
  echo "building ${need[*]} ..." >&2
  cmake --build "$ROOT/build/release" -j2 --target "${need[@]}"
fi

TMP=$(mktemp -d /tmp/control_push.XXXXXX)
CP_PID=""
cleanup() {
  local rc=$?
  if [[ -n $CP_PID ]] && kill -0 "$CP_PID" 2>/dev/null; then
    kill -TERM "$CP_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$CP_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$CP_PID" 2>/dev/null || true
  fi
  if [[ $rc -ne 0 || -n ${KEEP_TMP:-} ]]; then
    echo "temp dir kept: $TMP" >&2
  else
    rm -rf "$TMP"
  fi
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

PORT=$(free_port)
# The control plane holds one fd per watcher too.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
"$GRAYMESH_BIN" control --listen "127.0.0.1:$PORT" --store "sqlite:$TMP/control.db" \
  --lease-ttl "$LEASE_TTL" >"$TMP/control.log" 2>&1 &
CP_PID=$!

for _ in $(seq 100); do
  if curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$CP_PID" 2>/dev/null; then
    echo "graymesh control exited:" >&2
    cat "$TMP/control.log" >&2
    exit 1
  fi
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null

echo "graymesh control pid $CP_PID on 127.0.0.1:$PORT, store $TMP/control.db, lease TTL $LEASE_TTL"
rc=0
"$PUSH_BIN" --port "$PORT" --pid "$CP_PID" "$@" || rc=$?
echo "control plane /metrics at the end:"
curl -fsS "http://127.0.0.1:$PORT/metrics" | grep -E '^graymesh_control_(revision|instances|watchers|snapshots_served_total|registrations_total|lease_expirations_total)' || true
exit $rc
