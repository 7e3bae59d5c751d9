#!/usr/bin/env bash
# Compares graymesh with nginx and HAProxy as reverse proxies over keep-alive
# upstreams, in three cases:
#   plain  a gateway doing a 10%/90% weighted split over two upstreams
#   lanes  the split behind 50 gray-release lane entrance rules on request
#          headers and a cookie (graymesh `lanes:`; nginx a chain of `map`s;
#          HAProxy is not measured here). The benchmark request matches none
#          of them, so all 50 are evaluated on every request (the worst case).
#   pair   what a mesh call pays: client -> caller's sidecar (graymesh proxy
#          outbound) -> callee's sidecar (graymesh proxy inbound) -> app,
#          against two nginx (or two HAProxy) doing the same two hops; CPU
#          and RSS are the sums of both proxy processes.
# wrk sends the same request, with 15 extra headers, in every case.
# After the measured runs: heap allocations and syscalls per request of each
# proxy (ALLOCS, SYSCALLS), and a low-load latency case (one connection,
# proxy, wrk and upstream on one core: p50 added over a direct call).
#
# Layout: the proxy under test alone on core 0; the upstream
# nginx and wrk together on core 1. On this layout the load side saturates
# before a good proxy does, so requests/s cannot rank the proxies; the key
# figure is the proxy's CPU time per request (utime+stime over the run divided
# by the requests wrk completed), next to p50/p99 and RSS.
#
# Usage: bench/proxy_vs_nginx.sh [--quick] [--case plain|lanes|pair|all]
#   --quick        DURATION=3, one run per proxy and case (smoke check)
#   --case C       plain, lanes, pair or all (default all, in that order per run)
# Environment:
#   DURATION=10    seconds per measured wrk run
#   RUNS=3         measured runs per proxy and case (alternating plain
#                  graymesh, plain nginx, lanes graymesh, lanes nginx, ...)
#   WARMUP=2       seconds of wrk before every measured run (not measured)
#   CONNECTIONS=64 wrk connections
#   GRAYMESH_BIN   graymesh binary (default build/release/src/cli/graymesh,
#                  built with `cmake --preset release` if missing or older
#                  than the sources)
#   HEALTH=on      graymesh endpoint health: on (an outlier section on the
#                  service, so every attempt is counted) or off
#                  (upstream.health: false); compare the CPU per request
#   PEERS="nginx haproxy"  the peer proxies measured next to graymesh
#   ALLOCS=1       count heap allocations per request (an LD_PRELOAD counter,
#                  bench/alloc_count.c, in every proxy); 0 = off
#   SYSCALLS=1     count syscalls per request (strace -c -f on the proxy
#                  during a PROBE_SECONDS wrk run after the measured runs)
#   PROBE_SECONDS=3  length of the syscall-counting run
#   LATENCY=1      the low-load latency case (LAT_SECONDS=5 per proxy); 0 = off
#   MEMORY=1       memory: RSS per idle keep-alive client connection (IDLE_CONNS
#                  connections, each after one request: RSS delta / N) of
#                  every plain-case proxy, and the RSS of a graymesh gateway
#                  with 100 services x 10 endpoints and 2 workers; 0 = off
#   IDLE_CONNS=1000
#   KEEP_TMP=1     keep the temp dir (configs, logs, wrk output) on success;
#                  it is always kept when the script fails
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-10}
RUNS=${RUNS:-3}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-64}
HEALTH=${HEALTH:-on}
read -r -a PEERS <<<"${PEERS:-nginx haproxy}"
ALLOCS=${ALLOCS:-1}
SYSCALLS=${SYSCALLS:-1}
PROBE_SECONDS=${PROBE_SECONDS:-3}
LATENCY=${LATENCY:-1}
LAT_SECONDS=${LAT_SECONDS:-5}
MEMORY=${MEMORY:-1}
IDLE_CONNS=${IDLE_CONNS:-1000}
[[ $HEALTH == on || $HEALTH == off ]] || { echo "HEALTH must be on or off" >&2; exit 2; }
SPLIT_SAMPLES=1000        # requests per proxy for the 10/90 split check
PROXY_CORE=0
LOAD_CORE=1
CASES=(plain lanes pair)  # --case narrows this
LANES=50                  # entrance rules in the lanes case (lane_specs assumes 50)

# The sticky-percentage key the benchmark request carries, and one that falls
# in a share. Both proxies must agree for the lane check to pass, and they
# hash differently (graymesh FNV-1a 64 % 100, nginx split_clients
# MurmurHash2), so these were picked to be outside every share of both
# (USER_OUT: bucket 85, murmur 83.5%) and inside the 20% share of both
# (USER_IN: bucket 10, murmur 19.1%); check_lanes verifies it on every run.
USER_OUT=u48214000
USER_IN=u48214012
# The base cookie: every cookie a rule looks at (c0..c3) is there, with a
# value no rule lists, so the `in` lookups really run.
BASE_COOKIE="session=8f14e45fceea167a5a36dedd4bea2543; c0=zz; c1=a999; c2=b77; c3=x"

TMP=""
STARTED_PIDS=()           # every long-running process we start (nginx masters, graymesh)
WRK_PID=""                # the wrk currently running, if any
FAILED=0
NOISY=0                   # set when other processes used notable CPU during a run
declare -A PORT=()        # "case/proxy" -> port the proxy listens on
declare -A PID=()         # "case/proxy" -> pids whose CPU is measured (nginx: its workers)

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

parse_args() {
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --quick) DURATION=3; RUNS=1 ;;
      --case)
        [[ $# -ge 2 ]] || die "--case needs plain, lanes, pair or all"
        case "$2" in
          plain|lanes|pair) CASES=("$2") ;;
          all) CASES=(plain lanes pair) ;;
          *) die "--case: want plain, lanes, pair or all, got '$2'" ;;
        esac
        shift ;;
      -h|--help) usage; exit 0 ;;
      *) usage >&2; die "unknown argument: $1" ;;
    esac
    shift
  done
}

# ---------------------------------------------------------------- setup ----

ensure_tools() {
  local t missing=0
  for t in nginx haproxy wrk curl taskset pgrep python3 strace cc; do
    command -v "$t" >/dev/null || missing=1
  done
  if [[ $missing -eq 1 ]]; then
    log "installing benchmark tools (scripts/setup.sh --bench)"
    "$ROOT/scripts/setup.sh" --bench
  fi
  for t in nginx haproxy wrk curl taskset pgrep python3 strace cc; do
    command -v "$t" >/dev/null || die "$t not found even after scripts/setup.sh --bench"
  done
  [[ $(nproc) -ge 2 ]] || die "needs 2 cores (proxy on core $PROXY_CORE, load on core $LOAD_CORE)"
}

ensure_graymesh() {
  if [[ -n "${GRAYMESH_BIN:-}" ]]; then
    # An explicit binary is never rebuilt: the caller chose what to measure.
    [[ -x "$GRAYMESH_BIN" ]] || die "GRAYMESH_BIN=$GRAYMESH_BIN is not an executable"
    return
  fi
  GRAYMESH_BIN="$ROOT/build/release/src/cli/graymesh"
  # A binary older than any source or build file would measure old code.
  local stale=""
  if [[ -x "$GRAYMESH_BIN" ]]; then
    stale=$(find "$ROOT/src" "$ROOT/cmake" "$ROOT/CMakeLists.txt" "$ROOT/CMakePresets.json" \
      -type f -newer "$GRAYMESH_BIN" -print -quit 2>/dev/null) || true
  fi
  if [[ ! -x "$GRAYMESH_BIN" || -n "$stale" ]]; then
    log "building release graymesh (only the graymesh target)${stale:+; $stale is newer}"
    # A tree that is mid-edit may not build; GRAYMESH_BIN then measures a
    # binary of the caller's choice instead.
    (cd "$ROOT" && cmake --preset release >/dev/null &&
       cmake --build build/release -j2 --target graymesh) ||
      die "building graymesh failed; set GRAYMESH_BIN=path to measure an existing binary"
  fi
  [[ -x "$GRAYMESH_BIN" ]] || die "no graymesh binary at $GRAYMESH_BIN"
}

# Prints N distinct ports that are free on 127.0.0.1 right now. All sockets
# are held open together so the kernel cannot hand out the same port twice.
free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# ------------------------------------------------------- process control ----

cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  if [[ -n "$WRK_PID" ]]; then kill "$WRK_PID" 2>/dev/null || true; fi
  # TERM first (nginx master takes its workers down; graymesh drains), then
  # KILL whatever is still there after a few seconds.
  for pid in "${STARTED_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  local deadline=$((SECONDS + 5))
  for pid in "${STARTED_PIDS[@]}"; do
    while kill -0 "$pid" 2>/dev/null && [[ $SECONDS -lt $deadline ]]; do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "pid $pid did not stop on TERM; killing"
      kill -KILL "$pid" 2>/dev/null || true
      # nginx workers of a killed master would linger: take them too.
      local child
      for child in $(pgrep -P "$pid" || true); do kill -KILL "$child" 2>/dev/null || true; done
    fi
    wait "$pid" 2>/dev/null || true
  done
  if [[ -n "$TMP" && -d "$TMP" ]]; then
    if [[ $rc -ne 0 || "${KEEP_TMP:-0}" == 1 ]]; then
      log "logs and configs kept in $TMP"
    else
      rm -rf "$TMP"
    fi
  fi
  exit "$rc"
}

# Waits until something accepts TCP connections on 127.0.0.1:PORT, failing
# early if the process that should serve it has exited (then LOG, if given,
# says why: graymesh prints FILE:LINE for a config it rejects).
wait_port() {
  local port=$1 pid=$2 what=$3 logfile=${4:-} i rc=0
  for ((i = 0; i < 100; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null || rc=$?
      [[ -n "$logfile" && -s "$logfile" ]] && tail -n 20 "$logfile" | sed 's/^/    | /' >&2
      die "$what (pid $pid) exited with status $rc before listening on $port"
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  die "$what did not listen on 127.0.0.1:$port within 10s"
}

# The nginx worker is what serves requests; the master only supervises.
nginx_worker_pid() {
  local master=$1 w i
  for ((i = 0; i < 50; i++)); do
    w=$(pgrep -P "$master" | head -n1 || true)
    [[ -n "$w" ]] && { echo "$w"; return; }
    sleep 0.1
  done
  die "no worker process under nginx master $master"
}

# utime+stime in clock ticks, summed over all threads of the process.
# The comm field may contain spaces, so fields are counted after the last ')':
# there utime and stime (stat fields 14, 15) are the 12th and 13th.
cpu_ticks() {
  local stat
  stat=$(<"/proc/$1/stat") || return 1
  stat=${stat##*) }
  awk '{ print $12 + $13 }' <<<"$stat"
}

# stime alone: the CPU the kernel spent for the process (its syscalls and the
# loopback TCP work they do), to show how much of CPU per request is kernel.
kernel_ticks() {
  local stat
  stat=$(<"/proc/$1/stat") || return 1
  stat=${stat##*) }
  awk '{ print $13 }' <<<"$stat"
}

# Busy clock ticks of the whole machine (all cores) from /proc/stat:
# user nice system irq softirq steal (idle and iowait left out).
machine_busy_ticks() {
  awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

# CPU ticks of this shell's reaped children (cutime+cstime, stat fields 16,
# 17): how wrk's own CPU is read once it has exited.
children_ticks() {
  local stat
  stat=$(<"/proc/$$/stat")
  stat=${stat##*) }
  awk '{ print $14 + $15 }' <<<"$stat"
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# cpu_ticks and rss_kb summed over several pids (the pair case measures two
# proxy processes); fails when one of them is gone.
cpu_ticks_all() {
  local pid sum=0 t
  for pid in "$@"; do t=$(cpu_ticks "$pid") || return 1; sum=$((sum + t)); done
  echo "$sum"
}
kernel_ticks_all() {
  local pid sum=0 t
  for pid in "$@"; do t=$(kernel_ticks "$pid") || return 1; sum=$((sum + t)); done
  echo "$sum"
}
rss_kb_all() {
  local pid sum=0 k
  for pid in "$@"; do k=$(rss_kb "$pid") || return 1; sum=$((sum + k)); done
  echo "$sum"
}

# Heap allocations counted so far by the LD_PRELOAD counter of KEY
# ("case/proxy"; every process of the key shares one counter file).
alloc_count() {
  local f="$TMP/allocs-${1//\//-}"
  [[ -s "$f" ]] || { echo 0; return; }
  od -An -tu8 -N8 "$f" | tr -d ' '
}

# The environment a proxy of KEY starts with: the allocation counter.
proxy_env() {
  if [[ $ALLOCS == 1 ]]; then
    printf '%s\0' "LD_PRELOAD=$ALLOC_SO" "GM_ALLOC_COUNT_FILE=$TMP/allocs-${1//\//-}"
  fi
}

# ------------------------------------------------------------- configs ----

# nginx paths: everything (pid, temp dirs, logs) inside the run's own prefix,
# so nothing touches /etc/nginx or /var.
nginx_common() {
  local dir=$1
  cat <<EOF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
EOF
}

nginx_http_common() {
  local dir=$1
  cat <<EOF
  access_log off;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  # wrk holds its connections for the whole run: never close them on it.
  keepalive_requests 1000000;
  keepalive_timeout 300s;
EOF
}

# Upstream: two ports, small fixed body. The bodies differ ("a"/"b", same
# length) only so the split check can tell which endpoint answered.
# /lane-check echoes the lane a proxy sent (graymesh: x-graymesh-lane, nginx:
# X-Lane) for check_lanes; the benchmark never requests it.
write_upstream_conf() {
  local dir=$1
  mkdir -p "$dir/tmp"
  {
    nginx_common "$dir"
    echo "http {"
    nginx_http_common "$dir"
    cat <<EOF
  default_type text/plain;
  server {
    listen 127.0.0.1:$UP1;
    location / { return 200 "a\n"; }
    location = /lane-check { return 200 "lane=\$http_x_graymesh_lane\$http_x_lane\n"; }
  }
  server {
    listen 127.0.0.1:$UP2;
    location / { return 200 "b\n"; }
    location = /lane-check { return 200 "lane=\$http_x_graymesh_lane\$http_x_lane\n"; }
  }
}
EOF
  } >"$dir/nginx.conf"
}

# The 50 lane rules of the lanes case, one per line, tab-separated:
#   index kind key pattern sample
# kind is exact, prefix, regex or in (a condition on header KEY, or for `in`
# on cookie KEY, with PATTERN; `in` lists its values comma-separated) or
# percent (PATTERN % of users, sticky on header KEY). SAMPLE is a value that
# makes the rule match (check_lanes). The kinds cycle so that every header
# x-h0..x-h9 meets several kinds: 15 exact, 10 prefix, 10 regex (half with a
# literal prefix, which graymesh can reject without running the regex, half
# starting with [a-z]+, which it cannot), 10 in, 5 percent.
lane_specs() {
  local -a cycle=(exact prefix regex-id exact in prefix regex-any exact in percent)
  local -a share=(20 10 5 2 1)  # percent lanes, one per group of 10
  local i g kind key pattern sample
  for ((i = 0; i < LANES; i++)); do
    g=$((i / 10))
    kind=${cycle[(i + g) % 10]}
    key="x-h$((i % 10))"
    case "$kind" in
      exact) pattern="val-$i" sample="val-$i" ;;
      prefix) pattern="pre-$i-" sample="pre-$i-x7" ;;
      regex-id) kind=regex pattern="id-$i-[0-9]+" sample="id-$i-42" ;;
      regex-any) kind=regex pattern="[a-z]+-$i-(alpha|beta|rc)[0-9]*" sample="beta-$i-rc2" ;;
      in) key="c$((i % 4))" pattern="a$i,b$i,c$i" sample="b$i" ;;
      percent) key=x-user-id pattern=${share[g]} sample=$USER_IN ;;
    esac
    printf '%s\t%s\t%s\t%s\t%s\n' "$i" "$kind" "$key" "$pattern" "$sample"
  done
}

