// The image side of `user`: names resolved from the image's passwd and
// group files, and those files read out of the snapshot's layers.

#include "agent/runtime/image_users.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <fstream>

#include "agent/runtime/rootfs_files.h"
#include "tests/support/test_dir.h"

namespace gantry::agent {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kPasswd[] =
    "root:x:0:0:root:/root:/bin/sh\n"
    "# a comment\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    "app:x:1000:1000::/home/app:/bin/sh\n"
    "broken:x:notanumber:1\n";
constexpr char kGroup[] =
    "root:x:0:\n"
    "staff:x:50:app,other\n"
    "app:x:1000:\n"
    "audio:x:29:app\n"
    "nogroup:x:65534:\n";

TEST(ResolveUser, NamesComeFromTheImage) {
  auto u = ResolveUser("app", kPasswd, kGroup);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->uid, 1000u);
  EXPECT_EQ(u->gid, 1000u);
  EXPECT_THAT(u->additional_gids, ElementsAre(50u, 29u));
  u = ResolveUser("nobody", kPasswd, kGroup);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->uid, 65534u);
  EXPECT_TRUE(u->additional_gids.empty());
}

TEST(ResolveUser, GroupsByNameOrNumber) {
  auto u = ResolveUser("app:staff", kPasswd, kGroup);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->gid, 50u);
  EXPECT_TRUE(u->additional_gids.empty());  // an explicit group replaces them, as in Docker
  u = ResolveUser("1000:7", kPasswd, kGroup);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->uid, 1000u);
  EXPECT_EQ(u->gid, 7u);
}

TEST(ResolveUser, NumbersNeedNoEntry) {
  auto u = ResolveUser("1000", kPasswd, kGroup);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->gid, 1000u);  // the passwd entry's group
  u = ResolveUser("4242", "", "");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->uid, 4242u);
  EXPECT_EQ(u->gid, 4242u);  // not the root group
  u = ResolveUser("", "", "");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->uid, 0u);
}

TEST(ResolveUser, UnknownNamesSayWhatToDo) {
  auto u = ResolveUser("postgres", kPasswd, kGroup);
  ASSERT_FALSE(u.ok());
  EXPECT_THAT(u.status().message(), HasSubstr("\"postgres\" is not in the image's /etc/passwd"));
  u = ResolveUser("app:wheel", kPasswd, kGroup);
  ASSERT_FALSE(u.ok());
  EXPECT_THAT(u.status().message(), HasSubstr("\"wheel\" is not in the image's /etc/group"));
  EXPECT_FALSE(ResolveUser("a:b:c", kPasswd, kGroup).ok());
}

TEST(RootfsLayers, OverlayIsUpperThenLowerInOrder) {
  auto layers = RootfsLayers(
      {{"overlay",
        "overlay",
        {"index=off", "workdir=/s/9/work", "upperdir=/s/9/fs", "lowerdir=/s/2/fs:/s/1/fs"}}});
  ASSERT_TRUE(layers.ok()) << layers.status();
  EXPECT_THAT(*layers, ElementsAre("/s/9/fs", "/s/2/fs", "/s/1/fs"));
  layers = RootfsLayers({{"bind", "/s/1/fs", {"ro", "rbind"}}});
  ASSERT_TRUE(layers.ok());
  EXPECT_THAT(*layers, ElementsAre("/s/1/fs"));
  EXPECT_FALSE(RootfsLayers({{"zfs", "pool/x", {}}}).ok());
  EXPECT_FALSE(RootfsLayers({}).ok());
}

class RootfsFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = gantry::testing::FreshTestDir("rootfs");
    for (const char* l : {"upper", "middle", "lower"}) fs::create_directories(dir_ / l / "etc");
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& layer, const std::string& path, const std::string& text) {
    std::ofstream(dir_ / layer / path) << text;
  }
  std::vector<std::string> Layers() {
    return {(dir_ / "upper").string(), (dir_ / "middle").string(), (dir_ / "lower").string()};
  }
  fs::path dir_;
};

TEST_F(RootfsFilesTest, TheTopmostCopyWins) {
  Write("lower", "etc/passwd", "root:x:0:0::/:/bin/sh\n");
  Write("middle", "etc/passwd", "app:x:1:1::/:/bin/sh\n");
  auto text = ReadRootfsFile(Layers(), "etc/passwd");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(text->value_or(""), "app:x:1:1::/:/bin/sh\n");
  text = ReadRootfsFile(Layers(), "etc/group");
  ASSERT_TRUE(text.ok());
  EXPECT_FALSE(text->has_value());
}

TEST_F(RootfsFilesTest, AWhiteoutHidesLowerLayers) {
  Write("lower", "etc/passwd", "root:x:0:0::/:/bin/sh\n");
  ASSERT_EQ(mknod((dir_ / "upper/etc/passwd").c_str(), S_IFCHR | 0600, makedev(0, 0)), 0);
  auto text = ReadRootfsFile(Layers(), "etc/passwd");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_FALSE(text->has_value());
}

TEST_F(RootfsFilesTest, LinksAreNeverFollowed) {
  fs::create_symlink("/etc/shadow", dir_ / "upper/etc/passwd");
  auto text = ReadRootfsFile(Layers(), "etc/passwd");
  ASSERT_FALSE(text.ok());
  EXPECT_THAT(text.status().message(), HasSubstr("/etc/passwd in the image is a symbolic link"));
  fs::remove(dir_ / "upper/etc/passwd");
  fs::remove_all(dir_ / "middle/etc");
  fs::create_directory_symlink("/etc", dir_ / "middle/etc");
  text = ReadRootfsFile(Layers(), "etc/passwd");
  ASSERT_FALSE(text.ok());
  EXPECT_THAT(text.status().message(), HasSubstr("/etc in the image is a symbolic link"));
  EXPECT_FALSE(ReadRootfsFile(Layers(), "../etc/passwd").ok());
}

TEST_F(RootfsFilesTest, LargeAndOddFilesAreRefused) {
  Write("upper", "etc/passwd", std::string(kMaxRootfsFileBytes + 1, 'x'));
  auto text = ReadRootfsFile(Layers(), "etc/passwd");
  ASSERT_FALSE(text.ok());
  EXPECT_THAT(text.status().message(), HasSubstr("larger than"));
  fs::create_directories(dir_ / "upper/etc/group");
  EXPECT_FALSE(ReadRootfsFile(Layers(), "etc/group").ok());
}

}  // namespace
}  // namespace gantry::agent
