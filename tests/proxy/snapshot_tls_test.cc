// Snapshot::Compile and TLS to upstreams: which services get a client
// context (their own tls: or their ServicePolicy's), and a CA that does not
// load refuses the snapshot, naming the service and the file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <stdexcept>

#include "config/config.h"
#include "proxy/snapshot.h"

namespace graymesh::proxy {
namespace {

using ::testing::HasSubstr;

std::shared_ptr<config::Config> Parse(const std::string& yaml) {
  return std::make_shared<config::Config>(config::ParseConfig(yaml, "t.yaml"));
}

config::ServicePolicy PolicyTls(const std::string& service, const std::string& ca,
                                const std::string& sni) {
  config::ServicePolicy p;
  p.service = service;
  p.tls = config::UpstreamTls{.ca = ca, .sni = sni};
  return p;
}

TEST(SnapshotTls, AServiceOrItsPolicySaysTls) {
  auto cfg = Parse("services:\n  - { name: a, tls: { sni: a.internal } }\n  - { name: b }\n"
                   "  - { name: c }\n");
  cfg->policies.push_back(PolicyTls("c", "", "c.internal"));
  auto snap = Snapshot::Compile(cfg, 1);
  ASSERT_NE(snap->services()[0].tls, nullptr);
  EXPECT_EQ(snap->services()[0].tls->sni(), "a.internal");
  EXPECT_EQ(snap->services()[1].tls, nullptr) << "no tls: plaintext";
  ASSERT_NE(snap->services()[2].tls, nullptr) << "a policy's tls reaches registered services";
  EXPECT_EQ(snap->services()[2].tls->sni(), "c.internal");
}

TEST(SnapshotTls, APolicyCaThatCannotBeReadRefusesTheSnapshot) {
  auto cfg = Parse("services:\n  - { name: order }\n");
  cfg->policies.push_back(PolicyTls("order", "/nonexistent/ca.pem", ""));
  try {
    Snapshot::Compile(cfg, 1);
    ADD_FAILURE() << "compiled";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("service order: tls: CA file /nonexistent/ca.pem: "));
  }
}

TEST(SnapshotTls, ACaFileWithoutCertificatesRefusesTheSnapshot) {
  const std::string ca = ::testing::TempDir() + "/snapshot_tls_not_pem.pem";
  std::ofstream(ca) << "this is not a certificate\n";
  auto cfg = Parse("services:\n  - { name: s, tls: { ca: " + ca + " } }\n");
  try {
    Snapshot::Compile(cfg, 1);
    ADD_FAILURE() << "compiled";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("service s: tls: CA file " + ca + ": "));
  }
}

}  // namespace
}  // namespace graymesh::proxy
