#include "control/control_fixture.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "support/ports.h"

extern char** environ;

namespace graymesh::test {
namespace {

using namespace std::chrono_literals;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string TempFile(const std::string& name, const std::string& text) {
  static int seq = 0;
  std::string path = TestTempDir() + "/" + std::to_string(++seq) + "-" + name;
  std::ofstream(path) << text;
  return path;
}

ControlPlane ControlPlane::Start(std::vector<std::string> args, std::string db) {
  ControlPlane cp;
  cp.port = FreePort();
  cp.db = db.empty() ? TempFile("control.db", "") : db;
  if (db.empty()) std::remove(cp.db.c_str());  // let the control plane create it
  cp.args = std::move(args);
  cp.Restart();
  return cp;
}

ControlPlane ControlPlane::StartOn(std::string store_url, std::vector<std::string> args) {
  ControlPlane cp;
  cp.port = FreePort();
  cp.store = std::move(store_url);
  cp.args = std::move(args);
  cp.Restart();
  return cp;
}

void ControlPlane::Restart() {
  std::vector<std::string> argv = {"control", "--listen", "127.0.0.1:" + std::to_string(port),
                                   "--store", store.empty() ? "sqlite:" + db : store};
  argv.insert(argv.end(), args.begin(), args.end());
  proc = std::make_unique<ChildProcess>(GraymeshBin(), argv);
  EXPECT_TRUE(WaitForPort(port, 5s)) << proc->Log();
}

Response ControlPlane::Get(const std::string& target) const { return HttpGet(port, target); }

Response ControlPlane::Send(const std::string& method, const std::string& target,
                            const std::string& body, const HeaderList& headers) const {
  return HttpRequest(port, method, target, body, headers);
}

int64_t ControlPlane::Revision() const {
  Response r = Get("/v1/snapshot");
  EXPECT_EQ(r.status, 200) << r.error << r.body;
  return Json(r).value("version", int64_t{-1});
}

double ControlPlane::Metric(const std::string& series) const {
  Response r = Get("/metrics");
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  ADD_FAILURE() << "no series " << series << " in:\n" << r.body;
  return -1;
}

Response RegisterInstance(const ControlPlane& cp, const std::string& service,
                          const std::string& address, nlohmann::json extra,
                          const HeaderList& headers) {
  nlohmann::json body = extra.is_object() ? extra : nlohmann::json::object();
  body["service"] = service;
  body["address"] = address;
  return cp.Send("POST", "/v1/instances", body.dump(), headers);
}

nlohmann::json Json(const Response& r) {
  nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON (" << r.status << "): " << r.body << r.error;
  return j;
}

CliResult RunCli(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  static int seq = 0;
  const std::string base = TestTempDir() + "/cli-" + std::to_string(++seq);
  const std::string out_path = base + ".out", err_path = base + ".err";
  std::string bin = GraymeshBin();
  std::vector<std::string> argv_s = {bin};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  // The test's own environment, minus control-plane settings a developer may
  // have exported, plus `env`.
  std::vector<std::string> env_s;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view kv(*e);
    if (kv.starts_with("GRAYMESH_CONTROL=") || kv.starts_with("GRAYMESH_TOKEN=")) continue;
    env_s.emplace_back(kv);
  }
  env_s.insert(env_s.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (std::string& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  CliResult r;
  int rc = posix_spawn(&pid, bin.c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    ADD_FAILURE() << "posix_spawn " << bin << ": " << std::strerror(rc);
    return r;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = ReadFile(out_path);
  r.err = ReadFile(err_path);
  if (HasSanitizerReport(r.err)) ADD_FAILURE() << "graymesh reported a sanitizer error:\n" << r.err;
  return r;
}

bool HaveEtcd() { return access(kEtcd, X_OK) == 0; }

std::vector<EtcdMember> StartEtcd(int n) {
  static int seq = 0;
  std::vector<EtcdMember> members(n);
  std::string cluster;
  for (int i = 0; i < n; ++i) {
    members[i].name = "n" + std::to_string(i + 1);
    members[i].client = FreePort();
    members[i].peer = FreePort();
    if (!cluster.empty()) cluster += ",";
    cluster += members[i].name + "=" + members[i].peer_url();
  }
  const std::string token = "gm-test-" + std::to_string(getpid()) + "-" + std::to_string(++seq);
  for (EtcdMember& m : members) {
    std::string dir = TestTempDir() + "/etcd-" + token + "-" + m.name;
    m.proc = std::make_unique<ChildProcess>(
        kEtcd, std::vector<std::string>{"--name",
                                        m.name,
                                        "--data-dir",
                                        dir,
                                        "--listen-client-urls",
                                        m.url(),
                                        "--advertise-client-urls",
                                        m.url(),
                                        "--listen-peer-urls",
                                        m.peer_url(),
                                        "--initial-advertise-peer-urls",
                                        m.peer_url(),
                                        "--initial-cluster",
                                        cluster,
                                        "--initial-cluster-token",
                                        token,
                                        "--initial-cluster-state",
                                        "new",
                                        "--heartbeat-interval",
                                        "50",
                                        "--election-timeout",
                                        "500"});
  }
  for (EtcdMember& m : members) EXPECT_TRUE(WaitForPort(m.client, 10s)) << m.proc->Log();
  return members;
}

std::string StoreUrl(const std::vector<EtcdMember>& members) {
  std::string url = "etcd:";
  for (size_t i = 0; i < members.size(); ++i) url += (i ? "," : "") + members[i].url();
  return url;
}

}  // namespace graymesh::test
