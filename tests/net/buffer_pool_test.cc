// The per-worker pools a request takes its response storage from, and the
// buffer's hand-over of its storage to them.
#include "net/buffer_pool.h"

#include <gtest/gtest.h>

#include <cstring>

#include "net/buffer.h"

namespace graymesh::net {
namespace {

TEST(BufferPool, GivesBackWhatWasReturned) {
  BufferPool pool(1024, 4);
  std::unique_ptr<char[]> a = pool.Take();
  char* raw = a.get();
  pool.Give(std::move(a), 1024);
  EXPECT_EQ(pool.cached(), 1u);
  EXPECT_EQ(pool.Take().get(), raw);  // reused, not a new allocation
  EXPECT_EQ(pool.cached(), 0u);
}

TEST(BufferPool, KeepsAtMostItsLimitAndNoOtherSize) {
  BufferPool pool(64, 2);
  for (int i = 0; i < 5; ++i) pool.Give(std::unique_ptr<char[]>(new char[64]), 64);
  EXPECT_EQ(pool.cached(), 2u);
  pool.Give(std::unique_ptr<char[]>(new char[128]), 128);  // grew: freed
  pool.Give(nullptr, 64);
  EXPECT_EQ(pool.cached(), 2u);
}

TEST(FreeList, MakesOnlyWhenEmpty) {
  FreeList<int> list(1);
  int made = 0;
  auto make = [&] {
    ++made;
    return std::make_unique<int>(7);
  };
  std::unique_ptr<int> p = list.Take(make);
  int* raw = p.get();
  list.Give(std::move(p));
  EXPECT_EQ(list.Take(make).get(), raw);
  EXPECT_EQ(made, 1);
}

TEST(Buffer, ReleaseLeavesItEmptyAndAdoptTakesStorageIn) {
  Buffer b(16);
  std::memcpy(b.write_ptr(), "abc", 3);
  b.Commit(3);
  size_t capacity = 0;
  std::unique_ptr<char[]> storage = b.Release(&capacity);
  EXPECT_EQ(capacity, 16u);
  EXPECT_EQ(b.capacity(), 0u);
  EXPECT_EQ(b.readable(), 0u);
  b.Adopt(std::move(storage), 16);
  EXPECT_EQ(b.capacity(), 16u);
  EXPECT_EQ(b.wpos(), 0u);  // adopted storage starts empty
  b.Grow(32);               // and grows like any other
  EXPECT_EQ(b.capacity(), 32u);
}

TEST(Buffer, ZeroCapacityAllocatesNothingAndCanGrow) {
  Buffer b(0);
  EXPECT_EQ(b.data(), nullptr);
  b.Grow(8);
  EXPECT_EQ(b.capacity(), 8u);
  EXPECT_EQ(b.writable(), 8u);
}

}  // namespace
}  // namespace graymesh::net
