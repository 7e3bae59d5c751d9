#include "proxy/request_metrics.h"

#include <algorithm>

namespace graymesh::proxy {
namespace {

constexpr uint16_t kEmpty = 0;
constexpr uint16_t kOther = 1;
constexpr std::array<std::string_view, 6> kClasses = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};

int ClassIndex(int status) { return status >= 100 && status < 600 ? status / 100 : 0; }

// 2 bits direction, 3 bits class, 4 x 12 bits label ids.
uint64_t Pack(Direction d, int cls, uint16_t src, uint16_t dst, uint16_t req, uint16_t served) {
  return uint64_t(d) | uint64_t(cls) << 2 | uint64_t(src) << 5 | uint64_t(dst) << 17 |
         uint64_t(req) << 29 | uint64_t(served) << 41;
}

}  // namespace

static_assert(kMaxLabelValues <= 4096, "label ids are packed in 12 bits");

std::string_view DirectionName(Direction d) {
  switch (d) {
    case Direction::kInbound: return "inbound";
    case Direction::kOutbound: return "outbound";
    case Direction::kGateway: return "gateway";
  }
  return "inbound";
}

std::string_view CodeClass(int status) { return kClasses[ClassIndex(status)]; }

void SeriesCounts::Add(const SeriesCounts& o) {
  count += o.count;
  for (size_t i = 0; i < buckets.size(); ++i) buckets[i] += o.buckets[i];
  sum += o.sum;
}

RequestMetrics::RequestMetrics() {
  names_ = {"", "other"};
  ids_.emplace("", kEmpty);
  ids_.emplace("other", kOther);
}

uint16_t RequestMetrics::Intern(std::string_view value) {
  if (auto it = ids_.find(value); it != ids_.end()) return it->second;
  if (value.size() > kMaxLabelLength || names_.size() >= kMaxLabelValues) return kOther;
  const uint16_t id = uint16_t(names_.size());
  names_.emplace_back(value);
  ids_.emplace(names_.back(), id);
  return id;
}

void RequestMetrics::Record(const RequestRecord& r) {
  uint64_t key = Pack(r.direction, ClassIndex(r.status), Intern(r.source), Intern(r.destination),
                      Intern(r.lane_requested), Intern(r.lane_served));
  auto it = series_.find(key);
  if (it == series_.end()) {
    if (series_.size() >= kMaxSeries) {
      key = Pack(r.direction, ClassIndex(r.status), kOther, kOther, kOther, kOther);
    }
    it = series_.try_emplace(key).first;
  }
  SeriesCounts& c = it->second;
  ++c.count;
  const size_t b =
      std::lower_bound(kLatencyBounds.begin(), kLatencyBounds.end(), r.seconds) -
      kLatencyBounds.begin();
  ++c.buckets[b];
  c.sum += r.seconds;
}

std::vector<SeriesSample> RequestMetrics::Samples() const {
  std::vector<SeriesSample> out;
  out.reserve(series_.size());
  auto name = [this](uint64_t key, int shift) { return names_[(key >> shift) & 0xfff]; };
  for (const auto& [key, counts] : series_) {
    out.push_back({.direction = std::string(DirectionName(Direction(key & 3))),
                   .source = name(key, 5),
                   .destination = name(key, 17),
                   .lane_requested = name(key, 29),
                   .lane_served = name(key, 41),
                   .code_class = std::string(kClasses[(key >> 2) & 7]),
                   .counts = counts});
  }
  return out;
}

}  // namespace graymesh::proxy
