# Standalone Asio (Debian's libasio-dev), header only, C++20 coroutines.
find_path(ASIO_INCLUDE_DIR asio.hpp REQUIRED)
add_library(asio INTERFACE)
target_include_directories(asio SYSTEM INTERFACE ${ASIO_INCLUDE_DIR})
target_compile_definitions(asio INTERFACE ASIO_STANDALONE ASIO_NO_DEPRECATED ASIO_NO_TYPEID)
target_link_libraries(asio INTERFACE Threads::Threads)
