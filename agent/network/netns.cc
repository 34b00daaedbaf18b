#include "agent/network/netns.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"

namespace gantry::agent {

namespace {

absl::Status Errno(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

bool IsNetns(const std::string& path) {
  struct statfs fs {};
  return statfs(path.c_str(), &fs) == 0 && fs.f_type == NSFS_MAGIC;
}

absl::Status CreateNetns(const std::string& path) {
  if (IsNetns(path)) return absl::OkStatus();
  std::error_code ec;
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("create ", dir.string(), ": ", ec.message()));
  }
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  int fd = open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno != EEXIST) return Errno(absl::StrCat("create ", path));
  if (fd >= 0) close(fd);
  absl::Status result;
  std::thread maker([&] {
    if (unshare(CLONE_NEWNET) != 0) {
      result = Errno("unshare(CLONE_NEWNET) (the agent must run as root)");
      return;
    }
    const std::string self = absl::StrCat("/proc/self/task/", syscall(SYS_gettid), "/ns/net");
    if (mount(self.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      result = Errno(absl::StrCat("bind-mount a network namespace on ", path));
    }
  });
  maker.join();
  if (!result.ok()) unlink(path.c_str());
  return result;
}

absl::Status DeleteNetns(const std::string& path) {
  if (umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    return Errno(absl::StrCat("unmount ", path));
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) return Errno(absl::StrCat("remove ", path));
  return absl::OkStatus();
}

absl::Status InNetns(const std::string& path, const std::function<absl::Status()>& fn) {
  if (path.empty()) return fn();
  absl::Status result;
  std::thread worker([&] {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      result = Errno(absl::StrCat("open network namespace ", path));
      return;
    }
    // Only this thread moves; it ends right after.
    if (setns(fd, CLONE_NEWNET) != 0) {
      result = Errno(absl::StrCat("join network namespace ", path));
      close(fd);
      return;
    }
    close(fd);
    result = fn();
  });
  worker.join();
  return result;
}

}  // namespace gantry::agent
