#include "lane/trust.h"

#include "lane/ip_match.h"

namespace graymesh::lane {

config::Trust::Mode EffectiveTrust(const config::Trust& trust, config::ListenerKind kind) {
  using Mode = config::Trust::Mode;
  if (trust.mode != Mode::kDefault) return trust.mode;
  return kind == config::ListenerKind::kGateway || kind == config::ListenerKind::kTcp ? Mode::kNone
                                                                                     : Mode::kAll;
}

bool TrustsClient(const config::Trust& trust, config::ListenerKind kind,
                  std::string_view client_ip) {
  using Mode = config::Trust::Mode;
  const Mode mode = EffectiveTrust(trust, kind);
  if (mode == Mode::kAll) return true;
  if (mode == Mode::kNone) return false;
  detail::IpAddr ip;
  if (!detail::ParseIp(client_ip, &ip)) return false;
  if (mode == Mode::kLoopback) {
    if (!ip.v6) return ip.bytes[0] == 127;
    for (int i = 0; i < 15; ++i) {
      if (ip.bytes[i] != 0) return false;
    }
    return ip.bytes[15] == 1;
  }
  for (const std::string& text : trust.cidrs) {
    detail::IpNet net;
    if (detail::ParseIpNet(text, &net) && detail::Contains(net, ip)) return true;
  }
  return false;
}

}  // namespace graymesh::lane
