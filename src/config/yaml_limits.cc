#include "config/yaml_limits.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
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

// Where `text` stops being UTF-8 (the encoding YAML and JSON require), or
// npos. The same rules as nlohmann's dump: no overlong forms, no surrogates,
// nothing past U+10FFFF. A rule that passed here could otherwise not be
// stored as JSON.
size_t InvalidUtf8At(const std::string& text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (i + len > n || s[i + 1] < lo || s[i + 1] > hi) return i;
    for (size_t k = 2; k < len; ++k) {
      if (s[i + k] < 0x80 || s[i + k] > 0xBF) return i;
    }
    i += len;
  }
  return std::string::npos;
}

}  // namespace

void CheckYamlLimits(const std::string& text, const std::string& file) {
  if (text.size() > kMaxYamlBytes) {
    throw ConfigError(file, 0,
                      "larger than " + std::to_string(kMaxYamlBytes) + " bytes (" +
                          std::to_string(kMaxYamlBytes >> 20) + " MiB), the limit for YAML");
  }
  if (const size_t bad = InvalidUtf8At(text); bad != std::string::npos) {
    const int line = 1 + int(std::count(text.begin(), text.begin() + long(bad), '\n'));
    throw ConfigError(file, line, "invalid YAML: not UTF-8 (byte " + std::to_string(bad) + ")");
  }
  // YAML allows no raw control character but tab, LF and CR (c-printable);
  // yaml-cpp reads a NUL as the end of the stream, so a rule with one parsed
  // as something else than it reads back from the store. Escapes in quoted
  // scalars ("\x01") are unaffected.
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
      const int line = 1 + int(std::count(text.begin(), text.begin() + long(i), '\n'));
      char hex[8];
      std::snprintf(hex, sizeof(hex), "0x%02x", c);
      throw ConfigError(file, line,
                        std::string("invalid YAML: control character ") + hex + " (byte " +
                            std::to_string(i) + "); only tab, CR and LF may appear raw");
    }
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
