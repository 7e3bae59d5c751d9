// The web console's static files (console/, embedded into the binary) at `/`
// for browsers and under /console/. The console only calls the API below
// /v1 from the same origin, which the content security policy enforces.
#include "console/embedded.h"
#include "control/api.h"

namespace graymesh::control {

bool WantsHtml(const net::HttpRequest& req) {
  return req.Header("accept").find("text/html") != std::string_view::npos;
}

net::HttpReply ConsoleFile(std::string_view path) {
  const console::EmbeddedFile* f = console::Find(path);
  if (f == nullptr) return ErrorReply(404, "no such console file: " + std::string(path));
  net::HttpReply r;
  r.content_type = console::ContentType(path);
  r.body.assign(f->bytes());
  // Nothing from elsewhere: no CDN, no inline script, no framing by other sites.
  r.headers.emplace_back("content-security-policy",
                         "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
  r.headers.emplace_back("x-content-type-options", "nosniff");
  r.headers.emplace_back("cache-control", "no-cache");
  return r;
}

}  // namespace graymesh::control
