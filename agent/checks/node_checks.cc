#include "agent/checks/node_checks.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/quantity.h"

namespace gantry::agent {

namespace {

std::string Percent(double fraction) { return absl::StrFormat("%.0f%%", fraction * 100); }

gantry::v1::NodeCheck Check(const std::string& name, const std::vector<std::string>& problems,
                            const std::string& ok_message) {
  gantry::v1::NodeCheck c;
  c.set_name(name);
  c.set_passed(problems.empty());
  c.set_message(problems.empty() ? ok_message : absl::StrJoin(problems, "; "));
  return c;
}

}  // namespace

std::vector<gantry::v1::NodeCheck> JudgeChecks(const CheckReadings& r, const CheckThresholds& t) {
  std::vector<std::string> instance;
  if (!r.runtime_error.empty()) instance.push_back(r.runtime_error);
  if (r.memory_total > 0) {
    const double available = static_cast<double>(r.memory_available) / r.memory_total;
    if (available < t.min_memory_available) {
      instance.push_back(absl::StrCat("memory pressure: ", FormatMemory(r.memory_available),
                                      " available (", Percent(available), ", below ",
                                      Percent(t.min_memory_available), ")"));
    }
  }
  if (r.pid_max > 0) {
    const double used = static_cast<double>(r.pids) / r.pid_max;
    if (used > t.max_pid_usage) {
      instance.push_back(absl::StrCat("PID pressure: ", r.pids, " of ", r.pid_max,
                                      " process ids in use (above ", Percent(t.max_pid_usage),
                                      ")"));
    }
  }
  if (!r.data_dir_error.empty()) instance.push_back(r.data_dir_error);
  if (!r.network_error.empty()) instance.push_back(r.network_error);

  std::vector<std::string> storage;
  if (!r.storage_error.empty()) {
    storage.push_back(r.storage_error);
  } else {
    if (r.disk_total > 0) {
      const double free = static_cast<double>(r.disk_free) / r.disk_total;
      if (free < t.min_disk_free) {
        storage.push_back(absl::StrCat(r.storage_path, ": ", FormatMemory(r.disk_free), " free (",
                                       Percent(free), ", below ", Percent(t.min_disk_free), ")"));
      }
    }
    if (r.inodes_total > 0) {
      const double free = static_cast<double>(r.inodes_free) / r.inodes_total;
      if (free < t.min_inodes_free) {
        storage.push_back(absl::StrCat(r.storage_path, ": ", r.inodes_free, " inodes free (",
                                       Percent(free), ", below ", Percent(t.min_inodes_free), ")"));
      }
    }
  }
  return {Check("instance", instance, "containerd answers; no memory or PID pressure"),
          Check("storage", storage,
                absl::StrCat(r.storage_path, ": ", FormatMemory(r.disk_free), " free"))};
}

absl::StatusOr<std::string> StorageLocator::Path() {
  if (!configured_.empty()) return configured_;
  auto root = runtime_->StorageRoot();
  if (root.ok()) {
    last_known_ = *root;
    return root;
  }
  if (!last_known_.empty()) return last_known_;
  return absl::UnavailableError(
      absl::StrCat("cannot ask the container runtime where it keeps container storage (",
                   root.status().message(), "); give the path with --container-storage"));
}

CheckReadings ReadChecks(ContainerRuntime* runtime, const std::string& data_dir,
                         const absl::StatusOr<std::string>& storage) {
  CheckReadings r;
  if (auto st = runtime->Ping(); !st.ok()) r.runtime_error = std::string(st.message());
  {
    std::ifstream in("/proc/meminfo");
    std::string key;
    int64_t kb = 0;
    std::string unit;
    while (in >> key >> kb >> unit) {
      if (key == "MemTotal:") r.memory_total = kb * 1024;
      if (key == "MemAvailable:") r.memory_available = kb * 1024;
    }
  }
  {
    std::ifstream in("/proc/sys/kernel/pid_max");
    in >> r.pid_max;
    std::ifstream loadavg("/proc/loadavg");
    std::string a, b, c, procs;
    loadavg >> a >> b >> c >> procs;  // "running/total"
    const size_t slash = procs.find('/');
    if (slash != std::string::npos) (void)absl::SimpleAtoi(procs.substr(slash + 1), &r.pids);
  }
  {
    std::error_code ec;
    std::filesystem::create_directories(data_dir, ec);
    const std::string probe = (std::filesystem::path(data_dir) / ".write-check").string();
    const int fd = open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, "ok", 2) != 2 || fsync(fd) != 0) {
      r.data_dir_error =
          absl::StrCat("data dir ", data_dir, " is not writable: ", std::strerror(errno));
    }
    if (fd >= 0) close(fd);
    unlink(probe.c_str());
  }
  if (!storage.ok()) {
    r.storage_error = std::string(storage.status().message());
    return r;
  }
  const std::string& storage_path = *storage;
  r.storage_path = storage_path;
  struct statvfs vfs {};
  if (statvfs(storage_path.c_str(), &vfs) != 0) {
    r.storage_error = absl::StrCat("container storage ", storage_path, ": ", std::strerror(errno));
  } else {
    r.disk_total = static_cast<int64_t>(vfs.f_blocks) * vfs.f_frsize;
    r.disk_free = static_cast<int64_t>(vfs.f_bavail) * vfs.f_frsize;
    r.inodes_total = static_cast<int64_t>(vfs.f_files);
    r.inodes_free = static_cast<int64_t>(vfs.f_favail);
  }
  return r;
}

}  // namespace gantry::agent
