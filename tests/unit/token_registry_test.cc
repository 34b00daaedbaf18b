#include "controlplane/identity/token_registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <latch>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/time_util.h"
#include "controlplane/identity/tokens.h"
#include "controlplane/store/sqlite_store.h"
#include "tests/fakes/forwarding_store.h"

namespace gantry::identity {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using InterleavingStore = gantry::testing::ForwardingStore;

class TokenRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::Open({":memory:"});
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    registry_ = NewRegistry();
  }

  std::unique_ptr<TokenRegistry> NewRegistry() {
    auto r = std::make_unique<TokenRegistry>(store_.get(), &clock_);
    EXPECT_TRUE(r->Start().ok());
    return r;
  }

  gantry::v1::CreateTokenResponse Create(const std::string& role, const std::string& services = "",
                                         absl::Duration ttl = absl::ZeroDuration(),
                                         const std::string& description = "") {
    auto created = registry_->CreateToken(role, services, ttl, description);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : gantry::v1::CreateTokenResponse();
  }

  std::string CreateJoin(const std::string& node = "", absl::Duration ttl = absl::ZeroDuration()) {
    auto created = registry_->CreateJoinToken(node, ttl);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? created->token() : "";
  }

  static std::string IdOf(const std::string& join_token) {
    auto parsed = ParseToken(join_token, TokenKind::kJoin);
    return parsed.ok() ? parsed->id : "";
  }

  FakeClock clock_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<TokenRegistry> registry_;
};

TEST_F(TokenRegistryTest, CreatedTokenAuthenticates) {
  auto created = Create("deployer", "web*", absl::ZeroDuration(), "ci-web");
  EXPECT_EQ(created.info().role(), "deployer");
  EXPECT_EQ(created.info().services(), "web*");
  EXPECT_FALSE(created.info().has_expires_at());
  auto who = registry_->Authenticate(created.token());
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->kind, Identity::Kind::kOperatorToken);
  EXPECT_EQ(who->name, "ci-web");
  EXPECT_EQ(who->accessor, created.info().accessor());
  EXPECT_EQ(who->role, "deployer");
  EXPECT_EQ(who->services, "web*");
  EXPECT_EQ(who->Describe(), "token \"ci-web\" (role deployer)");
}

TEST_F(TokenRegistryTest, TokenWithoutDescriptionIsNamedByItsAccessor) {
  auto created = Create("viewer");
  auto who = registry_->Authenticate(created.token());
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who->name, created.info().accessor());
}

