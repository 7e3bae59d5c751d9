// Test helpers: run a whole message through a Parser the way a session does
// (head, then body), optionally with the body split in two reads.
#pragma once

#include <string>
#include <string_view>

#include "http/parser.h"

namespace graymesh::http::testing {

struct Outcome {
  ParseStatus status = ParseStatus::kNeedMore;  // kBodyComplete when the message ended
  size_t used = 0;                              // bytes of the input in this message
  bool done_at_head = false;                    // body_done() right after the head
  std::string body;                             // decoded body
  std::string error;                            // error() when status is kError
};

// Parses the message starting at `at` in `msg`; the body is fed in two reads,
// split `cut` bytes after the head (or in one when `cut` is npos).
inline Outcome ParseOne(Parser& p, const std::string& msg, size_t at = 0,
                        size_t cut = std::string::npos) {
  Outcome out;
  size_t used = 0;
  out.status = p.FeedHead(msg.data(), at, msg.size(), &used);
  if (out.status == ParseStatus::kError) out.error = p.error();
  if (out.status != ParseStatus::kHeadComplete) return out;
  out.used = used;
  out.done_at_head = p.body_done();
  if (p.body_done()) {
    out.status = ParseStatus::kBodyComplete;
    return out;
  }
  std::string_view rest = std::string_view(msg).substr(at + used);
  std::string_view first = rest.substr(0, cut);
  for (std::string_view part : {first, rest.substr(first.size())}) {
    BodyPieces pieces;
    size_t body = 0;
    out.status = p.FeedBody(part.data(), part.size(), &body, &pieces);
    for (int i = 0; i < pieces.count; ++i) out.body.append(pieces.piece[i]);
    out.used += body;
    if (out.status == ParseStatus::kError) out.error = p.error();
    if (out.status != ParseStatus::kNeedMore || body < part.size()) break;
  }
  return out;
}

inline Outcome ParseRequest(const std::string& msg, size_t cut = std::string::npos) {
  Parser p(MessageKind::kRequest);
  return ParseOne(p, msg, 0, cut);
}

inline Outcome ParseResponse(const std::string& msg, bool head_request = false) {
  Parser p(MessageKind::kResponse);
  p.SetHeadRequest(head_request);
  return ParseOne(p, msg);
}

}  // namespace graymesh::http::testing
