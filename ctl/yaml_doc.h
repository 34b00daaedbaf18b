#pragma once

// How gantryctl reads one YAML document it applies: a Doc collects the
// first error with the document's prefix, the line and the field path
// ("web.yaml: document 2 (Service web): line 4: desiredCount: ..."), and
// the helpers below read typed values, reporting what they expected. Used
// by spec_parser.cc and role_document.cc. Not thread-safe (one per
// document).

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/duration.pb.h"
#include "yaml-cpp/yaml.h"

namespace gantry::ctl {

// Collects the first error for a document; later checks stop once set.
class Doc {
 public:
  explicit Doc(std::string prefix) : prefix_(std::move(prefix)) {}
  void Fail(const YAML::Node& at, const std::string& field, const std::string& problem) {
    if (!error_.empty()) return;
    error_ = absl::StrCat(field, ": ", problem);
    if (at.IsDefined() && at.Mark().line >= 0) {
      error_ = absl::StrCat("line ", at.Mark().line + 1, ": ", error_);
    }
  }
  bool ok() const { return error_.empty(); }
  absl::Status status() const {
    return absl::InvalidArgumentError(absl::StrCat(prefix_, ": ", error_));
  }
  void set_prefix(std::string p) { prefix_ = std::move(p); }
  const std::string& prefix() const { return prefix_; }

 private:
  std::string prefix_;
  std::string error_;
};

// False (after failing) unless `map` is a mapping whose keys are all in
// `allowed`; `path` "" is the document itself.
bool CheckKeys(Doc& doc, const YAML::Node& map, const std::string& path,
               const std::set<std::string>& allowed);
std::string Scalar(Doc& doc, const YAML::Node& n, const std::string& field);
int64_t Integer(Doc& doc, const YAML::Node& n, const std::string& field, int64_t min, int64_t max);
double Real(Doc& doc, const YAML::Node& n, const std::string& field);
bool Bool(Doc& doc, const YAML::Node& n, const std::string& field);
// `example` completes "expected a list of strings, e.g. ".
std::vector<std::string> StringList(Doc& doc, const YAML::Node& n, const std::string& field,
                                    const std::string& example = "[\"/bin/sh\", \"-c\", \"...\"]");
void DurationField(Doc& doc, const YAML::Node& v, const std::string& field,
                   google::protobuf::Duration& out);
// Names the object in every later error, "(Service web)", as soon as its
// name can be read, so even an unknown field says whose it is.
void NameObject(Doc& doc, const YAML::Node& n, const char* key, const char* kind);

}  // namespace gantry::ctl
