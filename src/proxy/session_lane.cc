// The lane side of a request (DESIGN.md §3): which lane it travels in, what
// this node learns from it (loose mode), and the headers that carry the lane
// on to the next hop. Same thread and lifetime contract as session.h.
#include "http/headers.h"
#include "lane/propagation.h"
#include "lane/trace_map.h"
#include "proxy/session.h"

namespace graymesh::proxy {
namespace {

void AppendHeader(std::string* out, std::string_view name, std::string_view value) {
  out->append(name).append(": ").append(value).append("\r\n");
}

}  // namespace

void Session::DecideLane(Request& rq) {
  rq.lane = ChooseLane(rq);
  if (!rq.lane.empty()) {
    std::string_view trace = lane::TraceIdFromTraceparent(rq.traceparent);
    if (trace.empty() && listener_.cfg.kind == config::ListenerKind::kGateway) {
      // Give the request a trace so sidecars of apps that forward only
      // traceparent can keep its lane (loose mode).
      traceparent_ = worker_.NewTraceparent();
      rq.traceparent = traceparent_;
      rq.made_traceparent = true;
    }
    if (!trace.empty() && listener_.cfg.kind == config::ListenerKind::kInbound) {
      if (uint8_t id = lane::LaneIds::Find(rq.lane); id != 0) {
        worker_.traces()->Learn(trace, id, Worker::NowMs() / 1000);
      }
    }
  }
}

std::string_view Session::ChooseLane(const Request& rq) {
  if (lane::ValidLaneTag(rq.header_lane)) return rq.header_lane;
  if (std::string_view l = lane::LaneFromBaggage(rq.baggage); !l.empty()) return l;
  const Snapshot& snap = *worker_.upstreams().snapshot();
  const config::ListenerKind kind = listener_.cfg.kind;
  if (kind == config::ListenerKind::kOutbound) {
    std::string_view trace = lane::TraceIdFromTraceparent(rq.traceparent);
    if (!trace.empty()) {
      uint8_t id = worker_.traces()->Find(trace, Worker::NowMs() / 1000);
      if (id != 0) return lane::LaneIds::Name(id);
    }
  }
  const lane::EntranceRules* rules[2] = {nullptr, nullptr};
  switch (kind) {
    case config::ListenerKind::kGateway:
      rules[0] = snap.GatewayRules(listener_.cfg.name);
      rules[1] = snap.ServiceRules(rq.service);
      break;
    case config::ListenerKind::kOutbound:
      rules[0] = snap.ServiceRules(rq.service);
      break;
    case config::ListenerKind::kInbound:
      rules[0] = snap.InboundRules();
      break;
    case config::ListenerKind::kTcp:
      break;
  }
  if (rules[0] != nullptr || rules[1] != nullptr) {
    lane::RequestView view = MakeView(rq);
    for (const lane::EntranceRules* r : rules) {
      if (r == nullptr) continue;
      if (std::string_view l = r->Match(view); !l.empty()) return l;
    }
  }
  if (kind != config::ListenerKind::kGateway) return worker_.config().node.lane;
  return {};
}

lane::RequestView Session::MakeView(const Request& rq) {
  const char* base = in_.data();
  size_t n = 0;
  for (const http::HeaderSlice& h : req_parser_.headers()) {
    view_headers_[n++] = {h.name.In(base), http::Trim(h.value.In(base))};
  }
  size_t q = rq.target.find('?');
  lane::RequestView v;
  v.method = llhttp_method_name(rq.method);
  v.path = rq.target.substr(0, q);
  v.query = q == std::string_view::npos ? std::string_view() : rq.target.substr(q + 1);
  v.client_address = client_ip_;
  v.headers = {view_headers_.data(), n};
  // The caller: this node itself on the outbound side, else what the
  // caller's sidecar said.
  v.source_service = listener_.cfg.kind == config::ListenerKind::kOutbound
                         ? std::string_view(worker_.config().node.service)
                         : v.Header(lane::kSourceHeader);
  return v;
}

// The lane travels in both forms, so apps that forward either keep it.
void Session::AppendLaneHeaders(const Request& rq) {
  const bool is_outbound = listener_.cfg.kind == config::ListenerKind::kOutbound;
  if (!rq.lane.empty()) {
    AppendHeader(&out_, lane::kLaneHeader, rq.lane);
    out_.append("baggage: ");
    if (!lane::AppendBaggageWithLane(rq.baggage, rq.lane, &out_)) out_.append(rq.baggage);
    out_.append("\r\n");
  }
  if (rq.made_traceparent) AppendHeader(&out_, "traceparent", rq.traceparent);
  if (is_outbound && !worker_.config().node.service.empty()) {
    AppendHeader(&out_, lane::kSourceHeader, worker_.config().node.service);
  }
}

}  // namespace graymesh::proxy
