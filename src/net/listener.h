// Listening sockets. Every worker opens its own acceptor on the same address
// with SO_REUSEPORT, so the kernel spreads connections and no accept is shared.
#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <string>

namespace graymesh::net {

// Resolves "host" + port to one TCP endpoint (numeric or via DNS at start).
// Throws std::runtime_error naming the address.
asio::ip::tcp::endpoint Resolve(const std::string& host, uint16_t port);

// An acceptor bound with SO_REUSEADDR and SO_REUSEPORT. Throws asio::system_error.
asio::ip::tcp::acceptor OpenAcceptor(asio::io_context& ctx, const asio::ip::tcp::endpoint& ep);

}  // namespace graymesh::net
