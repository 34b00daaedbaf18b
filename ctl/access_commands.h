#pragma once

// gantryctl's identity commands: login (writes the client config), whoami,
// operator tokens (create, list, revoke), roles (get, delete; they are
// applied as `kind: Role`), node join tokens and the audit log. Each returns the process
// exit code.

#include <string>

#include "absl/time/time.h"
#include "ctl/connection.h"

namespace gantry::ctl {

struct LoginOptions {
  std::string server;
  std::string ca_file;  // or
  std::string ca_hash;  // a pin, checked against the server's chain
  std::string token_file;
  std::string context = "default";
};

// Finds and checks the CA, checks the token with WhoAmI, then writes the
// context into the client config. Needs no Connection: it makes one.
int Login(const GlobalOptions& global, const LoginOptions& login, std::ostream& out,
          std::ostream& err);

class AccessCommands {
 public:
  explicit AccessCommands(Connection& c) : c_(c) {}

  int WhoAmI();
  int CreateToken(const std::string& role, const std::string& services, const std::string& ttl,
                  const std::string& description);
  int ListTokens();
  int RevokeToken(const std::string& accessor);
  int CreateJoinToken(const std::string& node_name, const std::string& ttl);
  // Every role, or only `name`'s.
  int ListRoles(const std::string& name);
  int DeleteRole(const std::string& name);
  // Records newer than `since` ago (a duration such as 1h; empty: all
  // kept), of `identity` (a name or accessor; empty: all), the newest
  // `limit`.
  int Audit(const std::string& since, const std::string& identity, int limit);
  // The whole store into `path` (0600): admin only.
  int SaveSnapshot(const std::string& path);

 private:
  Connection& c_;
};

}  // namespace gantry::ctl
