#pragma once

// Which privileges HAProxy's workers drop to, as Debian's haproxy package
// sets them up: user and group `haproxy`, chrooted in /var/lib/haproxy (an
// empty directory owned by root). HAProxy binds its listening sockets and
// its admin socket, and writes its pid file, before its workers chroot and
// change user; the master process never does either, and it is the master
// that re-reads the configuration on a reload (and takes the sockets over
// from the old worker through the admin socket's path), so nothing in
// gantry-lb's configuration is opened from inside the chroot.
//
// Only root can chroot or change user: when gantry-lb is not root, HAProxy
// runs as gantry-lb's user without a chroot, and the note says so. An empty
// user or chroot leaves that part out (the note says so too); a user that
// does not exist or a chroot that is not a directory is an error naming the
// flag, since HAProxy would refuse to start.
//
// ResolvePrivileges is pure over the `Host` it is given; RealHost() asks
// this process and the system's user database. Thread-safe.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace gantry::lb {

// What the host says, a seam for tests.
struct Host {
  bool is_root = false;
  // The name of `user`'s primary group; nullopt when there is no such user.
  std::function<std::optional<std::string>(const std::string& user)> primary_group;
  std::function<bool(const std::string& path)> is_directory;
};

// This process (geteuid) and getpwnam/getgrgid.
Host RealHost();

struct Privileges {
  std::string user;    // empty: the workers keep gantry-lb's user
  std::string group;   // the user's primary group
  std::string chroot;  // empty: no chroot
  // Why some part is left out, for the log; empty when none is.
  std::vector<std::string> notes;
};

// `user` is --haproxy-user and `chroot` --haproxy-chroot; either may be
// empty. Errors (InvalidArgument for a malformed value, FailedPrecondition
// for a missing user or directory) name the flag.
absl::StatusOr<Privileges> ResolvePrivileges(const std::string& user, const std::string& chroot,
                                             const Host& host);

}  // namespace gantry::lb
