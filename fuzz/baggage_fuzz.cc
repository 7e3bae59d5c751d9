// libFuzzer target for what the lane code reads from W3C baggage and
// traceparent headers a client controls: the graymesh-lane member, carried
// values, the baggage a hop sends on, and the trace id. The input is split at
// its first newline: before it, a baggage header; after it, a header value
// that a carried key (x-user-id) reads. Promises checked: views stay inside
// their input, what is sent on never passes the W3C size limit, holds the
// lane it was given and none of the client's graymesh-* members, and
// percent-encoding round-trips.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

#include "config/config.h"
#include "lane/carried.h"
#include "lane/entrance.h"
#include "lane/propagation.h"

namespace lane = graymesh::lane;

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

bool Inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

const lane::CarriedKeys& Keys() {
  static const auto keys = lane::CarriedKeys::Compile(graymesh::config::ParseLaneDocuments(
      R"(kind: TrafficLane
name: vip
spec:
  tag: gray
  entrance:
    service: data
    match:
      - headers: { x-user-id: { range: { min: 100, max: 199 } } }
        cookies: { beta: { exact: "1" } }
)",
      "fuzz.yaml"));
  return *keys;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nl = input.find('\n');
  const std::string_view baggage = input.substr(0, nl);
  const std::string_view header = nl == std::string_view::npos ? "" : input.substr(nl + 1);

  Check(Inside(lane::LaneFromBaggage(baggage), baggage));
  Check(Inside(lane::TraceIdFromTraceparent(input), input));
  std::string_view trace = lane::TraceIdFromTraceparent(input);
  Check(trace.empty() || trace.size() == 32);

  std::string out;
  if (lane::AppendBaggageWithLane(baggage, "gray", &out)) {
    Check(out.size() <= lane::kMaxBaggageBytes);
    Check(lane::LaneFromBaggage(out) == "gray");
  } else {
    Check(out.empty());
  }

  std::string stripped;
  lane::AppendWithoutMeshMembers(baggage, &stripped);
  Check(!lane::HasMeshMembers(stripped));

  // Percent-encoding of carried values round-trips any bytes.
  std::string encoded;
  lane::AppendBaggageValue(header, &encoded);
  char buf[4096];
  size_t len = 0;
  if (header.size() <= sizeof(buf)) {
    Check(lane::DecodeBaggageValue(encoded, buf, sizeof(buf), &len));
    Check(std::string_view(buf, len) == header);
  }
  (void)lane::DecodeBaggageValue(baggage, buf, sizeof(buf), &len);

  // The carried members a hop sends on, from the request's own header and
  // from the client's baggage, then the baggage composed with them.
  const std::pair<std::string_view, std::string_view> headers[] = {{"x-user-id", header},
                                                                    {"cookie", header}};
  lane::RequestView view;
  view.method = "GET";
  view.path = "/";
  view.headers = headers;
  view.baggage = baggage;
  std::string carried;
  Keys().Append(view, baggage, &carried);
  std::string sent;
  if (lane::ComposeBaggage(baggage, carried, "gray", &sent)) {
    Check(sent.size() <= lane::kMaxBaggageBytes);
  }
  return 0;
}
