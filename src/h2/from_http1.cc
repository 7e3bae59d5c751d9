#include "h2/from_http1.h"

#include <algorithm>
#include <cctype>

#include "http/headers.h"

namespace graymesh::h2 {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Fields HTTP/2 forbids in requests (RFC 9113 §8.2.2), besides the ones
// the HTTP/1.1 head never carries upstream (hop-by-hop: dropped already).
bool NotForHttp2(std::string_view n) {
  return n == "connection" || n == "keep-alive" || n == "proxy-connection" ||
         n == "transfer-encoding" || n == "upgrade" || n == "te" || n == "host" ||
         n == "http2-settings";
}

}  // namespace

bool Http1ClientUsesHttp2(config::UpstreamProtocol protocol) {
  return protocol == config::UpstreamProtocol::kHttp2;
}

bool HeadersFromHttp1(std::string_view head, std::string_view scheme, std::vector<Header>* out) {
  out->clear();
  size_t eol = head.find("\r\n");
  if (eol == std::string_view::npos) return false;
  std::string_view line = head.substr(0, eol);
  size_t sp1 = line.find(' ');
  size_t sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 <= sp1) return false;
  out->push_back({":method", std::string(line.substr(0, sp1))});
  out->push_back({":scheme", std::string(scheme)});
  out->push_back({":authority", ""});
  out->push_back({":path", std::string(line.substr(sp1 + 1, sp2 - sp1 - 1))});
  for (size_t at = eol + 2; at < head.size();) {
    size_t end = head.find("\r\n", at);
    if (end == std::string_view::npos) return false;
    std::string_view field = head.substr(at, end - at);
    at = end + 2;
    if (field.empty()) break;
    size_t colon = field.find(':');
    if (colon == std::string_view::npos) return false;
    std::string name = Lower(field.substr(0, colon));
    std::string_view value = http::Trim(field.substr(colon + 1));
    if (name == "host") {
      (*out)[2].value = std::string(value);
      continue;
    }
    if (NotForHttp2(name)) continue;
    out->push_back({std::move(name), std::string(value)});
  }
  return true;
}

void Http1Client::Wake() {
  pending_ = true;
  wake_.cancel();
}

void Http1Client::OnResponseHead(ProxyStream& s) {
  s.resp_started = true;  // what the upstream side checks before telling again
  head_ = true;
  Wake();
}

void Http1Client::OnUpstreamClosed(const std::shared_ptr<ProxyStream>&, uint32_t code,
                                   bool refused) {
  closed_ = true;
  refused_ = refused;
  code_ = code;
  Wake();
}

void Http1Client::OnUpstreamFailed(ProxyStream&, int, std::string_view) {
  closed_ = true;  // only the HTTP/1.1 upstream side calls this; not used here
  code_ = 2;       // INTERNAL_ERROR
  Wake();
}

}  // namespace graymesh::h2
