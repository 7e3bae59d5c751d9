#include "proxy/endpoint_status.h"

#include <algorithm>

namespace graymesh::proxy {
namespace {

int Severity(health::State s) {
  switch (s) {
    case health::State::kDraining: return 3;
    case health::State::kEjected: return 2;
    case health::State::kWarming: return 1;
    case health::State::kHealthy: return 0;
  }
  return 0;
}

// Prometheus label values escape backslash, quote and newline.
std::string Label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::vector<health::EndpointStatus> MergedEndpointStatuses(
    const std::vector<std::unique_ptr<Worker>>& workers) {
  std::vector<health::EndpointStatus> out;
  for (const auto& w : workers) {
    for (health::EndpointStatus& st : w->EndpointStatuses()) {
      auto it = std::find_if(out.begin(), out.end(), [&](const health::EndpointStatus& o) {
        return o.service == st.service && o.address == st.address;
      });
      if (it == out.end()) {
        out.push_back(std::move(st));
        continue;
      }
      if (Severity(st.state) > Severity(it->state)) it->state = st.state;
      it->weight = std::min(it->weight, st.weight);
      it->ejections += st.ejections;
    }
  }
  return out;
}

nlohmann::json EndpointStatusJson(const std::vector<health::EndpointStatus>& rows) {
  nlohmann::json out = nlohmann::json::array();
  for (const health::EndpointStatus& r : rows) {
    out.push_back({{"service", r.service},
                   {"address", r.address},
                   {"state", health::StateName(r.state)},
                   {"weight", r.weight},
                   {"ejections", r.ejections}});
  }
  return out;
}

}  // namespace graymesh::proxy
