#pragma once

// Who may do what: a pure decision over an identity, a verb, a resource and
// an object name, with the built-in roles (default deny):
//   admin     everything
//   deployer  apply, scale, undo and logs on services (and task definition
//             families) matching its services glob; get and list on the
//             cluster's objects (not tokens)
//   viewer    get and list on the cluster's objects (not tokens); sees no
//             environment values
//   lb        list endpoints
// A refusal is PermissionDenied naming the identity, the verb and the
// object: token "ci-web" (role deployer) may not scale service db.
//
// Thread-safe: immutable.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "controlplane/identity/identity.h"

namespace gantry::identity {

enum class Verb { kGet, kList, kApply, kScale, kUndo, kDelete, kUpdate, kLogs, kCreate, kRevoke };

// Resources by their plural name: "services", "taskdefinitions", "tasks",
// "nodes", "events", "images", "endpoints", "tokens", "jointokens", and
// "audit" (the audit log: admin only, as tokens are).
struct Permission {
  Verb verb = Verb::kGet;
  std::string resource;
  std::string name;  // "" for lists and creations of unnamed objects
};

const char* VerbName(Verb verb);

struct Rule {
  std::vector<Verb> verbs;             // empty: every verb
  std::vector<std::string> resources;  // empty: every resource
  std::vector<std::string> names;      // globs (* and ?); empty: every name
};

struct Role {
  std::string name;
  std::vector<Rule> rules;
};

class Authorizer {
 public:
  Authorizer();

  // OK, or PermissionDenied naming identity, verb and object. Node
  // identities are refused everything here (they call the agent API).
  absl::Status Check(const Identity& who, const Permission& what) const;
  bool Allowed(const Identity& who, const Permission& what) const { return Check(who, what).ok(); }
  // A built-in role by that name exists.
  bool KnownRole(const std::string& role) const;

 private:
  // The role's rules with a deployer's glob applied.
  std::vector<Rule> RulesOf(const Identity& who) const;

  std::vector<Role> roles_;
};

// Shell-style glob: '*' any run, '?' one character.
bool GlobMatch(const std::string& pattern, const std::string& text);

}  // namespace gantry::identity
