#include "proxy/request_recorder.h"

#include <fmt/format.h>

#include <ctime>

namespace graymesh::proxy {
namespace {

// A worker hands its lines over at the latest at its tick; a burst bigger
// than this goes at once rather than growing the buffer further.
constexpr size_t kFlushBytes = 64 * 1024;

void AppendField(std::string* out, std::string_view name, std::string_view value) {
  out->append(",\"").append(name).append("\":\"");
  AppendJsonEscaped(out, value);
  out->push_back('"');
}

}  // namespace

void AppendJsonEscaped(std::string* out, std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (u < 0x20 || u >= 0x7f) {
      // Header bytes are not promised to be UTF-8: escaped, so every line parses.
      fmt::format_to(std::back_inserter(*out), "\\u{:04x}", unsigned(u));
    } else {
      out->push_back(c);
    }
  }
}

void RequestRecorder::Finish(Clock::time_point started, RequestRecord r, int access_sink,
                             const AccessFields& a) {
  active_.Add(-1);
  r.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  metrics_.Record(r);
  if (access_sink >= 0 && writer_ != nullptr) AppendLine(access_sink, r, a);
}

void RequestRecorder::AppendLine(int sink, const RequestRecord& r, const AccessFields& a) {
  if (lines_.size() <= size_t(sink)) lines_.resize(sink + 1);
  std::string& out = lines_[sink];
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  const std::time_t secs = std::time_t(ms.count() / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  fmt::format_to(std::back_inserter(out),
                 "{{\"time\":\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z\"", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms.count() % 1000);
  AppendField(&out, "traceId", a.trace_id);
  AppendField(&out, "direction", DirectionName(r.direction));
  AppendField(&out, "source", r.source);
  AppendField(&out, "destination", r.destination);
  AppendField(&out, "method", a.method);
  AppendField(&out, "path", a.path);
  AppendField(&out, "laneRequested", r.lane_requested);
  AppendField(&out, "laneServed", r.lane_served);
  AppendField(&out, "upstream", a.endpoint);
  fmt::format_to(std::back_inserter(out), ",\"status\":{},\"durationSeconds\":{:.6f}}}\n",
                 r.status, r.seconds);
  if (out.size() >= kFlushBytes) {
    writer_->Submit(sink, std::move(out));
    out = std::string();
  }
}

void RequestRecorder::FlushLogs() {
  if (writer_ == nullptr) return;
  for (size_t i = 0; i < lines_.size(); ++i) {
    if (!lines_[i].empty()) {
      writer_->Submit(int(i), std::move(lines_[i]));
      lines_[i] = std::string();
    }
  }
}

}  // namespace graymesh::proxy
