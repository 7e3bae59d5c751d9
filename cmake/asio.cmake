# Standalone Asio (Debian's libasio-dev), header only, C++20 coroutines.
find_path(ASIO_INCLUDE_DIR asio.hpp REQUIRED)
add_library(asio INTERFACE)
target_include_directories(asio SYSTEM INTERFACE ${ASIO_INCLUDE_DIR})
target_compile_definitions(asio INTERFACE ASIO_STANDALONE ASIO_NO_DEPRECATED ASIO_NO_TYPEID
  # Asio 1.22 picks aligned_alloc or not per include order, which ASan reports
  # as an alloc-dealloc mismatch: pin it to one choice.
  ASIO_DISABLE_STD_ALIGNED_ALLOC
  # Asio recycles coroutine frames (up to 1020 bytes) and handler memory per
  # thread, but keeps only 2 freed blocks per kind by default. Session's own
  # frames now come from proxy/session_frames.h; this still serves Asio's
  # operations and the other coroutines (HTTP/2, control agent). Every target
  # must agree (it sizes a per-thread array).
  ASIO_RECYCLING_ALLOCATOR_CACHE_SIZE=16)
target_link_libraries(asio INTERFACE Threads::Threads)
