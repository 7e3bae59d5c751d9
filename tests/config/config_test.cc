// ParseConfig / LoadConfigFile: values land in the right fields, defaults hold,
// and every rejected input names the file, the line and the field.
#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

namespace graymesh::config {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace std::chrono_literals;

// Line numbers in the error tests below count from the first line of the raw
// string, which starts right after R"( .
constexpr const char* kFull = R"(workers: 4
listeners:
  - name: ingress
    kind: gateway
    address: 127.0.0.1:8080
  - name: in
    kind: inbound
    address: "[::1]:15006"
    service: app
  - name: out
    kind: outbound
    address: localhost:15001
routes:
  - host: "Shop.Example.com"
    pathPrefix: /order
    service: order
  - host: "*.example.com"
    service: web
  - service: web
services:
  - name: order
    lb: least_request
    endpoints:
      - address: 127.0.0.1:9001
        weight: 100
        labels: { lane: gray, zone: a }
      - address: 10.0.0.2:9002
  - name: web
    endpoints: []
timeouts: { headerRead: 5s, idle: 1.5m, connect: 250ms, response: 30, drain: 0 }
limits: { maxHeaderBytes: 32Ki, maxBodyBytes: 1Gi, maxConnections: 1000 }
upstream: { maxIdlePerEndpoint: 8, idleTimeout: 1h }
)";

TEST(ConfigParse, FullExample) {
  const Config c = ParseConfig(kFull, "gw.yaml");
  EXPECT_EQ(c.workers, 4);

  ASSERT_EQ(c.listeners.size(), 3u);
  EXPECT_EQ(c.listeners[0].name, "ingress");
  EXPECT_EQ(c.listeners[0].kind, ListenerKind::kGateway);
  EXPECT_EQ(c.listeners[0].address, (HostPort{"127.0.0.1", 8080}));
  EXPECT_EQ(c.listeners[0].service, "");
  EXPECT_EQ(c.listeners[1].kind, ListenerKind::kInbound);
  EXPECT_EQ(c.listeners[1].address, (HostPort{"::1", 15006}));
  EXPECT_EQ(c.listeners[1].service, "app");  // not in `services`, and that is fine
  EXPECT_EQ(c.listeners[2].kind, ListenerKind::kOutbound);
  EXPECT_EQ(c.listeners[2].address, (HostPort{"localhost", 15001}));

  ASSERT_EQ(c.routes.size(), 3u);
  EXPECT_EQ(c.routes[0].host, "shop.example.com");  // lower-cased
  EXPECT_EQ(c.routes[0].path_prefix, "/order");
  EXPECT_EQ(c.routes[0].service, "order");
  EXPECT_EQ(c.routes[1].host, "*.example.com");
  EXPECT_EQ(c.routes[1].path_prefix, "");
  EXPECT_EQ(c.routes[2].host, "");
  EXPECT_EQ(c.routes[2].service, "web");

  ASSERT_EQ(c.services.size(), 2u);
  const Service& order = c.services[0];
  EXPECT_EQ(order.name, "order");
  EXPECT_EQ(order.lb, LbPolicy::kLeastRequest);
  ASSERT_EQ(order.endpoints.size(), 2u);
  EXPECT_EQ(order.endpoints[0].address, (HostPort{"127.0.0.1", 9001}));
  EXPECT_EQ(order.endpoints[0].weight, 100u);
  EXPECT_EQ(order.endpoints[0].labels,
            (std::map<std::string, std::string>{{"lane", "gray"}, {"zone", "a"}}));
  EXPECT_EQ(order.endpoints[0].lane, "gray");
  EXPECT_EQ(order.endpoints[1].weight, 100u);  // default
  EXPECT_EQ(order.endpoints[1].lane, "");      // base lane
  EXPECT_EQ(c.services[1].lb, LbPolicy::kRoundRobin);
  EXPECT_TRUE(c.services[1].endpoints.empty());

  EXPECT_EQ(c.timeouts.header_read, 5s);
  EXPECT_EQ(c.timeouts.idle, 90s);
  EXPECT_EQ(c.timeouts.connect, 250ms);
  EXPECT_EQ(c.timeouts.response, 30s);
  EXPECT_EQ(c.timeouts.drain, 0ms);
  EXPECT_EQ(c.limits.max_header_bytes, 32u * 1024);
  EXPECT_EQ(c.limits.max_body_bytes, 1ull << 30);
  EXPECT_EQ(c.limits.max_connections, 1000u);
  EXPECT_EQ(c.upstream.max_idle_per_endpoint, 8u);
  EXPECT_EQ(c.upstream.idle_timeout, 1h);
}

