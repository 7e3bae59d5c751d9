// Head rewriting in both directions and the streaming of response bodies.
#include <asio/experimental/as_tuple.hpp>
#include <asio/buffer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <array>
#include <charconv>
#include <span>
#include <tuple>

#include "http/headers.h"
#include "lane/propagation.h"
#include "proxy/hop_by_hop.h"
#include "proxy/session.h"

namespace graymesh::proxy {
namespace {

// Literals as string_views: appended with their length known, no strlen.
using namespace std::string_view_literals;

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
constexpr size_t kBodyBuffer = 16 * 1024;
// Decoding chunked data for HTTP/1.0 clients: a slice this small cannot hold
// more chunks than BodyPieces keeps (each chunk takes at least 6 bytes).
constexpr size_t kDecodeSlice = 6 * http::BodyPieces::kMax;

void AppendHeader(std::string* out, std::string_view name, std::string_view value) {
  out->append(name).append(": "sv).append(value).append("\r\n"sv);
}

// Kept fields, appended as runs of the bytes received: a field received as
// exactly `name: value\r\n` is byte for byte what AppendHeader writes, so
// consecutive ones are copied together (a few appends for a typical head
// instead of four per field). Any other spelling (no space, more than one,
// trailing whitespace) is written anew by AppendHeader. Flush() before
// anything else goes to `out`.
class FieldWriter {
 public:
  explicit FieldWriter(std::string* out) : out_(out) {}
  // `name` and `value` are views into the received head, which ends with
  // CRLF CRLF, so the two bytes after a value are readable.
  void Add(std::string_view name, std::string_view value) {
    const char* line = name.data();
    const size_t n = name.size();
    if (value.data() == line + n + 2 && line[n] == ':' && line[n + 1] == ' ' &&
        value.data()[value.size()] == '\r' && value.data()[value.size() + 1] == '\n') {
      const size_t len = n + 2 + value.size() + 2;
      if (run_len_ > 0 && run_ + run_len_ == line) {
        run_len_ += len;
        return;
      }
      Flush();
      run_ = line;
      run_len_ = len;
      return;
    }
    Flush();
    AppendHeader(out_, name, value);
  }
  void Flush() {
    if (run_len_ == 0) return;
    out_->append(run_, run_len_);
    run_len_ = 0;
  }

 private:
  std::string* out_;
  const char* run_ = nullptr;
  size_t run_len_ = 0;
};

void AppendContentLength(std::string* out, uint64_t n) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), n);
  out->append("content-length: "sv).append(digits, end).append("\r\n"sv);
}

// Transfer-Encoding lines join into one list (RFC 9110 §5.3): every coding is
// kept, the proxy only frames by the final chunked.
void JoinCodings(std::string* codings, std::string_view value) {
  if (!codings->empty()) codings->append(", "sv);
  codings->append(http::Trim(value));
}

}  // namespace

