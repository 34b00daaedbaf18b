#include "controlplane/identity/authorizer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace gantry::identity {
namespace {

// Stands, in a built-in rule, for the caller's services glob.
constexpr char kServicesGlob[] = "<services>";

const std::vector<std::string>& ClusterObjects() {
  static const auto* objects = new std::vector<std::string>{
      "services", "taskdefinitions", "tasks", "nodes", "events", "images", "endpoints"};
  return *objects;
}

std::vector<Role> BuiltInRoles() {
  const std::vector<Verb> read = {Verb::kGet, Verb::kList};
  return {
      Role{"admin", {Rule{}}},
      Role{"deployer",
           {Rule{{Verb::kApply, Verb::kScale, Verb::kUndo, Verb::kLogs},
                 {"services", "taskdefinitions"},
                 {kServicesGlob}},
            Rule{read, ClusterObjects(), {}}}},
      Role{"viewer", {Rule{read, ClusterObjects(), {}}}},
      Role{"lb", {Rule{{Verb::kList}, {"endpoints"}, {}}}},
  };
}

struct ResourceNames {
  const char* plural;
  const char* singular;
  const char* plural_words;
};

constexpr ResourceNames kResourceNames[] = {
    {"services", "service", "services"},
    {"taskdefinitions", "task definition", "task definitions"},
    {"tasks", "task", "tasks"},
    {"nodes", "node", "nodes"},
    {"events", "event", "events"},
    {"images", "image", "images"},
    {"endpoints", "endpoint", "endpoints"},
    {"tokens", "token", "tokens"},
    {"jointokens", "join token", "join tokens"},
    {"audit", "audit record", "audit records"},
};

// "scale service db", "create token", "list tokens".
std::string Action(const Permission& what) {
  std::string singular = what.resource;
  std::string plural = what.resource;
  for (const auto& r : kResourceNames) {
    if (what.resource == r.plural) {
      singular = r.singular;
      plural = r.plural_words;
    }
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

}  // namespace

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
  }
  return "unknown";
}

Authorizer::Authorizer() : roles_(BuiltInRoles()) {}

bool Authorizer::KnownRole(const std::string& role) const {
  return std::any_of(roles_.begin(), roles_.end(), [&](const Role& r) { return r.name == role; });
}

std::vector<Rule> Authorizer::RulesOf(const Identity& who) const {
  auto role =
      std::find_if(roles_.begin(), roles_.end(), [&](const Role& r) { return r.name == who.role; });
  if (role == roles_.end()) return {};
  std::vector<Rule> rules = role->rules;
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
  if (!KnownRole(who.role)) {
    return absl::PermissionDeniedError(absl::StrCat(
        refused, ": role ", who.role, " is not known; use admin, deployer, viewer or lb"));
  }
  const std::vector<Rule> rules = RulesOf(who);
  if (std::any_of(rules.begin(), rules.end(),
                  [&](const Rule& rule) { return RuleAllows(rule, what); })) {
    return absl::OkStatus();
  }
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
