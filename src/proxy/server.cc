#include "proxy/server.h"
#include "proxy/endpoint_status.h"

#include <spdlog/spdlog.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <nlohmann/json.hpp>
#include <algorithm>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "net/fd_limits.h"
#include "net/http_server.h"
#include "net/listener.h"
#include "tls/server_contexts.h"

namespace graymesh::proxy {

// Scrapers and probes; more at once is a misbehaving client.
constexpr size_t kAdminConnections = 256;

// The admin endpoint and the main thread's loop: signals, drain, metrics.
// The signal sets exist from Start() on, before any port is open: a signal
// that arrives before Run() waits is queued by Asio instead of taking its
// default action (SIGHUP would end the process).
struct Server::Admin {
  asio::io_context io{1};
  asio::signal_set stop_signals{io, SIGTERM, SIGINT};
  asio::signal_set hup{io, SIGHUP};
  std::unique_ptr<net::HttpServer> http;
  bool drain_requested = false;
};

Server::Server(std::shared_ptr<const config::Config> cfg, ServerOptions options)
    : cfg_(std::move(cfg)), options_(std::move(options)), admin_(std::make_unique<Admin>()) {}

namespace {

// Destroys what is still queued on a stopped worker's io_context: the
// coroutine frames of connections a drain timeout left open. ~io_context
// would do it too, but only after the rest of the Worker (its listeners,
// counters and session list, which those frames' destructors use) is gone.
// io_context::shutdown() is protected; a pointer to it taken in a derived
// class may be called on any io_context.
struct PendingWork : asio::io_context {
  static void Destroy(asio::io_context& io) { (io.*&PendingWork::shutdown)(); }
};

}  // namespace

Server::~Server() {
  for (auto& w : workers_) w->Stop();
  for (auto& w : workers_) w->Join();
  StopAccessLog();
  for (auto& w : workers_) PendingWork::Destroy(w->io());
}

void Server::StopAccessLog() {
  if (!access_log_) return;
  for (auto& w : workers_) w->recorder().FlushLogs();  // workers joined: safe here
  access_log_->Stop();
}

void Server::WarnUnknownGateways(const config::Config& cfg) {
  if (options_.role != "gateway") return;
  std::string mine;
  for (const config::Listener& l : cfg.listeners) {
    if (l.kind == config::ListenerKind::kGateway || l.kind == config::ListenerKind::kTcp) {
      mine += (mine.empty() ? "'" : ", '") + l.name + "'";
    }
  }
  std::string warning;
  for (const config::Lane& lane : cfg.lanes) {
    if (lane.gateway.empty() || mine.find("'" + lane.gateway + "'") != std::string::npos) continue;
    warning += (warning.empty() ? "" : "; ") + ("lane '" + lane.name + "' names gateway listener '" +
                                                lane.gateway + "'");
  }
  if (warning == gateway_warning_) return;
  gateway_warning_ = warning;
  if (!warning.empty()) {
    spdlog::warn("{}, which this gateway does not have (its listeners: {}): those rules dye "
                 "nothing here",
                 warning, mine);
  }
}

void Server::Start() {
  WarnUnknownGateways(*cfg_);
  auto snap = Snapshot::Compile(cfg_, version_);
  std::vector<ListenerInfo> listeners;
  access_log_ = std::make_unique<AccessLogWriter>();
  for (const config::Listener& l : cfg_->listeners) {
    listeners.push_back({l, net::Resolve(l.address.host, l.address.port)});
    // Certificates that cannot be loaded stop the start, not every handshake later.
    if (l.tls) tls::ServerContexts check(*l.tls);
    if (!l.access_log.empty()) listeners.back().access_log = access_log_->Open(l.access_log);
  }
  // Loose mode learns at inbound listeners only (a sidecar's): without one
  // nothing is ever learnt, and the map (1.5 MiB at the default capacity,
  // all of it written when it is cleared) stays at its smallest.
  const bool learns =
      std::any_of(cfg_->listeners.begin(), cfg_->listeners.end(), [](const config::Listener& l) {
        return l.kind == config::ListenerKind::kInbound;
      });
  traces_ = std::make_unique<lane::TraceLaneMap>(learns ? cfg_->node.trace_capacity : 0,
                                                 cfg_->node.trace_ttl_seconds);
  int n = cfg_->workers > 0 ? cfg_->workers : int(std::max(1u, std::thread::hardware_concurrency()));
  // Every proxied request holds two descriptors (client and upstream): the
  // connections of all workers must fit the open-file limit, or accepts and
  // connects fail under load.
  const uint64_t fd_limit = net::RaiseOpenFileLimit();
  const uint32_t fit = net::ConnectionsThatFit(fd_limit, n, 2);
  if (cfg_->limits.max_connections > fit) {
    spdlog::warn("limits.maxConnections {} lowered to {} per worker: {} workers x {} x 2 "
                 "descriptors + {} spare must fit the open-file limit of {}",
                 cfg_->limits.max_connections, fit, n, fit, net::kSpareDescriptors, fd_limit);
  }
  for (int i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>(i, snap, traces_.get());
    w->LimitConnections(fit);
    w->recorder().SetAccessLog(access_log_.get());
    try {
      w->Listen(listeners);
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("cannot listen: ") + e.what());
    }
    workers_.push_back(std::move(w));
  }
  access_log_->Start();
  for (auto& w : workers_) w->Start();
  for (const ListenerInfo& l : listeners) {
    spdlog::info("{} listener '{}' on {}", options_.role, l.cfg.name, l.cfg.address.ToString());
  }