void Session::BuildUpstreamHead(const Request& rq) {
  const char* base = in_.data();
  const bool is_outbound = listener_.cfg.kind == config::ListenerKind::kOutbound;
  const bool add_xff = !is_outbound;
  const std::span<const std::string> lane_aliases = cfg().node.lane_headers;
  out_.clear();
  codings_.clear();
  out_.append(llhttp_method_name(rq.method)).append(" "sv);
  if (rq.target != "*" && (rq.target.empty() || rq.target.front() != '/')) out_.push_back('/');
  out_.append(rq.target).append(" HTTP/1.1\r\n"sv);
  AppendHeader(&out_, "host", rq.authority);
  FieldWriter fields(&out_);
  for (const http::HeaderSlice& h : req_parser_.headers()) {
    std::string_view name = h.name.In(base);
    switch (name.size()) {
      case 4:
        if (http::IEquals(name, "host")) continue;  // written above, once
        break;
      case 14:  // content-length is written below from the parsed value
        if (http::IEquals(name, "content-length") || http::IEquals(name, "http2-settings")) {
          continue;
        }
        break;
      case 17:
        if (http::IEquals(name, "transfer-encoding")) {
          JoinCodings(&codings_, h.value.In(base));
          continue;
        }
        break;
      default:
        break;
    }
    if (http::IsHopByHop(name)) continue;
    if (rq.connection_lists_headers &&
        DroppedByConnection(rq.ConnectionLines(), name, lane_aliases)) {
      continue;
    }
    if (name.size() == 6 && rq.expect_continue && http::IEquals(name, "expect")) continue;
    if (name.size() == 15 && add_xff && http::IEquals(name, "x-forwarded-for")) continue;
    if (DropsLaneHeader(rq, name)) continue;
    fields.Add(name, h.value.In(base));
  }
  fields.Flush();
  AppendLaneHeaders(rq);
  if (add_xff) {
    out_.append("x-forwarded-for: "sv);
    if (!rq.xff.empty()) out_.append(rq.xff).append(", "sv);
    out_.append(client_ip_).append("\r\n"sv);
  }
  // Framing, as the proxy parsed it: the next hop reads the same message.
  if (req_parser_.chunked()) {
    AppendHeader(&out_, "transfer-encoding", codings_.empty() ? "chunked" : codings_);
  } else if (req_parser_.has_content_length()) {
    AppendContentLength(&out_, req_parser_.content_length());
  }
  out_.append("\r\n"sv);
}

void Session::BuildDownstreamHead(BodyOut body_out) {
  const http::Parser& rp = *resp_parser_;
  const char* base = up_in_.data();
  std::array<std::string_view, kMaxConnectionLines> connection{};
  size_t connection_lines = 0;
  for (const http::HeaderSlice& h : rp.headers()) {
    std::string_view name = h.name.In(base);
    if (name.size() == 10 && http::IEquals(name, "connection") &&
        connection_lines < connection.size()) {
      connection[connection_lines++] = h.value.In(base);
    }
  }
  const std::span<const std::string_view> lines{connection.data(), connection_lines};
  const bool lists = ListsHeaders(lines);
  const int status = rp.status_code();
  char code[8];
  auto [end, ec] = std::to_chars(code, code + sizeof(code), status);
  down_.clear();
  codings_.clear();
  down_.append("HTTP/1.1 "sv).append(code, end).append(" "sv);
  down_.append(rp.reason().In(base)).append("\r\n"sv);
  FieldWriter fields(&down_);
  // The draining mark is for the hop that called the draining sidecar; this
  // proxy has acted on it. The inbound side of a draining sidecar sets its own.
  for (const http::HeaderSlice& h : rp.headers()) {
    std::string_view name = h.name.In(base);
    if (name.size() == kDrainingHeader.size() && http::IEquals(name, kDrainingHeader)) continue;
    if (name.size() == 14 && http::IEquals(name, "content-length")) continue;  // written below
    if (name.size() == 17 && http::IEquals(name, "transfer-encoding")) {
      JoinCodings(&codings_, h.value.In(base));
      continue;
    }
    if (http::IsHopByHop(name)) continue;
    if (lists && DroppedByConnection(lines, name)) continue;
    fields.Add(name, h.value.In(base));
  }
  fields.Flush();
  // Framing from the parsed response (RFC 9112 §6.3). A 204 has none
  // (RFC 9110 §8.6); for HEAD and 304 the length is metadata and stays.
  if (status != 204 && body_out != BodyOut::kDecoded) {
    if (!codings_.empty()) {
      AppendHeader(&down_, "transfer-encoding", codings_);
    } else if (rp.has_content_length()) {
      AppendContentLength(&down_, rp.content_length());
    }
  }
  if (close_after_) down_.append("connection: close\r\n"sv);
  // Active notification: consumers stop choosing a draining instance at once.
  const bool inbound = listener_.cfg.kind == config::ListenerKind::kInbound;
  if (worker_.announces_drain() && inbound) {
    AppendHeader(&down_, kDrainingHeader, "1");
  }
  down_.append("\r\n"sv);
}

