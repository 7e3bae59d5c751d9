// What a running child costs, read from /proc: peak memory and CPU time, for
// tests that show a protection keeps a process small and quiet.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

namespace graymesh::test {

// Memory bounds in tests are for the release build; a child built with a
// sanitizer takes about this many times more for the same work (shadow
// memory, ASan's quarantine of freed blocks), so bounds are multiplied by it.
// TSan's shadow is larger (four bytes and more per byte touched).
#if defined(__SANITIZE_THREAD__)
inline constexpr int64_t kSanitizerMemoryFactor = 4;
#elif defined(__SANITIZE_ADDRESS__)
inline constexpr int64_t kSanitizerMemoryFactor = 3;
#else
inline constexpr int64_t kSanitizerMemoryFactor = 1;
#endif

// VmHWM (peak resident set) of `pid` in KiB, or -1.
inline int64_t PeakRssKib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

// A field of /proc/PID/status in KiB ("VmRSS", "RssAnon", ...), or -1.
inline int64_t StatusKib(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > field.size() && line.compare(0, field.size(), field) == 0 &&
        line[field.size()] == ':') {
      return std::stoll(line.substr(field.size() + 1));
    }
  }
  return -1;
}

// Resident anonymous memory (heap, stacks; not the mapped binary and
// libraries, which RSS also counts) of `pid` in KiB, or -1.
inline int64_t RssAnonKib(pid_t pid) { return StatusKib(pid, "RssAnon"); }

// utime + stime of every thread of `pid`, in seconds, or -1.
inline double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = stat.rfind(')');  // the name may hold spaces
  if (close == std::string::npos) return -1;
  std::istringstream fields(stat.substr(close + 2));
  std::string f;
  uint64_t utime = 0, stime = 0;
  // Fields after the name start at 3 (state); utime and stime are 14 and 15.
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) stime = std::stoull(f);
  }
  return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

}  // namespace graymesh::test
