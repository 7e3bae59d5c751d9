#include "cli/client.h"

#include <fmt/format.h>

#include <cctype>
#include <cstdio>

namespace graymesh::cli {

using nlohmann::json;

void AddClientFlags(CLI::App* cmd, ClientFlags* f) {
  cmd->add_option("--control", f->control, "Control plane URL")
      ->envname("GRAYMESH_CONTROL")
      ->capture_default_str();
  cmd->add_option("--token", f->token, "Bearer token for writes")->envname("GRAYMESH_TOKEN");
}

[[noreturn]] void Fail(int code, const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  std::fflush(stderr);
  throw CLI::RuntimeError(code);
}

wire::ControlUrl Url(const ClientFlags& f) {
  try {
    return wire::ParseControlUrl(f.control);
  } catch (const std::invalid_argument& e) {
    Fail(2, fmt::format("--control {}: {}", f.control, e.what()));
  }
}

json Call(const ClientFlags& f, const std::string& method, const std::string& path,
          const std::string& body, const net::HeaderList& headers, int* status) {
  wire::ControlUrl url = Url(f);
  wire::ApiResult r = wire::CallControl(url, f.token, method, path, body, headers);
  if (r.status == 0) {
    Fail(1, fmt::format("cannot reach the control plane at {}: {}", url.ToString(), r.error));
  }
  json j = json::parse(r.body, nullptr, false);
  if (status != nullptr) *status = r.status;
  if (r.status >= 200 && r.status < 300) return j;
  if (status != nullptr && r.status == 404) return j;
  std::string reason = j.is_object() && j.contains("error") && j["error"].is_string()
                           ? j["error"].get<std::string>()
                           : r.body;
  Fail(1, fmt::format("{} (HTTP {})", reason, r.status));
}

std::string Encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

}  // namespace graymesh::cli
