// The access log: one JSON line per request, per listener that asks for one
// (`accessLog: stdout | stderr | PATH`). Workers append lines to buffers of
// their own (RequestRecorder) and hand them over on their 100 ms tick; this
// writer's thread does the write(2) calls, so a slow disk never stalls a
// request.
//
// Thread-safety: Submit from any thread (a mutex guards the queue; it is taken
// once per tick per worker, never per request). Lifetime: owned by the
// Server, outlives its workers.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace graymesh::proxy {

class AccessLogWriter {
 public:
  AccessLogWriter() = default;
  ~AccessLogWriter();
  AccessLogWriter(const AccessLogWriter&) = delete;
  AccessLogWriter& operator=(const AccessLogWriter&) = delete;

  // The sink id for a target ("stdout", "stderr" or a file, opened for
  // appending and created if missing). The same target gives the same id.
  // Throws std::runtime_error naming the file when it cannot be opened.
  // Before Start only.
  int Open(const std::string& target);
  void Start();
  void Submit(int sink, std::string&& lines);
  // Writes what was submitted, then stops the thread.
  void Stop();

 private:
  void Loop();

  std::vector<std::pair<std::string, int>> sinks_;  // target, fd
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<int, std::string>> queue_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace graymesh::proxy