// Not a coroutine: the decoded pieces (half a kilobyte) stay on the stack
// instead of in RelayResponse's frame, which every request allocates.
http::ParseStatus Session::FeedResponseBody(size_t at, size_t avail, bool decode, size_t* used) {
  http::BodyPieces pieces;
  http::ParseStatus st = resp_parser_->FeedBody(
      up_in_.data() + at, decode ? std::min(avail, kDecodeSlice) : avail, used,
      decode ? &pieces : nullptr);
  if (st == http::ParseStatus::kError) return st;
  if (decode) {
    for (int i = 0; i < pieces.count; ++i) iov_.push_back(asio::buffer(pieces.piece[i]));
  } else if (*used > 0) {
    iov_.push_back(asio::buffer(up_in_.data() + at, *used));
  }
  return st;
}

asio::awaitable<bool> Session::RelayResponse(const Request& rq, net::ClientStream& up,
                                             size_t head_end, bool* reusable) {
  const RequestSettings& cfg = settings_;
  http::Parser& rp = *resp_parser_;
  // RFC 9112 §6.3: responses to HEAD, and 204 and 304, end with their head
  // whatever their framing headers say.
  const int status = rp.status_code();
  const bool bodiless = rq.method == HTTP_HEAD || status == 204 || status == 304;
  const bool chunked = !bodiless && rp.chunked();
  const bool decode = chunked && rq.http10;  // HTTP/1.0 knows no chunked coding
  const bool close_delimited =
      !bodiless && !chunked && !rp.has_content_length() && !rp.body_done();
  if (close_delimited || !rq.keep_alive || worker_.draining()) close_after_ = true;
  BuildDownstreamHead(bodiless ? BodyOut::kNone : decode ? BodyOut::kDecoded : BodyOut::kAsIs);

  size_t at = head_end;
  bool done = bodiless || rp.body_done();
  bool first = true;
  for (;;) {
    // Feed what is buffered; `used` bytes of it belong to this response.
    iov_.clear();
    if (first) iov_.push_back(asio::buffer(down_));
    size_t avail = up_in_.wpos() - at;
    if (!done && avail > 0) {
      size_t used = 0;
      http::ParseStatus st = FeedResponseBody(at, avail, decode, &used);
      if (st == http::ParseStatus::kError) break;  // the head may be out: just close
      at += used;
      done = st == http::ParseStatus::kBodyComplete;
    }
    if (!iov_.empty()) {
      SetDeadline(Timeout::kStream, cfg.timeouts.idle);
      // A view of iov_, not a copy of the vector (which would allocate).
      std::span<asio::const_buffer> out(iov_.data(), iov_.size());
      asio::error_code ec;
      size_t sent = client_.write_now(out, ec);
      if (!ec && sent < asio::buffer_size(out)) {
        std::tie(ec, std::ignore) =
            co_await asio::async_write(client_, net::Unwritten(out, sent), kNoThrow);
      }
      if (ec) break;
    }
    first = false;
    if (done) {
      ClearDeadline();
      worker_.stats().downstream_rq_completed.Inc();
      // Bytes after the end of the response (past a 304, say) are not the
      // next response: that connection is not reused.
      *reusable = rp.keep_alive() && !close_delimited && at == up_in_.wpos();
      co_return true;
    }
    if (at < up_in_.wpos()) continue;  // decode mode: more slices already here
    up_in_.Clear();
    at = 0;
    if (up_in_.capacity() < kBodyBuffer) up_in_.Grow(kBodyBuffer);
    SetDeadline(Timeout::kStream, cfg.timeouts.idle);
    auto [ec, n] = co_await up.async_read_some(
        asio::buffer(up_in_.write_ptr(), up_in_.writable()), kNoThrow);
    if (ec || n == 0) {
      if (!ec || ec == asio::error::eof) {
        if (rp.FeedEof() == http::ParseStatus::kBodyComplete) {
          done = true;
          continue;
        }
      }
      break;  // upstream broke off mid-body: the client sees a short response
    }
    up_in_.Commit(n);
  }
  close_after_ = true;
  co_return false;
}

}  // namespace graymesh::proxy