TEST_F(TokenRegistryTest, WrongSecretIsRefused) {
  auto created = Create("admin");
  std::string forged = created.token();
  forged.back() = forged.back() == '0' ? '1' : '0';
  auto who = registry_->Authenticate(forged);
  EXPECT_EQ(who.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(who.status().message(), HasSubstr("not known to this cluster"));
}

TEST_F(TokenRegistryTest, UnknownAndMalformedTokensAreRefused) {
  auto unknown = registry_->Authenticate("gantry_0123456789ab_" + std::string(64, 'e'));
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(unknown.status().message(),
            "the token is not known to this cluster (was it made for another control plane?)");
  auto malformed = registry_->Authenticate("not-a-token-secret");
  EXPECT_EQ(malformed.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(malformed.status().message(), HasSubstr("the credentials are not a Gantry token"));
  EXPECT_THAT(malformed.status().message(), Not(HasSubstr("not-a-token-secret")));
}

TEST_F(TokenRegistryTest, ExpiredTokenIsRefused) {
  auto created = Create("viewer", "", absl::Hours(1));
  EXPECT_EQ(FromProtoTime(created.info().expires_at()), clock_.Now() + absl::Hours(1));
  clock_.Advance(absl::Minutes(59));
  EXPECT_TRUE(registry_->Authenticate(created.token()).ok());
  clock_.Advance(absl::Minutes(1));
  auto who = registry_->Authenticate(created.token());
  EXPECT_EQ(who.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(who.status().message(),
            absl::StrCat("token ", created.info().accessor(),
                         " has expired; create a new one with gantryctl token create"));
}

TEST_F(TokenRegistryTest, RevokedTokenIsRefused) {
  auto created = Create("admin");
  auto info = registry_->RevokeToken(created.info().accessor());
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_TRUE(info->revoked());
  auto who = registry_->Authenticate(created.token());
  EXPECT_EQ(who.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(who.status().message(),
            absl::StrCat("token ", created.info().accessor(), " was revoked"));
  // Revoking again is harmless.
  EXPECT_TRUE(registry_->RevokeToken(created.info().accessor()).ok());
}

TEST_F(TokenRegistryTest, RevokingAnUnknownTokenNamesIt) {
  auto info = registry_->RevokeToken("ffffffffffff");
  EXPECT_EQ(info.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(info.status().message(), HasSubstr("ffffffffffff"));
}

TEST_F(TokenRegistryTest, CreateValidatesItsInput) {
  auto code = [&](const std::string& services, absl::Duration ttl, const std::string& desc) {
    return registry_->CreateToken("deployer", services, ttl, desc).status().code();
  };
  const auto invalid = absl::StatusCode::kInvalidArgument;
  EXPECT_EQ(code("", absl::ZeroDuration(), std::string(201, 'x')), invalid);
  EXPECT_EQ(code("", absl::ZeroDuration(), "two\nlines"), invalid);
  EXPECT_EQ(code("web/*", absl::ZeroDuration(), ""), invalid);
  EXPECT_EQ(code("web *", absl::ZeroDuration(), ""), invalid);
  EXPECT_EQ(code(std::string(201, 'w'), absl::ZeroDuration(), ""), invalid);
  EXPECT_EQ(code("", absl::Seconds(-1), ""), invalid);
  EXPECT_EQ(code("web-?.api_*", absl::Hours(1), std::string(200, 'x')), absl::StatusCode::kOk);
  EXPECT_TRUE(registry_->ListTokens().size() == 1);
}

TEST_F(TokenRegistryTest, ListShowsTokensInCreationOrderWithoutSecrets) {
  std::vector<gantry::v1::CreateTokenResponse> created;
  for (const std::string role : {"viewer", "admin", "lb"}) {
    created.push_back(Create(role, "", absl::ZeroDuration(), role + " token"));
    clock_.Advance(absl::Seconds(1));
  }
  auto list = registry_->ListTokens();
  ASSERT_EQ(list.size(), 3u);
  for (size_t i = 0; i < list.size(); ++i) {
    EXPECT_EQ(list[i].accessor(), created[i].info().accessor());
    EXPECT_EQ(list[i].role(), created[i].info().role());
    auto parsed = ParseToken(created[i].token(), TokenKind::kOperator);
    ASSERT_TRUE(parsed.ok());
    const std::string wire = list[i].SerializeAsString();
    EXPECT_THAT(wire, Not(HasSubstr(HashSecret(parsed->secret))));
    EXPECT_THAT(wire, Not(HasSubstr(parsed->secret)));
    EXPECT_THAT(list[i].DebugString(), Not(HasSubstr(parsed->secret)));
  }
}

TEST_F(TokenRegistryTest, LastUseIsWrittenAtMostOncePerMinute) {
  auto created = Create("viewer");
  const int64_t start = store_->Revision();
  ASSERT_TRUE(registry_->Authenticate(created.token()).ok());
  EXPECT_EQ(store_->Revision(), start + 1);
  EXPECT_EQ(FromProtoTime(registry_->ListTokens()[0].last_used_at()), clock_.Now());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(registry_->Authenticate(created.token()).ok());
  clock_.Advance(absl::Seconds(59));
  ASSERT_TRUE(registry_->Authenticate(created.token()).ok());
  EXPECT_EQ(store_->Revision(), start + 1);
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(registry_->Authenticate(created.token()).ok());
  ASSERT_TRUE(registry_->Authenticate(created.token()).ok());
  EXPECT_EQ(store_->Revision(), start + 2);
  EXPECT_EQ(FromProtoTime(registry_->ListTokens()[0].last_used_at()), clock_.Now());
}

TEST_F(TokenRegistryTest, SecondRegistryOnTheSameStoreFollowsTheFirst) {
  auto other = NewRegistry();
  auto created = Create("deployer", "web*");
  auto who = other->Authenticate(created.token());
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->role, "deployer");
  ASSERT_TRUE(registry_->RevokeToken(created.info().accessor()).ok());
  EXPECT_EQ(other->Authenticate(created.token()).status().code(),
            absl::StatusCode::kUnauthenticated);
  // One started later loads what is there.
  auto late = NewRegistry();
  ASSERT_EQ(late->ListTokens().size(), 1u);
  EXPECT_TRUE(late->ListTokens()[0].revoked());
}

TEST_F(TokenRegistryTest, BootstrapAdminIsCreatedOnce) {
  auto first = registry_->EnsureBootstrapAdmin();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(first->has_value());
  auto who = registry_->Authenticate(**first);
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who->role, "admin");
  EXPECT_EQ(who->name, "bootstrap admin");
  auto second = registry_->EnsureBootstrapAdmin();
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->has_value());
  EXPECT_EQ(registry_->ListTokens().size(), 1u);
  // With every admin token revoked, a new one is made.
  ASSERT_TRUE(registry_->RevokeToken(who->accessor).ok());
  auto third = registry_->EnsureBootstrapAdmin();
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(third->has_value());
}

TEST_F(TokenRegistryTest, BootstrapAdminIsNotMadeWhenAnAdminExists) {
  Create("viewer");
  Create("admin");
  auto made = registry_->EnsureBootstrapAdmin();
  ASSERT_TRUE(made.ok());
  EXPECT_FALSE(made->has_value());
}

TEST_F(TokenRegistryTest, JoinTokenIsConsumedOnce) {
  auto created = registry_->CreateJoinToken("", absl::ZeroDuration());
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(FromProtoTime(created->expires_at()), clock_.Now() + absl::Minutes(15));
  EXPECT_TRUE(created->ca_hash().empty());
  const std::string token = created->token();
  ASSERT_TRUE(registry_->ConsumeJoinToken(token, "n1").ok());
  const absl::Status again = registry_->ConsumeJoinToken(token, "n2");
  EXPECT_EQ(again.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(again.message(),
            absl::StrCat("join token ", IdOf(token),
                         " was already used (by node n1); create a new one with gantryctl "
                         "node join-token create"));
}

TEST_F(TokenRegistryTest, JoinTokenBoundToANameAdmitsOnlyThatNode) {
  const std::string token = CreateJoin("n1");
  const absl::Status wrong = registry_->ConsumeJoinToken(token, "n2");
  EXPECT_EQ(wrong.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(wrong.message(),
              HasSubstr(absl::StrCat("join token ", IdOf(token), " is for node n1, not n2")));
  EXPECT_TRUE(registry_->ConsumeJoinToken(token, "n1").ok());
}

TEST_F(TokenRegistryTest, ExpiredJoinTokenIsRefused) {
  const std::string token = CreateJoin("", absl::Minutes(5));
  clock_.Advance(absl::Minutes(5));
  const absl::Status st = registry_->ConsumeJoinToken(token, "n1");
  EXPECT_EQ(st.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(st.message(), HasSubstr(absl::StrCat("join token ", IdOf(token), " has expired")));
}

TEST_F(TokenRegistryTest, UnknownWrongOrMalformedJoinTokenIsRefused) {
  const std::string token = CreateJoin();
  std::string forged = token;
  forged.back() = forged.back() == '0' ? '1' : '0';
  for (const std::string& t : {forged, "gantry-join_0123456789ab_" + std::string(64, 'f')}) {
    const absl::Status st = registry_->ConsumeJoinToken(t, "n1");
    EXPECT_EQ(st.code(), absl::StatusCode::kUnauthenticated);
    EXPECT_THAT(st.message(), HasSubstr("the join token is not known to this cluster"));
  }
  auto op = Create("admin");
  const absl::Status st = registry_->ConsumeJoinToken(op.token(), "n1");
  EXPECT_EQ(st.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(st.message(), Not(HasSubstr(op.token())));
  // The forgeries did not use it up.
  EXPECT_TRUE(registry_->ConsumeJoinToken(token, "n1").ok());
}

TEST_F(TokenRegistryTest, JoinTokenNodeNamesAreValidated) {
  const std::vector<std::string> bad_names = {"-n1", "n1-", "N1", "n_1", std::string(64, 'a')};
  for (const std::string& bad : bad_names) {
    EXPECT_EQ(registry_->CreateJoinToken(bad, absl::ZeroDuration()).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_TRUE(registry_->CreateJoinToken(std::string(63, 'a'), absl::ZeroDuration()).ok());
  EXPECT_EQ(registry_->CreateJoinToken("", absl::Seconds(-1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry_->ConsumeJoinToken(CreateJoin(), "Bad Name").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(TokenRegistryTest, RacingAgentsCannotBothJoinWithOneToken) {
  constexpr int kAgents = 8;
  auto other = NewRegistry();
  for (int round = 0; round < 20; ++round) {
    const std::string token = CreateJoin();
    std::latch go(kAgents);
    std::atomic<int> joined{0};
    std::atomic<int> already_used{0};
    std::vector<std::thread> agents;
    for (int i = 0; i < kAgents; ++i) {
      // Half go through a second control plane on the same store.
      TokenRegistry* via = i % 2 == 0 ? registry_.get() : other.get();
      agents.emplace_back([&, via, i] {
        go.arrive_and_wait();
        const absl::Status st = via->ConsumeJoinToken(token, absl::StrCat("n", i));
        if (st.ok()) joined++;
        if (absl::StrContains(st.message(), "already used")) already_used++;
      });
    }
    for (auto& a : agents) a.join();
    EXPECT_EQ(joined.load(), 1) << "round " << round;
    EXPECT_EQ(already_used.load(), kAgents - 1) << "round " << round;
  }
}

TEST_F(TokenRegistryTest, JoinTokenUsedElsewhereBetweenReadAndWriteIsReportedUsed) {
  InterleavingStore interleaving(store_.get());
  TokenRegistry slow(&interleaving, &clock_);
  ASSERT_TRUE(slow.Start().ok());
  const std::string token = CreateJoin();
  interleaving.before_next_txn = [&] {
    EXPECT_TRUE(registry_->ConsumeJoinToken(token, "n2").ok());
  };
  const absl::Status st = slow.ConsumeJoinToken(token, "n1");
  EXPECT_EQ(st.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(st.message(), HasSubstr("was already used (by node n2)"));
}

TEST_F(TokenRegistryTest, LastUseConflictIsIgnoredAndKeepsTheOtherWrite) {
  InterleavingStore interleaving(store_.get());
  TokenRegistry slow(&interleaving, &clock_);
  ASSERT_TRUE(slow.Start().ok());
  auto created = Create("viewer");
  // Revoked between the lookup and the last-use write: the write must not
  // bring the token back.
  interleaving.before_next_txn = [&] {
    EXPECT_TRUE(registry_->RevokeToken(created.info().accessor()).ok());
  };
  EXPECT_TRUE(slow.Authenticate(created.token()).ok());
  EXPECT_TRUE(registry_->ListTokens()[0].revoked());
  EXPECT_EQ(slow.Authenticate(created.token()).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(TokenRegistryTest, RevokedNodeCertificatesIssuedBeforeAreRefused) {
  const absl::Time issued = clock_.Now();
  EXPECT_FALSE(registry_->NodeRevoked("n1", issued));
  clock_.Advance(absl::Hours(1));
  ASSERT_TRUE(registry_->RevokeNode("n1").ok());
  const absl::Time revoked_at = clock_.Now();
  EXPECT_TRUE(registry_->NodeRevoked("n1", issued));
  EXPECT_TRUE(registry_->NodeRevoked("n1", revoked_at));
  EXPECT_FALSE(registry_->NodeRevoked("n1", revoked_at + absl::Seconds(1)));
  EXPECT_FALSE(registry_->NodeRevoked("n2", issued));
  // Another control plane, started afterwards, knows it too.
  auto late = NewRegistry();
  EXPECT_TRUE(late->NodeRevoked("n1", issued));
  EXPECT_EQ(registry_->RevokeNode("").code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gantry::identity
