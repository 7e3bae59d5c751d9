// HTTP/1.1 message parser on llhttp. The head is parsed in place: header names
// and values are slices (offsets) of the caller's read buffer, so no header is
// copied and the buffer may grow while a head arrives in pieces. The body is
// then fed through the same parser, which validates its framing (length or
// chunked) and says where the message ends, so a proxy can forward body bytes
// as they came, or decoded, and stop exactly before a pipelined next message.
//
// Strict by design: what is forwarded raw must mean the same to every parser
// behind the proxy. llhttp is built in its strict mode with every lenient
// flag off, and on top of it this parser refuses obs-fold lines (head and
// trailers), empty field names, HTTP versions other than 1.0 and 1.1, and
// malformed chunk extensions (which llhttp 8 only partly parses: they are
// checked here and never reach it). The accept/reject table is docs/http.md.
//
// Thread-safety: none; one parser per connection direction.
//
// Memory: the header slots (kMaxHeaders of them) are not part of the parser:
// a head takes a block of them from its thread's free list at its first
// header line and gives it back at NextMessage() or destruction, so a parser
// between messages (an idle keep-alive connection's) holds none. The free
// list keeps up to kKeptHeaderBlocks blocks per thread; past the first
// messages on a thread, parsing allocates nothing.
#pragma once

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "http/chunk_ext.h"

namespace graymesh::http {

// A piece of the read buffer, by offset from its start.
struct Slice {
  uint32_t off = 0;
  uint32_t len = 0;
  std::string_view In(const char* base) const { return {base + off, len}; }
};

struct HeaderSlice {
  Slice name;
  Slice value;
};

inline constexpr int kMaxHeaders = 100;
// Header slot blocks a thread's free list keeps (each kMaxHeaders slots).
inline constexpr int kKeptHeaderBlocks = 128;
// Bytes of chunk extensions on one chunk-size line; more is refused.
inline constexpr size_t kMaxChunkExtension = 4096;

enum class MessageKind { kRequest, kResponse };

enum class ParseStatus {
  kNeedMore,      // feed more bytes
  kHeadComplete,  // head parsed; body (if any) follows at `consumed`
  kBodyComplete,  // the message ended; the next one starts at `consumed`
  kError,         // malformed: see error() / error_status()
};

// Decoded body pieces from one FeedBody call (pointers into the fed data).
struct BodyPieces {
  static constexpr int kMax = 32;
  std::string_view piece[kMax];
  int count = 0;
  bool overflow = false;  // more pieces than kMax: caller must use raw bytes
};

class Parser {
 public:
  explicit Parser(MessageKind kind);
  ~Parser();
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  // Head phase. `base` is the read buffer; bytes [from, to) are new. `consumed`
  // returns how many of them were parsed. Once the head ends, returns
  // kHeadComplete with the body starting at from + consumed. A message without
  // body also reports body_done() at that point: a request without
  // Content-Length or chunked, and a response that is 1xx, 204, 304 or
  // answers HEAD, whatever its Content-Length or Transfer-Encoding say
  // (RFC 9112 6.3).
  ParseStatus FeedHead(const char* base, size_t from, size_t to, size_t* consumed);

  // Body phase: feed raw bytes; `consumed` tells how many belong to this
  // message. Decoded data pieces go to `pieces` when not null.
  ParseStatus FeedBody(const char* data, size_t len, size_t* consumed, BodyPieces* pieces);

  // The peer closed: a body delimited by close ends here (kBodyComplete);
  // anything else unfinished is kError.
  ParseStatus FeedEof();

  // Ready for the next message on the same connection. Starts llhttp afresh,
  // so neither an error nor an upgrade of the previous message sticks, and
  // gives the header slots back (headers() is empty until the next head).
  void NextMessage();

  // For a response: the request was HEAD, so the response has no body.
  void SetHeadRequest(bool head) { head_request_ = head; }

