#include "http/parser.h"

#include <cstring>

#include "http/headers.h"

namespace graymesh::http {
namespace {

Parser* Self(llhttp_t* p) { return static_cast<Parser*>(p->data); }

// Any value other than 0, 1, 2 and HPE_PAUSED makes llhttp stop with an error.
constexpr int kRefuse = -1;

bool IsBws(char c) { return c == ' ' || c == '\t'; }

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// HTAB, SP, VCHAR, obs-text: what a reason phrase may hold (RFC 9112 4).
bool IsReasonText(const char* at, size_t len) {
  for (size_t i = 0; i < len; ++i) {
    auto u = static_cast<unsigned char>(at[i]);
    if (u < 0x20 ? at[i] != '\t' : u == 0x7f) return false;
  }
  return true;
}

// True when, in a field section, a line starts with SP or HTAB (obs-fold,
// RFC 9112 5.2). `*last` is the byte before [p, end); it is updated so the
// check holds across reads. llhttp joins such lines into the previous value;
// a backend that unfolds differently would see other fields than we did.
bool HasFoldedLine(const char* p, const char* end, char* last) {
  if (p == end) return false;
  if (*last == '\n' && IsBws(*p)) return true;
  const char* at = p;
  while (const void* nl = std::memchr(at, '\n', size_t(end - at))) {
    at = static_cast<const char*>(nl) + 1;
    if (at == end) break;
    if (IsBws(*at)) return true;
  }
  *last = end[-1];
  return false;
}

// Free header slot blocks of this thread (see parser.h, Memory). A block
// given back on another thread than it came from simply joins that thread's
// list: each list is only ever touched by its own thread.
class HeaderBlocks {
 public:
  HeaderBlocks() = default;
  HeaderBlocks(const HeaderBlocks&) = delete;
  HeaderBlocks& operator=(const HeaderBlocks&) = delete;
  ~HeaderBlocks() {
    for (int i = 0; i < count_; ++i) delete[] free_[i];
  }
  HeaderSlice* Take() { return count_ > 0 ? free_[--count_] : new HeaderSlice[kMaxHeaders]; }
  void Give(HeaderSlice* block) {
    if (count_ < kKeptHeaderBlocks) free_[count_++] = block;
    else delete[] block;
  }

