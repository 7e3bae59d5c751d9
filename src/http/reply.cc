#include "http/reply.h"

#include <fmt/format.h>

#include <iterator>

namespace graymesh::http {

std::string_view StatusText(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

std::string ErrorReply(int status, std::string_view reason, bool close, bool draining) {
  // Reasons quote client input (a Host, a service name): anything but
  // printable ASCII is escaped, so no byte of it can end the header line.
  std::string clean;
  clean.reserve(reason.size());
  for (unsigned char c : reason) {
    if (c >= 0x20 && c < 0x7f) {
      clean.push_back(char(c));
    } else {
      fmt::format_to(std::back_inserter(clean), "\\x{:02x}", c);
    }
  }
  reason = clean;
  return fmt::format(
      "HTTP/1.1 {} {}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n"
      "x-graymesh-reason: {}\r\n{}{}\r\n{}\n",
      status, StatusText(status), reason.size() + 1, reason,
      close ? "connection: close\r\n" : "", draining ? "x-graymesh-draining: 1\r\n" : "",
      reason);
}

}  // namespace graymesh::http
