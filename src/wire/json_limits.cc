#include "wire/json_limits.h"

#include <stdexcept>

namespace graymesh::wire {
namespace {

using nlohmann::json;

constexpr size_t kExcerptBytes = 64;

// Thrown from the parser callback to stop at the first container too deep.
struct TooDeep {};

}  // namespace

std::optional<json> ParseJson(std::string_view text, std::string* error) {
  // `depth` counts the containers around the one starting.
  auto limit = [](int depth, json::parse_event_t event, json&) {
    if ((event == json::parse_event_t::array_start ||
         event == json::parse_event_t::object_start) &&
        depth >= kMaxJsonDepth) {
      throw TooDeep{};
    }
    return true;
  };
  try {
    return json::parse(text, limit);
  } catch (const TooDeep&) {
    *error = "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
  } catch (const json::parse_error& e) {
    *error = std::string("invalid JSON: ") + e.what();
  } catch (const json::exception& e) {  // 1e999: out_of_range while parsing
    *error = std::string("invalid JSON: ") + e.what();
  }
  return std::nullopt;
}

json ParseJsonOrThrow(std::string_view text, const std::string& what) {
  std::string error;
  std::optional<json> j = ParseJson(text, &error);
  if (!j) throw std::invalid_argument(what + ": " + error);
  return std::move(*j);
}

std::string JsonExcerpt(const json& value) {
  if (value.is_array()) return "an array";
  if (value.is_object()) return "an object";
  std::string s = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > kExcerptBytes) s = s.substr(0, kExcerptBytes) + "...";
  return s;
}

}  // namespace graymesh::wire
