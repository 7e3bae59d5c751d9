#include "h2/stream.h"

#include "proxy/worker.h"

#include <charconv>
#include <cstring>

namespace graymesh::h2 {

size_t BodyQueue::Take(uint8_t* out, size_t n) {
  n = std::min(n, size());
  std::memcpy(out, buf_.data() + off_, n);
  off_ += n;
  if (off_ == buf_.size()) {
    buf_.clear();
    off_ = 0;
  } else if (off_ > 64 * 1024 && off_ * 2 > buf_.size()) {
    buf_.erase(0, off_);
    off_ = 0;
  }
  return n;
}

std::vector<nghttp2_nv> ToNv(const std::vector<Header>& h) {
  std::vector<nghttp2_nv> nv;
  nv.reserve(h.size());
  for (const Header& x : h) {
    nv.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(x.name.data())),
                  reinterpret_cast<uint8_t*>(const_cast<char*>(x.value.data())), x.name.size(),
                  x.value.size(), NGHTTP2_NV_FLAG_NONE});
  }
  return nv;
}

int ParseGrpcStatus(std::string_view v) {
  int n = -1;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  return ec == std::errc() && p == v.data() + v.size() && !v.empty() ? n : -1;
}

namespace {

// grpc-status from the trailers, or the head of a trailers-only response;
// -1 when neither has one (the stream ended early).
int GrpcStatusOf(const ProxyStream& s) {
  for (const Header& h : s.resp_trailers) {
    if (h.name == "grpc-status") return ParseGrpcStatus(h.value);
  }
  for (const Header& h : s.resp_headers) {  // a head not passed on yet
    if (h.name == "grpc-status") return ParseGrpcStatus(h.value);
  }
  return s.head_grpc_status;
}

}  // namespace

void ProxyStream::Finish(health::Outcome failed) {
  if (!counted) return;
  counted = false;
  health::AttemptResult r;
  r.outcome = status > 0 ? health::Outcome::kOk : failed;
  r.status = static_cast<uint16_t>(status > 0 ? status : 0);
  r.draining = draining;
  if (grpc && status > 0) r.grpc_status = int16_t(GrpcStatusOf(*this));
  const int64_t now = worker->HealthNow();
  r.latency_ms = now - attempt_started_ms;
  svc->Report(choice, r, now, worker->stats());
}

}  // namespace graymesh::h2
