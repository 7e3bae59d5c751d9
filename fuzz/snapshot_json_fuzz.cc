// libFuzzer target for snapshot JSON as a proxy reads it (from the control
// plane or its cache file): bounded parse, then SnapshotFromJson. Refusals
// must be std::invalid_argument or ConfigError; a snapshot that is taken must
// print and read back to the same text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include "config/config.h"
#include "wire/json_limits.h"
#include "wire/snapshot_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  std::optional<nlohmann::json> j = graymesh::wire::ParseJson(text, &error);
  if (!j) return 0;
  graymesh::wire::Snapshot snap;
  try {
    snap = graymesh::wire::SnapshotFromJson(*j);
  } catch (const std::invalid_argument&) {
    return 0;
  } catch (const graymesh::config::ConfigError&) {
    return 0;
  }
  const nlohmann::json printed = graymesh::wire::SnapshotToJson(snap);
  try {
    if (graymesh::wire::SnapshotToJson(graymesh::wire::SnapshotFromJson(printed)) != printed) {
      abort();
    }
  } catch (const std::exception&) {
    abort();  // our own output refused
  }
  return 0;
}
