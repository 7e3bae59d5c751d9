// An upstream on a real loopback socket that records every byte it receives
// and reads requests the way a lenient backend does (llhttp, honouring
// Content-Length and chunked framing), so a test sees what a backend behind
// the proxy would see: how many requests, with which headers and bodies. Its
// answers come from a script, including badly framed ones.
//
// Thread-safety: one thread per connection; the accessors lock and copy, so
// a test may call them while connections are served.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "support/http_client.h"

namespace graymesh::test {

class RecordingUpstream {
 public:
  struct Request {
    int connection = 0;  // 1 for the first connection accepted, 2 for the next...
    std::string method;
    std::string target;
    std::string version;  // "HTTP/1.1"
    HeaderList headers;   // as received, in order
    std::string body;     // decoded
    std::string head;     // the raw head bytes, request line to the empty line

    // First header named `name` (case-insensitive), "<none>" when absent.
    std::string Header(std::string_view name) const;
    int Count(std::string_view name) const;
  };

  struct Reply {
    std::string bytes;             // written exactly as given
    bool close = false;            // close the connection after writing
    bool before_body = false;      // answer once the head is in, read no body, then close
    std::chrono::milliseconds delay{0};  // wait this long before answering
  };
  using Script = std::function<Reply(const Request&)>;

  explicit RecordingUpstream(Script script);
  ~RecordingUpstream();
  RecordingUpstream(const RecordingUpstream&) = delete;
  RecordingUpstream& operator=(const RecordingUpstream&) = delete;

  uint16_t port() const { return port_; }
  int connections() const { return connections_.load(); }
  std::vector<Request> requests() const;
  // Every byte received, connections in order of arrival.
  std::string raw() const;
  // Waits until at least `n` requests have been read.
  bool WaitForRequests(size_t n, std::chrono::milliseconds timeout) const;

  // A 200 whose body says which request it answers: "answer to: GET /x"
  // (for HEAD, its head alone).
  static Reply AnswerNaming(const Request& rq);

 private:
  void AcceptLoop();
  void Serve(int fd, int index);

  Script script_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<Request> requests_;
  std::string raw_;
  std::thread acceptor_;
  std::vector<std::thread> conns_;
};

}  // namespace graymesh::test
