#include "support/process.h"

#include <fcntl.h>
#include <ftw.h>
#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>
#include <thread>

namespace graymesh::test {
namespace {

constexpr size_t kLogTailOnFailure = 8 * 1024;

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return ChildProcess::kStillRunning;
}

}  // namespace

bool HasSanitizerReport(const std::string& log) {
  static constexpr std::string_view kSummary = "SUMMARY: ";
  for (size_t at = log.find(kSummary); at != std::string::npos;
       at = log.find(kSummary, at + 1)) {
    size_t end = log.find_first_of(": \n", at + kSummary.size());
    std::string_view tool = std::string_view(log).substr(at + kSummary.size(),
                                                         end - at - kSummary.size());
    if (tool.ends_with("Sanitizer")) return true;
  }
  return false;
}

namespace {

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The per-process temp dir: removed at exit when every test passed (set
// GRAYMESH_KEEP_TEST_DIR to keep it), kept with its logs otherwise.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/graymesh-test-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
      path_ = "/tmp";  // not ours: never removed
      return;
    }
    path_ = tmpl;
    owned_ = true;
  }
  ~TempDir() {
    if (!owned_ || std::getenv("GRAYMESH_KEEP_TEST_DIR") != nullptr ||
        ::testing::UnitTest::GetInstance()->Failed()) {
      return;
    }
    nftw(
        path_.c_str(),
        [](const char* p, const struct stat*, int, struct FTW*) { return remove(p); }, 16,
        FTW_DEPTH | FTW_PHYS);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool owned_ = false;
};

}  // namespace

const std::string& TestTempDir() {
  static const TempDir dir;
  return dir.path();
}

std::string CommandOutput(const std::string& command, int* exit_code) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) {
    if (exit_code != nullptr) *exit_code = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  const int status = ::pclose(p);
  if (exit_code != nullptr) *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

std::string GraymeshBin() {
  const char* env = std::getenv("GRAYMESH_BIN");
  if (env != nullptr && *env != '\0') return env;
  return "./src/cli/graymesh";
}

ChildProcess::ChildProcess(std::string program, std::vector<std::string> args,
                           std::vector<std::string> extra_env) {
  static int counter = 0;
  name_ = BaseName(program) + (args.empty() ? "" : "-" + args[0]);
  log_path_ = TestTempDir() + "/" + name_ + "-" + std::to_string(++counter) + ".log";
  // Everything the child needs is built before fork: only async-signal-safe
  // calls are allowed between fork and exec in a threaded process.
  std::vector<char*> argv;
  argv.push_back(program.data());
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    ADD_FAILURE() << "cannot create " << log_path_ << ": " << std::strerror(errno);
    return;
  }
  // The environment too: inherited entries minus those extra_env overrides.
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view kv(*e);
    bool overridden = false;
    for (const std::string& x : extra_env) {
      size_t eq = x.find('=');
      if (kv.substr(0, kv.find('=') + 1) == std::string_view(x).substr(0, eq + 1)) {
        overridden = true;
      }
    }
    if (!overridden) envp.push_back(*e);
  }
  for (std::string& x : extra_env) envp.push_back(x.data());
  envp.push_back(nullptr);
  pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    close(log_fd);
    return;
  }
  if (pid_ == 0) {
    // Die with the test process, even if it is killed.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    execve(program.c_str(), argv.data(), envp.data());
    const char msg[] = "ChildProcess: execve failed\n";
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof(msg) - 1);
    (void)ignored;
    _exit(127);
  }
  close(log_fd);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept { *this = std::move(other); }

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0) Kill();
    pid_ = other.pid_;
    exit_code_ = other.exit_code_;
    name_ = std::move(other.name_);
    log_path_ = std::move(other.log_path_);
    other.pid_ = -1;
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) Kill();
  // A child's sanitizer report fails the test even when the test did not look
  // at the child's exit code (most only stop it).
  if (!log_path_.empty() && HasSanitizerReport(Log())) {
    ADD_FAILURE() << name_ << " reported a sanitizer error (" << log_path_ << ")";
  }
  if (!log_path_.empty() && ::testing::Test::HasFailure()) {
    std::string log = Log();
    if (log.size() > kLogTailOnFailure) log = "...\n" + log.substr(log.size() - kLogTailOnFailure);
    std::fprintf(stderr, "---- log of %s (%s) ----\n%s---- end of log ----\n", name_.c_str(),
                 log_path_.c_str(), log.c_str());
  }
}

void ChildProcess::Reap(int status) {
  exit_code_ = DecodeStatus(status);
  pid_ = -1;
}

bool ChildProcess::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) Reap(status);
  return pid_ > 0;
}

void ChildProcess::Signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

int ChildProcess::Wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (Running()) {
    if (std::chrono::steady_clock::now() >= deadline) return kStillRunning;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return exit_code_;
}

int ChildProcess::Stop(int sig, std::chrono::milliseconds timeout) {
  Signal(sig);
  int code = Wait(timeout);
  if (code != kStillRunning) return code;
  ADD_FAILURE() << name_ << " did not exit " << timeout.count() << " ms after signal " << sig;
  Kill();
  return exit_code_;
}

void ChildProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  Reap(status);
}

std::string ChildProcess::Log() const {
  std::ifstream in(log_path_, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace graymesh::test
