// Bounded JSON parsing for everything the control plane and the proxies read
// from the network or from disk: API bodies, snapshots, the snapshot cache.
// nlohmann's parser is iterative, but printing or walking a value is
// recursive, so a 140 KB body of 70,000 nested arrays would overflow the stack
// as soon as anything dumps it (an error message, a copy into YAML). Depth is
// refused while parsing, before any such value exists. Stateless, thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace graymesh::wire {

// Deepest nesting of arrays and objects accepted; a snapshot needs 6.
inline constexpr int kMaxJsonDepth = 64;

// The value, or nullopt with `*error` saying why ("invalid JSON: ...",
// "JSON nested deeper than 64 levels", a number out of range).
std::optional<nlohmann::json> ParseJson(std::string_view text, std::string* error);

// The same, throwing std::invalid_argument("`what`: reason").
nlohmann::json ParseJsonOrThrow(std::string_view text, const std::string& what);

// A user's value for an error message: scalars as JSON, cut to 64 bytes;
// arrays and objects named by their type, never printed.
std::string JsonExcerpt(const nlohmann::json& value);

}  // namespace graymesh::wire
