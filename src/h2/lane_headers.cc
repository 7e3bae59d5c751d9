#include "h2/lane_headers.h"

#include "http/headers.h"
#include "lane/carried.h"
#include "lane/propagation.h"
#include "lane/trace_map.h"
#include "lane/trust.h"
#include "proxy/lane_choice.h"

namespace graymesh::h2 {
namespace {

bool IsLaneAlias(const proxy::Worker& worker, std::string_view name) {
  for (const std::string& alias : worker.config().node.lane_headers) {
    if (http::IEquals(name, alias)) return true;
  }
  return false;
}

std::string_view Find(const std::vector<Header>& h, std::string_view name) {
  for (const Header& x : h) {
    if (x.name == name) return x.value;
  }
  return {};
}

}  // namespace

std::string DecideLane(proxy::Worker& worker, const proxy::ListenerInfo& listener,
                       const LaneRequest& rq, std::vector<Header>* headers) {
  const proxy::Snapshot& snap = *worker.upstreams().snapshot();
  const config::ListenerKind kind = listener.cfg.kind;
  const uint64_t now = proxy::Worker::NowMs() / 1000;
  lane::TraceLaneMap& traces = *worker.traces();
  const bool outbound = kind == config::ListenerKind::kOutbound;

  // Values as they came (copies: the header list is rewritten below).
  std::string header_lane;
  if (rq.trusted) {
    header_lane = std::string(Find(*headers, lane::kLaneHeader));
    if (header_lane.empty()) {
      for (const std::string& alias : worker.config().node.lane_headers) {
        if (auto v = Find(*headers, alias); !v.empty()) header_lane = std::string(v);
      }
    }
  }
  std::string baggage(Find(*headers, "baggage"));
  bool rewrite_baggage = false;
  if (!rq.trusted && lane::HasMeshMembers(baggage)) {
    std::string clean;
    lane::AppendWithoutMeshMembers(baggage, &clean);
    baggage = std::move(clean);
    rewrite_baggage = true;
  }
  std::string traceparent(Find(*headers, "traceparent"));
  bool made_traceparent = false;
  // A share kept by trace id needs one before the lane is chosen (as in
  // HTTP/1.1, session_lane.cc).
  if (lane::TraceIdFromTraceparent(traceparent).empty() && snap.StickyOnTrace()) {
    traceparent = worker.NewTraceparent();
    made_traceparent = true;
  }
  const std::string_view trace = lane::TraceIdFromTraceparent(traceparent);

  uint8_t learnt = 0;
  std::string_view incoming = baggage;
  std::string restored;
  bool was_restored = false;
  if (outbound && !trace.empty()) {
    learnt = traces.Find(trace, now);
    if (!lane::HasMeshMembers(baggage)) {
      was_restored = traces.values().Find(trace, now, &restored);
      if (was_restored) incoming = restored;
    }
  }

  // The request as entrance rules and carried keys read it.
  std::vector<std::pair<std::string_view, std::string_view>> view_headers;
  view_headers.reserve(headers->size());
  for (const Header& h : *headers) view_headers.emplace_back(h.name, h.value);
  const size_t q = rq.path.find('?');
  lane::RequestView view;
  view.method = rq.method;
  view.path = rq.path.substr(0, q);
  view.query = q == std::string_view::npos ? std::string_view() : rq.path.substr(q + 1);
  view.client_address = rq.client_ip;
  view.trace_id = trace;
  view.headers = view_headers;
  view.baggage = baggage;
  if (outbound) {
    view.source_service = worker.config().node.service;
  } else if (rq.trusted) {
    view.source_service = view.Header(lane::kSourceHeader);
  }

  std::string carried;
  const lane::CarriedKeys& keys = snap.Carried();
  if (!keys.empty() || was_restored || lane::HasMeshMembers(incoming)) {
    keys.Append(view, incoming, &carried);
  }
  view.carried = carried;

  // docs/design.md, lane model: the one choice HTTP/1.1 makes too.
  const proxy::LaneSignals in{.header_lane = header_lane, .baggage = baggage, .learnt = learnt,
                              .service = rq.service};
  std::string lane(proxy::ChooseLane(snap, listener.cfg, in, worker.config().node.lane,
                                     [&]() -> const lane::RequestView& { return view; }));
  rewrite_baggage = rewrite_baggage || !lane.empty() || !carried.empty();

  std::string tp_trace(trace);
  if (tp_trace.empty() && (!lane.empty() || !carried.empty())) {
    traceparent = worker.NewTraceparent();
    made_traceparent = true;
    tp_trace = std::string(lane::TraceIdFromTraceparent(traceparent));
  }
  if (kind == config::ListenerKind::kInbound && !tp_trace.empty()) {
    uint8_t id = lane::TraceLaneMap::kSeenBase;
    if (!lane.empty()) id = lane::LaneIds::Find(lane);
    traces.Learn(tp_trace, id, now);
    traces.values().Learn(tp_trace, carried, now);
  }

  // ---- Rewrite the header list ----
  std::string xff;
  std::vector<Header> out;
  out.reserve(headers->size() + 5);
  for (Header& h : *headers) {
    const std::string_view n = h.name;
    if (n == "baggage" && rewrite_baggage) continue;
    if (n == "traceparent" && made_traceparent) continue;
    if (n == lane::kLaneHeader && (!rq.trusted || !lane.empty())) continue;
    if (n == lane::kSourceHeader && (!rq.trusted || outbound)) continue;
    if (!rq.trusted && IsLaneAlias(worker, n)) continue;
    if (n == "x-forwarded-for" && !outbound) {
      if (!xff.empty()) xff += ", ";
      xff += h.value;
      continue;
    }
    out.push_back(std::move(h));
  }
  if (!lane.empty()) out.push_back({std::string(lane::kLaneHeader), lane});
  if (rewrite_baggage) {
    std::string composed;
    if (!lane::ComposeBaggage(baggage, carried, lane, &composed) &&
        !lane::ComposeBaggage(baggage, {}, lane, &composed) &&
        !lane::ComposeBaggage(baggage, {}, {}, &composed)) {
      lane::AppendWithoutMeshMembers(baggage, &composed);
    }
    if (!composed.empty()) out.push_back({"baggage", std::move(composed)});
  }
  if (made_traceparent) out.push_back({"traceparent", traceparent});
  if (outbound && !worker.config().node.service.empty()) {
    out.push_back({std::string(lane::kSourceHeader), worker.config().node.service});
  }
  if (!outbound) {
    if (!xff.empty()) xff += ", ";
    xff += rq.client_ip;
    out.push_back({"x-forwarded-for", std::move(xff)});
  }
  *headers = std::move(out);
  return lane;
}

}  // namespace graymesh::h2
