#include "proxy/control_agent.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "wire/snapshot_json.h"
#include "wire/instance_state.h"
#include "net/listener.h"
#include "proxy/app_watch.h"

namespace graymesh::proxy {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

// Reconnect delays grow to 5 s, jittered so a fleet does not come back in step.
milliseconds Backoff(int failures, std::mt19937& rng) {
  int64_t base = std::min<int64_t>(5'000, 250ll << std::min(failures, 5));
  return milliseconds(std::uniform_int_distribution<int64_t>(base / 2, base)(rng));
}

bool WriteFileAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out.flush()) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

}  // namespace

struct ControlAgent::State {
  ControlAgentOptions opt;
  Compose compose;
  // Held while `apply` runs; Stop() takes it to wait for one in progress and
  // clear it, so the callback's owner may go once Stop() returns.
  std::mutex apply_mu;
  Apply apply;
  std::atomic<bool> stop{false};
  std::atomic<bool> draining{false};
  std::atomic<bool> registered{false};
  std::atomic<bool> has_snapshot{false};
  std::atomic<bool> app_ready{false};
  std::atomic<bool> deregistered{false};
  // Held while a state is decided and sent, so a late "ready" from the lease
  // thread never overwrites "draining".
  std::mutex state_mu;
  std::atomic<int64_t> version{0};
  std::mutex mu;  // guards id
  std::string id;
  std::atomic<int64_t> ttl_seconds{15};
  std::atomic<int64_t> delay_ms{0};  // delay_registration, changed by later snapshots
  // The app's readiness (null without an app address); set by Start, reset
  // by Stop after the lease thread ended. `app_changed` wakes the lease
  // thread when it flips.
  std::atomic<bool> app_changed{false};
  std::unique_ptr<AppWatch> app_watch;
  std::thread watch, lease;

  // ---- The notifier thread: "draining" and the deregistration, in that
  // order, off the caller's (the admin) thread. Guarded by notify_mu.
  std::mutex notify_mu;
  std::condition_variable notify_cv;
  bool send_draining = false, send_deregister = false, notifier_done = false;
  std::thread notifier;

  std::atomic<size_t> current{0};  // index into opt.urls

  // One call to the current replica; a transport failure or 5xx moves the
  // next call to the next replica (a killed replica's proxies fail over).
  wire::ApiResult Call(const std::string& method, const std::string& path,
                          const std::string& body, milliseconds timeout) {
    const size_t i = current.load() % opt.urls.size();
    net::HeaderList headers;
    if (!body.empty()) headers.emplace_back("content-type", "application/json");
    wire::ApiResult r =
        wire::CallControl(opt.urls[i], opt.token, method, path, body, headers, timeout);
    if (r.status == 0 || r.status >= 500) {
      size_t expected = i;
      current.compare_exchange_strong(expected, i + 1);
    }
    return r;
  }

  // ---- Watch thread only (and Initial, before Start) ----
  std::string store_id;   // of the last snapshot taken
  std::string last_good;  // the last snapshot applied as it was sent
  std::string latest;     // the last snapshot received
  int64_t fill_until_ms = 0;
  bool filling = false;  // running on MergeForFill(latest, last_good)
  std::string gateway_query;  // "&gateway=a,b" or ""
  // Set by the watch thread when the store changed: the lease thread
  // registers at once instead of at its next heartbeat.
  std::atomic<bool> register_now{false};

  // Applies a snapshot body; false when it does not parse (kept: the old one).
  bool Take(const std::string& body, bool save) {
    try {
      const json j = json::parse(body);
      const std::string id = j.value("store", "");
      const int64_t until = j.value("fillingUntil", int64_t(0));
      const bool new_store = !store_id.empty() && id != store_id;
      if (new_store) {
        spdlog::warn("control: store changed ({} -> {}): registering again", store_id, id);
        register_now = true;
      }
      const bool fill =
          (new_store || filling) && until > wire::UnixMillis() && !last_good.empty();
      std::string effective = body;
      if (fill) {
        effective = wire::SnapshotToJson(
                        wire::MergeForFill(wire::SnapshotFromJson(j),
                                              wire::SnapshotFromJson(json::parse(last_good))))
                        .dump();
      }
      auto cfg = std::make_shared<const config::Config>(compose(effective));
      {
        std::lock_guard<std::mutex> lock(apply_mu);
        if (stop) return true;  // Stop() ran: the owner of `apply` may be gone
        if (apply) apply(cfg);
      }
      if (fill && !filling) {
        spdlog::warn("control: new registry is filling: keeping last-known endpoints and rules "
                     "for {} ms more",
                     until - wire::UnixMillis());
      } else if (!fill && filling) {
        spdlog::info("control: fill period over: running on the registry as it is");
      }
      if (!fill) last_good = body;
      filling = fill;
      fill_until_ms = until;
      store_id = id;
      latest = body;
      version = j.value("version", int64_t(0));
      has_snapshot = true;
      if (save && !opt.cache_path.empty() && !WriteFileAtomically(opt.cache_path, effective)) {
        spdlog::warn("control: cannot write snapshot cache {}", opt.cache_path);
      }
      return true;
    } catch (const std::exception& e) {
      spdlog::error("control: snapshot refused, keeping version {}: {}", version.load(), e.what());
      return false;
    }
  }

