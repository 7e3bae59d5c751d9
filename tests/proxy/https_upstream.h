// A real nginx serving HTTPS on loopback with a certificate made at test
// time by `openssl req`, for the tests of TLS to upstreams.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "support/process.h"

namespace graymesh::test {

// The nginx binary, or "" when it is not installed.
std::string FindNginx();

// A self-signed certificate (its own root) at TestTempDir()/NAME.{crt,key},
// naming `san` (e.g. "DNS:upstream.test,IP:127.0.0.1"). Returns the path
// without the extension.
std::string MakeCert(const std::string& name, const std::string& san);

// nginx serving HTTPS on a free port with `cert` (.crt/.key), closing
// keep-alive connections idle for `keepalive`. Each response says "ok\n" and
// names its connection (x-conn), the SNI it got (x-sni) and whether its TLS
// session was resumed (x-resumed: "r" or "."), and the protocol it spoke
// (x-proto: "HTTP/1.1" or "HTTP/2.0"). With `http2`, ALPN h2 is offered and
// an idle HTTP/2 connection closes after `keepalive` too.
struct HttpsUpstream {
  uint16_t port = 0;
  std::unique_ptr<ChildProcess> proc;

  static HttpsUpstream Start(const std::string& cert, const std::string& keepalive = "60s",
                             bool http2 = false);
};

}  // namespace graymesh::test
