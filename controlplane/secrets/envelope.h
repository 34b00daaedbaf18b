#pragma once

// Envelope encryption for secret values, as cloud KMSes do it: every value
// is sealed with a data key of its own (AES-256-GCM, random 96-bit nonce),
// and that data key is stored only wrapped (AES-256-GCM too) by the
// key-encryption key, which lives outside the store (DATA_DIR/pki/
// secrets.key, 0600). The store never holds a plaintext value or an
// unwrapped key; a sealed value is bound to its name and version (the
// additional authenticated data), so a record copied to another secret or
// version does not open.
//
// Thread safety: a KeyEncryptionKey is immutable after construction.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gantry::secrets {

// The key-encryption key: 32 random bytes and an id (the first 8 hex digits
// of their SHA-256), so a record names the key that wrapped it.
class KeyEncryptionKey {
 public:
  static absl::StatusOr<KeyEncryptionKey> Generate();
  // The file's 32 raw bytes; errors name the file (and a key file that
  // others can read is refused).
  static absl::StatusOr<KeyEncryptionKey> Load(const std::string& path);
  // Loads `path`, or creates it (0600) when it does not exist.
  static absl::StatusOr<KeyEncryptionKey> LoadOrCreate(const std::string& path);

  const std::string& id() const { return id_; }
  const std::string& bytes() const { return bytes_; }

 private:
  KeyEncryptionKey(std::string bytes);
  std::string bytes_;
  std::string id_;
};

struct Sealed {
  std::string kek_id;       // which key-encryption key wrapped the data key
  std::string wrapped_key;  // nonce | ciphertext | tag of the data key
  std::string ciphertext;   // nonce | ciphertext | tag of the value
};

// `context` is authenticated, not encrypted: the secret's name and version.
absl::StatusOr<Sealed> Seal(const KeyEncryptionKey& kek, absl::string_view plaintext,
                            absl::string_view context);
// Fails closed: a wrong key, another context or any changed byte is an
// error, never garbage.
absl::StatusOr<std::string> Open(const KeyEncryptionKey& kek, const Sealed& sealed,
                                 absl::string_view context);
// The same data key wrapped by `to` instead of `from` (key rotation); the
// value's ciphertext does not change.
absl::StatusOr<Sealed> Rewrap(const KeyEncryptionKey& from, const KeyEncryptionKey& to,
                              const Sealed& sealed, absl::string_view context);

}  // namespace gantry::secrets