  if (!options_.admin_address.empty()) {
    config::HostPort hp = config::ParseHostPort(options_.admin_address);
    auto handler = [this](const net::HttpRequest& rq) -> asio::awaitable<net::HttpReply> {
      net::HttpReply reply;
      if (rq.path == "/metrics") {
        reply.content_type = "text/plain; version=0.0.4";
        reply.body = MetricsText();
      } else if (rq.path == "/ready") {
        const bool draining = admin_->drain_requested;
        const bool ready = !draining && (!options_.ready || options_.ready());
        reply.status = ready ? 200 : 503;
        reply.content_type = "text/plain";
        reply.body = ready ? "ready\n" : draining ? "draining\n" : "not ready\n";
      } else if (rq.path == "/config") {
        reply.body = ConfigJson();
      } else if (rq.path == "/drain" && rq.method == "POST") {
        reply.content_type = "text/plain";
        reply.body = "draining\n";
        if (begin_drain_) begin_drain_();
      } else {
        reply.status = 404;
        reply.content_type = "text/plain";
        reply.body = "not found\n";
      }
      co_return reply;
    };
    admin_->http = std::make_unique<net::HttpServer>(
        admin_->io, net::Resolve(hp.host, hp.port), handler,
        net::HttpServerOptions{.max_connections = kAdminConnections});
    admin_->http->Start();
    spdlog::info("{} admin on {}", options_.role, options_.admin_address);
  }
}

