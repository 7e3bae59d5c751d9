#include "proxy/tcp_session.h"

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "proxy/chooser.h"

namespace graymesh::proxy {
namespace {

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
constexpr size_t kPumpBuffer = 16 * 1024;

}  // namespace

TcpSession::TcpSession(Worker& worker, const ListenerInfo& listener, asio::ip::tcp::socket client)
    : worker_(worker), listener_(listener), client_(std::move(client)), upstream_(worker.io()) {
  asio::error_code ec;
  auto remote = client_.remote_endpoint(ec);
  if (!ec) client_ip_ = remote.address().to_string();
  worker_.Register(this);
  worker_.stats().downstream_cx_total.Inc();
  worker_.stats().downstream_cx_active.Add(1);
}

TcpSession::~TcpSession() {
  worker_.Unregister(this);
  worker_.stats().downstream_cx_active.Add(-1);
}

void TcpSession::Shutdown() {
  asio::error_code ignored;
  client_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  upstream_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
}

asio::awaitable<void> TcpSession::Run() {
  // Pinned for the connection's life: `lane` may point into its rules.
  const std::shared_ptr<const Snapshot> pinned = worker_.upstreams().snapshot_ptr();
  const Snapshot& snap = *pinned;
  // Recorded when the connection ends, however it ends.
  struct Recorded {
    TcpSession& s;
    RequestRecorder::Clock::time_point started = RequestRecorder::Clock::now();
    ~Recorded() { s.worker_.recorder().FinishTcp(started, s.record_); }
  } recorded{*this};
  record_.source = listener_.cfg.name;
  record_.destination = listener_.cfg.service;
  const int service = snap.FindService(listener_.cfg.service);
  if (service < 0) co_return;
  // The lane, from what a TCP connection has: its client address.
  lane::RequestView view;
  view.client_address = client_ip_;
  std::string_view lane;
  for (const lane::EntranceRules* rules :
       {snap.GatewayRules(listener_.cfg.name), snap.ServiceRules(service)}) {
    if (rules != nullptr && lane.empty()) lane = rules->Match(view);
  }
  record_.lane_requested = lane;
  std::shared_ptr<ServiceState> svc = worker_.upstreams().service(service);
  if (!co_await Connect(*svc, lane, snap.FallbackToBase(lane))) co_return;
  record_.connected = true;

  using namespace asio::experimental::awaitable_operators;
  co_await (Pump(client_, upstream_) && Pump(upstream_, client_));
}

asio::awaitable<bool> TcpSession::Connect(ServiceState& svc, std::string_view lane,
                                          bool fallback) {
  const config::Config& cfg = svc.snapshot().config();  // pinned by the caller's svc
  EndpointChooser chooser(svc, lane, fallback);
  for (uint32_t attempt = 0; attempt <= cfg.upstream.retries; ++attempt) {
    Choice choice = chooser.Next(worker_.HealthNow());
    if (choice.host < 0) break;
    const EndpointInfo& ep = *svc.endpoint(choice.host).info;
    svc.OnStart(choice);
    const int64_t started = worker_.HealthNow();
    asio::steady_timer timer(worker_.io());
    bool timed_out = false;
    timer.expires_after(cfg.timeouts.connect);
    timer.async_wait([this, &timed_out](const asio::error_code& ec) {
      if (!ec) {
        timed_out = true;
        upstream_.close();
      }
    });
    upstream_ = asio::ip::tcp::socket(worker_.io());
    auto [ec] = co_await upstream_.async_connect(ep.address, kNoThrow);
    timer.cancel();
    // A TCP connection's result is its connect: what flows after it is the
    // client's business.
    health::AttemptResult result{.outcome = health::Outcome::kOk,
                                 .status = 0,
                                 .latency_ms = worker_.HealthNow() - started,
                                 .draining = false};
    if (ec) result.outcome = timed_out ? health::Outcome::kTimeout : health::Outcome::kConnectFail;
    svc.Report(choice, result, worker_.HealthNow(), worker_.stats());
    if (!ec) {
      lane_served_ = ep.lane;  // a copy: `svc` ends before the record is made
      record_.lane_served = lane_served_;
      worker_.stats().upstream_cx_total.Inc();
      asio::error_code ignored;
      upstream_.set_option(asio::ip::tcp::no_delay(true), ignored);
      client_.set_option(asio::ip::tcp::no_delay(true), ignored);
      co_return true;
    }
    chooser.Failed(choice);
  }
  // Nothing to answer on a raw TCP connection: closing tells the client.
  worker_.stats().rq_error_503.Inc();
  co_return false;
}

asio::awaitable<void> TcpSession::Pump(asio::ip::tcp::socket& from, asio::ip::tcp::socket& to) {
  std::unique_ptr<char[]> buf(new char[kPumpBuffer]);
  for (;;) {
    auto [rec, n] = co_await from.async_read_some(asio::buffer(buf.get(), kPumpBuffer), kNoThrow);
    if (rec == asio::error::eof || (!rec && n == 0)) {
      asio::error_code ignored;
      to.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);  // half-close
      co_return;
    }
    if (rec) break;
    auto [wec, w] = co_await asio::async_write(to, asio::buffer(buf.get(), n), kNoThrow);
    (&from == &client_ ? record_.bytes_received : record_.bytes_sent) += w;
    if (wec) break;
  }
  asio::error_code ignored;
  from.close(ignored);
  to.close(ignored);
}

}  // namespace graymesh::proxy
