#pragma once

// Who may do what: a pure decision over an identity, a verb, a resource and
// an object name (default deny). The built-in roles:
//   admin     everything
//   deployer  apply, scale, undo and logs on services (and task definition
//             families) matching its services glob, and apply (reference
//             from a task definition), create and update on the secrets it
//             matches; get and list on the cluster's objects, roles and
//             secrets' metadata (not tokens)
//   viewer    get and list on the cluster's objects and roles (not tokens);
//             sees no environment values
//   lb        list endpoints
// and custom roles (`kind: Role`), found through a RoleSource: rules of
// verbs x resources x name globs. Built-in names always mean the built-in
// roles; a custom role cannot take one. A secret's value (verb read) is
// admin's, or a custom role's that grants it.
//
// Privilege escalation: only admin may create tokens and apply or delete
// roles, and a role is usable only through a token (or certificate) an
// admin made for it. No custom role grants anything on tokens or join
// tokens, nor changes to roles (access::AdminOnly), whatever its rules say:
// so no holder of a custom role can mint a token, or write a role, that
// does more than an admin chose. Keep it so.
//
// A refusal is PermissionDenied naming the identity, the verb and the
// object: token "ci-web" (role deployer) may not scale service db. A token
// whose custom role was deleted is refused everything, saying so.
//
// Thread-safe: immutable; the RoleSource must be thread-safe.

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/access/vocabulary.h"
#include "controlplane/identity/identity.h"

namespace gantry::identity {

using access::Verb;
using access::VerbName;

// Resources by their plural name (access::AllResources): "services",
// "taskdefinitions", "tasks", "nodes", "events", "images", "endpoints",
// "roles", "tokens", "jointokens", and "audit" (the audit log: admin, or a
// custom role that grants listing it).
struct Permission {
  Verb verb = Verb::kGet;
  std::string resource;
  std::string name;  // "" for lists and creations of unnamed objects
};

struct Rule {
  std::vector<Verb> verbs;             // empty: every verb
  std::vector<std::string> resources;  // empty: every resource
  std::vector<std::string> names;      // globs (* and ?); empty: every name
};

struct Role {
  std::string name;
  std::vector<Rule> rules;
  std::string description;
};

// Where the Authorizer finds custom roles (RoleRegistry in the control
// plane, a map in tests). Implementations must be thread-safe.
class RoleSource {
 public:
  virtual ~RoleSource() = default;
  // The custom role by that name, or nullopt.
  virtual std::optional<Role> FindRole(const std::string& name) const = 0;
};

class Authorizer {
 public:
  // `custom_roles` may be null (built-in roles only); it must outlive this.
  explicit Authorizer(const RoleSource* custom_roles = nullptr);

  // OK, or PermissionDenied naming identity, verb and object. Node
  // identities are refused everything here (they call the agent API).
  absl::Status Check(const Identity& who, const Permission& what) const;
  bool Allowed(const Identity& who, const Permission& what) const { return Check(who, what).ok(); }
  // A built-in or custom role by that name exists.
  bool KnownRole(const std::string& role) const;
  // admin, deployer, viewer and lb, in that order. The deployer's rules name
  // its services with the placeholder kServicesGlob.
  const std::vector<Role>& built_in_roles() const { return built_in_; }

  // Stands, in a built-in rule, for the caller's services glob.
  static constexpr char kServicesGlob[] = "<services>";

 private:
  const Role* BuiltIn(const std::string& name) const;
  // The built-in role's rules with a deployer's glob applied.
  std::vector<Rule> BuiltInRules(const Role& role, const Identity& who) const;

  std::vector<Role> built_in_;
  const RoleSource* const custom_;
};

// Shell-style glob: '*' any run, '?' one character.
bool GlobMatch(const std::string& pattern, const std::string& text);

}  // namespace gantry::identity
