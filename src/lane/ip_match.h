// IP addresses and CIDR blocks for `sourceAddress` conditions. Parsing an
// address allocates nothing, so it can run on the request path.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace graymesh::lane::detail {

struct IpAddr {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // IPv4 uses the first 4
};

struct IpNet {
  IpAddr base;       // host bits cleared
  uint8_t bits = 0;  // prefix length; 32/128 for a single address
};

// "10.1.2.3", "::1", "[::1]", "fe80::1%eth0". IPv4-mapped IPv6
// ("::ffff:10.1.2.3", what a dual-stack socket reports) becomes IPv4 so that
// IPv4 rules match it.
bool ParseIp(std::string_view text, IpAddr* out);

// An address or "ADDR/BITS". A mapped IPv6 block of /96 or longer becomes
// the IPv4 block it covers.
bool ParseIpNet(std::string_view text, IpNet* out);

bool Contains(const IpNet& net, const IpAddr& ip);

}  // namespace graymesh::lane::detail
