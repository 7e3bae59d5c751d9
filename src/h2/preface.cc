#include "h2/preface.h"

namespace graymesh::h2 {

Sniff ClassifyFirstBytes(std::string_view first) {
  if (first.empty()) return Sniff::kNeedMore;
  const size_t n = first.size() < kPreface.size() ? first.size() : kPreface.size();
  if (first.substr(0, n) != kPreface.substr(0, n)) return Sniff::kHttp1;
  return n == kPreface.size() ? Sniff::kHttp2 : Sniff::kNeedMore;
}

}  // namespace graymesh::h2
