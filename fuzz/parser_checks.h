// Promises a parsed head must keep, whatever the input: checked by the HTTP
// fuzz targets after every kHeadComplete. abort() makes libFuzzer report.
#pragma once

#include <cstdlib>
#include <string_view>

#include "http/parser.h"

namespace graymesh::http::fuzz {

inline bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// Field values hold VCHAR, obs-text, SP and HTAB only: no line breaks (so no
// obs-fold), no NUL or other controls.
inline bool IsFieldValue(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 ? c != '\t' : u == 0x7f) return false;
  }
  return true;
}

inline void CheckHead(const Parser& p, const char* base, size_t size) {
  if (p.version_major() != 1 || p.version_minor() > 1) abort();
  for (const HeaderSlice& h : p.headers()) {
    if (h.name.off + h.name.len > size || h.value.off + h.value.len > size) abort();
    if (!IsToken(h.name.In(base)) || !IsFieldValue(h.value.In(base))) abort();
  }
  if (p.target().off + p.target().len > size) abort();
}

}  // namespace graymesh::http::fuzz
