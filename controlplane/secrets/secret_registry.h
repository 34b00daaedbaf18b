#pragma once

// The control plane's secrets, kept in the Store under /secrets/NAME as
// gantry.v1.StoredSecret: metadata and every kept version sealed by the
// envelope (envelope.h), so the store never holds a value in the clear. An
// in-memory cache of the sealed records, kept current by a watch, answers
// reads on every replica.
//
// Versions: a write adds version current+1. Old versions are pruned when a
// write finds more than kKeptVersions, except those `in_use` names (what a
// service's deployments pin, so a rollback still gets its value).
//
// Values leave only through Reveal(), which callers gate on the caller's
// permission (an admin's `secret get --reveal`) or the task's node
// (task_secrets.h). Nothing here logs a value.
//
// Keys: new versions are sealed with the current key-encryption key;
// versions sealed by another key the registry holds still open. Rewrap()
// makes a new key current and re-wraps every version's data key with it
// (values untouched), after which the old key can go (key_files.h).
//
// Thread-safe.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "controlplane/secrets/envelope.h"
#include "controlplane/secrets/secret_catalog.h"
#include "controlplane/store/store.h"
#include "gantry/v1/types.pb.h"

namespace gantry::secrets {

inline constexpr char kSecretPrefix[] = "/secrets/";
inline constexpr int kKeptVersions = 10;

class SecretRegistry final : public SecretCatalog {
 public:
  // Versions a service's deployments pin, never pruned.
  using InUse = std::function<std::set<int64_t>(const std::string& name)>;

  SecretRegistry(store::Store* store, KeyEncryptionKey kek, const Clock* clock);
  ~SecretRegistry() override;

  // Loads and starts following the store. Call once, before use.
  absl::Status Start();
  // Set before writes; without it only the newest kKeptVersions stay.
  void SetInUse(InUse in_use) { in_use_ = std::move(in_use); }

  // A new secret (version 1). AlreadyExists if the name is taken;
  // InvalidArgument for a bad name or a value that is empty or larger
  // than spec::kMaxSecretBytes.
  absl::StatusOr<gantry::v1::Secret> Create(const std::string& name, const std::string& value,
                                            const std::string& created_by);
  // The next version. NotFound if there is no such secret.
  absl::StatusOr<gantry::v1::Secret> Update(const std::string& name, const std::string& value,
                                            const std::string& created_by);
  // The secret as it was. NotFound if there is no such secret.
  absl::StatusOr<gantry::v1::Secret> Delete(const std::string& name);

  // Metadata only.
  std::optional<gantry::v1::Secret> Get(const std::string& name) const;
  std::vector<gantry::v1::Secret> List() const;

  // The value of `version` (0: the current one), and which version it is.
  // NotFound for a missing secret or version; FailedPrecondition when
  // another key-encryption key sealed it; DataLoss when it does not open.
  struct Revealed {
    int64_t version = 0;
    std::string value;
  };
  absl::StatusOr<Revealed> Reveal(const std::string& name, int64_t version) const;

  // Makes `next` the current key and re-wraps every version sealed by any
  // other key with it; returns how many were re-wrapped. The old keys stay
  // readable (ForgetOtherKeys drops them once the new key is safely kept).
  // FailedPrecondition when a version's key is not held.
  absl::StatusOr<int> Rewrap(KeyEncryptionKey next);
  void ForgetOtherKeys();
  std::string current_key_id() const;

  // SecretCatalog.
  int64_t CurrentVersion(const std::string& name) const override;
  bool HasVersion(const std::string& name, int64_t version) const override;
  std::vector<std::string> Names() const override;

 private:
  absl::StatusOr<gantry::v1::Secret> Write(const std::string& name, const std::string& value,
                                           const std::string& created_by, bool create);
  void Apply(const std::string& name, const store::Event& event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Prune(gantry::v1::StoredSecret& stored) const;

  // The current key, and every key that opens something (by id).
  std::shared_ptr<const KeyEncryptionKey> Current() const;
  std::shared_ptr<const KeyEncryptionKey> KeyFor(const std::string& id) const;
  absl::StatusOr<bool> RewrapOne(const std::string& name, const KeyEncryptionKey& next, int& count);

  store::Store* const store_;
  const Clock* const clock_;
  mutable std::mutex keys_mu_;
  std::shared_ptr<const KeyEncryptionKey> current_ ABSL_GUARDED_BY(keys_mu_);
  std::map<std::string, std::shared_ptr<const KeyEncryptionKey>> keys_ ABSL_GUARDED_BY(keys_mu_);
  InUse in_use_;
  std::unique_ptr<store::WatchHandle> watch_;
  mutable std::mutex mu_;
  std::map<std::string, gantry::v1::StoredSecret> secrets_ ABSL_GUARDED_BY(mu_);
};

// What a sealed version is bound to: its secret's name and its number.
std::string SealContext(const std::string& name, int64_t version);

}  // namespace gantry::secrets
