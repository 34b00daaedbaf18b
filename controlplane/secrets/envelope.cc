#include "controlplane/secrets/envelope.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <sys/stat.h>

#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/files.h"

namespace gantry::secrets {
namespace {

constexpr size_t kKeyBytes = 32;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

absl::StatusOr<std::string> Random(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    return absl::InternalError("the system's random number generator failed");
  }
  return out;
}

const unsigned char* U(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// nonce | ciphertext | tag
absl::StatusOr<std::string> Encrypt(absl::string_view key, absl::string_view plaintext,
                                    absl::string_view aad) {
  auto nonce = Random(kNonceBytes);
  if (!nonce.ok()) return nonce.status();
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  std::string out = *nonce;
  out.resize(kNonceBytes + plaintext.size() + kTagBytes);
  auto* body = reinterpret_cast<unsigned char*>(out.data()) + kNonceBytes;
  int len = 0;
  int total = 0;
  const bool ok =
      ctx && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, U(key), U(*nonce)) == 1 &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, U(aad), static_cast<int>(aad.size())) == 1 &&
      EVP_EncryptUpdate(ctx.get(), body, &len, U(plaintext), static_cast<int>(plaintext.size())) ==
          1 &&
      (total = len, EVP_EncryptFinal_ex(ctx.get(), body + total, &len) == 1) &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, body + plaintext.size()) == 1;
  if (!ok) return absl::InternalError("AES-256-GCM encryption failed");
  return out;
}

absl::StatusOr<std::string> Decrypt(absl::string_view key, absl::string_view sealed,
                                    absl::string_view aad) {
  if (sealed.size() < kNonceBytes + kTagBytes) {
    return absl::DataLossError("a sealed value is too short: the record is damaged");
  }
  const absl::string_view nonce = sealed.substr(0, kNonceBytes);
  const absl::string_view body =
      sealed.substr(kNonceBytes, sealed.size() - kNonceBytes - kTagBytes);
  std::string tag(sealed.substr(sealed.size() - kTagBytes));
  std::string out(body.size(), '\0');
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  const bool ok =
      ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, U(key), U(nonce)) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, U(aad), static_cast<int>(aad.size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, U(body),
                        static_cast<int>(body.size())) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) == 1 &&
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &len) == 1;
  if (!ok) {
    OPENSSL_cleanse(out.data(), out.size());
    return absl::PermissionDeniedError(
        "a sealed value does not open: another key, another secret or version, or a damaged "
        "record");
  }
  return out;
}

// What the data key's wrapping authenticates: the value's context and the
// key's id.
std::string WrapContext(absl::string_view context, absl::string_view kek_id) {
  return absl::StrCat("gantry data key|", kek_id, "|", context);
}

}  // namespace

KeyEncryptionKey::KeyEncryptionKey(std::string bytes) : bytes_(std::move(bytes)) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(U(bytes_), bytes_.size(), digest);
  id_ = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)).substr(0, 4));
}

absl::StatusOr<KeyEncryptionKey> KeyEncryptionKey::Generate() {
  auto bytes = Random(kKeyBytes);
  if (!bytes.ok()) return bytes.status();
  return KeyEncryptionKey(*std::move(bytes));
}

absl::StatusOr<KeyEncryptionKey> KeyEncryptionKey::Load(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat(path, ": the secrets key is readable by others (mode ",
                     absl::StrFormat("%03o", st.st_mode & 0777), "): chmod 600 it"));
  }
  auto bytes = ReadWholeFile(path);
  if (!bytes.ok()) return bytes.status();
  if (bytes->size() != kKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": a secrets key is ", kKeyBytes,
                                                   " bytes, this file has ", bytes->size()));
  }
  return KeyEncryptionKey(*std::move(bytes));
}

absl::StatusOr<KeyEncryptionKey> KeyEncryptionKey::LoadOrCreate(const std::string& path) {
  auto loaded = Load(path);
  if (!absl::IsNotFound(loaded.status())) return loaded;
  auto made = Generate();
  if (!made.ok()) return made.status();
  if (auto st = WriteFileAtomically(path, made->bytes(), 0600); !st.ok()) return st;
  return made;
}

absl::StatusOr<Sealed> Seal(const KeyEncryptionKey& kek, absl::string_view plaintext,
                            absl::string_view context) {
  auto data_key = Random(kKeyBytes);
  if (!data_key.ok()) return data_key.status();
  Sealed out;
  out.kek_id = kek.id();
  auto ciphertext = Encrypt(*data_key, plaintext, context);
  auto wrapped = Encrypt(kek.bytes(), *data_key, WrapContext(context, kek.id()));
  OPENSSL_cleanse(data_key->data(), data_key->size());
  if (!ciphertext.ok()) return ciphertext.status();
  if (!wrapped.ok()) return wrapped.status();
  out.ciphertext = *std::move(ciphertext);
  out.wrapped_key = *std::move(wrapped);
  return out;
}

absl::StatusOr<std::string> Open(const KeyEncryptionKey& kek, const Sealed& sealed,
                                 absl::string_view context) {
  if (sealed.kek_id != kek.id()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the value was sealed under secrets key ", sealed.kek_id, ", not this control plane's ",
        kek.id(), ": give every replica the same --secrets-key-file"));
  }
  auto data_key = Decrypt(kek.bytes(), sealed.wrapped_key, WrapContext(context, kek.id()));
  if (!data_key.ok()) return data_key.status();
  auto plaintext = Decrypt(*data_key, sealed.ciphertext, context);
  OPENSSL_cleanse(data_key->data(), data_key->size());
  return plaintext;
}

absl::StatusOr<Sealed> Rewrap(const KeyEncryptionKey& from, const KeyEncryptionKey& to,
                              const Sealed& sealed, absl::string_view context) {
  if (sealed.kek_id != from.id()) {
    return absl::FailedPreconditionError(absl::StrCat("the value was sealed under secrets key ",
                                                      sealed.kek_id, ", not ", from.id()));
  }
  auto data_key = Decrypt(from.bytes(), sealed.wrapped_key, WrapContext(context, from.id()));
  if (!data_key.ok()) return data_key.status();
  auto wrapped = Encrypt(to.bytes(), *data_key, WrapContext(context, to.id()));
  OPENSSL_cleanse(data_key->data(), data_key->size());
  if (!wrapped.ok()) return wrapped.status();
  return Sealed{to.id(), *std::move(wrapped), sealed.ciphertext};
}

}  // namespace gantry::secrets