# The benchmark request's headers besides Host, one "Name: value" a line:
# what a browser-facing API call carries, plus x-h0..x-h9 with values no rule
# matches but every rule must look at (near misses, not absent headers).
request_headers() {
  local k
  printf '%s\n' \
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36" \
    "Accept: application/json, text/plain, */*" \
    "Accept-Language: en-US,en;q=0.9" \
    "Cookie: $BASE_COOKIE" \
    "X-User-Id: $USER_OUT"
  for ((k = 0; k < 10; k++)); do printf 'X-H%d: val-9%d-rc1\n' "$k" "$k"; done
}

# request_headers with header NAME (any case) set to VALUE.
request_headers_with() {
  request_headers | awk -v n="$1" -v v="$2" '
    { i = index($0, ": "); if (tolower(substr($0, 1, i - 1)) == tolower(n)) $0 = substr($0, 1, i + 1) v; print }'
}

# BASE_COOKIE with cookie NAME set to VALUE.
cookie_with() {
  awk -v c="$BASE_COOKIE" -v n="$1" -v v="$2" 'BEGIN {
    m = split(c, part, "; "); out = ""
    for (i = 1; i <= m; i++) {
      if (index(part[i], n "=") == 1) part[i] = n "=" v
      out = out (i > 1 ? "; " : "") part[i]
    }
    print out }'
}

# The same request for wrk, whatever the case: wrk builds it once from
# wrk.headers, so the script costs wrk nothing per request.
write_wrk_script() {
  local line
  {
    echo "-- Written by bench/proxy_vs_nginx.sh: the benchmark request's headers."
    while IFS= read -r line; do
      printf 'wrk.headers["%s"] = "%s"\n' "${line%%: *}" "${line#*: }"
    done < <(request_headers)
  } >"$1"
}

# curl arguments sending request_headers (or, with NAME VALUE, the variant).
curl_header_args() {
  local line
  while IFS= read -r line; do printf '%s\0%s\0' -H "$line"; done < <(
    if [[ $# -eq 2 ]]; then request_headers_with "$1" "$2"; else request_headers; fi)
}

# The lane rules as nginx maps, chained in rule order: $lane_I is "lane-I"
# when rule I matches, else $lane_(I+1), and the last one's default is "".
# nginx evaluates a map only when its variable is read, so reading $lane_0
# walks the chain up to the first match, like graymesh's first-match order;
# a request matching nothing walks all 50. Every kind maps like graymesh's:
# prefix and regex are anchored PCRE (regex as a full match), exact and in are
# the map's string hash, percent is split_clients on the same header (a
# missing or empty key never enters the share, as in graymesh).
# The single-quoted $names are nginx variables, not shell ones:
# shellcheck disable=SC2016
nginx_lane_maps() {
  local i kind key pattern sample next var v
  while IFS=$'\t' read -r i kind key pattern sample; do
    if ((i + 1 < LANES)); then next="\$lane_$((i + 1))"; else next='""'; fi
    var="\$http_${key//-/_}"
    case "$kind" in
      exact) printf '  map %s $lane_%d { default %s; "%s" lane-%d; }\n' \
        "$var" "$i" "$next" "$pattern" "$i" ;;
      prefix) printf '  map %s $lane_%d { default %s; "~^%s" lane-%d; }\n' \
        "$var" "$i" "$next" "$pattern" "$i" ;;
      regex) printf '  map %s $lane_%d { default %s; "~^(?:%s)$" lane-%d; }\n' \
        "$var" "$i" "$next" "$pattern" "$i" ;;
      in)
        printf '  map $cookie_%s $lane_%d { default %s;' "$key" "$i" "$next"
        for v in ${pattern//,/ }; do printf ' %s lane-%d;' "$v" "$i"; done
        printf ' }\n' ;;
      percent)
        printf '  split_clients "${%s}" $pct_%d { %s%% lane-%d; * ""; }\n' \
          "${var#\$}" "$i" "$pattern" "$i"
        printf '  map %s $lane_%d { default $pct_or_next_%d; "" %s; }\n' "$var" "$i" "$i" "$next"
        printf '  map $pct_%d $pct_or_next_%d { default $pct_%d; "" %s; }\n' \
          "$i" "$i" "$i" "$next" ;;
    esac
  done < <(lane_specs)
}

# Peer proxy: the same 10/90 split as graymesh (UP1 weight 10, UP2 weight 90),
# per request on the random $request_id, over keep-alive upstream pools.
# The lanes case adds the map chain and sends its result upstream; an empty
# value sends no header, as graymesh sends none for a request left in base.
write_nginx_proxy_conf() {
  local dir=$1 port=$2 cname=$3
  mkdir -p "$dir/tmp"
  {
    nginx_common "$dir"
    if [[ $cname == lanes ]]; then
      # A tuned nginx JITs its regexes; without it the map chain costs more.
      echo "pcre_jit on;"
    fi
    echo "http {"
    nginx_http_common "$dir"
    cat <<EOF
  upstream up_a {
    server 127.0.0.1:$UP1;
    keepalive 256;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
  }
  upstream up_b {
    server 127.0.0.1:$UP2;
    keepalive 256;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
  }
  split_clients "\${request_id}" \$pool {
    10% up_a;
    *   up_b;
  }
EOF
    if [[ $cname == lanes ]]; then nginx_lane_maps; fi
    cat <<EOF
  server {
    listen 127.0.0.1:$port;
    location / {
      proxy_pass http://\$pool;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
EOF
    if [[ $cname == lanes ]]; then echo "      proxy_set_header X-Lane \$lane_0;"; fi
    cat <<EOF
    }
  }
}
EOF
  } >"$dir/nginx.conf"
}

# The lane rules as graymesh `lanes:` (docs/config.md, "Lanes"). No endpoint
# carries a lane label, so a dyed request would fall back to base (the
# default `fallback: base`); the benchmark request is dyed by none.
graymesh_lanes() {
  local i kind key pattern sample v
  echo "lanes:"
  while IFS=$'\t' read -r i kind key pattern sample; do
    printf '  - name: lane-%d\n    tag: lane-%d\n    entrance:\n      match:\n' "$i" "$i"
    case "$kind" in
      exact|prefix|regex) printf '        - headers: { %s: { %s: "%s" } }\n' "$key" "$kind" "$pattern" ;;
      in)
        v=${pattern//,/, }
        printf '        - cookies: { %s: { in: [%s] } }\n' "$key" "$v" ;;
      percent) printf '        - percent: %s\n          stickyOn: header:%s\n' "$pattern" "$key" ;;
    esac
  done < <(lane_specs)
}

write_graymesh_conf() {
  local file=$1 port=$2 cname=$3
  {
    cat <<EOF
workers: 1
listeners:
  - { name: ingress, address: 127.0.0.1:$port }
routes:
  - { pathPrefix: /, service: up }
services:
  - name: up
    endpoints:
      - { address: 127.0.0.1:$UP1, weight: 10 }
      - { address: 127.0.0.1:$UP2, weight: 90 }
EOF
    if [[ $HEALTH == on ]]; then
      echo "    outlier: { consecutiveErrors: 5, errorRatePercent: 50, slowCallThreshold: 1s }"
      echo "upstream: { maxIdlePerEndpoint: 256 }"
    else
      echo "upstream: { maxIdlePerEndpoint: 256, health: false }"
    fi
    if [[ $cname == lanes ]]; then graymesh_lanes; fi
  } >"$file"
}

# A sidecar's config: one worker, the services from stdin (YAML; its last
# service gets the outlier section when HEALTH=on) and the upstream pool.
write_graymesh_health_conf() {
  local file=$1 services
  services=$(cat)
  {
    echo "workers: 1"
    if [[ -n "$services" ]]; then
      printf '%s\n' "$services"
      [[ $HEALTH == on ]] &&
        echo "    outlier: { consecutiveErrors: 5, errorRatePercent: 50, slowCallThreshold: 1s }"
    fi
    if [[ $HEALTH == on ]]; then
      echo "upstream: { maxIdlePerEndpoint: 256 }"
    else
      echo "upstream: { maxIdlePerEndpoint: 256, health: false }"
    fi
  } >"$file"
}

# Starts an nginx master (in the foreground, so it stays our child) pinned
# to CORE; its workers inherit the affinity. KEY ("case/proxy"), when given,
# names its allocation counter. Sets STARTED_PID.
start_nginx() {
  local dir=$1 core=$2 key=${3:-}
  local -a envs=()
  [[ -n "$key" ]] && mapfile -d '' -t envs < <(proxy_env "$key")
  nginx -t -q -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" ||
    die "nginx config $dir/nginx.conf rejected"
  env "${envs[@]}" taskset -c "$core" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" \
    -g 'daemon off;' >"$dir/stdout.log" 2>&1 &
  STARTED_PID=$!
  STARTED_PIDS+=("$STARTED_PID")
}

# One nginx hop of the pair case: listens on PORT, proxies everything to
# 127.0.0.1:TO over a keep-alive pool.
write_nginx_hop_conf() {
  local dir=$1 port=$2 to=$3
  mkdir -p "$dir/tmp"
  {
    nginx_common "$dir"
    echo "http {"
    nginx_http_common "$dir"
    cat <<EOF
  upstream next {
    server 127.0.0.1:$to;
    keepalive 256;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
  }
  server {
    listen 127.0.0.1:$port;
    location / {
      proxy_pass http://next;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
  } >"$dir/nginx.conf"
}

# HAProxy, one thread, HTTP mode with keep-alive on both sides and idle
# server connections shared between client connections (`http-reuse
# always`, the setting closest to graymesh's and nginx's pools). SERVERS is
# "addr:weight ..."; the weights give the 10/90 split (smooth round robin,
# as graymesh's).
write_haproxy_conf() {
  local file=$1 port=$2 servers=$3 sv i=0
  {
    cat <<EOF
global
  nbthread 1
  maxconn 4096
  tune.bufsize 16384
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 300s
  timeout server 300s
  timeout http-keep-alive 300s
frontend fe
  bind 127.0.0.1:$port
  default_backend be
backend be
  balance roundrobin
EOF
    for sv in $servers; do
      printf '  server s%d %s weight %s pool-max-conn 256\n' "$i" "${sv%:*}" "${sv##*:}"
      i=$((i + 1))
    done
  } >"$file"
}

# Starts HAProxy in the foreground (-db) pinned to the proxy core, with the
# allocation counter of KEY. Sets STARTED_PID.
start_haproxy() {
  local file=$1 key=$2
  local -a envs=()
  mapfile -d '' -t envs < <(proxy_env "$key")
  haproxy -c -q -f "$file" || die "haproxy config $file rejected"
  env "${envs[@]}" taskset -c "$PROXY_CORE" haproxy -db -f "$file" >"${file%.cfg}.log" 2>&1 &
  STARTED_PID=$!
  STARTED_PIDS+=("$STARTED_PID")
}

# A graymesh process on the proxy core with the allocation counter of KEY;
# ARGS are graymesh's. Sets STARTED_PID.
start_graymesh() {
  local key=$1 logfile=$2
  shift 2
  local -a envs=()
  mapfile -d '' -t envs < <(proxy_env "$key")
  # A config graymesh rejects makes it exit 2 with FILE:LINE in its log,
  # which wait_port then shows.
  (cd "$TMP" && exec env "${envs[@]}" taskset -c "$PROXY_CORE" "$GRAYMESH_BIN" "$@") \
    >"$logfile" 2>&1 &
  STARTED_PID=$!
  STARTED_PIDS+=("$STARTED_PID")
}

# The graymesh sidecar pair: the caller's sidecar (outbound listener on the
# case's port; its config names service `up` at the callee's inbound
# address) and the callee's (inbound in front of the app, UP2). Both are
# `graymesh proxy` with one worker, as deployed next to an app.
start_graymesh_pair() {
  local key=pair/graymesh
  write_graymesh_health_conf "$TMP/graymesh-pair-caller.yaml" <<EOF
services:
  - name: up
    endpoints:
      - { address: 127.0.0.1:$PAIR_GM_INNER }
EOF
  write_graymesh_health_conf "$TMP/graymesh-pair-callee.yaml" </dev/null
  start_graymesh "$key" "$TMP/graymesh-pair-callee.log" proxy --service up --app "127.0.0.1:$UP2" \
    --inbound "127.0.0.1:$PAIR_GM_INNER" --outbound "127.0.0.1:$PAIR_GM_SPARE2" --admin none \
    --workers 1 --config "$TMP/graymesh-pair-callee.yaml"
  local callee=$STARTED_PID
  wait_port "$PAIR_GM_INNER" "$callee" "graymesh callee sidecar" "$TMP/graymesh-pair-callee.log"
  start_graymesh "$key" "$TMP/graymesh-pair-caller.log" proxy --service caller --app "127.0.0.1:$UP1" \
    --inbound "127.0.0.1:$PAIR_GM_SPARE1" --outbound "127.0.0.1:${PORT[$key]}" --admin none \
    --workers 1 --config "$TMP/graymesh-pair-caller.yaml"
  wait_port "${PORT[$key]}" "$STARTED_PID" "graymesh caller sidecar" "$TMP/graymesh-pair-caller.log"
  PID[$key]="$STARTED_PID $callee"
}

# Every proxy of one case, each its own process(es) on the proxy core, so RSS
# and CPU are per configuration. Sets PID[case/proxy].
start_case() {
  local cname=$1 dir="$TMP/nginx-$1" conf="$TMP/graymesh-$1.yaml" gmlog="$TMP/graymesh-$1.log"
  local peer
  for peer in "${PEERS[@]}"; do
    [[ -n "${PORT[$cname/$peer]:-}" ]] || continue
    case "$cname/$peer" in
      pair/nginx)
        write_nginx_hop_conf "$dir-callee" "$PAIR_NGX_INNER" "$UP2"
        start_nginx "$dir-callee" "$PROXY_CORE" "$cname/nginx"
        wait_port "$PAIR_NGX_INNER" "$STARTED_PID" "nginx callee hop" "$dir-callee/error.log"
        local callee
        callee=$(nginx_worker_pid "$STARTED_PID")
        write_nginx_hop_conf "$dir" "${PORT[$cname/nginx]}" "$PAIR_NGX_INNER"
        start_nginx "$dir" "$PROXY_CORE" "$cname/nginx"
        wait_port "${PORT[$cname/nginx]}" "$STARTED_PID" "nginx caller hop" "$dir/error.log"
        PID[$cname/nginx]="$(nginx_worker_pid "$STARTED_PID") $callee" ;;
      */nginx)
        write_nginx_proxy_conf "$dir" "${PORT[$cname/nginx]}" "$cname"
        start_nginx "$dir" "$PROXY_CORE" "$cname/nginx"
        wait_port "${PORT[$cname/nginx]}" "$STARTED_PID" "nginx proxy ($cname)" "$dir/error.log"
        PID[$cname/nginx]=$(nginx_worker_pid "$STARTED_PID") ;;
      pair/haproxy)
        write_haproxy_conf "$TMP/haproxy-pair-callee.cfg" "$PAIR_HAP_INNER" "127.0.0.1:$UP2:1"
        start_haproxy "$TMP/haproxy-pair-callee.cfg" "$cname/haproxy"
        local hcallee=$STARTED_PID
        wait_port "$PAIR_HAP_INNER" "$hcallee" "haproxy callee hop" "$TMP/haproxy-pair-callee.log"
        write_haproxy_conf "$TMP/haproxy-pair.cfg" "${PORT[$cname/haproxy]}" "127.0.0.1:$PAIR_HAP_INNER:1"
        start_haproxy "$TMP/haproxy-pair.cfg" "$cname/haproxy"
        wait_port "${PORT[$cname/haproxy]}" "$STARTED_PID" "haproxy caller hop" "$TMP/haproxy-pair.log"
        PID[$cname/haproxy]="$STARTED_PID $hcallee" ;;
      */haproxy)
        write_haproxy_conf "$TMP/haproxy-$cname.cfg" "${PORT[$cname/haproxy]}" \
          "127.0.0.1:$UP1:10 127.0.0.1:$UP2:90"
        start_haproxy "$TMP/haproxy-$cname.cfg" "$cname/haproxy"
        wait_port "${PORT[$cname/haproxy]}" "$STARTED_PID" "haproxy ($cname)" "$TMP/haproxy-$cname.log"
        PID[$cname/haproxy]=$STARTED_PID ;;
    esac
  done

  if [[ $cname == pair ]]; then
    start_graymesh_pair
  else
    write_graymesh_conf "$conf" "${PORT[$cname/graymesh]}" "$cname"
    start_graymesh "$cname/graymesh" "$gmlog" gateway --config "$conf" --admin none
    PID[$cname/graymesh]=$STARTED_PID
    wait_port "${PORT[$cname/graymesh]}" "$STARTED_PID" "graymesh gateway ($cname)" "$gmlog"
  fi
  local line="$cname:" name
  for name in graymesh "${PEERS[@]}"; do
    [[ -n "${PID[$cname/$name]:-}" ]] && line+=" $name pid(s) ${PID[$cname/$name]} on ${PORT[$cname/$name]};"
  done
  log "${line%;}"
}

