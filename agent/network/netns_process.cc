#include "agent/network/netns_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace gantry::agent {

namespace {

constexpr size_t kMaxOutput = 1 << 20;
constexpr int kCannotJoin = 126;

absl::Status Errno(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

void WriteAll(int fd, const std::string& data) {
  size_t written = 0;
  while (written < data.size()) {
    ssize_t n = write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    written += static_cast<size_t>(n);
  }
}

// Reads `fd` to its end or the deadline; false on timeout.
bool ReadAll(int fd, absl::Time deadline, std::string& out) {
  char buf[8192];
  for (;;) {
    const int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left <= 0) return false;
    struct pollfd p {
      fd, POLLIN, 0
    };
    const int r = poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1000)));
    if (r <= 0) continue;  // EINTR or a second gone by
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    if (out.size() < kMaxOutput) out.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace

absl::StatusOr<ProcessResult> RunProcess(const ProcessRun& run) {
  // Everything the child touches, built before fork().
  std::vector<std::string> strings = {run.path};
  strings.insert(strings.end(), run.args.begin(), run.args.end());
  std::vector<char*> argv;
  for (auto& s : strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = run.env;
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  int netns_fd = -1;
  if (!run.netns.empty()) {
    netns_fd = open(run.netns.c_str(), O_RDONLY | O_CLOEXEC);
    if (netns_fd < 0) return Errno(absl::StrCat("open network namespace ", run.netns));
  }
  int in[2] = {-1, -1};
  int out[2] = {-1, -1};
  const int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
    absl::Status st = Errno("pipe");
    for (int fd : {in[0], in[1], netns_fd, devnull}) {
      if (fd >= 0) close(fd);
    }
    return st;
  }
  const pid_t pid = fork();
  if (pid == 0) {
    // Only async-signal-safe calls from here on. Its own process group, so
    // a timeout kills whatever it started too.
    setpgid(0, 0);
    if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) != 0) _exit(kCannotJoin);
    dup2(in[0], 0);
    dup2(out[1], 1);
    if (devnull >= 0) dup2(devnull, 2);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  for (int fd : {in[0], out[1], netns_fd, devnull}) {
    if (fd >= 0) close(fd);
  }
  if (pid < 0) {
    close(in[1]);
    close(out[0]);
    return Errno("fork");
  }
  WriteAll(in[1], run.input);
  close(in[1]);
  ProcessResult result;
  const absl::Time deadline = absl::Now() + run.timeout;
  bool finished = ReadAll(out[0], deadline, result.output);
  close(out[0]);
  // Its output ended; it may still hang (having closed stdout).
  int status = 0;
  while (finished) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) break;
    if (absl::Now() >= deadline) {
      finished = false;
      break;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  if (!finished) {
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (!finished) {
    return absl::DeadlineExceededError(absl::StrCat(
        run.path, " took longer than ", absl::FormatDuration(run.timeout), " and was killed"));
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (result.exit_code == kCannotJoin && !run.netns.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(run.path, ": cannot join network namespace ", run.netns));
  }
  return result;
}

}  // namespace gantry::agent
