// libFuzzer target for the HTTP/1.1 response parser: arbitrary bytes as what
// an upstream sends, parsed the way a session reads responses (head, then
// body, pipelined). The input is parsed twice, in one read and split where
// the first byte says; both must agree, and the parser's promises must hold:
// slices inside the buffer, field syntax, no body after 1xx/204/304/HEAD.
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

namespace {

// What one pass saw: per message its status, bytes and decoded body.
// `*overflow` is set when a read had more body pieces than BodyPieces holds
// (the caller then forwards raw bytes), so decoded bodies cannot be compared.
std::string ParseAll(const std::string& buf, size_t cut, bool head_request, bool* overflow) {
  std::string trace;
  Parser p(MessageKind::kResponse);
  p.SetHeadRequest(head_request);
  size_t at = 0;
  for (int message = 0; message < 8 && at < buf.size(); ++message) {
    size_t used = 0;
    size_t first_end = std::min(buf.size(), at + cut);
    ParseStatus st = p.FeedHead(buf.data(), at, first_end, &used);
    if (st == ParseStatus::kNeedMore && at + used < buf.size()) {
      size_t more = 0;
      st = p.FeedHead(buf.data(), at + used, buf.size(), &more);
      used += more;
    }
    if (at + used > buf.size()) abort();
    if (st != ParseStatus::kHeadComplete) {
      trace += st == ParseStatus::kError ? "E" : "N";
      return trace;
    }
    graymesh::http::fuzz::CheckHead(p, buf.data(), buf.size());
    if (p.reason().off + p.reason().len > buf.size()) abort();
    if (!graymesh::http::fuzz::IsFieldValue(p.reason().In(buf.data()))) abort();
    int code = p.status_code();
    bool no_body = head_request || code / 100 == 1 || code == 204 || code == 304;
    if (no_body && !p.body_done()) abort();
    trace += "H" + std::to_string(used) + ":";
    at += used;
    if (!p.body_done()) {
      // The body in two reads, split `cut` bytes in. A refused body counts as
      // refused whatever was decoded before: only "E" goes to the trace.
      std::string decoded;
      for (size_t part = 0; part < 2 && !p.body_done(); ++part) {
        size_t len = part == 0 ? std::min(cut, buf.size() - at) : buf.size() - at;
        BodyPieces pieces;
        size_t body = 0;
        st = p.FeedBody(buf.data() + at, len, &body, &pieces);
        if (body > len) abort();
        if (st == ParseStatus::kError) return trace + "E";
        if (pieces.overflow) *overflow = true;
        for (int i = 0; i < pieces.count; ++i) {
          if (pieces.piece[i].data() < buf.data() + at ||
              pieces.piece[i].data() + pieces.piece[i].size() > buf.data() + at + body) {
            abort();
          }
          decoded.append(pieces.piece[i]);
        }
        at += body;
        if (st == ParseStatus::kNeedMore && body != len) abort();
      }
      if (!p.body_done()) {
        // The upstream closed: only a body without length may end so.
        st = p.FeedEof();
        bool by_close = !p.chunked() && !p.has_content_length();
        if ((st == ParseStatus::kBodyComplete) != by_close) abort();
        return trace + (st == ParseStatus::kBodyComplete ? decoded + "C" : "T");
      }
      trace += decoded;
    }
    trace += "B" + std::to_string(at) + ";";
    p.NextMessage();
  }
  return trace;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  size_t cut = 1 + data[0] % 64;
  bool head_request = (data[0] & 0x80) != 0;
  std::string buf(reinterpret_cast<const char*>(data + 1), size - 1);
  bool overflow = false;
  std::string split = ParseAll(buf, cut, head_request, &overflow);
  std::string whole = ParseAll(buf, buf.size(), head_request, &overflow);
  if (!overflow && split != whole) abort();
  return 0;
}
