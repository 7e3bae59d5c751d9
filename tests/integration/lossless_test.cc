// Lossless online/offline under steady load, all real processes on loopback:
// gateway -> order -> payment x3 -> data, every app run by its sidecar
// (`graymesh proxy ... -- graymesh sample-app ...`), all on one control
// plane. GETs and POSTs go through the whole chain (every answer must name
// data, the last service). A rolling restart, a scale-in and a scale-out of
// payment lose no request, and leave no request open in any proxy (received
// minus completed is 0 once the load stops: none hangs); the same rolling
// restart with the drain turned off (`--no-drain`) does lose requests, and
// the test asserts that it does; a SIGKILLed payment costs no GET
// (docs/lifecycle.md).
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <thread>

#include "integration/control_instance.h"
#include "support/load_generator.h"

namespace graymesh::test {
namespace {
using namespace std::chrono_literals;

// A counter or gauge of a proxy's /metrics; -1 when it cannot be read.
int64_t Metric(uint16_t admin, const std::string& name) {
  Response r = HttpGet(admin, "/metrics", {}, 2s);
  const std::string key = "\n" + name + " ";
  const size_t at = r.body.find(key);
  if (r.status != 200 || at == std::string::npos) return -1;
  return std::stoll(r.body.substr(at + key.size()));
}

// Requests a proxy received and has not relayed a whole response for. On
// HTTP/1.1 a proxy's own error replies are not "completed" either, so this
// is 0 only when every request got its upstream's whole response: what a
// request hanging in (or failed by) a proxy would break.
int64_t OpenRequests(uint16_t admin) {
  const int64_t received = Metric(admin, "graymesh_downstream_rq_total");
  const int64_t completed = Metric(admin, "graymesh_downstream_rq_completed");
  return received < 0 || completed < 0 ? -1 : received - completed;
}

const char* kRoute = R"(kind: Route
name: shop
spec:
  pathPrefix: /
  service: order
)";

// A sample app run by its sidecar; `calls` go through the sidecar's outbound.
struct Member {
  uint16_t app = FreePort(), inbound = FreePort(), outbound = FreePort(), admin = FreePort();
  std::unique_ptr<ChildProcess> sidecar;

  Member(const ControlPlane& cp, const std::string& service, const std::string& calls,
         std::vector<std::string> extra = {}, int latency_ms = 0) {
    std::vector<std::string> a{"proxy",     "--service",  service,       "--app",
                               Addr(app),   "--inbound",  Addr(inbound), "--outbound",
                               Addr(outbound), "--admin", Addr(admin),   "--control",
                               cp.url(),    "--workers",  "1",           "--cache",
                               TestTempDir() + "/cache-" + std::to_string(inbound) + ".json",
                               "--ready-path", "/healthz", "--drain-quiet", "500ms"};
    a.insert(a.end(), extra.begin(), extra.end());
    a.insert(a.end(), {"--", GraymeshBin(), "sample-app", "--name", service, "--listen", Addr(app),
                       "--latency", std::to_string(latency_ms)});
    if (!calls.empty()) a.insert(a.end(), {"--calls", calls, "--via", Addr(outbound)});
    sidecar = std::make_unique<ChildProcess>(GraymeshBin(), a);
  }
  bool WaitReady(std::chrono::milliseconds timeout) const {
    return Eventually([&] { return HttpGet(admin, "/ready", {}, 1s).status == 200; }, timeout);
  }
  // As a Kubernetes rollout stops a pod: SIGTERM to the sidecar (PID 1 of
  // the pod's process tree here), which stops its app.
  int Stop() { return sidecar->Stop(SIGTERM, 20s); }
};

struct Chain {
  ControlPlane cp = ControlPlane::Start();
  std::vector<std::string> payment_args;
  std::unique_ptr<Member> data, order;
  std::vector<std::unique_ptr<Member>> payments;
  uint16_t gateway = FreePort(), gateway_admin = FreePort();
  std::unique_ptr<ChildProcess> gateway_proc;

