#include "controlplane/audit/audit_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "controlplane/audit/audit_json.h"

namespace gantry::audit {
namespace {

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::InternalError(absl::StrCat("audit log ", path, ": ", what, ": ", strerror(errno)));
}

std::string Numbered(const std::string& path, int n) { return absl::StrCat(path, ".", n); }

}  // namespace

absl::StatusOr<std::unique_ptr<AuditFile>> AuditFile::Open(const Options& options) {
  if (options.path.empty()) return absl::InvalidArgumentError("the audit log needs a path");
  if (options.max_bytes < 4096 || options.max_files < 1) {
    return absl::InvalidArgumentError(
        "the audit log must be allowed at least 4 KiB per file and one rotated copy");
  }
  std::unique_ptr<AuditFile> file(new AuditFile(options));
  if (auto st = file->OpenCurrent(); !st.ok()) return st;
  return file;
}

AuditFile::~AuditFile() {
  if (fd_ >= 0) close(fd_);
}

absl::Status AuditFile::OpenCurrent() {
  fd_ = open(options_.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0) return Errno("cannot open", options_.path);
  // A file left by someone else, or before this rule: nobody else reads it.
  struct stat st {};
  if (fchmod(fd_, 0600) != 0 || fstat(fd_, &st) != 0) return Errno("cannot secure", options_.path);
  size_ = st.st_size;
  return absl::OkStatus();
}

absl::Status AuditFile::Rotate() {
  close(fd_);
  fd_ = -1;
  for (int n = options_.max_files - 1; n >= 1; --n) {
    const std::string from = Numbered(options_.path, n);
    if (rename(from.c_str(), Numbered(options_.path, n + 1).c_str()) != 0 && errno != ENOENT) {
      return Errno("cannot rotate", from);
    }
  }
  if (rename(options_.path.c_str(), Numbered(options_.path, 1).c_str()) != 0 && errno != ENOENT) {
    return Errno("cannot rotate", options_.path);
  }
  return OpenCurrent();
}

absl::Status AuditFile::Write(const Entry& entry) {
  if (fd_ < 0) {
    if (auto st = OpenCurrent(); !st.ok()) return st;
  }
  const std::string line = ToJsonLine(entry) + "\n";
  if (size_ > 0 && size_ + static_cast<int64_t>(line.size()) > options_.max_bytes) {
    if (auto st = Rotate(); !st.ok()) return st;
  }
  const ssize_t n = write(fd_, line.data(), line.size());
  if (n < 0) return Errno("cannot write", options_.path);
  size_ += n;
  if (static_cast<size_t>(n) != line.size()) {
    return absl::InternalError(
        absl::StrCat("audit log ", options_.path, ": short write (is the disk full?)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Entry>> AuditFile::ReadTail(const std::string& path, size_t max_entries,
                                                       int64_t max_bytes) {
  std::vector<Entry> out;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return out;
    return Errno("cannot open", path);
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    close(fd);
    return Errno("cannot read", path);
  }
  const int64_t start = st.st_size > max_bytes ? st.st_size - max_bytes : 0;
  std::string data(static_cast<size_t>(st.st_size - start), '\0');
  size_t got = 0;
  while (got < data.size()) {
    const ssize_t n = pread(fd, data.data() + got, data.size() - got, start + got);
    if (n <= 0) break;
    got += n;
  }
  close(fd);
  data.resize(got);
  absl::string_view text(data);
  // Starting mid-file: the first line is a fragment.
  if (start > 0) {
    const size_t newline = text.find('\n');
    text.remove_prefix(newline == absl::string_view::npos ? text.size() : newline + 1);
  }
  std::deque<Entry> kept;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    auto entry = FromJsonLine(line);
    if (!entry.ok()) continue;
    kept.push_back(*std::move(entry));
    if (kept.size() > max_entries) kept.pop_front();
  }
  out.assign(std::make_move_iterator(kept.begin()), std::make_move_iterator(kept.end()));
  return out;
}

}  // namespace gantry::audit
