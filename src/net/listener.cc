#include "net/listener.h"

#include <sys/socket.h>

#include <asio/ip/address.hpp>
#include <stdexcept>

namespace graymesh::net {

asio::ip::tcp::endpoint Resolve(const std::string& host, uint16_t port) {
  asio::error_code ec;
  asio::ip::address addr = asio::ip::make_address(host, ec);
  if (!ec) return {addr, port};
  asio::io_context ctx;
  asio::ip::tcp::resolver resolver(ctx);
  auto results = resolver.resolve(host, std::to_string(port), ec);
  if (ec || results.empty()) {
    throw std::runtime_error("cannot resolve " + host + ": " + ec.message());
  }
  return results.begin()->endpoint();
}

asio::ip::tcp::acceptor OpenAcceptor(asio::io_context& ctx, const asio::ip::tcp::endpoint& ep) {
  asio::ip::tcp::acceptor acceptor(ctx);
  acceptor.open(ep.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  int one = 1;
  if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    throw asio::system_error(asio::error_code(errno, asio::system_category()), "SO_REUSEPORT");
  }
  acceptor.bind(ep);
  acceptor.listen(asio::socket_base::max_listen_connections);
  return acceptor;
}

}  // namespace graymesh::net
