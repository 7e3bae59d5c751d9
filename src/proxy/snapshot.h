// A compiled, immutable view of the configuration: addresses resolved, names
// indexed. Built off the request path (at start or when the control plane
// pushes) and handed to every worker as shared_ptr<const Snapshot>.
#pragma once

#include <asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "lane/carried.h"
#include "lane/entrance.h"
#include "tls/client_context.h"

namespace graymesh::proxy {

struct EndpointInfo {
  asio::ip::tcp::endpoint address;
  std::string address_text;  // as configured, for logs and metrics
  uint32_t weight = 100;
  std::string lane;  // "" = base
  int64_t ready_since_ms = 0;  // registry readySince (unix ms); 0 = static
  std::string host;  // as configured (a name or an IP): the TLS name when no sni is set
};

struct ServiceInfo {
  std::string name;
  config::LbPolicy lb = config::LbPolicy::kRoundRobin;
  std::vector<EndpointInfo> endpoints;
  // Base requests may go to any instance when there is no base one: the
  // service's own setting, or its ServicePolicy's.
  bool base_fallback_any_lane = false;
  config::UpstreamProtocol protocol = config::UpstreamProtocol::kAuto;
  // TLS to its endpoints (the service's `tls` or its ServicePolicy's); null:
  // plaintext.
  std::shared_ptr<const tls::ClientContext> tls;
};

struct RouteInfo {
  std::string host;         // "" = any
  bool host_suffix = false;  // host was "*.example.com": stored as ".example.com"
  std::string path_prefix;
  int service = -1;
};

// Heterogeneous lookup: find a std::string key with a string_view, no copy.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class Snapshot {
 public:
  // Throws std::runtime_error when an endpoint cannot be resolved or a
  // service's TLS CA file cannot be loaded.
  static std::shared_ptr<const Snapshot> Compile(std::shared_ptr<const config::Config> cfg,
                                                 uint64_t version);

  uint64_t version() const { return version_; }
  const config::Config& config() const { return *config_; }
  const std::vector<ServiceInfo>& services() const { return services_; }

  // -1 when unknown.
  int FindService(std::string_view name) const;
  // First route matching host (port already stripped) and path; -1 when none.
  int MatchRoute(std::string_view host, std::string_view path) const;

  // ---- Lanes ----
  // Whether a request of lane `tag` may fall back to base endpoints.
  bool FallbackToBase(std::string_view tag) const;
  // Entrance rules at a gateway listener; null when there are none.
  const lane::EntranceRules* GatewayRules(std::string_view listener) const;
  // Rules for requests to service `i` (any caller) or, at this node's inbound
  // side, to this node's service; null when there are none.
  const lane::EntranceRules* ServiceRules(int i) const { return service_rules_[i].get(); }
  const lane::EntranceRules* InboundRules() const { return inbound_rules_.get(); }
  // The request keys this snapshot's service-scoped rules read, which every
  // hop carries on in baggage (lane/carried.h). Never null.
  const lane::CarriedKeys& Carried() const { return *carried_; }
  // Some lane keeps its share by trace id (`stickyOn: trace`, canaries): a
  // request without a traceparent gets one before its lane is chosen, so
  // every later hop of the trace decides alike.
  bool StickyOnTrace() const { return sticky_on_trace_; }

 private:
  uint64_t version_ = 0;
  std::shared_ptr<const config::Config> config_;
  std::vector<ServiceInfo> services_;
  std::unordered_map<std::string, int, StringHash, std::equal_to<>> by_name_;
  std::vector<RouteInfo> routes_;
  std::vector<std::pair<std::string, bool>> lane_fallback_;  // tag -> may fall back
  std::vector<std::pair<std::string, std::shared_ptr<const lane::EntranceRules>>> gateway_rules_;
  std::vector<std::shared_ptr<const lane::EntranceRules>> service_rules_;
  std::shared_ptr<const lane::EntranceRules> inbound_rules_;
  std::shared_ptr<const lane::CarriedKeys> carried_;
  bool sticky_on_trace_ = false;
};

}  // namespace graymesh::proxy