void ExpectDefaults(const Config& c) {
  const Config d;
  EXPECT_EQ(c.workers, 0);
  EXPECT_TRUE(c.listeners.empty());
  EXPECT_TRUE(c.routes.empty());
  EXPECT_TRUE(c.services.empty());
  EXPECT_EQ(c.timeouts.header_read, d.timeouts.header_read);
  EXPECT_EQ(c.timeouts.idle, d.timeouts.idle);
  EXPECT_EQ(c.timeouts.connect, d.timeouts.connect);
  EXPECT_EQ(c.timeouts.response, d.timeouts.response);
  EXPECT_EQ(c.timeouts.drain, d.timeouts.drain);
  EXPECT_EQ(c.limits.max_header_bytes, d.limits.max_header_bytes);
  EXPECT_EQ(c.limits.max_body_bytes, d.limits.max_body_bytes);
  EXPECT_EQ(c.limits.max_connections, d.limits.max_connections);
  EXPECT_EQ(c.upstream.max_idle_per_endpoint, d.upstream.max_idle_per_endpoint);
  EXPECT_EQ(c.upstream.idle_timeout, d.upstream.idle_timeout);
}

TEST(ConfigParse, EmptyFileIsAllDefaults) {
  ExpectDefaults(ParseConfig("", "gw.yaml"));
  ExpectDefaults(ParseConfig("# only a comment\n", "gw.yaml"));
}

TEST(ConfigParse, EmptySectionsAreDefaults) {
  ExpectDefaults(ParseConfig("listeners: []\nroutes:\nservices: []\ntimeouts: {}\n"
                             "limits: {}\nupstream:\n",
                             "gw.yaml"));
}

TEST(ConfigParse, PartialSectionKeepsOtherDefaults) {
  const Config c = ParseConfig("timeouts: { idle: 5s }\nlimits: { maxBodyBytes: 0 }\n", "x");
  EXPECT_EQ(c.timeouts.idle, 5s);
  EXPECT_EQ(c.timeouts.connect, Timeouts().connect);
  EXPECT_EQ(c.limits.max_body_bytes, 0u);  // 0 = no limit
  EXPECT_EQ(c.limits.max_header_bytes, Limits().max_header_bytes);
}

TEST(ConfigParse, ListenerKindDefaultsToGateway) {
  const Config c = ParseConfig("listeners: [{ name: a, address: '0.0.0.0:80' }]\n", "x");
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].kind, ListenerKind::kGateway);
}

// Asserts that parsing fails at `line` of gw.yaml with `reason` in the message.
void ExpectError(const std::string& yaml, int line, const std::string& reason) {
  try {
    ParseConfig(yaml, "gw.yaml");
    ADD_FAILURE() << "parsed fine; wanted line " << line << ": " << reason;
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.file(), "gw.yaml");
    EXPECT_EQ(e.line(), line) << e.what();
    EXPECT_THAT(e.what(), StartsWith("gw.yaml:" + std::to_string(line) + ": "));
    EXPECT_THAT(e.what(), HasSubstr(reason));
  }
}

TEST(ConfigReject, WeightOutOfRange) {
  ExpectError(R"(services:
  - name: order
    endpoints:
      - address: 127.0.0.1:9001
      - address: 127.0.0.1:9002
        weight: 0
)",
              6, "services[0].endpoints[1].weight: must be 1..10000, got 0");
  ExpectError("services: [{ name: a, endpoints: [{ address: 'h:1', weight: 10001 }] }]", 1,
              "services[0].endpoints[0].weight: must be 1..10000, got 10001");
  ExpectError("services: [{ name: a, endpoints: [{ address: 'h:1', weight: -5 }] }]", 1,
              "weight: must be 1..10000, got -5");
}

