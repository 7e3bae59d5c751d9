# llhttp from Debian's node-llhttp: C sources in /usr/share/llhttp, header in
# /usr/share/include/llhttp. Built as a static library; nothing is vendored.
find_path(LLHTTP_INCLUDE_DIR llhttp.h PATHS /usr/share/include/llhttp /usr/include REQUIRED)
find_path(LLHTTP_SOURCE_DIR llhttp.c PATHS /usr/share/llhttp REQUIRED)
add_library(llhttp STATIC
  ${LLHTTP_SOURCE_DIR}/llhttp.c
  ${LLHTTP_SOURCE_DIR}/api.c
  ${LLHTTP_SOURCE_DIR}/http.c)
target_include_directories(llhttp SYSTEM PUBLIC ${LLHTTP_INCLUDE_DIR})
set_target_properties(llhttp PROPERTIES C_STANDARD 99 POSITION_INDEPENDENT_CODE ON)
target_compile_options(llhttp PRIVATE -w -O2)
# llhttp scans header names and values 16 bytes at a time with SSE4.2
# (PCMPESTRI) when the compiler may use it, else byte by byte. Every x86-64
# server of the last fifteen years has it (x86-64-v2, the RHEL 9 baseline);
# GRAYMESH_LLHTTP_SSE42=OFF builds for older ones.
option(GRAYMESH_LLHTTP_SSE42 "build llhttp with SSE4.2 (x86-64)" ON)
if(GRAYMESH_LLHTTP_SSE42 AND CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  target_compile_options(llhttp PRIVATE -msse4.2)
endif()
# Strict mode (what llhttp 9 made its default): a CR must be followed by LF
# (no `\r\n\rX` head end, no bare CR after a chunk size), and field names
# must be tokens. A proxy forwards what it parsed; loose parsing is smuggling.
target_compile_definitions(llhttp PRIVATE LLHTTP_STRICT_MODE=1)
