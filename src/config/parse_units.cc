// Parsers for the unit-bearing scalars of the config: durations, host:port
// pairs and byte sizes. They are strict on purpose: "10 s", "+5s" or "1e3"
// are rejected rather than guessed at, so a typo cannot become a surprise.
#include <arpa/inet.h>

#include <charconv>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>

#include "config/config.h"

namespace graymesh::config {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

[[noreturn]] void Invalid(std::string_view kind, std::string_view text, std::string_view why) {
  throw std::invalid_argument("invalid " + std::string(kind) + " \"" + std::string(text) +
                              "\": " + std::string(why));
}

// Reads the run of decimal digits at the front of `s` into `out` and returns
// how many there were (0: none). `kind` and `text` are for the overflow error.
size_t ConsumeDigits(std::string_view& s, uint64_t& out, std::string_view kind,
                     std::string_view text) {
  size_t n = 0;
  while (n < s.size() && IsDigit(s[n])) ++n;
  if (n == 0) return 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + n, out);
  if (ec != std::errc()) Invalid(kind, text, "too large");
  s.remove_prefix(n);
  return n;
}


// Why `host` is not an IP literal or a DNS name, or nullptr. Addresses end up
// in logs, headers and connect calls: "%00", spaces or control characters
// must never get that far.
const char* HostProblem(std::string_view host, bool bracketed) {
  unsigned char addr[16];
  if (bracketed) {  // IPv6, with an optional zone ("fe80::1%eth0")
    const size_t pct = host.find('%');
    const std::string ip(host.substr(0, pct));
    if (inet_pton(AF_INET6, ip.c_str(), addr) != 1) return "not an IPv6 address";
    if (pct == std::string_view::npos) return nullptr;
    const std::string_view zone = host.substr(pct + 1);
    if (zone.empty() || zone.size() > 15) return "invalid IPv6 zone";
    for (char c : zone) {
      if (!IsAlnum(c) && c != '.' && c != '-' && c != '_') return "invalid IPv6 zone";
    }
    return nullptr;
  }
  if (host.find_first_not_of("0123456789.") == std::string_view::npos) {
    return inet_pton(AF_INET, std::string(host).c_str(), addr) == 1 ? nullptr
                                                                     : "not an IPv4 address";
  }
  // A DNS name (RFC 1123 labels, plus '_' as in Kubernetes namespaces); one
  // trailing dot makes it fully qualified.
  std::string_view name = host;
  if (name.ends_with('.')) name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return "invalid host name";
  for (size_t start = 0; start <= name.size();) {
    size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    const std::string_view label = name.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return "invalid host name";
    }
    for (char c : label) {
      if (!IsAlnum(c) && c != '-' && c != '_') return "invalid character in host";
    }
    start = dot + 1;
  }
  return nullptr;
}

}  // namespace

Millis ParseDuration(const std::string& text) {
  constexpr std::string_view kKind = "duration";
  constexpr std::string_view kExpected = "expected a number with unit ms, s, m or h (e.g. 250ms)";
  std::string_view s = text;
  if (!s.empty() && s[0] == '-') Invalid(kKind, text, "must not be negative");
  uint64_t whole = 0;
  if (ConsumeDigits(s, whole, kKind, text) == 0) Invalid(kKind, text, kExpected);
  // The fraction is kept as an exact decimal (frac / 10^frac_digits) so that
  // "1.1s" is 1100ms and not 1099ms through binary floating point.
  uint64_t frac = 0;
  size_t frac_digits = 0;
  if (!s.empty() && s[0] == '.') {
    s.remove_prefix(1);
    // Checked before reading so that 10^frac_digits and frac * factor fit.
    if (s.size() > 9 && IsDigit(s[9])) Invalid(kKind, text, "too many decimal places");
    frac_digits = ConsumeDigits(s, frac, kKind, text);
    if (frac_digits == 0) Invalid(kKind, text, kExpected);
  }
  uint64_t factor;
  if (s.empty() || s == "s") {
    factor = 1000;  // a bare number is seconds
  } else if (s == "ms") {
    factor = 1;
  } else if (s == "m") {
    factor = 60'000;
  } else if (s == "h") {
    factor = 3'600'000;
  } else {
    Invalid(kKind, text, kExpected);
  }
  constexpr uint64_t kMax = std::numeric_limits<Millis::rep>::max();
  if (whole > kMax / factor) Invalid(kKind, text, "too large");
  uint64_t ms = whole * factor;
  if (frac_digits > 0) {
    uint64_t denom = 1;
    for (size_t i = 0; i < frac_digits; ++i) denom *= 10;
    const uint64_t frac_scaled = frac * factor;  // < 1e9 * 3.6e6, fits
    if (frac_scaled % denom != 0) Invalid(kKind, text, "finer than 1ms");
    ms += frac_scaled / denom;
    if (ms > kMax) Invalid(kKind, text, "too large");
  }
  return Millis(static_cast<Millis::rep>(ms));
}

