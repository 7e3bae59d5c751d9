// Where an accepted connection on an HTTP listener goes: one that opens with
// the HTTP/2 connection preface to the HTTP/2 proxy, any other to the
// HTTP/1.1 Session, unchanged. Detection peeks at the socket, so the
// Session reads the connection from its first byte.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "proxy/worker.h"

namespace graymesh::h2 {

// Serves one accepted connection until it closes. On the worker's thread.
asio::awaitable<void> ServeHttpConnection(proxy::Worker& worker,
                                          const proxy::ListenerInfo& listener,
                                          asio::ip::tcp::socket socket);

}  // namespace graymesh::h2
