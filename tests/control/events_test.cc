// Release events: what the control plane records from its own writes, and
// GET /v1/events (a real `graymesh control`), plus the bounded log itself.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "control/control_fixture.h"
#include "control/events.h"

namespace graymesh::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

json Events(const ControlPlane& cp, const std::string& query = "") {
  Response r = cp.Get("/v1/events" + query);
  EXPECT_EQ(r.status, 200) << r.body << r.error;
  return Json(r)["events"];
}

std::vector<std::string> Kinds(const json& events) {
  std::vector<std::string> out;
  for (const json& e : events) out.push_back(e["kind"]);
  return out;
}

TEST(ControlEvents, RegistrationReadinessDrainAndDeregistration) {
  ControlPlane cp = ControlPlane::Start();
  EXPECT_TRUE(Events(cp).empty());
  Response reg = RegisterInstance(cp, "payment", "127.0.0.1:9001",
                                  {{"lane", "gray"}, {"state", "starting"}});
  ASSERT_EQ(reg.status, 201) << reg.body;
  const std::string id = Json(reg)["id"];
  // The same registration again says nothing new.
  ASSERT_EQ(RegisterInstance(cp, "payment", "127.0.0.1:9001",
                             {{"lane", "gray"}, {"state", "starting"}})
                .status,
            200);
  ASSERT_EQ(cp.Send("PUT", "/v1/instances/" + id, R"({"state":"ready"})").status, 200);
  ASSERT_EQ(cp.Send("PUT", "/v1/instances/" + id, R"({"state":"ready"})").status, 200);
  ASSERT_EQ(cp.Send("PUT", "/v1/instances/" + id, R"({"state":"draining"})").status, 200);
  ASSERT_EQ(cp.Send("DELETE", "/v1/instances/" + id, "").status, 200);

  const json events = Events(cp);
  EXPECT_EQ(Kinds(events),
            (std::vector<std::string>{"registered", "ready", "draining", "deregistered"}))
      << events;
  int64_t last_id = 0, last_time = 0;
  for (const json& e : events) {
    EXPECT_EQ(e["service"], "payment") << e;
    EXPECT_EQ(e["instance"], id) << e;
    EXPECT_EQ(e["lane"], "gray") << e;
    EXPECT_GT(e["id"].get<int64_t>(), last_id) << "ids grow in the order recorded";
    EXPECT_GE(e["timeMs"].get<int64_t>(), last_time);
    // No traffic store is connected: nothing failed that the log knows of.
    EXPECT_EQ(e["failedBefore"], 0);
    EXPECT_EQ(e["failedAfter"], 0);
    last_id = e["id"];
    last_time = e["timeMs"];
  }
  EXPECT_NE(events[0]["detail"].get<std::string>().find("127.0.0.1:9001"), std::string::npos)
      << events[0];

  // Registering straight into ready (what a sidecar does) is two events.
  ASSERT_EQ(RegisterInstance(cp, "order", "127.0.0.1:9002").status, 201);
  // `since` is inclusive and times are in ms: the new events may share the
  // last one's millisecond, so they are told apart by id.
  json more = json::array();
  for (const json& e : Events(cp, "?since=" + std::to_string(last_time))) {
    if (e["id"].get<int64_t>() > last_id) more.push_back(e);
  }
  ASSERT_EQ(Kinds(more), (std::vector<std::string>{"registered", "ready"})) << more;
  EXPECT_EQ(more[0]["lane"], "") << "base";
}

TEST(ControlEvents, EventsSurviveARestartWhichRecordsWhoComesBack) {
  ControlPlane cp = ControlPlane::Start();
  ASSERT_EQ(RegisterInstance(cp, "order", "127.0.0.1:9002").status, 201);
  const json before = Events(cp);
  ASSERT_EQ(Kinds(before), (std::vector<std::string>{"registered", "ready"})) << before;
  ASSERT_EQ(cp.proc->Stop(), 0);
  cp.Restart();  // the same store file: the events are still there
  EXPECT_EQ(Events(cp), before) << "the same events, ids and times";
  ASSERT_EQ(RegisterInstance(cp, "order", "127.0.0.1:9002").status, 200);
  const json events = Events(cp);
  ASSERT_EQ(events.size(), 4u) << events;
  EXPECT_EQ(Kinds(events),
            (std::vector<std::string>{"registered", "ready", "registered", "ready"}))
      << events;
  EXPECT_GT(events[2]["id"].get<int64_t>(), events[1]["id"].get<int64_t>())
      << "ids go on after a restart";
  EXPECT_NE(events[2]["detail"].get<std::string>().find("known to the store"), std::string::npos)
      << events[2];
  ASSERT_EQ(RegisterInstance(cp, "order", "127.0.0.1:9002").status, 200);
  EXPECT_EQ(Events(cp).size(), 4u) << "seen once, then only changes";
}

