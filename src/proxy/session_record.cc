// The record of each request a session finishes: labelled metrics and the
// access log (request_recorder.h). Kept apart from the forwarding code: the
// session only carries the values on its Request.
#include "http/headers.h"
#include "lane/propagation.h"
#include "proxy/session.h"

namespace graymesh::proxy {
namespace {

Direction DirectionOf(config::ListenerKind kind) {
  switch (kind) {
    case config::ListenerKind::kGateway: return Direction::kGateway;
    case config::ListenerKind::kOutbound: return Direction::kOutbound;
    default: return Direction::kInbound;
  }
}

}  // namespace

void Session::NoteForRecord(Request& rq) {
  const Snapshot& snap = *worker_.upstreams().snapshot();
  if (listener_.cfg.kind == config::ListenerKind::kInbound &&
      !worker_.config().node.service.empty()) {
    rq.destination = worker_.config().node.service;  // not the local app's "local:NAME"
  } else if (rq.service >= 0 && size_t(rq.service) < snap.services().size()) {
    rq.destination = snap.services()[rq.service].name;
  }
  rq.lane_requested = rq.lane;
  switch (listener_.cfg.kind) {
    case config::ListenerKind::kGateway: rq.source = listener_.cfg.name; break;
    case config::ListenerKind::kOutbound: rq.source = worker_.config().node.service; break;
    default:
      // What the caller's sidecar said, when this client may say it.
      if (trusted_ != 0) {
        const char* base = in_.data();
        for (const http::HeaderSlice& h : req_parser_.headers()) {
          if (http::IEquals(h.name.In(base), lane::kSourceHeader)) {
            rq.source = http::Trim(h.value.In(base));
            break;
          }
        }
      }
  }
  if (listener_.access_log >= 0) {
    rq.path = rq.target.substr(0, rq.target.find('?'));
    rq.trace_id = lane::TraceIdFromTraceparent(rq.traceparent);
  }
}

void Session::RecordRequest(const Request& rq, RequestRecorder::Clock::time_point started) {
  RequestRecord r{.direction = DirectionOf(listener_.cfg.kind),
                  .source = rq.source,
                  .destination = rq.destination,
                  .lane_requested = rq.lane_requested,
                  .lane_served = rq.lane_served,
                  .status = replied_status_};
  // Inbound, the instance that served is this one: its lane, not the local
  // app's endpoint (which has none).
  if (listener_.cfg.kind == config::ListenerKind::kInbound && !rq.endpoint.empty()) {
    r.lane_served = worker_.config().node.lane;
  }
  AccessFields a;
  if (listener_.access_log >= 0) {
    a = {.trace_id = rq.trace_id,
         .method = llhttp_method_name(rq.method),
         .path = rq.path,
         .endpoint = rq.endpoint};
  }
  worker_.recorder().Finish(started, r, listener_.access_log, a);
}

}  // namespace graymesh::proxy
