#include "control/control_server.h"

#include <spdlog/spdlog.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <csignal>
#include <fstream>
#include <sstream>
#include <tuple>

#include "config/config.h"
#include "control/api.h"
#include "control/canary.h"
#include "control/store.h"
#include "control/watch_hub.h"
#include "net/fd_limits.h"
#include "net/http_server.h"
#include "net/listener.h"

namespace graymesh::control {
namespace {

constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr auto kSweepInterval = std::chrono::seconds(1);
constexpr auto kCanaryTick = std::chrono::milliseconds(500);
// Connections still busy after SIGTERM get this long.
constexpr auto kStopTimeout = std::chrono::seconds(5);

// The token is the file's content without surrounding whitespace (files
// usually end with a newline). "" when unreadable or empty.
std::string ReadToken(const std::string& path, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = "cannot read";
    return "";
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string t = ss.str();
  size_t b = t.find_first_not_of(" \t\r\n");
  size_t e = t.find_last_not_of(" \t\r\n");
  if (b == std::string::npos) {
    *error = "empty";
    return "";
  }
  return t.substr(b, e - b + 1);
}

asio::awaitable<void> SweepLeases(Store& store, Api& api, asio::steady_timer& timer,
                                  std::chrono::seconds ttl) {
  const int forget_every = std::max<int>(1, int(ttl / kSweepInterval));
  for (int round = 1;; ++round) {
    timer.expires_after(kSweepInterval);
    auto [ec] = co_await timer.async_wait(kTuple);
    if (ec) co_return;  // cancelled: stopping
    try {
      const std::vector<std::string> expired = store.ExpireLeases();
      for (const std::string& id : expired) {
        ++api.counters().lease_expirations;
        spdlog::info("lease of {} expired: removed", id);
      }
      api.LeasesExpired(expired);
      if (round % forget_every == 0) api.ForgetGoneInstances();
    } catch (const std::exception& e) {
      spdlog::error("lease sweep: {}", e.what());  // tried again next round
    }
  }
}

// Canaries advance on the io thread, like the API that commands them.
asio::awaitable<void> TickCanaries(CanaryController& canaries, asio::steady_timer& timer) {
  for (;;) {
    timer.expires_after(kCanaryTick);
    auto [ec] = co_await timer.async_wait(kTuple);
    if (ec) co_return;  // cancelled: stopping
    try {
      canaries.Tick(UnixMillis());
    } catch (const std::exception& e) {
      spdlog::error("canaries: {}", e.what());  // tried again next tick
    }
  }
}

asio::awaitable<void> WaitForConnections(asio::io_context& io, net::HttpServer& server) {
  asio::steady_timer timer(io);
  const auto deadline = std::chrono::steady_clock::now() + kStopTimeout;
  while (server.open_connections() > 0 && std::chrono::steady_clock::now() < deadline) {
    timer.expires_after(std::chrono::milliseconds(20));
    co_await timer.async_wait(kTuple);
  }
  io.stop();
}

}  // namespace

int RunControl(const ControlOptions& o) {
  std::chrono::seconds ttl;
  try {
    config::Millis ms = config::ParseDuration(o.lease_ttl);
    if (ms.count() % 1000 != 0 || ms < std::chrono::seconds(1) || ms > std::chrono::hours(1)) {
      throw std::invalid_argument("must be whole seconds from 1s to 1h");
    }
    ttl = std::chrono::duration_cast<std::chrono::seconds>(ms);
  } catch (const std::invalid_argument& e) {
    spdlog::error("--lease-ttl {}: {}", o.lease_ttl, e.what());
    return 2;
  }
  net::HttpServerOptions http_options{.max_body_bytes = kMaxBodyBytes};
  for (auto [flag, text, out] :
       {std::tuple{"--header-read-timeout", &o.header_read_timeout,
                   &http_options.header_read_timeout},
        std::tuple{"--idle-timeout", &o.idle_timeout, &http_options.idle_timeout}}) {
    try {
      *out = config::ParseDuration(*text);
      if (out->count() == 0) throw std::invalid_argument("must be greater than 0");
    } catch (const std::invalid_argument& e) {
      spdlog::error("{} {}: {}", flag, *text, e.what());
      return 2;
    }
  }
  // One descriptor per connection; the rest is for the store and the process.
  const uint64_t fd_limit = net::RaiseOpenFileLimit();
  const uint32_t fit = net::ConnectionsThatFit(fd_limit, 1, 1);
  http_options.max_connections = o.max_connections == 0 ? fit : std::min(o.max_connections, fit);
  if (o.max_connections > fit) {
    spdlog::warn("--max-connections {} lowered to {}: it and {} spare must fit the open-file "
                 "limit of {}",
                 o.max_connections, fit, net::kSpareDescriptors, fd_limit);
  }
  config::Millis fill = ttl;
  if (!o.fill_period.empty()) {
    try {
      fill = config::ParseDuration(o.fill_period);
      if (fill > std::chrono::hours(1)) throw std::invalid_argument("must be at most 1h");
    } catch (const std::invalid_argument& e) {
      spdlog::error("--fill-period {}: {}", o.fill_period, e.what());
      return 2;
    }
  }
  ApiOptions api_options{.lease_ttl = ttl};
  if (!o.token_file.empty()) {
    std::string error;
    api_options.token = ReadToken(o.token_file, &error);
    if (api_options.token.empty()) {
      spdlog::error("--token-file {}: {}", o.token_file, error);
      return 2;
    }
  }
  asio::ip::tcp::endpoint listen;
  try {
    config::HostPort hp = config::ParseHostPort(o.listen);
    listen = net::Resolve(hp.host, hp.port);
  } catch (const std::exception& e) {
    spdlog::error("--listen {}: {}", o.listen, e.what());
    return 2;
  }

  std::unique_ptr<Store> store;
  try {
    store = OpenStore(o.store, ttl);
  } catch (const std::exception& e) {
    spdlog::error("cannot open store: {}", e.what());
    return 1;
  }

  // Instances come back within one heartbeat of seeing this store; until the
  // fill period ends proxies add their last-known endpoints to what it has.
  if (store->Refilling() && fill.count() > 0) {
    api_options.filling_until_ms = UnixMillis() + fill.count();
  }
  std::signal(SIGPIPE, SIG_IGN);
  asio::io_context io(1);
  WatchHub hub(store->Revision());
  // Changes may come from any thread (a replicated store's watch): the hub
  // lives on the io thread.
  store->SetChangeListener([&io, &hub](int64_t revision) {
    asio::post(io, [&hub, revision] { hub.Notify(revision); });
  });
  Api api(*store, hub, api_options);
  // Release events count the failed requests around them, and note the
  // ejections the proxies report, from the proxies' traffic reports.
  api.events().SetFailedCounter([&api](std::string_view service, int64_t from, int64_t to) {
    return api.traffic().FailedBetween(service, from, to);
  });
  api.traffic().SetOnEjected([&api](const EndpointTotals& e, const std::string& node, int64_t at) {
    api.events().Record({.time_ms = at,
                         .kind = "ejected",
                         .service = e.service,
                         .detail = e.address + " ejected by " + node});
  });
  // Canaries are judged from the same reports.
  auto canary_traffic = [&api](const std::string& service, const std::string& lane, int64_t from,
                               int64_t to) {
    const TrafficStore::LaneTotals t = api.traffic().LaneBetween(service, lane, from, to);
    return CanaryTraffic{t.requests, t.errors, t.p99_seconds};
  };
  CanaryController canaries(*store, canary_traffic,
                            [&api](const CanaryStatus& s, const std::string& what) {
                              api.events().Record({.kind = "canary-step",
                                                   .service = s.service,
                                                   .lane = s.lane,
                                                   .detail = what});
                            });
  api.SetCanaries(&canaries);
  // Before the port opens: a signal from then on is queued, not fatal.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  std::unique_ptr<net::HttpServer> server;
  try {
    server = std::make_unique<net::HttpServer>(
        io, listen, [&api](const net::HttpRequest& r) { return api.Handle(r); },
        http_options);
  } catch (const std::system_error& e) {
    spdlog::error("cannot listen on {}: {}", o.listen, e.what());
    return 1;
  }
  server->Start();
  asio::steady_timer sweep_timer(io);
  asio::co_spawn(io, SweepLeases(*store, api, sweep_timer, ttl), asio::detached);
  asio::steady_timer canary_timer(io);
  asio::co_spawn(io, TickCanaries(canaries, canary_timer), asio::detached);

  signals.async_wait([&](std::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: stopping", sig);
    server->Shutdown();
    hub.Shutdown();  // waiting watchers answer now, with connection: close
    sweep_timer.cancel();
    canary_timer.cancel();
    signals.async_wait([&](std::error_code ec2, int) {
      if (!ec2) io.stop();  // a second signal: stop now
    });
    asio::co_spawn(io, WaitForConnections(io, *server), asio::detached);
  });

  spdlog::info("control plane on {} (store {} id {}, revision {}, lease ttl {}s, filling for {}ms{}, "
               "at most {} connections)",
               o.listen, o.store, store->Id(), store->Revision(), ttl.count(),
               api_options.filling_until_ms == 0 ? 0 : fill.count(),
               api_options.token.empty() ? "" : ", token required", http_options.max_connections);
  io.run();
  store->SetChangeListener(nullptr);
  spdlog::info("control plane stopped");
  return 0;
}

}  // namespace graymesh::control