TEST(ControlEvents, LeaseExpiryNamesTheServiceItRemoved) {
  ControlPlane cp = ControlPlane::Start({"--lease-ttl", "1s"});
  ASSERT_EQ(RegisterInstance(cp, "data", "127.0.0.1:9003", {{"lane", "gray"}}).status, 201);
  json events;
  for (int i = 0; i < 50; ++i) {
    events = Events(cp);
    if (!events.empty() && events.back()["kind"] == "expired") break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_FALSE(events.empty());
  const json& e = events.back();
  EXPECT_EQ(e["kind"], "expired") << events;
  EXPECT_EQ(e["service"], "data");
  EXPECT_EQ(e["lane"], "gray");
  EXPECT_EQ(e["instance"].get<std::string>().rfind("data-", 0), 0u) << e;
}

TEST(ControlEvents, RuleChangesButNotUnchangedApplies) {
  ControlPlane cp = ControlPlane::Start();
  const std::string lane =
      "kind: TrafficLane\nname: gray\nspec:\n  tag: gray\n  entrance:\n    match:\n"
      "      - percent: 10\n        stickyOn: header:x-user-id\n---\n"
      "kind: Route\nname: shop\nspec:\n  pathPrefix: /\n  service: order\n";
  ASSERT_EQ(cp.Send("POST", "/v1/apply", lane).status, 200);
  ASSERT_EQ(cp.Send("POST", "/v1/apply", lane).status, 200);  // unchanged: no event
  ASSERT_EQ(cp.Send("POST", "/v1/apply", "kind: Route\nname: [").status, 400);  // refused: none
  ASSERT_EQ(cp.Send("DELETE", "/v1/rules/Route/shop", "").status, 200);

  const json events = Events(cp);
  ASSERT_EQ(Kinds(events),
            (std::vector<std::string>{"rule-applied", "rule-applied", "rule-deleted"}))
      << events;
  EXPECT_EQ(events[0]["detail"], "TrafficLane gray created");
  EXPECT_EQ(events[0]["lane"], "gray");
  EXPECT_EQ(events[1]["detail"], "Route shop created");
  EXPECT_EQ(events[1]["service"], "order") << "a route is about the service it routes to";
  EXPECT_EQ(events[2]["detail"], "Route shop deleted");
  EXPECT_EQ(events[2]["service"], "order") << "what the deleted route sent to order";
}

TEST(ControlEvents, SinceAndLimitPickTheNewestAndBadQueriesAreRefused) {
  ControlPlane cp = ControlPlane::Start();
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(RegisterInstance(cp, "s" + std::to_string(i), "127.0.0.1:900" + std::to_string(i),
                               {{"state", "starting"}})
                  .status,
              201);
  }
  const json all = Events(cp);
  ASSERT_EQ(all.size(), 5u);
  const json newest = Events(cp, "?limit=2");
  ASSERT_EQ(newest.size(), 2u);
  EXPECT_EQ(newest[0]["service"], "s3") << "the newest two, oldest first";
  EXPECT_EQ(newest[1]["service"], "s4");
  const int64_t t = all[2]["timeMs"];
  for (const json& e : Events(cp, "?since=" + std::to_string(t))) {
    EXPECT_GE(e["timeMs"].get<int64_t>(), t);
  }
  EXPECT_TRUE(Events(cp, "?since=99999999999999").empty());

  for (const auto& [query, reason] : std::vector<std::pair<std::string, std::string>>{
           {"?since=yesterday", "since: expected an integer 0.."},
           {"?since=-5", "since: expected an integer 0.."},
           {"?limit=0", "limit: expected an integer 1..1000, got \"0\""},
           {"?limit=5000", "limit: expected an integer 1..1000, got \"5000\""},
           {"?limit=1e3", "limit: expected an integer 1..1000, got \"1e3\""}}) {
    Response r = cp.Get("/v1/events" + query);
    EXPECT_EQ(r.status, 400) << query;
    EXPECT_NE(Json(r)["error"].get<std::string>().find(reason), std::string::npos)
        << query << ": " << r.body;
  }
  Response post = cp.Send("POST", "/v1/events", "{}");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(Events(cp).size(), 5u) << "refused queries record and drop nothing";
}

TEST(EventLog, KeepsTheNewestUpToItsCapacity) {
  control::EventLog log(nullptr, 3);
  for (int i = 1; i <= 5; ++i) {
    log.Record({.time_ms = 1000 + i, .kind = "registered", .service = "s" + std::to_string(i)});
  }
  std::vector<control::Event> kept = log.Since(0, 100);
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_EQ(kept[0].id, 3u);
  EXPECT_EQ(kept[2].id, 5u);
  EXPECT_EQ(log.Since(1005, 100).size(), 1u);
  EXPECT_EQ(log.Since(0, 1)[0].service, "s5");
}

TEST(EventLog, FailedCountsComeFromTheCounterAroundEachEvent) {
  control::EventLog log;
  log.Record({.time_ms = 100'000, .kind = "draining", .service = "payment"});
  log.Record({.time_ms = 100'000, .kind = "rule-applied"});  // no service: not asked
  std::vector<std::tuple<std::string, int64_t, int64_t>> asked;
  log.SetFailedCounter([&](std::string_view service, int64_t from, int64_t to) -> uint64_t {
    asked.emplace_back(std::string(service), from, to);
    return from < 100'000 ? 2 : 7;
  });
  json j = log.ToJson(log.Since(0, 10));
  EXPECT_EQ(j["events"][0]["failedBefore"], 2);
  EXPECT_EQ(j["events"][0]["failedAfter"], 7);
  EXPECT_EQ(j["events"][1]["failedBefore"], 0);
  ASSERT_EQ(asked.size(), 2u);
  EXPECT_EQ(asked[0], std::make_tuple(std::string("payment"), int64_t(70'000), int64_t(100'000)));
  EXPECT_EQ(asked[1], std::make_tuple(std::string("payment"), int64_t(100'000), int64_t(130'000)));
}

}  // namespace
}  // namespace graymesh::test
