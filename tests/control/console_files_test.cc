// The console's files as the control plane serves them: the page at / for
// browsers, the API index for everyone else, files under /console/.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "control/control_fixture.h"

namespace graymesh::test {
namespace {

std::string RepoFile(const std::string& path) {
  std::ifstream in(std::string(GRAYMESH_SOURCE_DIR) + "/" + path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ControlConsole, BrowsersGetThePageAndCurlTheIndex) {
  ControlPlane cp = ControlPlane::Start();
  Response page = cp.Send("GET", "/", "", {{"accept", "text/html,application/xhtml+xml,*/*"}});
  ASSERT_EQ(page.status, 200) << page.error;
  EXPECT_EQ(page.Header("content-type"), "text/html; charset=utf-8");
  EXPECT_EQ(page.body, RepoFile("console/index.html")) << "the file as committed";
  const std::string csp = page.Header("content-security-policy");
  EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << "nothing from elsewhere: " << csp;
  EXPECT_EQ(page.Header("x-content-type-options"), "nosniff");

  Response index = cp.Get("/");
  ASSERT_EQ(index.status, 200);
  EXPECT_EQ(index.Header("content-type"), "text/plain");
  EXPECT_NE(index.body.find("GET  /v1/events"), std::string::npos) << index.body;

  for (const char* f : {"app.js", "graph.js"}) {
    Response js = cp.Get(std::string("/console/") + f);
    ASSERT_EQ(js.status, 200) << f;
    EXPECT_EQ(js.Header("content-type"), "text/javascript; charset=utf-8") << f;
    EXPECT_EQ(js.body, RepoFile(std::string("console/") + f));
  }
  EXPECT_EQ(cp.Get("/console/style.css").Header("content-type"), "text/css; charset=utf-8");
}

TEST(ControlConsole, UnknownFilesAndWritesAreRefused) {
  ControlPlane cp = ControlPlane::Start();
  Response missing = cp.Get("/console/../graymesh.db");
  EXPECT_EQ(missing.status, 404) << missing.body;
  Response none = cp.Get("/console/secrets.js");
  EXPECT_EQ(none.status, 404);
  EXPECT_EQ(Json(none)["error"], "no such console file: /secrets.js");
  EXPECT_EQ(cp.Send("POST", "/console/app.js", "x").status, 405);
  EXPECT_EQ(cp.Send("DELETE", "/", "").status, 405);
}

}  // namespace
}  // namespace graymesh::test
