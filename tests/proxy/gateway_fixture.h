// Starts real `graymesh gateway` and `graymesh sample-app` processes on free
// loopback ports, for tests that go through the whole proxy.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "support/process.h"

namespace graymesh::test {

// A sample app listening on a free port.
struct SampleApp {
  uint16_t port = 0;
  std::unique_ptr<ChildProcess> proc;
  static SampleApp Start(const std::string& name, const std::string& lane = "");
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

// Writes `text` to a fresh file in the test temp dir and returns its path.
std::string WriteTempFile(const std::string& name, const std::string& text);

}  // namespace graymesh::test