TEST(ConfigParse, ServiceProtocolAndListenerTls) {
  const Config c = ParseConfig(
      "listeners: [{ name: a, address: '0.0.0.0:443', tls: { cert: c.pem, key: k.pem,\n"
      "  sni: [{ serverName: b.test, cert: b.pem, key: bk.pem }] } }]\n"
      "services: [{ name: s, protocol: http2 }, { name: t }, { name: u, protocol: http1 }]\n",
      "x");
  ASSERT_TRUE(c.listeners[0].tls.has_value());
  ASSERT_EQ(c.listeners[0].tls->certs.size(), 2u);
  EXPECT_EQ(c.listeners[0].tls->certs[0].cert, "c.pem");
  EXPECT_EQ(c.listeners[0].tls->certs[1].server_name, "b.test");
  EXPECT_EQ(c.services[0].protocol, UpstreamProtocol::kHttp2);
  EXPECT_EQ(c.services[1].protocol, UpstreamProtocol::kAuto);
  EXPECT_EQ(c.services[2].protocol, UpstreamProtocol::kHttp1);
}

TEST(ConfigReject, ServiceProtocolAndListenerTls) {
  ExpectError("services: [{ name: a, protocol: h2c }]", 1,
              "services[0].protocol: must be http1, http2 or auto, got \"h2c\"");
  ExpectError("listeners: [{ name: a, address: '0.0.0.0:1', tls: { cert: c.pem } }]", 1,
              "listeners[0].tls: needs both \"cert\" and \"key\"");
  ExpectError("listeners: [{ name: a, kind: inbound, service: s, address: '0.0.0.0:1',\n"
              "  tls: { cert: c.pem, key: k.pem } }]",
              2, "listeners[0].tls: only valid for kind gateway");
  ExpectError("listeners: [{ name: a, address: '0.0.0.0:1', tls: { cert: c, key: k,\n"
              "  sni: [{ serverName: b, cert: c }] } }]",
              2, "needs \"serverName\", \"cert\" and \"key\"");
}

TEST(ConfigParse, ServiceTls) {
  const std::string ca = ::testing::TempDir() + "/config_test_ca.pem";
  std::ofstream(ca) << "not checked here, only readable\n";
  const Config c = ParseConfig("services:\n  - { name: s, tls: { ca: " + ca +
                                   ", sni: api.example.com } }\n  - { name: t, tls: {} }\n"
                                   "  - { name: u }\n",
                               "x");
  ASSERT_TRUE(c.services[0].tls.has_value());
  EXPECT_EQ(c.services[0].tls->ca, ca);
  EXPECT_EQ(c.services[0].tls->sni, "api.example.com");
  ASSERT_TRUE(c.services[1].tls.has_value()) << "tls: {} is TLS with the system roots";
  EXPECT_EQ(c.services[1].tls->ca, "");
  EXPECT_FALSE(c.services[2].tls.has_value());
}

TEST(ConfigReject, ServiceTls) {
  ExpectError("services:\n  - name: s\n    tls:\n      ca: /nonexistent/ca.pem\n", 4,
              "services[0].tls.ca: cannot read CA file \"/nonexistent/ca.pem\": No such file or "
              "directory");
  ExpectError("services: [{ name: s, tls: { verify: false } }]", 1,
              "unknown key \"verify\" in services[0].tls");
  ExpectError("services: [{ name: s, tls: { sni: '' } }]", 1, "services[0].tls.sni");
  ExpectError("services: [{ name: s, tls: { sni: 'a/b' } }]", 1,
              "services[0].tls.sni: must be a host name or an IP, got \"a/b\"");
}

