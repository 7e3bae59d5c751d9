// The per-thread pool of Session's coroutine frames (proxy/session_frames.h):
// a freed frame is handed out again for the next frame of its size class, on
// the same thread, so steady-state requests take no frame from malloc.
#include "proxy/session_frames.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace graymesh::proxy {
namespace {

TEST(SessionFrames, AFreedFrameIsReusedForTheNextOfItsSizeClass) {
  if (!frames::PoolsFrames()) GTEST_SKIP() << "frames are not pooled under AddressSanitizer";
  void* a = frames::Allocate(841);
  frames::Release(a, 841);
  const size_t pooled = frames::PooledBlocks();
  EXPECT_GE(pooled, 1u);
  void* b = frames::Allocate(897);  // the next 128-byte class (897..1024): not a's
  void* c = frames::Allocate(800);  // 769..896, the class of 841: a again
  EXPECT_EQ(c, a);
  EXPECT_EQ(frames::PooledBlocks(), pooled - 1);
  frames::Release(c, 800);
  frames::Release(b, 897);
}

TEST(SessionFrames, ABurstOfFramesIsKeptWhole) {
  if (!frames::PoolsFrames()) GTEST_SKIP() << "frames are not pooled under AddressSanitizer";
  // 64 connections each holding a few frames at once, then all freed: all
  // of them come back for the next burst (Asio's cache kept 16).
  std::vector<void*> burst;
  for (int i = 0; i < 64 * 5; ++i) burst.push_back(frames::Allocate(700));
  const size_t before = frames::PooledBlocks();
  for (void* f : burst) frames::Release(f, 700);
  EXPECT_EQ(frames::PooledBlocks(), before + burst.size());
  std::vector<void*> again;
  for (size_t i = 0; i < burst.size(); ++i) again.push_back(frames::Allocate(700));
  EXPECT_EQ(frames::PooledBlocks(), before);
  for (void* f : again) frames::Release(f, 700);
}

TEST(SessionFrames, LargeFramesAreNotPooled) {
  const size_t before = frames::PooledBlocks();
  void* big = frames::Allocate(frames::kMaxPooled + 1);
  frames::Release(big, frames::kMaxPooled + 1);
  EXPECT_EQ(frames::PooledBlocks(), before);
}

TEST(SessionFrames, EachThreadHasItsOwnPool) {
  if (!frames::PoolsFrames()) GTEST_SKIP() << "frames are not pooled under AddressSanitizer";
  void* mine = frames::Allocate(300);
  frames::Release(mine, 300);
  void* theirs = nullptr;
  std::thread([&] {
    theirs = frames::Allocate(300);
    frames::Release(theirs, 300);
  }).join();
  EXPECT_NE(theirs, mine);  // the other thread did not take this thread's block
  void* again = frames::Allocate(300);
  EXPECT_EQ(again, mine);
  frames::Release(again, 300);
}

}  // namespace
}  // namespace graymesh::proxy
