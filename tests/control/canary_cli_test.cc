// `graymesh canary` against a real control plane process: start applies a
// Canary document, status and the commands steer it, --wait exits with the
// outcome, and rules/instances show what the canary did.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "control/control_fixture.h"

namespace graymesh::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

CliResult Canary(const ControlPlane& cp, std::vector<std::string> args) {
  args.insert(args.begin(), "canary");
  args.push_back("--control");
  args.push_back(cp.url());
  return RunCli(args);
}

// Until the controller (ticking every 500 ms) has a status for the service.
json WaitForStatus(const ControlPlane& cp, const std::string& service) {
  for (int i = 0; i < 100; ++i) {
    Response r = cp.Get("/v1/canaries/" + service);
    if (r.status == 200) return Json(r);
    std::this_thread::sleep_for(50ms);
  }
  ADD_FAILURE() << "no canary status for " << service;
  return {};
}

TEST(CanaryCli, StartStatusPauseResumeAndAbortWithWaitExiting3) {
  ControlPlane cp = ControlPlane::Start();
  ASSERT_EQ(RegisterInstance(cp, "payment", "127.0.0.1:9001").status, 201);
  ASSERT_EQ(RegisterInstance(cp, "payment", "127.0.0.1:9002", {{"lane", "gray"}}).status, 201);

  CliResult bad = Canary(cp, {"start", "payment", "--lane", "gray", "--steps", "50,10"});
  EXPECT_EQ(bad.code, 2) << bad.err;
  EXPECT_NE(bad.err.find("steps must increase"), std::string::npos) << bad.err;

  CliResult started = Canary(cp, {"start", "payment", "--lane", "gray", "--steps", "10,50",
                                  "--interval", "1s", "--min-requests", "5"});
  ASSERT_EQ(started.code, 0) << started.err;
  EXPECT_EQ(started.out, "canary/payment created\n");
  json s = WaitForStatus(cp, "payment");
  EXPECT_EQ(s["phase"], "progressing");
  EXPECT_EQ(s["percent"], 10);
  // The share reaches proxies as a service-scoped lane in the snapshot.
  json snap = Json(cp.Get("/v1/snapshot"));
  bool found = false;
  for (const json& l : snap["lanes"]) {
    if (l["name"] == "canary-payment") {
      found = true;
      EXPECT_EQ(l["tag"], "gray");
      EXPECT_EQ(l["entrance"]["service"], "payment");
      EXPECT_EQ(l["entrance"]["match"][0]["percent"], 10);
      EXPECT_EQ(l["entrance"]["match"][0]["stickyOn"], "trace");
    }
  }
  EXPECT_TRUE(found) << snap.dump();
  // Canary documents and their status are not sent to proxies.
  EXPECT_FALSE(snap.dump().find("CanaryStatus") != std::string::npos);

  // No proxy reports traffic here: the step waits rather than passing.
  std::this_thread::sleep_for(1600ms);
  CliResult st = Canary(cp, {"status", "payment"});
  ASSERT_EQ(st.code, 0) << st.err;
  EXPECT_NE(st.out.find("canary payment: lane gray, progressing, step 1 at 10%"), std::string::npos)
      << st.out;
  EXPECT_NE(st.out.find("waiting: 0 of 5 lane requests"), std::string::npos) << st.out;

  CliResult paused = Canary(cp, {"pause", "payment"});
  EXPECT_EQ(paused.code, 0) << paused.err;
  EXPECT_NE(paused.out.find("paused"), std::string::npos);
  EXPECT_EQ(Canary(cp, {"resume", "payment"}).code, 0);

  // A CI job waiting on it learns the outcome from the exit code.
  std::future<CliResult> waiting = std::async(std::launch::async, [&] {
    return Canary(cp, {"start", "payment", "--lane", "gray", "--steps", "10,50", "--interval",
                       "1s", "--min-requests", "5", "--wait", "--timeout", "20s"});
  });
  std::this_thread::sleep_for(700ms);
  CliResult aborted = Canary(cp, {"abort", "payment"});
  EXPECT_EQ(aborted.code, 0) << aborted.err;
  CliResult waited = waiting.get();
  EXPECT_EQ(waited.code, 3) << waited.out << waited.err;
  EXPECT_NE(waited.out.find("rolled-back"), std::string::npos) << waited.out;
  EXPECT_NE(waited.out.find("aborted by hand"), std::string::npos) << waited.out;

  // Rolled back: the gray instance is marked and takes nothing.
  CliResult inst = RunCli({"get", "instances", "payment", "--control", cp.url()});
  EXPECT_NE(inst.out.find("rolled-back"), std::string::npos) << inst.out;
  CliResult again = Canary(cp, {"pause", "payment"});
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.err.find("is over"), std::string::npos) << again.err;
  EXPECT_EQ(Canary(cp, {"status", "order"}).code, 1);

  CliResult listed = RunCli({"get", "canaries", "--control", cp.url()});
  EXPECT_NE(listed.out.find("payment  gray  10,50"), std::string::npos) << listed.out;
  EXPECT_EQ(RunCli({"delete", "canary", "payment", "--control", cp.url()}).code, 0);
  for (int i = 0; i < 40 && cp.Get("/v1/canaries/payment").status != 404; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(cp.Get("/v1/canaries/payment").status, 404);
  inst = RunCli({"get", "instances", "payment", "--control", cp.url()});
  EXPECT_EQ(inst.out.find("rolled-back"), std::string::npos) << inst.out;
}

TEST(CanaryCli, CommandsNeedTheTokenWhenOneIsSet) {
  const std::string token = TempFile("canary-token", "s3cret\n");
  ControlPlane cp = ControlPlane::Start({"--token-file", token});
  CliResult r = Canary(cp, {"start", "payment", "--lane", "gray"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("HTTP 401"), std::string::npos) << r.err;
  EXPECT_EQ(cp.Send("POST", "/v1/canaries/payment/abort", "").status, 401);
}

}  // namespace
}  // namespace graymesh::test

namespace graymesh::test {
namespace {

// The control plane process is stopped mid-canary and started again on its
// store: the run goes on from its step, not from the start.
TEST(CanaryCli, ARestartedControlPlaneProcessResumesTheRun) {
  ControlPlane cp = ControlPlane::Start();
  ASSERT_EQ(RegisterInstance(cp, "payment", "127.0.0.1:9001").status, 201);
  ASSERT_EQ(RegisterInstance(cp, "payment", "127.0.0.1:9002", {{"lane", "gray"}}).status, 201);
  ASSERT_EQ(Canary(cp, {"start", "payment", "--lane", "gray", "--steps", "10,50"}).code, 0);
  json before = WaitForStatus(cp, "payment");
  ASSERT_EQ(Canary(cp, {"pause", "payment"}).code, 0);
  cp.proc->Stop();
  cp.Restart();
  json after = WaitForStatus(cp, "payment");
  EXPECT_EQ(after["phase"], "paused");
  EXPECT_EQ(after["percent"], 10);
  EXPECT_EQ(after["startedMs"], before["startedMs"]) << "the same run, not a new one";
  ASSERT_EQ(Canary(cp, {"resume", "payment"}).code, 0);
  EXPECT_EQ(WaitForStatus(cp, "payment")["phase"], "progressing");
}

}  // namespace
}  // namespace graymesh::test
