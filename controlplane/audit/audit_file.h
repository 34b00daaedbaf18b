#pragma once

// The audit log on disk: one JSON object per line (audit_json.h), appended
// to a file created 0600, rotated by size like logrotate's copies:
// audit.log -> audit.log.1 -> ... -> audit.log.N, the oldest dropped. Lines
// are written with one write(2) each, so a reader (a log shipper tailing the
// file) never sees half an entry from a live process; they are not synced,
// as with Kubernetes' file backend: a crash can lose the last entries the
// kernel had not written.
//
// Not thread-safe: AuditLog serializes Write.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controlplane/audit/audit_log.h"

namespace gantry::audit {

class AuditFile final : public Sink {
 public:
  struct Options {
    std::string path;
    int64_t max_bytes = int64_t{100} << 20;  // rotate past this size
    int max_files = 5;                       // rotated copies kept
  };

  // Opens (or creates, 0600) the file; an existing file is set to 0600.
  // Errors name the path.
  static absl::StatusOr<std::unique_ptr<AuditFile>> Open(const Options& options);
  ~AuditFile() override;

  absl::Status Write(const Entry& entry) override;

  // The last `max_entries` entries of the file at `path`, oldest first, read
  // from at most its last `max_bytes`; lines that do not parse are skipped.
  // An absent file has none.
  static absl::StatusOr<std::vector<Entry>> ReadTail(const std::string& path, size_t max_entries,
                                                     int64_t max_bytes = int64_t{8} << 20);

 private:
  explicit AuditFile(Options options) : options_(std::move(options)) {}
  absl::Status OpenCurrent();
  absl::Status Rotate();

  const Options options_;
  int fd_ = -1;
  int64_t size_ = 0;
};

}  // namespace gantry::audit
