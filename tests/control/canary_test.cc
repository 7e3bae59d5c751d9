// The canary controller on a real SQLite store, with time and the lane's
// traffic given by the test: steps, judging, promotion and rollback with
// their effect on the snapshot, commands, resuming after a restart, and two
// replicas on one store.
#include "control/canary.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <thread>
#include <nlohmann/json.hpp>

#include "control/snapshot_build.h"
#include "control/control_fixture.h"
#include "control/sqlite_store.h"
#include "support/process.h"
#include "wire/rule_json.h"

namespace graymesh::control {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string FreshDb() {
  static int seq = 0;
  std::string path = test::TestTempDir() + "/canary-" + std::to_string(++seq) + ".db";
  std::remove(path.c_str());
  return path;
}

// What the proxies "saw": per lane served, requests and errors per second
// of window, and a p99.
struct FakeTraffic {
  std::map<std::string, CanaryTraffic> per_second;  // lane served -> per second
  CanaryTraffic operator()(const std::string&, const std::string& lane, int64_t from,
                           int64_t to) const {
    auto it = per_second.find(lane);
    if (it == per_second.end()) return {};
    const double secs = double(to - from) / 1000;
    return {uint64_t(double(it->second.requests) * secs), uint64_t(double(it->second.errors) * secs),
            it->second.p99_seconds};
  }
};

class CanaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = FreshDb();
    store_ = std::make_unique<SqliteStore>(db_, 15s);
    for (const char* a : {"10.0.0.1:80", "10.0.0.2:80"}) Register(a, "");
    Register("10.0.0.9:80", "gray");
    traffic_.per_second[""] = {100, 0, 0.010};
    traffic_.per_second["gray"] = {20, 0, 0.012};
  }

  void Register(const std::string& address, const std::string& lane) {
    InstanceSpec s;
    s.service = "payment";
    s.address = address;
    s.lane = lane;
    if (!lane.empty()) s.labels["lane"] = lane;
    store_->Register(s, 15s);
  }

  void ApplyCanary(const std::string& spec_yaml) {
    const std::string text = "kind: Canary\nname: payment\nspec:\n" + spec_yaml;
    for (const config::RuleDocument& d : config::ParseRuleDocuments(text, "test")) {
      store_->ApplyRules({{d.kind, d.name, wire::RuleSpecToJson(d).dump()}});
    }
  }

  CanaryController Controller() {
    return CanaryController(*store_, [this](const std::string& s, const std::string& l,
                                            int64_t f, int64_t t) { return traffic_(s, l, f, t); },
                            [this](const CanaryStatus&, const std::string& what) {
                              events_.push_back(what);
                            });
  }

  CanaryStatus Status() {
    std::optional<Rule> r = store_->GetRule(kCanaryStatus, "payment");
    EXPECT_TRUE(r.has_value());
    return StatusFromJson(json::parse(r->spec_json));
  }

  // The percent of the canary's lane rule, as proxies get it; -1 when none.
  int LanePercent() {
    wire::Snapshot snap = BuildSnapshot(store_->Read());
    for (const config::Lane& l : snap.lanes) {
      if (l.name == "canary-payment") return l.match.at(0).percent;
    }
    return -1;
  }

  // Endpoints of payment in the snapshot: address -> (lane, state).
  std::map<std::string, std::pair<std::string, std::string>> Endpoints() {
    std::map<std::string, std::pair<std::string, std::string>> out;
    wire::Snapshot snap = BuildSnapshot(store_->Read());
    for (const wire::SnapshotService& s : snap.services) {
      if (s.name != "payment") continue;
      for (const wire::SnapshotEndpoint& e : s.endpoints) {
        out[e.endpoint.address.ToString()] = {e.endpoint.lane, wire::StateName(e.state)};
      }
    }
    return out;
  }

  std::string db_;
  std::unique_ptr<SqliteStore> store_;
  FakeTraffic traffic_;
  std::vector<std::string> events_;
};

constexpr const char* kSpec =
    "  lane: gray\n  steps: [10, 50, 100]\n  interval: 10s\n  maxErrorRate: 1%\n"
    "  maxP99: 100ms\n  minRequests: 50\n";

