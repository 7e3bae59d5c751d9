#include "proxy/snapshot.h"

#include <stdexcept>

#include "http/headers.h"
#include "lane/trace_map.h"
#include "net/listener.h"

namespace graymesh::proxy {

std::shared_ptr<const Snapshot> Snapshot::Compile(std::shared_ptr<const config::Config> cfg,
                                                  uint64_t version) {
  auto snap = std::make_shared<Snapshot>();
  snap->version_ = version;
  for (const config::Service& s : cfg->services) {
    ServiceInfo info{.name = s.name, .lb = s.lb, .endpoints = {},
                     .base_fallback_any_lane = s.base_fallback == config::BaseFallback::kAnyLane,
                     .protocol = s.protocol};
    for (const config::ServicePolicy& p : cfg->policies) {
      if (p.service == s.name && p.base_fallback) {
        info.base_fallback_any_lane = *p.base_fallback == config::BaseFallback::kAnyLane;
      }
      if (p.service == s.name && p.protocol) info.protocol = *p.protocol;
    }
    const config::UpstreamTls* tls = s.tls ? &*s.tls : nullptr;
    for (const config::ServicePolicy& p : cfg->policies) {
      if (p.service == s.name && p.tls) tls = &*p.tls;
    }
    if (tls != nullptr) {
      try {
        info.tls = std::make_shared<const tls::ClientContext>(*tls);
      } catch (const std::runtime_error& e) {
        throw std::runtime_error("service " + s.name + ": " + e.what());
      }
    }
    for (const config::Endpoint& e : s.endpoints) {
      info.endpoints.push_back({.address = net::Resolve(e.address.host, e.address.port),
                                .address_text = e.address.ToString(),
                                .weight = e.weight,
                                .lane = e.lane,
                                .ready_since_ms = e.ready_since_ms,
                                .host = e.address.host});
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
  // Lanes: fallbacks, compiled entrance rules for every place they apply, and
  // every tag interned for the loose-mode trace map.
  auto keep = [](std::shared_ptr<const lane::EntranceRules> r) {
    return r && !r->empty() ? r : nullptr;
  };
  for (const config::Lane& l : cfg->lanes) {
    snap->lane_fallback_.emplace_back(l.tag, l.fallback == config::Fallback::kBase);
    lane::LaneIds::Intern(l.tag);
  }
  for (const config::Listener& l : cfg->listeners) {
    if (l.kind != config::ListenerKind::kGateway && l.kind != config::ListenerKind::kTcp) continue;
    snap->gateway_rules_.emplace_back(
        l.name, keep(lane::EntranceRules::Compile(cfg->lanes, {.gateway = l.name, .service = ""})));
  }
  for (const ServiceInfo& svc : snap->services_) {
    snap->service_rules_.push_back(
        keep(lane::EntranceRules::Compile(cfg->lanes, {.gateway = "", .service = svc.name})));
    for (const EndpointInfo& e : svc.endpoints) {
      if (!e.lane.empty()) lane::LaneIds::Intern(e.lane);
    }
  }
  if (!cfg->node.service.empty()) {
    snap->inbound_rules_ =
        keep(lane::EntranceRules::Compile(cfg->lanes, {.gateway = "", .service = cfg->node.service}));
  }
  if (!cfg->node.lane.empty()) lane::LaneIds::Intern(cfg->node.lane);
  snap->carried_ = lane::CarriedKeys::Compile(cfg->lanes);
  for (const config::Lane& l : cfg->lanes) {
    for (const config::MatchClause& c : l.match) {
      snap->sticky_on_trace_ = snap->sticky_on_trace_ || (c.percent >= 0 && c.sticky_on == "trace");
    }
  }
  snap->config_ = std::move(cfg);
  return snap;
}

bool Snapshot::FallbackToBase(std::string_view tag) const {
  for (const auto& [t, base] : lane_fallback_) {
    if (t == tag) return base;
  }
  return true;
}

const lane::EntranceRules* Snapshot::GatewayRules(std::string_view listener) const {
  for (const auto& [name, rules] : gateway_rules_) {
    if (name == listener) return rules.get();
  }
  return nullptr;
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
