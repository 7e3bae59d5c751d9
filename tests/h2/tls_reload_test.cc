// SIGHUP re-reads a TLS gateway's certificates: new connections get the new
// certificate, open ones keep going, a bad new file keeps the old one. The
// files keep their old modification time here, so only the signal can be
// what makes the gateway look at them.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <unistd.h>

#include "h2/tls_fixture.h"
#include "proxy/gateway_fixture.h"
#include "support/process.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace graymesh::test {
namespace {

using namespace std::chrono_literals;

constexpr char kGet[] = "GET /echo HTTP/1.1\r\nhost: a.test\r\n\r\n";

class TlsReload : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestTempDir() + "/tlsr-" + std::to_string(::getpid());
    fs::create_directories(dir_);
    MakeCert(dir_, "default", "default.test");
    MakeCert(dir_, "b", "b.test");
    app_ = SampleApp::Start("app");
    g_ = StartTlsGateway(dir_, "routes:\n  - { pathPrefix: /, service: app }\nservices:\n"
                               "  - name: app\n    endpoints:\n      - address: 127.0.0.1:" +
                                   std::to_string(app_.port) + "\n");
  }
  // Replaces default.{crt,key} by `make`'s files, leaving both modification
  // times as they were.
  template <typename Make>
  void ReplaceKeepingMtime(Make make) {
    const auto crt_time = fs::last_write_time(dir_ + "/default.crt");
    const auto key_time = fs::last_write_time(dir_ + "/default.key");
    make();
    fs::last_write_time(dir_ + "/default.crt", crt_time);
    fs::last_write_time(dir_ + "/default.key", key_time);
  }
  // Polls new connections until one shows certificate `cn` (or 3 s).
  bool NewConnectionsShow(const std::string& cn, std::chrono::milliseconds within = 3s) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    do {
      TlsTestClient c(g_.port, "a.test");
      if (c.PeerCommonName() == cn) return true;
      std::this_thread::sleep_for(100ms);
    } while (std::chrono::steady_clock::now() < deadline);
    return false;
  }
  std::string dir_;
  SampleApp app_;
  TlsGatewayProc g_;
};

TEST_F(TlsReload, SighupLoadsNewCertificatesAndKeepsOpenConnections) {
  TlsTestClient open(g_.port, "a.test");
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(open.PeerCommonName(), "default.test");
  ASSERT_TRUE(open.Send(kGet));
  EXPECT_NE(open.ReadUntil("\"service\":\"app\"", 5s).find("HTTP/1.1 200"), std::string::npos);

  ReplaceKeepingMtime([&] { MakeCert(dir_, "default", "renewed.test"); });
  std::this_thread::sleep_for(1500ms);  // past the once-a-second file check
  EXPECT_TRUE(NewConnectionsShow("default.test", 100ms)) << "reloaded without a signal";

  g_.proc->Signal(SIGHUP);
  EXPECT_TRUE(NewConnectionsShow("renewed.test")) << g_.proc->Log();

  // The connection made before the reload still serves requests.
  ASSERT_TRUE(open.Send(kGet));
  EXPECT_NE(open.ReadUntil("\"service\":\"app\"", 5s).find("HTTP/1.1 200"), std::string::npos);
  EXPECT_NE(g_.proc->Log().find("certificates reloaded (SIGHUP)"), std::string::npos)
      << g_.proc->Log();
}

TEST_F(TlsReload, ABadNewCertificateKeepsTheOldOneAndSaysWhy) {
  EXPECT_TRUE(NewConnectionsShow("default.test", 100ms)) << g_.proc->Log();  // loaded
  ReplaceKeepingMtime([&] {
    std::ofstream(dir_ + "/default.crt", std::ios::trunc) << "not a certificate\n";
  });
  g_.proc->Signal(SIGHUP);
  std::this_thread::sleep_for(300ms);
  TlsTestClient c(g_.port, "a.test");  // the accept that tries the reload
  EXPECT_TRUE(NewConnectionsShow("default.test", 100ms)) << g_.proc->Log();
  TlsTestClient again(g_.port, "a.test");
  ASSERT_TRUE(again.Send(kGet));
  EXPECT_NE(again.ReadUntil("\"service\":\"app\"", 5s).find("HTTP/1.1 200"), std::string::npos);
  const std::string log = g_.proc->Log();
  EXPECT_NE(log.find("default.crt"), std::string::npos) << log;
  EXPECT_NE(log.find("keeping the certificates loaded before"), std::string::npos) << log;
}

}  // namespace
}  // namespace graymesh::test

namespace graymesh::test {
namespace {

// A certificate that cannot be loaded stops the gateway at start, naming the
// file, instead of a gateway up that fails every handshake.
TEST(TlsStart, AnUnreadableCertificateStopsTheStartWithTheReason) {
  const std::string dir = TestTempDir() + "/tlss-" + std::to_string(::getpid());
  fs::create_directories(dir);
  MakeCert(dir, "b", "b.test");
  std::ofstream(dir + "/default.crt") << "not a certificate\n";
  std::ofstream(dir + "/default.key") << "not a key\n";
  TlsGatewayProc g;
  const std::string cfg = WriteTempFile(
      "bad-tls.yaml", "listeners:\n  - name: ingress\n    address: 127.0.0.1:1\n    tls:\n"
                      "      cert: " + dir + "/default.crt\n      key: " + dir + "/default.key\n"
                      "routes:\n  - { pathPrefix: /, service: app }\nservices:\n"
                      "  - name: app\n    endpoints:\n      - address: 127.0.0.1:2\n");
  ChildProcess p(GraymeshBin(), {"gateway", "--config", cfg, "--admin", "none"});
  EXPECT_NE(p.Wait(5s), ChildProcess::kStillRunning);
  EXPECT_NE(p.Log().find(dir + "/default.crt"), std::string::npos) << p.Log();
}

}  // namespace
}  // namespace graymesh::test