start_all() {
  local ports cname
  ports=$(free_ports 16)
  read -r UP1 UP2 "PORT[plain/graymesh]" "PORT[plain/nginx]" "PORT[plain/haproxy]" \
    "PORT[lanes/graymesh]" "PORT[lanes/nginx]" \
    "PORT[pair/graymesh]" "PORT[pair/nginx]" "PORT[pair/haproxy]" \
    PAIR_GM_INNER PAIR_NGX_INNER PAIR_HAP_INNER PAIR_GM_SPARE1 PAIR_GM_SPARE2 LAT_SPARE <<<"$ports"
  [[ -n "$LAT_SPARE" ]] || die "could not pick free ports"
  # Only the peers asked for are started (HAProxy has no lanes case).
  local key peer
  for key in "${!PORT[@]}"; do
    peer=${key#*/}
    [[ $peer == graymesh || " ${PEERS[*]} " == *" $peer "* ]] || unset "PORT[$key]"
  done
  log "ports: upstream $UP1 (10%) $UP2 (90%)"

  write_upstream_conf "$TMP/upstream"
  start_nginx "$TMP/upstream" "$LOAD_CORE"
  UPSTREAM_MASTER=$STARTED_PID
  wait_port "$UP1" "$UPSTREAM_MASTER" "upstream nginx" "$TMP/upstream/error.log"
  wait_port "$UP2" "$UPSTREAM_MASTER" "upstream nginx" "$TMP/upstream/error.log"
  UPSTREAM_WORKER=$(nginx_worker_pid "$UPSTREAM_MASTER")
  log "upstream nginx worker $UPSTREAM_WORKER"

  for cname in "${CASES[@]}"; do start_case "$cname"; done
}

# ------------------------------------------------------------- checks ----

# Sends SPLIT_SAMPLES copies of the benchmark request over one keep-alive
# connection (curl URL globbing) and checks every answer is 200 and that ~10%
# came from UP1 (in the lanes case: nothing dyed the request away from base).
# nginx splits at random, so allow binomial noise: ±3 sd is about ±3% here.
check_split() {
  local name=$1 port=$2 out
  local -a hdr
  mapfile -d '' -t hdr < <(curl_header_args)
  out=$(curl -s --max-time 30 "${hdr[@]}" -w '%{http_code}\n' \
    "http://127.0.0.1:$port/split-check?n=[1-$SPLIT_SAMPLES]") ||
    die "$name: curl failed during the split check"
  local counts
  counts=$(awk '$0 == "a" { a++ } $0 == "b" { b++ } $0 == "200" { ok++ }
                END { printf "%d %d %d", a, b, ok }' <<<"$out")
  local a b ok
  read -r a b ok <<<"$counts"
  log "$name split check: $a from UP1, $b from UP2, $ok x 200 of $SPLIT_SAMPLES"
  if [[ $ok -ne $SPLIT_SAMPLES || $((a + b)) -ne $SPLIT_SAMPLES ]]; then
    printf '%s\n' "$out" | grep -vxE 'a|b|200' | sort | uniq -c | head >&2 || true
    die "$name: not every request got a 200 from an upstream"
  fi
  local lo=$((SPLIT_SAMPLES * 7 / 100)) hi=$((SPLIT_SAMPLES * 13 / 100))
  if [[ $a -lt $lo || $a -gt $hi ]]; then
    die "$name: split is off: $a of $SPLIT_SAMPLES to the 10% endpoint (want $lo..$hi)"
  fi
}

# The lanes case measures what it claims only if the benchmark request
# matches no rule (else a proxy stops early) and every rule is live (else a
# broken rule would be cheap). Asks the upstream's /lane-check, which echoes
# the lane the proxy sent: the benchmark request must get none, and a copy
# with one header or cookie set to a rule's sample must get that rule's lane,
# for every rule but the percent ones after the first (a user in the first
# share enters the first percent lane).
check_lanes() {
  local name=$1 url="http://127.0.0.1:$2/lane-check"
  local -a args=(-s --max-time 10 "$url") expect=("lane=") hdr got
  local i kind key pattern sample hname hvalue pct_seen=0
  mapfile -d '' -t hdr < <(curl_header_args)
  args+=("${hdr[@]}")
  while IFS=$'\t' read -r i kind key pattern sample; do
    case "$kind" in
      in) hname=Cookie hvalue=$(cookie_with "$key" "$sample") ;;
      percent)
        [[ $pct_seen -eq 0 ]] || continue
        pct_seen=1 hname=$key hvalue=$sample ;;
      *) hname=$key hvalue=$sample ;;
    esac
    mapfile -d '' -t hdr < <(curl_header_args "$hname" "$hvalue")
    args+=(--next -s --max-time 10 "$url" "${hdr[@]}")
    expect+=("lane=lane-$i")
  done < <(lane_specs)
  mapfile -t got < <(curl "${args[@]}" || echo "curl-failed")
  local n_bad=0 j
  for ((j = 0; j < ${#expect[@]} || j < ${#got[@]}; j++)); do
    if [[ "${got[j]:-}" != "${expect[j]:-}" ]]; then
      ((n_bad < 10)) && log "  $name lane check: want '${expect[j]:-}', got '${got[j]:-}'"
      n_bad=$((n_bad + 1))
    fi
  done
  [[ $n_bad -eq 0 ]] || die "$name: $n_bad of ${#expect[@]} lane checks failed"
  log "$name lane check: benchmark request in base, $((${#expect[@]} - 1)) rules each dye their sample"
}

# The pair case: every answer a 200 from the app (UP2, body "b"), through
# both hops. The callee's sidecar is reached as service `up` (Host: up).
check_pair() {
  local name=$1 port=$2 out n=200 ok
  local -a hdr
  mapfile -d '' -t hdr < <(curl_header_args)
  out=$(curl -s --max-time 30 -H "Host: up" "${hdr[@]}" -w '%{http_code}\n' \
    "http://127.0.0.1:$port/pair-check?n=[1-$n]") || die "$name: curl failed during the pair check"
  ok=$(grep -cx 200 <<<"$out" || true)
  [[ $ok -eq $n && $(grep -cx b <<<"$out" || true) -eq $n ]] || {
    printf '%s\n' "$out" | sort | uniq -c | head >&2
    die "$name: not every request through the pair got a 200 from the app"
  }
  log "$name pair check: $n x 200 from the app through both hops"
}

# ------------------------------------------------------------ measuring ----

# Runs wrk on the load core against PORT for SECS; output to FILE. wrk runs
# in the background so the EXIT trap can stop it on ^C.
# CASE picks the request script (the pair case adds Host: up); CONNS and
# CORE default to CONNECTIONS and the load core.
run_wrk() {
  local port=$1 secs=$2 file=$3 cname=${4:-plain} conns=${5:-$CONNECTIONS} core=${6:-$LOAD_CORE}
  local script=$WRK_SCRIPT rc=0
  [[ $cname == pair ]] && script=$WRK_SCRIPT_PAIR
  taskset -c "$core" wrk -t1 -c"$conns" -d"${secs}s" --latency \
    -s "$script" "http://127.0.0.1:$port/" >"$file" 2>&1 &
  WRK_PID=$!
  wait "$WRK_PID" || rc=$?
  WRK_PID=""
  return "$rc"
}

# wrk prints latencies as 512.00us / 1.20ms / 2.00s; prints milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0;
    else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000;
    printf "%.3f", n }'
}

