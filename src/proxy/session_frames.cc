#include "proxy/session_frames.h"

#include <new>

// Under AddressSanitizer every frame goes to the heap, so a use of a freed
// frame is still reported (a pooled block would hide it).
#if defined(__SANITIZE_ADDRESS__)
#define GRAYMESH_POOL_FRAMES 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GRAYMESH_POOL_FRAMES 0
#endif
#endif
#ifndef GRAYMESH_POOL_FRAMES
#define GRAYMESH_POOL_FRAMES 1
#endif

namespace graymesh::proxy::frames {
namespace {

constexpr size_t kClassBytes = 128;
constexpr size_t kClasses = kMaxPooled / kClassBytes;
// What one thread keeps at most: well above what a worker's connections use
// at once (about 4 KB of frames per request in flight), far below its buffers.
constexpr size_t kMaxPooledBytes = 4 << 20;

struct FreeBlock {
  FreeBlock* next;
};

class Pool {
 public:
  ~Pool() {
    for (size_t c = 0; c < kClasses; ++c) {
      while (FreeBlock* b = free_[c]) {
        free_[c] = b->next;
        ::operator delete(b);
      }
    }
  }

  void* Take(size_t c) {
    FreeBlock* b = free_[c];
    if (b == nullptr) return ::operator new((c + 1) * kClassBytes);
    free_[c] = b->next;
    pooled_bytes_ -= (c + 1) * kClassBytes;
    --blocks_;
    return b;
  }

  void Give(void* block, size_t c) {
    const size_t bytes = (c + 1) * kClassBytes;
    if (pooled_bytes_ + bytes > kMaxPooledBytes) {
      ::operator delete(block);
      return;
    }
    auto* b = static_cast<FreeBlock*>(block);
    b->next = free_[c];
    free_[c] = b;
    pooled_bytes_ += bytes;
    ++blocks_;
  }

  size_t blocks() const { return blocks_; }

 private:
  FreeBlock* free_[kClasses] = {};
  size_t pooled_bytes_ = 0;
  size_t blocks_ = 0;
};

thread_local Pool pool;

size_t ClassOf(size_t size) { return (size - 1) / kClassBytes; }

}  // namespace

void* Allocate(size_t size) {
  if (!GRAYMESH_POOL_FRAMES || size == 0 || size > kMaxPooled) return ::operator new(size);
  return pool.Take(ClassOf(size));
}

void Release(void* block, size_t size) {
  if (!GRAYMESH_POOL_FRAMES || size == 0 || size > kMaxPooled) {
    ::operator delete(block);
    return;
  }
  pool.Give(block, ClassOf(size));
}

size_t PooledBlocks() { return pool.blocks(); }

bool PoolsFrames() { return GRAYMESH_POOL_FRAMES != 0; }

}  // namespace graymesh::proxy::frames
