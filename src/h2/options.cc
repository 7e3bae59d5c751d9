#include "h2/options.h"

#include "h2/limits.h"

namespace graymesh::h2 {

nghttp2_option* NewOptions() {
  nghttp2_option* opt = nullptr;
  nghttp2_option_new(&opt);
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_max_continuations(opt, kMaxContinuations);
  nghttp2_option_set_stream_reset_rate_limit(opt, kResetBurst, kResetRate);
  nghttp2_option_set_max_outbound_ack(opt, 1000);
  nghttp2_option_set_max_settings(opt, 32);
  return opt;
}

}  // namespace graymesh::h2
