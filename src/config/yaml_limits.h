// Limits on YAML text before it is loaded: configuration files, rule
// documents (`graymesh apply`) and the rule JSON inside snapshots all pass
// here first. yaml-cpp expands nothing itself, but every alias makes the
// loader's walk (and what it stores) visit the anchored value again, so a few
// KB of anchors reused a thousand times become gigabytes; a config file has no
// use for them. Stateless and thread-safe.
#pragma once

#include <cstddef>
#include <string>

namespace graymesh::config {

// The largest YAML text any loader takes (a config file, a rule file).
inline constexpr size_t kMaxYamlBytes = 4u << 20;
// Deepest nesting of maps and lists; the deepest real config path
// (lanes[].entrance.match[].headers.NAME.range.min) is 8 levels.
inline constexpr int kMaxYamlDepth = 64;

// Throws ConfigError "FILE:LINE: reason" when `text` is over kMaxYamlBytes,
// is not UTF-8, holds an alias (`*name`, `<<: *name` included), nests deeper than
// kMaxYamlDepth, or is not YAML at all. Reads the text once as events, so no
// node is built and the check costs no more than the text's size.
void CheckYamlLimits(const std::string& text, const std::string& file);

}  // namespace graymesh::config
