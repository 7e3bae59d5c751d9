#include "app/sample_app.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <asio/experimental/as_tuple.hpp>
#include <charconv>
#include <csignal>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>

#include "net/http_client.h"
#include "http/headers.h"
#include "net/http_server.h"

namespace graymesh::app {
namespace {

using asio::ip::tcp;
using nlohmann::json;
using Server = net::HttpServer;
using Request = net::HttpRequest;
using Reply = net::HttpReply;
using net::HeaderList;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
// In-flight requests get this long after SIGTERM before the process gives up.
constexpr auto kDrainTimeout = std::chrono::seconds(30);
// With --calls a write's body is held to be sent on; a longer one gets 413.
constexpr uint64_t kForwardBodyLimit = 1 << 20;

bool IsWrite(std::string_view method) {
  return method == "POST" || method == "PUT" || method == "PATCH";
}

bool SplitHostPort(std::string_view s, std::string* host, uint16_t* port) {
  size_t colon = s.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view h = s.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  std::string_view p = s.substr(colon + 1);
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), *port);
  if (ec != std::errc() || ptr != p.data() + p.size()) return false;
  *host = std::string(h);
  return true;
}

std::optional<uint64_t> ParseUint(std::string_view s) {
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

Reply JsonReply(int status, const json& body) {
  Reply r;
  r.status = status;
  // Header values may hold any bytes; never let one abort the answer.
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

asio::awaitable<void> Sleep(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(d);
  co_await timer.async_wait(kTuple);
}

// What an app carries over to its own calls, as OpenTelemetry SDKs do: W3C
// trace context and, in `all` mode, W3C baggage (the default propagators).
// Nothing graymesh-specific: the lane and the carried values must survive on
// these alone.
bool IsTraceHeader(std::string_view n) {
  return http::IEquals(n, "traceparent") || http::IEquals(n, "tracestate");
}
bool IsPropagated(std::string_view n, std::string_view mode) {
  if (mode == "all") return IsTraceHeader(n) || http::IEquals(n, "baggage");
  return mode == "trace" && IsTraceHeader(n);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

class SampleApp {
 public:
  SampleApp(asio::io_context& io, const SampleAppOptions& o, const tcp::endpoint& listen)
      : opts_(o),
        server_(io, listen, [this](const Request& r) { return Handle(r); },
                {.max_body_bytes = o.calls.empty() ? 0 : kForwardBodyLimit}),
        instance_(fmt::format("{}-{}-{}", o.name, getpid(), server_.port())),
        rng_(std::random_device{}()) {
    if (!o.via.empty()) {
      std::string host;
      uint16_t port = 0;
      SplitHostPort(o.via, &host, &port);  // validated by RunSampleApp
      client_ = std::make_unique<net::HttpClient>(io.get_executor(), host, port);
    }
  }

  Server& server() { return server_; }
  const std::string& instance() const { return instance_; }

 private:
  asio::awaitable<Reply> Handle(const Request& r) {
    // Probes must not be slowed down or failed on purpose.
    if (r.path == "/healthz") {
      Reply ok;
      ok.content_type = "text/plain";
      ok.body = "ok";
      co_return ok;
    }
    if (opts_.latency_ms > 0) co_await Sleep(std::chrono::milliseconds(opts_.latency_ms));
    if (opts_.fail_rate > 0 &&
        std::uniform_real_distribution<double>(0, 1)(rng_) < opts_.fail_rate) {
      co_return JsonReply(500, WithSelf({{"error", "injected"}}));
    }
    if (r.path == "/echo") co_return Echo(r);
    // A write goes on along the chain with its body, as a checkout's POST
    // reaches payment; the last service answers it.
    if (IsWrite(r.method)) {
      if (opts_.calls.empty()) co_return Upload(r);
      co_return co_await Anything(r);
    }
    if (r.path == "/bytes" || r.path == "/chunked") {
      std::optional<uint64_t> n = ParseUint(r.QueryParam("n"));
      if (!n) co_return JsonReply(400, WithSelf({{"error", "n must be a byte count"}}));
      Reply reply;
      reply.content_type = "application/octet-stream";
      reply.stream_bytes = *n;
      reply.chunked = r.path == "/chunked";
      co_return reply;
    }
    if (r.path == "/status") {
      std::optional<uint64_t> code = ParseUint(r.QueryParam("code"));
      if (!code || *code < 200 || *code > 599) {
        co_return JsonReply(400, WithSelf({{"error", "code must be 200..599"}}));
      }
      co_return JsonReply(static_cast<int>(*code), WithSelf({{"status", *code}}));
    }
    if (r.path == "/sleep") {
      std::optional<uint64_t> ms = ParseUint(r.QueryParam("ms"));
      if (!ms || *ms > 3'600'000) co_return JsonReply(400, WithSelf({{"error", "bad ms"}}));
      co_await Sleep(std::chrono::milliseconds(*ms));
      co_return JsonReply(200, WithSelf({{"sleptMs", *ms}}));
    }
    co_return co_await Anything(r);
  }

  // The identity every JSON answer carries, so tests see who answered.
  json WithSelf(json j) const {
    j["service"] = opts_.name;
    j["lane"] = opts_.lane;
    j["instance"] = instance_;
    return j;
  }

  Reply Echo(const Request& r) const {
    json headers = json::array();
    for (const auto& [n, v] : r.headers) headers.push_back({n, v});
    return JsonReply(200, WithSelf({{"method", r.method},
                                    {"target", r.target},
                                    {"version", fmt::format("HTTP/1.{}", r.version_minor)},
                                    {"headers", headers},
                                    {"peer", r.peer},
                                    {"bodyBytes", r.body_bytes},
                                    {"fnv1a64", fmt::format("{:016x}", r.body_fnv)}}));
  }

  Reply Upload(const Request& r) const {
    return JsonReply(200, WithSelf({{"method", r.method},
                                    {"path", r.path},
                                    {"bodyBytes", r.body_bytes},
                                    {"fnv1a64", fmt::format("{:016x}", r.body_fnv)}}));
  }

  // The path-tracing answer: who we are, the lane/trace headers we saw, and
  // what each downstream said. A failed call turns the answer into 502 so a
  // caller counting errors sees it, while the body still shows the path. A
  // write (POST, PUT, PATCH) is sent on to every call with its method and
  // body, and its answer names them too.
  asio::awaitable<Reply> Anything(const Request& r) {
    json seen = json::object();
    for (const auto& [n, v] : r.headers) {
      std::string name = Lower(n);
      if (IsTraceHeader(name) || name == "baggage" || name.starts_with("x-graymesh-")) {
        seen[name] = v;
      }
    }
    json calls = json::array();
    bool failed = false;
    for (const std::string& svc : opts_.calls) {
      HeaderList headers{{"Host", svc}};
      for (const auto& [n, v] : r.headers) {
        bool business = std::any_of(opts_.forward_headers.begin(), opts_.forward_headers.end(),
                                    [&](const std::string& f) { return http::IEquals(n, f); });
        if (business || IsPropagated(n, opts_.propagate)) headers.emplace_back(n, v);
      }
      std::string target = r.target.starts_with('/') ? r.target : r.path;
      const auto timeout = std::chrono::milliseconds(opts_.call_timeout_ms);
      if (auto type = r.Header("content-type"); !type.empty() && IsWrite(r.method)) {
        headers.emplace_back("content-type", std::string(type));
      }
      // Not `c ? co_await a : co_await b`: GCC destroys the result twice.
      net::HttpClient::Result res;
      if (IsWrite(r.method)) {
        res = co_await client_->Request(r.method, std::move(target), headers, r.body, timeout);
      } else {
        res = co_await client_->Get(std::move(target), headers, timeout);
      }
      json body = json::parse(res.body, nullptr, false);
      if (res.status >= 200 && res.status < 300 && body.is_object()) {
        calls.push_back(std::move(body));
        continue;
      }
      failed = true;
      std::string error = res.error;
      if (error.empty() && body.is_object() && body.contains("error") &&
          body["error"].is_string()) {
        error = body["error"].get<std::string>();
      }
      // A proxy's own error is one text line naming the reason.
      if (error.empty() && !body.is_object()) error = http::Trim(res.body.substr(0, 200));
      if (error.empty()) {
        error = res.status < 300 ? "response is not a JSON object"
                                 : fmt::format("status {}", res.status);
      }
      json call = {{"service", svc}, {"status", res.status}, {"error", error}};
      if (body.is_object()) call["body"] = std::move(body);
      calls.push_back(std::move(call));
    }
    json answer = WithSelf({{"path", r.path},
                            {"peer", r.peer},  // shows the caller's keep-alive connection reuse
                            {"headers", std::move(seen)},
                            {"calls", std::move(calls)}});
    if (IsWrite(r.method)) {
      answer["method"] = r.method;
      answer["bodyBytes"] = r.body_bytes;
      answer["fnv1a64"] = fmt::format("{:016x}", r.body_fnv);
    }
    co_return JsonReply(failed ? 502 : 200, std::move(answer));
  }

  const SampleAppOptions& opts_;
  Server server_;
  std::string instance_;
  std::mt19937_64 rng_;
  std::unique_ptr<net::HttpClient> client_;
};

std::optional<tcp::endpoint> ResolveListen(asio::io_context& io, const std::string& addr) {
  std::string host;
  uint16_t port = 0;
  if (!SplitHostPort(addr, &host, &port)) return std::nullopt;
  if (host.empty()) return tcp::endpoint(tcp::v4(), port);
  std::error_code ec;
  tcp::resolver resolver(io);
  auto results = resolver.resolve(host, std::to_string(port), ec);
  if (ec || results.empty()) return std::nullopt;
  return results.begin()->endpoint();
}

// Waits until every connection closed, or gives up after kDrainTimeout. Then
// nothing is left to run but the second-signal wait, which it cancels.
asio::awaitable<void> Drain(asio::io_context& io, Server& server, asio::signal_set& signals) {
  auto deadline = std::chrono::steady_clock::now() + kDrainTimeout;
  while (server.open_connections() > 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      spdlog::warn("drain timeout: {} connections still open", server.open_connections());
      io.stop();
      co_return;
    }
    co_await Sleep(std::chrono::milliseconds(20));
  }
  std::error_code ignored;
  signals.cancel(ignored);
}

}  // namespace

int RunSampleApp(const SampleAppOptions& o) {
  std::string via_host;
  uint16_t via_port = 0;
  if (!o.calls.empty() && (o.via.empty() || !SplitHostPort(o.via, &via_host, &via_port))) {
    spdlog::error("sample-app: --calls needs --via HOST:PORT (the sidecar outbound listener)");
    return 2;
  }
  if (o.propagate != "all" && o.propagate != "trace" && o.propagate != "none") {
    spdlog::error("sample-app: --propagate must be all, trace or none");
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  asio::io_context io(1);
  std::optional<tcp::endpoint> listen = ResolveListen(io, o.listen);
  if (!listen) {
    spdlog::error("sample-app: bad --listen address '{}'", o.listen);
    return 2;
  }
  // Before the port opens: a signal from then on is queued, not fatal.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  std::unique_ptr<SampleApp> app;
  try {
    app = std::make_unique<SampleApp>(io, o, *listen);
  } catch (const std::system_error& e) {
    spdlog::error("sample-app: cannot listen on {}: {}", o.listen, e.what());
    return 1;
  }
  signals.async_wait([&](std::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("sample-app {}: signal {}, draining", o.name, sig);
    app->server().Shutdown();
    // A second signal means: stop now. Armed before Drain starts, because
    // co_spawn may run Drain inline up to its first wait, and Drain cancels it.
    signals.async_wait([&](std::error_code ec2, int) {
      if (!ec2) io.stop();
    });
    asio::co_spawn(io, Drain(io, app->server(), signals), asio::detached);
  });
  app->server().Start();
  spdlog::info("sample-app {} (lane '{}') instance {} listening on {}:{}", o.name, o.lane,
               app->instance(), listen->address().to_string(), app->server().port());
  io.run();
  spdlog::info("sample-app {}: stopped", o.name);
  return 0;
}

}  // namespace graymesh::app
