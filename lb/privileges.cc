#include "lb/privileges.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/node_fields.h"
#include "lb/config_values.h"

namespace gantry::lb {

Host RealHost() {
  Host host;
  host.is_root = geteuid() == 0;
  host.primary_group = [](const std::string& user) -> std::optional<std::string> {
    const passwd* pw = getpwnam(user.c_str());
    if (pw == nullptr) return std::nullopt;
    const group* gr = getgrgid(pw->pw_gid);
    // A primary group without a name: HAProxy takes a number too.
    return gr != nullptr ? std::string(gr->gr_name) : std::to_string(pw->pw_gid);
  };
  host.is_directory = [](const std::string& path) {
    std::error_code ec;
    return std::filesystem::is_directory(path, ec);
  };
  return host;
}

absl::StatusOr<Privileges> ResolvePrivileges(const std::string& user, const std::string& chroot,
                                             const Host& host) {
  if (!user.empty()) {
    if (auto st = CheckAccountName(user); !st.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--haproxy-user ", QuoteForMessage(user), " ", st.message()));
    }
  }
  if (!chroot.empty()) {
    if (auto st = CheckConfigPath(chroot); !st.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--haproxy-chroot ", QuoteForMessage(chroot), " ", st.message()));
    }
  }
  Privileges out;
  if (!host.is_root) {
    if (!user.empty() || !chroot.empty()) {
      out.notes.push_back(
          "gantry-lb is not root, so HAProxy runs as its user and without a chroot "
          "(--haproxy-user and --haproxy-chroot need root)");
    }
    return out;
  }
  if (user.empty()) {
    out.notes.push_back("--haproxy-user is empty: HAProxy's workers run as root");
  } else {
    auto group = host.primary_group(user);
    if (!group) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--haproxy-user ", user,
          ": no such user; install Debian's haproxy package (it creates the user), or pass "
          "--haproxy-user '' to run HAProxy's workers as root"));
    }
    out.user = user;
    out.group = *group;
  }
  if (chroot.empty()) {
    out.notes.push_back("--haproxy-chroot is empty: HAProxy's workers run without a chroot");
  } else {
    if (!host.is_directory(chroot)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--haproxy-chroot ", chroot,
          ": not a directory; install Debian's haproxy package (it creates /var/lib/haproxy), "
          "or pass --haproxy-chroot '' to run HAProxy's workers without a chroot"));
    }
    out.chroot = chroot;
  }
  return out;
}

}  // namespace gantry::lb
