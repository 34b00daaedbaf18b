// SecretRegistry on a real (in-memory) store: versions, values only through
// Reveal, nothing readable in the store, the wrong key failing closed,
// pruning that spares what deployments pin, and bad input.

#include "controlplane/secrets/secret_registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controlplane/store/sqlite_store.h"

namespace gantry::secrets {
namespace {

using ::testing::HasSubstr;

class SecretRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(*store::SqliteStore::Open({":memory:"}));
    registry_ = std::make_unique<SecretRegistry>(store_.get(), kek_, &clock_);
    ASSERT_TRUE(registry_->Start().ok());
  }

  // Every value the store holds, keys and history included.
  std::string Everything() {
    std::string out;
    const auto all = store_->Range("");
    for (const auto& kv : all.value().kvs) out += kv.key + "=" + kv.value + "\n";
    return out;
  }

  FakeClock clock_;
  KeyEncryptionKey kek_ = *KeyEncryptionKey::Generate();
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<SecretRegistry> registry_;
};

TEST_F(SecretRegistryTest, VersionsGrowAndEachRevealsItsOwnValue) {
  auto created = registry_->Create("db-password", "first-value", "token \"ops\"");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->current_version(), 1);
  clock_.Advance(absl::Minutes(1));
  auto updated = registry_->Update("db-password", "second-value", "token \"ops\"");
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->current_version(), 2);
  ASSERT_EQ(updated->versions_size(), 2);
  EXPECT_EQ(updated->versions(0).version(), 2);  // newest first
  EXPECT_EQ(updated->versions(0).size(), 12);
  EXPECT_EQ(updated->versions(0).created_by(), "token \"ops\"");

  EXPECT_EQ(registry_->Reveal("db-password", 0)->value, "second-value");
  EXPECT_EQ(registry_->Reveal("db-password", 1)->value, "first-value");
  EXPECT_EQ(registry_->Reveal("db-password", 3).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(registry_->CurrentVersion("db-password"), 2);
  EXPECT_TRUE(registry_->HasVersion("db-password", 1));
  EXPECT_EQ(registry_->CurrentVersion("other"), 0);
}

TEST_F(SecretRegistryTest, TheStoreNeverHoldsAValue) {
  ASSERT_TRUE(registry_->Create("api-key", "plain-text-marker", "admin").ok());
  ASSERT_TRUE(registry_->Update("api-key", "another-marker", "admin").ok());
  const std::string all = Everything();
  EXPECT_THAT(all, HasSubstr("/secrets/api-key"));
  EXPECT_EQ(all.find("plain-text-marker"), std::string::npos);
  EXPECT_EQ(all.find("another-marker"), std::string::npos);
  // Nor does metadata: a read of the record shows no value.
  EXPECT_EQ(registry_->Get("api-key")->DebugString().find("marker"), std::string::npos);
}

TEST_F(SecretRegistryTest, AnotherKeyFailsClosed) {
  ASSERT_TRUE(registry_->Create("api-key", "value", "admin").ok());
  const KeyEncryptionKey other = *KeyEncryptionKey::Generate();
  SecretRegistry stranger(store_.get(), other, &clock_);
  ASSERT_TRUE(stranger.Start().ok());
  auto revealed = stranger.Reveal("api-key", 0);
  EXPECT_EQ(revealed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(revealed.status().message(), HasSubstr("--secrets-key-file"));
}

TEST_F(SecretRegistryTest, ASecondRegistryOnTheStoreSeesWrites) {
  SecretRegistry other(store_.get(), kek_, &clock_);
  ASSERT_TRUE(other.Start().ok());
  ASSERT_TRUE(registry_->Create("shared", "v1", "admin").ok());
  ASSERT_TRUE(other.Update("shared", "v2", "admin").ok());
  EXPECT_EQ(registry_->CurrentVersion("shared"), 2);
  EXPECT_EQ(registry_->Reveal("shared", 0)->value, "v2");
}

TEST_F(SecretRegistryTest, OldVersionsArePrunedButPinnedOnesStay) {
  registry_->SetInUse([](const std::string&) { return std::set<int64_t>{2}; });
  ASSERT_TRUE(registry_->Create("rotating", "v1", "admin").ok());
  for (int i = 2; i <= kKeptVersions + 3; ++i) {
    ASSERT_TRUE(registry_->Update("rotating", "v" + std::to_string(i), "admin").ok());
  }
  EXPECT_FALSE(registry_->HasVersion("rotating", 1));
  EXPECT_TRUE(registry_->HasVersion("rotating", 2));  // a deployment pins it
  EXPECT_FALSE(registry_->HasVersion("rotating", 3));
  EXPECT_TRUE(registry_->HasVersion("rotating", 4));
  EXPECT_EQ(registry_->Get("rotating")->versions_size(), kKeptVersions + 1);
  EXPECT_EQ(registry_->Reveal("rotating", 2)->value, "v2");
}

TEST_F(SecretRegistryTest, BadInputChangesNothing) {
  EXPECT_THAT(registry_->Create("Bad Name", "v", "admin").status().message(),
              HasSubstr("lowercase letters"));
  EXPECT_THAT(registry_->Create("empty", "", "admin").status().message(), HasSubstr("empty"));
  EXPECT_THAT(registry_->Create("big", std::string(64 * 1024 + 1, 'x'), "admin").status().message(),
              HasSubstr("at most 65536"));
  EXPECT_EQ(registry_->Update("missing", "v", "admin").status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(registry_->Create("taken", "v", "admin").ok());
  auto again = registry_->Create("taken", "w", "admin");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(again.status().message(), HasSubstr("gantryctl secret update taken"));
  EXPECT_EQ(registry_->CurrentVersion("taken"), 1);
  EXPECT_EQ(registry_->Names(), std::vector<std::string>{"taken"});
}

TEST_F(SecretRegistryTest, DeleteRemovesTheRecord) {
  ASSERT_TRUE(registry_->Create("gone", "v", "admin").ok());
  EXPECT_TRUE(registry_->Delete("gone").ok());
  EXPECT_FALSE(registry_->Get("gone").has_value());
  EXPECT_EQ(registry_->Delete("gone").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace gantry::secrets
