// The per-worker request table: labels, status classes, histogram buckets,
// and the caps that keep header-chosen labels from growing it without end.
#include "proxy/request_metrics.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "proxy/metrics_text.h"
#include "proxy/request_recorder.h"
#include "proxy/traffic_reporter.h"

namespace graymesh::proxy {
namespace {

RequestRecord Rec(std::string_view lane_req, std::string_view lane_served, int status,
                  double seconds = 0.002) {
  return {.direction = Direction::kOutbound, .source = "order", .destination = "payment",
          .lane_requested = lane_req, .lane_served = lane_served, .status = status,
          .seconds = seconds};
}

const SeriesSample* Find(const std::vector<SeriesSample>& all, std::string_view lane_req,
                         std::string_view lane_served, std::string_view cls) {
  for (const SeriesSample& s : all) {
    if (s.lane_requested == lane_req && s.lane_served == lane_served && s.code_class == cls) {
      return &s;
    }
  }
  return nullptr;
}

TEST(RequestMetrics, CountsByLanePairAndStatusClass) {
  RequestMetrics m;
  for (int i = 0; i < 3; ++i) m.Record(Rec("gray", "gray", 200));
  m.Record(Rec("gray", "", 200));  // a fallback to base
  m.Record(Rec("", "", 503));
  m.Record(Rec("", "", 0));  // the client left before any response
  auto all = m.Samples();
  ASSERT_EQ(all.size(), 4u);
  ASSERT_NE(Find(all, "gray", "gray", "2xx"), nullptr);
  EXPECT_EQ(Find(all, "gray", "gray", "2xx")->counts.count, 3u);
  EXPECT_EQ(Find(all, "gray", "", "2xx")->counts.count, 1u);
  EXPECT_EQ(Find(all, "", "", "5xx")->counts.count, 1u);
  EXPECT_EQ(Find(all, "", "", "none")->counts.count, 1u);
  const SeriesSample& s = *Find(all, "gray", "gray", "2xx");
  EXPECT_EQ(s.direction, "outbound");
  EXPECT_EQ(s.source, "order");
  EXPECT_EQ(s.destination, "payment");
}

TEST(RequestMetrics, LatencyLandsInItsBucket) {
  RequestMetrics m;
  m.Record(Rec("", "", 200, 0.0005));  // <= 1ms
  m.Record(Rec("", "", 200, 0.001));   // le is inclusive
  m.Record(Rec("", "", 200, 0.3));     // <= 0.5
  m.Record(Rec("", "", 200, 60));      // +Inf
  const SeriesCounts c = m.Samples().at(0).counts;  // a copy: Samples() is a temporary
  EXPECT_EQ(c.buckets[0], 2u);
  EXPECT_EQ(c.buckets[8], 1u);
  EXPECT_EQ(c.buckets.back(), 1u);
  EXPECT_NEAR(c.sum, 60.3015, 1e-9);
}

TEST(RequestMetrics, LabelValuesAreCapped) {
  RequestMetrics m;
  // Lanes from headers: a client sending a new one each time.
  for (size_t i = 0; i < kMaxLabelValues + 100; ++i) {
    m.Record(Rec("lane-" + std::to_string(i), "", 200));
  }
  m.Record(Rec(std::string(kMaxLabelLength + 1, 'x'), "", 200));
  auto all = m.Samples();
  EXPECT_LE(all.size(), kMaxLabelValues);
  const SeriesSample* other = Find(all, "other", "", "2xx");
  ASSERT_NE(other, nullptr);
  // Ids 0..3 are "", "other", "order", "payment": the rest went to lanes.
  EXPECT_EQ(other->counts.count, 100u + 4u + 1u);
  uint64_t total = 0;
  for (const SeriesSample& s : all) total += s.counts.count;
  EXPECT_EQ(total, kMaxLabelValues + 101) << "nothing is lost, only folded";
}

TEST(RequestMetrics, SeriesAreCapped) {
  RequestMetrics m;
  // 40 x 40 x 6 classes > kMaxSeries, with few label values.
  for (int a = 0; a < 40; ++a) {
    for (int b = 0; b < 40; ++b) {
      for (int status : {0, 100, 200, 300, 400, 500}) {
        m.Record(Rec("a" + std::to_string(a), "b" + std::to_string(b), status));
      }
    }
  }
  auto all = m.Samples();
  EXPECT_LE(all.size(), kMaxSeries + 6);
  uint64_t total = 0;
  for (const SeriesSample& s : all) total += s.counts.count;
  EXPECT_EQ(total, 40u * 40u * 6u);
}

TEST(MetricsText, MergesWorkersAndRendersPrometheusText) {
  RequestMetrics w1, w2;
  w1.Record(Rec("gray", "gray", 200));
  w2.Record(Rec("gray", "gray", 200));
  w2.Record(Rec("", "", 404));
  std::vector<SeriesSample> all = w1.Samples();
  for (auto& s : w2.Samples()) all.push_back(s);
  TrafficSample t{.series = MergeSeries(all)};
  ASSERT_EQ(t.series.size(), 2u);
  const std::string text = RenderTrafficMetrics(t);
  EXPECT_NE(text.find("graymesh_requests_total{direction=\"outbound\",source=\"order\","
                      "destination=\"payment\",lane_requested=\"gray\",lane_served=\"gray\","
                      "code_class=\"2xx\"} 2\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("graymesh_request_duration_seconds_bucket{direction=\"outbound\","
                      "source=\"order\",destination=\"payment\",lane_served=\"gray\",le=\"+Inf\"} 2"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE graymesh_request_duration_seconds histogram"), std::string::npos);
}

TEST(MetricsText, LabelValuesAreEscaped) {
  EXPECT_EQ(PromLabel("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

TEST(AccessLog, EscapesEveryByteAJsonParserWouldRefuse) {
  std::string out;
  AppendJsonEscaped(&out, std::string("a\"\\\x01\xff", 5));
  EXPECT_EQ(out, "a\\\"\\\\\\u0001\\u00ff");
  EXPECT_NO_THROW(nlohmann::json::parse("\"" + out + "\""));
}

TEST(TrafficReport, EdgesSumStatusClassesAndCountOnly5xxAsErrors) {
  RequestMetrics m;
  m.Record(Rec("gray", "gray", 200));
  m.Record(Rec("gray", "gray", 404));
  m.Record(Rec("gray", "gray", 502));
  TrafficSample t{.series = MergeSeries(m.Samples()),
                  .endpoints = {{.service = "payment", .address = "127.0.0.1:1", .weight = 100}}};
  TrafficReporterOptions opt{.node = "n1", .service = "order"};
  nlohmann::json j = BuildTrafficReport(opt, t, "id-1", 1000, 2000);
  ASSERT_EQ(j["edges"].size(), 1u) << j.dump();
  const nlohmann::json& e = j["edges"][0];
  EXPECT_EQ(e["requests"], 3);
  EXPECT_EQ(e["errors"], 1);
  EXPECT_EQ(e["laneRequested"], "gray");
  EXPECT_EQ(e["latencyBuckets"].back()[0], "+Inf");
  EXPECT_EQ(e["latencyBuckets"].back()[1], 3);
  EXPECT_EQ(j["endpoints"][0]["state"], "healthy");
  EXPECT_EQ(j["instance"], "id-1");
  EXPECT_EQ(j["startedMs"], 1000);
}

}  // namespace
}  // namespace graymesh::proxy
