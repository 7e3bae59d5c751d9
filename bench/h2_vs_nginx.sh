#!/usr/bin/env bash
# HTTP/2 clients through the graymesh gateway vs nginx doing the same, two
# cases (CASES, default "h2 h1"):
#   h2: to an upstream nginx serving h2c (prior knowledge); the nginx proxy
#       is `listen ... http2` + grpc_pass, graymesh a `protocol: http2` service.
#   h1: to an upstream nginx serving HTTP/1.1 only; the nginx proxy is
#       `listen ... http2` + proxy_pass with keep-alive upstream connections,
#       graymesh a service with the default `protocol: auto` (HTTP/1.1).
# Load from h2load (Debian's nghttp2-client: setup.sh --bench).
# Figures: requests/s, the proxy's CPU time per request (utime+stime of its
# processes over the run / requests done) and p99 latency from h2load's
# per-request log; one ratio line graymesh/nginx per case.
# Usage: bench/h2_vs_nginx.sh   Environment: REQUESTS=50000 CLIENTS=10 STREAMS=10
#   CASES="h2 h1"  GRAYMESH_BIN (default build/release/src/cli/graymesh)
set -euo pipefail
REQUESTS=${REQUESTS:-50000}
CLIENTS=${CLIENTS:-10}
STREAMS=${STREAMS:-10}
CASES=${CASES:-h2 h1}
BIN=${GRAYMESH_BIN:-build/release/src/cli/graymesh}
TMP=$(mktemp -d)
trap 'kill $(cat "$TMP"/*.pid 2>/dev/null) 2>/dev/null || true; rm -rf "$TMP"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UP=$(free_port) GM=$(free_port) NG=$(free_port) ADMIN=$(free_port)
UP1=$(free_port) GM1=$(free_port) NG1=$(free_port) ADMIN1=$(free_port)

nginx_conf() {  # $1 dir, $2 server block
  mkdir -p "$1/tmp"
  cat > "$1/nginx.conf" <<CONF
daemon off; worker_processes 1; pid $1/nginx.pid; error_log $1/error.log;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path $1/tmp; proxy_temp_path $1/tmp;
       fastcgi_temp_path $1/tmp; uwsgi_temp_path $1/tmp; scgi_temp_path $1/tmp;
       keepalive_requests 1000000;
       $2 }
CONF
}
# One upstream nginx serves both cases: h2c on $UP, HTTP/1.1 on $UP1.
nginx_conf "$TMP/up" "server { listen 127.0.0.1:$UP http2; location / { return 200 \"ok\\n\"; } }
  server { listen 127.0.0.1:$UP1; location / { return 200 \"ok\\n\"; } }"
nginx_conf "$TMP/ng" "upstream up { server 127.0.0.1:$UP; keepalive 32; }
  server { listen 127.0.0.1:$NG http2; location / { grpc_pass grpc://up; } }"
nginx_conf "$TMP/ng1" "upstream up1 { server 127.0.0.1:$UP1; keepalive 32; }
  server { listen 127.0.0.1:$NG1 http2; location / { proxy_pass http://up1;
    proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"
gm_conf() {  # $1 file, $2 listen port, $3 service line
  cat > "$1" <<CONF
workers: 1
listeners: [{ name: ingress, kind: gateway, address: "127.0.0.1:$2" }]
routes: [{ pathPrefix: /, service: up }]
services: [$3]
CONF
}
gm_conf "$TMP/gm.yaml" "$GM" "{ name: up, protocol: http2, endpoints: [{ address: \"127.0.0.1:$UP\" }] }"
gm_conf "$TMP/gm1.yaml" "$GM1" "{ name: up, endpoints: [{ address: \"127.0.0.1:$UP1\" }] }"
nginx -c "$TMP/up/nginx.conf" & echo $! > "$TMP/up.pid"
nginx -c "$TMP/ng/nginx.conf" & echo $! > "$TMP/ng.pid"
nginx -c "$TMP/ng1/nginx.conf" & echo $! > "$TMP/ng1.pid"
"$BIN" gateway --config "$TMP/gm.yaml" --admin "127.0.0.1:$ADMIN" > "$TMP/gm.log" 2>&1 & echo $! > "$TMP/gm.pid"
"$BIN" gateway --config "$TMP/gm1.yaml" --admin "127.0.0.1:$ADMIN1" > "$TMP/gm1.log" 2>&1 & echo $! > "$TMP/gm1.pid"
sleep 1

cpu_ticks() {  # the process and its children
  local total=0
  for p in $1 $(pgrep -P "$1" || true); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo $total
}

run() {  # $1 name, $2 port, $3 pid
  h2load -n 2000 -c "$CLIENTS" -m "$STREAMS" "http://127.0.0.1:$2/" > /dev/null  # warm-up
  local before after
  before=$(cpu_ticks "$3")
  h2load -n "$REQUESTS" -c "$CLIENTS" -m "$STREAMS" --log-file "$TMP/$1.log" \
    "http://127.0.0.1:$2/" > "$TMP/$1.out"
  after=$(cpu_ticks "$3")
  local rps ok p99 cpu
  rps=$(awk '/^finished in/ {print $4}' "$TMP/$1.out" | tr -d ',')
  ok=$(awk '/^status codes:/ {print $3}' "$TMP/$1.out")
  p99=$(awk '{print $3}' "$TMP/$1.log" | sort -n | awk '{a[NR]=$1} END {print a[int(NR*0.99)]/1000}')
  cpu=$(awk -v t=$((after - before)) -v n="$ok" -v hz="$(getconf CLK_TCK)" \
    'BEGIN {printf "%.2f", t / hz * 1e6 / n}')
  echo "$1 rps=$rps 2xx=$ok cpu_us_per_req=$cpu p99_ms=$p99"
}
compare() {  # $1 case, $2 graymesh port, $3 its pid file, $4 nginx port, $5 its pid file
  local g n
  g=$(run "graymesh-$1" "$2" "$(cat "$TMP/$3")")
  n=$(run "nginx-$1" "$4" "$(cat "$TMP/$5")")
  echo "$g"; echo "$n"
  awk -v c="$1" -v g="$g" -v n="$n" 'BEGIN {
    split(g, a, /[ =]/); split(n, b, /[ =]/)
    printf "ratio %s graymesh/nginx: cpu_per_req=%.2f p99=%.2f rps=%.2f\n", c, a[7]/b[7], a[9]/b[9], a[3]/b[3] }'
}
for c in $CASES; do
  case $c in
    h2) compare h2 "$GM" gm.pid "$NG" ng.pid ;;
    h1) compare h1 "$GM1" gm1.pid "$NG1" ng1.pid ;;
    *) echo "unknown case $c (h2, h1)" >&2; exit 2 ;;
  esac
done
