// What every client command shares: the --control and --token flags, one
// API call with its error handling, and the exit convention (0 ok, 1 the
// control plane refused or is unreachable, 2 bad usage).
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "net/http_server.h"
#include "wire/api_client.h"

namespace graymesh::cli {

struct ClientFlags {
  std::string control = "http://127.0.0.1:15010";
  std::string token;
};

void AddClientFlags(CLI::App* cmd, ClientFlags* f);

// Ends the command with `code` (CLI11's way to make CLI11_PARSE return it).
[[noreturn]] void Fail(int code, const std::string& message);

wire::ControlUrl Url(const ClientFlags& f);

// The call's JSON answer for a 2xx status (and for 404 when `status` is
// given); otherwise exits 1 with the control plane's reason (or the
// transport error).
nlohmann::json Call(const ClientFlags& f, const std::string& method, const std::string& path,
                    const std::string& body = "", const net::HeaderList& headers = {},
                    int* status = nullptr);

// Percent-encodes a path segment.
std::string Encode(const std::string& s);

}  // namespace graymesh::cli
