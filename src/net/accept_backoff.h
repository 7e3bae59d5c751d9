// What an accept loop does when accept fails for want of descriptors or
// memory (EMFILE, ENFILE, ENOBUFS, ENOMEM): the connection stays in the
// backlog, the listener stays readable, and retrying at once fails again at
// 100% CPU. Waiting 100 ms, doubling to 1 s while it lasts, lets the process
// finish what it holds and free descriptors. One per accept loop; not
// thread-safe.
#pragma once

#include <asio/error.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <system_error>

namespace graymesh::net {

class AcceptBackoff {
 public:
  static constexpr std::chrono::milliseconds kFirst{100};
  static constexpr std::chrono::milliseconds kMax{1000};

  // True for the errors worth waiting out; others (a client's reset before
  // accept) are retried at once.
  static bool IsExhaustion(const std::error_code& ec) {
    // Asio reports accept's errno in its own system category.
    const int e = ec.value();
    return (ec.category() == asio::system_category() || ec.category() == std::system_category()) &&
           (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM);
  }

  // The wait before the next accept; longer on each failure in a row.
  std::chrono::milliseconds Next() {
    const std::chrono::milliseconds d = delay_;
    delay_ = std::min(delay_ * 2, kMax);
    ++failures_;
    return d;
  }
  // After an accept that worked.
  void Reset() {
    delay_ = kFirst;
    failures_ = 0;
  }
  // Failures in the current run: log the first, not every one.
  int failures() const { return failures_; }

 private:
  std::chrono::milliseconds delay_ = kFirst;
  int failures_ = 0;
};

}  // namespace graymesh::net
