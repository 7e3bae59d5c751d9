# Standalone Asio (Debian's libasio-dev), header only, C++20 coroutines.
find_path(ASIO_INCLUDE_DIR asio.hpp REQUIRED)
add_library(asio INTERFACE)
target_include_directories(asio SYSTEM INTERFACE ${ASIO_INCLUDE_DIR})
target_compile_definitions(asio INTERFACE ASIO_STANDALONE ASIO_NO_DEPRECATED ASIO_NO_TYPEID
  # Asio 1.22 picks aligned_alloc or not per include order, which ASan reports
  # as an alloc-dealloc mismatch: pin it to one choice.
  ASIO_DISABLE_STD_ALIGNED_ALLOC
  # Coroutine frames and handler memory are recycled per thread, but Asio
  # keeps only 2 freed blocks per kind by default; a proxied request nests 7
  # frames (session, head, handling, forwarding, the attempt, the writes and
  # the response relay), so most were malloc'ed and freed on every request.
  # 16 keeps them all. Every target must agree (it sizes a per-thread array).
  ASIO_RECYCLING_ALLOCATOR_CACHE_SIZE=16)
target_link_libraries(asio INTERFACE Threads::Threads)
