#include "common/access/vocabulary.h"

#include <algorithm>

namespace gantry::access {

const std::vector<Verb>& AllVerbs() {
  static const auto* verbs = new std::vector<Verb>{
      Verb::kGet,    Verb::kList, Verb::kApply,  Verb::kScale,  Verb::kUndo, Verb::kDelete,
      Verb::kUpdate, Verb::kLogs, Verb::kCreate, Verb::kRevoke, Verb::kRead, Verb::kUse};
  return *verbs;
}

const char* VerbName(Verb verb) {
  switch (verb) {
    case Verb::kGet:
      return "get";
    case Verb::kList:
      return "list";
    case Verb::kApply:
      return "apply";
    case Verb::kScale:
      return "scale";
    case Verb::kUndo:
      return "undo";
    case Verb::kDelete:
      return "delete";
    case Verb::kUpdate:
      return "update";
    case Verb::kLogs:
      return "logs";
    case Verb::kCreate:
      return "create";
    case Verb::kRevoke:
      return "revoke";
    case Verb::kRead:
      return "read";
    case Verb::kUse:
      return "use";
  }
  return "unknown";
}

std::optional<Verb> ParseVerb(std::string_view name) {
  for (Verb verb : AllVerbs()) {
    if (name == VerbName(verb)) return verb;
  }
  return std::nullopt;
}

const std::vector<Resource>& AllResources() {
  static const auto* resources = new std::vector<Resource>{
      {"services", "service", "services"},
      {"taskdefinitions", "task definition", "task definitions"},
      {"tasks", "task", "tasks"},
      {"nodes", "node", "nodes"},
      {"events", "event", "events"},
      {"images", "image", "images"},
      {"endpoints", "endpoint", "endpoints"},
      {"roles", "role", "roles"},
      {"tokens", "token", "tokens"},
      {"jointokens", "join token", "join tokens"},
      {"audit", "audit record", "audit records"},
      {"controlplanes", "control plane replica", "control plane replicas"},
      {"snapshots", "store snapshot", "store snapshots"},
      {"secrets", "secret", "secrets"},
      {"secretkeys", "secrets' key-encryption key", "secrets' key-encryption keys"},
      {"capabilities", "capability", "capabilities"},
      {"networks", "network", "networks"},
      {"networkacls", "network ACL", "network ACLs"},
  };
  return *resources;
}

const Resource* FindResource(std::string_view plural) {
  for (const Resource& r : AllResources()) {
    if (plural == r.plural) return &r;
  }
  return nullptr;
}

bool AdminOnly(Verb verb, std::string_view resource) {
  // A snapshot holds everything, token hashes included.
  // The secrets' key seals every secret.
  if (resource == "tokens" || resource == "jointokens" || resource == "snapshots" ||
      resource == "secretkeys") {
    return true;
  }
  return resource == "roles" && verb != Verb::kGet && verb != Verb::kList;
}

const std::vector<std::string>& BuiltInRoleNames() {
  static const auto* names = new std::vector<std::string>{"admin", "deployer", "viewer", "lb"};
  return *names;
}

bool IsBuiltInRoleName(std::string_view name) {
  const auto& names = BuiltInRoleNames();
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace gantry::access
