#!/usr/bin/env bash
# Compares the graymesh gateway with nginx as a reverse proxy doing the same
# 10%/90% weighted split over two keep-alive upstreams.
#
# Layout (DESIGN.md §7): the proxy under test alone on core 0; the upstream
# nginx and wrk together on core 1. On this layout the load side saturates
# before a good proxy does, so requests/s cannot rank the proxies; the key
# figure is the proxy's CPU time per request (utime+stime over the run divided
# by the requests wrk completed), next to p50/p99 and RSS.
#
# Usage: bench/proxy_vs_nginx.sh [--quick]
#   --quick        DURATION=3, one run per proxy (smoke check)
# Environment:
#   DURATION=10    seconds per measured wrk run
#   RUNS=3         measured runs per proxy (alternating graymesh, nginx, ...)
#   WARMUP=2       seconds of wrk before every measured run (not measured)
#   CONNECTIONS=64 wrk connections
#   GRAYMESH_BIN   graymesh binary (default build/release/src/cli/graymesh,
#                  built with `cmake --preset release` if missing)
#   KEEP_TMP=1     keep the temp dir (configs, logs, wrk output) on success;
#                  it is always kept when the script fails
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-10}
RUNS=${RUNS:-3}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-64}
SPLIT_SAMPLES=1000        # requests per proxy for the 10/90 split check
PROXY_CORE=0
LOAD_CORE=1

TMP=""
STARTED_PIDS=()           # every long-running process we start (nginx masters, graymesh)
WRK_PID=""                # the wrk currently running, if any
FAILED=0
NOISY=0                   # set when other processes used notable CPU during a run

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

parse_args() {
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --quick) DURATION=3; RUNS=1 ;;
      -h|--help) usage; exit 0 ;;
      *) usage >&2; die "unknown argument: $1" ;;
    esac
    shift
  done
}

# ---------------------------------------------------------------- setup ----