# One measured run: warmup, then wrk with CPU and RSS sampled around it.
# Appends a row to $RESULTS: run case proxy rps p50 p99 rss_kb cpu_us_per_req
# other% errors allocs_per_req
measure() {
  local run=$1 cname=$2 name=$3
  local port=${PORT[$cname/$name]} pid=${PID[$cname/$name]}
  local out="$TMP/wrk-$run-$cname-$name.txt"

  run_wrk "$port" "$WARMUP" "$TMP/wrk-$run-$cname-$name-warmup.txt" "$cname" ||
    { log "$cname $name: warmup wrk failed"; cat "$TMP/wrk-$run-$cname-$name-warmup.txt" >&2; }

  # Besides the proxy, sample the machine, the upstream worker and wrk (via
  # the shell's children) so CPU used by anything else during the run (other
  # users of this shared VM) can be reported: it makes the numbers noisy.
  local t0 t1 k0 k1 m0 m1 u0 u1 c0 c1 a0 a1 wrk_rc=0
  a0=$(alloc_count "$cname/$name")
  m0=$(machine_busy_ticks); u0=$(cpu_ticks "$UPSTREAM_WORKER"); c0=$(children_ticks)
  # shellcheck disable=SC2086  # pid is a list in the pair case
  t0=$(cpu_ticks_all $pid 2>/dev/null) || t0=""
  # shellcheck disable=SC2086
  k0=$(kernel_ticks_all $pid 2>/dev/null) || k0=0
  run_wrk "$port" "$DURATION" "$out" "$cname" || wrk_rc=$?
  # shellcheck disable=SC2086
  t1=$(cpu_ticks_all $pid 2>/dev/null) || t1=""
  # shellcheck disable=SC2086
  k1=$(kernel_ticks_all $pid 2>/dev/null) || k1=0
  m1=$(machine_busy_ticks); u1=$(cpu_ticks "$UPSTREAM_WORKER"); c1=$(children_ticks)
  a1=$(alloc_count "$cname/$name")

  local errors="" requests rps p50 p99 rss cpu_us died=0
  if [[ -z "$t0" || -z "$t1" ]]; then
    errors+="process-died "
    died=1 t0=0 t1=0
  fi
  [[ $wrk_rc -eq 0 ]] || errors+="wrk-exit-$wrk_rc "
  requests=$(awk '/ requests in / { print $1; exit }' "$out")
  rps=$(awk '/^Requests\/sec:/ { print $2; exit }' "$out")
  p50=$(awk '$1 == "50%" { print $2; exit }' "$out")
  p99=$(awk '$1 == "99%" { print $2; exit }' "$out")
  # wrk prints these two lines only when they are non-zero.
  local sock non2xx
  sock=$(grep -E '^ *Socket errors:' "$out" | sed 's/^ *Socket errors: //' || true)
  non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
  [[ -n "$sock" ]] && errors+="socket[$sock] "
  [[ -n "$non2xx" ]] && errors+="non2xx=$non2xx "
  if [[ -z "$requests" || "$requests" -eq 0 ]]; then
    errors+="no-requests "
    requests=0
  fi

  errors=${errors% }
  if [[ -n "$errors" ]]; then
    FAILED=1
    log "$cname $name run $run: PROBLEM: $errors"
    sed 's/^/    wrk| /' "$out" >&2
  fi
  # shellcheck disable=SC2086
  rss=$(rss_kb_all $pid 2>/dev/null || echo 0)
  cpu_us=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$requests" -v died="$died" \
    'BEGIN { if (n > 0 && !died) printf "%.2f", d / hz / n * 1e6; else print "nan" }')
  # Percent of the proxy's CPU spent in the kernel.
  local kernel
  kernel=$(awk -v k=$((k1 - k0)) -v t=$((t1 - t0)) 'BEGIN { if (t > 0) printf "%.0f", k / t * 100; else print "nan" }')
  # Percent of one core used by everything else (includes kernel softirq work
  # not charged to any process, so a few percent is normal).
  local other
  other=$(awk -v o=$(((m1 - m0) - (t1 - t0) - (u1 - u0) - (c1 - c0))) -v hz="$CLK_TCK" \
    -v s="$DURATION" 'BEGIN { v = o / hz / s * 100; printf "%.0f", v < 0 ? 0 : v }')
  if [[ $other -gt 15 ]]; then
    NOISY=1
  fi

  local allocs="nan"
  if [[ $ALLOCS == 1 && $requests -gt 0 ]]; then
    allocs=$(awk -v d=$((a1 - a0)) -v n="$requests" 'BEGIN { printf "%.2f", d / n }')
  fi

  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$cname" "$name" "${rps:-0}" \
    "$(to_ms "${p50:-0}")" "$(to_ms "${p99:-0}")" "${rss:-0}" "$cpu_us" "$other" \
    "${errors:-none}" "$allocs" "$kernel" >>"$RESULTS"
  printf '  run %d %-5s %-8s %10s req/s  p50 %8s  p99 %8s  RSS %6.1f MB  CPU %7s us/req (kernel %3s%%)  allocs/req %6s  other %3s%%  errors: %s\n' \
    "$run" "$cname" "$name" "${rps:-0}" "${p50:-?}" "${p99:-?}" \
    "$(awk -v k="${rss:-0}" 'BEGIN{print k/1024}')" "$cpu_us" "$kernel" "$allocs" "$other" "${errors:-none}" >&2
}