  void WatchLoop() {
    std::mt19937 rng(std::random_device{}());
    int failures = 0;
    while (!stop) {
      // While filling, wake up when the fill period ends.
      milliseconds wait = opt.wait;
      if (filling) {
        wait = std::clamp(milliseconds(fill_until_ms - wire::UnixMillis()), milliseconds(100),
                          opt.wait);
      }
      std::string path = "/v1/snapshot?version=" + std::to_string(version.load()) +
                         "&wait=" + fmt::format("{:.3f}", wait.count() / 1000.0) +
                         (store_id.empty() ? "" : "&store=" + store_id) + gateway_query;
      wire::ApiResult r = Call("GET", path, "", wait + milliseconds(5000));
      if (stop) return;
      if (r.status == 200) {
        failures = 0;
        Take(r.body, true);
      } else if (r.status == 304) {
        failures = 0;
      }
      if (filling && wire::UnixMillis() >= fill_until_ms) Take(latest, true);
      if (r.status != 200 && r.status != 304) {
        if (failures++ == 0) {
          spdlog::warn("control: watch failed ({}), routing on version {}",
                       r.status == 0 ? r.error : std::to_string(r.status), version.load());
        }
        Sleep(Backoff(failures, rng));
      }
    }
  }

  const char* StateToSend() const {
    return draining ? "draining" : app_ready ? "ready" : "unhealthy";
  }

  bool Register() {
    std::lock_guard<std::mutex> state_lock(state_mu);
    if (deregistered) return false;
    json body = {{"service", opt.service}, {"address", opt.address}, {"lane", opt.lane},
                 {"labels", opt.labels}, {"state", StateToSend()}};
    wire::ApiResult r = Call("POST", "/v1/instances", body.dump(), milliseconds(5000));
    if (r.status != 200 && r.status != 201) return false;  // 201: new, 200: known
    std::lock_guard<std::mutex> lock(mu);
    json reply = json::parse(r.body, nullptr, false);
    if (!reply.is_object()) return false;
    id = reply.value("id", "");
    ttl_seconds = std::max<int64_t>(1, reply.value("ttlSeconds", int64_t(15)));
    registered = !id.empty();
    if (registered) spdlog::info("control: registered {} as {}", opt.address, id);
    return registered;
  }

  bool AppOk() const { return app_watch == nullptr || app_watch->ready(); }

  // Sends the state the app's health says (not while draining).
  bool SendState(const std::string& my_id) {
    std::lock_guard<std::mutex> state_lock(state_mu);
    if (draining || deregistered) return true;
    json body = {{"state", StateToSend()}};
    return Call("PUT", "/v1/instances/" + my_id, body.dump(), milliseconds(2000)).status == 200;
  }

