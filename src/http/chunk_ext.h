// The chunk extensions of one chunk-size line (RFC 9112 7.1.1), checked byte
// by byte, so a line split across reads needs no buffer:
//
//   chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//   chunk-ext-val = token / quoted-string
//
// llhttp 8 parses extensions only partly (it refuses `1;a=b;c=d`, `1 ;a=b`
// and quoted-pairs), so the parser checks them here and never hands them on.
//
// Thread-safety: none; a value type owned by one Parser.
#pragma once

#include <cstddef>
#include <cstdint>

namespace graymesh::http {

class ChunkExtScanner {
 public:
  enum class Step {
    kMore,     // byte taken; feed the next
    kEnd,      // the byte is the CR ending a valid line: not taken
    kInvalid,  // the line is not valid
    kTooLong,  // more than `limit` bytes of extensions
  };

  explicit ChunkExtScanner(size_t limit) : limit_(limit) {}

  // At the first byte after the chunk size, which is ";" or BWS.
  void Start(char first);
  // Every following byte of the line, up to and including its CR.
  Step Feed(char c);

 private:
  enum class State : uint8_t {
    kBeforeSemi,   // BWS, then ";"
    kBeforeName,   // BWS, then a name
    kName,         // token
    kAfterName,    // BWS, then "=" or ";"
    kBeforeValue,  // BWS, then a token or a quoted string
    kToken,        // token value
    kQuoted,       // inside a quoted string
    kQuotedPair,   // after a backslash in it
    kAfterQuoted,  // after the closing quote
  };

  bool Next(char c);

  size_t limit_;
  size_t len_ = 0;
  State state_ = State::kBeforeSemi;
};

}  // namespace graymesh::http
