#pragma once

// The form of Gantry's secrets. An operator token is
//   gantry_<accessor>_<secret>     accessor: 12 hex, secret: 64 hex
// and a join token
//   gantry-join_<id>_<secret>
// The accessor (or id) is public: it names the token in lists, the audit
// log and revocation. Only SHA-256 of the secret is stored; the random
// 256-bit secret needs no salt. Comparison is constant-time.
//
// Pure functions; randomness from OpenSSL's RAND_bytes.

#include <string>

#include "absl/status/statusor.h"

namespace gantry::identity {

enum class TokenKind { kOperator, kJoin };

struct NewToken {
  std::string token;          // the whole string, shown once
  std::string id;             // accessor or join token id
  std::string secret_sha256;  // 32 raw bytes
};

struct ParsedToken {
  TokenKind kind = TokenKind::kOperator;
  std::string id;
  std::string secret;
};

absl::StatusOr<NewToken> MakeToken(TokenKind kind);
// InvalidArgument ("not a Gantry token" / "not a join token") on any
// other shape; the message never repeats the input.
absl::StatusOr<ParsedToken> ParseToken(const std::string& token, TokenKind kind);
std::string HashSecret(const std::string& secret);  // 32 raw bytes
bool SecretMatches(const std::string& stored_sha256, const std::string& secret);

}  // namespace gantry::identity
