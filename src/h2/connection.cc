#include "h2/connection.h"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <spdlog/spdlog.h>


namespace graymesh::h2 {
namespace {

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
constexpr size_t kReadChunk = 16 * 1024;
constexpr size_t kWriteBatch = 64 * 1024;

}  // namespace

Connection::Connection(asio::ip::tcp::socket socket)
    : socket_(std::move(socket)), wake_(socket_.get_executor()) {}

Connection::Connection(std::unique_ptr<TlsStream> tls)
    : socket_(tls->get_executor()), tls_(std::move(tls)), wake_(socket_.get_executor()) {}

Connection::~Connection() {
  if (session_ != nullptr) nghttp2_session_del(session_);
}

void Connection::Signal() {
  signalled_ = true;
  wake_.cancel();
}

void Connection::Terminate(uint32_t code) {
  if (session_ != nullptr) nghttp2_session_terminate_session(session_, code);
  Signal();
}

void Connection::StartIo() {
  loops_ = 2;
  auto ex = socket_.get_executor();
  asio::co_spawn(ex, ReadLoop(shared_from_this()), asio::detached);
  asio::co_spawn(ex, WriteLoop(shared_from_this()), asio::detached);
}

asio::awaitable<void> Connection::ReadLoop(std::shared_ptr<Connection> self) {
  uint8_t buf[kReadChunk];
  while (!closed_) {
    auto [ec, n] = tls_ != nullptr
                       ? co_await tls_->async_read_some(asio::buffer(buf), kNoThrow)
                       : co_await socket_.async_read_some(asio::buffer(buf), kNoThrow);
    if (ec || n == 0) break;
    ssize_t rv = nghttp2_session_mem_recv(session_, buf, n);
    if (rv < 0) {
      spdlog::debug("h2: closing a connection: {}", nghttp2_strerror(int(rv)));
      // A protocol error nghttp2 has already answered with GOAWAY, or a
      // callback that refused the peer's frames (flood, oversized block).
      const uint32_t code = rv == NGHTTP2_ERR_CALLBACK_FAILURE || rv == NGHTTP2_ERR_FLOODED
                                ? NGHTTP2_ENHANCE_YOUR_CALM
                                : NGHTTP2_PROTOCOL_ERROR;
      nghttp2_session_terminate_session(session_, code);
      Signal();
      break;
    }
    AfterRead();
    Signal();
  }
  read_done_ = true;
  Signal();
  LoopEnded();
}

asio::awaitable<void> Connection::WriteLoop(std::shared_ptr<Connection> self) {
  while (!closed_) {
    out_.clear();
    for (;;) {
      const uint8_t* data = nullptr;
      ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n <= 0) break;  // < 0: fatal; what is gathered still goes out
      out_.append(reinterpret_cast<const char*>(data), size_t(n));
      if (out_.size() >= kWriteBatch) break;
    }
    if (!out_.empty()) {
      auto [ec, n] = tls_ != nullptr
                         ? co_await asio::async_write(*tls_, asio::buffer(out_), kNoThrow)
                         : co_await asio::async_write(socket_, asio::buffer(out_), kNoThrow);
      if (ec) {
        spdlog::debug("h2: write failed: {}", ec.message());
        break;
      }
      continue;
    }
    if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) break;
    if (read_done_) break;
    if (signalled_) {
      signalled_ = false;
      continue;
    }
    wake_.expires_at(asio::steady_timer::time_point::max());
    co_await wake_.async_wait(kNoThrow);
    signalled_ = false;
  }
  closed_ = true;
  asio::error_code ignored;
  tcp().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  tcp().close(ignored);
  LoopEnded();
}

void Connection::LoopEnded() {
  if (--loops_ == 0) OnClosed();
}

}  // namespace graymesh::h2