  void LeaseLoop() {
    std::mt19937 rng(std::random_device{}());
    using Clock = std::chrono::steady_clock;
    // Lossless start: register only once the app is ready (the watch logs why
    // it is not).
    if (!stop && !AppOk()) {
      spdlog::info("control: not registering until app {} is ready", opt.app_address);
    }
    while (!stop && !AppOk()) {
      app_changed = false;
      if (!AppOk()) Sleep(milliseconds(200), &app_changed);
    }
    app_ready = true;
    // Re-read while waiting: a snapshot may change the delay meanwhile.
    const auto ready_at = Clock::now();
    int64_t logged = 0;
    for (int64_t d; !stop && Clock::now() < ready_at + milliseconds(d = delay_ms.load());) {
      if (d != logged) {
        spdlog::info("control: app ready: registering {} ms after it", d);
        logged = d;
      }
      Sleep(milliseconds(50));
    }
    int failures = 0;
    bool state_dirty = false;  // the app's health changed since the registry heard
    auto next_beat = Clock::now();
    while (!stop && !deregistered) {
      const auto now = Clock::now();
      app_changed = false;
      if (const bool healthy = AppOk(); healthy != app_ready) {
        app_ready = healthy;
        state_dirty = true;
        spdlog::log(healthy ? spdlog::level::info : spdlog::level::warn,
                    "control: app {} {}: the instance is {}", opt.app_address,
                    healthy ? "ready again" : "not ready", healthy ? "ready" : "unhealthy");
      }
      std::string my_id;
      {
        std::lock_guard<std::mutex> lock(mu);
        my_id = id;
      }
      if (register_now.exchange(false) || my_id.empty()) {
        const bool ok = Register();
        failures = ok ? 0 : failures + 1;
        state_dirty = false;
        next_beat = Clock::now() + (ok ? milliseconds(ttl_seconds * 1000 / 3)
                                       : Backoff(failures, rng));
      } else if (state_dirty) {
        state_dirty = !SendState(my_id);
      } else if (now >= next_beat) {
        wire::ApiResult r =
            Call("PUT", "/v1/instances/" + my_id + "/heartbeat", "", milliseconds(5000));
        if (r.status == 404) {  // lease lost (control plane restarted, or cut off too long)
          std::lock_guard<std::mutex> lock(mu);
          id.clear();
          registered = false;
          continue;
        }
        const bool ok = r.status == 200;
        failures = ok ? 0 : failures + 1;
        // Three heartbeats a lease: one lost beat never expires it.
        next_beat = Clock::now() + (ok ? milliseconds(ttl_seconds * 1000 / 3)
                                       : Backoff(failures, rng));
      }
      Sleep(std::chrono::duration_cast<milliseconds>(next_beat - Clock::now()), &register_now,
            &app_changed);
    }
  }

  // Tells the registry the instance drains. Holding state_mu, so a "ready"
  // the lease thread is sending goes first and this one wins.
  void SendDraining() {
    std::lock_guard<std::mutex> state_lock(state_mu);
    std::string my_id;
    {
      std::lock_guard<std::mutex> lock(mu);
      my_id = id;
    }
    if (my_id.empty()) return;  // not registered yet: Register() sends "draining"
    wire::ApiResult r = Call("PUT", "/v1/instances/" + my_id, R"({"state":"draining"})",
                             milliseconds(2000));
    if (r.status != 200) {
      spdlog::warn("control: marking {} draining failed ({}): consumers still learn it from "
                   "x-graymesh-draining",
                   my_id, r.status == 0 ? r.error : std::to_string(r.status));
    }
  }

  void SendDeregister() {
    std::lock_guard<std::mutex> state_lock(state_mu);
    std::string my_id;
    {
      std::lock_guard<std::mutex> lock(mu);
      my_id = id;
      id.clear();
      registered = false;
    }
    if (my_id.empty()) return;
    wire::ApiResult r = Call("DELETE", "/v1/instances/" + my_id, "", milliseconds(2000));
    if (r.status == 200) {
      spdlog::info("control: deregistered {}", my_id);
    } else {
      spdlog::warn("control: deregistering {} failed ({}): its lease will expire", my_id,
                   r.status == 0 ? r.error : std::to_string(r.status));
    }
  }

  void NotifyLoop() {
    std::unique_lock<std::mutex> lock(notify_mu);
    for (;;) {
      notify_cv.wait(lock, [&] { return send_draining || send_deregister || notifier_done; });
      if (send_draining) {
        send_draining = false;
        lock.unlock();
        SendDraining();
        lock.lock();
      } else if (send_deregister) {
        send_deregister = false;
        lock.unlock();
        SendDeregister();
        lock.lock();
      } else {
        return;
      }
    }
  }

  // Until `d` passed, Stop(), or `*wake` or `*wake2` is set.
  void Sleep(milliseconds d, const std::atomic<bool>* wake = nullptr,
             const std::atomic<bool>* wake2 = nullptr) {
    auto until = std::chrono::steady_clock::now() + d;
    auto woken = [&] { return (wake != nullptr && *wake) || (wake2 != nullptr && *wake2); };
    while (!stop && !woken() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(milliseconds(50));
    }
  }
};

ControlAgent::ControlAgent(ControlAgentOptions options, Compose compose)
    : state_(std::make_shared<State>()) {
  state_->opt = std::move(options);
  state_->delay_ms = state_->opt.delay_registration.count();
  state_->compose = std::move(compose);
  std::string names;
  for (const std::string& n : state_->opt.gateway_listeners) names += (names.empty() ? "" : ",") + n;
  if (!names.empty()) state_->gateway_query = "&gateway=" + names;
}

