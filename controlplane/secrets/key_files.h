#pragma once

// The key-encryption key on disk, and its rotation. PATH holds the current
// key. A rotation first writes the new key to PATH.next (0600), then
// re-wraps every data key with it (SecretRegistry::Rewrap), then replaces
// PATH with it and removes PATH.next; so a crash at any point loses no key
// that something is sealed with: the next start finds PATH.next and
// finishes the rotation (FinishPendingRotation).
//
// Not thread-safe: one rotation at a time (SecretsApi serializes them).

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "controlplane/secrets/envelope.h"
#include "controlplane/secrets/secret_registry.h"

namespace gantry::secrets {

class KeyFiles {
 public:
  explicit KeyFiles(std::string path) : path_(std::move(path)) {}

  // The current key; created (0600) when `create` and PATH does not exist.
  absl::StatusOr<KeyEncryptionKey> LoadCurrent(bool create) const;
  // The key of a rotation that did not finish, if any.
  absl::StatusOr<std::optional<KeyEncryptionKey>> LoadPending() const;
  // A new key, kept in PATH.next before anything is sealed with it.
  absl::StatusOr<KeyEncryptionKey> BeginRotation() const;
  // PATH becomes `next`; PATH.next goes.
  absl::Status FinishRotation(const KeyEncryptionKey& next) const;

  const std::string& path() const { return path_; }

 private:
  std::string next_path() const { return path_ + ".next"; }
  const std::string path_;
};

struct Rotation {
  std::string old_key_id;
  std::string new_key_id;
  int rewrapped = 0;
};

// A whole rotation: a new key (kept in `files` when given; null keeps keys
// in memory only), every data key re-wrapped, the old key dropped.
absl::StatusOr<Rotation> RotateKey(SecretRegistry& registry, const KeyFiles* files);
// Finishes a rotation a crash interrupted; nothing when none is pending.
absl::Status FinishPendingRotation(SecretRegistry& registry, const KeyFiles& files);

}  // namespace gantry::secrets
