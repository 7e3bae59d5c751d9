// control_push: how fast a change reaches 1,000 snapshot watchers.
//
// Against a running `graymesh control` on 127.0.0.1:PORT (bench/control_push.sh
// starts one): registers N instances over a few keep-alive connections, opens
// C long-polling watchers in this one process (asio coroutines on one
// io_context, one keep-alive connection each, looping
// GET /v1/snapshot?version=V&wait=30), then does K TrafficLane applies one at
// a time and times each from just before the POST to the moment the last
// watcher holds the new revision. Prints p50/p99/max of that, the control
// plane's VmRSS before/after, bytes pushed per change and registration time.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <nlohmann/json.hpp>

namespace {

using asio::awaitable;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

struct Options {
  uint16_t port = 15010;
  int pid = 0;
  int services = 100;
  int per_service = 100;
  int clients = 1000;
  int changes = 20;
  int reg_conns = 8;
  double give_up_s = 10.0;
};

struct Response {
  int status = 0;
  int64_t version = -1;  // x-graymesh-version, -1 when absent
  uint64_t body_bytes = 0;
  std::string body;  // only when asked to keep it
  bool ok = false;   // transport ok
  std::string error;
};

// Shared sink for bodies we only count (one thread: content races are harmless).
std::vector<char> g_scratch(256 * 1024);

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// One HTTP/1.1 request on a keep-alive connection; `sb` carries bytes read
// past the previous response.
awaitable<Response> Exchange(tcp::socket& sock, asio::streambuf& sb, std::string_view method,
                             std::string_view target, std::string_view body,
                             std::string_view content_type, bool keep_body) {
  Response r;
  std::string req;
  req.reserve(256 + body.size());
  req.append(method).append(" ").append(target).append(" HTTP/1.1\r\nhost: 127.0.0.1\r\n");
  if (!body.empty() || method == "POST" || method == "PUT") {
    req.append("content-type: ").append(content_type).append("\r\n");
    req.append("content-length: ").append(std::to_string(body.size())).append("\r\n");
  }
  req.append("\r\n").append(body);
  auto [wec, wn] = co_await asio::async_write(sock, asio::buffer(req), kTuple);
  if (wec) {
    r.error = "write: " + wec.message();
    co_return r;
  }
  auto [ec, hn] = co_await asio::async_read_until(sock, sb, "\r\n\r\n", kTuple);
  if (ec) {
    r.error = "read head: " + ec.message();
    co_return r;
  }
  std::string head(asio::buffers_begin(sb.data()), asio::buffers_begin(sb.data()) + hn);
  sb.consume(hn);
  // Status line.
  size_t sp = head.find(' ');
  if (sp == std::string::npos) {
    r.error = "bad status line";
    co_return r;
  }
  r.status = std::atoi(head.c_str() + sp + 1);
  uint64_t length = 0;
  bool chunked = false;
  size_t pos = head.find("\r\n");
  while (pos != std::string::npos && pos + 2 < head.size()) {
    size_t next = head.find("\r\n", pos + 2);
    if (next == std::string::npos) break;
    std::string_view line(head.data() + pos + 2, next - pos - 2);
    pos = next;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name = Lower(line.substr(0, colon));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (name == "content-length") length = std::strtoull(std::string(value).c_str(), nullptr, 10);
    else if (name == "x-graymesh-version") r.version = std::strtoll(std::string(value).c_str(), nullptr, 10);
    else if (name == "transfer-encoding" && Lower(value).find("chunked") != std::string::npos) chunked = true;
  }
  if (chunked) {
    r.error = "chunked replies not supported";
    co_return r;
  }
  r.body_bytes = length;
  if (keep_body) r.body.reserve(length);
  uint64_t left = length;
  // Bytes already buffered first.
  size_t have = std::min<uint64_t>(sb.size(), left);
  if (have > 0) {
    if (keep_body) {
      r.body.append(asio::buffers_begin(sb.data()), asio::buffers_begin(sb.data()) + have);
    }
    sb.consume(have);
    left -= have;
  }
  while (left > 0) {
    size_t want = std::min<uint64_t>(left, g_scratch.size());
    auto [rec, n] = co_await sock.async_read_some(asio::buffer(g_scratch.data(), want), kTuple);
    if (rec) {
      r.error = "read body: " + rec.message();
      co_return r;
    }
    if (keep_body) r.body.append(g_scratch.data(), n);
    left -= n;
  }
  r.ok = true;
  co_return r;
}

awaitable<bool> Connect(tcp::socket& sock, uint16_t port) {
  tcp::endpoint ep(asio::ip::address_v4::loopback(), port);
  for (int attempt = 0; attempt < 50; ++attempt) {
    if (sock.is_open()) {
      asio::error_code ignored;
      sock.close(ignored);
    }
    auto [ec] = co_await sock.async_connect(ep, kTuple);
    if (!ec) {
      sock.set_option(tcp::no_delay(true));
      co_return true;
    }
    asio::steady_timer t(sock.get_executor(), std::chrono::milliseconds(100));
    co_await t.async_wait(kTuple);
  }
  co_return false;
}

long ReadRssKiB(int pid, const char* field = "VmRSS:") {
  if (pid <= 0) return -1;
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(field, 0) == 0) return std::strtol(line.c_str() + std::strlen(field), nullptr, 10);
  }
  return -1;
}

