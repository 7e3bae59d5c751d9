#include "proxy/https_upstream.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "support/ports.h"

namespace graymesh::test {
using namespace std::chrono_literals;

std::string FindNginx() {
  for (const char* p : {"/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

std::string MakeCert(const std::string& name, const std::string& san) {
  const std::string dir = TestTempDir();
  const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=" + name +
                          " -addext subjectAltName=" + san + " -keyout " + dir + "/" + name +
                          ".key -out " + dir + "/" + name + ".crt >/dev/null 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return dir + "/" + name;
}

HttpsUpstream HttpsUpstream::Start(const std::string& cert, const std::string& keepalive,
                                   bool http2) {
  HttpsUpstream u;
  u.port = FreePort();
  const std::string dir = TestTempDir() + "/nginx-" + std::to_string(u.port);
  std::filesystem::create_directories(dir + "/tmp");
  const std::string conf = dir + "/nginx.conf";
  std::ofstream(conf) << "pid " << dir << "/nginx.pid;\n"
                      << "error_log " << dir << "/error.log warn;\n"
                      << "events { worker_connections 64; }\n"
                      << "http {\n"
                      << "  access_log off;\n"
                      << "  client_body_temp_path " << dir << "/tmp/body;\n"
                      << "  proxy_temp_path " << dir << "/tmp/proxy;\n"
                      << "  fastcgi_temp_path " << dir << "/tmp/fastcgi;\n"
                      << "  uwsgi_temp_path " << dir << "/tmp/uwsgi;\n"
                      << "  scgi_temp_path " << dir << "/tmp/scgi;\n"
                      << "  keepalive_timeout " << keepalive << ";\n"
                      << "  keepalive_requests 10000;\n"
                      << "  server {\n"
                      << "    listen 127.0.0.1:" << u.port << (http2 ? " ssl http2;\n" : " ssl;\n")
                      << "    ssl_certificate " << cert << ".crt;\n"
                      << "    ssl_certificate_key " << cert << ".key;\n"
                      << "    location / {\n"
                      << "      add_header x-conn $connection always;\n"
                      << "      add_header x-sni \"$ssl_server_name\" always;\n"
                      << "      add_header x-resumed $ssl_session_reused always;\n"
                      << "      add_header x-proto $server_protocol always;\n"
                      << "      return 200 \"ok\\n\";\n"
                      << "    }\n"
                      << "  }\n"
                      << "}\n";
  u.proc = std::make_unique<ChildProcess>(
      FindNginx(), std::vector<std::string>{"-p", dir, "-c", conf, "-e", dir + "/error.log", "-g",
                                            "daemon off; master_process off;"});
  EXPECT_TRUE(WaitForPort(u.port, 5s)) << u.proc->Log();
  return u;
}

}  // namespace graymesh::test
