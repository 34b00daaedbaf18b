// ResolvePrivileges (lb/privileges.h) on a fake host: root drops to the
// user and chroot asked for, a non-root gantry-lb leaves both out and says
// why, and a missing user or directory or a malformed flag is an error
// naming the flag.

#include "lb/privileges.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

namespace gantry::lb {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// A Debian host with the haproxy package: user haproxy (group haproxy)
// and /var/lib/haproxy.
Host DebianHost(bool is_root) {
  Host host;
  host.is_root = is_root;
  host.primary_group = [](const std::string& user) -> std::optional<std::string> {
    if (user == "haproxy") return "haproxy";
    if (user == "lb") return "nogroup";
    return std::nullopt;
  };
  host.is_directory = [](const std::string& path) {
    return std::set<std::string>{"/var/lib/haproxy", "/srv/jail"}.contains(path);
  };
  return host;
}

TEST(Privileges, RootRunsWorkersAsDebiansHaproxyUserChrooted) {
  auto p = ResolvePrivileges("haproxy", "/var/lib/haproxy", DebianHost(true));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->user, "haproxy");
  EXPECT_EQ(p->group, "haproxy");
  EXPECT_EQ(p->chroot, "/var/lib/haproxy");
  EXPECT_THAT(p->notes, IsEmpty());

  p = ResolvePrivileges("lb", "/srv/jail", DebianHost(true));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->group, "nogroup") << "the user's primary group";
  EXPECT_EQ(p->chroot, "/srv/jail");
}

TEST(Privileges, NotRootLeavesBothOutAndSaysWhy) {
  auto p = ResolvePrivileges("haproxy", "/var/lib/haproxy", DebianHost(false));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->user, "");
  EXPECT_EQ(p->group, "");
  EXPECT_EQ(p->chroot, "");
  EXPECT_THAT(p->notes, ElementsAre(HasSubstr("gantry-lb is not root")));
  // Not even a missing user matters then.
  EXPECT_TRUE(ResolvePrivileges("nobody-here", "/nonexistent", DebianHost(false)).ok());
  // Nothing asked, nothing to say.
  p = ResolvePrivileges("", "", DebianHost(false));
  ASSERT_TRUE(p.ok());
  EXPECT_THAT(p->notes, IsEmpty());
}

TEST(Privileges, EmptyFlagsDisableEachPartSayingSo) {
  auto p = ResolvePrivileges("", "/var/lib/haproxy", DebianHost(true));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->user, "");
  EXPECT_EQ(p->chroot, "/var/lib/haproxy");
  EXPECT_THAT(p->notes, ElementsAre(HasSubstr("workers run as root")));
  p = ResolvePrivileges("haproxy", "", DebianHost(true));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->user, "haproxy");
  EXPECT_EQ(p->chroot, "");
  EXPECT_THAT(p->notes, ElementsAre(HasSubstr("without a chroot")));
}

TEST(Privileges, MissingUserOrDirectoryIsAnErrorNamingTheFlag) {
  auto p = ResolvePrivileges("nobody-here", "/var/lib/haproxy", DebianHost(true));
  EXPECT_EQ(p.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(p.status().message()),
              StartsWith("--haproxy-user nobody-here: no such user"));
  p = ResolvePrivileges("haproxy", "/var/empty", DebianHost(true));
  EXPECT_EQ(p.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(p.status().message()),
              StartsWith("--haproxy-chroot /var/empty: not a directory"));
}

TEST(Privileges, MalformedFlagsAreRefusedEvenWhenNotRoot) {
  for (bool root : {true, false}) {
    auto p = ResolvePrivileges("haproxy\n  user root", "/var/lib/haproxy", DebianHost(root));
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(p.status().message()),
                StartsWith("--haproxy-user \"haproxy\\n  user root\" must"));
    p = ResolvePrivileges("haproxy", "/var/lib/haproxy dir", DebianHost(root));
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(p.status().message()),
                StartsWith("--haproxy-chroot \"/var/lib/haproxy dir\""));
    p = ResolvePrivileges("haproxy", "relative/dir", DebianHost(root));
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace gantry::lb
