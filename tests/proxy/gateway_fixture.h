// Starts real `graymesh gateway` and `graymesh sample-app` processes on free
// loopback ports, for tests that go through the whole proxy.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "support/process.h"

namespace graymesh::test {

// A sample app listening on a free port.
struct SampleApp {
  uint16_t port = 0;
  std::unique_ptr<ChildProcess> proc;
  static SampleApp Start(const std::string& name, const std::string& lane = "");
  // With extra sample-app flags (e.g. {"--fail-rate", "1"}), on `port` (0 = a free one).
  static SampleApp Start(const std::string& name, const std::string& lane,
                         std::vector<std::string> extra, uint16_t port = 0);
};

struct Gateway {
  uint16_t port = 0;
  uint16_t admin = 0;
  std::string config_path;
  std::unique_ptr<ChildProcess> proc;

  // `yaml` holds the services/routes/timeouts/... sections; one worker and an
  // `ingress` listener on a free port are added.
  static Gateway Start(const std::string& yaml);
  // A counter from the admin /metrics (without the graymesh_ prefix).
  uint64_t Metric(const std::string& name) const;
};

// A sidecar (`graymesh proxy`) for `service` in front of the app on
// `app_port`; `yaml` holds the services it calls through its outbound side.
struct Sidecar {
  uint16_t inbound = 0;
  uint16_t outbound = 0;
  uint16_t admin = 0;
  std::unique_ptr<ChildProcess> proc;
  // `extra`: more flags, e.g. {"--drain-quiet", "1s", "--", "CMD", ...};
  // `outbound`: its port when the app must know it beforehand (0 = any).
  static Sidecar Start(const std::string& service, uint16_t app_port, const std::string& yaml,
                       const std::vector<std::string>& extra = {}, uint16_t outbound = 0);
};

// Gateway configuration sending every request to one service `app` at
// 127.0.0.1:port; `extra` is appended (timeouts, limits...).
std::string OneServiceAt(uint16_t port, const std::string& extra = "");

// Reads raw bytes from `fd` until `marker` has arrived (or the peer closed,
// or `timeout`): for responses whose framing the test itself checks.
std::string RecvUntil(int fd, std::string_view marker, std::chrono::milliseconds timeout);

// Writes `text` to a fresh file in the test temp dir and returns its path.
std::string WriteTempFile(const std::string& name, const std::string& text);

}  // namespace graymesh::test
