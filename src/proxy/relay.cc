// Head rewriting in both directions and the streaming of response bodies.
#include <asio/experimental/as_tuple.hpp>
#include <asio/buffer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <charconv>

#include "http/headers.h"
#include "lane/propagation.h"
#include "proxy/session.h"

namespace graymesh::proxy {
namespace {

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
constexpr size_t kBodyBuffer = 16 * 1024;
// Decoding chunked data for HTTP/1.0 clients: a slice this small cannot hold
// more chunks than BodyPieces keeps (each chunk takes at least 6 bytes).
constexpr size_t kDecodeSlice = 6 * http::BodyPieces::kMax;

void AppendHeader(std::string* out, std::string_view name, std::string_view value) {
  out->append(name).append(": ").append(value).append("\r\n");
}

// True when a Connection value names headers beyond keep-alive/close.
bool ListsHeaders(std::string_view connection) {
  return !connection.empty() && !http::IEquals(connection, "keep-alive") &&
         !http::IEquals(connection, "close");
}

}  // namespace

void Session::BuildUpstreamHead(const Request& rq) {
  const char* base = in_.data();
  const bool is_outbound = listener_.cfg.kind == config::ListenerKind::kOutbound;
  const bool add_xff = !is_outbound;
  out_.clear();
  out_.append(llhttp_method_name(rq.method)).append(" ").append(rq.target).append(" HTTP/1.1\r\n");
  for (const http::HeaderSlice& h : req_parser_.headers()) {
    std::string_view name = h.name.In(base);
    if (http::IsHopByHop(name)) continue;
    if (rq.connection_lists_headers && http::HasToken(rq.connection, name)) continue;
    if (name.size() == 6 && rq.expect_continue && http::IEquals(name, "expect")) continue;
    if (name.size() == 15 && add_xff && http::IEquals(name, "x-forwarded-for")) continue;
    if (DropsLaneHeader(rq, name)) continue;
    AppendHeader(&out_, name, h.value.In(base));
  }
  AppendLaneHeaders(rq);
  if (!rq.host_present) AppendHeader(&out_, "host", rq.authority);
  if (add_xff) {
    out_.append("x-forwarded-for: ");
    if (!rq.xff.empty()) out_.append(rq.xff).append(", ");
    out_.append(client_ip_).append("\r\n");
  }
  if (req_parser_.chunked()) out_.append("transfer-encoding: chunked\r\n");
  out_.append("\r\n");
}

void Session::BuildDownstreamHead(bool chunked_out) {
  const char* base = up_in_.data();
  std::string_view connection;
  for (const http::HeaderSlice& h : resp_parser_.headers()) {
    std::string_view name = h.name.In(base);
    if (name.size() == 10 && http::IEquals(name, "connection")) connection = h.value.In(base);
  }
  const bool lists = ListsHeaders(http::Trim(connection));
  char code[8];
  auto [end, ec] = std::to_chars(code, code + sizeof(code), resp_parser_.status_code());
  down_.clear();
  down_.append("HTTP/1.1 ").append(code, end).append(" ");
  down_.append(resp_parser_.reason().In(base)).append("\r\n");
  for (const http::HeaderSlice& h : resp_parser_.headers()) {
    std::string_view name = h.name.In(base);
    if (http::IsHopByHop(name)) continue;
    if (lists && http::HasToken(connection, name)) continue;
    AppendHeader(&down_, name, h.value.In(base));
  }
  if (chunked_out) down_.append("transfer-encoding: chunked\r\n");
  if (close_after_) down_.append("connection: close\r\n");
  down_.append("\r\n");
}

asio::awaitable<bool> Session::RelayResponse(const Request& rq, asio::ip::tcp::socket& up,
                                             size_t head_end, bool* reusable) {
  const config::Config& cfg = worker_.config();
  const bool chunked = resp_parser_.chunked();
  const bool decode = chunked && rq.http10;  // HTTP/1.0 knows no chunked coding
  const bool close_delimited =
      !chunked && !resp_parser_.has_content_length() && !resp_parser_.body_done();
  if (close_delimited || !rq.keep_alive || worker_.draining()) close_after_ = true;
  BuildDownstreamHead(chunked && !decode);

  size_t at = head_end;
  bool done = resp_parser_.body_done();
  bool first = true;
  http::BodyPieces pieces;
  for (;;) {
    // Feed what is buffered; `used` bytes of it belong to this response.
    iov_.clear();
    if (first) iov_.push_back(asio::buffer(down_));
    size_t avail = up_in_.wpos() - at;
    if (!done && avail > 0) {
      size_t used = 0;
      pieces.count = 0;
      http::ParseStatus st = resp_parser_.FeedBody(
          up_in_.data() + at, decode ? std::min(avail, kDecodeSlice) : avail, &used,
          decode ? &pieces : nullptr);
      if (st == http::ParseStatus::kError) break;  // the head may be out: just close
      if (decode) {
        for (int i = 0; i < pieces.count; ++i) iov_.push_back(asio::buffer(pieces.piece[i]));
      } else if (used > 0) {
        iov_.push_back(asio::buffer(up_in_.data() + at, used));
      }
      at += used;
      done = st == http::ParseStatus::kBodyComplete;
    }
    if (!iov_.empty()) {
      SetDeadline(Timeout::kStream, cfg.timeouts.idle);
      auto [ec, n] = co_await asio::async_write(client_, iov_, kNoThrow);
      if (ec) break;
    }
    first = false;
    if (done) {
      ClearDeadline();
      worker_.stats().downstream_rq_completed.Inc();
      *reusable = resp_parser_.keep_alive() && !close_delimited && at == up_in_.wpos();
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
        if (resp_parser_.FeedEof() == http::ParseStatus::kBodyComplete) {
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
