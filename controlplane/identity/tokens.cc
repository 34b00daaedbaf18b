#include "controlplane/identity/tokens.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace gantry::identity {
namespace {

constexpr char kOperatorPrefix[] = "gantry_";
constexpr char kJoinPrefix[] = "gantry-join_";
constexpr size_t kIdBytes = 6;
constexpr size_t kSecretBytes = 32;
constexpr size_t kSha256Bytes = 32;

absl::string_view PrefixOf(TokenKind kind) {
  return kind == TokenKind::kOperator ? kOperatorPrefix : kJoinPrefix;
}

absl::StatusOr<std::string> RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    return absl::InternalError(
        "the system's random number generator failed; cannot make a token (check that "
        "/dev/urandom is readable)");
  }
  return absl::BytesToHexString(raw);
}

bool IsLowerHex(absl::string_view s, size_t length) {
  if (s.size() != length) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Never repeats the input: it may be a secret pasted in the wrong place.
absl::Status Malformed(TokenKind kind, absl::string_view hint) {
  const std::string what = kind == TokenKind::kOperator
                               ? "not a Gantry token (expected gantry_<accessor>_<secret>)"
                               : "not a join token (expected gantry-join_<id>_<secret>)";
  return absl::InvalidArgumentError(hint.empty() ? what : absl::StrCat(what, ": ", hint));
}

}  // namespace

absl::StatusOr<NewToken> MakeToken(TokenKind kind) {
  auto id = RandomHex(kIdBytes);
  if (!id.ok()) return id.status();
  auto secret = RandomHex(kSecretBytes);
  if (!secret.ok()) return secret.status();
  NewToken out;
  out.token = absl::StrCat(PrefixOf(kind), *id, "_", *secret);
  out.id = std::move(*id);
  out.secret_sha256 = HashSecret(*secret);
  return out;
}

absl::StatusOr<ParsedToken> ParseToken(const std::string& token, TokenKind kind) {
  absl::string_view rest(token);
  if (!absl::ConsumePrefix(&rest, PrefixOf(kind))) {
    if (kind == TokenKind::kOperator && absl::StartsWith(token, kJoinPrefix)) {
      return Malformed(kind, "this is a join token, which only an agent joining can use");
    }
    if (kind == TokenKind::kJoin && absl::StartsWith(token, kOperatorPrefix)) {
      return Malformed(kind, "this is an operator token");
    }
    return Malformed(kind, "");
  }
  const size_t sep = rest.find('_');
  if (sep == absl::string_view::npos) return Malformed(kind, "");
  const absl::string_view id = rest.substr(0, sep);
  const absl::string_view secret = rest.substr(sep + 1);
  if (!IsLowerHex(id, 2 * kIdBytes) || !IsLowerHex(secret, 2 * kSecretBytes)) {
    return Malformed(kind, "wrong length or characters; copy the whole token again");
  }
  ParsedToken out;
  out.kind = kind;
  out.id = std::string(id);
  out.secret = std::string(secret);
  return out;
}

std::string HashSecret(const std::string& secret) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(secret.data(), secret.size(), digest, &length, EVP_sha256(), nullptr) != 1 ||
      length != kSha256Bytes) {
    // Only on a broken OpenSSL; an empty hash matches nothing.
    return "";
  }
  return std::string(reinterpret_cast<const char*>(digest), length);
}

bool SecretMatches(const std::string& stored_sha256, const std::string& secret) {
  if (stored_sha256.size() != kSha256Bytes) return false;
  const std::string hash = HashSecret(secret);
  if (hash.size() != kSha256Bytes) return false;
  return CRYPTO_memcmp(hash.data(), stored_sha256.data(), kSha256Bytes) == 0;
}

}  // namespace gantry::identity
