#include "ctl/yaml_doc.h"

#include "absl/strings/str_join.h"
#include "common/quantity.h"
#include "common/time_util.h"

namespace gantry::ctl {

bool CheckKeys(Doc& doc, const YAML::Node& map, const std::string& path,
               const std::set<std::string>& allowed) {
  if (!map.IsMap()) {
    doc.Fail(map, path.empty() ? "document" : path, "expected a mapping");
    return false;
  }
  for (const auto& kv : map) {
    const std::string key = kv.first.as<std::string>();
    if (!allowed.contains(key)) {
      doc.Fail(kv.first, path.empty() ? key : absl::StrCat(path, ".", key),
               absl::StrCat("unknown field (expected one of: ", absl::StrJoin(allowed, ", "), ")"));
      return false;
    }
  }
  return true;
}

std::string Scalar(Doc& doc, const YAML::Node& n, const std::string& field) {
  if (!n.IsScalar()) {
    doc.Fail(n, field, "expected a single value");
    return "";
  }
  return n.Scalar();
}

int64_t Integer(Doc& doc, const YAML::Node& n, const std::string& field, int64_t min, int64_t max) {
  if (!n.IsScalar()) {
    doc.Fail(n, field, "expected a number");
    return 0;
  }
  int64_t v = 0;
  try {
    v = n.as<int64_t>();
  } catch (const YAML::Exception&) {
    doc.Fail(n, field, absl::StrCat("expected a whole number, got \"", n.Scalar(), "\""));
    return 0;
  }
  if (v < min || v > max) {
    doc.Fail(n, field, absl::StrCat("must be between ", min, " and ", max, ", got ", v));
  }
  return v;
}

double Real(Doc& doc, const YAML::Node& n, const std::string& field) {
  if (!n.IsScalar()) {
    doc.Fail(n, field, "expected a number");
    return 0;
  }
  try {
    return n.as<double>();
  } catch (const YAML::Exception&) {
    doc.Fail(n, field, absl::StrCat("expected a number, got \"", n.Scalar(), "\""));
    return 0;
  }
}

bool Bool(Doc& doc, const YAML::Node& n, const std::string& field) {
  try {
    return n.as<bool>();
  } catch (const YAML::Exception&) {
    doc.Fail(n, field, "expected true or false");
    return false;
  }
}

std::vector<std::string> StringList(Doc& doc, const YAML::Node& n, const std::string& field,
                                    const std::string& example) {
  std::vector<std::string> out;
  if (!n.IsSequence()) {
    doc.Fail(n, field, absl::StrCat("expected a list of strings, e.g. ", example));
    return out;
  }
  for (size_t i = 0; i < n.size(); ++i) {
    out.push_back(Scalar(doc, n[i], absl::StrCat(field, "[", i, "]")));
  }
  return out;
}

void DurationField(Doc& doc, const YAML::Node& v, const std::string& field,
                   google::protobuf::Duration& out) {
  auto d = ParseDurationText(Scalar(doc, v, field));
  if (!d.ok()) {
    doc.Fail(v, field, std::string(d.status().message()));
  } else {
    out = ToProtoDuration(*d);
  }
}

void NameObject(Doc& doc, const YAML::Node& n, const char* key, const char* kind) {
  std::string name;
  if (n.IsMap() && n[key] && n[key].IsScalar()) name = n[key].as<std::string>();
  doc.set_prefix(absl::StrCat(doc.prefix(), " (", kind, " ", name, ")"));
}

}  // namespace gantry::ctl
