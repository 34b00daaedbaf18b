#include "lb/haproxy.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/spawn.h"

namespace gantry::lb {

Haproxy::Haproxy(std::string binary, std::string config_path, std::string admin_socket)
    : binary_(std::move(binary)),
      config_path_(std::move(config_path)),
      admin_socket_(std::move(admin_socket)) {}

Haproxy::~Haproxy() { Stop(); }

absl::Status Haproxy::Apply(const std::string& config) {
  const std::string next = config_path_ + ".next";
  {
    std::ofstream out(next, std::ios::trunc);
    out << config;
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", next));
  }
  std::string output;
  auto checked = RunCapturing({binary_, "-c", "-q", "-f", next}, output);
  if (!checked.ok()) return checked.status();
  if (*checked != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("haproxy rejects the configuration: ", absl::StripAsciiWhitespace(output)));
  }
  if (std::rename(next.c_str(), config_path_.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot replace ", config_path_));
  }
  if (pid_ <= 0) return Start();
  if (kill(pid_, SIGUSR2) != 0) {
    return absl::InternalError(
        absl::StrCat("reload haproxy (pid ", pid_, "): ", std::strerror(errno)));
  }
  // The new worker recreates the admin socket; wait for it to answer.
  for (int i = 0; i < 100; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (Command("show info").ok()) break;
  }
  return absl::OkStatus();
}

absl::Status Haproxy::Start() {
  auto pid = Spawn({binary_, "-W", "-db", "-f", config_path_});
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  for (int i = 0; i < 250; ++i) {
    if (Command("show info").ok()) return absl::OkStatus();
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::UnavailableError(absl::StrCat(binary_, " exited at start (status ", status,
                                                 "); is another process on the listening ports?"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::UnavailableError("haproxy started but its admin socket does not answer");
}

absl::Status Haproxy::Command(const std::string& command) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(std::strerror(errno));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, admin_socket_.c_str(), sizeof(addr.sun_path) - 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const std::string error = std::strerror(errno);
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("haproxy admin socket ", admin_socket_, ": ", error));
  }
  const std::string line = command + "\n";
  if (write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    close(fd);
    return absl::UnavailableError("haproxy admin socket: write failed");
  }
  std::string answer;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) answer.append(buf, static_cast<size_t>(n));
  close(fd);
  // "set weight" answers nothing on success; errors are text.
  const auto trimmed = absl::StripAsciiWhitespace(answer);
  if (!absl::StartsWith(command, "show") && !trimmed.empty()) {
    return absl::InternalError(trimmed);
  }
  return absl::OkStatus();
}

void Haproxy::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

}  // namespace gantry::lb
