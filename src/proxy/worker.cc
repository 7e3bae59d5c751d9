#include "proxy/worker.h"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>

#include "h2/dispatch.h"
#include "h2/upstream_connection.h"
#include "net/accept_backoff.h"
#include "net/listener.h"
#include "proxy/session.h"
#include "proxy/tcp_session.h"

namespace graymesh::proxy {
namespace {

constexpr std::chrono::milliseconds kTick{100};

asio::awaitable<void> RunTcp(std::unique_ptr<TcpSession> s) { co_await s->Run(); }

}  // namespace

Side SideOf(const config::Listener& l) {
  return l.kind == config::ListenerKind::kOutbound ? Side::kOutbound : Side::kEntry;
}

Worker::Worker(int index, std::shared_ptr<const Snapshot> snap, lane::TraceLaneMap* traces,
               const health::Clock* clock)
    : index_(index),
      clock_(clock),
      traces_(traces),
      rng_(uint64_t(NowMs()) ^ (uint64_t(index + 1) * 0x9E3779B97F4A7C15ull)) {
  ApplyNow(std::move(snap));
}

void Worker::ApplyNow(std::shared_ptr<const Snapshot> snap) {
  for (const ServiceInfo& info : snap->services()) {
    health_.Service(info.name)->SetListener(
        [this](const auto& s, const auto& ep, std::string_view what, std::string_view detail) {
          LogHealth(s, ep, what, detail);
        });
  }
  upstreams_.Apply(std::move(snap), uint64_t(index_) * 0x9E3779B97F4A7C15ull + 1, &health_,
                   HealthNow());
  PublishHealth(HealthNow());
}

void Worker::LogHealth(const health::ServiceHealth& s, const health::EndpointHealth& ep,
                       std::string_view what, std::string_view detail) {
  if (what == "ejected") {
    spdlog::warn("worker {}: endpoint {} of service '{}' ejected: {}", index_, ep.address(),
                 s.name(), detail);
  } else {
    spdlog::info("worker {}: endpoint {} of service '{}' {}: {}", index_, ep.address(), s.name(),
                 what, detail);
  }
}

void Worker::PublishHealth(int64_t now_ms) {
  std::vector<health::EndpointStatus> next = upstreams_.Statuses(now_ms);
  std::lock_guard lock(published_mu_);
  published_.swap(next);
}

std::vector<health::EndpointStatus> Worker::EndpointStatuses() const {
  std::lock_guard lock(published_mu_);
  return published_;
}

void Worker::Listen(const std::vector<ListenerInfo>& listeners) {
  listeners_ = listeners;
  for (const ListenerInfo& l : listeners_) acceptors_.push_back(net::OpenAcceptor(io_, l.address));
}

void Worker::Start() {
  for (size_t i = 0; i < acceptors_.size(); ++i) {
    asio::co_spawn(io_, AcceptLoop(i), asio::detached);
  }
  asio::co_spawn(io_, Tick(), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

void Worker::Drain(bool keep_listening, bool announce) {
  asio::post(io_, [this, keep_listening, announce] {
    draining_ = true;
    announce_drain_ = announce;
    if (keep_listening) return;
    CloseSide(Side::kEntry);
    CloseSide(Side::kOutbound);
  });
}

void Worker::CloseSide(Side side) {
  asio::post(io_, [this, side] {
    closed_[size_t(side)] = true;
    for (size_t i = 0; i < acceptors_.size(); ++i) {
      if (SideOf(listeners_[i].cfg) != side) continue;
      asio::error_code ignored;
      acceptors_[i].close(ignored);
    }
    for (Session* s = sessions_; s != nullptr; s = s->next) {
      if (SideOf(s->listener().cfg) == side) s->CloseIfIdle();
    }
  });
}

void Worker::ShutdownTcp() {
  asio::post(io_, [this] {
    for (TcpSession* s = tcp_sessions_; s != nullptr; s = s->next) s->Shutdown();
  });
}

void Worker::Stop() { io_.stop(); }

std::string Worker::NewTraceparent() {
  // splitmix64: ids only need to be unique, not unpredictable.
  auto next = [this] {
    uint64_t z = (rng_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  char buf[56];
  std::snprintf(buf, sizeof(buf), "00-%016llx%016llx-%016llx-01", (unsigned long long)next(),
                (unsigned long long)next(), (unsigned long long)next());
  return std::string(buf, 55);
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::Apply(std::shared_ptr<const Snapshot> snap) {
  asio::post(io_, [this, snap = std::move(snap)]() mutable {
    ApplyNow(std::move(snap));
  });
}

void Worker::Register(Session* s) {
  const size_t side = size_t(SideOf(s->listener().cfg));
  open_[side].store(open_[side].load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  s->next = sessions_;
  s->prev = nullptr;
  if (sessions_ != nullptr) sessions_->prev = s;
  sessions_ = s;
}

void Worker::Unregister(Session* s) {
  const size_t side = size_t(SideOf(s->listener().cfg));
  open_[side].store(open_[side].load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  if (s->prev != nullptr) s->prev->next = s->next;
  else sessions_ = s->next;
  if (s->next != nullptr) s->next->prev = s->prev;
}

// TCP-entry connections are on the entry side.
void Worker::Register(TcpSession* s) {
  const size_t side = size_t(Side::kEntry);
  open_[side].store(open_[side].load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  s->next = tcp_sessions_;
  s->prev = nullptr;
  if (tcp_sessions_ != nullptr) tcp_sessions_->prev = s;
  tcp_sessions_ = s;
}

void Worker::Unregister(TcpSession* s) {
  const size_t side = size_t(Side::kEntry);
  open_[side].store(open_[side].load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  if (s->prev != nullptr) s->prev->next = s->next;
  else tcp_sessions_ = s->next;
  if (s->next != nullptr) s->next->prev = s->prev;
}

asio::awaitable<void> Worker::AcceptLoop(size_t i) {
  asio::ip::tcp::acceptor& acceptor = acceptors_[i];
  constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
  net::AcceptBackoff backoff;
  asio::steady_timer pause(io_);
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      if (!net::AcceptBackoff::IsExhaustion(ec)) continue;  // a client gone before accept
      // Out of descriptors: keep serving the connections we have, and try
      // again later instead of at once (which would spin at 100% CPU).
      const auto wait = backoff.Next();
      if (backoff.failures() == 1) {
        spdlog::warn("worker {}: accept on '{}': {}: pausing accepts ({}ms, up to {}ms)", index_,
                     listeners_[i].cfg.name, ec.message(), wait.count(),
                     net::AcceptBackoff::kMax.count());
      }
      pause.expires_after(wait);
      co_await pause.async_wait(kTuple);
      if (!acceptor.is_open()) co_return;  // drained meanwhile
      continue;
    }
    backoff.Reset();
    if (draining_) NoteDrainingRequest(listeners_[i].cfg);  // a new connection is not quiet
    // Read per accept: a reload may change the limit.
    const uint32_t max_connections =
        std::min(config().limits.max_connections, connections_that_fit_);
    if (stats_.downstream_cx_active.Get() >= int64_t(max_connections)) {
      continue;  // over the limit: the socket closes as it goes out of scope
    }
    if (listeners_[i].cfg.kind == config::ListenerKind::kTcp) {
      asio::co_spawn(io_, RunTcp(std::make_unique<TcpSession>(*this, listeners_[i],
                                                              std::move(socket))),
                     asio::detached);
      continue;
    }
    // HTTP/1.1 goes to Session; a connection opening with the HTTP/2
    // preface to the HTTP/2 proxy (h2/dispatch.h).
    asio::co_spawn(io_, h2::ServeHttpConnection(*this, listeners_[i], std::move(socket)),
                   asio::detached);
  }
}

// Enforces session deadlines and closes idle upstream connections; one timer
// per worker instead of one per request.
asio::awaitable<void> Worker::Tick() {
  asio::steady_timer timer(io_);
  int64_t last_sweep = NowMs();
  int64_t last_publish = last_sweep;
  for (;;) {
    timer.expires_after(kTick);
    auto [ec] = co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    int64_t now = NowMs();
    recorder_.FlushLogs();
    for (Session* s = sessions_; s != nullptr;) {
      Session* next = s->next;  // CheckDeadline only cancels; nothing unlinks here
      s->CheckDeadline(now);
      if (draining_ && closed_[size_t(SideOf(s->listener().cfg))]) s->CloseIfIdle();
      s = next;
    }
    // Endpoint health: rates, returns from ejection, warmup ramps. The admin
    // side's copy is renewed when something changed (a suspect mark or a
    // drain the request path set shows at the next change or within 1 s).
    const int64_t health_now = HealthNow();
    const bool changed = upstreams_.EvaluateHealth(health_now);
    const uint64_t ejections = stats_.upstream_ejections.Get();
    if (changed || ejections != published_ejections_ || now - last_publish >= 1000) {
      published_ejections_ = ejections;
      last_publish = now;
      PublishHealth(health_now);
    }
    if (now - last_sweep >= 1000) {
      last_sweep = now;
      // Connections the upstream closed while pooled (closed already by
      // their liveness wait) are counted where they are dropped.
      stats_.upstream_cx_stale.Inc(upstreams_.SweepIdle(now - config().upstream.idle_timeout.count()));
      h2::UpstreamPool::ForThisThread().SweepIdle(now - config().upstream.idle_timeout.count());
    }
  }
}

}  // namespace graymesh::proxy
