// SqliteStore on a real file: revisions, transactions, reopening.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "control/sqlite_store.h"
#include "support/process.h"

namespace graymesh::control {
namespace {

using namespace std::chrono_literals;

std::string FreshDb() {
  static int seq = 0;
  std::string path = test::TestTempDir() + "/store-" + std::to_string(++seq) + ".db";
  std::remove(path.c_str());
  return path;
}

InstanceSpec Spec(const std::string& address, InstanceState state = InstanceState::kReady) {
  InstanceSpec s;
  s.service = "order";
  s.address = address;
  s.state = state;
  return s;
}

TEST(ControlStore, RevisionMovesOncePerChangeAndNeverOtherwise) {
  SqliteStore store(FreshDb(), 15s);
  std::vector<int64_t> notified;
  store.SetChangeListener([&](int64_t rev) { notified.push_back(rev); });
  EXPECT_EQ(store.Revision(), 1);

  RegisterResult r = store.Register(Spec("10.0.0.1:80"), 15s);
  EXPECT_TRUE(r.created);
  EXPECT_EQ(store.Revision(), 2);
  EXPECT_FALSE(store.Register(Spec("10.0.0.1:80"), 15s).created);
  EXPECT_EQ(store.Revision(), 2) << "same registration: no change";
  EXPECT_TRUE(store.KeepAlive(r.id, 15s));
  EXPECT_EQ(store.Revision(), 2) << "heartbeats are not changes";

  EXPECT_TRUE(store.SetState(r.id, InstanceState::kDraining, 15s));
  EXPECT_EQ(store.Revision(), 3);
  EXPECT_TRUE(store.SetState(r.id, InstanceState::kDraining, 15s));
  EXPECT_EQ(store.Revision(), 3);

  std::vector<Rule> rules = {{.kind = "Route", .name = "a", .spec_json = R"({"service":"x"})"},
                             {.kind = "Route", .name = "b", .spec_json = R"({"service":"y"})"}};
  auto changes = store.ApplyRules(rules);
  EXPECT_EQ(changes, (std::vector<RuleChange>{RuleChange::kCreated, RuleChange::kCreated}));
  EXPECT_EQ(store.Revision(), 4) << "one transaction, one revision";
  rules[1].spec_json = R"({"service":"z"})";
  changes = store.ApplyRules(rules);
  EXPECT_EQ(changes, (std::vector<RuleChange>{RuleChange::kUnchanged, RuleChange::kUpdated}));
  EXPECT_EQ(store.Revision(), 5);
  EXPECT_EQ(store.ApplyRules(rules)[0], RuleChange::kUnchanged);
  EXPECT_EQ(store.Revision(), 5);

  EXPECT_TRUE(store.DeleteRule("Route", "a"));
  EXPECT_FALSE(store.DeleteRule("Route", "a"));
  EXPECT_TRUE(store.Deregister(r.id));
  EXPECT_FALSE(store.Deregister(r.id));
  EXPECT_EQ(store.Revision(), 7);
  EXPECT_EQ(notified, (std::vector<int64_t>{2, 3, 4, 5, 6, 7}));

  StoreState s = store.Read();
  EXPECT_EQ(s.revision, 7);
  EXPECT_TRUE(s.instances.empty());
  ASSERT_EQ(s.rules.size(), 1u);
  EXPECT_EQ(s.rules[0].revision, 5);
}

TEST(ControlStore, ReadySinceFollowsTheState) {
  SqliteStore store(FreshDb(), 15s);
  RegisterResult r = store.Register(Spec("10.0.0.1:80", InstanceState::kStarting), 15s);
  EXPECT_EQ(store.GetInstance(r.id)->ready_since_ms, 0);
  const int64_t t0 = UnixMillis();
  const int64_t since = store.SetState(r.id, InstanceState::kReady, 15s)->ready_since_ms;
  EXPECT_GE(since, t0);
  std::this_thread::sleep_for(5ms);
  // Ready again (a re-registration after a restart) keeps the warmup start.
  store.Register(Spec("10.0.0.1:80"), 15s);
  EXPECT_EQ(store.GetInstance(r.id)->ready_since_ms, since);
  EXPECT_EQ(store.SetState(r.id, InstanceState::kDraining, 15s)->ready_since_ms, since);
  EXPECT_EQ(store.SetState(r.id, InstanceState::kStarting, 15s)->ready_since_ms, 0);
}

TEST(ControlStore, LeasesExpireAndReopeningGrantsFreshOnes) {
  const std::string db = FreshDb();
  std::string id;
  {
    SqliteStore store(db, 15s);
    id = store.Register(Spec("10.0.0.1:80"), 100ms).id;
    store.Register(Spec("10.0.0.2:80"), 15s);
    std::this_thread::sleep_for(150ms);
    EXPECT_EQ(store.ExpireLeases(), std::vector<std::string>{id});
    EXPECT_FALSE(store.KeepAlive(id, 15s));
    EXPECT_EQ(store.ListInstances("order").size(), 1u);
    id = store.ListInstances("order")[0].id;
  }
  // Reopened with a short initial lease: the survivor is there, with a lease.
  SqliteStore store(db, 200ms);
  EXPECT_EQ(store.Revision(), 4);
  ASSERT_EQ(store.ListInstances("").size(), 1u);
  EXPECT_TRUE(store.ExpireLeases().empty());
  EXPECT_TRUE(store.KeepAlive(id, 50ms));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(store.ExpireLeases().size(), 1u);
}

TEST(ControlStore, IdsAreStableAndDistinct) {
  EXPECT_EQ(InstanceId("order", "10.0.0.1:80"), InstanceId("order", "10.0.0.1:80"));
  EXPECT_NE(InstanceId("order", "10.0.0.1:80"), InstanceId("order", "10.0.0.1:81"));
  EXPECT_NE(InstanceId("order", "a:1"), InstanceId("orde", "ra:1"));
  EXPECT_EQ(InstanceId("order", "10.0.0.1:80").size(), std::string("order-").size() + 16);
}

TEST(ControlStore, UnsupportedStoreUrl) {
  EXPECT_THROW(OpenStore("etcd://127.0.0.1:2379", 15s), std::runtime_error);
  EXPECT_THROW(OpenStore("sqlite:", 15s), std::runtime_error);
  EXPECT_THROW(OpenStore("sqlite:/nonexistent-dir/x.db", 15s), std::runtime_error);
}

// The store id is made with the file and kept across reopening; another
// file has another one, which is how proxies tell an emptied store.
TEST(ControlStore, IdIsMadeWithTheFileAndKept) {
  const std::string db = FreshDb();
  std::string id;
  {
    SqliteStore store(db, 15s);
    id = store.Id();
    EXPECT_EQ(id.size(), 16u) << id;
  }
  SqliteStore again(db, 15s);
  EXPECT_EQ(again.Id(), id);
  SqliteStore other(FreshDb(), 15s);
  EXPECT_NE(other.Id(), id);
}

TEST(ControlStore, EventsAreKeptBoundedAcrossReopeningAndMoveNoRevision) {
  const std::string path = FreshDb();
  {
    SqliteStore store(path, 15s);
    int notified = 0;
    store.SetChangeListener([&](int64_t) { ++notified; });
    for (int i = 1; i <= 7; ++i) {
      const uint64_t id = store.AppendEvent(
          {.time_ms = 1000 + i, .kind = "ready", .service = "s" + std::to_string(i)}, 5);
      EXPECT_EQ(id, uint64_t(i));
    }
    EXPECT_EQ(store.Revision(), 1) << "an event is no change of the mesh";
    EXPECT_EQ(notified, 0);
  }
  SqliteStore store(path, 15s);
  std::vector<Event> kept = store.ListEvents(0, 100);
  ASSERT_EQ(kept.size(), 5u) << "the newest 5";
  EXPECT_EQ(kept.front().id, 3u);
  EXPECT_EQ(kept.back().service, "s7");
  EXPECT_EQ(kept.back().time_ms, 1007);
  EXPECT_EQ(kept.back().kind, "ready");
  EXPECT_EQ(store.ListEvents(1006, 100).size(), 2u);
  ASSERT_EQ(store.ListEvents(0, 2).size(), 2u);
  EXPECT_EQ(store.ListEvents(0, 2)[0].service, "s6") << "the newest 2, oldest first";
  // Ids go on after the reopen and after the trim: never reused.
  EXPECT_EQ(store.AppendEvent({.time_ms = 2000, .kind = "expired"}, 5), 8u);
}

}  // namespace
}  // namespace graymesh::control