// utime+stime of a process in seconds (from /proc/PID/stat), or of this one.
double CpuSeconds(int pid) {
  if (pid <= 0) {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  }
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t rp = all.rfind(')');
  if (rp == std::string::npos) return -1;
  std::vector<std::string> fields;
  std::string cur;
  for (size_t i = rp + 2; i < all.size(); ++i) {
    if (all[i] == ' ') {
      fields.push_back(cur);
      cur.clear();
    } else {
      cur += all[i];
    }
  }
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  if (fields.size() < 13) return -1;
  double tck = static_cast<double>(sysconf(_SC_CLK_TCK));
  return (std::strtod(fields[11].c_str(), nullptr) + std::strtod(fields[12].c_str(), nullptr)) / tck;
}

// ---- state shared by the coroutines (one thread) ----
struct Watcher {
  int64_t version = -1;
  Clock::time_point got{};
};

Options g_opt;
std::vector<Watcher> g_watchers;
std::map<int64_t, uint64_t> g_bytes_by_version;
std::map<int64_t, int> g_count_by_version;
int64_t g_target = INT64_MAX;  // revision the driver waits for
int g_reached = 0;             // watchers holding >= g_target
int g_connected = 0;
uint64_t g_watch_errors = 0;
uint64_t g_not_modified = 0;
bool g_stop = false;
std::string g_last_watch_error;

awaitable<void> WatcherLoop(int idx) {
  auto ex = co_await asio::this_coro::executor;
  tcp::socket sock(ex);
  asio::streambuf sb;
  bool connected = false;
  while (!g_stop) {
    if (!connected) {
      sb.consume(sb.size());
      if (!co_await Connect(sock, g_opt.port)) {
        ++g_watch_errors;
        g_last_watch_error = "connect failed";
        co_return;
      }
      connected = true;
      ++g_connected;
    }
    Watcher& w = g_watchers[idx];
    std::string target = w.version < 0
                             ? std::string("/v1/snapshot")
                             : "/v1/snapshot?version=" + std::to_string(w.version) + "&wait=30";
    Response r = co_await Exchange(sock, sb, "GET", target, {}, {}, false);
    if (g_stop) break;
    if (!r.ok) {
      ++g_watch_errors;
      g_last_watch_error = r.error;
      asio::error_code ignored;
      sock.close(ignored);
      connected = false;
      --g_connected;
      asio::steady_timer t(ex, std::chrono::milliseconds(50));
      co_await t.async_wait(kTuple);
      continue;
    }
    if (r.status == 304) {
      ++g_not_modified;
      continue;
    }
    if (r.status != 200) {
      ++g_watch_errors;
      g_last_watch_error = "status " + std::to_string(r.status);
      continue;
    }
    auto now = Clock::now();
    int64_t old = w.version;
    w.version = r.version;
    w.got = now;
    g_bytes_by_version[r.version] += r.body_bytes;
    g_count_by_version[r.version] += 1;
    if (old < g_target && r.version >= g_target) ++g_reached;
  }
  asio::error_code ignored;
  sock.close(ignored);
}

awaitable<void> Sleep(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(kTuple);
}

