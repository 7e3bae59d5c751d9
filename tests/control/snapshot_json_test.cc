// config::Config <-> snapshot JSON, and the rule documents behind it.
#include "control/snapshot_build.h"
#include "wire/snapshot_json.h"

#include <gtest/gtest.h>

#include "config/config.h"
#include "wire/rule_json.h"

namespace graymesh::control {
namespace {

using nlohmann::json;

const char kConfig[] = R"(
listeners:
  - name: ingress
    address: 127.0.0.1:8080
routes:
  - host: "shop.example.com"
    pathPrefix: /order
    service: order
  - service: web
services:
  - name: order
    lb: least_request
    endpoints:
      - address: 10.0.0.1:9001
        weight: 30
        labels: { lane: gray, zone: a }
      - address: "[fd00::1]:9002"
  - name: web
lanes:
  - name: gray
    tag: gray
    priority: 10
    fallback: none
    entrance:
      gateway: ingress
      match:
        - headers: { x-user-id: { regex: "^1[0-9]{2}$" }, X-Env: gray }
          cookies: { env: { in: [gray, canary] } }
          query: { uid: { range: { min: 100, max: 199.5 } }, flag: { present: true } }
          path: { prefix: /order }
          method: { in: [GET, POST] }
          sourceService: { exact: "gateway" }
        - percent: 10
          stickyOn: header:X-User-Id
        - sourceAddress: { in: ["10.0.0.0/8", "fd00::/8"] }
          query: { gone: { present: false }, lo: { range: { max: 5 } } }
  - name: data-vip
    tag: gray
    entrance:
      service: data
      match:
        - headers: { x-user-id: { prefix: "9" } }
          baggage: { tenant: { exact: "acme corp" } }
  - name: quiet
    tag: quiet
)";

// Lanes compared by their canonical JSON: names inside a clause are a map
// there, so their order (not meaningful: AND) does not matter.
json LanesJson(const std::vector<config::Lane>& lanes) {
  json out = json::array();
  for (const config::Lane& l : lanes) out.push_back(wire::LaneSpecToJson(l));
  return out;
}

TEST(ControlSnapshotJson, ConfigRoundTripsThroughSnapshotJson) {
  config::Config cfg = config::ParseConfig(kConfig, "cfg.yaml");
  cfg.policies.push_back(
      config::ParseRuleDocuments(
          "kind: ServicePolicy\nname: order\nspec:\n  warmup: {window: 90s}\n"
          "  outlier: {consecutiveErrors: 3, interval: 1500ms, maxEjection: 90s,\n"
          "            slowCallThreshold: 200ms, errorStatuses: [502, 503],\n"
          "            errorGrpcStatuses: [14, 13]}\n  fallback: base\n  protocol: http2\n"
          "  tls: {ca: /etc/mesh/ca.pem, sni: api.example.com}\n",
          "p.yaml")[0]
          .policy);
  json j = wire::SnapshotToJson(cfg, 42);
  // Through text, as a proxy receives it.
  json wire = json::parse(j.dump());
  EXPECT_EQ(wire["version"], 42);

  config::Config back;
  back.listeners.push_back({.name = "mine", .address = {"127.0.0.1", 1}});
  back.timeouts.connect = config::Millis(123);
  wire::ApplySnapshotJson(wire, &back);

  ASSERT_EQ(back.services.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const config::Service& a = cfg.services[i];
    const config::Service& b = back.services[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.lb, b.lb);
    ASSERT_EQ(a.endpoints.size(), b.endpoints.size());
    for (size_t k = 0; k < a.endpoints.size(); ++k) {
      EXPECT_EQ(a.endpoints[k].address, b.endpoints[k].address);
      EXPECT_EQ(a.endpoints[k].weight, b.endpoints[k].weight);
      EXPECT_EQ(a.endpoints[k].labels, b.endpoints[k].labels);
      EXPECT_EQ(a.endpoints[k].lane, b.endpoints[k].lane);
    }
  }
  EXPECT_EQ(back.services[0].endpoints[1].address.host, "fd00::1");
  ASSERT_EQ(back.routes.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(back.routes[i].host, cfg.routes[i].host);
    EXPECT_EQ(back.routes[i].path_prefix, cfg.routes[i].path_prefix);
    EXPECT_EQ(back.routes[i].service, cfg.routes[i].service);
  }
  EXPECT_EQ(LanesJson(back.lanes), LanesJson(cfg.lanes));
  ASSERT_EQ(back.lanes.size(), 3u);
  EXPECT_EQ(back.lanes[0].match[1].sticky_on, "header:x-user-id");
  EXPECT_EQ(back.lanes[0].match[2].query.size(), 2u);
  ASSERT_EQ(back.lanes[1].match[0].baggage.size(), 1u) << "baggage conditions reach the proxies";
  EXPECT_EQ(back.lanes[1].match[0].baggage[0].first, "tenant");
  EXPECT_EQ(back.lanes[1].match[0].baggage[0].second.value, "acme corp");
  ASSERT_EQ(back.policies.size(), 1u);
  EXPECT_EQ(wire::PolicySpecToJson(back.policies[0]), wire::PolicySpecToJson(cfg.policies[0]));
  EXPECT_EQ(back.policies[0].outlier->interval, config::Millis(1500));
  EXPECT_EQ(back.policies[0].outlier->max_ejection, config::Millis(90'000));
  EXPECT_EQ(back.policies[0].outlier->slow_call_threshold, config::Millis(200));
  EXPECT_EQ(back.policies[0].outlier->error_statuses, (std::vector<uint16_t>{502, 503}));
  EXPECT_EQ(back.policies[0].outlier->error_grpc_statuses, (std::vector<uint16_t>{14, 13}));
  EXPECT_EQ(back.policies[0].protocol, config::UpstreamProtocol::kHttp2);
  ASSERT_TRUE(back.policies[0].tls.has_value()) << "TLS to upstreams reaches the proxies";
  EXPECT_EQ(back.policies[0].tls->ca, "/etc/mesh/ca.pem");
  EXPECT_EQ(back.policies[0].tls->sni, "api.example.com");
  // The proxy's own parts stay.
  ASSERT_EQ(back.listeners.size(), 1u);
  EXPECT_EQ(back.listeners[0].name, "mine");
  EXPECT_EQ(back.timeouts.connect, config::Millis(123));
  // And a second trip gives the same JSON: the canonical form is stable.
  EXPECT_EQ(wire::SnapshotToJson(back, 42), j);
}

TEST(ControlSnapshotJson, OnlyReadyEndpointsReachTheProxy) {
  wire::Snapshot s;
  s.version = 3;
  wire::SnapshotService& svc = s.services.emplace_back();
  svc.name = "order";
  for (auto [port, state] :
       {std::pair{1, InstanceState::kReady}, std::pair{2, InstanceState::kDraining},
        std::pair{3, InstanceState::kStarting}}) {
    wire::SnapshotEndpoint& e = svc.endpoints.emplace_back();
    e.endpoint.address = {"10.0.0.1", static_cast<uint16_t>(port)};
    e.state = state;
    e.ready_since_ms = state == InstanceState::kStarting ? 0 : 1000;
  }
  json j = wire::SnapshotToJson(s);
  EXPECT_EQ(j["services"][0]["endpoints"][1]["state"], "draining");
  EXPECT_EQ(j["services"][0]["endpoints"][1]["readySince"], 1000);
  wire::Snapshot parsed = wire::SnapshotFromJson(j);
  EXPECT_EQ(parsed.services[0].endpoints[2].state, InstanceState::kStarting);
  config::Config cfg;
  wire::ApplySnapshotJson(j, &cfg);
  ASSERT_EQ(cfg.services[0].endpoints.size(), 1u);
  EXPECT_EQ(cfg.services[0].endpoints[0].address.port, 1);
  // Warmup counts from it in the proxies.
  EXPECT_EQ(cfg.services[0].endpoints[0].ready_since_ms, 1000);
}

TEST(ControlSnapshotJson, ABadSnapshotChangesNothing) {
  config::Config cfg = config::ParseConfig(kConfig, "cfg.yaml");
  json good = wire::SnapshotToJson(cfg, 1);
  auto expect_refused = [&](json bad, const std::string& why) {
    config::Config into = cfg;
    EXPECT_ANY_THROW(wire::ApplySnapshotJson(bad, &into)) << why;
    EXPECT_EQ(LanesJson(into.lanes), LanesJson(cfg.lanes)) << why;
    EXPECT_EQ(into.services.size(), cfg.services.size()) << why;
  };
  json bad = good;
  bad["lanes"][0]["entrance"]["match"][0]["headers"]["x-user-id"]["regex"] = "^1[0-9{2}$";
  expect_refused(bad, "invalid regex");
  bad = good;
  bad["services"][0]["endpoints"][0]["weight"] = 0;
  expect_refused(bad, "weight 0");
  bad = good;
  bad["routes"][0]["service"] = "nowhere";
  expect_refused(bad, "route to an unknown service");
  bad = good;
  bad["services"][0]["endpoints"][0]["state"] = "sleepy";
  expect_refused(bad, "unknown state");
  expect_refused(json::array(), "not an object");
  bad = good;
  bad.erase("version");
  expect_refused(bad, "no version");
}

TEST(ControlSnapshotJson, BuildSnapshotOrdersRoutesAndAddsTheirServices) {
  StoreState state;
  state.revision = 9;
  auto route = [](std::string name, std::string spec) {
    return Rule{.kind = wire::kRoute, .name = std::move(name), .spec_json = std::move(spec)};
  };
  state.rules = {
      route("any", R"({"service":"web"})"),
      route("exact-short", R"({"host":"a.example.com","service":"web"})"),
      route("exact-long", R"({"host":"a.example.com","pathPrefix":"/api/v2","service":"api"})"),
      route("wild", R"({"host":"*.example.com","pathPrefix":"/x","service":"web"})"),
      route("any-prefix", R"({"pathPrefix":"/static","service":"web"})")};
  Instance i;
  i.spec.service = "web";
  i.spec.address = "10.0.0.1:80";
  i.spec.state = InstanceState::kReady;
  state.instances.push_back(i);
  wire::Snapshot s = BuildSnapshot(state);
  EXPECT_EQ(s.version, 9);
  std::vector<std::string> order;
  for (const wire::NamedRoute& r : s.routes) order.push_back(r.name);
  EXPECT_EQ(order,
            (std::vector<std::string>{"exact-long", "exact-short", "wild", "any-prefix", "any"}));
  ASSERT_EQ(s.services.size(), 2u);
  EXPECT_EQ(s.services[0].name, "api");
  EXPECT_TRUE(s.services[0].endpoints.empty());
  EXPECT_EQ(s.services[1].endpoints.size(), 1u);
}

// A lossless section sets only the fields it names, through the snapshot
// too: an unset drainTimeout must not turn into 30 s over the sidecar's own
// timeouts.drain.
TEST(ControlSnapshotJson, LosslessFieldsStayUnsetWhenTheDocumentOmitsThem) {
  config::Config cfg;
  int n = 0;
  for (const char* spec : {"{ delayRegistration: 2s }", "{ drainTimeout: 5s }", "{}"}) {
    cfg.policies.push_back(config::ParseRuleDocuments("kind: ServicePolicy\nname: p" +
                                                          std::to_string(++n) +
                                                          "\nspec:\n  lossless: " + spec + "\n",
                                                      "p.yaml")[0]
                               .policy);
  }
  json wire = json::parse(wire::SnapshotToJson(cfg, 1).dump());
  EXPECT_EQ(wire["policies"][0]["lossless"], json({{"delayRegistration", "2s"}}));
  EXPECT_EQ(wire["policies"][1]["lossless"], json({{"drainTimeout", "5s"}}));
  EXPECT_EQ(wire["policies"][2]["lossless"], json::object());
  config::Config back;
  wire::ApplySnapshotJson(wire, &back);
  ASSERT_EQ(back.policies.size(), 3u);
  for (const config::ServicePolicy& p : back.policies) ASSERT_TRUE(p.lossless);
  EXPECT_EQ(back.policies[0].lossless->delay_registration, config::Millis(2000));
  EXPECT_FALSE(back.policies[0].lossless->drain_timeout);
  EXPECT_FALSE(back.policies[1].lossless->delay_registration);
  EXPECT_EQ(back.policies[1].lossless->drain_timeout, config::Millis(5000));
  EXPECT_FALSE(back.policies[2].lossless->delay_registration);
  EXPECT_FALSE(back.policies[2].lossless->drain_timeout);
}

TEST(ControlRuleDocuments, ParsesEveryKindWithDefaults) {
  auto docs = config::ParseRuleDocuments(R"(
kind: ServicePolicy
name: order
spec:
  warmup: {}
  outlier: { consecutiveErrors: 0 }
  lossless: { drainTimeout: 0s }
---
---
kind: Route
name: r1
spec: { host: "*.Example.com", service: web }
)",
                                         "p.yaml");
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0].kind, "ServicePolicy");
  EXPECT_EQ(docs[0].line, 2);
  const config::ServicePolicy& p = docs[0].policy;
  EXPECT_EQ(p.service, "order");
  ASSERT_TRUE(p.warmup && p.outlier && p.lossless);
  EXPECT_EQ(p.warmup->window, config::Millis(120'000));
  EXPECT_EQ(p.warmup->aggression, 1.0);
  EXPECT_EQ(p.outlier->consecutive_errors, 0u);
  EXPECT_EQ(p.outlier->max_ejection_percent, 20u);
  EXPECT_EQ(p.lossless->drain_timeout, config::Millis(0));
  EXPECT_FALSE(p.fallback);
  EXPECT_EQ(docs[1].route.host, "*.example.com");
  EXPECT_EQ(docs[1].line, 10);
}

TEST(ControlRuleDocuments, ErrorsNameTheDocumentAndField) {
  auto error_of = [](const std::string& yaml) {
    try {
      config::ParseRuleDocuments(yaml, "r.yaml");
    } catch (const config::ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string head = "kind: ServicePolicy\nname: order\nspec:\n";
  EXPECT_EQ(error_of(head + "  warmup: { aggression: 0 }\n"),
            "r.yaml:4: document 1 (ServicePolicy order): spec.warmup.aggression: must be greater "
            "than 0 and at most 100, got 0");
  EXPECT_EQ(error_of(head + "  warmup: { window: 0s }\n"),
            "r.yaml:4: document 1 (ServicePolicy order): spec.warmup.window: must be greater "
            "than 0");
  EXPECT_EQ(error_of(head + "  outlier:\n    maxEjectionPercent: 120\n"),
            "r.yaml:5: document 1 (ServicePolicy order): spec.outlier.maxEjectionPercent: must "
            "be 0..100, got 120");
  EXPECT_EQ(error_of(head + "  lossless: { drainTimeout: soon }\n"),
            "r.yaml:4: document 1 (ServicePolicy order): spec.lossless.drainTimeout: invalid "
            "duration \"soon\": expected a number with unit ms, s, m or h (e.g. 250ms)");
  EXPECT_EQ(error_of(head + "  warmpu: {}\n"),
            "r.yaml:4: document 1 (ServicePolicy order): unknown key \"warmpu\" in spec");
  EXPECT_EQ(error_of(head + "  protocol: grpc\n"),
            "r.yaml:4: document 1 (ServicePolicy order): spec.protocol: must be http1, http2 or "
            "auto, got \"grpc\"");
  // A policy's CA file is a path on the proxies' hosts: not looked for here.
  EXPECT_EQ(error_of(head + "  tls: { ca: /not/here.pem, sni: a.example }\n"), "no error");
  EXPECT_EQ(error_of(head + "  tls: { cafile: x }\n"),
            "r.yaml:4: document 1 (ServicePolicy order): unknown key \"cafile\" in spec.tls");
  EXPECT_EQ(error_of(head + "  tls: { sni: 'a b' }\n"),
            "r.yaml:4: document 1 (ServicePolicy order): spec.tls.sni: must be a host name or an "
            "IP, got \"a b\"");
  EXPECT_EQ(error_of(head + "  outlier:\n    errorGrpcStatuses: [14, 17]\n"),
            "r.yaml:5: document 1 (ServicePolicy order): spec.outlier.errorGrpcStatuses[1]: "
            "must be 0..16, got 17");
  EXPECT_EQ(error_of(head + "  fallback: maybe\n"),
            "r.yaml:4: document 1 (ServicePolicy order): spec.fallback: must be base or none, "
            "got \"maybe\"");
  EXPECT_EQ(error_of("kind: Route\nname: Bad Name\nspec: {service: x}\n"),
            "r.yaml:2: document 1 (Route): name: must be at most 63 letters, digits, '-', '_' or "
            "'.', starting and ending with a letter or digit, got \"Bad Name\"");
  EXPECT_EQ(error_of("kind: Route\nname: r\n"),
            "r.yaml:1: document 1 (Route r): missing required key \"spec\"");
  EXPECT_EQ(error_of("- a\n- b\n"),
            "r.yaml:1: document 1: a rule document must be a map, got a list");
}

TEST(ControlRuleDocuments, CanonicalKind) {
  EXPECT_EQ(wire::CanonicalKind("trafficlane"), "TrafficLane");
  EXPECT_EQ(wire::CanonicalKind("ROUTE"), "Route");
  EXPECT_EQ(wire::CanonicalKind("ServicePolicy"), "ServicePolicy");
  EXPECT_EQ(wire::CanonicalKind("Routes"), "");
  EXPECT_EQ(wire::FormatDuration(config::Millis(1500)), "1500ms");
  EXPECT_EQ(wire::FormatDuration(config::Millis(120'000)), "120s");
}

wire::SnapshotEndpoint Ep(const std::string& address, const std::string& lane,
                    InstanceState state = InstanceState::kReady) {
  wire::SnapshotEndpoint e;
  e.endpoint.address = config::ParseHostPort(address);
  e.endpoint.lane = lane;
  if (!lane.empty()) e.endpoint.labels["lane"] = lane;
  e.state = state;
  return e;
}

// The fill period: the new registry plus what the last good snapshot had and
// the new one does not name.
TEST(SnapshotJson, MergeForFillAddsWhatTheNewRegistryLacks) {
  wire::Snapshot old;
  old.services = {{"data", config::LbPolicy::kRoundRobin,
                   {Ep("127.0.0.1:1", ""), Ep("127.0.0.1:2", "gray"), Ep("127.0.0.1:3", "")}},
                  {"order", config::LbPolicy::kRoundRobin, {Ep("127.0.0.1:4", "")}}};
  old.routes = {{"shop", config::Route{.host = "", .path_prefix = "/", .service = "order"}},
                {"api", config::Route{.host = "", .path_prefix = "/api", .service = "data"}}};
  config::Lane lane;
  lane.name = "gray";
  lane.tag = "gray";
  old.lanes = {lane};
  wire::Snapshot fresh;
  fresh.store = "b";
  fresh.filling_until_ms = 5;
  // data-gray came back; :3 is draining: the new registry's word counts.
  fresh.services = {{"data", config::LbPolicy::kRoundRobin,
                     {Ep("127.0.0.1:2", "gray"), Ep("127.0.0.1:3", "", InstanceState::kDraining)}}};
  fresh.routes = {{"shop", config::Route{.host = "", .path_prefix = "/", .service = "data"}}};

  wire::Snapshot m = wire::MergeForFill(fresh, old);
  EXPECT_EQ(m.store, "b");
  EXPECT_EQ(m.filling_until_ms, 5);
  ASSERT_EQ(m.services.size(), 2u);
  EXPECT_EQ(m.services[0].name, "data");
  ASSERT_EQ(m.services[0].endpoints.size(), 3u);
  EXPECT_EQ(m.services[0].endpoints[1].state, InstanceState::kDraining);
  EXPECT_EQ(m.services[0].endpoints[2].endpoint.address.port, 1);
  EXPECT_EQ(m.services[1].name, "order");
  ASSERT_EQ(m.routes.size(), 2u);
  EXPECT_EQ(m.routes[0].name, "api") << "match order: the longer prefix first";
  EXPECT_EQ(m.routes[1].route.service, "data") << "the new rule wins";
  ASSERT_EQ(m.lanes.size(), 1u);

  // Through JSON and a proxy's config: the draining endpoint stays out.
  config::Config cfg;
  wire::ApplySnapshotJson(wire::SnapshotToJson(m), &cfg);
  ASSERT_EQ(cfg.services[0].endpoints.size(), 2u);
  EXPECT_EQ(wire::SnapshotFromJson(wire::SnapshotToJson(m)).store, "b");
}

TEST(SnapshotJson, StoreAndFillingUntilMustHaveTheirTypes) {
  json j = wire::SnapshotToJson(config::Config{}, 3);
  EXPECT_EQ(j["store"], "");
  EXPECT_EQ(j["fillingUntil"], 0);
  j["store"] = 7;
  EXPECT_THROW(wire::SnapshotFromJson(j), std::invalid_argument);
  j["store"] = "x";
  j["fillingUntil"] = "soon";
  EXPECT_THROW(wire::SnapshotFromJson(j), std::invalid_argument);
}

// Found by fuzz/snapshot_json_fuzz.cc: a service's "lb" that is not a string
// threw nlohmann's type_error instead of the snapshot's own error.
TEST(SnapshotJson, AServiceLbMustBeAString) {
  json j = {{"version", 1}, {"services", {{{"name", "a"}, {"lb", json::array()}}}}};
  try {
    wire::SnapshotFromJson(j);
    ADD_FAILURE() << "accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "snapshot: services[].lb: not a string");
  }
  j["services"][0]["lb"] = "least_request";
  EXPECT_EQ(wire::SnapshotFromJson(j).services.at(0).lb, config::LbPolicy::kLeastRequest);
}

}  // namespace
}  // namespace graymesh::control
