#include "controlplane/secrets/envelope.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace gantry::secrets {
namespace {

using ::testing::HasSubstr;

KeyEncryptionKey Kek() { return *KeyEncryptionKey::Generate(); }

TEST(EnvelopeTest, ARoundTripGivesTheValueBackAndTheRecordHidesIt) {
  const KeyEncryptionKey kek = Kek();
  auto sealed = Seal(kek, "s3cret-password", "db-password:1");
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_EQ(sealed->kek_id, kek.id());
  EXPECT_EQ(sealed->ciphertext.find("s3cret"), std::string::npos);
  EXPECT_EQ(sealed->wrapped_key.size(), 12u + 32u + 16u);
  EXPECT_EQ(Open(kek, *sealed, "db-password:1").value(), "s3cret-password");
  // Two seals of one value share nothing: a data key and nonces each.
  auto again = Seal(kek, "s3cret-password", "db-password:1");
  EXPECT_NE(again->ciphertext, sealed->ciphertext);
  EXPECT_NE(again->wrapped_key, sealed->wrapped_key);
}

TEST(EnvelopeTest, AnythingElseFailsClosed) {
  const KeyEncryptionKey kek = Kek();
  const Sealed sealed = *Seal(kek, "value", "api-key:2");
  // Another secret or version: the record is bound to its context.
  EXPECT_EQ(Open(kek, sealed, "api-key:3").status().code(), absl::StatusCode::kPermissionDenied);
  // A changed byte anywhere.
  Sealed tampered = sealed;
  tampered.ciphertext[14] ^= 1;
  EXPECT_EQ(Open(kek, tampered, "api-key:2").status().code(), absl::StatusCode::kPermissionDenied);
  tampered = sealed;
  tampered.wrapped_key[20] ^= 1;
  EXPECT_EQ(Open(kek, tampered, "api-key:2").status().code(), absl::StatusCode::kPermissionDenied);
  tampered = sealed;
  tampered.ciphertext.resize(5);
  EXPECT_EQ(Open(kek, tampered, "api-key:2").status().code(), absl::StatusCode::kDataLoss);
  // Another key-encryption key.
  auto other = Open(Kek(), sealed, "api-key:2");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(other.status().message(), HasSubstr("--secrets-key-file"));
}

TEST(EnvelopeTest, RewrappingMovesTheDataKeyToTheNewKeyOnly) {
  const KeyEncryptionKey old_kek = Kek();
  const KeyEncryptionKey new_kek = Kek();
  const Sealed sealed = *Seal(old_kek, "value", "tls-key:1");
  auto moved = Rewrap(old_kek, new_kek, sealed, "tls-key:1");
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(moved->ciphertext, sealed.ciphertext) << "the value is not re-encrypted";
  EXPECT_EQ(Open(new_kek, *moved, "tls-key:1").value(), "value");
  EXPECT_FALSE(Open(old_kek, *moved, "tls-key:1").ok());
  EXPECT_FALSE(Rewrap(new_kek, old_kek, sealed, "tls-key:1").ok()) << "not sealed under new_kek";
}

class KeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("gantry-kek-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(KeyFileTest, TheKeyFileIsMadeOnceWithMode0600AndReused) {
  const std::string path = (dir_ / "secrets.key").string();
  auto made = KeyEncryptionKey::LoadOrCreate(path);
  ASSERT_TRUE(made.ok()) << made.status();
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  auto again = KeyEncryptionKey::LoadOrCreate(path);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->id(), made->id());
  EXPECT_EQ(Open(*again, *Seal(*made, "v", "c"), "c").value(), "v");
}

TEST_F(KeyFileTest, AReadableOrMisshapenKeyFileIsRefused) {
  const std::string path = (dir_ / "loose.key").string();
  ASSERT_TRUE(KeyEncryptionKey::LoadOrCreate(path).ok());
  ::chmod(path.c_str(), 0644);
  auto loose = KeyEncryptionKey::Load(path);
  EXPECT_EQ(loose.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(loose.status().message(), HasSubstr("mode 644"));
  const std::string short_path = (dir_ / "short.key").string();
  std::ofstream(short_path) << "too short";
  ::chmod(short_path.c_str(), 0600);
  auto shortened = KeyEncryptionKey::Load(short_path);
  EXPECT_THAT(shortened.status().message(), HasSubstr("32 bytes, this file has 9"));
}

}  // namespace
}  // namespace gantry::secrets
