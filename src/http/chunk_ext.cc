#include "http/chunk_ext.h"

#include <cstring>

namespace graymesh::http {
namespace {

bool IsBws(char c) { return c == ' ' || c == '\t'; }

// tchar, RFC 9110 5.6.2.
bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

// qdtext, RFC 9110 5.6.4: HTAB, SP, VCHAR except DQUOTE and backslash, obs-text.
bool IsQdText(char c) {
  auto u = static_cast<unsigned char>(c);
  return c == '\t' || c == ' ' || c == 0x21 || (u >= 0x23 && u <= 0x5b) ||
         (u >= 0x5d && u <= 0x7e) || u >= 0x80;
}

// The escaped byte of a quoted-pair: HTAB, SP, VCHAR, obs-text.
bool IsQuotedPairChar(char c) {
  auto u = static_cast<unsigned char>(c);
  return c == '\t' || (u >= 0x20 && u != 0x7f);
}

}  // namespace

void ChunkExtScanner::Start(char first) {
  len_ = 1;
  state_ = first == ';' ? State::kBeforeName : State::kBeforeSemi;
}

ChunkExtScanner::Step ChunkExtScanner::Feed(char c) {
  // A line may end after a name or a value, not after BWS or "=" or ";".
  if (c == '\r' && (state_ == State::kName || state_ == State::kToken ||
                    state_ == State::kAfterQuoted)) {
    return Step::kEnd;
  }
  if (++len_ > limit_) return Step::kTooLong;
  return Next(c) ? Step::kMore : Step::kInvalid;
}

bool ChunkExtScanner::Next(char c) {
  using S = State;
  switch (state_) {
    case S::kBeforeSemi:
      if (c == ';') state_ = S::kBeforeName;
      return IsBws(c) || c == ';';
    case S::kBeforeName:
      if (IsTokenChar(c)) state_ = S::kName;
      return IsBws(c) || IsTokenChar(c);
    case S::kName:
    case S::kAfterName:
      if (state_ == S::kName && IsTokenChar(c)) return true;
      if (IsBws(c)) state_ = S::kAfterName;
      else if (c == '=') state_ = S::kBeforeValue;
      else if (c == ';') state_ = S::kBeforeName;
      else return false;
      return true;
    case S::kBeforeValue:
      if (c == '"') state_ = S::kQuoted;
      else if (IsTokenChar(c)) state_ = S::kToken;
      else return IsBws(c);
      return true;
    case S::kToken:
    case S::kAfterQuoted:
      if (state_ == S::kToken && IsTokenChar(c)) return true;
      if (IsBws(c)) state_ = S::kBeforeSemi;
      else if (c == ';') state_ = S::kBeforeName;
      else return false;
      return true;
    case S::kQuoted:
      if (c == '"') state_ = S::kAfterQuoted;
      else if (c == '\\') state_ = S::kQuotedPair;
      else return IsQdText(c);
      return true;
    case S::kQuotedPair:
      state_ = S::kQuoted;
      return IsQuotedPairChar(c);
  }
  return false;
}

}  // namespace graymesh::http