  // ---- The parsed head (valid after kHeadComplete until NextMessage) ----
  llhttp_method_t method() const { return static_cast<llhttp_method_t>(p_.method); }
  int status_code() const { return p_.status_code; }
  int version_major() const { return p_.http_major; }
  int version_minor() const { return p_.http_minor; }
  Slice target() const { return url_; }  // request-target
  Slice reason() const { return status_; }
  std::span<const HeaderSlice> headers() const { return {headers_, size_t(num_headers_)}; }
  bool keep_alive() const { return keep_alive_; }
  // The final transfer coding is chunked (`gzip, chunked` too).
  bool chunked() const { return (p_.flags & F_CHUNKED) != 0; }
  // A Transfer-Encoding field was present. Without chunked() this is a
  // response delimited by the close (a request like that is an error).
  bool transfer_encoding() const { return (p_.flags & F_TRANSFER_ENCODING) != 0; }
  bool has_content_length() const { return (p_.flags & F_CONTENT_LENGTH) != 0; }
  uint64_t content_length() const { return content_length_; }
  bool body_done() const { return body_done_; }
  bool too_many_headers() const { return too_many_headers_; }
  // Host fields in the head (RFC 9112 3.2: a request with two is invalid).
  int host_count() const { return host_count_; }
  // Bytes of the head so far, including partial: for the 431 limit.
  size_t head_bytes() const { return head_bytes_; }

  // ---- After kError ----
  const char* error() const { return error_; }
  // The start line was HTTP/D.D syntax with a version other than 1.0 or 1.1.
  bool version_unsupported() const { return version_unsupported_; }
  // The status a server answers a request error with: 505 for an
  // unsupported version, 431 for too many headers, else 400.
  int error_status() const;

 private:
  static int OnUrl(llhttp_t*, const char*, size_t);
  static int OnStatus(llhttp_t*, const char*, size_t);
  static int OnVersion(llhttp_t*, const char*, size_t);
  static int OnVersionComplete(llhttp_t*);
  static int OnHeaderField(llhttp_t*, const char*, size_t);
  static int OnHeaderFieldComplete(llhttp_t*);
  static int OnHeaderValue(llhttp_t*, const char*, size_t);
  static int OnHeaderValueComplete(llhttp_t*);
  static int OnHeadersComplete(llhttp_t*);
  static int OnBody(llhttp_t*, const char*, size_t);
  static int OnChunkComplete(llhttp_t*);
  static int OnMessageComplete(llhttp_t*);
  static const llhttp_settings_t kSettings;

  // Where a chunk-size line is: its hex digits go to llhttp, its extensions
  // to chunk_ext_ (checked and skipped), its CR LF to llhttp again.
  enum class ChunkLine : uint8_t { kNone, kSize, kExtension };

  void Extend(Slice* s, const char* at, size_t len);
  ParseStatus Execute(const char* data, size_t len, size_t* consumed);
  ParseStatus Fail(const char* why);
  void StartChunkLine();
  ParseStatus ScanChunkLine(const char* data, size_t len, size_t* pos);
  void EndChunkLine();
  bool IsHttpVersion() const;

  llhttp_t p_;
  MessageKind kind_;
  const char* base_ = nullptr;  // buffer the current head slices refer to
  bool in_head_ = true;
  bool head_done_ = false;
  bool body_done_ = false;
  bool keep_alive_ = false;
  bool head_request_ = false;
  bool too_many_headers_ = false;
  bool field_open_ = false;  // last header callback was a name piece
  bool version_unsupported_ = false;
  bool failed_ = false;       // refused by a check of this class, not by llhttp
  bool in_trailers_ = false;  // past the last chunk's size line
  bool chunk_boundary_ = false;  // paused after a chunk, before a size line
  bool chunk_digits_ = false;    // the size line has hex digits so far
  bool chunk_nonzero_ = false;   // ... and one of them is not 0
  ChunkLine chunk_line_ = ChunkLine::kNone;
  ChunkExtScanner chunk_ext_{kMaxChunkExtension};
  char last_byte_ = 0;         // previous field-section byte, for obs-fold
  uint32_t field_len_ = 0;     // name bytes of the current field
  int host_count_ = 0;
  uint64_t content_length_ = 0;
  size_t head_bytes_ = 0;
  Slice url_;
  Slice status_;
  Slice version_;
  int num_headers_ = 0;
  HeaderSlice* headers_ = nullptr;  // kMaxHeaders slots while a head holds them
  void ReleaseHeaders();
  BodyPieces* pieces_ = nullptr;
  const char* error_ = nullptr;
};

}  // namespace graymesh::http