HostPort ParseHostPort(const std::string& text) {
  constexpr std::string_view kKind = "address";
  std::string_view s = text;
  std::string_view host;
  std::string_view rest;  // ":port"
  const bool bracketed = !s.empty() && s[0] == '[';
  if (bracketed) {
    const size_t close = s.find(']');
    if (close == std::string_view::npos) Invalid(kKind, text, "missing ']'");
    host = s.substr(1, close - 1);
    rest = s.substr(close + 1);
    if (host.find(':') == std::string_view::npos) {
      Invalid(kKind, text, "brackets are only for IPv6 addresses");
    }
  } else {
    const size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) Invalid(kKind, text, "missing port (want host:port)");
    host = s.substr(0, colon);
    rest = s.substr(colon);
    if (host.find(':') != std::string_view::npos) {
      Invalid(kKind, text, "an IPv6 address must be in brackets, e.g. [::1]:80");
    }
  }
  if (host.empty()) Invalid(kKind, text, "missing host");
  if (const char* why = HostProblem(host, bracketed)) Invalid(kKind, text, why);
  if (rest.empty() || rest[0] != ':') Invalid(kKind, text, "missing port (want host:port)");
  rest.remove_prefix(1);
  if (rest.empty() || rest.find_first_not_of("0123456789") != std::string_view::npos) {
    Invalid(kKind, text, "port must be a number");
  }
  uint64_t port = 65536;  // stays out of range when there are too many digits to read
  if (rest.size() <= 5) ConsumeDigits(rest, port, kKind, text);
  if (port > 65535) Invalid(kKind, text, "port must be 0..65535");
  return HostPort{std::string(host), static_cast<uint16_t>(port)};
}

uint64_t ParseByteSize(const std::string& text) {
  constexpr std::string_view kKind = "byte size";
  std::string_view s = text;
  if (!s.empty() && s[0] == '-') Invalid(kKind, text, "must not be negative");
  uint64_t n = 0;
  if (ConsumeDigits(s, n, kKind, text) == 0) {
    Invalid(kKind, text, "expected an integer with optional suffix Ki, Mi or Gi");
  }
  // K/M/G are accepted as aliases of Ki/Mi/Gi: for buffer sizes nobody means
  // powers of 1000, and silently using 1000 for "64K" would be worse.
  unsigned shift;
  if (s.empty()) {
    shift = 0;
  } else if (s == "Ki" || s == "K") {
    shift = 10;
  } else if (s == "Mi" || s == "M") {
    shift = 20;
  } else if (s == "Gi" || s == "G") {
    shift = 30;
  } else {
    Invalid(kKind, text, "unknown suffix (use Ki, Mi or Gi)");
  }
  if (n > (std::numeric_limits<uint64_t>::max() >> shift)) Invalid(kKind, text, "too large");
  return n << shift;
}

}  // namespace graymesh::config
