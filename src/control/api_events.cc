// The release events half of the API: GET /v1/events, and the events the
// registry's own writes record (registered, ready, draining, deregistered,
// expired).
#include <fmt/format.h>

#include <charconv>
#include <set>

#include "control/api.h"

namespace graymesh::control {
namespace {

constexpr int64_t kDefaultLimit = 100;
constexpr int64_t kMaxLimit = 1000;

// A decimal integer min..max from a query parameter, or the reason it is not.
std::optional<int64_t> QueryInteger(std::string_view v, int64_t min, int64_t max,
                                    const char* name, std::string* error) {
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || ptr != v.data() + v.size() || n < min || n > max) {
    *error = fmt::format("{}: expected an integer {}..{}, got \"{}\"", name, min, max,
                         std::string(v.substr(0, 64)));
    return std::nullopt;
  }
  return n;
}

}  // namespace

net::HttpReply Api::ListEvents(const Request& req) {
  std::string error;
  int64_t since = 0;
  if (std::string_view v = req.QueryParam("since"); !v.empty()) {
    auto n = QueryInteger(v, 0, INT64_MAX, "since", &error);
    if (!n) return ErrorReply(400, error + " (unix milliseconds)");
    since = *n;
  }
  int64_t limit = kDefaultLimit;
  if (std::string_view v = req.QueryParam("limit"); !v.empty()) {
    auto n = QueryInteger(v, 1, kMaxLimit, "limit", &error);
    if (!n) return ErrorReply(400, error);
    limit = *n;
  }
  return JsonReply(200, events_.ToJson(events_.Since(since, size_t(limit))));
}

void Api::RecordInstance(const char* kind, const Instance& inst, std::string detail) {
  events_.Record(Event{.kind = kind,
                       .service = inst.spec.service,
                       .instance = inst.id,
                       .lane = inst.spec.lane,
                       .detail = std::move(detail)});
}

void Api::RecordInstanceChange(const std::optional<Instance>& before, const Instance& after) {
  // An instance this process has not seen yet is a registration for the log
  // even when the store knew it (this control plane restarted on its store).
  // Only on a store that is refilling (SQLite after a restart): on a shared
  // store another replica saw it, and its move to this replica is no event.
  const bool first_seen = known_instances_.emplace(after.id, std::pair{after.spec.service,
                                                                       after.spec.lane}).second &&
                          store_.Refilling();
  known_instances_[after.id] = {after.spec.service, after.spec.lane};
  if (!before || first_seen) {
    RecordInstance("registered", after,
                   fmt::format("{} weight {} {}{}", after.spec.address, after.spec.weight,
                               StateName(after.spec.state), before ? " (known to the store)" : ""));
  }
  const bool changed = !before || first_seen || before->spec.state != after.spec.state;
  if (changed && after.spec.state == InstanceState::kReady) {
    RecordInstance("ready", after, after.spec.address);
  } else if (changed && after.spec.state == InstanceState::kDraining) {
    RecordInstance("draining", after, after.spec.address);
  }
}

void Api::LeasesExpired(const std::vector<std::string>& ids) {
  for (const std::string& id : ids) {
    auto it = known_instances_.find(id);
    Event e{.kind = "expired", .instance = id, .detail = "lease ran out"};
    if (it != known_instances_.end()) {
      e.service = it->second.first;
      e.lane = it->second.second;
      known_instances_.erase(it);
    }
    events_.Record(std::move(e));
  }
}

void Api::ForgetGoneInstances() {
  if (known_instances_.empty()) return;
  std::set<std::string> live;
  for (const Instance& i : store_.ListInstances("")) live.insert(i.id);
  std::erase_if(known_instances_, [&live](const auto& kv) { return !live.contains(kv.first); });
}

}  // namespace graymesh::control