TEST(ConfigReject, WeightNotANumber) {
  ExpectError(R"(services:
  - name: order
    endpoints:
      - address: 127.0.0.1:9001
        weight: abc
)",
              5, "services[0].endpoints[0].weight: expected an integer 1..10000, got \"abc\"");
  ExpectError(R"(services:
  - name: order
    endpoints:
      - address: 127.0.0.1:9001
        weight: 1.5
)",
              5, "weight: expected an integer");
}

TEST(ConfigReject, YamlSyntax) {
  ExpectError(R"(listeners:
  - name: a
   address: 127.0.0.1:80
services: []
)",
              3, "invalid YAML: end of sequence not found");
  ExpectError("workers: 1\ntimeouts:\n  idle: 5s\n connect: 1s\n", 4, "invalid YAML");
  ExpectError("workers: 1\n\tlisteners: []\n", 2, "invalid YAML: illegal tab");
  // An unclosed flow map is only noticed at the end of the input (line 3).
  ExpectError("workers: 1\ntimeouts: { idle: 5s\n", 3, "invalid YAML");
}

TEST(ConfigReject, UnknownKeys) {
  ExpectError(R"(workers: 1
timeouts:
  idle: 5s
  timout: 3s
)",
              4, "unknown key \"timout\" in timeouts");
  ExpectError("workers: 1\nlistner: []\n", 2, "unknown key \"listner\" at top level");
  ExpectError(R"(services:
  - name: a
    endpoints:
      - address: h:1
        lable: { lane: gray }
)",
              5, "unknown key \"lable\" in services[0].endpoints[0]");
  ExpectError("routes:\n  - service: a\n    path_prefix: /x\nservices: [{ name: a }]\n", 3,
              "unknown key \"path_prefix\" in routes[0]");
}

TEST(ConfigReject, DuplicateKey) {
  ExpectError("limits:\n  maxConnections: 5\n  maxConnections: 6\n", 3,
              "duplicate key \"maxConnections\" in limits");
}

TEST(ConfigReject, DuplicateServiceName) {
  ExpectError(R"(services:
  - name: order
  - name: web
  - name: order
)",
              4, "services[2].name: duplicate service name \"order\"");
}

TEST(ConfigReject, DuplicateListenerName) {
  ExpectError(R"(listeners:
  - name: a
    address: 127.0.0.1:80
  - name: a
    address: 127.0.0.1:81
)",
              4, "listeners[1].name: duplicate listener name \"a\"");
}

TEST(ConfigReject, DuplicateListenerAddress) {
  ExpectError(R"(listeners:
  - name: a
    address: 127.0.0.1:80
  - name: b
    address: 127.0.0.1:80
)",
              5, "listeners[1].address: 127.0.0.1:80 is already used by listener \"a\"");
}

TEST(ConfigReject, RouteToUnknownService) {
  ExpectError(R"(routes:
  - pathPrefix: /
    service: ordr
services:
  - name: order
)",
              3, "routes[0].service: unknown service \"ordr\"");
}

TEST(ConfigReject, RouteMissingService) {
  ExpectError("routes:\n  - host: a.com\n", 2, "routes[0]: missing required key \"service\"");
}

TEST(ConfigReject, RouteBadHostAndPrefix) {
  ExpectError("services: [{name: a}]\nroutes:\n  - host: 'a.com:80'\n    service: a\n", 3,
              "routes[0].host: must be a host name or \"*.suffix\"");
  ExpectError("services: [{name: a}]\nroutes:\n  - host: '*'\n    service: a\n", 3,
              "routes[0].host:");
  ExpectError("services: [{name: a}]\nroutes:\n  - pathPrefix: order\n    service: a\n", 3,
              "routes[0].pathPrefix: must start with '/'");
}

TEST(ConfigReject, InboundWithoutService) {
  ExpectError(R"(listeners:
  - name: in
    kind: inbound
    address: 127.0.0.1:15006
)",
              2, "listeners[0]: missing required key \"service\"");
  ExpectError(R"(listeners:
  - name: in
    kind: inbound
    address: 127.0.0.1:15006
    service: ""
)",
              5, "listeners[0].service: must not be empty");
}