ControlAgent::~ControlAgent() { Stop(); }

std::shared_ptr<const config::Config> ControlAgent::Initial(milliseconds timeout) {
  State& s = *state_;
  std::shared_ptr<const config::Config> cfg;
  s.apply = [&](std::shared_ptr<const config::Config> c) { cfg = std::move(c); };
  wire::ApiResult r = s.Call("GET", "/v1/snapshot?version=0", "", timeout);
  for (size_t i = 1; i < s.opt.urls.size() && (r.status == 0 || r.status >= 500); ++i) {
    r = s.Call("GET", "/v1/snapshot?version=0", "", timeout);
  }
  std::string why_control = r.status == 0 ? r.error : "status " + std::to_string(r.status);
  if (r.status == 200 && s.Take(r.body, true)) {
    s.apply = nullptr;
    return cfg;
  }
  std::string cached;
  if (!s.opt.cache_path.empty() && ReadFile(s.opt.cache_path, &cached)) {
    spdlog::warn("control plane unreachable ({}): starting from cached snapshot {}", why_control,
                 s.opt.cache_path);
    if (s.Take(cached, false)) {
      s.apply = nullptr;
      return cfg;
    }
  }
  s.apply = nullptr;
  throw std::runtime_error("control plane unreachable (" + why_control + ") and no usable cache" +
                           (s.opt.cache_path.empty() ? "" : " at " + s.opt.cache_path));
}

void ControlAgent::SetDelayRegistration(milliseconds d) { state_->delay_ms = d.count(); }

void ControlAgent::Start(Apply apply) {
  std::shared_ptr<State> s = state_;
  s->apply = std::move(apply);
  {
    std::lock_guard<std::mutex> lock(s->notify_mu);
    s->notifier = std::thread([s] { s->NotifyLoop(); });
  }
  s->watch = std::thread([s] { s->WatchLoop(); });
  if (s->opt.service.empty()) return;
  if (!s->opt.app_address.empty()) {
    s->app_watch = std::make_unique<AppWatch>(
        AppProbe{.address = s->opt.app_address, .path = s->opt.ready_path},
        s->opt.probe_interval, [st = s.get()](bool) { st->app_changed = true; });
  }
  s->lease = std::thread([s] { s->LeaseLoop(); });
}

void ControlAgent::Draining() {
  State& s = *state_;
  s.draining = true;  // read by Register and SendState: no "ready" is sent from now on
  {
    std::lock_guard<std::mutex> lock(s.notify_mu);
    if (s.notifier.joinable()) {
      s.send_draining = true;
      s.notify_cv.notify_one();
      return;
    }
  }
  s.SendDraining();  // before Start: nothing registered, nothing to wait for
}

void ControlAgent::Deregister() {
  State& s = *state_;
  if (s.deregistered.exchange(true)) return;  // Register and the lease loop stop here
  {
    std::lock_guard<std::mutex> lock(s.notify_mu);
    if (s.notifier.joinable()) {
      s.send_deregister = true;
      s.notify_cv.notify_one();
      return;
    }
  }
  s.SendDeregister();
}

void ControlAgent::Stop() {
  std::shared_ptr<State> s = state_;
  if (s->stop.exchange(true)) return;
  Deregister();
  {
    std::lock_guard<std::mutex> lock(s->notify_mu);
    s->notifier_done = true;
    s->notify_cv.notify_one();
  }
  // The deregistration queued above is sent before the notifier ends (at
  // most its 2 s timeout): the process exits only after it.
  if (s->notifier.joinable()) s->notifier.join();
  // A long poll may be in flight: let that thread finish on its own; it only
  // touches the shared state, which it keeps alive. An Apply in progress
  // finishes first, and none starts from here on (Take checks `stop`).
  {
    std::lock_guard<std::mutex> lock(s->apply_mu);
    s->apply = nullptr;
  }
  if (s->watch.joinable()) s->watch.detach();
  if (s->lease.joinable()) s->lease.join();
  s->app_watch.reset();  // nothing reads it any more
}

bool ControlAgent::registered() const { return state_->registered; }
bool ControlAgent::has_snapshot() const { return state_->has_snapshot; }
bool ControlAgent::app_ready() const { return state_->app_ready; }

std::string ControlAgent::instance_id() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->id;
}

}  // namespace graymesh::proxy
