#include "proxy/snapshot.h"

#include "http/headers.h"
#include "net/listener.h"

namespace graymesh::proxy {

std::shared_ptr<const Snapshot> Snapshot::Compile(std::shared_ptr<const config::Config> cfg,
                                                  uint64_t version) {
  auto snap = std::make_shared<Snapshot>();
  snap->version_ = version;
  for (const config::Service& s : cfg->services) {
    ServiceInfo info{.name = s.name, .lb = s.lb, .endpoints = {}};
    for (const config::Endpoint& e : s.endpoints) {
      info.endpoints.push_back({.address = net::Resolve(e.address.host, e.address.port),
                                .address_text = e.address.ToString(),
                                .weight = e.weight,
                                .lane = e.lane});
    }
    snap->by_name_.emplace(s.name, int(snap->services_.size()));
    snap->services_.push_back(std::move(info));
  }
  for (const config::Route& r : cfg->routes) {
    RouteInfo route{.host = r.host, .host_suffix = false, .path_prefix = r.path_prefix,
                    .service = snap->FindService(r.service)};
    if (route.host.starts_with("*.")) {
      route.host.erase(0, 1);
      route.host_suffix = true;
    }
    snap->routes_.push_back(std::move(route));
  }
  snap->config_ = std::move(cfg);
  return snap;
}

int Snapshot::FindService(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? -1 : it->second;
}

int Snapshot::MatchRoute(std::string_view host, std::string_view path) const {
  for (const RouteInfo& r : routes_) {
    if (!r.host.empty()) {
      if (r.host_suffix) {
        if (host.size() <= r.host.size() ||
            !http::IEquals(host.substr(host.size() - r.host.size()), r.host)) {
          continue;
        }
      } else if (!http::IEquals(host, r.host)) {
        continue;
      }
    }
    if (!path.starts_with(r.path_prefix)) continue;
    return r.service;
  }
  return -1;
}

}  // namespace graymesh::proxy