int Server::Run() {
  using Clock = std::chrono::steady_clock;
  using std::chrono::milliseconds;
  int exit_code = 0;
  asio::steady_timer poll(admin_->io);
  auto deadline = Clock::time_point::max();
  // The drain's steps (server.h); `since` is when the current one began.
  enum class Step { kQuiet, kEntryClosing, kAppFinishing, kClosing } step = Step::kQuiet;
  int64_t since = 0;
  auto total = [&](auto f) {
    int64_t n = 0;
    for (auto& w : workers_) n += f(*w);
    return n;
  };
  auto latest = [&](Side side) {
    int64_t t = since;
    for (auto& w : workers_) t = std::max(t, w->last_request_ms(side));
    return t;
  };
  const int64_t quiet = options_.quiet.count();
  // Checks every 20 ms how far the drain is.
  std::function<void()> watch = [&] {
    const int64_t now = Worker::NowMs();
    if (Clock::now() >= deadline) {
      const int64_t open = total([](Worker& w) { return w.open_sessions(); });
      if (open > 0) {
        spdlog::warn("drain timeout: {} connections still open", open);
        exit_code = 1;
        for (auto& w : workers_) w->ShutdownTcp();
      }
      admin_->io.stop();
      return;
    }
    if (step == Step::kQuiet && now - latest(Side::kEntry) >= quiet) {
      spdlog::info("drain: no request for {} ms: closing the entry side", quiet);
      for (auto& w : workers_) w->CloseSide(Side::kEntry);
      step = Step::kEntryClosing;
    }
    if (step == Step::kEntryClosing &&
        total([](Worker& w) { return w.open_sessions(Side::kEntry); }) == 0) {
      if (options_.on_entry_done) options_.on_entry_done();
      step = Step::kAppFinishing;
      since = now;
    }
    if (step == Step::kAppFinishing) {
      const bool app_done = !options_.lossless ? true
                            : options_.app_running ? !options_.app_running()
                                                   : now - latest(Side::kOutbound) >= quiet;
      if (app_done) {
        for (auto& w : workers_) w->CloseSide(Side::kOutbound);
        step = Step::kClosing;
      }
    }
    if (step == Step::kClosing && total([](Worker& w) { return w.open_sessions(); }) == 0) {
      admin_->io.stop();
      return;
    }
    poll.expires_after(milliseconds(20));
    poll.async_wait([&](const asio::error_code& ec) {
      if (!ec) watch();
    });
  };
  begin_drain_ = [&] {
    if (admin_->drain_requested) return;
    admin_->drain_requested = true;
    if (options_.on_drain) options_.on_drain();
    std::optional<config::Millis> timeout = options_.drain_timeout;
    if (!timeout && options_.drain_timeout_of) timeout = options_.drain_timeout_of(*cfg_);
    deadline = Clock::now() + timeout.value_or(cfg_->timeouts.drain);
    since = Worker::NowMs();
    step = options_.lossless ? Step::kQuiet : Step::kEntryClosing;
    for (auto& w : workers_) w->Drain(options_.lossless, options_.lossless);
    watch();
  };

  // An app the sidecar runs that exits on its own: nothing to serve any more.
  asio::steady_timer app_timer(admin_->io);
  std::function<void()> watch_app = [&] {
    if (!options_.app_running || admin_->drain_requested) return;
    if (!options_.app_running()) {
      spdlog::warn("the app exited: draining");
      begin_drain_();
      return;
    }
    app_timer.expires_after(milliseconds(100));
    app_timer.async_wait([&](const asio::error_code& ec) {
      if (!ec) watch_app();
    });
  };
  watch_app();

  asio::signal_set& signals = admin_->stop_signals;
  std::function<void(const asio::error_code&, int)> on_signal =
      [&](const asio::error_code& ec, int sig) {
        if (ec) return;
        if (admin_->drain_requested) {  // a second signal: stop now
          spdlog::warn("signal {} again: stopping now", sig);
          exit_code = 1;
          admin_->io.stop();
          return;
        }
        spdlog::info("signal {}: draining", sig);
        begin_drain_();
        signals.async_wait(on_signal);
      };
  signals.async_wait(on_signal);

  asio::signal_set& hup = admin_->hup;
  std::function<void(const asio::error_code&, int)> on_hup = [&](const asio::error_code& ec, int) {
    if (ec) return;
    tls::ServerContexts::RequestReload();  // gateway TLS listeners re-read their certificates
    if (options_.reload) {
      try {
        Apply(options_.reload());
        spdlog::info("configuration reloaded (version {})", version_);
      } catch (const std::exception& e) {
        spdlog::error("reload refused, keeping version {}: {}", version_, e.what());
      }
    }
    hup.async_wait(on_hup);
  };
  hup.async_wait(on_hup);
  admin_->io.run();
  begin_drain_ = nullptr;

  for (auto& w : workers_) w->Stop();
  for (auto& w : workers_) w->Join();
  StopAccessLog();
  if (exit_code == 0) spdlog::info("stopped cleanly");
  return exit_code;
}

void Server::Apply(std::shared_ptr<const config::Config> cfg) {
  auto snap = Snapshot::Compile(cfg, ++version_);
  WarnUnknownGateways(*cfg);
  cfg_ = std::move(cfg);
  for (auto& w : workers_) w->Apply(snap);
}

void Server::ApplyAsync(std::shared_ptr<const config::Config> cfg) {
  asio::post(admin_->io, [this, cfg = std::move(cfg)]() mutable {
    try {
      Apply(std::move(cfg));
    } catch (const std::exception& e) {
      spdlog::error("configuration refused, keeping version {}: {}", version_, e.what());
    }
  });
}

