#include "controlplane/secrets/key_files.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/log.h"

namespace gantry::secrets {

absl::StatusOr<KeyEncryptionKey> KeyFiles::LoadCurrent(bool create) const {
  return create ? KeyEncryptionKey::LoadOrCreate(path_) : KeyEncryptionKey::Load(path_);
}

absl::StatusOr<std::optional<KeyEncryptionKey>> KeyFiles::LoadPending() const {
  auto next = KeyEncryptionKey::Load(next_path());
  if (absl::IsNotFound(next.status())) return std::optional<KeyEncryptionKey>();
  if (!next.ok()) return next.status();
  return std::optional<KeyEncryptionKey>(*std::move(next));
}

absl::StatusOr<KeyEncryptionKey> KeyFiles::BeginRotation() const {
  auto next = KeyEncryptionKey::Generate();
  if (!next.ok()) return next.status();
  if (auto st = WriteFileAtomically(next_path(), next->bytes(), 0600); !st.ok()) return st;
  return next;
}

absl::Status KeyFiles::FinishRotation(const KeyEncryptionKey& next) const {
  if (auto st = WriteFileAtomically(path_, next.bytes(), 0600); !st.ok()) return st;
  if (std::remove(next_path().c_str()) != 0) {
    spdlog::warn("secrets: could not remove {} after the rotation; it holds the current key",
                 next_path());
  }
  return absl::OkStatus();
}

absl::StatusOr<Rotation> RotateKey(SecretRegistry& registry, const KeyFiles* files) {
  Rotation out;
  out.old_key_id = registry.current_key_id();
  auto next = files != nullptr ? files->BeginRotation() : KeyEncryptionKey::Generate();
  if (!next.ok()) return next.status();
  out.new_key_id = next->id();
  auto rewrapped = registry.Rewrap(*next);
  if (!rewrapped.ok()) return rewrapped.status();
  out.rewrapped = *rewrapped;
  if (files != nullptr) {
    if (auto st = files->FinishRotation(*next); !st.ok()) return st;
  }
  registry.ForgetOtherKeys();
  spdlog::info("secrets: key-encryption key {} replaced by {}", out.old_key_id, out.new_key_id);
  return out;
}

absl::Status FinishPendingRotation(SecretRegistry& registry, const KeyFiles& files) {
  auto pending = files.LoadPending();
  if (!pending.ok()) return pending.status();
  if (!pending->has_value()) return absl::OkStatus();
  spdlog::warn("secrets: finishing the rotation to key-encryption key {} that was interrupted",
               (*pending)->id());
  auto rewrapped = registry.Rewrap(**pending);
  if (!rewrapped.ok()) return rewrapped.status();
  if (auto st = files.FinishRotation(**pending); !st.ok()) return st;
  registry.ForgetOtherKeys();
  return absl::OkStatus();
}

}  // namespace gantry::secrets