TEST(ConfigReject, EmptyValuePointsAtItsKey) {
  ExpectError(R"(listeners:
  - name: in
    service:
    kind: inbound
    address: 127.0.0.1:15006
)",
              3, "listeners[0].service: expected a string, got nothing");
  ExpectError("workers: 1\nlimits:\n  maxConnections:\n", 3,
              "limits.maxConnections: expected an integer 1..4294967295, got nothing");
}

// Aliases are refused outright (limits_test.cc), a cyclic one included.
TEST(ConfigReject, CyclicAliasIsJustAnError) {
  ExpectError("workers: 1\nloop: &x [1, *x]\n", 2, "aliases are not allowed");
  ExpectError("workers: 1\nservices: &x [*x]\n", 2, "aliases are not allowed");
}

TEST(ConfigReject, ServiceOnlyForInbound) {
  ExpectError("listeners:\n  - name: g\n    address: h:1\n    service: app\n", 4,
              "listeners[0].service: only valid for kind inbound or tcp");
}

TEST(ConfigReject, ListenerBadKind) {
  ExpectError("listeners:\n  - name: g\n    kind: gatway\n    address: h:1\n", 3,
              "listeners[0].kind: must be gateway, inbound, outbound or tcp, got \"gatway\"");
}

TEST(ConfigReject, ListenerPortZero) {
  ExpectError("listeners:\n  - name: g\n    address: 127.0.0.1:0\n", 3,
              "listeners[0].address: port must be 1..65535, got 0");
}

TEST(ConfigReject, BadAddress) {
  ExpectError("listeners:\n  - name: g\n    address: 127.0.0.1\n", 3,
              "listeners[0].address: invalid address \"127.0.0.1\": missing port");
  ExpectError("services:\n  - name: a\n    endpoints:\n      - address: h:http\n", 4,
              "services[0].endpoints[0].address: invalid address \"h:http\"");
  ExpectError("services:\n  - name: a\n    endpoints:\n      - weight: 5\n", 4,
              "services[0].endpoints[0]: missing required key \"address\"");
}

TEST(ConfigReject, MissingNames) {
  ExpectError("listeners:\n  - address: h:1\n", 2,
              "listeners[0]: missing required key \"name\"");
  ExpectError("services:\n  - lb: round_robin\n", 2,
              "services[0]: missing required key \"name\"");
  ExpectError("services:\n  - name: ''\n", 2, "services[0].name: must not be empty");
}

TEST(ConfigReject, BadLbPolicy) {
  ExpectError("services:\n  - name: a\n    lb: random\n", 3,
              "services[0].lb: must be round_robin or least_request, got \"random\"");
}

TEST(ConfigReject, BadBaseFallback) {
  ExpectError("services:\n  - name: a\n    baseFallback: any\n", 3,
              "services[0].baseFallback: must be none or anyLane, got \"any\"");
}

TEST(ConfigReject, WrongTypes) {
  ExpectError("services:\n  name: a\n", 2, "services: expected a list, got a map");
  ExpectError("listeners: 5\n", 1, "listeners: expected a list, got \"5\"");
  ExpectError("timeouts:\n  - idle: 5s\n", 2, "timeouts: expected a map, got a list");
  ExpectError("services:\n  - order\n", 2, "services[0]: expected a map, got \"order\"");
  ExpectError("services:\n  - name: [a, b]\n", 2,
              "services[0].name: expected a string, got a list");
  ExpectError("services:\n  - name: a\n    endpoints:\n      - address: h:1\n"
              "        labels: [gray]\n",
              5, "services[0].endpoints[0].labels: expected a map, got a list");
  ExpectError("services:\n  - name: a\n    endpoints:\n      - address: h:1\n"
              "        labels: { lane: { x: y } }\n",
              5, "services[0].endpoints[0].labels.lane: expected a string, got a map");
  ExpectError("- a\n- b\n", 1, "top level: expected a map, got a list");
  ExpectError("workers: many\n", 1, "workers: expected an integer 0..1024, got \"many\"");
  ExpectError("workers: 99999\n", 1, "workers: must be 0..1024, got 99999");
}

