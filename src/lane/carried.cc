#include "lane/carried.h"

#include <algorithm>

#include "lane/lookup.h"
#include "lane/propagation.h"

namespace graymesh::lane {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";

bool IsTchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

// W3C baggage: baggage-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E.
bool IsBaggageOctet(unsigned char c) {
  return c >= 0x21 && c <= 0x7e && c != '"' && c != ',' && c != ';' && c != '\\' && c != '%';
}

void AppendEncoded(std::string_view raw, bool key, std::string* out) {
  for (unsigned char c : raw) {
    if (key ? IsTchar(c) && c != '%' : IsBaggageOctet(c)) {
      out->push_back(static_cast<char>(c));
    } else {
      out->push_back('%');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    }
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view Prefix(CarriedKind kind) {
  switch (kind) {
    case CarriedKind::kHeader:
      return kCarriedHeaderPrefix;
    case CarriedKind::kCookie:
      return kCarriedCookiePrefix;
    case CarriedKind::kQuery:
      return kCarriedQueryPrefix;
  }
  return kCarriedHeaderPrefix;
}

// Whether `list` ("k=v,k=v") already has a member with key `key`.
bool HasMember(std::string_view list, std::string_view key) {
  bool found = false;
  ForEachBaggageMember(list, [&](std::string_view, std::string_view k, std::string_view) {
    found = k == key;
    return found;
  });
  return found;
}

}  // namespace

std::string CarriedMemberKey(CarriedKind kind, std::string_view name) {
  std::string key(Prefix(kind));
  AppendEncoded(name, true, &key);
  return key;
}

bool IsCarriedMemberKey(std::string_view key) {
  return key.starts_with(kCarriedHeaderPrefix) || key.starts_with(kCarriedCookiePrefix) ||
         key.starts_with(kCarriedQueryPrefix);
}

void AppendBaggageValue(std::string_view raw, std::string* out) { AppendEncoded(raw, false, out); }

bool DecodeBaggageValue(std::string_view in, char* buf, size_t cap, size_t* len) {
  size_t n = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (n == cap) return false;
    buf[n++] = c;
  }
  *len = n;
  return true;
}

std::shared_ptr<const CarriedKeys> CarriedKeys::Compile(const std::vector<config::Lane>& lanes) {
  auto out = std::make_shared<CarriedKeys>();
  auto add = [&](CarriedKind kind, const std::string& name) {
    for (const Key& k : out->keys_) {
      if (k.kind == kind && k.name == name) return;
    }
    out->keys_.push_back({kind, name, CarriedMemberKey(kind, name)});
  };
  for (const config::Lane& lane : lanes) {
    if (lane.service.empty()) continue;
    for (const config::MatchClause& c : lane.match) {
      for (const auto& [name, m] : c.headers) add(CarriedKind::kHeader, name);
      for (const auto& [name, m] : c.cookies) add(CarriedKind::kCookie, name);
      for (const auto& [name, m] : c.query) add(CarriedKind::kQuery, name);
      if (c.percent < 0) continue;
      const size_t colon = c.sticky_on.find(':');
      if (colon == std::string::npos) continue;  // "client": an address, not carried
      const std::string kind = c.sticky_on.substr(0, colon);
      const std::string name = c.sticky_on.substr(colon + 1);
      if (kind == "header") add(CarriedKind::kHeader, name);
      if (kind == "cookie") add(CarriedKind::kCookie, name);
      if (kind == "query") add(CarriedKind::kQuery, name);
    }
  }
  return out;
}

void CarriedKeys::Append(const RequestView& rq, std::string_view incoming, std::string* out) const {
  const size_t start = out->size();
  for (const Key& k : keys_) {
    std::string_view value;
    bool found = false;
    switch (k.kind) {
      case CarriedKind::kHeader:
        found = detail::FindHeader(rq.headers, k.name, &value);
        break;
      case CarriedKind::kCookie:
        found = detail::FindCookie(rq.headers, k.name, &value);
        break;
      case CarriedKind::kQuery:
        found = detail::FindQueryParam(rq.query, k.name, &value);
        break;
    }
    if (!found) continue;
    const size_t mark = out->size();
    if (mark > start) out->push_back(',');
    out->append(k.member).push_back('=');
    const size_t value_start = out->size();
    AppendBaggageValue(value, out);
    if (out->size() - value_start > kMaxValueBytes) out->resize(mark);
  }
  ForEachBaggageMember(incoming, [&](std::string_view member, std::string_view key,
                                     std::string_view value) {
    if (!IsCarriedMemberKey(key) || value.size() > kMaxValueBytes) return false;
    if (HasMember(std::string_view(out->data() + start, out->size() - start), key)) return false;
    if (out->size() > start) out->push_back(',');
    out->append(member.substr(0, member.find(';')));
    return false;
  });
}

}  // namespace graymesh::lane
