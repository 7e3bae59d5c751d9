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
#include <asio/steady_timer.hpp>
#include <memory>
#include <string>

#include <nghttp2/nghttp2.h>

namespace graymesh::h2 {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  explicit Connection(asio::ip::tcp::socket socket);
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

  asio::ip::tcp::socket socket_;
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

// nghttp2 options every graymesh session uses: no automatic WINDOW_UPDATE
// (the proxy acknowledges bytes only once it has passed them on, so a slow
// reader slows the writer) and the flood limits.
nghttp2_option* NewOptions();

}  // namespace graymesh::h2
