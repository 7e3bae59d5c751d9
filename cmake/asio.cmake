# Standalone Asio (Debian's libasio-dev), header only, C++20 coroutines.
find_path(ASIO_INCLUDE_DIR asio.hpp REQUIRED)
add_library(asio INTERFACE)
target_include_directories(asio SYSTEM INTERFACE ${ASIO_INCLUDE_DIR})
target_compile_definitions(asio INTERFACE ASIO_STANDALONE ASIO_NO_DEPRECATED ASIO_NO_TYPEID
  # Asio 1.22 picks aligned_alloc or not per include order, which ASan reports
  # as an alloc-dealloc mismatch: pin it to one choice.
  ASIO_DISABLE_STD_ALIGNED_ALLOC)
target_link_libraries(asio INTERFACE Threads::Threads)
