#include "wire/api_client.h"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <stdexcept>

#include "net/http_client.h"
#include "config/config.h"
#include "http/headers.h"

namespace graymesh::wire {

std::string ControlUrl::ToString() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return "http://" + h + ":" + std::to_string(port) + prefix;
}

ControlUrl ParseControlUrl(const std::string& url) {
  std::string rest = url;
  if (rest.starts_with("https://")) {
    throw std::invalid_argument("https is not supported; use http:// (e.g. through a TLS proxy)");
  }
  if (rest.starts_with("http://")) rest.erase(0, 7);
  ControlUrl out;
  size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    out.prefix = rest.substr(slash);
    rest.erase(slash);
    while (!out.prefix.empty() && out.prefix.back() == '/') out.prefix.pop_back();
  }
  if (rest.empty()) throw std::invalid_argument("no host");
  // No port: HTTP's default. A bracketed IPv6 host ends with ']'.
  if (rest.back() == ']' || rest.find(':') == std::string::npos) rest += ":80";
  config::HostPort hp = config::ParseHostPort(rest);
  if (hp.port == 0) throw std::invalid_argument("port must be 1..65535");
  out.host = hp.host;
  out.port = hp.port;
  return out;
}

ApiResult CallControl(const ControlUrl& url, const std::string& token, const std::string& method,
                      const std::string& path, const std::string& body,
                      const net::HeaderList& headers, std::chrono::milliseconds timeout) {
  asio::io_context io(1);
  net::HttpClient client(io.get_executor(), url.host, url.port);
  net::HeaderList all = headers;
  all.emplace_back("host",
                   url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host);
  if (!token.empty()) all.emplace_back("authorization", "Bearer " + token);
  bool has_type = false;
  for (const auto& [n, v] : headers) has_type = has_type || http::IEquals(n, "content-type");
  if (!body.empty() && !has_type) all.emplace_back("content-type", "application/json");
  ApiResult out;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        net::HttpClient::Result r =
            co_await client.Request(method, url.prefix + path, all, body, timeout);
        out.status = r.status;
        out.body = std::move(r.body);
        out.error = std::move(r.error);
      },
      asio::detached);
  io.run();
  return out;
}

}  // namespace graymesh::wire
