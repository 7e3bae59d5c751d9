// The Kubernetes example (deploy/kubernetes/) checked offline: every file is
// valid YAML of Kubernetes objects, and the lossless wiring the README
// describes is there — readiness on the sidecar's /ready, a grace period
// above the drain timeout, the lane label through the downward API, and the
// app stopped after the drain (run by the sidecar, or a preStop that drains);
// the control plane keeps its SQLite file on a volume. (kubectl's client-side
// dry run still asks an API server for the object kinds, so it cannot run
// here.)
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "config/config.h"

namespace graymesh::test {
namespace {

const std::string kDir = std::string(GRAYMESH_SOURCE_DIR) + "/deploy/kubernetes/";

std::vector<YAML::Node> Load(const std::string& file) {
  std::vector<YAML::Node> docs = YAML::LoadAllFromFile(kDir + file);
  for (const YAML::Node& d : docs) {
    EXPECT_TRUE(d["apiVersion"] && d["kind"] && d["metadata"]["name"]) << file;
  }
  return docs;
}

std::vector<std::string> Strings(const YAML::Node& list) {
  std::vector<std::string> out;
  if (!list) return out;
  for (const YAML::Node& n : list) out.push_back(n.as<std::string>());
  return out;
}

// The value of `--flag=value` in args, "" when absent.
std::string Flag(const std::vector<std::string>& args, const std::string& flag) {
  for (const std::string& a : args) {
    if (a.rfind(flag + "=", 0) == 0) return a.substr(flag.size() + 1);
  }
  return "";
}

TEST(Kubernetes, SidecarDeploymentsDrainBeforeTheAppStops) {
  int deployments = 0;
  for (const YAML::Node& d : Load("payment-deployment.yaml")) {
    if (d["kind"].as<std::string>() != "Deployment") continue;
    ++deployments;
    const std::string name = d["metadata"]["name"].as<std::string>();
    const YAML::Node pod = d["spec"]["template"];
    EXPECT_TRUE(pod["metadata"]["labels"]["graymesh.io/lane"]) << name;
    bool lane_file_mounted = false;
    for (const YAML::Node& v : pod["spec"]["volumes"]) {
      if (!v["downwardAPI"]) continue;
      for (const YAML::Node& item : v["downwardAPI"]["items"]) {
        lane_file_mounted |= item["fieldRef"]["fieldPath"].as<std::string>() == "metadata.labels";
      }
    }
    EXPECT_TRUE(lane_file_mounted) << name << ": the labels file for --lane-file";

    bool sidecar = false, app_after_drain = false;
    std::string drain = "30s";
    for (const YAML::Node& c : pod["spec"]["containers"]) {
      std::vector<std::string> argv = Strings(c["command"]);
      for (const std::string& a : Strings(c["args"])) argv.push_back(a);
      const bool is_proxy = std::find(argv.begin(), argv.end(), "proxy") != argv.end();
      if (c["lifecycle"] && c["lifecycle"]["preStop"]) {
        const YAML::Node cmd = c["lifecycle"]["preStop"]["exec"]["command"];
        std::string text;
        for (const std::string& s : Strings(cmd)) text += s + " ";
        app_after_drain |= text.find("/drain") != std::string::npos;
      }
      if (!is_proxy) continue;
      sidecar = true;
      EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"].as<std::string>(), "/ready") << name;
      EXPECT_FALSE(Flag(argv, "--lane-file").empty()) << name;
      EXPECT_FALSE(Flag(argv, "--ready-path").empty()) << name;
      if (!Flag(argv, "--drain-timeout").empty()) drain = Flag(argv, "--drain-timeout");
      // `-- APP`: the sidecar runs the app and stops it after the drain.
      app_after_drain |= std::find(argv.begin(), argv.end(), "--") != argv.end();
    }
    EXPECT_TRUE(sidecar) << name;
    EXPECT_TRUE(app_after_drain) << name << ": neither `-- APP` nor a preStop that drains";
    const int64_t grace = pod["spec"]["terminationGracePeriodSeconds"].as<int64_t>();
    EXPECT_GT(grace * 1000, config::ParseDuration(drain).count()) << name;
  }
  EXPECT_EQ(deployments, 2);
}

TEST(Kubernetes, ControlPlaneKeepsItsStoreOnAVolume) {
  bool sqlite = false;
  for (const YAML::Node& d : Load("control-sqlite.yaml")) {
    if (d["kind"].as<std::string>() != "StatefulSet") continue;
    const YAML::Node c = d["spec"]["template"]["spec"]["containers"][0];
    const std::string store = Flag(Strings(c["args"]), "--store");
    ASSERT_EQ(store.rfind("sqlite:", 0), 0u) << store;
    const std::string claim = d["spec"]["volumeClaimTemplates"][0]["metadata"]["name"].as<std::string>();
    for (const YAML::Node& m : c["volumeMounts"]) {
      if (m["name"].as<std::string>() != claim) continue;
      sqlite |= store.substr(7).rfind(m["mountPath"].as<std::string>() + "/", 0) == 0;
    }
  }
  EXPECT_TRUE(sqlite) << "the SQLite file must be on the claimed volume";
  bool etcd = false;
  for (const YAML::Node& d : Load("control-etcd.yaml")) {
    if (d["kind"].as<std::string>() != "StatefulSet" ||
        d["metadata"]["name"].as<std::string>() != "graymesh-control") {
      continue;
    }
    const YAML::Node c = d["spec"]["template"]["spec"]["containers"][0];
    etcd = Flag(Strings(c["args"]), "--store").rfind("etcd:", 0) == 0 &&
           d["spec"]["replicas"].as<int>() > 1;
  }
  EXPECT_TRUE(etcd);
}

}  // namespace
}  // namespace graymesh::test
