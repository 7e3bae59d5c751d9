// Keep-alive HTTP/1.1 client to one address: the sample app's downstream
// calls (to its sidecar's outbound listener) and the control-plane client
// (wire/api_client.h). Not the proxy's data path. Idle connections are
// pooled and reused; a reused connection that turns out to be closed is
// retried once on a fresh one, as any keep-alive client must.
//
// Thread-safety: none; use from the io_context's one thread.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "net/http_server.h"

namespace graymesh::net {

class HttpClient {
 public:
  struct Result {
    int status = 0;     // 0: no response (see error)
    std::string body;   // decoded
    std::string error;  // transport or protocol error, empty when a response came
  };

  HttpClient(asio::any_io_executor ex, std::string host, uint16_t port);
  ~HttpClient();

  // GET `target` (origin-form) with `headers`, which should include Host.
  asio::awaitable<Result> Get(std::string target, const net::HeaderList& headers,
                              std::chrono::milliseconds timeout);
  // Any method, with `body` sent with a content-length (POST and PUT always
  // get one). A request on a pooled connection the peer had closed is sent
  // again only when the method is idempotent.
  asio::awaitable<Result> Request(std::string method, std::string target,
                                  const net::HeaderList& headers, std::string body,
                                  std::chrono::milliseconds timeout);

 private:
  using Socket = asio::ip::tcp::socket;
  asio::awaitable<std::unique_ptr<Socket>> Connect(std::chrono::milliseconds timeout,
                                                   std::string* error);
  // One request/response; `*reusable` says the connection may serve another.
  asio::awaitable<Result> Exchange(Socket& sock, const std::string& request, bool* got_bytes,
                                   bool* reusable);

  asio::any_io_executor ex_;
  std::string host_;
  uint16_t port_;
  asio::ip::tcp::resolver::results_type endpoints_;
  std::vector<std::unique_ptr<Socket>> idle_;
};

}  // namespace graymesh::net
