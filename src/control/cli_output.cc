#include "control/cli_output.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>

#include "wire/rule_json.h"

namespace graymesh::control {
namespace {

using nlohmann::json;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Str(const json& j, const char* key, const std::string& empty = "") {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return empty;
  const json& v = j[key];
  std::string s = v.is_string() ? v.get<std::string>() : v.dump();
  return s.empty() ? empty : s;
}

const json& Spec(const json& rule) {
  static const json kEmpty = json::object();
  return rule.contains("spec") && rule["spec"].is_object() ? rule["spec"] : kEmpty;
}

std::string Entrance(const json& spec) {
  if (!spec.contains("entrance")) return "-";
  const json& e = spec["entrance"];
  if (e.contains("service")) return "service/" + Str(e, "service");
  return "gateway/" + Str(e, "gateway", "*");
}

std::string Warmup(const json& spec) {
  if (!spec.contains("warmup")) return "-";
  const json& w = spec["warmup"];
  return fmt::format("{} min {}%", Str(w, "window"), Str(w, "minWeightPercent"));
}

std::string Outlier(const json& spec) {
  if (!spec.contains("outlier")) return "-";
  const json& o = spec["outlier"];
  return fmt::format("{} errors or {}%, max {}%", Str(o, "consecutiveErrors"),
                     Str(o, "errorRatePercent"), Str(o, "maxEjectionPercent"));
}

std::string Lossless(const json& spec) {
  if (!spec.contains("lossless")) return "-";
  const json& l = spec["lossless"];
  return fmt::format("delay {}, drain {}", Str(l, "delayRegistration", "-"),
                     Str(l, "drainTimeout", "-"));
}

std::string Lanes(const json& svc) {
  std::string out;
  for (const json& l : svc.value("lanes", json::array())) {
    if (!out.empty()) out += ",";
    out += fmt::format("{}={}", Str(l, "lane", "base"), Str(l, "instances"));
  }
  return out.empty() ? "-" : out;
}

YAML::Node ToYaml(const json& j) {
  switch (j.type()) {
    case json::value_t::object: {
      YAML::Node n(YAML::NodeType::Map);
      for (const auto& [k, v] : j.items()) n[k] = ToYaml(v);
      return n;
    }
    case json::value_t::array: {
      YAML::Node n(YAML::NodeType::Sequence);
      for (const json& v : j) n.push_back(ToYaml(v));
      return n;
    }
    case json::value_t::string:
      return YAML::Node(j.get<std::string>());
    case json::value_t::boolean:
      return YAML::Node(j.get<bool>());
    case json::value_t::number_integer:
      return YAML::Node(j.get<int64_t>());
    case json::value_t::number_unsigned:
      return YAML::Node(j.get<uint64_t>());
    case json::value_t::number_float:
      return YAML::Node(j.get<double>());
    default:
      return YAML::Node();
  }
}

std::string Emit(const YAML::Node& n) {
  YAML::Emitter out;
  out << n;
  return std::string(out.c_str()) + "\n";
}

bool IsRule(Resource r) { return !ResourceKind(r).empty(); }

// A rule as its apply-able document: no revision or timestamps.
json AsDocument(const json& rule) {
  return {{"kind", rule.value("kind", "")}, {"name", rule.value("name", "")}, {"spec", Spec(rule)}};
}

}  // namespace

Resource ParseResource(const std::string& word) {
  const std::string w = Lower(word);
  if (w == "services" || w == "service" || w == "svc") return Resource::kServices;
  if (w == "instances" || w == "instance" || w == "inst") return Resource::kInstances;
  if (w == "lanes" || w == "lane" || w == "trafficlane" || w == "trafficlanes") {
    return Resource::kLanes;
  }
  if (w == "routes" || w == "route") return Resource::kRoutes;
  if (w == "policies" || w == "policy" || w == "servicepolicy" || w == "servicepolicies") {
    return Resource::kPolicies;
  }
  if (w == "canaries" || w == "canary") return Resource::kCanaries;
  return Resource::kUnknown;
}

std::string ResourceKind(Resource r) {
  switch (r) {
    case Resource::kLanes:
      return wire::kTrafficLane;
    case Resource::kRoutes:
      return wire::kRoute;
    case Resource::kPolicies:
      return wire::kServicePolicy;
    case Resource::kCanaries:
      return wire::kCanary;
    default:
      return "";
  }
}

std::string ResourceName(Resource r) {
  switch (r) {
    case Resource::kServices:
      return "services";
    case Resource::kInstances:
      return "instances";
    case Resource::kLanes:
      return "lanes";
    case Resource::kRoutes:
      return "routes";
    case Resource::kPolicies:
      return "policies";
    case Resource::kCanaries:
      return "canaries";
    default:
      return "";
  }
}

std::string FormatTable(const Table& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

std::string FormatAge(int64_t ms) {
  int64_t s = std::max<int64_t>(ms, 0) / 1000;
  if (s < 120) return fmt::format("{}s", s);
  if (s < 2 * 3600) return fmt::format("{}m", s / 60);
  if (s < 2 * 86400) return fmt::format("{}h", s / 3600);
  return fmt::format("{}d", s / 86400);
}

Table MakeTable(Resource r, const std::vector<json>& items, int64_t now_ms) {
  Table t;
  switch (r) {
    case Resource::kServices:
      t.push_back({"NAME", "INSTANCES", "READY", "LANES"});
      for (const json& s : items) {
        t.push_back({Str(s, "name"), Str(s, "instances"), Str(s, "ready"), Lanes(s)});
      }
      break;
    case Resource::kInstances:
      t.push_back({"ID", "SERVICE", "ADDRESS", "LANE", "STATE", "WEIGHT", "AGE", "EJECTED-BY"});
      for (const json& i : items) {
        const size_t by = i.value("ejectedBy", json::array()).size();
        t.push_back({Str(i, "id"), Str(i, "service"), Str(i, "address"), Str(i, "lane", "-"),
                     Str(i, "state"), Str(i, "weight"),
                     FormatAge(now_ms - i.value("registeredAt", int64_t{0})),
                     by == 0 ? "-" : fmt::format("{} prox{}", by, by == 1 ? "y" : "ies")});
      }
      break;
    case Resource::kLanes:
      t.push_back({"NAME", "TAG", "PRIORITY", "ENTRANCE", "MATCHES", "FALLBACK"});
      for (const json& l : items) {
        const json& spec = Spec(l);
        size_t matches =
            spec.contains("entrance") ? spec["entrance"].value("match", json::array()).size() : 0;
        t.push_back({Str(l, "name"), Str(spec, "tag"), Str(spec, "priority"), Entrance(spec),
                     std::to_string(matches), Str(spec, "fallback", "base")});
      }
      break;
    case Resource::kRoutes:
      t.push_back({"NAME", "HOST", "PATH-PREFIX", "SERVICE"});
      for (const json& rt : items) {
        const json& spec = Spec(rt);
        t.push_back({Str(rt, "name"), Str(spec, "host", "*"), Str(spec, "pathPrefix", "/"),
                     Str(spec, "service")});
      }
      break;
    case Resource::kPolicies:
      t.push_back({"NAME", "WARMUP", "OUTLIER", "LOSSLESS", "FALLBACK"});
      for (const json& p : items) {
        const json& spec = Spec(p);
        t.push_back({Str(p, "name"), Warmup(spec), Outlier(spec), Lossless(spec),
                     Str(spec, "fallback", "-")});
      }
      break;
    case Resource::kCanaries:
      t.push_back({"NAME", "LANE", "STEPS", "INTERVAL", "MAX-ERROR-RATE", "MAX-P99"});
      for (const json& c : items) {
        const json& spec = Spec(c);
        std::string steps;
        for (const json& st : spec.value("steps", json::array())) {
          steps += (steps.empty() ? "" : ",") + st.dump();
        }
        t.push_back({Str(c, "name"), Str(spec, "lane"), steps, Str(spec, "interval"),
                     fmt::format("{:g}%", spec.value("maxErrorRate", 0.0) * 100),
                     Str(spec, "maxP99")});
      }
      break;
    case Resource::kUnknown:
      break;
  }
  return t;
}

std::string FormatYaml(Resource r, const std::vector<json>& items, bool single) {
  if (IsRule(r)) {
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out += "---\n";
      out += Emit(ToYaml(AsDocument(items[i])));
    }
    return out;
  }
  if (single && items.size() == 1) return Emit(ToYaml(items[0]));
  return Emit(ToYaml(json(items)));
}

std::string FormatJson(Resource r, const std::vector<json>& items, bool single) {
  std::vector<json> out = items;
  if (IsRule(r)) {
    for (json& j : out) j = AsDocument(j);
  }
  if (single && out.size() == 1) return out[0].dump(2) + "\n";
  return json(out).dump(2) + "\n";
}

}  // namespace graymesh::control
