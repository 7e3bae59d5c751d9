// libFuzzer target for the HTTP/1.1 request parser: arbitrary bytes, fed in
// two reads split where the first input byte says, head then body, the way a
// session feeds it. Checks the parser's promises, not just that it survives.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "http/parser.h"
#include "parser_checks.h"

using graymesh::http::BodyPieces;
using graymesh::http::MessageKind;
using graymesh::http::ParseStatus;
using graymesh::http::Parser;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  size_t cut = 1 + data[0] % (size - 1);
  std::string buf(reinterpret_cast<const char*>(data + 1), size - 1);
  Parser p(MessageKind::kRequest);
  size_t at = 0;
  // Several pipelined messages at most; each must end inside the input.
  for (int message = 0; message < 8 && at < buf.size(); ++message) {
    size_t used = 0;
    ParseStatus st = p.FeedHead(buf.data(), at, std::min(buf.size(), std::max(at + 1, cut)), &used);
    if (st == ParseStatus::kNeedMore && at + used < buf.size()) {
      size_t more = 0;
      st = p.FeedHead(buf.data(), at + used, buf.size(), &more);
      used += more;
    }
    if (at + used > buf.size()) abort();
    if (st != ParseStatus::kHeadComplete) return 0;
    graymesh::http::fuzz::CheckHead(p, buf.data(), buf.size());
    at += used;
    if (!p.body_done()) {
      BodyPieces pieces;
      size_t body = 0;
      st = p.FeedBody(buf.data() + at, buf.size() - at, &body, &pieces);
      if (body > buf.size() - at) abort();
      for (int i = 0; i < pieces.count; ++i) {
        if (pieces.piece[i].data() < buf.data() + at ||
            pieces.piece[i].data() + pieces.piece[i].size() > buf.data() + at + body) {
          abort();
        }
      }
      at += body;
      if (st != ParseStatus::kBodyComplete) return 0;
    }
    p.NextMessage();
  }
  return 0;
}
