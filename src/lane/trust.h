// Trust at the entry (docs/design.md, lane model): whether a listener believes the lane
// headers of a client (x-graymesh-lane and its aliases, x-graymesh-source,
// graymesh-* baggage members). Evaluated once per connection; allocates
// nothing.
#pragma once

#include <string_view>

#include "config/config.h"

namespace graymesh::lane {

// The mode a listener's `trust` comes to: kDefault is none at a gateway (a
// client cannot put itself into a lane) and all at a sidecar's inbound side
// (other sidecars, and an access layer such as Nginx that sets the lane on
// purpose, sit in front of it) and outbound side (the local app).
config::Trust::Mode EffectiveTrust(const config::Trust& trust, config::ListenerKind kind);

// Whether a client at `client_ip` (text, as the socket reports it) is trusted.
// An unparsable address is trusted only under `all`.
bool TrustsClient(const config::Trust& trust, config::ListenerKind kind,
                  std::string_view client_ip);

}  // namespace graymesh::lane