ensure_tools() {
  local t missing=0
  for t in nginx wrk curl taskset pgrep python3; do
    command -v "$t" >/dev/null || missing=1
  done
  if [[ $missing -eq 1 ]]; then
    log "installing benchmark tools (scripts/setup.sh --bench)"
    "$ROOT/scripts/setup.sh" --bench
  fi
  for t in nginx wrk curl taskset pgrep python3; do
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
  if [[ ! -x "$GRAYMESH_BIN" ]]; then
    log "building release graymesh (only the graymesh target)"
    (cd "$ROOT" && cmake --preset release >/dev/null &&
       cmake --build build/release -j2 --target graymesh)
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
# early if the process that should serve it has exited.
wait_port() {
  local port=$1 pid=$2 what=$3 i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || die "$what (pid $pid) exited before listening on $port"
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
write_upstream_conf() {
  local dir=$1
  mkdir -p "$dir/tmp"
  {
    nginx_common "$dir"
    echo "http {"
    nginx_http_common "$dir"
    cat <<EOF
  default_type text/plain;
  server { listen 127.0.0.1:$UP1; location / { return 200 "a\n"; } }
  server { listen 127.0.0.1:$UP2; location / { return 200 "b\n"; } }
}
EOF
  } >"$dir/nginx.conf"
}

# Peer proxy: the same 10/90 split as graymesh (UP1 weight 10, UP2 weight 90),
# per request on the random $request_id, over keep-alive upstream pools.
write_nginx_proxy_conf() {
  local dir=$1
  mkdir -p "$dir/tmp"
  {
    nginx_common "$dir"
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
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://\$pool;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
  } >"$dir/nginx.conf"
}

write_graymesh_conf() {
  cat >"$1" <<EOF
workers: 1
listeners:
  - { name: ingress, address: 127.0.0.1:$GM_PORT }
routes:
  - { pathPrefix: /, service: up }
services:
  - name: up
    endpoints:
      - { address: 127.0.0.1:$UP1, weight: 10 }
      - { address: 127.0.0.1:$UP2, weight: 90 }
upstream: { maxIdlePerEndpoint: 256 }
EOF
}

# Starts an nginx master (in the foreground, so it stays our child) pinned
# to CORE; its workers inherit the affinity. Sets STARTED_PID.
start_nginx() {
  local dir=$1 core=$2
  nginx -t -q -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" ||
    die "nginx config $dir/nginx.conf rejected"
  taskset -c "$core" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" \
    -g 'daemon off;' >"$dir/stdout.log" 2>&1 &
  STARTED_PID=$!
  STARTED_PIDS+=("$STARTED_PID")
}

start_all() {
  local ports
  ports=$(free_ports 4)
  read -r UP1 UP2 GM_PORT NGINX_PORT <<<"$ports"
  [[ -n "$NGINX_PORT" ]] || die "could not pick free ports"
  log "ports: upstream $UP1 (10%) $UP2 (90%), graymesh $GM_PORT, nginx proxy $NGINX_PORT"

  write_upstream_conf "$TMP/upstream"
  start_nginx "$TMP/upstream" "$LOAD_CORE"
  UPSTREAM_MASTER=$STARTED_PID
  wait_port "$UP1" "$UPSTREAM_MASTER" "upstream nginx"
  wait_port "$UP2" "$UPSTREAM_MASTER" "upstream nginx"

  write_nginx_proxy_conf "$TMP/nginx-proxy"
  start_nginx "$TMP/nginx-proxy" "$PROXY_CORE"
  NGINX_MASTER=$STARTED_PID
  wait_port "$NGINX_PORT" "$NGINX_MASTER" "nginx proxy"
  NGINX_WORKER=$(nginx_worker_pid "$NGINX_MASTER")
  UPSTREAM_WORKER=$(nginx_worker_pid "$UPSTREAM_MASTER")

  write_graymesh_conf "$TMP/graymesh.yaml"
  taskset -c "$PROXY_CORE" "$GRAYMESH_BIN" gateway --config "$TMP/graymesh.yaml" --admin none \
    >"$TMP/graymesh.log" 2>&1 &
  GM_PID=$!
  STARTED_PIDS+=("$GM_PID")
  wait_port "$GM_PORT" "$GM_PID" "graymesh gateway"
  log "pids: upstream nginx worker $UPSTREAM_WORKER, nginx proxy worker $NGINX_WORKER, graymesh $GM_PID"
}

# ------------------------------------------------------------- checks ----

# Sends SPLIT_SAMPLES requests over one keep-alive connection (curl URL
# globbing) and checks every answer is 200 and that ~10% came from UP1.
# nginx splits at random, so allow binomial noise: ±3 sd is about ±3% here.
check_split() {
  local name=$1 port=$2 out
  out=$(curl -s --max-time 30 -w '%{http_code}\n' \
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

# ------------------------------------------------------------ measuring ----

# Runs wrk on the load core against PORT for SECS; output to FILE. wrk runs
# in the background so the EXIT trap can stop it on ^C.
run_wrk() {
  local port=$1 secs=$2 file=$3 rc=0
  taskset -c "$LOAD_CORE" wrk -t1 -c"$CONNECTIONS" -d"${secs}s" --latency \
    "http://127.0.0.1:$port/" >"$file" 2>&1 &
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
# Appends a row to $RESULTS: run proxy rps p50 p99 rss_kb cpu_us_per_req errors
measure() {
  local run=$1 name=$2 port=$3 pid=$4
  local out="$TMP/wrk-$run-$name.txt"

  run_wrk "$port" "$WARMUP" "$TMP/wrk-$run-$name-warmup.txt" ||
    { log "$name: warmup wrk failed"; cat "$TMP/wrk-$run-$name-warmup.txt" >&2; }

  # Besides the proxy, sample the machine, the upstream worker and wrk (via
  # the shell's children) so CPU used by anything else during the run (other
  # users of this shared VM) can be reported: it makes the numbers noisy.
  local t0 t1 m0 m1 u0 u1 c0 c1 wrk_rc=0
  m0=$(machine_busy_ticks); u0=$(cpu_ticks "$UPSTREAM_WORKER"); c0=$(children_ticks)
  t0=$(cpu_ticks "$pid" 2>/dev/null) || t0=""
  run_wrk "$port" "$DURATION" "$out" || wrk_rc=$?
  t1=$(cpu_ticks "$pid" 2>/dev/null) || t1=""
  m1=$(machine_busy_ticks); u1=$(cpu_ticks "$UPSTREAM_WORKER"); c1=$(children_ticks)

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
    log "$name run $run: PROBLEM: $errors"
    sed 's/^/    wrk| /' "$out" >&2
  fi
  rss=$(rss_kb "$pid" 2>/dev/null || echo 0)
  cpu_us=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$requests" -v died="$died" \
    'BEGIN { if (n > 0 && !died) printf "%.2f", d / hz / n * 1e6; else print "nan" }')
  # Percent of one core used by everything else (includes kernel softirq work
  # not charged to any process, so a few percent is normal).
  local other
  other=$(awk -v o=$(((m1 - m0) - (t1 - t0) - (u1 - u0) - (c1 - c0))) -v hz="$CLK_TCK" \
    -v s="$DURATION" 'BEGIN { v = o / hz / s * 100; printf "%.0f", v < 0 ? 0 : v }')
  if [[ $other -gt 15 ]]; then
    NOISY=1
  fi

  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$name" "${rps:-0}" \
    "$(to_ms "${p50:-0}")" "$(to_ms "${p99:-0}")" "${rss:-0}" "$cpu_us" "$other" \
    "${errors:-none}" >>"$RESULTS"
  printf '  run %d %-8s %10s req/s  p50 %8s  p99 %8s  RSS %6.1f MB  CPU %7s us/req  other %3s%%  errors: %s\n' \
    "$run" "$name" "${rps:-0}" "${p50:-?}" "${p99:-?}" "$(awk -v k="${rss:-0}" 'BEGIN{print k/1024}')" \
    "$cpu_us" "$other" "${errors:-none}" >&2
}

print_table() {
  echo
  echo "Per run (wrk -t1 -c$CONNECTIONS -d${DURATION}s; proxy on core $PROXY_CORE, wrk+upstream on core $LOAD_CORE):"
  awk -F'\t' 'BEGIN {
      printf "%-4s %-9s %11s %9s %9s %8s %12s %7s  %s\n",
             "run", "proxy", "req/s", "p50 ms", "p99 ms", "RSS MB", "CPU us/req", "other%", "errors" }
    { printf "%-4s %-9s %11.0f %9.3f %9.3f %8.1f %12s %7s  %s\n",
             $1, $2, $3, $4, $5, $6 / 1024, $7, $8, $9 }' "$RESULTS"
  echo "(other% = CPU used by processes outside this benchmark during the run, % of one core)"
}

# Medians per proxy and graymesh/nginx ratios (below 1 = graymesh better for
# CPU and p99; above 1 = graymesh better for req/s).
print_summary() {
  echo
  echo "Summary (median of $RUNS run(s) each):"
  awk -F'\t' '
    function median(arr, n,   i, j, t) {
      for (i = 2; i <= n; i++) for (j = i; j > 1 && arr[j-1] > arr[j]; j--) {
        t = arr[j]; arr[j] = arr[j-1]; arr[j-1] = t }
      return (n % 2) ? arr[(n+1)/2] : (arr[n/2] + arr[n/2+1]) / 2
    }
    {
      k = $2; n[k]++
      rps[k, n[k]] = $3; p50[k, n[k]] = $4; p99[k, n[k]] = $5
      rss[k, n[k]] = $6; cpu[k, n[k]] = $7; oth[k, n[k]] = $8
    }
    END {
      printf "%-9s %11s %9s %9s %8s %12s %7s\n", "proxy", "req/s", "p50 ms", "p99 ms", "RSS MB", "CPU us/req", "other%"
      split("graymesh nginx", names, " ")
      for (p = 1; p <= 2; p++) {
        k = names[p]; m = n[k]
        for (i = 1; i <= m; i++) { a[i] = rps[k, i] }; R[k] = median(a, m)
        for (i = 1; i <= m; i++) { a[i] = p50[k, i] }; P5[k] = median(a, m)
        for (i = 1; i <= m; i++) { a[i] = p99[k, i] }; P9[k] = median(a, m)
        for (i = 1; i <= m; i++) { a[i] = rss[k, i] }; S[k] = median(a, m)
        for (i = 1; i <= m; i++) { a[i] = cpu[k, i] }; C[k] = median(a, m)
        for (i = 1; i <= m; i++) { a[i] = oth[k, i] }; O[k] = median(a, m)
        printf "%-9s %11.0f %9.3f %9.3f %8.1f %12.2f %7.0f\n", k, R[k], P5[k], P9[k], S[k] / 1024, C[k], O[k]
      }
      g = "graymesh"; x = "nginx"
      printf "\ngraymesh/nginx:  CPU per request %.2f   p99 %.2f   req/s %.2f   RSS %.2f\n",
        (C[x] ? C[g] / C[x] : 0), (P9[x] ? P9[g] / P9[x] : 0),
        (R[x] ? R[g] / R[x] : 0), (S[x] ? S[g] / S[x] : 0)
      # Runs i of both proxies are back to back, so they share the state of
      # this shared VM more closely than the medians do: ratios per pair.
      line = ""; m = 0
      for (i = 1; i <= n[g] && i <= n[x]; i++)
        if (cpu[x, i] > 0 && cpu[g, i] != "nan" && cpu[x, i] != "nan") {
          a[++m] = cpu[g, i] / cpu[x, i]; line = line sprintf(" %.2f", a[m]) }
      if (m > 0)
        printf "CPU per request, per run pair:%s (median %.2f)\n", line, median(a, m)
    }' "$RESULTS"
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
  : >"$RESULTS"

  log "graymesh: $GRAYMESH_BIN"
  log "load average before start: $(cut -d' ' -f1-3 /proc/loadavg) (other load skews the numbers)"
  start_all
  check_split graymesh "$GM_PORT"
  check_split nginx "$NGINX_PORT"

  local run
  for ((run = 1; run <= RUNS; run++)); do
    measure "$run" graymesh "$GM_PORT" "$GM_PID"
    measure "$run" nginx "$NGINX_PORT" "$NGINX_WORKER"
  done

  print_table
  print_summary

  # Anything graymesh logged beyond its start-up lines is worth a look.
  if grep -vE "listener '.*' on " "$TMP/graymesh.log" | grep -q .; then
    log "graymesh log (beyond start-up):"
    grep -vE "listener '.*' on " "$TMP/graymesh.log" | tail -n 20 | sed 's/^/    gm| /' >&2
  fi
  if [[ -s "$TMP/nginx-proxy/error.log" ]]; then
    log "nginx proxy error.log:"
    tail -n 20 "$TMP/nginx-proxy/error.log" | sed 's/^/    ngx| /' >&2
  fi
  if [[ $NOISY -ne 0 ]]; then
    log "WARNING: other processes used >15% of a core during some runs; numbers are noisy"
  fi
  if [[ $FAILED -ne 0 ]]; then
    log "FAILED: at least one run had errors (see above)"
    exit 1
  fi
}

main "$@"
