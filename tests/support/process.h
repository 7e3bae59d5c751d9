// A child process for integration tests: a real `graymesh ...` started with
// fork/execv, its stdout and stderr in a log file, so a failing test can show
// what the process said. The child gets SIGKILL if the test process dies, and
// the destructor kills it, so no test leaves processes behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <string>
#include <vector>

namespace graymesh::test {

class ChildProcess {
 public:
  // Wait() and Stop() return this when the child is still running.
  static constexpr int kStillRunning = -1;

  ChildProcess() = default;
  // Starts `program` with `args` (argv[1..]); `extra_env` holds "NAME=VALUE"
  // entries added to the inherited environment. A failed exec shows as exit
  // code 127 with the reason in the log.
  ChildProcess(std::string program, std::vector<std::string> args,
               std::vector<std::string> extra_env = {});
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  // Kills a child still running; prints the log tail if the current test failed.
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  bool Running();
  // Sends `sig` and waits up to `timeout` for the exit, else SIGKILLs it and
  // records a test failure. Returns the exit code (128 + signal number when
  // killed by a signal).
  int Stop(int sig = SIGTERM, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // SIGKILL and reap.
  void Kill();
  // Sends a signal without waiting.
  void Signal(int sig);
  // Waits up to `timeout` for the exit: the exit code, or kStillRunning.
  int Wait(std::chrono::milliseconds timeout);

  const std::string& log_path() const { return log_path_; }
  // Everything the child wrote so far.
  std::string Log() const;

 private:
  void Reap(int status);

  pid_t pid_ = -1;
  int exit_code_ = kStillRunning;
  std::string name_;
  std::string log_path_;
};

// Whether `log` holds the summary line every sanitizer (Address, Leak,
// UndefinedBehavior, Thread) ends its report with; nothing else prints it.
// ChildProcess fails the test on one; other ways of running a child use it.
bool HasSanitizerReport(const std::string& log);

// Runs `command` with /bin/sh (popen) and returns what it wrote to stdout
// (and stderr when the command says 2>&1); `exit_code`, when given, gets its
// exit status (-1 when it did not exit normally).
std::string CommandOutput(const std::string& command, int* exit_code = nullptr);

// The graymesh binary under test: $GRAYMESH_BIN (ctest sets it), else
// ./src/cli/graymesh relative to the build directory.
std::string GraymeshBin();

// A directory for this test process's files (logs, configs), created once
// and removed at exit unless a test failed or GRAYMESH_KEEP_TEST_DIR is set.
const std::string& TestTempDir();

}  // namespace graymesh::test
