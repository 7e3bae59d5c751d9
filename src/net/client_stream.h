// One end of an HTTP/1.1 connection: a plain TCP socket, or a TLS stream
// over one. The proxy's connection to its client (a gateway listener with
// `tls:`, handshake already done) and its pooled connections to upstreams
// (proxy/upstream_conn.h; a service with `tls:`).
// It is an AsyncReadStream/AsyncWriteStream for asio::async_write and the
// Session's reads; each call is passed straight to the one it holds through
// asio::async_initiate, so a call costs no coroutine frame or allocation of
// its own, and a plaintext connection stays a socket held inline.
//
// lowest_layer() is the TCP socket under it, for options, endpoints, waits,
// cancel and close. Cancelling it ends a pending TLS read or write too.
//
// Thread/lifetime: owned by one Session (or a worker's upstream pool), used
// on its worker's thread only.
#pragma once

#include <asio/async_result.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/stream.hpp>
#include <memory>
#include <span>
#include <utility>

namespace graymesh::net {

using TlsStream = asio::ssl::stream<asio::ip::tcp::socket>;

// The buffers left after the first `written` bytes of `buffers` (a partial
// write_now): trims the first one left in place.
inline std::span<const asio::const_buffer> Unwritten(std::span<asio::const_buffer> buffers,
                                                     std::size_t written) {
  std::size_t i = 0;
  while (i < buffers.size() && written >= buffers[i].size()) written -= buffers[i++].size();
  if (i < buffers.size()) buffers[i] += written;
  return buffers.subspan(i);
}

class ClientStream {
 public:
  using executor_type = asio::ip::tcp::socket::executor_type;
  using lowest_layer_type = asio::ip::tcp::socket;

  // Implicit on purpose: a plain socket is the common case.
  ClientStream(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}  // NOLINT
  explicit ClientStream(std::unique_ptr<TlsStream> tls)
      : socket_(tls->get_executor()), tls_(std::move(tls)) {}
  ClientStream(ClientStream&&) = default;
  ClientStream& operator=(ClientStream&&) = default;

  executor_type get_executor() { return lowest_layer().get_executor(); }
  asio::ip::tcp::socket& lowest_layer() { return tls_ != nullptr ? tls_->next_layer() : socket_; }
  bool is_tls() const { return tls_ != nullptr; }
  TlsStream* tls() { return tls_.get(); }

  template <typename MutableBuffers, typename Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(asio::error_code, std::size_t)>(
        [this](auto handler, const MutableBuffers& b) {
          if (tls_ != nullptr) tls_->async_read_some(b, std::move(handler));
          else socket_.async_read_some(b, std::move(handler));
        },
        token, buffers);
  }

  template <typename ConstBuffers, typename Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(asio::error_code, std::size_t)>(
        [this](auto handler, const ConstBuffers& b) {
          if (tls_ != nullptr) tls_->async_write_some(b, std::move(handler));
          else socket_.async_write_some(b, std::move(handler));
        },
        token, buffers);
  }

  // What is there without waiting (the socket is non-blocking): would_block
  // when nothing is. Over TLS, would_block also means every byte the socket
  // had is inside the TLS engine, so waiting on lowest_layer() for readability
  // next is right.
  template <typename MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers, asio::error_code& ec) {
    if (tls_ != nullptr) return tls_->read_some(buffers, ec);
    return socket_.read_some(buffers, ec);
  }

  // Writes what the socket takes at once, without waiting. A plaintext write
  // that completes at once (the usual case: the socket buffer has room) then
  // costs no posted completion and no extra turn of the event loop, which
  // async_write's speculative send still does. Over TLS it writes nothing
  // (the engine writes through async_write). Not having room is no error:
  // the count says what is left for async_write (see Unwritten).
  template <typename ConstBuffers>
  std::size_t write_now(const ConstBuffers& buffers, asio::error_code& ec) {
    ec.clear();
    if (tls_ != nullptr) return 0;
    if (!socket_.non_blocking()) socket_.non_blocking(true, ec);
    if (ec) return 0;
    std::size_t n = socket_.write_some(buffers, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) ec.clear();
    return n;
  }

  // Plain: cancels pending I/O. Both: through the socket.
  void cancel(asio::error_code& ec) { lowest_layer().cancel(ec); }

 private:
  asio::ip::tcp::socket socket_;  // unused (never opened) over TLS
  std::unique_ptr<TlsStream> tls_;
};

}  // namespace graymesh::net
