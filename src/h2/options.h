// nghttp2 options every graymesh session uses: no automatic WINDOW_UPDATE
// (the proxy acknowledges bytes only once it has passed them on, so a slow
// reader slows the writer) and the flood limits of h2/limits.h.
#pragma once

#include <nghttp2/nghttp2.h>

namespace graymesh::h2 {

// The caller owns the result (nghttp2_option_del).
nghttp2_option* NewOptions();

}  // namespace graymesh::h2