 private:
  HeaderSlice* free_[kKeptHeaderBlocks];
  int count_ = 0;
};

thread_local HeaderBlocks header_blocks;

}  // namespace

const llhttp_settings_t Parser::kSettings = [] {
  llhttp_settings_t s;
  llhttp_settings_init(&s);
  s.on_url = &Parser::OnUrl;
  s.on_status = &Parser::OnStatus;
  s.on_version = &Parser::OnVersion;
  s.on_version_complete = &Parser::OnVersionComplete;
  s.on_header_field = &Parser::OnHeaderField;
  s.on_header_field_complete = &Parser::OnHeaderFieldComplete;
  s.on_header_value = &Parser::OnHeaderValue;
  s.on_header_value_complete = &Parser::OnHeaderValueComplete;
  s.on_headers_complete = &Parser::OnHeadersComplete;
  s.on_body = &Parser::OnBody;
  s.on_chunk_complete = &Parser::OnChunkComplete;
  s.on_message_complete = &Parser::OnMessageComplete;
  return s;
}();

Parser::Parser(MessageKind kind) : kind_(kind) {
  llhttp_init(&p_, kind == MessageKind::kRequest ? HTTP_REQUEST : HTTP_RESPONSE, &kSettings);
  p_.data = this;
  // Off by default; said here because every one of them is a smuggling
  // vector for a proxy (llhttp_reset keeps them as they are).
  llhttp_set_lenient_headers(&p_, 0);
  llhttp_set_lenient_chunked_length(&p_, 0);
  llhttp_set_lenient_keep_alive(&p_, 0);
  llhttp_set_lenient_transfer_encoding(&p_, 0);
}

Parser::~Parser() { ReleaseHeaders(); }

void Parser::ReleaseHeaders() {
  if (headers_ == nullptr) return;
  header_blocks.Give(headers_);
  headers_ = nullptr;
}

void Parser::NextMessage() {
  ReleaseHeaders();
  llhttp_reset(&p_);
  in_head_ = true;
  head_done_ = false;
  body_done_ = false;
  keep_alive_ = false;
  too_many_headers_ = false;
  field_open_ = false;
  version_unsupported_ = false;
  failed_ = false;
  in_trailers_ = false;
  chunk_boundary_ = false;
  chunk_line_ = ChunkLine::kNone;
  last_byte_ = 0;
  field_len_ = 0;
  host_count_ = 0;
  content_length_ = 0;
  head_bytes_ = 0;
  url_ = {};
  status_ = {};
  version_ = {};
  num_headers_ = 0;
  error_ = nullptr;
}

int Parser::error_status() const {
  if (version_unsupported_) return 505;
  if (too_many_headers_) return 431;
  return 400;
}

// Pieces of one element arrive in order and, because the buffer only grows
// during the head, always back to back: extending the slice joins them.
void Parser::Extend(Slice* s, const char* at, size_t len) {
  uint32_t off = static_cast<uint32_t>(at - base_);
  if (s->len == 0) s->off = off;
  s->len = off + static_cast<uint32_t>(len) - s->off;
}

ParseStatus Parser::Fail(const char* why) {
  failed_ = true;
  error_ = why;
  return ParseStatus::kError;
}

int Parser::OnUrl(llhttp_t* p, const char* at, size_t len) {
  Parser* self = Self(p);
  self->Extend(&self->url_, at, len);
  return 0;
}

int Parser::OnStatus(llhttp_t* p, const char* at, size_t len) {
  Parser* self = Self(p);
  // llhttp takes any byte but CR and LF; the reason goes to the client.
  if (!IsReasonText(at, len)) {
    self->error_ = "control character in the reason phrase";
    return kRefuse;
  }
  self->Extend(&self->status_, at, len);
  return 0;
}

int Parser::OnVersion(llhttp_t* p, const char* at, size_t len) {
  Parser* self = Self(p);
  self->Extend(&self->version_, at, len);
  return 0;
}

// llhttp also takes `RTSP/1.0` and `ICE/1.0` start lines; only HTTP is ours.
bool Parser::IsHttpVersion() const {
  return version_.off >= 5 && std::memcmp(base_ + version_.off - 5, "HTTP/", 5) == 0;
}

int Parser::OnVersionComplete(llhttp_t* p) {
  Parser* self = Self(p);
  if (!self->IsHttpVersion()) {
    self->error_ = "not an HTTP/1.x start line";
    return kRefuse;
  }
  if (p->http_major != 1 || p->http_minor > 1) {
    self->version_unsupported_ = true;
    self->error_ = "HTTP version not supported (only 1.0 and 1.1)";
    return kRefuse;
  }
  return 0;
}

int Parser::OnHeaderField(llhttp_t* p, const char* at, size_t len) {
  Parser* self = Self(p);
  self->field_len_ += static_cast<uint32_t>(len);
  if (!self->in_head_) return 0;  // trailers: forwarded raw, checked, not stored
  if (!self->field_open_) {
    if (self->num_headers_ == kMaxHeaders) {
      self->too_many_headers_ = true;
      return HPE_USER;
    }
    if (self->headers_ == nullptr) self->headers_ = header_blocks.Take();
    self->headers_[self->num_headers_++] = {};
    self->field_open_ = true;
  }
  self->Extend(&self->headers_[self->num_headers_ - 1].name, at, len);
  return 0;
}

int Parser::OnHeaderFieldComplete(llhttp_t* p) {
  Parser* self = Self(p);
  if (self->field_len_ == 0) {
    self->error_ = "empty header field name";
    return kRefuse;
  }
  self->field_len_ = 0;
  if (self->in_head_ && self->num_headers_ > 0) {
    std::string_view name = self->headers_[self->num_headers_ - 1].name.In(self->base_);
    if (name.size() == 4 && IEquals(name, "host")) ++self->host_count_;
  }
  return 0;
}

int Parser::OnHeaderValue(llhttp_t* p, const char* at, size_t len) {
  Parser* self = Self(p);
  if (!self->in_head_ || self->num_headers_ == 0) return 0;
  self->field_open_ = false;
  self->Extend(&self->headers_[self->num_headers_ - 1].value, at, len);
  return 0;
}

int Parser::OnHeaderValueComplete(llhttp_t* p) {
  Self(p)->field_open_ = false;
  return 0;
}

int Parser::OnHeadersComplete(llhttp_t* p) {
  Parser* self = Self(p);
  if (self->kind_ == MessageKind::kRequest && self->version_.len == 0) {
    self->error_ = "request line without an HTTP version";  // HTTP/0.9
    return kRefuse;
  }
  self->head_done_ = true;
  self->in_head_ = false;
  self->keep_alive_ = llhttp_should_keep_alive(p) != 0;
  self->content_length_ = p->content_length;
  // RFC 9112 6.3: a response to HEAD, and any 1xx, 204 or 304, ends with its
  // head whatever its framing headers say. Returning 1 makes llhttp skip the
  // body and complete the message at once; we pause there instead.
  if (self->kind_ == MessageKind::kResponse) {
    int code = p->status_code;
    if (self->head_request_ || code / 100 == 1 || code == 204 || code == 304) return 1;
  }
  if ((p->flags & F_CHUNKED) != 0) self->StartChunkLine();
  return HPE_PAUSED;
}

int Parser::OnBody(llhttp_t* p, const char* at, size_t len) {
  Parser* self = Self(p);
  BodyPieces* out = self->pieces_;
  if (out != nullptr) {
    if (out->count == BodyPieces::kMax) {
      out->overflow = true;
    } else {
      out->piece[out->count++] = {at, len};
    }
  }
  return 0;
}

// A chunk's data and CRLF are done: the next line is a chunk-size line, which
// ScanChunkLine reads, so llhttp stops here. After the last chunk (the
// trailers are done) the message completes instead.
int Parser::OnChunkComplete(llhttp_t* p) {
  Parser* self = Self(p);
  if (self->in_trailers_) return 0;
  self->chunk_boundary_ = true;
  return HPE_PAUSED;
}

int Parser::OnMessageComplete(llhttp_t* p) {
  Parser* self = Self(p);
  self->body_done_ = true;
  self->chunk_line_ = ChunkLine::kNone;
  // keep-alive is final only now (e.g. a close-delimited body).
  self->keep_alive_ = llhttp_should_keep_alive(p) != 0;
  return HPE_PAUSED;  // never run into a pipelined next message
}

ParseStatus Parser::Execute(const char* data, size_t len, size_t* consumed) {
  llhttp_errno_t err = llhttp_execute(&p_, data, len);
  if (err == HPE_OK) {
    *consumed = len;
    return ParseStatus::kNeedMore;
  }
  if (err == HPE_PAUSED) {
    *consumed = static_cast<size_t>(llhttp_get_error_pos(&p_) - data);
    if (chunk_boundary_) {
      chunk_boundary_ = false;
      StartChunkLine();
      llhttp_resume(&p_);
      return ParseStatus::kNeedMore;
    }
    return body_done_ ? ParseStatus::kBodyComplete : ParseStatus::kHeadComplete;
  }
  *consumed = 0;
  // `HTTP/1.2`: llhttp read the digits and refused the version.
  if (err == HPE_INVALID_VERSION && version_.len == 3 && IsHttpVersion()) {
    version_unsupported_ = true;
    error_ = "HTTP version not supported (only 1.0 and 1.1)";
  }
  if (too_many_headers_) error_ = "too many headers";
  if (error_ == nullptr) error_ = llhttp_get_error_reason(&p_);
  if (error_ == nullptr) error_ = llhttp_errno_name(err);
  return ParseStatus::kError;
}

ParseStatus Parser::FeedHead(const char* base, size_t from, size_t to, size_t* consumed) {
  *consumed = 0;
  if (failed_) return ParseStatus::kError;
  base_ = base;
  ParseStatus st = Execute(base + from, to - from, consumed);
  if (st != ParseStatus::kError &&
      HasFoldedLine(base + from, base + from + *consumed, &last_byte_)) {
    *consumed = 0;
    return Fail("obs-fold (a header line starting with whitespace)");
  }
  head_bytes_ += *consumed;
  if (st == ParseStatus::kBodyComplete) {
    // A message without body: both the head and the body.
    return ParseStatus::kHeadComplete;
  }
  if (st == ParseStatus::kHeadComplete) {
    // Paused in on_headers_complete. A message that has no body at all must
    // still run through llhttp's end-of-message step: resume with no input.
    llhttp_resume(&p_);
    if ((p_.flags & (F_CHUNKED | F_CONTENT_LENGTH)) == 0 || p_.content_length == 0) {
      size_t none = 0;
      Execute(base + from + *consumed, 0, &none);
    }
  }
  return st;
}

// The chunk-size line is read here rather than by llhttp, whose extension
// parsing (8.x) refuses valid lines such as `1;a=b;c=d` and `1 ;a=b`. The hex
// digits and the line end go to llhttp, which keeps the chunk state; the
// extensions are checked and skipped (forwarded raw with the body, or dropped
// when the body is decoded).
ParseStatus Parser::ScanChunkLine(const char* data, size_t len, size_t* pos) {
  if (chunk_line_ == ChunkLine::kSize) {
    size_t start = *pos;
    while (*pos < len && IsHex(data[*pos])) {
      if (data[*pos] != '0') chunk_nonzero_ = true;
      ++*pos;
    }
    if (*pos > start) {
      chunk_digits_ = true;
      size_t used = 0;
      if (Execute(data + start, *pos - start, &used) == ParseStatus::kError) {
        return ParseStatus::kError;  // e.g. a size that overflows
      }
    }
    if (*pos == len) return ParseStatus::kNeedMore;
    char c = data[*pos];
    if (c != ';' && !IsBws(c)) {
      EndChunkLine();  // CR, or a byte llhttp refuses
      return ParseStatus::kNeedMore;
    }
    if (!chunk_digits_) return Fail("chunk size missing");
    chunk_ext_.Start(c);
    chunk_line_ = ChunkLine::kExtension;
    ++*pos;
  }
  for (; *pos < len; ++*pos) {
    switch (chunk_ext_.Feed(data[*pos])) {
      case ChunkExtScanner::Step::kMore:
        break;
      case ChunkExtScanner::Step::kEnd:
        EndChunkLine();
        return ParseStatus::kNeedMore;
      case ChunkExtScanner::Step::kInvalid:
        return Fail("invalid chunk extension");
      case ChunkExtScanner::Step::kTooLong:
        return Fail("chunk extensions longer than the limit");
    }
  }
  return ParseStatus::kNeedMore;
}

void Parser::StartChunkLine() {
  chunk_line_ = ChunkLine::kSize;
  chunk_digits_ = false;
  chunk_nonzero_ = false;
}

// The rest of the size line (CR LF, strictly) is llhttp's again. After the
// last chunk come the trailer fields, checked for obs-fold like a head.
void Parser::EndChunkLine() {
  chunk_line_ = ChunkLine::kNone;
  if (chunk_digits_ && !chunk_nonzero_) {
    in_trailers_ = true;
    last_byte_ = 0;
  }
}

ParseStatus Parser::FeedBody(const char* data, size_t len, size_t* consumed,
                             BodyPieces* pieces) {
  *consumed = 0;
  if (failed_) return ParseStatus::kError;
  if (body_done_) return ParseStatus::kBodyComplete;
  pieces_ = pieces;
  ParseStatus st = ParseStatus::kNeedMore;
  size_t pos = 0;
  while (st == ParseStatus::kNeedMore && pos < len) {
    if (chunk_line_ != ChunkLine::kNone) {
      st = ScanChunkLine(data, len, &pos);
      continue;
    }
    size_t used = 0;
    st = Execute(data + pos, len - pos, &used);
    if (st != ParseStatus::kError && in_trailers_ &&
        HasFoldedLine(data + pos, data + pos + used, &last_byte_)) {
      st = Fail("obs-fold (a trailer line starting with whitespace)");
    }
    pos += used;
  }
  pieces_ = nullptr;
  if (st == ParseStatus::kError) {
    if (pieces != nullptr) pieces->count = 0;  // nothing is valid
    return st;
  }
  *consumed = pos;
  return st;
}

ParseStatus Parser::FeedEof() {
  if (body_done_) return ParseStatus::kBodyComplete;
  if (failed_) return ParseStatus::kError;
  llhttp_errno_t err = llhttp_finish(&p_);
  if ((err == HPE_OK || err == HPE_PAUSED) && body_done_) return ParseStatus::kBodyComplete;
  error_ = "connection closed before the message ended";
  return ParseStatus::kError;
}

}  // namespace graymesh::http