TEST_F(CanaryTest, HealthyStepsArePromotedAndTheLaneBecomesTheBase) {
  ApplyCanary(kSpec);
  CanaryController c = Controller();
  int64_t t = 1'000'000;
  c.Tick(t);
  EXPECT_EQ(Status().phase, CanaryPhase::kProgressing);
  EXPECT_EQ(LanePercent(), 10);
  c.Tick(t + 5'000);  // within the interval: nothing judged
  EXPECT_EQ(Status().step, 0);
  c.Tick(t += 10'000);
  EXPECT_EQ(Status().step, 1);
  EXPECT_EQ(LanePercent(), 50);
  c.Tick(t += 10'000);
  EXPECT_EQ(LanePercent(), 100);
  EXPECT_EQ(Endpoints()["10.0.0.1:80"], std::make_pair(std::string(""), std::string("ready")));
  c.Tick(t += 10'000);
  const CanaryStatus s = Status();
  EXPECT_EQ(s.phase, CanaryPhase::kPromoted) << s.reason;
  EXPECT_EQ(s.checks.size(), 3u);
  // Proxies now see the gray instance as base and the old base retired
  // (kept in the snapshot, so consumers drop it and `get instances` shows it).
  auto eps = Endpoints();
  EXPECT_EQ(eps["10.0.0.9:80"], std::make_pair(std::string(""), std::string("ready")));
  EXPECT_EQ(eps["10.0.0.1:80"].second, "retired");
  EXPECT_EQ(eps["10.0.0.2:80"].second, "retired");
  EXPECT_EQ(LanePercent(), 0);
  // The sidecar registering again with its lane label changes nothing.
  Register("10.0.0.9:80", "gray");
  EXPECT_EQ(Endpoints()["10.0.0.9:80"].first, "");
  ASSERT_FALSE(events_.empty());
  EXPECT_NE(events_.back().find("promoted"), std::string::npos);
}

TEST_F(CanaryTest, AFailingLaneIsRolledBackAtOnceAndGetsNothingAfterwards) {
  traffic_.per_second["gray"] = {20, 2, 0.012};  // 10% errors, base 0%
  ApplyCanary(kSpec);
  CanaryController c = Controller();
  int64_t t = 1'000'000;
  c.Tick(t);
  c.Tick(t += 10'000);
  const CanaryStatus s = Status();
  ASSERT_EQ(s.phase, CanaryPhase::kRolledBack);
  EXPECT_NE(s.reason.find("error rate 10.00%"), std::string::npos) << s.reason;
  EXPECT_EQ(LanePercent(), 0);
  auto eps = Endpoints();
  EXPECT_EQ(eps["10.0.0.9:80"].second, "rolled-back");
  EXPECT_EQ(eps["10.0.0.1:80"].second, "ready");
  // Later ticks change nothing: the run is over.
  c.Tick(t += 60'000);
  EXPECT_EQ(Status().checks.size(), 1u);
}

TEST_F(CanaryTest, ErrorsAreJudgedAgainstBaseAndLatencyAgainstTheCeiling) {
  // Base itself fails 5%: a lane at 5.5% is within 1% of it.
  traffic_.per_second[""] = {100, 5, 0.010};
  traffic_.per_second["gray"] = {20, 1, 0.012};
  ApplyCanary(kSpec);
  CanaryController c = Controller();
  int64_t t = 1'000'000;
  c.Tick(t);
  c.Tick(t += 10'000);
  EXPECT_EQ(Status().step, 1) << Status().checks.back().verdict;
  traffic_.per_second["gray"] = {20, 1, 0.250};  // p99 250ms over 100ms
  c.Tick(t += 10'000);
  const CanaryStatus s = Status();
  EXPECT_EQ(s.phase, CanaryPhase::kRolledBack);
  EXPECT_NE(s.reason.find("p99 250ms"), std::string::npos) << s.reason;
}

TEST_F(CanaryTest, TooFewRequestsWaitInsteadOfJudging) {
  traffic_.per_second["gray"] = {2, 2, 0.5};  // failing, but 20 requests per window < 50
  ApplyCanary(kSpec);
  CanaryController c = Controller();
  int64_t t = 1'000'000;
  c.Tick(t);
  c.Tick(t += 10'000);
  CanaryStatus s = Status();
  EXPECT_EQ(s.phase, CanaryPhase::kProgressing);
  EXPECT_EQ(s.step, 0);
  EXPECT_NE(s.checks.back().verdict.find("waiting: 20 of 50"), std::string::npos);
  // The window grows until it holds enough: 30 s of 2/s = 60 requests.
  c.Tick(t += 10'000);
  c.Tick(t += 10'000);
  EXPECT_EQ(Status().phase, CanaryPhase::kRolledBack);
}

TEST_F(CanaryTest, FailureLimitAllowsThatManyFailedChecks) {
  traffic_.per_second["gray"] = {20, 2, 0.012};
  ApplyCanary(std::string(kSpec) + "  failureLimit: 2\n");
  CanaryController c = Controller();
  int64_t t = 1'000'000;
  c.Tick(t);
  c.Tick(t += 10'000);
  EXPECT_EQ(Status().phase, CanaryPhase::kProgressing);
  EXPECT_EQ(Status().failures, 1u);
  c.Tick(t += 10'000);
  EXPECT_EQ(Status().phase, CanaryPhase::kRolledBack);
}

TEST_F(CanaryTest, PauseHoldsResumePromoteAndAbortSteer) {
  ApplyCanary(kSpec);
  CanaryController c = Controller();
  int64_t t = 1'000'000;
  c.Tick(t);
  std::string error;
  ASSERT_TRUE(c.Command("payment", "pause", t, &error)) << error;
  c.Tick(t += 60'000);
  EXPECT_EQ(Status().phase, CanaryPhase::kPaused);
  EXPECT_EQ(Status().step, 0);
  EXPECT_EQ(LanePercent(), 10);  // the share is held, not dropped
  ASSERT_TRUE(c.Command("payment", "resume", t, &error)) << error;
  c.Tick(t + 5'000);  // the paused minute is not judged
  EXPECT_EQ(Status().step, 0);
  c.Tick(t += 10'000);
  EXPECT_EQ(Status().step, 1);
  ASSERT_TRUE(c.Command("payment", "abort", t, &error)) << error;
  EXPECT_EQ(Status().phase, CanaryPhase::kRolledBack);
  EXPECT_EQ(Status().reason, "aborted by hand");
  EXPECT_EQ(LanePercent(), 0);
  EXPECT_FALSE(c.Command("payment", "resume", t, &error));
  EXPECT_NE(error.find("is over"), std::string::npos);
  EXPECT_FALSE(c.Command("order", "pause", t, &error));
  EXPECT_NE(error.find("no canary"), std::string::npos);
  EXPECT_FALSE(c.Command("payment", "explode", t, &error));
}

TEST_F(CanaryTest, ARestartedControlPlaneResumesWhereItWas) {
  ApplyCanary(kSpec);
  int64_t t = 1'000'000;
  {
    CanaryController c = Controller();
    c.Tick(t);
    c.Tick(t += 10'000);
    ASSERT_EQ(Status().step, 1);
  }
  store_.reset();
  store_ = std::make_unique<SqliteStore>(db_, 15s);  // the same file, a new process
  CanaryController c = Controller();
  c.Tick(t + 1'000);
  EXPECT_EQ(Status().step, 1);  // not started over
  EXPECT_EQ(LanePercent(), 50);
  c.Tick(t += 10'000);
  EXPECT_EQ(Status().step, 2);
}

TEST_F(CanaryTest, TwoReplicasNeverMakeOneStepTwice) {
  ApplyCanary(kSpec);
  CanaryController a = Controller();
  CanaryController b = Controller();
  int64_t t = 1'000'000;
  a.Tick(t);
  b.Tick(t);
  for (int i = 0; i < 3; ++i) {
    t += 10'000;
    a.Tick(t);
    b.Tick(t);
  }
  const CanaryStatus s = Status();
  EXPECT_EQ(s.phase, CanaryPhase::kPromoted);
  EXPECT_EQ(s.checks.size(), 3u);  // one check per step, not two
  int promoted = 0;
  for (const std::string& e : events_) promoted += e.starts_with("promoted") ? 1 : 0;
  EXPECT_EQ(promoted, 1);
}

TEST_F(CanaryTest, ThePromoteHookRunsOnceWithTheOutcome) {
  const std::string out = test::TestTempDir() + "/canary-hook.txt";
  std::remove(out.c_str());
  ApplyCanary(std::string(kSpec) + "  onPromote: 'echo \"$GRAYMESH_CANARY_SERVICE $GRAYMESH_CANARY_PHASE\" >> " + out + "'\n");
  CanaryController c = Controller();
  std::string error;
  c.Tick(1'000'000);
  ASSERT_TRUE(c.Command("payment", "promote", 1'000'001, &error)) << error;
  std::string line;
  for (int i = 0; i < 100 && line.empty(); ++i) {
    std::this_thread::sleep_for(20ms);
    std::ifstream in(out);
    std::getline(in, line);
  }
  EXPECT_EQ(line, "payment promoted");
}

TEST_F(CanaryTest, DeletingTheDocumentEndsTheRunAndItsOverrides) {
  ApplyCanary(kSpec);
  CanaryController c = Controller();
  std::string error;
  c.Tick(1'000'000);
  ASSERT_TRUE(c.Command("payment", "promote", 1'000'001, &error)) << error;
  EXPECT_EQ(Endpoints()["10.0.0.1:80"].second, "retired");
  ASSERT_TRUE(store_->DeleteRule(wire::kCanary, "payment"));
  c.Tick(1'000'002);
  EXPECT_FALSE(store_->GetRule(kCanaryStatus, "payment").has_value());
  EXPECT_EQ(LanePercent(), -1);
  EXPECT_EQ(Endpoints()["10.0.0.1:80"].second, "ready");
  EXPECT_EQ(Endpoints()["10.0.0.9:80"].first, "gray");
}

TEST(CanaryDocument, ErrorsNameTheFileLineAndField) {
  auto error = [](const std::string& spec) {
    try {
      config::ParseRuleDocuments("kind: Canary\nname: payment\nspec:\n" + spec, "c.yaml");
    } catch (const config::ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error("  steps: [5]\n").find("missing required key \"lane\""), std::string::npos);
  EXPECT_NE(error("  lane: gray\n  steps: [50, 10]\n").find("c.yaml:5"), std::string::npos)
      << error("  lane: gray\n  steps: [50, 10]\n");
  EXPECT_NE(error("  lane: gray\n  steps: [50, 10]\n").find("steps must increase"),
            std::string::npos);
  EXPECT_NE(error("  lane: gray\n  maxErrorRate: lots\n").find("spec.maxErrorRate"),
            std::string::npos);
  EXPECT_NE(error("  lane: gray\n  maxErrorRate: 150%\n").find("between 0 and 1"),
            std::string::npos);
  EXPECT_NE(error("  lane: gray\n  stickyOn: moon\n").find("spec.stickyOn"), std::string::npos);
  EXPECT_NE(error("  lane: gray\n  colour: red\n").find("colour"), std::string::npos);
  std::vector<config::RuleDocument> ok = config::ParseRuleDocuments(
      "kind: Canary\nname: payment\nspec:\n  lane: gray\n  maxErrorRate: 2%\n", "c.yaml");
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_DOUBLE_EQ(ok[0].canary.max_error_rate, 0.02);
  EXPECT_EQ(ok[0].canary.steps, (std::vector<uint32_t>{5, 10, 25, 50, 100}));
  // Round trip through the store's JSON.
  std::vector<config::RuleDocument> back = wire::RulesFromJson(
      {json{{"kind", "Canary"}, {"name", "payment"}, {"spec", wire::RuleSpecToJson(ok[0])}}}, "t");
  EXPECT_EQ(wire::RuleSpecToJson(back[0]), wire::RuleSpecToJson(ok[0]));
}

}  // namespace
}  // namespace graymesh::control

namespace graymesh::control {
namespace {

// Two replicas that read the same status both try to write the next one:
// the guard lets exactly one through, on either store.
void GuardLetsOneWriterThrough(Store& store) {
  const RuleGuard absent{kCanaryStatus, "payment", 0};
  ASSERT_TRUE(store.ApplyRulesIf({{kCanaryStatus, "payment", R"({"step":0})"}}, absent));
  EXPECT_FALSE(store.ApplyRulesIf({{kCanaryStatus, "payment", R"({"step":9})"}}, absent));
  const int64_t rev = store.GetRule(kCanaryStatus, "payment")->revision;
  const RuleGuard seen{kCanaryStatus, "payment", rev};
  ASSERT_TRUE(store.ApplyRulesIf({{kCanaryStatus, "payment", R"({"step":1})"},
                                  {wire::kTrafficLane, "other", R"({"tag":"gray"})"}},
                                 seen));
  // The second replica, with the same (now stale) revision, writes nothing,
  // not even its other rules.
  EXPECT_FALSE(store.ApplyRulesIf({{kCanaryStatus, "payment", R"({"step":2})"},
                                   {wire::kTrafficLane, "late", R"({"tag":"gray"})"}},
                                  seen));
  EXPECT_EQ(store.GetRule(kCanaryStatus, "payment")->spec_json, R"({"step":1})");
  EXPECT_FALSE(store.GetRule(wire::kTrafficLane, "late").has_value());
  // Plain ApplyRules would have let the stale write through.
  store.ApplyRules({{kCanaryStatus, "payment", R"({"step":2})"}});
  EXPECT_EQ(store.GetRule(kCanaryStatus, "payment")->spec_json, R"({"step":2})");
}

TEST(CanaryStoreGuard, SqliteLetsOneWriterThrough) {
  SqliteStore store(FreshDb(), 15s);
  GuardLetsOneWriterThrough(store);
}

TEST(CanaryStoreGuard, EtcdLetsOneWriterThrough) {
  using test::HaveEtcd;
  using test::kEtcd;
  REQUIRE_ETCD();
  auto etcd = test::StartEtcd(1);
  std::unique_ptr<Store> store;
  for (int i = 0; i < 100 && !store; ++i) {
    try {
      store = OpenStore(test::StoreUrl(etcd), 15s);
      store->Revision();
    } catch (const std::exception&) {
      store.reset();
      std::this_thread::sleep_for(100ms);  // no leader yet
    }
  }
  ASSERT_TRUE(store);
  GuardLetsOneWriterThrough(*store);
}

}  // namespace
}  // namespace graymesh::control