TEST(ConfigReject, BadDurations) {
  ExpectError("timeouts:\n  idle: 5s\n  connect: soon\n", 3,
              "timeouts.connect: invalid duration \"soon\"");
  ExpectError("timeouts:\n  response: -1s\n", 2,
              "timeouts.response: invalid duration \"-1s\": must not be negative");
  ExpectError("timeouts:\n  headerRead: 0s\n", 2, "timeouts.headerRead: must be greater than 0");
  ExpectError("upstream:\n  idleTimeout: 10d\n", 2, "upstream.idleTimeout: invalid duration");
}

TEST(ConfigReject, BadLimits) {
  ExpectError("limits:\n  maxHeaderBytes: 64KB\n", 2,
              "limits.maxHeaderBytes: invalid byte size \"64KB\"");
  ExpectError("limits:\n  maxHeaderBytes: 100\n", 2,
              "limits.maxHeaderBytes: must be 1024..4294967295, got 100");
  ExpectError("limits:\n  maxHeaderBytes: 4Gi\n", 2, "limits.maxHeaderBytes: must be");
  ExpectError("limits:\n  maxConnections: 0\n", 2, "limits.maxConnections: must be 1..");
}

class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("graymesh_config_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(ConfigFileTest, LoadsFile) {
  const Config c = LoadConfigFile(Write("gw.yaml", kFull));
  EXPECT_EQ(c.workers, 4);
  EXPECT_EQ(c.services.size(), 2u);
}

TEST_F(ConfigFileTest, ErrorsNameThePath) {
  const std::string path = Write("bad.yaml", "workers: 1\nworkerz: 2\n");
  try {
    LoadConfigFile(path);
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.file(), path);
    EXPECT_EQ(e.line(), 2);
    EXPECT_THAT(e.what(), StartsWith(path + ":2: unknown key \"workerz\""));
  }
}

TEST_F(ConfigFileTest, MissingFile) {
  const std::string path = (dir_ / "nope.yaml").string();
  try {
    LoadConfigFile(path);
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.line(), 0);
    EXPECT_EQ(std::string(e.what()), path + ":0: cannot read: No such file or directory");
  }
}

TEST_F(ConfigFileTest, DirectoryIsUnreadable) {
  try {
    LoadConfigFile(dir_.string());
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.line(), 0);
    EXPECT_THAT(e.what(), HasSubstr(":0: cannot read: Is a directory"));
  }
}

// docs/config.md must show a config that actually loads.
TEST(ConfigDocs, ExampleParses) {
  std::ifstream in(GRAYMESH_CONFIG_DOC);
  ASSERT_TRUE(in) << "cannot open " << GRAYMESH_CONFIG_DOC;
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  const std::string open = "```yaml\n";
  const size_t start = doc.find(open);
  ASSERT_NE(start, std::string::npos) << "no ```yaml block";
  const size_t end = doc.find("```", start + open.size());
  ASSERT_NE(end, std::string::npos);
  const Config c = ParseConfig(doc.substr(start + open.size(), end - start - open.size()),
                               "docs/config.md");
  EXPECT_FALSE(c.listeners.empty());
  EXPECT_FALSE(c.services.empty());
}

}  // namespace
}  // namespace graymesh::config

