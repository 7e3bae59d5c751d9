// A growable byte buffer with a read and a write position: bytes in
// [rpos, wpos) are received and not yet used. Owned by one connection.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstring>
#include <memory>

namespace graymesh::net {

class Buffer {
 public:
  // Capacity 0 allocates nothing (storage comes later: Grow or Adopt).
  explicit Buffer(size_t capacity)
      : data_(capacity == 0 ? nullptr : new char[capacity]), cap_(capacity) {}
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  char* data() { return data_.get(); }
  const char* data() const { return data_.get(); }
  size_t capacity() const { return cap_; }
  size_t rpos() const { return rpos_; }
  size_t wpos() const { return wpos_; }
  size_t readable() const { return wpos_ - rpos_; }
  size_t writable() const { return cap_ - wpos_; }
  char* read_ptr() { return data_.get() + rpos_; }
  char* write_ptr() { return data_.get() + wpos_; }

  void Consume(size_t n) {
    assert(n <= readable());
    rpos_ += n;
  }
  void Commit(size_t n) { wpos_ += n; }
  void Clear() { rpos_ = wpos_ = 0; }

  // Hands the storage out (to a pool: net/buffer_pool.h) and leaves the
  // buffer empty with capacity 0. `*capacity` is the storage's size.
  std::unique_ptr<char[]> Release(size_t* capacity) {
    *capacity = cap_;
    cap_ = rpos_ = wpos_ = 0;
    return std::move(data_);
  }
  // Takes `capacity` bytes of storage in place of the current one, empty.
  void Adopt(std::unique_ptr<char[]> storage, size_t capacity) {
    data_ = std::move(storage);
    cap_ = capacity;
    rpos_ = wpos_ = 0;
  }

  // Moves unread bytes to the front so writable() is as large as it can be.
  void Compact() {
    if (rpos_ == 0) return;
    size_t n = readable();
    if (n > 0) std::memmove(data_.get(), data_.get() + rpos_, n);
    rpos_ = 0;
    wpos_ = n;
  }

  // Grows to at least `capacity`, keeping positions and contents.
  void Grow(size_t capacity) {
    if (capacity <= cap_) return;
    std::unique_ptr<char[]> bigger(new char[capacity]);
    if (wpos_ > 0) std::memcpy(bigger.get(), data_.get(), wpos_);
    data_ = std::move(bigger);
    cap_ = capacity;
  }

 private:
  std::unique_ptr<char[]> data_;
  size_t cap_;
  size_t rpos_ = 0;
  size_t wpos_ = 0;
};

}  // namespace graymesh::net
