// The open-file limit and what fits in it. A proxy or control plane that
// runs out of descriptors cannot accept, connect or open its store, so limits
// on connections are derived from RLIMIT_NOFILE at start. Call from the main
// thread before workers start; the functions themselves are thread-safe.
#pragma once

#include <cstdint>

namespace graymesh::net {

// Descriptors kept free of connections: listeners, epoll and event fds per
// worker, the admin endpoint, the store, logs, the snapshot cache.
inline constexpr uint64_t kSpareDescriptors = 100;

// Raises the soft RLIMIT_NOFILE to the hard one (systemd and shells often
// start services at 1024 under a far higher hard limit) and returns the soft
// limit now in force.
uint64_t RaiseOpenFileLimit();

// The most connections per worker that fit: workers x connections x
// `fds_per_connection` + kSpareDescriptors <= `fd_limit`; at least 1.
uint32_t ConnectionsThatFit(uint64_t fd_limit, int workers, int fds_per_connection);

}  // namespace graymesh::net
