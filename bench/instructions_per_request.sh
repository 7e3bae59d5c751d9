#!/usr/bin/env bash
# Instructions per request, graymesh against nginx, counted by callgrind: a
# figure the machine's load does not move (bench/README.md,
# "instructions_per_request.sh"). Each proxy runs under
# `valgrind --tool=callgrind` with collection off; a loop client sends WARMUP
# requests, collection is switched on (callgrind_control -i on), REQUESTS more
# are sent and the counts are dumped. Ir per request = instructions of every
# thread of the proxy (user space; the kernel's TCP work is not counted) over
# the counted requests. The request is the one of proxy_vs_nginx.sh (GET /,
# Host plus 15 headers), the upstream an nginx with two ports; the gateway
# splits 10/90 over keep-alive pools, and so does the nginx proxy (the plain
# case); CASE=lanes adds the 50 lane rules to both, as proxy_vs_nginx.sh does.
#
# Knobs: REQUESTS (2000), WARMUP (300), CONNECTIONS (4, used in turn),
# CASE (plain|lanes), GRAYMESH_BIN, KEEP_TMP=1. Needs valgrind, nginx, python3.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
REQUESTS=${REQUESTS:-2000}
WARMUP=${WARMUP:-300}
CONNECTIONS=${CONNECTIONS:-4}
CASE=${CASE:-plain}
GRAYMESH_BIN=${GRAYMESH_BIN:-$ROOT/build/release/src/cli/graymesh}
[[ -x "$GRAYMESH_BIN" ]] || { echo "no graymesh at $GRAYMESH_BIN (build it or set GRAYMESH_BIN)" >&2; exit 2; }
for tool in valgrind callgrind_control nginx python3; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 2; }
done

TMP=$(mktemp -d /tmp/gm-ipr.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ ${KEEP_TMP:-0} == 1 ]] && echo "kept $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT

read -r UP1 UP2 GM NGX < <(python3 - <<'EOF'
import socket
socks = []
for _ in range(4):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)

nginx_head() {  # single process (master_process off), so callgrind sees the worker
  cat <<EOF
worker_processes 1;
master_process off;
daemon off;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $1/tmp; proxy_temp_path $1/tmp; fastcgi_temp_path $1/tmp;
  uwsgi_temp_path $1/tmp; scgi_temp_path $1/tmp;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
EOF
}

mkdir -p "$TMP/up/tmp" "$TMP/ngx/tmp"
{
  nginx_head "$TMP/up"
  echo "  server { listen 127.0.0.1:$UP1; location / { return 200 \"a\\n\"; } }"
  echo "  server { listen 127.0.0.1:$UP2; location / { return 200 \"b\\n\"; } }"
  echo "}"
} >"$TMP/up/nginx.conf"

# The request's user id and cookie, and the lane rules and nginx maps, of
# proxy_vs_nginx.sh, taken from it so both benchmarks send the same thing.
# shellcheck source=/dev/null
source <(sed -n '/^USER_OUT=/p; /^USER_IN=/p; /^BASE_COOKIE=/p' "$HERE/proxy_vs_nginx.sh")
export USER_OUT BASE_COOKIE
LANES_YAML="" NGINX_MAPS="" LANE_HEADER=""
if [[ $CASE == lanes ]]; then
  LANES=50
  # shellcheck source=/dev/null
  source <(sed -n '/^lane_specs()/,/^}/p; /^graymesh_lanes()/,/^}/p; /^nginx_lane_maps()/,/^}/p' \
    "$HERE/proxy_vs_nginx.sh")
  LANES_YAML=$(graymesh_lanes)
  NGINX_MAPS=$(nginx_lane_maps)
  LANE_HEADER='      proxy_set_header X-Lane $lane_0;'
fi

