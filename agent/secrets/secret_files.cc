#include "agent/secrets/secret_files.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/safe_id.h"

namespace gantry::agent {
namespace {

bool IsTmpfs(const std::string& path) {
  struct statfs fs {};
  return statfs(path.c_str(), &fs) == 0 && fs.f_type == TMPFS_MAGIC;
}

// Task ids come from the control plane; they name a directory here.
bool SafeId(const std::string& id) { return IsSafePathId(id); }

}  // namespace

absl::Status SecretFiles::EnsureRoot() {
  if (ready_) return absl::OkStatus();
  std::error_code ec;
  std::filesystem::create_directories(root_, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create the secrets directory ", root_, ": ", ec.message()));
  }
  chmod(root_.c_str(), 0700);
  if (require_tmpfs_ && !IsTmpfs(root_)) {
    if (mount("tmpfs", root_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "mode=0700,size=16m") != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("secret files need a tmpfs at ", root_, " and mounting one failed: ",
                       std::strerror(errno), "; run the agent as root or mount a tmpfs there"));
    }
    spdlog::info("secrets: mounted a tmpfs at {}", root_);
  }
  ready_ = true;
  return absl::OkStatus();
}

absl::StatusOr<std::string> SecretFiles::Write(const std::string& task_id, int index,
                                               const std::string& value) {
  if (!SafeId(task_id)) {
    return absl::InvalidArgumentError(absl::StrCat("task id \"", task_id, "\" is not valid"));
  }
  if (auto st = EnsureRoot(); !st.ok()) return st;
  const std::string dir = absl::StrCat(root_, "/", task_id);
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::InternalError(absl::StrCat("mkdir ", dir, ": ", std::strerror(errno)));
  }
  const std::string path = absl::StrCat(dir, "/", index);
  unlink(path.c_str());
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
  if (fd < 0) return absl::InternalError(absl::StrCat("create ", path, ": ", std::strerror(errno)));
  size_t written = 0;
  while (written < value.size()) {
    const ssize_t n = write(fd, value.data() + written, value.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      close(fd);
      unlink(path.c_str());
      return absl::InternalError(absl::StrCat("write ", path, ": ", std::strerror(err)));
    }
    written += static_cast<size_t>(n);
  }
  close(fd);
  return path;
}

void SecretFiles::Remove(const std::string& task_id) {
  if (!SafeId(task_id)) return;
  std::error_code ec;
  std::filesystem::remove_all(absl::StrCat(root_, "/", task_id), ec);
  if (ec) spdlog::warn("secrets: removing the files of task {}: {}", task_id, ec.message());
}

void SecretFiles::RemoveAllBut(const std::set<std::string>& keep) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(root_, ec)) {
    const std::string id = entry.path().filename().string();
    if (!keep.contains(id)) Remove(id);
  }
}

}  // namespace gantry::agent
