// The web console's files (console/ in the repository), embedded at build
// time by cmake/embed_files.cmake. Immutable static data: safe from any thread.
#pragma once

#include <cstddef>
#include <string_view>

namespace graymesh::console {

struct EmbeddedFile {
  const char* path;  // "/index.html", "/app.js", ...
  const char* data;
  size_t size;
  std::string_view bytes() const { return {data, size}; }
};

extern const EmbeddedFile kFiles[];
extern const size_t kFileCount;

// The file at `path` ("/app.js"), or nullptr.
const EmbeddedFile* Find(std::string_view path);
// The Content-Type for a path by its extension.
const char* ContentType(std::string_view path);

}  // namespace graymesh::console
