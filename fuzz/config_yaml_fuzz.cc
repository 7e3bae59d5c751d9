// libFuzzer target for the static config loader: arbitrary bytes as a
// --config file. Every refusal must be a ConfigError (FILE:LINE: reason);
// anything else escaping, a crash or a hang is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const graymesh::config::Config c = graymesh::config::ParseConfig(text, "fuzz.yaml");
    // What loaded obeys the loader's own promises.
    for (const auto& s : c.services) {
      for (const auto& e : s.endpoints) {
        if (e.address.port == 0 || e.weight < 1 || e.weight > 10'000) abort();
      }
    }
  } catch (const graymesh::config::ConfigError& e) {
    if (e.line() < 0) abort();
  }
  return 0;
}