print_table() {
  echo
  echo "Per run (wrk -t1 -c$CONNECTIONS -d${DURATION}s, $(request_headers | wc -l) extra request headers;" \
    "proxy on core $PROXY_CORE, wrk+upstream on core $LOAD_CORE):"
  awk -F'\t' 'BEGIN {
      printf "%-4s %-6s %-9s %11s %9s %9s %8s %12s %8s %11s %7s  %s\n",
             "run", "case", "proxy", "req/s", "p50 ms", "p99 ms", "RSS MB", "CPU us/req", "kernel%",
             "allocs/req", "other%", "errors" }
    { printf "%-4s %-6s %-9s %11.0f %9.3f %9.3f %8.1f %12s %8s %11s %7s  %s\n",
             $1, $2, $3, $4, $5, $6, $7 / 1024, $8, $12, $11, $9, $10 }' "$RESULTS"
  echo "(kernel% = share of the proxy's CPU spent in the kernel: its syscalls and the loopback TCP work they do)"
  echo "(other% = CPU used by processes outside this benchmark during the run, % of one core)"
}

# Medians per case and proxy, graymesh/peer ratios per case (below 1 =
# graymesh better for CPU and p99; above 1 = graymesh better for req/s), and
# lanes/plain ratios per proxy: what 50 rules cost on top of plain proxying.
print_summary() {
  echo
  echo "Summary (median of $RUNS run(s) each):"
  awk -F'\t' -v peers="${PEERS[*]}" '
    function median(arr, n,   i, j, t) {
      for (i = 2; i <= n; i++) for (j = i; j > 1 && arr[j-1] > arr[j]; j--) {
        t = arr[j]; arr[j] = arr[j-1]; arr[j-1] = t }
      return (n % 2) ? arr[(n+1)/2] : (arr[n/2] + arr[n/2+1]) / 2
    }
    # Median of column f over the runs of key k ("case proxy").
    function med(f, k,   i, m) {
      m = 0
      for (i = 1; i <= n[k]; i++) if (V[f, k, i] != "nan") A[++m] = V[f, k, i]
      return m ? median(A, m) : -1
    }
    function ratio(a, b) { return b > 0 && a >= 0 ? a / b : 0 }
    # Ratio of CPU per request, run by run (runs i of two keys ran minutes
    # apart at most, so they share the state of this shared VM more closely
    # than the medians do): " r1 r2 ... (median m)", or "" when none.
    function pairs(k1, k2,   i, m, line) {
      line = ""; m = 0
      for (i = 1; i <= n[k1] && i <= n[k2]; i++)
        if (V[8, k2, i] > 0 && V[8, k1, i] != "nan" && V[8, k2, i] != "nan") {
          B[++m] = V[8, k1, i] / V[8, k2, i]; line = line sprintf(" %.2f", B[m]) }
      PM = m ? median(B, m) : 0
      return m ? line sprintf(" (median %.2f)", PM) : ""
    }
    # The target line: "met" or how far off (value / target).
    function target(what, v, goal) {
      printf "target: %s <= %.2f: %.2f -> %s\n", what, goal, v,
        v <= 0 ? "not measured" : v <= goal ? "met" : sprintf("NOT met (%.0f%% over)", (v / goal - 1) * 100)
    }
    {
      k = $2 " " $3; n[k]++
      for (f = 4; f <= 12; f++) V[f, k, n[k]] = $f
      has[$2] = 1
    }
    END {
      np = split("graymesh " peers, proxies, " ")
      printf "%-6s %-9s %11s %9s %9s %8s %12s %8s %11s %7s\n", "case", "proxy", "req/s", "p50 ms",
        "p99 ms", "RSS MB", "CPU us/req", "kernel%", "allocs/req", "other%"
      nc = split("plain lanes pair", cases, " ")
      for (c = 1; c <= nc; c++) {
        if (!has[cases[c]]) continue
        for (p = 1; p <= np; p++) {
          k = cases[c] " " proxies[p]
          if (!n[k]) continue
          R[k] = med(4, k); P5[k] = med(5, k); P9[k] = med(6, k)
          S[k] = med(7, k); C[k] = med(8, k); O[k] = med(9, k); L[k] = med(11, k); K[k] = med(12, k)
          printf "%-6s %-9s %11.0f %9.3f %9.3f %8.1f %12.2f %8s %11s %7.0f\n", cases[c], proxies[p],
            R[k], P5[k], P9[k], S[k] / 1024, C[k], K[k] < 0 ? "-" : sprintf("%.0f", K[k]),
            L[k] < 0 ? "-" : sprintf("%.2f", L[k]), O[k]
        }
      }
      print ""
      for (c = 1; c <= nc; c++) {
        if (!has[cases[c]]) continue
        g = cases[c] " graymesh"
        for (p = 2; p <= np; p++) {
          x = cases[c] " " proxies[p]
          if (!n[x]) continue
          printf "%s graymesh/%s:  CPU per request %.2f   p50 %.2f   p99 %.2f   req/s %.2f   RSS %.2f\n",
            cases[c], proxies[p], ratio(C[g], C[x]), ratio(P5[g], P5[x]), ratio(P9[g], P9[x]),
            ratio(R[g], R[x]), ratio(S[g], S[x])
          line = pairs(g, x)
          if (line != "") printf "  CPU per request, per run pair:%s\n", line
          PAIRMED[cases[c], proxies[p]] = PM
          # The kernel share is about the same for every proxy (the same
          # sends and receives over loopback TCP): the ratio no user-space
          # change can go below.
          if (K[g] >= 0 && C[x] > 0)
            printf "  kernel floor: graymesh kernel CPU %.2f us/req = %.2f of the whole CPU per request of %s (its kernel CPU: %.2f us/req)\n",
              C[g] * K[g] / 100, C[g] * K[g] / 100 / C[x], proxies[p], (K[x] >= 0 ? C[x] * K[x] / 100 : -1)
          P99R[cases[c], proxies[p]] = ratio(P9[g], P9[x])
        }
      }
      if (has["plain"] && has["lanes"]) {
        for (p = 1; p <= np; p++) {
          l = "lanes " proxies[p]; q = "plain " proxies[p]
          if (!n[l] || !n[q]) continue
          printf "%s lanes/plain:  CPU per request %.2f   req/s %.2f   p99 %.2f   RSS %.2f\n",
            proxies[p], ratio(C[l], C[q]), ratio(R[l], R[q]), ratio(P9[l], P9[q]), ratio(S[l], S[q])
          line = pairs(l, q)
          if (line != "") printf "  CPU per request, per run pair:%s\n", line
          if (p == 1) LANESPLAIN = PM
        }
      }
      print ""
      # The targets (issue: performance), judged on the per-run-pair medians.
      if (has["plain"]) target("plain graymesh/nginx CPU per request", PAIRMED["plain", "nginx"], 0.6)
      if (has["lanes"]) target("lanes graymesh/nginx CPU per request", PAIRMED["lanes", "nginx"], 0.5)
      if (has["plain"] && has["lanes"]) target("graymesh lanes/plain CPU per request", LANESPLAIN, 1.1)
      for (c = 1; c <= nc; c++)
        if (has[cases[c]] && P99R[cases[c], "nginx"] > 0)
          target(cases[c] " graymesh/nginx p99", P99R[cases[c], "nginx"], 1.0)
    }' "$RESULTS"
}

