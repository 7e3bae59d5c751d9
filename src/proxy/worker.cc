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
#include "net/accept_backoff.h"
#include "net/listener.h"
#include "proxy/session.h"
#include "proxy/tcp_session.h"

namespace graymesh::proxy {
namespace {

constexpr std::chrono::milliseconds kTick{100};

asio::awaitable<void> RunTcp(std::unique_ptr<TcpSession> s) { co_await s->Run(); }

}  // namespace

Worker::Worker(int index, std::shared_ptr<const Snapshot> snap, lane::TraceLaneMap* traces)
    : index_(index),
      traces_(traces),
      rng_(uint64_t(NowMs()) ^ (uint64_t(index + 1) * 0x9E3779B97F4A7C15ull)) {
  upstreams_.Apply(std::move(snap), uint64_t(index) * 0x9E3779B97F4A7C15ull + 1);
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

void Worker::Drain() {
  asio::post(io_, [this] {
    draining_ = true;
    for (auto& a : acceptors_) {
      asio::error_code ignored;
      a.close(ignored);
    }
    for (Session* s = sessions_; s != nullptr; s = s->next) s->CloseIfIdle();
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
    upstreams_.Apply(std::move(snap), uint64_t(index_) * 0x9E3779B97F4A7C15ull + 1);
  });
}

void Worker::Register(Session* s) {
  s->next = sessions_;
  s->prev = nullptr;
  if (sessions_ != nullptr) sessions_->prev = s;
  sessions_ = s;
}

void Worker::Unregister(Session* s) {
  if (s->prev != nullptr) s->prev->next = s->next;
  else sessions_ = s->next;
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
  for (;;) {
    timer.expires_after(kTick);
    auto [ec] = co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    int64_t now = NowMs();
    for (Session* s = sessions_; s != nullptr;) {
      Session* next = s->next;  // CheckDeadline only cancels; nothing unlinks here
      s->CheckDeadline(now);
      if (draining_) s->CloseIfIdle();
      s = next;
    }
    if (now - last_sweep >= 1000) {
      last_sweep = now;
      upstreams_.SweepIdle(now - config().upstream.idle_timeout.count());
    }
  }
}

}  // namespace graymesh::proxy
