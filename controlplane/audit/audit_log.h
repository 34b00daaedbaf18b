#pragma once

// The audit log: who did what to which object, from where, and how it
// ended. The API edge (api/audit_trail.h) records every mutating call,
// every log read, every join, certificate renewal and agent registration,
// and every refused call; nothing else writes here.
//
// An entry never holds a token's or a secret's value: identities are named
// by description, accessor or node name, objects by kind and name, and
// refusals by the control plane's own messages, which never repeat
// credentials.
//
// Each entry goes to the sink (the JSON-lines file, audit_file.h) and to a
// bounded in-memory window that `gantryctl audit` reads; the window is
// primed at start from the file's tail, so a restart keeps recent history.
//
// Thread-safe.

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace gantry::audit {

struct Entry {
  absl::Time time;
  // "token", "certificate", "node", "join-token", or "anonymous" when the
  // caller could not be authenticated.
  std::string identity_kind;
  std::string identity;  // description, common name, node name or join token id
  std::string accessor;  // operator tokens only
  std::string role;      // operators only
  std::string peer;      // "10.0.0.5:51234"
  std::string method;    // "ScaleService", "Join", "Connect"
  std::string object;    // "services/web"; several separated by ", "
  std::string outcome;   // "OK" or the status code's name
  std::string message;   // why it was refused or failed; empty when OK

  bool operator==(const Entry&) const = default;
};

struct Query {
  absl::Time since = absl::InfinitePast();
  // Matches the identity's name or its accessor exactly; empty: everyone.
  std::string identity;
  // The newest `limit` matching entries, oldest first.
  size_t limit = 1000;
};

// Where entries are kept for shipping elsewhere.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual absl::Status Write(const Entry& entry) = 0;
};

class AuditLog {
 public:
  static constexpr size_t kDefaultWindow = 10000;

  // `sink` may be null (entries are then kept in memory only). `recovered`
  // are earlier entries, oldest first, to prime the window with.
  AuditLog(const Clock* clock, std::unique_ptr<Sink> sink, size_t window = kDefaultWindow,
           std::vector<Entry> recovered = {});

  // Stamps the entry with the clock's time and keeps it. A sink that fails
  // is logged (once until it works again); the call it records goes on.
  void Record(Entry entry);
  std::vector<Entry> Find(const Query& query) const;

 private:
  const Clock* const clock_;
  const size_t window_;
  mutable std::mutex mu_;
  std::unique_ptr<Sink> sink_ ABSL_GUARDED_BY(mu_);
  std::deque<Entry> recent_ ABSL_GUARDED_BY(mu_);
  bool sink_failing_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace gantry::audit
