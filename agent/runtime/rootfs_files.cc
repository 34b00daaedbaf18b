#include "agent/runtime/rootfs_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace gantry::agent {

absl::StatusOr<std::vector<std::string>> RootfsLayers(const std::vector<RootMount>& mounts) {
  if (mounts.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("the snapshot has ", mounts.size(), " mounts; expected one"));
  }
  const RootMount& m = mounts[0];
  if (m.type == "bind" || m.type == "rbind") return std::vector<std::string>{m.source};
  if (m.type != "overlay") {
    return absl::InvalidArgumentError(
        absl::StrCat("snapshot mount type \"", m.type, "\" is not supported (overlay or bind)"));
  }
  std::vector<std::string> layers;
  std::vector<std::string> lower;
  for (const std::string& o : m.options) {
    if (absl::StartsWith(o, "upperdir=")) layers.insert(layers.begin(), o.substr(9));
    if (absl::StartsWith(o, "lowerdir=")) lower = absl::StrSplit(o.substr(9), ':');
  }
  layers.insert(layers.end(), lower.begin(), lower.end());
  if (layers.empty()) return absl::InvalidArgumentError("the overlay mount names no directories");
  return layers;
}

namespace {

bool IsWhiteout(const struct stat& st) {
  return S_ISCHR(st.st_mode) && major(st.st_rdev) == 0 && minor(st.st_rdev) == 0;
}

bool IsOpaque(const std::string& dir) {
  char value[2] = {0, 0};
  ssize_t n = lgetxattr(dir.c_str(), "trusted.overlay.opaque", value, sizeof(value));
  return n == 1 && value[0] == 'y';
}

// What one layer says about the file.
enum class Found { kAbsent, kHidden, kFile };

struct LayerLookup {
  Found found = Found::kAbsent;
  std::string full_path;
  // A directory on the way is opaque: lower layers do not count.
  bool stop = false;
};

absl::StatusOr<LayerLookup> LookUp(const std::string& layer,
                                   const std::vector<std::string>& parts) {
  LayerLookup out;
  std::string at = layer;
  for (size_t i = 0; i < parts.size(); ++i) {
    at = absl::StrCat(at, "/", parts[i]);
    struct stat st {};
    if (lstat(at.c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return out;
      return absl::InternalError(absl::StrCat("cannot read ", at, ": ", std::strerror(errno)));
    }
    if (IsWhiteout(st)) {
      out.found = Found::kHidden;
      return out;
    }
    if (S_ISLNK(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat("/", absl::StrJoin(parts.begin(), parts.begin() + i + 1, "/"),
                       " in the image is a symbolic link; Gantry does not follow links when it "
                       "reads the image's users"));
    }
    const bool last = i + 1 == parts.size();
    if (!last) {
      if (!S_ISDIR(st.st_mode)) return out;
      if (IsOpaque(at)) out.stop = true;
      continue;
    }
    if (!S_ISREG(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat("/", absl::StrJoin(parts, "/"), " in the image is not a regular file"));
    }
    out.found = Found::kFile;
    out.full_path = at;
  }
  return out;
}

absl::StatusOr<std::string> ReadBounded(const std::string& path, const std::string& shown) {
  int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return absl::InternalError(absl::StrCat("cannot open ", shown, ": ", std::strerror(errno)));
  std::string data;
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return absl::InternalError(absl::StrCat("cannot read ", shown, ": ", std::strerror(err)));
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > kMaxRootfsFileBytes) {
      close(fd);
      return absl::FailedPreconditionError(
          absl::StrCat(shown, " in the image is larger than ", kMaxRootfsFileBytes, " bytes"));
    }
  }
  close(fd);
  return data;
}

}  // namespace

absl::StatusOr<std::optional<std::string>> ReadRootfsFile(const std::vector<std::string>& layers,
                                                          const std::string& path) {
  std::vector<std::string> parts = absl::StrSplit(path, '/', absl::SkipEmpty());
  for (const std::string& p : parts) {
    if (p == "." || p == "..") {
      return absl::InvalidArgumentError(absl::StrCat("path \"", path, "\" is not plain"));
    }
  }
  if (parts.empty()) return absl::InvalidArgumentError("empty path");
  for (const std::string& layer : layers) {
    auto found = LookUp(layer, parts);
    if (!found.ok()) return found.status();
    if (found->found == Found::kHidden) return std::optional<std::string>();
    if (found->found == Found::kFile) {
      auto data = ReadBounded(found->full_path, absl::StrCat("/", path));
      if (!data.ok()) return data.status();
      return std::optional<std::string>(std::move(*data));
    }
    if (found->stop) break;
  }
  return std::optional<std::string>();
}

}  // namespace gantry::agent
