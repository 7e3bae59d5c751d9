// The 50-lane rule set and 15-header requests shared by the lane and routing
// benchmarks: lane i looks at one of 10 headers x-h0..x-h9, one of 4 cookies,
// or the path, so a request carrying those names makes every check run.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "lane/entrance.h"

namespace graymesh::lane::bench {

using config::StringMatch;
using Op = StringMatch::Op;

constexpr int kLanes = 50;
constexpr int kHit = 39;  // the 40th lane

inline std::vector<config::Lane> Lanes() {
  std::vector<config::Lane> lanes;
  for (int i = 0; i < kLanes; ++i) {
    const std::string n = std::to_string(i);
    const std::string header = "x-h" + std::to_string(i % 10);
    config::MatchClause c;
    switch (i % 5) {
      case 0:
        c.headers.push_back({header, {Op::kExact, "val-" + n, {}, 0, 0}});
        break;
      case 1:
        c.headers.push_back({header, {Op::kPrefix, "pre-" + n + "-", {}, 0, 0}});
        break;
      case 2:
        c.headers.push_back({header, {Op::kRegex, "id-" + n + "-[0-9]+", {}, 0, 0}});
        break;
      case 3:
        c.cookies.push_back(
            {"c" + std::to_string(i % 4), {Op::kIn, "", {"a" + n, "b" + n, "c" + n}, 0, 0}});
        break;
      case 4:  // a path and a sticky share of users
        c.path.push_back({Op::kPrefix, "/svc" + n + "/", {}, 0, 0});
        c.percent = 50;
        c.sticky_on = "header:x-user-id";
        break;
    }
    config::Lane lane;
    lane.name = "lane-" + n;
    lane.tag = "tag-" + n;
    lane.match.push_back(std::move(c));
    lanes.push_back(std::move(lane));
  }
  return lanes;
}

// An id whose sticky bucket is inside a 50% share.
inline std::string UserIn() {
  for (int i = 0;; ++i) {
    std::string id = "user-" + std::to_string(i);
    if (StickyBucket(id) < 50) return id;
  }
}

struct Request {
  std::string user = UserIn();
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  RequestView view;

  explicit Request(std::string_view path) {
    // 15 headers; the x-h* values are near misses, so comparisons and the
    // regexes really run instead of failing on an absent header.
    headers = {{"Host", "shop.example.com"},
               {"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"},
               {"Accept", "application/json, text/plain, */*"},
               {"Accept-Encoding", "gzip, deflate, br"},
               {"Accept-Language", "en-US,en;q=0.9"},
               {"Cookie", "session=8f14e45fceea167a5a36dedd4bea2543; c0=zz; c1=a999; c2=b7"},
               {"X-Request-Id", "5d41402abc4b2a76b9719d911017c592"},
               {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
               {"X-User-Id", user},
               {"X-H0", "val-none"},
               {"X-H1", "pre-none-"},
               {"X-H2", "id-2-x"},
               {"X-H7", "id-999-1"},
               {"Content-Type", "application/json"},
               {"X-Forwarded-For", "203.0.113.7"}};
    view.method = "GET";
    view.path = path;
    view.client_address = "203.0.113.7";
    view.headers = headers;
  }
};

}  // namespace graymesh::lane::bench
