// The lane side of a request (docs/design.md, lane model): which lane it travels in, which
// of its lane headers are believed (listener trust), the values it carries
// for rules deeper in the chain, what this node learns from it (loose mode),
// and the headers that carry all that on to the next hop. Same thread and
// lifetime contract as session.h: carried_, baggage_buf_ and restored_ are
// this session's, reused from request to request, and rq's views into them
// live until the head has been built.
#include "http/headers.h"
#include "lane/carried.h"
#include "lane/propagation.h"
#include "lane/trace_map.h"
#include "lane/trust.h"
#include "proxy/lane_choice.h"
#include "proxy/session.h"

namespace graymesh::proxy {
namespace {

// Literals as string_views: appended with their length known, no strlen.
using namespace std::string_view_literals;

void AppendHeader(std::string* out, std::string_view name, std::string_view value) {
  out->append(name).append(": "sv).append(value).append("\r\n"sv);
}

}  // namespace

void Session::DecideLane(Request& rq) {
  const Snapshot& snap = this->snap();
  const config::ListenerKind kind = listener_.cfg.kind;
  const uint64_t now = Worker::NowMs() / 1000;
  lane::TraceLaneMap& traces = *worker_.traces();

  // Trust at the entry: an untrusted client's lane headers count for nothing
  // and do not go on (DropsLaneHeader); its own baggage members do.
  if (trusted_ < 0) trusted_ = lane::TrustsClient(listener_.cfg.trust, kind, client_ip_) ? 1 : 0;
  if (trusted_ == 0) {
    rq.header_lane = {};
    if (lane::HasMeshMembers(rq.baggage)) {
      baggage_buf_.clear();
      lane::AppendWithoutMeshMembers(rq.baggage, &baggage_buf_);
      rq.baggage = baggage_buf_;
      rq.rewrite_baggage = true;
    }
  }

  const std::string_view trace = lane::TraceIdFromTraceparent(rq.traceparent);
  // Loose mode, outbound: what the latest inbound request of this trace
  // brought. A lane id of kSeenBase lends no lane.
  uint8_t learnt = 0;
  std::string_view incoming = rq.baggage;
  bool restored = false;
  if (kind == config::ListenerKind::kOutbound && !trace.empty()) {
    learnt = traces.Find(trace, now);
    if (!lane::HasMeshMembers(rq.baggage)) {
      // The app forwarded no carried values (only traceparent): restore what
      // the latest inbound request of the trace carried (base ones too).
      restored_.clear();
      restored = traces.values().Find(trace, now, &restored_);
      if (restored) incoming = restored_;
    }
  }

  // A share kept by trace id needs one before the lane is chosen.
  if (trace.empty() && snap.StickyOnTrace()) {
    traceparent_ = worker_.NewTraceparent();
    rq.traceparent = traceparent_;
    rq.made_traceparent = true;
  }

  // Carried values: this hop's own header/cookie/query values of the keys
  // the rules read, then those that came with the request.
  carried_.clear();
  lane::RequestView view;
  bool have_view = false;
  const lane::CarriedKeys& keys = snap.Carried();
  if (!keys.empty() || restored || lane::HasMeshMembers(incoming)) {
    if (!keys.empty()) {
      view = MakeView(rq);
      have_view = true;
    }
    keys.Append(view, incoming, &carried_);
    view.carried = carried_;
  }

  rq.lane = ChooseLane(rq, learnt, &view, &have_view);
  rq.rewrite_baggage = rq.rewrite_baggage || !rq.lane.empty() || !carried_.empty();

  // Every place that dyes a request (or gives it values to carry) makes sure
  // the chain can keep them through apps that forward only traceparent.
  std::string_view tp_trace = lane::TraceIdFromTraceparent(rq.traceparent);
  if (tp_trace.empty() && (!rq.lane.empty() || !carried_.empty())) {
    traceparent_ = worker_.NewTraceparent();
    rq.traceparent = traceparent_;
    rq.made_traceparent = true;
    tp_trace = lane::TraceIdFromTraceparent(rq.traceparent);
  }
  if (kind == config::ListenerKind::kInbound && !tp_trace.empty()) {
    // The latest request of a trace wins, base included, so the app's next
    // call with this trace id never gets a lane this request did not have.
    uint8_t id = lane::TraceLaneMap::kSeenBase;
    if (!rq.lane.empty()) id = lane::LaneIds::Find(rq.lane);  // 0 (unknown tag): forget
    traces.Learn(tp_trace, id, now);
    traces.values().Learn(tp_trace, carried_, now);
  }
}

std::string_view Session::ChooseLane(const Request& rq, uint8_t learnt, lane::RequestView* view,
                                     bool* have_view) {
  const LaneSignals in{.header_lane = rq.header_lane, .baggage = rq.baggage, .learnt = learnt,
                       .service = rq.service};
  return proxy::ChooseLane(snap(), listener_.cfg, in, cfg().node.lane,
                           [&]() -> const lane::RequestView& {
                             if (!*have_view) {
                               const std::string_view carried = view->carried;
                               *view = MakeView(rq);
                               view->carried = carried;
                               *have_view = true;
                             }
                             return *view;
                           });
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
  v.trace_id = lane::TraceIdFromTraceparent(rq.traceparent);
  v.headers = {view_headers_.data(), n};
  v.baggage = rq.baggage;
  // The caller: this node itself on the outbound side, else what the
  // caller's sidecar said (if this client is trusted to say it).
  if (listener_.cfg.kind == config::ListenerKind::kOutbound) {
    v.source_service = cfg().node.service;
  } else if (trusted_ != 0) {
    v.source_service = v.Header(lane::kSourceHeader);
  }
  return v;
}

bool Session::DropsLaneHeader(const Request& rq, std::string_view name) const {
  const bool untrusted = trusted_ == 0;
  switch (name.size()) {
    case 7:
      if (http::IEquals(name, "baggage")) return rq.rewrite_baggage;
      break;
    case 11:
      if (http::IEquals(name, "traceparent")) return rq.made_traceparent;  // a malformed one
      break;
    case 15:
      if (http::IEquals(name, lane::kLaneHeader)) return untrusted || !rq.lane.empty();
      break;
    case 17:
      if (http::IEquals(name, lane::kSourceHeader)) {
        return untrusted || listener_.cfg.kind == config::ListenerKind::kOutbound;
      }
      break;
    default:
      break;
  }
  if (untrusted) {
    for (const std::string& alias : cfg().node.lane_headers) {
      if (http::IEquals(name, alias)) return true;
    }
  }
  return false;
}

// The lane travels in both forms, so apps that forward either keep it; the
// carried values travel in baggage only.
void Session::AppendLaneHeaders(const Request& rq) {
  const bool is_outbound = listener_.cfg.kind == config::ListenerKind::kOutbound;
  if (!rq.lane.empty()) AppendHeader(&out_, lane::kLaneHeader, rq.lane);
  if (rq.rewrite_baggage) {
    const size_t mark = out_.size();
    out_.append("baggage: "sv);
    const size_t value_start = out_.size();
    // Over the W3C size limit: the carried values go first, then the lane
    // (it still travels in x-graymesh-lane).
    if (!lane::ComposeBaggage(rq.baggage, carried_, rq.lane, &out_) &&
        !lane::ComposeBaggage(rq.baggage, {}, rq.lane, &out_) &&
        !lane::ComposeBaggage(rq.baggage, {}, {}, &out_)) {
      lane::AppendWithoutMeshMembers(rq.baggage, &out_);
    }
    if (out_.size() == value_start) {
      out_.resize(mark);
    } else {
      out_.append("\r\n"sv);
    }
  }
  if (rq.made_traceparent) AppendHeader(&out_, "traceparent", rq.traceparent);
  if (is_outbound && !cfg().node.service.empty()) {
    AppendHeader(&out_, lane::kSourceHeader, cfg().node.service);
  }
}

}  // namespace graymesh::proxy
