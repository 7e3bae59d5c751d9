// The TCP entry (devices that connect over TCP): a connection is
// given a lane once, from the client address (sticky percentage or address
// list), connected to an endpoint of that lane, and bytes are copied both
// ways with backpressure and half-close until both sides are done. The
// connection keeps the service state it started with, so a rule change or
// a new snapshot never cuts it.
//
// Drain: a connection is registered with its worker, counted on the entry
// side, and waited for like an HTTP one; at the drain deadline Shutdown
// half-closes both sockets, so the client sees an orderly end.
//
// Metrics: each connection is recorded once, when it ends (connections,
// bytes each way, duration, by listener, service and lanes; tcp_metrics.h).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <memory>
#include <string>

#include "proxy/tcp_metrics.h"
#include "proxy/worker.h"

namespace graymesh::proxy {

class TcpSession {
 public:
  TcpSession(Worker& worker, const ListenerInfo& listener, asio::ip::tcp::socket client);
  ~TcpSession();
  TcpSession(const TcpSession&) = delete;
  TcpSession& operator=(const TcpSession&) = delete;

  asio::awaitable<void> Run();
  // The drain deadline passed: no more bytes either way. Worker thread.
  void Shutdown();

  TcpSession* next = nullptr;  // worker's intrusive list
  TcpSession* prev = nullptr;

 private:
  // Copies from -> to until EOF (then half-closes `to`) or an error (then
  // closes both, which ends the other direction too).
  asio::awaitable<void> Pump(asio::ip::tcp::socket& from, asio::ip::tcp::socket& to);
  asio::awaitable<bool> Connect(ServiceState& svc, std::string_view lane, bool fallback);

  Worker& worker_;
  const ListenerInfo& listener_;
  asio::ip::tcp::socket client_;
  asio::ip::tcp::socket upstream_;
  std::string client_ip_;
  // What the labelled metrics get when the connection ends; its views point
  // into the listener, the snapshot Run pins, and lane_served_.
  TcpRecord record_;
  std::string lane_served_;
};

}  // namespace graymesh::proxy