  int payment_latency_ms;
  explicit Chain(std::vector<std::string> payment_extra = {}, int latency_ms = 50)
      : payment_args(std::move(payment_extra)), payment_latency_ms(latency_ms) {
    data = std::make_unique<Member>(cp, "data", "");
    for (int i = 0; i < 3; ++i) payments.push_back(NewPayment());
    order = std::make_unique<Member>(cp, "order", "payment");
    EXPECT_EQ(RunCli({"apply", "-f", TempFile("route.yaml", kRoute), "--control", cp.url()}).code,
              0);
    gateway_proc = std::make_unique<ChildProcess>(
        GraymeshBin(), std::vector<std::string>{"gateway", "--listen", Addr(gateway), "--control",
                                                cp.url(), "--admin", Addr(gateway_admin),
                                                "--workers", "1",
                                                "--cache", TestTempDir() + "/gw.json"});
    for (Member* m : {data.get(), order.get()}) EXPECT_TRUE(m->WaitReady(15s)) << m->sidecar->Log();
    for (auto& p : payments) EXPECT_TRUE(p->WaitReady(15s)) << p->sidecar->Log();
    EXPECT_TRUE(Eventually([&] { return HttpGet(gateway, "/checkout").status == 200; }, 10s))
        << gateway_proc->Log();
    // Every payment instance in the order sidecar's snapshot.
    EXPECT_TRUE(Eventually([&] { return ReadyPayments() == 3; }, 10s));
  }
  // Payment is the middle service: it waits `payment_latency_ms`, then calls
  // data, so requests are in flight in it whenever it is stopped.
  std::unique_ptr<Member> NewPayment() {
    return std::make_unique<Member>(cp, "payment", "data", payment_args, payment_latency_ms);
  }
  int ReadyPayments() const {
    nlohmann::json j = Json(cp.Get("/v1/instances?service=payment"));
    int n = 0;
    for (const auto& i : j["instances"]) n += i.value("state", "") == "ready";
    return n;
  }
  // GET and POST in turn, each through gateway, order, payment and data
  // (the answer must show data), with the POST's body carried the whole way.
  LoadGenerator Load(int connections = 8) {
    return LoadGenerator({.port = gateway,
                          .connections = connections,
                          .post_target = "/checkout",
                          .expect_in_body = R"("service":"data")"});
  }
  // For the rolling restarts: enough connections that every payment
  // instance has requests in flight whenever it is stopped (about 200 req/s
  // with a 100 ms payment, the issue's load).
  LoadGenerator ChainLoad() { return Load(24); }

  // Once the load has stopped every proxy still running has answered every
  // request it received: none hangs, none was dropped unanswered.
  void ExpectNoOpenRequests() {
    std::vector<std::pair<std::string, uint16_t>> proxies = {
        {"gateway", gateway_admin}, {"order", order->admin}, {"data", data->admin}};
    for (auto& p : payments) proxies.emplace_back("payment", p->admin);
    for (const auto& [name, admin] : proxies) {
      EXPECT_TRUE(Eventually([&] { return OpenRequests(admin) == 0; }, 3s))
          << name << " sidecar (admin " << admin << "): " << OpenRequests(admin)
          << " requests received and not completed";
    }
  }

