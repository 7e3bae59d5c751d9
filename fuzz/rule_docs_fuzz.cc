// libFuzzer target for rule documents (`graymesh apply -f`, POST /v1/apply):
// arbitrary bytes through ParseRuleDocuments. What parses must survive the
// control plane's round trip: spec -> JSON -> back through the same parser,
// as the store and every snapshot do, and come back the same.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "config/config.h"
#include "wire/rule_json.h"

using graymesh::config::ConfigError;
using graymesh::config::RuleDocument;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<RuleDocument> docs;
  try {
    docs = graymesh::config::ParseRuleDocuments(text, "fuzz.yaml");
  } catch (const ConfigError&) {
    return 0;
  }
  std::vector<nlohmann::json> stored;
  for (const RuleDocument& d : docs) {
    stored.push_back({{"kind", d.kind}, {"name", d.name}, {"spec", graymesh::wire::RuleSpecToJson(d)}});
  }
  std::vector<RuleDocument> back;
  try {
    back = graymesh::wire::RulesFromJson(stored, "store");
  } catch (const ConfigError&) {
    abort();  // accepted once, refused when read back: a rule the store could not serve
  }
  if (back.size() != docs.size()) abort();
  for (size_t i = 0; i < docs.size(); ++i) {
    if (graymesh::wire::RuleSpecToJson(back[i]) != stored[i]["spec"]) abort();
  }
  return 0;
}