# The proxies started for case CNAME, graymesh first (none when --case
# left the case out).
proxies_of() {
  local name
  for name in graymesh "${PEERS[@]}"; do
    [[ -n "${PORT[$1/$name]:-}" && -n "${PID[$1/$name]:-}" ]] && printf '%s ' "$name"
  done
  echo
}

# Syscalls per request of one proxy: strace -c -f attached to every thread
# of its process(es) during a PROBE_SECONDS wrk run (strace slows the proxy
# down, so this run's CPU and latency mean nothing; the counts per request
# do). Appends "case proxy requests calls errors top" to $COSTS, where top
# lists the most frequent syscalls as name=calls/request(errors/request).
probe_costs() {
  local cname=$1 name=$2
  [[ $SYSCALLS == 1 ]] || return 0
  local port=${PORT[$cname/$name]} out="$TMP/strace-$cname-$name.txt" wout="$TMP/wrk-probe-$cname-$name.txt"
  local -a targets=()
  local pid tid
  for pid in ${PID[$cname/$name]}; do
    for tid in /proc/"$pid"/task/*; do targets+=(-p "${tid##*/}"); done
  done
  strace -c -f -qq -o "$out" "${targets[@]}" 2>"$out.err" &
  local spid=$!
  sleep 0.5  # attached
  run_wrk "$port" "$PROBE_SECONDS" "$wout" "$cname" || true
  kill -INT "$spid" 2>/dev/null || true
  wait "$spid" 2>/dev/null || true
  local requests
  requests=$(awk '/ requests in / { print $1; exit }' "$wout")
  [[ -n "$requests" && $requests -gt 0 ]] || { log "$cname $name: syscall probe got no requests"; return 0; }
  awk -v c="$cname" -v p="$name" -v n="$requests" '
    $1 ~ /^[0-9.]+$/ && NF >= 5 {
      calls = $4; errs = (NF >= 6) ? $5 : 0; sc = $NF
      if (sc == "total") { total = calls; terr = errs; next }
      k++; NAME[k] = sc; CALLS[k] = calls; ERR[k] = errs
    }
    END {
      top = ""
      for (i = 1; i <= k; i++) {
        if (CALLS[i] / n < 0.05) continue
        top = top sprintf(" %s=%.2f", NAME[i], CALLS[i] / n)
        if (ERR[i] > 0) top = top sprintf("(%.2f err)", ERR[i] / n)
      }
      printf "%s\t%s\t%d\t%.2f\t%.2f\t%s\n", c, p, n, total / n, terr / n, top
    }' "$out" >>"$COSTS"
}

print_costs() {
  [[ $SYSCALLS == 1 && -s "$COSTS" ]] || return 0
  echo
  echo "Syscalls per request (strace -c -f over a ${PROBE_SECONDS}s wrk run; errors are mostly EAGAIN):"
  awk -F'\t' '{ printf "%-6s %-9s %6.2f calls/req (%4.2f failed):%s\n", $1, $2, $4, $5, $6 }' "$COSTS"
  [[ $ALLOCS == 1 ]] && echo "Heap allocations per request: the allocs/req column above" \
    "(malloc/calloc/realloc/aligned counted by bench/alloc_count.c in each proxy's processes)."
}

# The low-load latency case: one connection, and proxy, wrk and the upstream
# worker all on the proxy core, so no request waits for a wake-up on another
# core. p50 of a direct call to the upstream and of each proxy's plain (and
# pair) case; LAT_SECONDS each, RUNS rounds. Rows in $LATRES: round key p50 p99.
measure_latency() {
  taskset -pc "$PROXY_CORE" "$UPSTREAM_WORKER" >/dev/null
  local round cname name out
  for ((round = 1; round <= RUNS; round++)); do
    out="$TMP/wrk-lat-$round-direct.txt"
    run_wrk "$UP2" "$LAT_SECONDS" "$out" plain 1 "$PROXY_CORE" || true
    lat_row "$round" direct "$out"
    for cname in plain pair; do
      [[ " ${CASES[*]} " == *" $cname "* ]] || continue
      for name in $(proxies_of "$cname"); do
        out="$TMP/wrk-lat-$round-$cname-$name.txt"
        run_wrk "${PORT[$cname/$name]}" "$LAT_SECONDS" "$out" "$cname" 1 "$PROXY_CORE" || true
        lat_row "$round" "$cname/$name" "$out"
      done
    done
  done
  taskset -pc "$LOAD_CORE" "$UPSTREAM_WORKER" >/dev/null
}

lat_row() {
  local p50 p99
  p50=$(awk '$1 == "50%" { print $2; exit }' "$3")
  p99=$(awk '$1 == "99%" { print $2; exit }' "$3")
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$(to_ms "${p50:-0}")" "$(to_ms "${p99:-0}")" >>"$LATRES"
}

print_latency() {
  echo
  echo "Low load (1 connection; proxy, wrk and upstream on core $PROXY_CORE), median of $RUNS:"
  awk -F'\t' '
    function median(arr, n,   i, j, t) {
      for (i = 2; i <= n; i++) for (j = i; j > 1 && arr[j-1] > arr[j]; j--) {
        t = arr[j]; arr[j] = arr[j-1]; arr[j-1] = t }
      return (n % 2) ? arr[(n+1)/2] : (arr[n/2] + arr[n/2+1]) / 2
    }
    { k = $2; if (!(k in n)) order[++nk] = k; n[k]++; P5[k, n[k]] = $3 * 1000; P9[k, n[k]] = $4 * 1000 }
    END {
      for (i = 1; i <= nk; i++) {
        k = order[i]
        for (j = 1; j <= n[k]; j++) { A[j] = P5[k, j]; B[j] = P9[k, j] }
        M5[k] = median(A, n[k]); M9[k] = median(B, n[k])
      }
      d = M5["direct"]
      printf "%-16s %9s %9s %14s\n", "key", "p50 us", "p99 us", "p50 added us"
      for (i = 1; i <= nk; i++) {
        k = order[i]
        printf "%-16s %9.1f %9.1f %14s\n", k, M5[k], M9[k], k == "direct" ? "-" : sprintf("%.1f", M5[k] - d)
      }
      for (c = 1; c <= 2; c++) {
        cn = c == 1 ? "plain" : "pair"
        g = cn "/graymesh"; x = cn "/nginx"
        if (!(g in M5) || !(x in M5)) continue
        printf "target: %s p50 added, graymesh <= nginx: %.1f us vs %.1f us -> %s\n", cn,
          M5[g] - d, M5[x] - d, (M5[g] - d <= M5[x] - d) ? "met" : "NOT met"
      }
    }' "$LATRES"
}

# Opens N keep-alive connections to 127.0.0.1:PORT, sends the benchmark
# request on each and reads its response (so each connection has served a
# request, as a pooled client connection has), then prints "ready" and holds
# them until stdin closes.
idle_client() {
  # The script goes in -c: stdin is how the caller says "let go".
  python3 -c '
import socket, sys
port, n, host = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
req = ("GET /idle HTTP/1.1\r\nHost: %s\r\n\r\n" % host).encode()
conns = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(req)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            sys.exit("connection closed before a response")
        data += chunk
    conns.append(s)
print("ready", flush=True)
sys.stdin.read()
' "$@"
}

