#include "controlplane/identity/tokens.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "absl/strings/escaping.h"

namespace gantry::identity {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kHex64(64, 'a');

TEST(TokensTest, OperatorTokenHasAccessorAndSecret) {
  auto t = MakeToken(TokenKind::kOperator);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(std::regex_match(t->token, std::regex("gantry_[0-9a-f]{12}_[0-9a-f]{64}")))
      << t->token;
  EXPECT_EQ(t->id, t->token.substr(7, 12));
  EXPECT_EQ(t->secret_sha256.size(), 32u);
}

TEST(TokensTest, JoinTokenHasIdAndSecret) {
  auto t = MakeToken(TokenKind::kJoin);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(std::regex_match(t->token, std::regex("gantry-join_[0-9a-f]{12}_[0-9a-f]{64}")))
      << t->token;
  EXPECT_EQ(t->id, t->token.substr(12, 12));
}

TEST(TokensTest, EachTokenIsNew) {
  auto a = MakeToken(TokenKind::kOperator);
  auto b = MakeToken(TokenKind::kOperator);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->token, b->token);
  EXPECT_NE(a->id, b->id);
  EXPECT_NE(a->secret_sha256, b->secret_sha256);
}

TEST(TokensTest, ParseRoundTrips) {
  for (TokenKind kind : {TokenKind::kOperator, TokenKind::kJoin}) {
    auto t = MakeToken(kind);
    ASSERT_TRUE(t.ok());
    auto p = ParseToken(t->token, kind);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->kind, kind);
    EXPECT_EQ(p->id, t->id);
    EXPECT_TRUE(SecretMatches(t->secret_sha256, p->secret));
  }
}

TEST(TokensTest, ParseRefusesWrongPrefix) {
  for (const std::string& s :
       {std::string("gantri_0123456789ab_") + kHex64, std::string("0123456789ab_") + kHex64,
        std::string(""), std::string("Bearer gantry_0123456789ab_") + kHex64}) {
    auto p = ParseToken(s, TokenKind::kOperator);
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_THAT(p.status().message(), HasSubstr("not a Gantry token"));
  }
}

TEST(TokensTest, ParseRefusesTheOtherKind) {
  auto join = MakeToken(TokenKind::kJoin);
  auto op = MakeToken(TokenKind::kOperator);
  ASSERT_TRUE(join.ok() && op.ok());
  auto as_operator = ParseToken(join->token, TokenKind::kOperator);
  EXPECT_EQ(as_operator.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(as_operator.status().message(), HasSubstr("not a Gantry token"));
  EXPECT_THAT(as_operator.status().message(), HasSubstr("join token"));
  auto as_join = ParseToken(op->token, TokenKind::kJoin);
  EXPECT_EQ(as_join.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(as_join.status().message(), HasSubstr("not a join token"));
}

TEST(TokensTest, ParseRefusesWrongLengthsAndCharacters) {
  const std::vector<std::string> bad = {
      "gantry_0123456789a_" + kHex64,             // accessor too short
      "gantry_0123456789abc_" + kHex64,           // accessor too long
      "gantry_0123456789ab_" + kHex64.substr(1),  // secret too short
      "gantry_0123456789ab_" + kHex64 + "a",      // secret too long
      "gantry_0123456789ab" + kHex64,             // no separator
      "gantry_0123456789AB_" + kHex64,            // upper case
      "gantry_0123456789ab_" + kHex64.substr(1) + "g",
      "gantry_0123456789ab_" + kHex64 + "\n",
      "gantry_0123456789ab_",
  };
  for (const auto& s : bad) {
    auto p = ParseToken(s, TokenKind::kOperator);
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << s;
  }
  EXPECT_TRUE(ParseToken("gantry_0123456789ab_" + kHex64, TokenKind::kOperator).ok());
}

TEST(TokensTest, ParseErrorNeverRepeatsTheInput) {
  const std::string secretish = "gantry_0123456789ab_" + std::string(63, 'c');
  const std::string pasted = "hunter2-my-password";
  const std::string join = "gantry-join_0123456789ab_" + std::string(65, 'd');
  for (const auto& s : {secretish, pasted, join}) {
    for (TokenKind kind : {TokenKind::kOperator, TokenKind::kJoin}) {
      auto p = ParseToken(s, kind);
      ASSERT_FALSE(p.ok());
      const std::string message(p.status().message());
      EXPECT_THAT(message, Not(HasSubstr(s)));
      EXPECT_THAT(message, Not(HasSubstr("0123456789ab")));
      EXPECT_THAT(message, Not(HasSubstr("ccccccccc")));
      EXPECT_THAT(message, Not(HasSubstr("hunter2")));
    }
  }
}

TEST(TokensTest, HashIsSha256) {
  // SHA-256("abc"), the FIPS 180-2 example.
  EXPECT_EQ(absl::BytesToHexString(HashSecret("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HashSecret("").size(), 32u);
}

TEST(TokensTest, SecretMatchesOnlyTheSameSecret) {
  const std::string hash = HashSecret(kHex64);
  EXPECT_TRUE(SecretMatches(hash, kHex64));
  EXPECT_FALSE(SecretMatches(hash, std::string(64, 'b')));
  EXPECT_FALSE(SecretMatches(hash, ""));
  EXPECT_FALSE(SecretMatches("", kHex64));
  EXPECT_FALSE(SecretMatches(hash.substr(0, 31), kHex64));
  EXPECT_FALSE(SecretMatches(hash + "x", kHex64));
}

}  // namespace
}  // namespace gantry::identity
