#include "control/store.h"

#include <fmt/format.h>

#include <random>
#include <stdexcept>

#include "control/etcd_store.h"
#include "control/sqlite_store.h"

namespace graymesh::control {

const char* StateName(InstanceState s) {
  switch (s) {
    case InstanceState::kStarting:
      return "starting";
    case InstanceState::kReady:
      return "ready";
    case InstanceState::kDraining:
      return "draining";
    case InstanceState::kUnhealthy:
      return "unhealthy";
  }
  return "ready";
}

std::optional<InstanceState> ParseState(const std::string& s) {
  if (s == "starting") return InstanceState::kStarting;
  if (s == "ready") return InstanceState::kReady;
  if (s == "draining") return InstanceState::kDraining;
  if (s == "unhealthy") return InstanceState::kUnhealthy;
  return std::nullopt;
}

std::unique_ptr<Store> OpenStore(const std::string& url, std::chrono::milliseconds lease_ttl) {
  if (url.starts_with("sqlite:")) {
    std::string path = url.substr(7);
    if (path.empty()) throw std::runtime_error("store " + url + ": empty path");
    return std::make_unique<SqliteStore>(path, lease_ttl);
  }
  if (url.starts_with("etcd:")) {
    // etcd:http://HOST:PORT[,http://HOST:PORT...]
    std::vector<std::string> endpoints;
    std::string rest = url.substr(5);
    size_t start = 0;
    while (start <= rest.size()) {
      size_t comma = rest.find(',', start);
      if (comma == std::string::npos) comma = rest.size();
      if (comma > start) endpoints.push_back(rest.substr(start, comma - start));
      start = comma + 1;
    }
    if (endpoints.empty()) throw std::runtime_error("store " + url + ": no endpoints");
    return std::make_unique<EtcdStore>(endpoints, lease_ttl);
  }
  throw std::runtime_error("store " + url +
                           ": unsupported (expected sqlite:PATH or etcd:http://HOST:PORT[,...])");
}

std::string InstanceId(const std::string& service, const std::string& address) {
  // FNV-1a 64 of "service\0address": the same on every host and version.
  uint64_t h = 0xcbf29ce484222325ULL;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 0x100000001b3ULL;
    }
  };
  mix(service);
  mix(std::string_view("\0", 1));
  mix(address);
  return fmt::format("{}-{:016x}", service, h);
}

int64_t UnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string NewStoreId() {
  std::random_device rd;
  const uint64_t v = (uint64_t(rd()) << 32) ^ rd();
  return fmt::format("{:016x}", v);
}

}  // namespace graymesh::control
