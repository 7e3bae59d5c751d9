// Hardening limits of the HTTP/2 sessions (docs/http.md, HTTP/2). The
// header-size limit is the configured limits.maxHeaderBytes, as for HTTP/1.1.
#pragma once

#include <cstddef>
#include <cstdint>

namespace graymesh::h2 {

// Streams a client may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS).
inline constexpr uint32_t kMaxConcurrentStreams = 100;
// CONTINUATION frames after one HEADERS frame (nghttp2 closes the session
// beyond it).
inline constexpr size_t kMaxContinuations = 8;
// nghttp2's token bucket for RST_STREAM received: burst and refill per second.
inline constexpr uint64_t kResetBurst = 200;
inline constexpr uint64_t kResetRate = 33;
// Our own rapid-reset guard: streams a client cancels before their response
// began, per connection and window; beyond it, GOAWAY ENHANCE_YOUR_CALM.
inline constexpr uint32_t kMaxEarlyResets = 100;
inline constexpr int64_t kEarlyResetWindowMs = 10'000;
// Flow-control windows the proxy advertises: per stream and per connection.
// They bound what one stream buffers in the proxy.
inline constexpr int32_t kStreamWindow = 256 * 1024;
inline constexpr int32_t kConnectionWindow = 4 * 1024 * 1024;

// Times a stream the upstream refused unprocessed (GOAWAY, REFUSED_STREAM,
// no connection) is sent again. Separate from upstream.retries: nothing
// failed upstream, and resending is always safe.
inline constexpr int kMaxRefusedResends = 4;
// Request body bytes kept after sending, so a refused stream can be resent.
inline constexpr size_t kMaxReplayBytes = 64 * 1024;

}  // namespace graymesh::h2
