// libFuzzer target for what lane entrance rules read from a request a client
// controls: cookies (every Cookie header), query parameters, header values,
// the client address (IPs and CIDRs), baggage members and carried values, and
// the sticky percentage keys, through compiled rules that use every kind of
// condition. The input is split at newlines into: method, path, query,
// client address, baggage, carried baggage, then header values (a line
// "cookie:..." is a cookie header, any other line an x-user-id header).
// Promises checked: views stay inside their input, a cookie value is trimmed
// (but for spaces inside its double quotes) and holds no ';', a query value
// no '&', and Match gives "" or a rule's tag.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "lane/entrance.h"

namespace lane = graymesh::lane;

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

bool Inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

const lane::EntranceRules& Rules() {
  static const auto rules = lane::EntranceRules::Compile(
      graymesh::config::ParseConfig(R"(lanes:
  - name: a
    tag: ta
    priority: 30
    entrance:
      match:
        - headers: { x-user-id: { regex: "^1[0-9]{2}$" } }
          cookies: { env: { in: [gray, canary] } }
          query: { uid: { range: { min: 100, max: 199 } } }
          path: { prefix: /api }
          method: { in: [GET, POST] }
          sourceAddress: { in: ["10.0.0.0/8", "fd00::/8", "192.168.1.7"] }
        - cookies: { beta: { exact: "1" }, gone: { present: false } }
          query: { flag: { present: true } }
        - baggage: { tenant: { prefix: acme } }
          percent: 50
          stickyOn: cookie:session
  - name: b
    tag: tb
    priority: 20
    entrance:
      match:
        - query: { n: { range: { min: -5, max: 5 } } }
          percent: 30
          stickyOn: query:uid
        - headers: { x-user-id: { range: { max: 10 } } }
          sourceAddress: { prefix: "127." }
        - percent: 70
          stickyOn: client
  - name: c
    tag: tc
    entrance:
      match:
        - cookies: { env: { regex: "(?i)GR.Y" } }
          percent: 100
          stickyOn: header:x-user-id
)",
                                    "fuzz.yaml")
          .lanes,
      {.gateway = "", .service = ""});
  return *rules;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> lines;
  for (size_t at = 0; at <= input.size() && lines.size() < 32;) {
    size_t nl = input.find('\n', at);
    if (nl == std::string_view::npos) nl = input.size();
    lines.push_back(input.substr(at, nl - at));
    at = nl + 1;
  }
  auto line = [&](size_t i) { return i < lines.size() ? lines[i] : std::string_view(); };
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  for (size_t i = 6; i < lines.size(); ++i) {
    if (lines[i].starts_with("cookie:")) {
      headers.emplace_back("Cookie", lines[i].substr(7));
    } else {
      headers.emplace_back("x-user-id", lines[i]);
    }
  }
  lane::RequestView rq{.method = line(0),
                       .path = line(1),
                       .query = line(2),
                       .client_address = line(3),
                       .source_service = "",
                       .trace_id = "",
                       .headers = headers,
                       .carried = line(5),
                       .baggage = line(4)};

  for (std::string_view name : {"env", "beta", "session", "gone", "", "a b"}) {
    const std::string_view v = rq.Cookie(name);
    Check(Inside(v, input));
    Check(v.find(';') == std::string_view::npos);
    // Trimmed, unless the space is inside double quotes (which are removed).
    if (!v.empty() && (v.front() == ' ' || v.back() == ' ')) {
      Check(v.data() > input.data() && v.data()[-1] == '"');
    }
  }
  for (std::string_view name : {"uid", "flag", "n", ""}) {
    const std::string_view v = rq.QueryParam(name);
    Check(Inside(v, rq.query));
    Check(v.find('&') == std::string_view::npos);
  }
  Check(Inside(rq.Header("X-User-Id"), input));

  const std::string_view tag = Rules().Match(rq);
  Check(tag.empty() || tag == "ta" || tag == "tb" || tag == "tc");
  return 0;
}