// Registration: workers take the next index from a shared counter.
int g_next_reg = 0;
int g_reg_ok = 0;
int g_reg_fail = 0;
std::string g_reg_error;

awaitable<void> RegisterWorker() {
  auto ex = co_await asio::this_coro::executor;
  tcp::socket sock(ex);
  asio::streambuf sb;
  if (!co_await Connect(sock, g_opt.port)) {
    g_reg_error = "connect failed";
    co_return;
  }
  const int total = g_opt.services * g_opt.per_service;
  while (true) {
    int i = g_next_reg++;
    if (i >= total) break;
    int s = i / g_opt.per_service;
    int j = i % g_opt.per_service;
    char body[160];
    std::snprintf(body, sizeof body, R"({"service":"svc-%03d","address":"10.%d.%d.%d:8080"})", s,
                  1 + s / 250, s % 250, 1 + j % 250);
    if (g_opt.per_service > 250) {
      std::snprintf(body, sizeof body, R"({"service":"svc-%03d","address":"10.%d.%d.%d:%d"})", s,
                    1 + s / 250, s % 250, 1 + j % 250, 8080 + j / 250);
    }
    Response r = co_await Exchange(sock, sb, "POST", "/v1/instances", body, "application/json", true);
    if (!r.ok || (r.status != 200 && r.status != 201)) {
      ++g_reg_fail;
      g_reg_error = r.ok ? "status " + std::to_string(r.status) + ": " + r.body : r.error;
      if (!r.ok) {
        if (!co_await Connect(sock, g_opt.port)) co_return;
        sb.consume(sb.size());
      }
      continue;
    }
    ++g_reg_ok;
  }
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  // nearest-rank
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * v.size()));
  if (rank == 0) rank = 1;
  return v[std::min(rank, v.size()) - 1];
}

awaitable<int64_t> CurrentRevision(tcp::socket& sock, asio::streambuf& sb) {
  Response r = co_await Exchange(sock, sb, "GET", "/v1/rules", {}, {}, true);
  if (!r.ok || r.status != 200) co_return -1;
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded()) co_return -1;
  co_return j.value("revision", int64_t{-1});
}

int g_exit = 0;

