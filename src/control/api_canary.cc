// /v1/canaries (docs/canary.md): the runs of Canary documents, and the
// commands that steer them. A canary starts when its document is applied.
#include <nlohmann/json.hpp>

#include "control/api.h"
#include "control/canary.h"
#include "wire/instance_state.h"

namespace graymesh::control {

using nlohmann::json;

namespace {
net::HttpReply Allow(const char* allow) {
  net::HttpReply r = ErrorReply(405, std::string("method not allowed (allowed: ") + allow + ")");
  r.headers.emplace_back("allow", allow);
  return r;
}
}  // namespace

net::HttpReply Api::Canaries(const std::vector<std::string>& seg, const Request& req) {
  if (canaries_ == nullptr) return ErrorReply(404, "no such path: " + req.path);
  const bool get = req.method == "GET" || req.method == "HEAD";
  if (seg.size() == 2) {
    if (!get) return Allow("GET");
    json items = json::array();
    for (const CanaryStatus& s : canaries_->List()) items.push_back(StatusToJson(s));
    return JsonReply(200, {{"canaries", items}});
  }
  const std::string& service = seg[2];
  if (seg.size() == 3) {
    if (!get) return Allow("GET");
    std::optional<CanaryStatus> s = canaries_->Get(service);
    if (!s) return ErrorReply(404, "no canary for service \"" + service + "\"");
    return JsonReply(200, StatusToJson(*s));
  }
  if (req.method != "POST") return Allow("POST");
  std::string error;
  std::optional<CanaryStatus> s = canaries_->Command(service, seg[3], wire::UnixMillis(), &error);
  if (!s) {
    const bool unknown = error.starts_with("no canary");
    const bool bad = error.starts_with("unknown command");
    return ErrorReply(unknown ? 404 : bad ? 400 : 409, error);
  }
  return JsonReply(200, StatusToJson(*s));
}

}  // namespace graymesh::control
