#include "common/access/role_validation.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/access/vocabulary.h"

namespace gantry::access {
namespace {

constexpr size_t kMaxDescription = 200;
constexpr int kMaxRules = 100;
constexpr int kMaxEntries = 50;
constexpr size_t kMaxGlob = 200;

bool DnsLabelChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

bool GlobChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '*' ||
         c == '?' || c == '.' || c == '_' || c == '-';
}

std::string Quoted(const std::string& s) {
  return absl::StrCat("\"", s.size() > 80 ? s.substr(0, 80) + "..." : s, "\"");
}

std::string AllowedVerbs() {
  std::vector<std::string> names = {kAll};
  for (Verb v : AllVerbs()) names.push_back(VerbName(v));
  return absl::StrJoin(names, ", ");
}

// What a custom role may name: everything but the admin-only resources.
std::string AllowedResources() {
  std::vector<std::string> names = {kAll};
  for (const Resource& r : AllResources()) {
    if (!AdminOnly(Verb::kGet, r.plural)) names.push_back(r.plural);
  }
  return absl::StrJoin(names, ", ");
}

class RoleChecker {
 public:
  explicit RoleChecker(std::vector<spec::FieldError>& errors) : errors_(errors) {}

  void CheckRule(const gantry::v1::RoleRule& rule, const std::string& path) {
    if (Count(rule.verbs_size(), path + ".verbs", "verb, e.g. [get, list]")) {
      for (int i = 0; i < rule.verbs_size(); ++i) {
        CheckVerb(rule.verbs(i), absl::StrCat(path, ".verbs[", i, "]"));
      }
    }
    if (Count(rule.resources_size(), path + ".resources", "resource, e.g. [services]")) {
      for (int i = 0; i < rule.resources_size(); ++i) {
        CheckResource(rule, rule.resources(i), absl::StrCat(path, ".resources[", i, "]"));
      }
    }
    if (rule.names_size() > kMaxEntries) {
      Add(path + ".names",
          absl::StrCat("at most ", kMaxEntries, " globs, got ", rule.names_size()));
      return;
    }
    for (int i = 0; i < rule.names_size(); ++i) {
      CheckGlob(rule.names(i), absl::StrCat(path, ".names[", i, "]"));
    }
  }

 private:
  void Add(std::string field, std::string problem) {
    errors_.push_back({std::move(field), std::move(problem)});
  }

  // False (after saying so) when the list is empty or too long.
  bool Count(int n, const std::string& field, const char* example) {
    if (n == 0) {
      Add(field, absl::StrCat("required: at least one ", example, ", or [\"*\"] for all"));
      return false;
    }
    if (n > kMaxEntries) {
      Add(field, absl::StrCat("at most ", kMaxEntries, " entries, got ", n));
      return false;
    }
    return true;
  }

  void CheckVerb(const std::string& verb, const std::string& field) {
    if (verb == kAll || ParseVerb(verb).has_value()) return;
    Add(field,
        absl::StrCat("unknown verb ", Quoted(verb), " (expected one of: ", AllowedVerbs(), ")"));
  }

  void CheckResource(const gantry::v1::RoleRule& rule, const std::string& resource,
                     const std::string& field) {
    if (resource == kAll) return;
    const Resource* known = FindResource(resource);
    if (known == nullptr) {
      const Resource* plural = FindResource(resource + "s");
      Add(field, absl::StrCat(
                     "unknown resource ", Quoted(resource),
                     plural != nullptr ? absl::StrCat(" (did you mean ", plural->plural, "?)") : "",
                     " (expected one of: ", AllowedResources(), ")"));
      return;
    }
    if (AdminOnly(Verb::kGet, resource)) {
      Add(field, absl::StrCat(known->plural_words,
                              " are the built-in admin role's alone: a custom role cannot grant "
                              "anything on tokens or join tokens, so no token it allows can make "
                              "a stronger one"));
      return;
    }
    for (const std::string& verb : rule.verbs()) {
      const auto v = ParseVerb(verb);
      if (verb == kAll || (v.has_value() && AdminOnly(*v, resource))) {
        Add(field,
            absl::StrCat("a custom role may only get and list ", known->plural_words, ", not ",
                         verb == kAll ? std::string("every verb (\"*\")") : verb,
                         ": applying and deleting roles is the built-in admin role's alone"));
        return;
      }
    }
  }

  void CheckGlob(const std::string& glob, const std::string& field) {
    if (glob.empty()) {
      Add(field, "an empty glob matches nothing; use \"*\" for every name or leave names out");
    } else if (glob.size() > kMaxGlob) {
      Add(field, absl::StrCat("longer than ", kMaxGlob, " characters"));
    } else if (!std::all_of(glob.begin(), glob.end(), GlobChar)) {
      Add(field, absl::StrCat(Quoted(glob),
                              " may hold only letters, digits, '.', '_', '-' and the wildcards "
                              "'*' and '?' (for example web*)"));
    }
  }

  std::vector<spec::FieldError>& errors_;
};

}  // namespace

std::string RoleNameProblem(const std::string& name) {
  const char* rule = " (a DNS label: 1 to 63 of a-z, 0-9 and '-', not starting or ending with '-')";
  if (name.empty()) return absl::StrCat("required", rule);
  if (name.size() > 63) return absl::StrCat(Quoted(name), " is longer than 63 characters", rule);
  if (!std::all_of(name.begin(), name.end(), DnsLabelChar)) {
    return absl::StrCat(Quoted(name), " has a character other than a-z, 0-9 and '-'", rule);
  }
  if (name.front() == '-' || name.back() == '-') {
    return absl::StrCat(Quoted(name), " starts or ends with '-'", rule);
  }
  if (IsBuiltInRoleName(name)) {
    return absl::StrCat(Quoted(name), " is a built-in role (",
                        absl::StrJoin(BuiltInRoleNames(), ", "),
                        "), which cannot be changed; pick another name");
  }
  return "";
}

std::vector<spec::FieldError> ValidateRole(const gantry::v1::Role& role) {
  std::vector<spec::FieldError> errors;
  if (auto problem = RoleNameProblem(role.name()); !problem.empty()) {
    errors.push_back({"name", problem});
  }
  const std::string& d = role.description();
  if (d.size() > kMaxDescription) {
    errors.push_back({"description", absl::StrCat("longer than ", kMaxDescription, " characters")});
  } else if (std::any_of(d.begin(), d.end(),
                         [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
    errors.push_back({"description",
                      "holds a control character (such as a newline); use "
                      "printable text only"});
  }
  if (role.rules_size() == 0) {
    errors.push_back({"rules",
                      "required: at least one rule of verbs, resources and (optional) "
                      "names, e.g. [{verbs: [scale], resources: [services], names: "
                      "[\"web*\"]}]"});
  } else if (role.rules_size() > kMaxRules) {
    errors.push_back(
        {"rules", absl::StrCat("at most ", kMaxRules, " rules, got ", role.rules_size())});
  } else {
    RoleChecker checker(errors);
    for (int i = 0; i < role.rules_size(); ++i) {
      checker.CheckRule(role.rules(i), absl::StrCat("rules[", i, "]"));
    }
  }
  return errors;
}

}  // namespace gantry::access