awaitable<void> Driver(asio::io_context& io) {
  auto ex = co_await asio::this_coro::executor;
  const Options& o = g_opt;
  long rss_start = ReadRssKiB(o.pid);

  // 1. Registration.
  const int total = o.services * o.per_service;
  auto t_reg = Clock::now();
  {
    int done = 0;
    for (int k = 0; k < o.reg_conns; ++k) {
      asio::co_spawn(ex, RegisterWorker(), [&done](std::exception_ptr) { ++done; });
    }
    while (done < o.reg_conns) co_await Sleep(std::chrono::milliseconds(2));
  }
  double reg_s = std::chrono::duration<double>(Clock::now() - t_reg).count();
  std::printf("registered %d/%d instances (%d services x %d) over %d keep-alive connections in %.3f s (%.0f/s)%s%s\n",
              g_reg_ok, total, o.services, o.per_service, o.reg_conns, reg_s, g_reg_ok / reg_s,
              g_reg_fail ? ", failures: " : "", g_reg_fail ? std::to_string(g_reg_fail).c_str() : "");
  if (g_reg_fail) std::printf("  last registration error: %s\n", g_reg_error.c_str());
  std::fflush(stdout);

  tcp::socket ctl(ex);
  asio::streambuf ctl_sb;
  if (!co_await Connect(ctl, o.port)) {
    std::printf("cannot connect driver\n");
    g_exit = 1;
    io.stop();
    co_return;
  }
  int64_t rev = co_await CurrentRevision(ctl, ctl_sb);
  long rss_before = ReadRssKiB(o.pid);

  // 2. Watchers.
  auto t_watch = Clock::now();
  g_watchers.resize(o.clients);
  g_target = rev;
  g_reached = 0;
  for (int i = 0; i < o.clients; ++i) asio::co_spawn(ex, WatcherLoop(i), asio::detached);
  while (g_reached < o.clients &&
         Clock::now() - t_watch < std::chrono::seconds(60)) {
    co_await Sleep(std::chrono::milliseconds(5));
  }
  double watch_s = std::chrono::duration<double>(Clock::now() - t_watch).count();
  uint64_t initial_size = g_count_by_version[rev] ? g_bytes_by_version[rev] / g_count_by_version[rev] : 0;
  std::printf("%d watchers connected, %d hold revision %lld after %.3f s (initial snapshot %llu bytes each)\n",
              g_connected, g_reached, static_cast<long long>(rev), watch_s,
              static_cast<unsigned long long>(initial_size));
  std::fflush(stdout);
  // Let every watcher park its next long poll.
  co_await Sleep(std::chrono::milliseconds(500));
  long rss_watching = ReadRssKiB(o.pid);

  // 3. Changes.
  double cp_cpu0 = CpuSeconds(o.pid), self_cpu0 = CpuSeconds(0);
  auto t_changes = Clock::now();
  std::vector<double> lat_ms;
  std::vector<uint64_t> bytes;
  int total_missing = 0;
  for (int c = 0; c < o.changes; ++c) {
    std::string yaml =
        "kind: TrafficLane\n"
        "name: bench-gray\n"
        "spec:\n"
        "  tag: bench-gray\n"
        "  priority: " + std::to_string(10 + c) + "\n"
        "  entrance:\n"
        "    gateway: ingress\n"
        "    match:\n"
        "      - headers: { x-bench: { exact: \"v" + std::to_string(c) + "\" } }\n";
    g_target = INT64_MAX;
    auto t0 = Clock::now();
    Response r = co_await Exchange(ctl, ctl_sb, "POST", "/v1/apply", yaml, "application/yaml", true);
    auto t_applied = Clock::now();
    if (!r.ok || r.status != 200) {
      std::printf("change %d: apply failed: %s %d %s\n", c, r.error.c_str(), r.status, r.body.c_str());
      g_exit = 1;
      break;
    }
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    int64_t new_rev = j.is_discarded() ? -1 : j.value("revision", int64_t{-1});
    if (new_rev <= rev) {
      std::printf("change %d: revision did not move (%lld -> %lld): %s\n", c,
                  static_cast<long long>(rev), static_cast<long long>(new_rev), r.body.c_str());
      g_exit = 1;
      break;
    }
    // Count those that already got it while the apply answer was on its way.
    g_target = new_rev;
    g_reached = 0;
    for (const Watcher& w : g_watchers) g_reached += (w.version >= new_rev);
    auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.give_up_s));
    while (g_reached < o.clients && Clock::now() < deadline) {
      co_await Sleep(std::chrono::milliseconds(1));
    }
    int missing = o.clients - g_reached;
    Clock::time_point last = t0;
    for (const Watcher& w : g_watchers) {
      if (w.version >= new_rev) last = std::max(last, w.got);
    }
    double ms = missing ? o.give_up_s * 1000.0 : std::chrono::duration<double, std::milli>(last - t0).count();
    lat_ms.push_back(ms);
    uint64_t b = g_bytes_by_version[new_rev];
    bytes.push_back(b);
    total_missing += missing;
    std::printf("change %2d: revision %lld, apply answered in %.1f ms, last of %d watchers at %.1f ms%s, pushed %llu bytes (%d x %llu)\n",
                c + 1, static_cast<long long>(new_rev),
                std::chrono::duration<double, std::milli>(t_applied - t0).count(), o.clients, ms,
                missing ? (", MISSING " + std::to_string(missing)).c_str() : "",
                static_cast<unsigned long long>(b), g_count_by_version[new_rev],
                static_cast<unsigned long long>(g_count_by_version[new_rev] ? b / g_count_by_version[new_rev] : 0));
    std::fflush(stdout);
    rev = new_rev;
    // Settle: every watcher is back in its long poll before the next change.
    co_await Sleep(std::chrono::milliseconds(200));
  }
  long rss_after = ReadRssKiB(o.pid);
  double changes_wall = std::chrono::duration<double>(Clock::now() - t_changes).count();
  double cp_cpu = CpuSeconds(o.pid) - cp_cpu0, self_cpu = CpuSeconds(0) - self_cpu0;
  long hwm = ReadRssKiB(o.pid, "VmHWM:");

  std::printf("\n=== control_push summary ===\n");
  std::printf("instances registered        : %d in %.3f s (%.0f/s, %d connections)\n", g_reg_ok, reg_s,
              g_reg_ok / reg_s, o.reg_conns);
  std::printf("watchers                    : %d (one process, one io_context, keep-alive)\n", o.clients);
  std::printf("apply -> last watcher (%zu changes): p50 %.1f ms, p99 %.1f ms, max %.1f ms  (target p99 < 1000 ms: %s)\n",
              lat_ms.size(), Percentile(lat_ms, 50), Percentile(lat_ms, 99), Percentile(lat_ms, 100),
              Percentile(lat_ms, 99) < 1000 ? "met" : "NOT met");
  if (total_missing) std::printf("watchers missing a change after %.0f s: %d (sum over changes)\n", o.give_up_s, total_missing);
  if (!bytes.empty()) {
    uint64_t sum = 0;
    for (uint64_t b : bytes) sum += b;
    std::printf("bytes pushed per change     : avg %.1f MB (%llu bytes; min %llu, max %llu; snapshot ~%llu bytes x %d watchers)\n",
                sum / 1e6 / bytes.size(), static_cast<unsigned long long>(sum / bytes.size()),
                static_cast<unsigned long long>(*std::min_element(bytes.begin(), bytes.end())),
                static_cast<unsigned long long>(*std::max_element(bytes.begin(), bytes.end())),
                static_cast<unsigned long long>(sum / bytes.size() / o.clients), o.clients);
  }
  std::printf("control-plane VmRSS         : start %.1f MiB, before watchers %.1f MiB (after registration), "
              "with watchers parked %.1f MiB, after changes %.1f MiB; VmHWM %.1f MiB\n",
              rss_start / 1024.0, rss_before / 1024.0, rss_watching / 1024.0, rss_after / 1024.0, hwm / 1024.0);
  std::printf("CPU during the changes phase : %.1f s wall; control plane %.1f s CPU (%.0f%% of one core), "
              "control_push (watchers) %.1f s CPU (%.0f%%)\n",
              changes_wall, cp_cpu, 100 * cp_cpu / changes_wall, self_cpu, 100 * self_cpu / changes_wall);
  std::printf("watch errors/reconnects     : %llu%s%s; 304s: %llu\n",
              static_cast<unsigned long long>(g_watch_errors), g_watch_errors ? ", last: " : "",
              g_last_watch_error.c_str(), static_cast<unsigned long long>(g_not_modified));
  std::fflush(stdout);
  if (total_missing) g_exit = 1;
  g_stop = true;
  io.stop();
}

