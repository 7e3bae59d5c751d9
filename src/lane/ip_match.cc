#include "lane/ip_match.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace graymesh::lane::detail {
namespace {

constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool IsMapped(const IpAddr& ip) {
  return ip.v6 && std::memcmp(ip.bytes.data(), kMappedPrefix, sizeof kMappedPrefix) == 0;
}

void Unmap(IpAddr* ip) {
  std::memmove(ip->bytes.data(), ip->bytes.data() + 12, 4);
  std::memset(ip->bytes.data() + 4, 0, 12);
  ip->v6 = false;
}

}  // namespace

bool ParseIp(std::string_view text, IpAddr* out) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  text = text.substr(0, text.find('%'));  // zone id: not part of the address
  // inet_pton wants a C string; the longest IPv6 text is 45 characters.
  char buf[64];
  if (text.empty() || text.size() >= sizeof buf) return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddr ip;
  if (inet_pton(AF_INET, buf, ip.bytes.data()) == 1) {
    ip.v6 = false;
  } else if (inet_pton(AF_INET6, buf, ip.bytes.data()) == 1) {
    ip.v6 = true;
    if (IsMapped(ip)) Unmap(&ip);
  } else {
    return false;
  }
  *out = ip;
  return true;
}

bool ParseIpNet(std::string_view text, IpNet* out) {
  const size_t slash = text.find('/');
  IpNet net;
  // Parse without unmapping first: the prefix length counts IPv6 bits.
  std::string_view addr = text.substr(0, slash);
  if (addr.find('%') != std::string_view::npos || addr.starts_with('[')) return false;
  if (!ParseIp(addr, &net.base)) return false;
  const bool was_v6 = net.base.v6 || addr.find(':') != std::string_view::npos;
  int max_bits = was_v6 ? 128 : 32;
  int bits = max_bits;
  if (slash != std::string_view::npos) {
    const std::string_view b = text.substr(slash + 1);
    if (b.empty() || b.size() > 3 || b[0] < '0' || b[0] > '9') return false;
    auto [ptr, ec] = std::from_chars(b.data(), b.data() + b.size(), bits);
    if (ec != std::errc() || ptr != b.data() + b.size() || bits > max_bits) return false;
  }
  if (was_v6 && !net.base.v6) {  // ParseIp unmapped ::ffff:a.b.c.d
    if (bits >= 96) {
      bits -= 96;
    } else {  // wider than the mapped range: stays an IPv6 block
      std::memmove(net.base.bytes.data() + 12, net.base.bytes.data(), 4);
      std::memcpy(net.base.bytes.data(), kMappedPrefix, sizeof kMappedPrefix);
      net.base.v6 = true;
    }
  }
  net.bits = static_cast<uint8_t>(bits);
  const size_t len = net.base.v6 ? 16 : 4;
  for (size_t i = 0; i < len; ++i) {
    const int keep = bits - static_cast<int>(i) * 8;
    if (keep <= 0) {
      net.base.bytes[i] = 0;
    } else if (keep < 8) {
      net.base.bytes[i] &= static_cast<uint8_t>(0xff << (8 - keep));
    }
  }
  *out = net;
  return true;
}

bool Contains(const IpNet& net, const IpAddr& ip) {
  if (net.base.v6 != ip.v6) return false;
  const int full = net.bits / 8;
  if (std::memcmp(net.base.bytes.data(), ip.bytes.data(), full) != 0) return false;
  const int rest = net.bits % 8;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (ip.bytes[full] & mask) == net.base.bytes[full];
}

}  // namespace graymesh::lane::detail
