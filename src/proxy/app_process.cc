#include "proxy/app_process.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace graymesh::proxy {

AppProcess::AppProcess(const std::vector<std::string>& argv) {
  if (argv.empty()) throw std::runtime_error("no command to run");
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid_ == 0) {
    // The sidecar handles the stop signals and forwards them in order; the
    // app starts with default dispositions and an empty signal mask.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);  // the sidecar died before prctl
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    // Its own process group: a terminal's Ctrl-C reaches the sidecar only,
    // which drains first and then stops the app.
    ::setpgid(0, 0);
    ::execvp(args[0], args.data());
    std::fprintf(stderr, "graymesh proxy: cannot run %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
}

AppProcess::~AppProcess() {
  if (Running()) Kill();
}

bool AppProcess::Running() {
  if (exit_code_ >= 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  if (r == pid_) {
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  } else {
    exit_code_ = 1;  // not our child any more: nothing to wait for
  }
  return false;
}

void AppProcess::Terminate() {
  if (terminated_ || !Running()) return;
  terminated_ = true;
  ::kill(pid_, SIGTERM);
}

void AppProcess::Kill() {
  if (!Running()) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  if (::waitpid(pid_, &status, 0) == pid_) {
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
}

}  // namespace graymesh::proxy