std::string Server::MetricsText() const {
  std::string out;
#define GRAYMESH_EMIT(name, help)                                                        \
  {                                                                                      \
    uint64_t sum = 0;                                                                    \
    for (const auto& w : workers_) sum += w->stats().name.Get();                         \
    out += "# HELP graymesh_" #name " " help "\n# TYPE graymesh_" #name " counter\n";     \
    out += "graymesh_" #name " " + std::to_string(sum) + "\n";                           \
  }
  GRAYMESH_PROXY_COUNTERS(GRAYMESH_EMIT)
#undef GRAYMESH_EMIT
  int64_t active = 0;
  uint64_t retries = 0;
  for (const auto& w : workers_) {
    active += w->stats().downstream_cx_active.Get();
    retries += w->stats().upstream_rq_retry.Get();
  }
  out += "# TYPE graymesh_downstream_cx_active gauge\ngraymesh_downstream_cx_active " +
         std::to_string(active) + "\n";
  out += RenderServerGauges(active, retries, admin_->drain_requested);
  out += RenderTrafficMetrics(CollectTraffic());
  return out;
}

TrafficSample Server::CollectTraffic() const {
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    size_t left = 0;
    TrafficSample all;
  };
  auto shared = std::make_shared<Shared>();
  shared->left = workers_.size();
  for (size_t i = 0; i < workers_.size(); ++i) {
    Worker* w = workers_[i].get();
    if (w->io().stopped()) {  // stopped workers run no posted task; their tables stay
      std::lock_guard<std::mutex> lock(shared->mu);
      --shared->left;
      continue;
    }
    asio::post(w->io(), [shared, w, first = i == 0] {
      std::vector<SeriesSample> series = w->recorder().metrics().Samples();
      std::vector<TcpSeriesSample> tcp = w->recorder().tcp_metrics().Samples();
      std::vector<EndpointSample> endpoints;
      if (first) endpoints = ConfiguredEndpoints(*w->upstreams().snapshot());
      std::lock_guard<std::mutex> lock(shared->mu);
      for (SeriesSample& s : series) shared->all.series.push_back(std::move(s));
      for (TcpSeriesSample& s : tcp) shared->all.tcp.push_back(std::move(s));
      if (first) shared->all.endpoints = std::move(endpoints);
      --shared->left;
      shared->cv.notify_one();
    });
  }
  std::unique_lock<std::mutex> lock(shared->mu);
  shared->cv.wait_for(lock, std::chrono::seconds(2), [&] { return shared->left == 0; });
  TrafficSample out = std::move(shared->all);
  shared->all = {};
  lock.unlock();
  out.series = MergeSeries(std::move(out.series));
  out.tcp = MergeTcpSeries(std::move(out.tcp));
  for (const auto& w : workers_) out.active_requests += w->recorder().active_requests();
  // The configured endpoints, as endpoint health sees them over all workers.
  for (const health::EndpointStatus& st : EndpointStatuses()) {
    for (EndpointSample& e : out.endpoints) {
      if (e.service != st.service || e.address != st.address) continue;
      e.state = health::StateName(st.state);
      e.weight = st.weight;
      e.ejections = st.ejections;
    }
  }
  return out;
}

std::vector<health::EndpointStatus> Server::EndpointStatuses() const {
  return MergedEndpointStatuses(workers_);
}

std::string Server::ConfigJson() const {
  nlohmann::json j;
  j["version"] = version_;
  j["role"] = options_.role;
  for (const config::Service& s : cfg_->services) {
    nlohmann::json svc{{"name", s.name},
                       {"lb", s.lb == config::LbPolicy::kLeastRequest ? "least_request"
                                                                      : "round_robin"}};
    for (const config::Endpoint& e : s.endpoints) {
      svc["endpoints"].push_back(
          {{"address", e.address.ToString()}, {"weight", e.weight}, {"labels", e.labels}});
    }
    j["services"].push_back(svc);
  }
  for (const config::Listener& l : cfg_->listeners) {
    j["listeners"].push_back({{"name", l.name}, {"address", l.address.ToString()}});
  }
  j["endpointHealth"] = EndpointStatusJson(EndpointStatuses());
  return j.dump(2);
}

}  // namespace graymesh::proxy
