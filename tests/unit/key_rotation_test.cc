// Rotating the secrets' key-encryption key: every version re-wrapped with
// the new key (values untouched), the old key no longer opens anything and
// leaves the key file, and a rotation a crash interrupted is finished on
// the next start.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "common/files.h"
#include "controlplane/secrets/key_files.h"
#include "controlplane/store/sqlite_store.h"
#include "tests/support/test_dir.h"

namespace gantry::secrets {
namespace {

class KeyRotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("key-rotation");
    ASSERT_TRUE(MakePrivateDirectory(dir_.string()).ok());
    files_ = std::make_unique<KeyFiles>((dir_ / "secrets.key").string());
    store_ = std::move(*store::SqliteStore::Open({":memory:"}));
    Open();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A registry as a (re)started control plane opens it.
  void Open() {
    registry_.reset();
    auto kek = files_->LoadCurrent(/*create=*/true);
    ASSERT_TRUE(kek.ok()) << kek.status();
    registry_ = std::make_unique<SecretRegistry>(store_.get(), *kek, &clock_);
    ASSERT_TRUE(registry_->Start().ok());
    ASSERT_TRUE(FinishPendingRotation(*registry_, *files_).ok());
  }

  FakeClock clock_;
  std::filesystem::path dir_;
  std::unique_ptr<KeyFiles> files_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<SecretRegistry> registry_;
};

TEST_F(KeyRotationTest, EveryVersionMovesToTheNewKey) {
  ASSERT_TRUE(registry_->Create("a", "a1", "admin").ok());
  ASSERT_TRUE(registry_->Update("a", "a2", "admin").ok());
  ASSERT_TRUE(registry_->Create("b", "b1", "admin").ok());
  const KeyEncryptionKey old = *KeyEncryptionKey::Load(files_->path());

  auto rotation = RotateKey(*registry_, files_.get());
  ASSERT_TRUE(rotation.ok()) << rotation.status();
  EXPECT_EQ(rotation->old_key_id, old.id());
  EXPECT_NE(rotation->new_key_id, old.id());
  EXPECT_EQ(rotation->rewrapped, 3);
  EXPECT_EQ(registry_->current_key_id(), rotation->new_key_id);

  // The file holds the new key only; nothing is left of the old one.
  EXPECT_EQ(KeyEncryptionKey::Load(files_->path())->id(), rotation->new_key_id);
  EXPECT_FALSE(std::filesystem::exists(files_->path() + ".next"));
  struct stat st {};
  ASSERT_EQ(stat(files_->path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // Values are unchanged; the old key opens nothing any more.
  EXPECT_EQ(registry_->Reveal("a", 1)->value, "a1");
  EXPECT_EQ(registry_->Reveal("a", 2)->value, "a2");
  SecretRegistry with_old(store_.get(), old, &clock_);
  ASSERT_TRUE(with_old.Start().ok());
  EXPECT_EQ(with_old.Reveal("b", 1).status().code(), absl::StatusCode::kFailedPrecondition);

  // A restart with the new file reads everything; new versions use it.
  Open();
  EXPECT_EQ(registry_->Reveal("b", 1)->value, "b1");
  ASSERT_TRUE(registry_->Update("b", "b2", "admin").ok());
  EXPECT_EQ(registry_->Reveal("b", 2)->value, "b2");
}

TEST_F(KeyRotationTest, AnInterruptedRotationIsFinishedAtTheNextStart) {
  ASSERT_TRUE(registry_->Create("a", "a1", "admin").ok());
  // As if the control plane stopped right after keeping the new key, and
  // after re-wrapping only part of the secrets.
  auto next = files_->BeginRotation();
  ASSERT_TRUE(next.ok());
  ASSERT_TRUE(std::filesystem::exists(files_->path() + ".next"));
  Open();
  EXPECT_EQ(registry_->current_key_id(), next->id());
  EXPECT_EQ(KeyEncryptionKey::Load(files_->path())->id(), next->id());
  EXPECT_FALSE(std::filesystem::exists(files_->path() + ".next"));
  EXPECT_EQ(registry_->Reveal("a", 1)->value, "a1");
}

TEST_F(KeyRotationTest, WithoutFilesTheKeyRotatesInMemory) {
  ASSERT_TRUE(registry_->Create("a", "a1", "admin").ok());
  auto rotation = RotateKey(*registry_, nullptr);
  ASSERT_TRUE(rotation.ok());
  EXPECT_EQ(registry_->Reveal("a", 1)->value, "a1");
}

}  // namespace
}  // namespace gantry::secrets
