// A proxy worker: one thread, one io_context, and everything its connections
// use (upstream pools, balancers, counters). Workers share nothing on the
// request path; a new snapshot reaches each one as a posted task.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <array>
#include <chrono>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <thread>
#include <vector>

#include "health/clock.h"
#include "health/endpoint_health.h"

#include "http/parser.h"
#include "lane/trace_map.h"
#include "net/buffer_pool.h"
#include "proxy/request_recorder.h"
#include "proxy/stats.h"
#include "proxy/upstream.h"

namespace graymesh::proxy {

class Session;
class TcpSession;

// The strings a request builds its heads and lane headers in, kept with
// their capacity in the worker's pool between requests (a Session swaps
// them in while it handles a request), so an idle connection holds none.
struct RequestScratch {
  using ViewHeaders = std::array<std::pair<std::string_view, std::string_view>, http::kMaxHeaders>;
  std::string out, down, codings, traceparent, carried, baggage_buf, restored;
  std::vector<asio::const_buffer> iov;
  std::unique_ptr<ViewHeaders> view_headers;  // made when a rule first looks at headers
};

// Which side of the proxy a listener is on, for the drain: the entry side
// (inbound, gateway and TCP listeners: other services and clients call in)
// and the outbound side (the local app's calls). A sidecar's drain closes
// the entry side first and the outbound side only once the app is done.
enum class Side : uint8_t { kEntry = 0, kOutbound = 1 };
Side SideOf(const config::Listener& l);

// A listener as a worker serves it.
struct ListenerInfo {
  config::Listener cfg;
  asio::ip::tcp::endpoint address;
  int access_log = -1;  // AccessLogWriter sink; -1 = no access log
};

class Worker {
 public:
  // `traces` is the process's loose-mode map, shared by every worker.
  // `clock` is what endpoint health counts time by (tests pass their own).
  Worker(int index, std::shared_ptr<const Snapshot> snap, lane::TraceLaneMap* traces,
         const health::Clock* clock = &health::SystemClock::Get());
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Opens this worker's acceptors (SO_REUSEPORT); call before Start.
  void Listen(const std::vector<ListenerInfo>& listeners);
  // Connections that fit this worker's share of the open-file limit; the
  // accept loop takes the lower of this and limits.maxConnections. Call
  // before Start.
  void LimitConnections(uint32_t fit) { connections_that_fit_ = fit; }
  void Start();
  // Starts the drain: every response from now on ends its connection
  // (`connection: close`), and with `announce` the entry side's responses
  // carry `x-graymesh-draining: 1`. With `keep_listening` the listeners stay
  // open until CloseSide (the lossless drain); without, both sides close at
  // once. Thread-safe (posted).
  void Drain(bool keep_listening = false, bool announce = false);
  // Stops accepting on one side and closes that side's idle connections,
  // now and whenever one becomes idle; requests in flight finish.
  // Thread-safe (posted).
  void CloseSide(Side side);
  // At the drain deadline: half-closes TCP-entry connections still open, so
  // their clients see an orderly end. Thread-safe (posted).
  void ShutdownTcp();
  // Hard stop after the drain timeout. Thread-safe.
  void Stop();
  void Join();
  // Thread-safe (posted): switch to a new snapshot.
  void Apply(std::shared_ptr<const Snapshot> snap);

