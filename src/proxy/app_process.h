// The app a sidecar runs itself (`graymesh proxy ... -- CMD ARGS`): started
// before the sidecar registers, sent SIGTERM only after the drain has moved
// its traffic away, and its exit status becomes the sidecar's. It inherits
// stdout and stderr, and gets SIGTERM if the sidecar dies first
// (PR_SET_PDEATHSIG), so no app outlives its sidecar.
//
// Thread-safety: one owner thread (the sidecar's main thread, which also
// runs the admin loop that polls Running()).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace graymesh::proxy {

class AppProcess {
 public:
  // Starts argv[0] (searched in PATH) with the rest as arguments. Throws
  // std::runtime_error when it cannot fork; a failed exec shows as exit 127.
  explicit AppProcess(const std::vector<std::string>& argv);
  // A child still running is killed (SIGKILL) and reaped.
  ~AppProcess();
  AppProcess(const AppProcess&) = delete;
  AppProcess& operator=(const AppProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Reaps the child if it has exited (non-blocking).
  bool Running();
  // Sends SIGTERM once.
  void Terminate();
  // SIGKILL and reap.
  void Kill();
  // The exit status: the code, or 128 + signal; -1 while running.
  int exit_code() const { return exit_code_; }

 private:
  pid_t pid_ = -1;
  int exit_code_ = -1;
  bool terminated_ = false;
};

}  // namespace graymesh::proxy
