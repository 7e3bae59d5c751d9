// Whether the local app is ready for traffic: its port accepts and, with a
// ready path, `GET PATH` answers 2xx. The sidecar registers only then, and
// keeps asking while registered (ControlAgent), so an app that stops
// accepting is taken out of the registry within a second or two.
//
// Blocking, one short loopback connection per call: for the control agent's
// own thread, never the request path.
#pragma once

#include <chrono>
#include <string>

namespace graymesh::proxy {

struct AppProbe {
  std::string address;  // host:port of the app
  std::string path;     // "" = accepting connections is enough
  std::chrono::milliseconds timeout{1000};
};

// True when ready; otherwise *why says what failed ("connect refused",
// "GET /healthz: 503").
bool AppReady(const AppProbe& probe, std::string* why);

}  // namespace graymesh::proxy
