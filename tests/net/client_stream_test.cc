// ClientStream's write without waiting (write_now) and what is left of a
// buffer list after a partial write (Unwritten), on a real loopback socket.
#include "net/client_stream.h"

#include <gtest/gtest.h>

#include <array>
#include <asio/io_context.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <string>

namespace graymesh::net {
namespace {

std::string Join(std::span<const asio::const_buffer> buffers) {
  std::string out;
  for (const auto& b : buffers) out.append(static_cast<const char*>(b.data()), b.size());
  return out;
}

TEST(Unwritten, SkipsWholeBuffersAndTrimsTheFirstOneLeft) {
  std::string a = "head", b = "body";
  std::array<asio::const_buffer, 2> bufs{asio::buffer(a), asio::buffer(b)};
  EXPECT_EQ(Join(Unwritten(bufs, 0)), "headbody");
  std::array<asio::const_buffer, 2> two = bufs;
  EXPECT_EQ(Join(Unwritten(two, 2)), "adbody");
  two = bufs;
  EXPECT_EQ(Join(Unwritten(two, 4)), "body");
  EXPECT_EQ(Unwritten(two, 4).size(), 1u);
  two = bufs;
  EXPECT_EQ(Join(Unwritten(two, 7)), "y");
  two = bufs;
  EXPECT_TRUE(Unwritten(two, 8).empty());
}

TEST(ClientStream, WriteNowTakesWhatFitsWithoutWaitingAndAsyncWriteSendsTheRest) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
  asio::ip::tcp::socket peer(io);
  asio::ip::tcp::socket mine(io);
  mine.connect(acceptor.local_endpoint());
  acceptor.accept(peer);
  ClientStream stream(std::move(mine));

  // More than both socket buffers hold: the first call cannot take it all,
  // and must return (not block) with no error.
  std::string head = "head:";
  std::string body(16 << 20, 'x');
  for (size_t i = 0; i < body.size(); i += 4096) body[i] = static_cast<char>('a' + (i / 4096) % 26);
  std::array<asio::const_buffer, 2> bufs{asio::buffer(head), asio::buffer(body)};
  asio::error_code ec;
  size_t sent = stream.write_now(bufs, ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_GT(sent, 0u);
  ASSERT_LT(sent, head.size() + body.size());

  bool written = false;
  asio::async_write(stream, Unwritten(bufs, sent), [&](asio::error_code wec, size_t n) {
    EXPECT_FALSE(wec) << wec.message();
    EXPECT_EQ(n, head.size() + body.size() - sent);
    written = true;
  });
  std::string got(head.size() + body.size(), '\0');
  bool read = false;
  asio::async_read(peer, asio::buffer(got), [&](asio::error_code rec, size_t) {
    EXPECT_FALSE(rec) << rec.message();
    read = true;
  });
  io.run();
  EXPECT_TRUE(written && read);
  EXPECT_TRUE(got == head + body);  // every byte once, in order

  // Once the peer has gone, the error is the write's own.
  peer.close();
  std::string more(1 << 20, 'y');
  std::array<asio::const_buffer, 1> one{asio::buffer(more)};
  for (int i = 0; i < 10 && !ec; ++i) stream.write_now(one, ec);
  EXPECT_TRUE(ec == asio::error::broken_pipe || ec == asio::error::connection_reset) << ec.message();
}

}  // namespace
}  // namespace graymesh::net
