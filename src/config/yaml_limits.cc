#include "config/yaml_limits.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <sstream>

#include "config/config.h"

namespace graymesh::config {
namespace {

// Walks the event stream; throws at the first alias or too deep a collection.
class LimitsHandler : public YAML::EventHandler {
 public:
  explicit LimitsHandler(const std::string& file) : file_(file) {}

  // yaml-cpp 0.7 can get stuck on some bytes (a NUL among them), returning
  // the same empty document at the same place forever; LoadAll would never
  // return. Two documents never start at one place otherwise.
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (mark.pos == last_document_) {
      throw ConfigError(file_, mark.line + 1,
                        "invalid YAML: cannot read past this point (a NUL or other control "
                        "character?)");
    }
    last_document_ = mark.pos;
    depth_ = 0;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override {
    throw ConfigError(file_, mark.line + 1,
                      "aliases are not allowed (write the value out instead of *NAME)");
  }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Enter(mark);
  }
  void OnSequenceEnd() override { --depth_; }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Enter(mark);
  }
  void OnMapEnd() override { --depth_; }

 private:
  void Enter(const YAML::Mark& mark) {
    if (++depth_ > kMaxYamlDepth) {
      throw ConfigError(file_, mark.line + 1,
                        "nested deeper than " + std::to_string(kMaxYamlDepth) + " levels");
    }
  }

  const std::string& file_;
  int depth_ = 0;
  int last_document_ = -1;  // Mark::pos of the latest document start
};

}  // namespace

void CheckYamlLimits(const std::string& text, const std::string& file) {
  if (text.size() > kMaxYamlBytes) {
    throw ConfigError(file, 0,
                      "larger than " + std::to_string(kMaxYamlBytes) + " bytes (" +
                          std::to_string(kMaxYamlBytes >> 20) + " MiB), the limit for YAML");
  }
  std::istringstream in(text);
  LimitsHandler handler(file);
  try {
    YAML::Parser parser(in);
    while (parser.HandleNextDocument(handler)) {
    }
  } catch (const YAML::Exception& e) {
    throw ConfigError(file, e.mark.line + 1, "invalid YAML: " + e.msg);
  }
}

}  // namespace graymesh::config
