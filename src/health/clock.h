// Time as endpoint health reads it: unix milliseconds, so an instance's
// `readySince` from the registry and this process's own events compare
// directly. Tests drive a ManualClock instead of sleeping.
// Thread contract: SystemClock is stateless; a ManualClock belongs to the
// test thread that advances it.
#pragma once

#include <chrono>
#include <cstdint>

namespace graymesh::health {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMs() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  // One for the process: it has no state.
  static const SystemClock& Get() {
    static const SystemClock clock;
    return clock;
  }
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
  int64_t NowMs() const override { return now_; }
  void Advance(int64_t ms) { now_ += ms; }
  void Set(int64_t ms) { now_ = ms; }

 private:
  int64_t now_;
};

}  // namespace graymesh::health
