#include "console/embedded.h"

namespace graymesh::console {

const EmbeddedFile* Find(std::string_view path) {
  for (size_t i = 0; i < kFileCount; ++i) {
    if (path == kFiles[i].path) return &kFiles[i];
  }
  return nullptr;
}

const char* ContentType(std::string_view path) {
  if (path.ends_with(".html")) return "text/html; charset=utf-8";
  if (path.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (path.ends_with(".css")) return "text/css; charset=utf-8";
  if (path.ends_with(".png")) return "image/png";
  if (path.ends_with(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

}  // namespace graymesh::console
