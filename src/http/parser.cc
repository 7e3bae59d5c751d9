#include "http/parser.h"

namespace graymesh::http {
namespace {

Parser* Self(llhttp_t* p) { return static_cast<Parser*>(p->data); }

}  // namespace

const llhttp_settings_t Parser::kSettings = [] {
  llhttp_settings_t s;
  llhttp_settings_init(&s);
  s.on_url = &Parser::OnUrl;
  s.on_status = &Parser::OnStatus;
  s.on_header_field = &Parser::OnHeaderField;
  s.on_header_value = &Parser::OnHeaderValue;
  s.on_header_value_complete = &Parser::OnHeaderValueComplete;
  s.on_headers_complete = &Parser::OnHeadersComplete;
  s.on_body = &Parser::OnBody;
  s.on_message_complete = &Parser::OnMessageComplete;
  return s;
}();

Parser::Parser(MessageKind kind) : kind_(kind) {
  llhttp_init(&p_, kind == MessageKind::kRequest ? HTTP_REQUEST : HTTP_RESPONSE, &kSettings);
  p_.data = this;
}

void Parser::NextMessage() {
  in_head_ = true;
  head_done_ = false;
  body_done_ = false;
  keep_alive_ = false;
  too_many_headers_ = false;
  field_open_ = false;
  content_length_ = 0;
  head_bytes_ = 0;
  url_ = {};
  status_ = {};
  num_headers_ = 0;
  error_ = nullptr;
  if (llhttp_get_errno(&p_) == HPE_PAUSED) llhttp_resume(&p_);
}

// Pieces of one element arrive in order and, because the buffer only grows
// during the head, always back to back: extending the slice joins them.
void Parser::Extend(Slice* s, const char* at, size_t len) {
  uint32_t off = static_cast<uint32_t>(at - base_);
  if (s->len == 0) s->off = off;
  s->len = off + static_cast<uint32_t>(len) - s->off;
}

int Parser::OnUrl(llhttp_t* p, const char* at, size_t len) {
  Parser* self = Self(p);
  self->Extend(&self->url_, at, len);
  return 0;
}

int Parser::OnStatus(llhttp_t* p, const char* at, size_t len) {
  Parser* self = Self(p);
  self->Extend(&self->status_, at, len);
  return 0;
}

int Parser::OnHeaderField(llhttp_t* p, const char* at, size_t len) {
  Parser* self = Self(p);
  if (!self->in_head_) return 0;  // trailers: forwarded raw, not interpreted
  if (!self->field_open_) {
    if (self->num_headers_ == kMaxHeaders) {
      self->too_many_headers_ = true;
      return HPE_USER;
    }
    self->headers_[self->num_headers_++] = {};
    self->field_open_ = true;
  }
  self->Extend(&self->headers_[self->num_headers_ - 1].name, at, len);
  return 0;
}

int Parser::OnHeaderValue(llhttp_t* p, const char* at, size_t len) {
  Parser* self = Self(p);
  if (!self->in_head_) return 0;
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
  self->head_done_ = true;
  self->in_head_ = false;
  self->keep_alive_ = llhttp_should_keep_alive(p) != 0;
  self->content_length_ = p->content_length;
  // A response to HEAD has no body whatever its headers say; llhttp then
  // completes the message at once and we pause there instead.
  if (self->kind_ == MessageKind::kResponse && self->head_request_) return 1;
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

int Parser::OnMessageComplete(llhttp_t* p) {
  Parser* self = Self(p);
  self->body_done_ = true;
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
    return body_done_ ? ParseStatus::kBodyComplete : ParseStatus::kHeadComplete;
  }
  *consumed = 0;
  error_ = too_many_headers_ ? "too many headers" : llhttp_get_error_reason(&p_);
  if (error_ == nullptr) error_ = llhttp_errno_name(err);
  return ParseStatus::kError;
}

ParseStatus Parser::FeedHead(const char* base, size_t from, size_t to, size_t* consumed) {
  base_ = base;
  ParseStatus st = Execute(base + from, to - from, consumed);
  head_bytes_ += *consumed;
  if (st == ParseStatus::kBodyComplete) {
    // HEAD response, or a body already complete: both the head and the body.
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

ParseStatus Parser::FeedBody(const char* data, size_t len, size_t* consumed,
                             BodyPieces* pieces) {
  if (body_done_) {
    *consumed = 0;
    return ParseStatus::kBodyComplete;
  }
  pieces_ = pieces;
  ParseStatus st = Execute(data, len, consumed);
  pieces_ = nullptr;
  if (st == ParseStatus::kError && pieces != nullptr) pieces->count = 0;  // nothing is valid
  return st;
}

ParseStatus Parser::FeedEof() {
  if (body_done_) return ParseStatus::kBodyComplete;
  llhttp_errno_t err = llhttp_finish(&p_);
  if ((err == HPE_OK || err == HPE_PAUSED) && body_done_) return ParseStatus::kBodyComplete;
  error_ = "connection closed before the message ended";
  return ParseStatus::kError;
}

}  // namespace graymesh::http