void Usage() {
  std::fprintf(stderr,
               "usage: control_push --port P [--pid PID] [--services 100] [--per-service 100]\n"
               "                    [--clients 1000] [--changes 20] [--reg-conns 8] [--give-up 10]\n");
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        Usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--port") g_opt.port = static_cast<uint16_t>(std::atoi(next()));
    else if (a == "--pid") g_opt.pid = std::atoi(next());
    else if (a == "--services") g_opt.services = std::atoi(next());
    else if (a == "--per-service") g_opt.per_service = std::atoi(next());
    else if (a == "--clients") g_opt.clients = std::atoi(next());
    else if (a == "--changes") g_opt.changes = std::atoi(next());
    else if (a == "--reg-conns") g_opt.reg_conns = std::atoi(next());
    else if (a == "--give-up") g_opt.give_up_s = std::atof(next());
    else {
      Usage();
      return 2;
    }
  }
  // One fd per watcher plus a few: raise the soft limit to the hard one.
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rlim_t want = static_cast<rlim_t>(g_opt.clients + g_opt.reg_conns + 64);
    if (rl.rlim_cur < want) {
      rl.rlim_cur = std::min(rl.rlim_max, std::max<rlim_t>(want, rl.rlim_cur));
      setrlimit(RLIMIT_NOFILE, &rl);
      getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < want) {
      std::fprintf(stderr, "RLIMIT_NOFILE %llu is below the %llu needed\n",
                   static_cast<unsigned long long>(rl.rlim_cur), static_cast<unsigned long long>(want));
      return 1;
    }
  }
  asio::io_context io(1);
  asio::co_spawn(io, Driver(io), [](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        std::fprintf(stderr, "driver failed: %s\n", ex.what());
        g_exit = 1;
      }
    }
  });
  io.run();
  return g_exit;
}
