// A blocking HTTP/1.1 test client over raw POSIX sockets on 127.0.0.1. Raw so
// tests control every byte sent (pipelining, bad framing, half-close), and
// parsed with the product's own http::Parser so responses are read exactly.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/parser.h"

namespace graymesh::test {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

inline constexpr std::chrono::milliseconds kConnectTimeout{5000};
inline constexpr std::chrono::milliseconds kResponseTimeout{10000};

struct Response {
  int status = 0;      // 0: no complete response; see `error`
  HeaderList headers;  // as received, in order
  std::string body;    // decoded (chunked framing removed)
  // The response ends the connection: `connection: close`, HTTP/1.0 without
  // keep-alive, or a body delimited by the close.
  bool closed_after = false;
  std::string error;  // why there is no response (timeout, closed, parse)

  // First header named `name` (case-insensitive), "" when absent.
  std::string Header(std::string_view name) const;
  bool HasHeader(std::string_view name) const;
};

class TestConnection {
 public:
  // Connects to 127.0.0.1:port; check connected().
  explicit TestConnection(uint16_t port, std::chrono::milliseconds timeout = kConnectTimeout);
  ~TestConnection();
  TestConnection(const TestConnection&) = delete;
  TestConnection& operator=(const TestConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // Sends all bytes; false on error or after a 10 s send timeout.
  bool Send(std::string_view bytes);
  // Reads the next response, an interim 1xx one included (so a test can wait
  // for 100 Continue before sending a body); bytes after it stay buffered for
  // the next call (pipelining). `head_request`: the request was HEAD.
  Response ReadResponse(std::chrono::milliseconds timeout = kResponseTimeout,
                        bool head_request = false);
  // True when the peer closes (EOF or reset) within `timeout`; bytes arriving
  // meanwhile are kept for ReadResponse.
  bool IsClosedByPeer(std::chrono::milliseconds timeout);
  // Half-close: no more bytes from us.
  void ShutdownWrite();
  void Close();

 private:
  enum class Fill { kData, kEof, kTimeout, kError };
  Fill ReadMore(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  bool eof_ = false;
  std::string buf_;  // received, not yet consumed
  http::Parser parser_{http::MessageKind::kResponse};
};

// One request on a fresh connection; interim 1xx responses are skipped. Host and (for a body, POST
// or PUT) Content-Length are added unless `headers` has them or Transfer-Encoding.
Response HttpRequest(uint16_t port, std::string_view method, std::string_view target,
                     std::string_view body = {}, const HeaderList& headers = {},
                     std::chrono::milliseconds timeout = kResponseTimeout);
Response HttpGet(uint16_t port, std::string_view target, const HeaderList& headers = {},
                 std::chrono::milliseconds timeout = kResponseTimeout);
// POST with a content-length body.
Response HttpPost(uint16_t port, std::string_view target, std::string_view body,
                  const HeaderList& headers = {},
                  std::chrono::milliseconds timeout = kResponseTimeout);

// FNV-1a 64 as 16 lowercase hex digits: the sample app's "fnv1a64" field.
std::string Fnv1a64Hex(std::string_view data);

}  // namespace graymesh::test
