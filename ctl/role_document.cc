#include "ctl/role_document.h"

namespace gantry::ctl {
namespace {

void ParseRule(Doc& doc, const YAML::Node& n, const std::string& path, gantry::v1::RoleRule& rule) {
  if (!CheckKeys(doc, n, path, {"verbs", "resources", "names"})) return;
  if (const YAML::Node v = n["verbs"]) {
    for (auto& s : StringList(doc, v, path + ".verbs", "[get, list, scale]")) {
      rule.add_verbs(std::move(s));
    }
  }
  if (const YAML::Node r = n["resources"]) {
    for (auto& s : StringList(doc, r, path + ".resources", "[services, tasks]")) {
      rule.add_resources(std::move(s));
    }
  }
  if (const YAML::Node names = n["names"]) {
    for (auto& s : StringList(doc, names, path + ".names", "[\"web*\"]")) {
      rule.add_names(std::move(s));
    }
  }
}

}  // namespace

void ParseRole(Doc& doc, const YAML::Node& n, gantry::v1::Role& role) {
  NameObject(doc, n, "name", "Role");
  if (!CheckKeys(doc, n, "", {"kind", "name", "description", "rules"})) return;
  if (n["name"]) role.set_name(Scalar(doc, n["name"], "name"));
  if (n["description"]) role.set_description(Scalar(doc, n["description"], "description"));
  const YAML::Node rules = n["rules"];
  if (!rules) return;  // validation reports it
  if (!rules.IsSequence()) {
    doc.Fail(rules, "rules", "expected a list of {verbs, resources, names}");
    return;
  }
  for (size_t i = 0; i < rules.size() && doc.ok(); ++i) {
    ParseRule(doc, rules[i], absl::StrCat("rules[", i, "]"), *role.add_rules());
  }
}

}  // namespace gantry::ctl
