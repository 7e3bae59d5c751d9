// Building config::Lane values in tests without YAML.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "config/config.h"

namespace graymesh::lane::testing {

using config::StringMatch;
using Op = config::StringMatch::Op;

inline StringMatch Exact(std::string v) { return {Op::kExact, std::move(v), {}, 0, 0}; }
inline StringMatch Prefix(std::string v) { return {Op::kPrefix, std::move(v), {}, 0, 0}; }
inline StringMatch Regex(std::string v) { return {Op::kRegex, std::move(v), {}, 0, 0}; }
inline StringMatch In(std::vector<std::string> v) { return {Op::kIn, "", std::move(v), 0, 0}; }
inline StringMatch Range(double min, double max) { return {Op::kRange, "", {}, min, max}; }
inline StringMatch Present() { return {Op::kPresent, "", {}, 0, 0}; }
inline StringMatch Absent() { return {Op::kAbsent, "", {}, 0, 0}; }

inline config::MatchClause Header(std::string name, StringMatch m) {
  config::MatchClause c;
  c.headers.emplace_back(std::move(name), std::move(m));
  return c;
}

inline config::Lane MakeLane(std::string name, std::string tag,
                             std::vector<config::MatchClause> match, int priority = 100) {
  config::Lane l;
  l.name = std::move(name);
  l.tag = std::move(tag);
  l.priority = priority;
  l.match = std::move(match);
  return l;
}

}  // namespace graymesh::lane::testing