  // ---- For sessions, on this worker's thread only ----
  asio::io_context& io() { return io_; }
  int index() const { return index_; }
  WorkerStats& stats() { return stats_; }
  const WorkerStats& stats() const { return stats_; }
  RequestRecorder& recorder() { return recorder_; }
  const RequestRecorder& recorder() const { return recorder_; }
  WorkerUpstreams& upstreams() { return upstreams_; }
  const config::Config& config() const { return upstreams_.snapshot()->config(); }
  bool draining() const { return draining_; }
  // Draining and this side's idle connections are being closed (CloseSide).
  bool closing(Side side) const { return draining_ && closed_[size_t(side)]; }
  // Entry-side responses carry x-graymesh-draining: 1.
  bool announces_drain() const { return announce_drain_; }
  // While draining: a request on `l` just finished (the quiet period counts
  // from the last one).
  void NoteDrainingRequest(const config::Listener& l) {
    last_request_ms_[size_t(SideOf(l))].store(NowMs(), std::memory_order_relaxed);
  }
  lane::TraceLaneMap* traces() { return traces_; }
  // Storage a request holds only while it is in progress (net/buffer_pool.h):
  // the client read buffer, and while it is forwarded the upstream read
  // buffer and the response parser.
  net::BufferPool& request_buffers() { return request_buffers_; }
  net::FreeList<RequestScratch>& request_scratch() { return request_scratch_; }
  net::BufferPool& response_buffers() { return response_buffers_; }
  net::FreeList<http::Parser>& response_parsers() { return response_parsers_; }
  // A fresh W3C traceparent ("00-<trace id>-<span id>-01").
  std::string NewTraceparent();
  void Register(Session* s);
  void Unregister(Session* s);
  void Register(TcpSession* s);
  void Unregister(TcpSession* s);
  // Sessions still open; readable from other threads (relaxed).
  int64_t open_sessions() const { return stats_.downstream_cx_active.Get(); }
  int64_t open_sessions(Side side) const {
    return open_[size_t(side)].load(std::memory_order_relaxed);
  }
  // Steady-clock ms of the last request a draining worker finished on that
  // side (accepts count too); 0 = none since the drain began. Any thread.
  int64_t last_request_ms(Side side) const {
    return last_request_ms_[size_t(side)].load(std::memory_order_relaxed);
  }
  // Endpoint health's time (unix ms).
  int64_t HealthNow() const { return clock_->NowMs(); }

  // Thread-safe: this worker's endpoint states as its ticker last published
  // them (at most one tick old). The ticker takes the lock once a tick,
  // off the request path.
  std::vector<health::EndpointStatus> EndpointStatuses() const;

  static int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

 private:
  asio::awaitable<void> AcceptLoop(size_t listener);
  asio::awaitable<void> Tick();
  void ApplyNow(std::shared_ptr<const Snapshot> snap);
  void PublishHealth(int64_t now_ms);
  void LogHealth(const health::ServiceHealth& s, const health::EndpointHealth& ep,
                 std::string_view what, std::string_view detail);

  int index_;
  // Before io_: connections destroyed with it may still hold pooled storage.
  // Enough for as many requests in progress at once as a busy worker has.
  static constexpr size_t kResponseBuffer = 16 * 1024;
  // Request heads are mostly far below 2 KiB; a bigger one grows its buffer
  // (and that one is freed, not pooled, when the request is done).
  static constexpr size_t kRequestBuffer = 2 * 1024;
  static constexpr size_t kPooled = 128;
  net::BufferPool request_buffers_{kRequestBuffer, kPooled};
  net::FreeList<RequestScratch> request_scratch_{kPooled};
  net::BufferPool response_buffers_{kResponseBuffer, kPooled};
  net::FreeList<http::Parser> response_parsers_{kPooled};
  // One thread runs it and only that thread starts, cancels or closes I/O
  // on its sockets (other threads post: Drain, CloseSide, Apply...), so the
  // reactor's per-descriptor mutexes are left out (two lock/unlock pairs
  // per operation). Posting and timers keep their locks.
  asio::io_context io_{ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  std::thread thread_;
  WorkerStats stats_;
  RequestRecorder recorder_;
  const health::Clock* clock_;
  health::HealthTable health_;  // before upstreams_: its states hold entries of it
  WorkerUpstreams upstreams_;
  mutable std::mutex published_mu_;
  std::vector<health::EndpointStatus> published_;
  uint64_t published_ejections_ = 0;
  std::vector<ListenerInfo> listeners_;
  std::vector<asio::ip::tcp::acceptor> acceptors_;
  Session* sessions_ = nullptr;  // intrusive list, for deadlines and drain
  TcpSession* tcp_sessions_ = nullptr;  // intrusive list, for the drain
  bool draining_ = false;
  bool announce_drain_ = false;
  bool closed_[2] = {false, false};  // by Side: acceptors closed, idle connections close
  std::atomic<int64_t> open_[2] = {0, 0};  // open sessions by Side; written on this thread
  std::atomic<int64_t> last_request_ms_[2] = {0, 0};
  uint32_t connections_that_fit_ = UINT32_MAX;
  lane::TraceLaneMap* traces_;
  uint64_t rng_;
};

}  // namespace graymesh::proxy
