#include "proxy/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace graymesh::proxy {

AccessLogWriter::~AccessLogWriter() {
  Stop();
  for (const auto& [target, fd] : sinks_) {
    if (fd > 2) ::close(fd);
  }
}

int AccessLogWriter::Open(const std::string& target) {
  for (size_t i = 0; i < sinks_.size(); ++i) {
    if (sinks_[i].first == target) return int(i);
  }
  int fd;
  if (target == "stdout") {
    fd = 1;
  } else if (target == "stderr") {
    fd = 2;
  } else {
    fd = ::open(target.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      throw std::runtime_error("cannot open access log " + target + ": " + std::strerror(errno));
    }
  }
  sinks_.emplace_back(target, fd);
  return int(sinks_.size() - 1);
}

void AccessLogWriter::Start() {
  if (sinks_.empty() || thread_.joinable()) return;
  thread_ = std::thread([this] { Loop(); });
}

void AccessLogWriter::Submit(int sink, std::string&& lines) {
  if (lines.empty() || sink < 0 || sink >= int(sinks_.size())) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.emplace_back(sink, std::move(lines));
  }
  cv_.notify_one();
}

void AccessLogWriter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void AccessLogWriter::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty() && stop_) return;
    auto [sink, text] = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    const int fd = sinks_[sink].second;
    for (size_t off = 0; off < text.size();) {
      ssize_t n = ::write(fd, text.data() + off, text.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // disk full, pipe closed: the lines are dropped
      off += size_t(n);
    }
    lock.lock();
  }
}

}  // namespace graymesh::proxy