namespace graymesh::config {
namespace {

TEST(ConfigParse, ListenerTrust) {
  Config c = ParseConfig(R"(listeners:
  - name: ingress
    address: 127.0.0.1:8080
  - name: edge
    address: 127.0.0.1:8081
    trust: loopback
  - name: in
    kind: inbound
    address: 127.0.0.1:15006
    service: order
    trust: [10.0.0.0/8, "::1"]
  - name: open
    address: 127.0.0.1:8082
    trust: all
)",
                         "t.yaml");
  ASSERT_EQ(c.listeners.size(), 4u);
  EXPECT_EQ(c.listeners[0].trust.mode, Trust::Mode::kDefault);
  EXPECT_EQ(c.listeners[1].trust.mode, Trust::Mode::kLoopback);
  EXPECT_EQ(c.listeners[2].trust.mode, Trust::Mode::kCidrs);
  EXPECT_EQ(c.listeners[2].trust.cidrs, (std::vector<std::string>{"10.0.0.0/8", "::1"}));
  EXPECT_EQ(c.listeners[3].trust.mode, Trust::Mode::kAll);
}

TEST(ConfigReject, ListenerTrust) {
  ExpectError("listeners:\n  - name: g\n    address: h:1\n    trust: everyone\n", 4,
              "listeners[0].trust: must be none, loopback, all or a list of IPs/CIDRs, got "
              "\"everyone\"");
  ExpectError("listeners:\n  - name: g\n    address: h:1\n    trust: [10.0.0.0/40]\n", 4,
              "listeners[0].trust[0]: expected an IP address or CIDR, got \"10.0.0.0/40\"");
  ExpectError("listeners:\n  - name: g\n    address: h:1\n    trust: []\n", 4,
              "listeners[0].trust: must not be empty (use none)");
}

}  // namespace
}  // namespace graymesh::config

namespace graymesh::config {
namespace {

TEST(ConfigParse, EndpointHealthSections) {
  Config c = ParseConfig(R"(services:
  - name: payment
    outlier: { consecutiveErrors: 3, baseEjection: 10s, slowCallThreshold: 250ms,
               slowCallPercent: 40, errorStatuses: [502, 503] }
    warmup: { window: 60s, aggression: 2, minWeightPercent: 5 }
upstream: { health: false }
)",
                         "gw.yaml");
  ASSERT_EQ(c.services.size(), 1u);
  const Service& s = c.services[0];
  ASSERT_TRUE(s.outlier && s.warmup);
  EXPECT_EQ(s.outlier->consecutive_errors, 3u);
  EXPECT_EQ(s.outlier->base_ejection, Millis(10'000));
  EXPECT_EQ(s.outlier->max_ejection, Millis(300'000));
  EXPECT_EQ(s.outlier->slow_call_threshold, Millis(250));
  EXPECT_EQ(s.outlier->slow_call_percent, 40u);
  EXPECT_EQ(s.outlier->error_statuses, (std::vector<uint16_t>{502, 503}));
  EXPECT_EQ(s.warmup->window, Millis(60'000));
  EXPECT_EQ(s.warmup->min_weight_percent, 5u);
  EXPECT_FALSE(c.upstream.health);
  EXPECT_TRUE(ParseConfig("", "gw.yaml").upstream.health);
  // A base ejection longer than the default cap raises the cap with it.
  Config long_base = ParseConfig(
      "services: [{ name: a, outlier: { baseEjection: 10m } }]\n", "gw.yaml");
  EXPECT_EQ(long_base.services[0].outlier->max_ejection, Millis(600'000));
}

TEST(ConfigReject, EndpointHealthKeys) {
  ExpectError("upstream:\n  health: maybe\n", 2, "upstream.health: must be true or false");
  ExpectError("services:\n  - name: a\n    outlier:\n      baseEjection: 60s\n"
              "      maxEjection: 30s\n",
              5, "services[0].outlier.maxEjection: must not be shorter than baseEjection");
  ExpectError("services:\n  - name: a\n    outlier: { errorStatuses: [500, 700] }\n", 3,
              "services[0].outlier.errorStatuses[1]");
  ExpectError("services:\n  - name: a\n    outlier: { errorStatuses: 500 }\n", 3,
              "must be a list of status codes");
  ExpectError("services:\n  - name: a\n    outlier: { consecutive: 5 }\n", 3,
              "unknown key \"consecutive\"");
  ExpectError("services:\n  - name: a\n    warmup: { aggression: 0 }\n", 3,
              "services[0].warmup.aggression: must be greater than 0");
  ExpectError("services:\n  - name: a\n    outlier: { slowCallPercent: 0 }\n", 3,
              "services[0].outlier.slowCallPercent");
}

}  // namespace
}  // namespace graymesh::config
