// One HTTP/2 connection driven by nghttp2 over a TCP socket: a read loop
// feeding nghttp2_session_mem_recv and a write loop draining
// nghttp2_session_mem_send, both coroutines on the owning worker's thread.
// Subclasses (downstream server side, upstream client side) own the
// nghttp2_session and its callbacks.
//
// Thread/lifetime: everything runs on one worker thread; the connection is
// held by shared_ptr, and each loop holds a reference while it runs, so it
// lives until both loops have ended and OnClosed() has run.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>
#include <memory>
#include <string>

#include <nghttp2/nghttp2.h>

#include "h2/options.h"

namespace graymesh::h2 {

using TlsStream = asio::ssl::stream<asio::ip::tcp::socket>;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  explicit Connection(asio::ip::tcp::socket socket);
  // Over TLS (handshake done).
  explicit Connection(std::unique_ptr<TlsStream> tls);
  virtual ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  nghttp2_session* session() { return session_; }
  // Something was submitted to the session: let the write loop send it.
  void Signal();
  // Sends GOAWAY with `code` and closes once it is written.
  void Terminate(uint32_t code);
  bool closed() const { return closed_; }

 protected:
  // Starts the read and write loops (call once the socket is connected and
  // session_ is made).
  void StartIo();
  // Both loops have ended: streams still open are failed here.
  virtual void OnClosed() = 0;
  // Called after each batch of received bytes was processed.
  virtual void AfterRead() {}

  // The TCP socket (under the TLS stream when there is one).
  asio::ip::tcp::socket& tcp() { return tls_ != nullptr ? tls_->next_layer() : socket_; }

  asio::ip::tcp::socket socket_;  // unused (never opened) over TLS
  std::unique_ptr<TlsStream> tls_;
  nghttp2_session* session_ = nullptr;

 private:
  asio::awaitable<void> ReadLoop(std::shared_ptr<Connection> self);
  asio::awaitable<void> WriteLoop(std::shared_ptr<Connection> self);
  void LoopEnded();

  asio::steady_timer wake_;
  std::string out_;
  int loops_ = 0;
  bool signalled_ = false;
  bool read_done_ = false;
  bool closed_ = false;
};

}  // namespace graymesh::h2