{
  nginx_head "$TMP/ngx"
  cat <<EOF
  upstream up_a { server 127.0.0.1:$UP1; keepalive 256; }
  upstream up_b { server 127.0.0.1:$UP2; keepalive 256; }
  split_clients "\${request_id}" \$pool { 10% up_a; * up_b; }
$NGINX_MAPS
  server {
    listen 127.0.0.1:$NGX;
    location / {
      proxy_pass http://\$pool;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
$LANE_HEADER
    }
  }
}
EOF
} >"$TMP/ngx/nginx.conf"
if [[ $CASE == lanes ]]; then sed -i '1i pcre_jit on;' "$TMP/ngx/nginx.conf"; fi

cat >"$TMP/gm.yaml" <<EOF
workers: 1
listeners:
  - { name: ingress, address: 127.0.0.1:$GM }
routes:
  - { pathPrefix: /, service: up }
services:
  - name: up
    endpoints:
      - { address: 127.0.0.1:$UP1, weight: 10 }
      - { address: 127.0.0.1:$UP2, weight: 90 }
    outlier: { consecutiveErrors: 5, errorRatePercent: 50, slowCallThreshold: 1s }
upstream: { maxIdlePerEndpoint: 256 }
$LANES_YAML
EOF

# Sends N copies of the benchmark request over C keep-alive connections in
# turn, each answer read whole before the next request goes.
cat >"$TMP/client.py" <<'EOF'
import os, socket, sys
port, n, c = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
cookie = os.environ["BASE_COOKIE"]
req = ("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
       "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
       "Chrome/120.0 Safari/537.36\r\n"
       "Accept: application/json, text/plain, */*\r\nAccept-Language: en-US,en;q=0.9\r\n"
       "Cookie: " + cookie + "\r\nX-User-Id: " + os.environ["USER_OUT"] + "\r\n"
       + "".join("X-H%d: val-9%d-rc1\r\n" % (k, k) for k in range(10)) + "\r\n").encode()
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(c)]
for i in range(n):
    s = socks[i % c]
    s.sendall(req)
    buf = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("connection closed")
        buf += chunk
        head, sep, body = buf.partition(b"\r\n\r\n")
        if sep:
            length = [int(l.split(b":")[1]) for l in head.split(b"\r\n")
                      if l.lower().startswith(b"content-length:")]
            if len(body) >= (length[0] if length else 0):
                break
    if not head.startswith(b"HTTP/1.1 200"):
        sys.exit("unexpected answer: " + head.decode(errors="replace"))
EOF

wait_port() {
  for _ in $(seq 200); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $1)).close()" \
      2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $1" >&2; exit 1
}

nginx -p "$TMP/up" -c "$TMP/up/nginx.conf" >/dev/null 2>&1 &
PIDS+=($!)
wait_port "$UP2"

# measure NAME PORT COMMAND...: prints Ir per request of COMMAND under callgrind.
measure() {
  local name=$1 port=$2
  shift 2
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$TMP/$name.%p.cg" \
    "$@" >"$TMP/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  wait_port "$port"
  python3 "$TMP/client.py" "$port" "$WARMUP" "$CONNECTIONS"
  callgrind_control -i on "$pid" >/dev/null 2>&1
  python3 "$TMP/client.py" "$port" "$REQUESTS" "$CONNECTIONS"
  callgrind_control -i off "$pid" >/dev/null 2>&1
  callgrind_control -d "$pid" >/dev/null 2>&1
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  # The Ir totals of the dump (all threads) and of the file written at exit.
  local ir
  ir=$(cat "$TMP/$name".*.cg* | awk '/^totals:/ { s += $2 } END { print s + 0 }')
  echo $((ir / REQUESTS))
}

GM_IR=$(measure graymesh "$GM" "$GRAYMESH_BIN" gateway --config "$TMP/gm.yaml" --admin none)
NGX_IR=$(measure nginx "$NGX" nginx -p "$TMP/ngx" -c "$TMP/ngx/nginx.conf")
echo "case $CASE, $REQUESTS requests over $CONNECTIONS connections (after $WARMUP)"
printf 'Ir/request  graymesh %d  nginx %d  graymesh/nginx %.2f\n' "$GM_IR" "$NGX_IR" \
  "$(python3 -c "print($GM_IR / $NGX_IR)")"
