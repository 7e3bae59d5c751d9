// Where the coroutine frames of Session's member coroutines (ReadHead,
// Handle, Forward, TryEndpoint, RelayResponse...) come from: a pool per
// thread, by size class, instead of Asio's per-thread frame cache.
//
// Why: Asio keeps at most ASIO_RECYCLING_ALLOCATOR_CACHE_SIZE freed frames
// per thread, and a worker serving many connections handles their events in
// bursts (64 heads read, then 64 responses relayed): the frames of a burst
// outnumber the cache, so most of them were malloc'ed and freed on every
// request. The pool keeps what was freed, up to a bound, so in steady state
// a request's frames are reused blocks, however many connections interleave.
//
// How: std::coroutine_traits is specialised for asio::awaitable<T>
// returned by a member of Session (the implicit object parameter is
// Session&): the promise type is Asio's own awaitable_frame with this
// operator new/delete. It adds no data member, so Asio's code that takes the
// promise as an awaitable_frame sees the same object.
//
// Thread-safety: a block goes back to the pool of the thread that frees it
// (a worker frees the frames of its own sessions). Lifetime: a thread's pool
// is released when the thread ends.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <coroutine>
#include <cstddef>
#include <utility>

namespace graymesh::proxy {

class Session;

namespace frames {

// Blocks of up to kMaxPooled bytes come from the calling thread's pool.
inline constexpr size_t kMaxPooled = 4096;

void* Allocate(size_t size);
void Release(void* block, size_t size);

// Blocks in this thread's pool now, for tests.
size_t PooledBlocks();
// False under AddressSanitizer: every frame then comes from the heap, so a
// use of a freed frame is still reported.
bool PoolsFrames();

}  // namespace frames

template <typename T>
class SessionFrame : public asio::detail::awaitable_frame<T, asio::any_io_executor> {
  using Base = asio::detail::awaitable_frame<T, asio::any_io_executor>;

 public:
  static void* operator new(size_t size) { return frames::Allocate(size); }
  static void operator delete(void* block, size_t size) { frames::Release(block, size); }

  // An awaited asio::awaitable wants the handle of an awaitable_frame: this
  // frame's, retyped (the promise is the same object, at the same place).
  template <typename U>
  struct Await {
    asio::awaitable<U, asio::any_io_executor> inner;
    bool await_ready() const noexcept { return inner.await_ready(); }
    void await_suspend(std::coroutine_handle<SessionFrame> h) {
      inner.await_suspend(std::coroutine_handle<Base>::from_address(h.address()));
    }
    U await_resume() { return inner.await_resume(); }
  };
  using Base::await_transform;
  template <typename U>
  Await<U> await_transform(asio::awaitable<U, asio::any_io_executor> a) const {
    return Await<U>{Base::await_transform(std::move(a))};
  }
};

}  // namespace graymesh::proxy

template <typename T, typename... Args>
struct std::coroutine_traits<asio::awaitable<T, asio::any_io_executor>, graymesh::proxy::Session&,
                             Args...> {
  using promise_type = graymesh::proxy::SessionFrame<T>;
};
