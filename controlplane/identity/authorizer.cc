#include "controlplane/identity/authorizer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace gantry::identity {
namespace {

const std::vector<std::string>& ReadableObjects() {
  static const auto* objects = new std::vector<std::string>{
      "services",  "taskdefinitions", "tasks", "nodes",   "events",     "images",
      "endpoints", "controlplanes",   "roles", "secrets", "networkacls"};
  return *objects;
}

std::vector<Role> BuiltInRoles() {
  const std::vector<Verb> read = {Verb::kGet, Verb::kList};
  return {
      Role{"admin", {Rule{}}, "everything"},
      Role{"deployer",
           {Rule{{Verb::kApply, Verb::kScale, Verb::kUndo, Verb::kLogs},
                 {"services", "taskdefinitions"},
                 {Authorizer::kServicesGlob}},
            // Its own secrets: write them, and reference them from task
            // definitions (apply); their values only reach its tasks.
            Rule{{Verb::kApply, Verb::kCreate, Verb::kUpdate},
                 {"secrets"},
                 {Authorizer::kServicesGlob}},
            Rule{read, ReadableObjects(), {}}},
           "apply, scale, undo and logs on the services its token's --services glob allows, "
           "and writes and uses the secrets it allows; reads the cluster and roles and "
           "secrets' metadata"},
      Role{"viewer",
           {Rule{read, ReadableObjects(), {}}},
           "reads the cluster, roles and secrets' metadata (environment values redacted)"},
      Role{"lb", {Rule{{Verb::kList}, {"endpoints"}, {}}}, "lists endpoints, for gantry-lb"},
  };
}

// "scale service db", "create token", "list tokens".
std::string Action(const Permission& what) {
  std::string singular = what.resource;
  std::string plural = what.resource;
  if (const access::Resource* r = access::FindResource(what.resource)) {
    singular = r->singular;
    plural = r->plural_words;
  }
  const std::string verb =
      what.verb == Verb::kLogs ? std::string("read the logs of") : VerbName(what.verb);
  if (what.name.empty()) {
    return absl::StrCat(verb, " ", what.verb == Verb::kList ? plural : singular);
  }
  return absl::StrCat(verb, " ", singular, " ", what.name);
}

template <typename T>
bool AnyOrContains(const std::vector<T>& allowed, const T& value) {
  return allowed.empty() || std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}

bool RuleAllows(const Rule& rule, const Permission& what) {
  if (!AnyOrContains(rule.verbs, what.verb)) return false;
  if (!AnyOrContains(rule.resources, what.resource)) return false;
  if (rule.names.empty()) return true;
  return std::any_of(rule.names.begin(), rule.names.end(),
                     [&](const std::string& glob) { return GlobMatch(glob, what.name); });
}

bool AnyRuleAllows(const std::vector<Rule>& rules, const Permission& what) {
  return std::any_of(rules.begin(), rules.end(),
                     [&](const Rule& rule) { return RuleAllows(rule, what); });
}

}  // namespace

Authorizer::Authorizer(const RoleSource* custom_roles)
    : built_in_(BuiltInRoles()), custom_(custom_roles) {}

const Role* Authorizer::BuiltIn(const std::string& name) const {
  auto role = std::find_if(built_in_.begin(), built_in_.end(),
                           [&](const Role& r) { return r.name == name; });
  return role == built_in_.end() ? nullptr : &*role;
}

bool Authorizer::KnownRole(const std::string& role) const {
  if (BuiltIn(role) != nullptr) return true;
  return custom_ != nullptr && custom_->FindRole(role).has_value();
}

std::vector<Rule> Authorizer::BuiltInRules(const Role& role, const Identity& who) const {
  std::vector<Rule> rules = role.rules;
  const std::string glob = who.services.empty() ? "*" : who.services;
  for (Rule& rule : rules) {
    std::replace(rule.names.begin(), rule.names.end(), std::string(kServicesGlob), glob);
  }
  return rules;
}

absl::Status Authorizer::Check(const Identity& who, const Permission& what) const {
  const std::string refused = absl::StrCat(who.Describe(), " may not ", Action(what));
  if (who.is_node()) {
    return absl::PermissionDeniedError(
        absl::StrCat(refused, ": node certificates can call only the agent API"));
  }
  // Built-in names first: a custom role can never stand in for one.
  if (const Role* role = BuiltIn(who.role)) {
    if (AnyRuleAllows(BuiltInRules(*role, who), what)) return absl::OkStatus();
    return absl::PermissionDeniedError(refused);
  }
  const std::optional<Role> custom =
      custom_ != nullptr ? custom_->FindRole(who.role) : std::nullopt;
  if (!custom.has_value()) {
    if (who.kind == Identity::Kind::kOperatorToken) {
      // Tokens are made only for roles that exist, so this one was deleted.
      return absl::PermissionDeniedError(absl::StrCat(
          refused, ": role ", who.role,
          " no longer exists, so this token may do nothing; an admin can apply the role again "
          "or create a token with another role"));
    }
    return absl::PermissionDeniedError(
        absl::StrCat(refused, ": role ", who.role,
                     " is not known; use admin, deployer, viewer, lb or a custom role "
                     "(gantryctl get roles)"));
  }
  if (access::AdminOnly(what.verb, what.resource)) {
    return absl::PermissionDeniedError(
        absl::StrCat(refused,
                     ": only the built-in admin role may; no custom role grants anything on tokens "
                     "or join tokens, or changes to roles"));
  }
  if (AnyRuleAllows(custom->rules, what)) return absl::OkStatus();
  return absl::PermissionDeniedError(refused);
}

// Matches with one remembered backtrack point (the last '*'), so the time is
// at most pattern length x text length, whatever the pattern.
bool GlobMatch(const std::string& pattern, const std::string& text) {
  size_t p = 0;
  size_t t = 0;
  size_t star = std::string::npos;  // position in pattern after the last '*'
  size_t star_text = 0;             // text position that '*' is matched up to
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = ++p;
      star_text = t;
    } else if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (star != std::string::npos) {
      p = star;
      t = ++star_text;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace gantry::identity
