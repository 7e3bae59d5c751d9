// Trust at the entry: defaults per listener kind, loopback, CIDR lists.
#include "lane/trust.h"

#include <gtest/gtest.h>

namespace graymesh::lane {
namespace {

using config::ListenerKind;
using config::Trust;
using Mode = config::Trust::Mode;

TEST(Trust, DefaultsAreNoneAtAGatewayAndAllAtASidecar) {
  const Trust def;
  EXPECT_FALSE(TrustsClient(def, ListenerKind::kGateway, "127.0.0.1"));
  EXPECT_TRUE(TrustsClient(def, ListenerKind::kInbound, "10.9.8.7"));
  EXPECT_TRUE(TrustsClient(def, ListenerKind::kOutbound, "127.0.0.1"));
  EXPECT_EQ(EffectiveTrust(def, ListenerKind::kGateway), Mode::kNone);
  EXPECT_EQ(EffectiveTrust({.mode = Mode::kLoopback, .cidrs = {}}, ListenerKind::kInbound),
            Mode::kLoopback);
}

TEST(Trust, Loopback) {
  const Trust t{.mode = Mode::kLoopback, .cidrs = {}};
  EXPECT_TRUE(TrustsClient(t, ListenerKind::kGateway, "127.0.0.1"));
  EXPECT_TRUE(TrustsClient(t, ListenerKind::kGateway, "127.8.9.10"));
  EXPECT_TRUE(TrustsClient(t, ListenerKind::kGateway, "::1"));
  EXPECT_TRUE(TrustsClient(t, ListenerKind::kGateway, "::ffff:127.0.0.1"));
  EXPECT_FALSE(TrustsClient(t, ListenerKind::kGateway, "10.0.0.1"));
  EXPECT_FALSE(TrustsClient(t, ListenerKind::kGateway, "::2"));
  EXPECT_FALSE(TrustsClient(t, ListenerKind::kGateway, "garbage"));
}

TEST(Trust, CidrList) {
  const Trust t = config::ParseTrust("10.0.0.0/8,192.168.1.7,fd00::/8");
  ASSERT_EQ(t.mode, Mode::kCidrs);
  EXPECT_TRUE(TrustsClient(t, ListenerKind::kInbound, "10.1.2.3"));
  EXPECT_TRUE(TrustsClient(t, ListenerKind::kInbound, "::ffff:10.1.2.3"));
  EXPECT_TRUE(TrustsClient(t, ListenerKind::kInbound, "192.168.1.7"));
  EXPECT_TRUE(TrustsClient(t, ListenerKind::kInbound, "fd12::1"));
  EXPECT_FALSE(TrustsClient(t, ListenerKind::kInbound, "192.168.1.8"));
  EXPECT_FALSE(TrustsClient(t, ListenerKind::kInbound, "127.0.0.1"));
}

TEST(Trust, ParseTrustRejectsWhatIsNotAnAddress) {
  EXPECT_EQ(config::ParseTrust("none").mode, Mode::kNone);
  EXPECT_EQ(config::ParseTrust("all").mode, Mode::kAll);
  EXPECT_EQ(config::ParseTrust("loopback").mode, Mode::kLoopback);
  EXPECT_THROW(config::ParseTrust("everyone"), std::invalid_argument);
  EXPECT_THROW(config::ParseTrust("10.0.0.0/33"), std::invalid_argument);
  EXPECT_THROW(config::ParseTrust("10.0.0.1,"), std::invalid_argument);
  EXPECT_THROW(config::ParseTrust(""), std::invalid_argument);
}

}  // namespace
}  // namespace graymesh::lane