  // A Kubernetes rolling update of payment (maxSurge 1, maxUnavailable 0):
  // a new instance, wait for its readiness, then stop an old one.
  void RollingRestart(LoadGenerator& load) {
    for (int i = 0; i < 3; ++i) {
      payments.push_back(NewPayment());
      EXPECT_TRUE(payments.back()->WaitReady(15s)) << payments.back()->sidecar->Log();
      EXPECT_TRUE(load.WaitForMore(30, 10s));
      std::unique_ptr<Member> old = std::move(payments.front());
      payments.erase(payments.begin());
      old->Stop();
      EXPECT_TRUE(load.WaitForMore(30, 10s));
    }
  }
};

// 100 ms in payment and 24 connections: about eight requests in flight in
// each payment instance at any time, so each one stopped has some, GETs and
// POSTs.
constexpr int kSlowPayment = 100;

TEST(Lossless, RollingRestartOfTheMiddleServiceLosesNothing) {
  Chain chain({}, kSlowPayment);
  LoadGenerator load = chain.ChainLoad();
  ASSERT_TRUE(load.WaitForMore(100, 10s));
  const auto started = std::chrono::steady_clock::now();
  const uint64_t before = load.requests();
  chain.RollingRestart(load);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const uint64_t during = load.requests() - before;
  LoadTally t = load.Stop();
  std::printf("rolling restart: %.0f req/s over %.1f s; %s\n", during / seconds, seconds,
              t.Summary().c_str());
  EXPECT_GT(t.requests, 200u) << t.Summary();
  EXPECT_GT(t.posts, 100u) << t.Summary();
  EXPECT_EQ(t.failed(), 0u) << t.Summary();
  chain.ExpectNoOpenRequests();
}

// The protection off: the same rollout loses requests in flight (their
// calls to data find the outbound listener closed) and races with
// connections that close under a request.
TEST(Lossless, RollingRestartWithoutTheDrainLosesRequests) {
  Chain chain({"--no-drain"}, kSlowPayment);
  LoadGenerator load = chain.ChainLoad();
  ASSERT_TRUE(load.WaitForMore(100, 10s));
  chain.RollingRestart(load);
  LoadTally t = load.Stop();
  std::printf("without the drain: %s\n", t.Summary().c_str());
  EXPECT_GT(t.failed(), 0u) << "without the drain the rollout should lose requests\n"
                            << t.Summary();
}

TEST(Lossless, ScaleInAndScaleOutLoseNothing) {
  Chain chain;
  LoadGenerator load = chain.Load();
  ASSERT_TRUE(load.WaitForMore(100, 10s));
  // Scale-in: 3 -> 2.
  EXPECT_EQ(chain.payments.back()->Stop(), 0) << chain.payments.back()->sidecar->Log();
  chain.payments.pop_back();
  EXPECT_TRUE(load.WaitForMore(100, 10s));
  // Scale-out: 2 -> 3; the new one takes traffic only once ready.
  chain.payments.push_back(chain.NewPayment());
  EXPECT_TRUE(chain.payments.back()->WaitReady(15s));
  EXPECT_TRUE(Eventually([&] { return chain.ReadyPayments() == 3; }, 5s));
  EXPECT_TRUE(load.WaitForMore(200, 10s));
  LoadTally t = load.Stop();
  EXPECT_GT(t.posts, 100u) << t.Summary();
  EXPECT_EQ(t.failed(), 0u) << t.Summary();
  chain.ExpectNoOpenRequests();
}

// A SIGKILLed instance says nothing: its lease outlives it, and consumers
// find out on the first failed attempt; GETs are then retried elsewhere.
TEST(Lossless, SigkilledInstanceCostsNoIdempotentRequest) {
  Chain chain;
  LoadGenerator load({.port = chain.gateway, .connections = 4, .post_target = ""});
  ASSERT_TRUE(load.WaitForMore(100, 10s));
  chain.payments.front()->sidecar->Kill();  // the app gets SIGTERM from PR_SET_PDEATHSIG
  EXPECT_TRUE(load.WaitForMore(300, 15s));
  LoadTally t = load.Stop();
  EXPECT_EQ(t.get_failures, 0u) << t.Summary();
}

}  // namespace
}  // namespace graymesh::test

namespace graymesh::test {
namespace {

uint64_t RequestsSeen(uint16_t admin) {
  Response r = HttpGet(admin, "/metrics", {}, 1s);
  const std::string key = "\ngraymesh_downstream_rq_total ";
  const size_t at = r.body.find(key);
  return at == std::string::npos ? 0 : std::stoull(r.body.substr(at + key.size()));
}

// Item: a new instance got traffic 0.33-0.41 s before its own /ready said
// 200. Under load, while /ready is 503 (app up, registration delayed) its
// sidecar sees no request; once ready, it gets its share.
TEST(Lossless, ANewInstanceGetsNoTrafficBeforeItIsReady) {
  Chain chain;
  LoadGenerator load = chain.Load();
  ASSERT_TRUE(load.WaitForMore(50, 10s));
  Member fresh(chain.cp, "payment", "data", {"--delay-registration", "1500ms"}, 50);
  ASSERT_TRUE(WaitForPort(fresh.admin, 5s));
  int not_ready_polls = 0;
  while (HttpGet(fresh.admin, "/ready", {}, 1s).status != 200) {
    const uint64_t seen = RequestsSeen(fresh.admin);
    // Read after /ready said 503 and still 503 after: no request came early.
    if (HttpGet(fresh.admin, "/ready", {}, 1s).status == 200) break;
    EXPECT_EQ(seen, 0u) << "traffic before /ready said 200";
    ++not_ready_polls;
    ASSERT_LT(not_ready_polls, 500) << fresh.sidecar->Log();
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_GT(not_ready_polls, 10);
  EXPECT_TRUE(Eventually([&] { return RequestsSeen(fresh.admin) > 0; }, 5s));
  LoadTally t = load.Stop();
  EXPECT_EQ(t.failed(), 0u) << t.Summary();
}

}  // namespace
}  // namespace graymesh::test
