// Per-thread free lists of the storage a connection needs only while a
// request is in progress (the upstream read buffer, the response parser):
// connections take it when a request is forwarded and give it back once the
// response is sent, so an idle keep-alive connection holds none of it.
//
// Thread/lifetime: one pool per worker, used only on its thread; it must
// outlive every connection of that worker (what it hands out goes back to
// it). Not thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

namespace graymesh::net {

// Free list of T, made with Make() when empty. At most `keep` are kept;
// more are freed on Give, so a burst leaves no more than that behind.
template <typename T>
class FreeList {
 public:
  explicit FreeList(size_t keep) : keep_(keep) {}
  FreeList(const FreeList&) = delete;
  FreeList& operator=(const FreeList&) = delete;

  template <typename Make>
  std::unique_ptr<T> Take(Make&& make) {
    if (free_.empty()) return make();
    std::unique_ptr<T> p = std::move(free_.back());
    free_.pop_back();
    return p;
  }
  void Give(std::unique_ptr<T> p) {
    if (p != nullptr && free_.size() < keep_) free_.push_back(std::move(p));
  }
  size_t cached() const { return free_.size(); }

 private:
  size_t keep_;
  std::vector<std::unique_ptr<T>> free_;
};

// Fixed-size byte buffers (`size` bytes each), at most `keep` kept.
class BufferPool {
 public:
  BufferPool(size_t size, size_t keep) : size_(size), keep_(keep) {}
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  size_t size() const { return size_; }
  std::unique_ptr<char[]> Take() {
    if (free_.empty()) return std::unique_ptr<char[]>(new char[size_]);
    std::unique_ptr<char[]> b = std::move(free_.back());
    free_.pop_back();
    return b;
  }
  // Buffers of another size (one that grew past `size`) are freed.
  void Give(std::unique_ptr<char[]> bytes, size_t size) {
    if (bytes != nullptr && size == size_ && free_.size() < keep_) free_.push_back(std::move(bytes));
  }
  size_t cached() const { return free_.size(); }

 private:
  size_t size_;
  size_t keep_;
  std::vector<std::unique_ptr<char[]>> free_;
};

}  // namespace graymesh::net
