#include "net/fd_limits.h"

#include <sys/resource.h>

#include <algorithm>
#include <limits>

namespace graymesh::net {

uint64_t RaiseOpenFileLimit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  return lim.rlim_cur == RLIM_INFINITY ? std::numeric_limits<uint32_t>::max() : lim.rlim_cur;
}

uint32_t ConnectionsThatFit(uint64_t fd_limit, int workers, int fds_per_connection) {
  if (fd_limit <= kSpareDescriptors) return 1;
  const uint64_t per = uint64_t(std::max(1, workers)) * uint64_t(std::max(1, fds_per_connection));
  const uint64_t n = (fd_limit - kSpareDescriptors) / per;
  return uint32_t(std::clamp<uint64_t>(n, 1, std::numeric_limits<uint32_t>::max()));
}

}  // namespace graymesh::net
