// A real `graymesh control` process on a free loopback port with its own
// SQLite file, plus helpers to call its API and to run the CLI binary.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/http_client.h"
#include "support/process.h"

namespace graymesh::test {

struct ControlPlane {
  uint16_t port = 0;
  std::string db;                 // the SQLite file
  std::vector<std::string> args;  // extra flags (--lease-ttl, --token-file)
  std::string store;              // a --store URL instead of sqlite:db (etcd:...)
  std::unique_ptr<ChildProcess> proc;

  // A fresh store file unless `db` is given.
  static ControlPlane Start(std::vector<std::string> args = {}, std::string db = "");
  // On the store at `store_url` (etcd:http://...).
  static ControlPlane StartOn(std::string store_url, std::vector<std::string> args = {});
  // Same port, same file, same flags: after Stop() or a crash (Kill()).
  void Restart();
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }

  Response Get(const std::string& target) const;
  Response Send(const std::string& method, const std::string& target, const std::string& body,
                const HeaderList& headers = {}) const;
  // The current store revision, from a snapshot answered at once.
  int64_t Revision() const;
  // A gauge or counter from /metrics, by its full line prefix (with labels).
  double Metric(const std::string& series) const;
};

// POST /v1/instances with {service, address, ...extra}.
Response RegisterInstance(const ControlPlane& cp, const std::string& service,
                          const std::string& address, nlohmann::json extra = {},
                          const HeaderList& headers = {});

nlohmann::json Json(const Response& r);

struct CliResult {
  int code = -1;
  std::string out;
  std::string err;
};
// Runs `graymesh ARGS...` to completion, stdout and stderr kept apart.
CliResult RunCli(const std::vector<std::string>& args, const std::vector<std::string>& env = {});

// Real etcd members on loopback, for the etcd store and replica tests.
inline constexpr const char* kEtcd = "/usr/bin/etcd";
bool HaveEtcd();
#define REQUIRE_ETCD() \
  if (!HaveEtcd()) GTEST_SKIP() << kEtcd << " not installed (apt-get install etcd-server)"

struct EtcdMember {
  std::string name;
  uint16_t client = 0;
  uint16_t peer = 0;
  std::unique_ptr<ChildProcess> proc;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(client); }
  std::string peer_url() const { return "http://127.0.0.1:" + std::to_string(peer); }
};

// Starts `n` members forming one cluster and waits for their client ports.
std::vector<EtcdMember> StartEtcd(int n);
// "etcd:URL,URL,..." for `graymesh control --store`.
std::string StoreUrl(const std::vector<EtcdMember>& members);

// A fresh file in the test temp dir holding `text`.
std::string TempFile(const std::string& name, const std::string& text);

}  // namespace graymesh::test
