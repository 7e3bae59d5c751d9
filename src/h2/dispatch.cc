#include "h2/dispatch.h"

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <sys/socket.h>

#include <memory>

#include <spdlog/spdlog.h>

#include "h2/downstream_connection.h"
#include "h2/preface.h"
#include "proxy/session.h"
#include "tls/server_contexts.h"

namespace graymesh::h2 {
namespace {

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);

// Waits for the first bytes and tells the protocol. Gives kHttp1 on a
// connection that sent nothing in time or closed: the Session then answers
// (408) or closes it as it always did.
asio::awaitable<Sniff> Detect(asio::ip::tcp::socket& socket, config::Millis within) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(socket.get_executor());
  timer.expires_after(within);
  char buf[kPreface.size()];
  for (;;) {
    auto r = co_await (socket.async_wait(asio::ip::tcp::socket::wait_read, kNoThrow) ||
                       timer.async_wait(kNoThrow));
    if (r.index() == 1 || std::get<0>(std::get<0>(r))) co_return Sniff::kHttp1;
    const ssize_t n = ::recv(socket.native_handle(), buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
    if (n <= 0) co_return Sniff::kHttp1;
    Sniff s = ClassifyFirstBytes(std::string_view(buf, size_t(n)));
    if (s != Sniff::kNeedMore) co_return s;
    // A part of the preface: the rest is on its way (a short wait, not a spin).
    asio::steady_timer pause(socket.get_executor());
    pause.expires_after(std::chrono::milliseconds(5));
    co_await pause.async_wait(kNoThrow);
    if (timer.expiry() <= asio::steady_timer::clock_type::now()) co_return Sniff::kHttp1;
  }
}

// TLS: handshake within timeouts.header_read (a client that stalls in it is
// dropped then), then HTTP/2 when ALPN chose h2, else (http/1.1, or a client
// that sent no ALPN) the HTTP/1.1 Session over the TLS stream.
asio::awaitable<void> ServeTls(proxy::Worker& worker, const proxy::ListenerInfo& listener,
                               asio::ip::tcp::socket socket) {
  using namespace asio::experimental::awaitable_operators;
  tls::ServerContexts* contexts = nullptr;
  try {
    contexts = &tls::ServerContexts::ForListener(listener.cfg.name, *listener.cfg.tls);
  } catch (const std::exception& e) {
    spdlog::error("listener '{}': {}", listener.cfg.name, e.what());
    co_return;
  }
  auto stream = std::make_unique<TlsStream>(std::move(socket),
                                            contexts->Current(proxy::Worker::NowMs()));
  asio::steady_timer timer(stream->get_executor());
  timer.expires_after(worker.config().timeouts.header_read);
  auto r = co_await (stream->async_handshake(asio::ssl::stream_base::server, kNoThrow) ||
                     timer.async_wait(kNoThrow));
  if (r.index() != 0 || std::get<0>(std::get<0>(r))) co_return;  // failed or too slow
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(stream->native_handle(), &alpn, &alpn_len);
  if (alpn_len == 2 && alpn[0] == 'h' && alpn[1] == '2') {
    auto conn = std::make_shared<DownstreamConnection>(worker, listener, std::move(stream));
    conn->Start();
    co_return;
  }
  auto session =
      std::make_unique<proxy::Session>(worker, listener, net::ClientStream(std::move(stream)));
  co_await session->Run();
}

}  // namespace

asio::awaitable<void> ServeHttpConnection(proxy::Worker& worker,
                                          const proxy::ListenerInfo& listener,
                                          asio::ip::tcp::socket socket) {
  if (listener.cfg.tls) {
    co_await ServeTls(worker, listener, std::move(socket));
    co_return;
  }
  const Sniff sniff = co_await Detect(socket, worker.config().timeouts.header_read);
  if (sniff == Sniff::kHttp2) {
    auto conn = std::make_shared<DownstreamConnection>(worker, listener, std::move(socket));
    conn->Start();  // runs on its own coroutines, which hold it
    co_return;
  }
  auto session = std::make_unique<proxy::Session>(worker, listener, std::move(socket));
  co_await session->Run();
}

}  // namespace graymesh::h2