# RSS per idle client connection of every plain-case proxy, and graymesh's
# RSS with a large configuration. Rows in $MEMRES: what value_kb.
measure_memory() {
  local name pid before after
  # Per idle connection: the plain case's proxies, when it ran.
  for name in $(proxies_of plain); do
    pid=${PID[plain/$name]}
    before=$(rss_kb "$pid")
    coproc IDLE { idle_client "${PORT[plain/$name]}" "$IDLE_CONNS" up; }
    local line=""
    read -r -t 120 line <&"${IDLE[0]}" || true
    if [[ $line != ready ]]; then
      log "$name: could not hold $IDLE_CONNS idle connections"
    else
      sleep 0.5
      after=$(rss_kb "$pid")
      printf 'idle/%s\t%s\n' "$name" \
        "$(awk -v a="$after" -v b="$before" -v n="$IDLE_CONNS" 'BEGIN { printf "%.2f", (a - b) / n }')" >>"$MEMRES"
    fi
    local idle_pid=${IDLE_PID:-}
    [[ -n "${IDLE[1]:-}" ]] && eval "exec ${IDLE[1]}>&-"  # the client exits once its stdin closes
    [[ -n "$idle_pid" ]] && { wait "$idle_pid" 2>/dev/null || true; }
  done

  # 100 services x 10 endpoints (addresses nothing listens on: only the
  # configuration's own cost), 2 workers, after a request to each worker.
  local conf="$TMP/graymesh-large.yaml" port i j
  port=$LAT_SPARE
  {
    echo "workers: 2"
    echo "listeners:"
    echo "  - { name: ingress, address: 127.0.0.1:$port }"
    echo "routes:"
    echo "  - { pathPrefix: /, service: svc-0 }"
    echo "services:"
    for ((i = 0; i < 100; i++)); do
      echo "  - name: svc-$i"
      echo "    endpoints:"
      if ((i == 0)); then
        echo "      - { address: 127.0.0.1:$UP2 }"
      else
        for ((j = 0; j < 10; j++)); do echo "      - { address: 10.99.$i.$j:8080 }"; done
      fi
    done
    [[ $HEALTH == on ]] || echo "upstream: { health: false }"
  } >"$conf"
  start_graymesh large/graymesh "$TMP/graymesh-large.log" gateway --config "$conf" --admin none
  local gpid=$STARTED_PID
  wait_port "$port" "$gpid" "graymesh gateway (100 services)" "$TMP/graymesh-large.log"
  for ((i = 0; i < 20; i++)); do curl -s -o /dev/null "http://127.0.0.1:$port/" || true; done
  sleep 0.5
  printf 'large/graymesh\t%s\n' "$(rss_kb "$gpid")" >>"$MEMRES"
  # RSS counts the pages of the binary and shared libraries (file-backed,
  # shared with every other process using them); RssAnon is its own memory.
  printf 'large-anon/graymesh\t%s\n' "$(awk '/^RssAnon:/ { print $2 }' "/proc/$gpid/status")" >>"$MEMRES"
  # PSS: each shared page counted as its share among the processes mapping it.
  printf 'large-pss/graymesh\t%s\n' "$(awk '/^Pss:/ { print $2 }' "/proc/$gpid/smaps_rollup")" >>"$MEMRES"
  kill -TERM "$gpid" 2>/dev/null || true
}

print_memory() {
  [[ -s "$MEMRES" ]] || return 0
  echo
  echo "Memory:"
  awk -F'\t' '
    $1 ~ /^idle\// { sub(/^idle\//, "", $1); printf "  per idle client connection (%d open, RSS delta / N): %-9s %6.2f KB\n", n, $1, $2
                     if ($1 == "graymesh") g = $2 }
    $1 == "large/graymesh" { big = $2 / 1024
      printf "  graymesh RSS, 100 services x 10 endpoints, 2 workers: %.1f MB\n", big }
    $1 == "large-anon/graymesh" { anon = $2 / 1024
      printf "  of which anonymous (RssAnon; the rest is binary and shared-library pages): %.1f MB\n", anon }
    $1 == "large-pss/graymesh" {
      printf "  PSS (shared pages divided among the processes that map them): %.1f MB\n", $2 / 1024 }
    END {
      if (g != "") printf "target: graymesh per idle connection <= 4 KB: %.2f KB -> %s\n", g, g <= 4 ? "met" : "NOT met"
      if (big != "") printf "target: graymesh RSS (100 x 10, 2 workers) <= 8 MB: %.1f MB -> %s (anonymous %.1f MB -> %s)\n",
        big, big <= 8 ? "met" : "NOT met", anon, anon <= 8 ? "met" : "NOT met"
    }' n="$IDLE_CONNS" "$MEMRES"
}

# ----------------------------------------------------------------- main ----

main() {
  parse_args "$@"
  ensure_tools
  ensure_graymesh
  CLK_TCK=$(getconf CLK_TCK)
  TMP=$(mktemp -d -t graymesh-bench.XXXXXX)
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  RESULTS="$TMP/results.tsv"
  COSTS="$TMP/costs.tsv"
  LATRES="$TMP/latency.tsv"
  MEMRES="$TMP/memory.tsv"
  : >"$MEMRES"
  : >"$RESULTS"
  : >"$COSTS"
  : >"$LATRES"
  WRK_SCRIPT="$TMP/request.lua"
  write_wrk_script "$WRK_SCRIPT"
  WRK_SCRIPT_PAIR="$TMP/request-pair.lua"
  { cat "$WRK_SCRIPT"; echo 'wrk.headers["Host"] = "up"'; } >"$WRK_SCRIPT_PAIR"
  if [[ $ALLOCS == 1 ]]; then
    ALLOC_SO="$TMP/alloc_count.so"
    cc -O2 -shared -fPIC -o "$ALLOC_SO" "$ROOT/bench/alloc_count.c" ||
      die "building bench/alloc_count.c failed (ALLOCS=0 runs without the counter)"
  fi

  log "graymesh: $GRAYMESH_BIN"
  log "cases: ${CASES[*]}"
  log "load average before start: $(cut -d' ' -f1-3 /proc/loadavg) (other load skews the numbers)"
  start_all
  local cname run
  local name
  for cname in "${CASES[@]}"; do
    for name in $(proxies_of "$cname"); do
      case "$cname" in
        pair) check_pair "pair $name" "${PORT[pair/$name]}" ;;
        *) check_split "$cname $name" "${PORT[$cname/$name]}" ;;
      esac
    done
    if [[ $cname == lanes ]]; then
      check_lanes "lanes graymesh" "${PORT[lanes/graymesh]}"
      [[ -n "${PORT[lanes/nginx]:-}" ]] && check_lanes "lanes nginx" "${PORT[lanes/nginx]}"
    fi
  done

  # Alternating, so slow drifts of this shared VM hit every proxy and case.
  for ((run = 1; run <= RUNS; run++)); do
    for cname in "${CASES[@]}"; do
      for name in $(proxies_of "$cname"); do measure "$run" "$cname" "$name"; done
    done
  done
  for cname in "${CASES[@]}"; do
    for name in $(proxies_of "$cname"); do probe_costs "$cname" "$name"; done
  done
  [[ $LATENCY == 1 ]] && measure_latency
  [[ $MEMORY == 1 ]] && measure_memory

  print_table
  print_summary
  print_costs
  [[ $LATENCY == 1 ]] && print_latency
  [[ $MEMORY == 1 ]] && print_memory

  local f
  # Anything graymesh logged beyond its start-up and stop lines is worth a look.
  local quiet="listener '.*' on |maxConnections .* lowered|signal 15|drain|stopped cleanly"
  for f in "$TMP"/graymesh-*.log; do
    [[ -e "$f" ]] || continue
    if grep -vE "$quiet" "$f" | grep -q .; then
      log "$(basename "$f" .log) (beyond start-up):"
      grep -vE "$quiet" "$f" | tail -n 20 | sed 's/^/    gm| /' >&2
    fi
  done
  for f in "$TMP"/nginx-*/error.log; do
    if [[ -s "$f" ]]; then
      log "$f:"
      tail -n 20 "$f" | sed 's/^/    ngx| /' >&2
    fi
  done
  if [[ $NOISY -ne 0 ]]; then
    log "WARNING: other processes used >15% of a core during some runs; numbers are noisy"
  fi
  if [[ $FAILED -ne 0 ]]; then
    log "FAILED: at least one run had errors (see above)"
    exit 1
  fi
}

main "$@"
