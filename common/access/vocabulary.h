#pragma once

// The words permissions are made of: the verbs an operator call needs and
// the resources (by plural name) it acts on, plus the line custom roles may
// not cross. Shared by the control plane's Authorizer and by Role
// validation in gantryctl, so a Role document is checked against the very
// sets the Authorizer decides over.
//
// Pure and immutable; thread-safe.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gantry::access {

// kRead: a secret's value (`gantryctl secret get --reveal`); kGet on a
// secret is its metadata only. kUse: a privilege a task definition asks
// for, e.g. use capability NET_ADMIN.
enum class Verb {
  kGet,
  kList,
  kApply,
  kScale,
  kUndo,
  kDelete,
  kUpdate,
  kLogs,
  kCreate,
  kRevoke,
  kRead,
  kUse
};

// Every verb, in declaration order.
const std::vector<Verb>& AllVerbs();
// "get", "scale", ...: what Role documents and refusals say.
const char* VerbName(Verb verb);
std::optional<Verb> ParseVerb(std::string_view name);

struct Resource {
  const char* plural;        // "taskdefinitions": what rules and permissions name
  const char* singular;      // "task definition": what refusals say
  const char* plural_words;  // "task definitions"
};

// Every resource: services, taskdefinitions, tasks, nodes, events, images,
// endpoints, roles, tokens, jointokens, audit (the audit log; only listed),
// controlplanes, snapshots, secrets, secretkeys, capabilities (Linux
// capabilities a container adds, by name without CAP_: only used),
// networks (a task definition's networkMode: "host" needs use on it),
// networkacls (`kind: NetworkAcl`).
const std::vector<Resource>& AllResources();
// Null when `plural` names no resource.
const Resource* FindResource(std::string_view plural);

// True for what only the built-in admin role may do: anything on tokens
// and join tokens, store snapshots, the secrets' key-encryption key, and
// changing roles (everything but get and list).
// Only admin creates tokens, and a token's role is what it may do; were a
// custom role able to grant these, its holder could mint a token with a
// stronger role (or widen its own role) — so no custom role grants them,
// whatever its rules say.
bool AdminOnly(Verb verb, std::string_view resource);

// "admin", "deployer", "viewer", "lb": names no custom role may take.
const std::vector<std::string>& BuiltInRoleNames();
bool IsBuiltInRoleName(std::string_view name);

}  // namespace gantry::access
