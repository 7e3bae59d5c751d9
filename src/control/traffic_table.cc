#include "control/traffic_table.h"

#include <fmt/format.h>

#include "control/cli_output.h"

namespace graymesh::control {
namespace {

using nlohmann::json;

double Num(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : 0.0;
}

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string LaneName(const std::string& lane) { return lane.empty() ? "base" : lane; }

// "gray>gray 1.2, base>base 10.5": requested>served and rps.
std::string Lanes(const json& item) {
  std::string out;
  auto it = item.find("byLane");
  if (it == item.end() || !it->is_array()) return "-";
  for (const json& l : *it) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{}>{} {:.1f}", LaneName(Str(l, "laneRequested")),
                       LaneName(Str(l, "laneServed")), Num(l, "rps"));
  }
  return out.empty() ? "-" : out;
}

std::string Percent(double share) { return fmt::format("{:.1f}%", share * 100); }
std::string Ms(double seconds) { return fmt::format("{:.1f}ms", seconds * 1000); }

}  // namespace

std::string FormatTraffic(const json& t) {
  std::string out = fmt::format("window {}s\n\n", Num(t, "windowSeconds"));
  Table services = {{"SERVICE", "RPS", "ERRORS", "P99", "LANES (requested>served rps)"}};
  for (const json& s : t.value("services", json::array())) {
    services.push_back({Str(s, "name"), fmt::format("{:.1f}", Num(s, "rps")),
                        Percent(Num(s, "errorRate")), Ms(Num(s, "p99Seconds")), Lanes(s)});
  }
  Table edges = {{"SOURCE", "DESTINATION", "RPS", "ERRORS", "P99", "GRAY", "FALLBACK/S",
                  "LANES (requested>served rps)"}};
  for (const json& e : t.value("edges", json::array())) {
    edges.push_back({Str(e, "source").empty() ? "-" : Str(e, "source"), Str(e, "destination"),
                     fmt::format("{:.1f}", Num(e, "rps")), Percent(Num(e, "errorRate")),
                     Ms(Num(e, "p99Seconds")), Percent(Num(e, "grayShare")),
                     fmt::format("{:.1f}", Num(e, "fallbacks")), Lanes(e)});
  }
  Table endpoints = {{"SERVICE", "ENDPOINT", "STATE", "WEIGHT", "EJECTIONS", "REPORTED BY"}};
  for (const json& e : t.value("endpoints", json::array())) {
    endpoints.push_back({Str(e, "service"), Str(e, "address"), Str(e, "state"),
                         fmt::format("{}", Num(e, "weight")), fmt::format("{}", Num(e, "ejections")),
                         Str(e, "reportedBy")});
  }
  out += services.size() > 1 ? FormatTable(services) : "No traffic reported in this window.\n";
  if (edges.size() > 1) out += "\n" + FormatTable(edges);
  if (endpoints.size() > 1) out += "\n" + FormatTable(endpoints);
  return out;
}

}  // namespace graymesh::control
