#include "ctl/sandbox_parser.h"

#include "absl/strings/str_cat.h"
#include "common/spec/sandbox.h"

namespace gantry::ctl {

const std::set<std::string>& SandboxKeys() {
  static const auto* keys = new std::set<std::string>{"pidsLimit", "readonlyRootFilesystem", "user",
                                                      "ulimits", "linuxParameters"};
  return *keys;
}

namespace {

void ParseUlimits(Doc& doc, const YAML::Node& v, const std::string& field,
                  gantry::v1::ContainerDefinition& c) {
  if (!v.IsSequence()) {
    doc.Fail(v, field,
             "expected a list of {name, softLimit, hardLimit}, e.g. [{name: nofile, "
             "softLimit: 1024, hardLimit: 4096}]");
    return;
  }
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string up = absl::StrCat(field, "[", i, "]");
    if (!CheckKeys(doc, v[i], up, {"name", "softLimit", "hardLimit"})) return;
    auto* u = c.add_ulimits();
    if (v[i]["name"]) u->set_name(Scalar(doc, v[i]["name"], up + ".name"));
    // As Docker does: a limit given once is both soft and hard.
    const YAML::Node soft = v[i]["softLimit"];
    const YAML::Node hard = v[i]["hardLimit"];
    if (!soft && !hard) {
      doc.Fail(v[i], up, "set softLimit, hardLimit or both");
      return;
    }
    const int64_t max = int64_t{1} << 62;
    if (soft) u->set_soft_limit(Integer(doc, soft, up + ".softLimit", 0, max));
    if (hard) u->set_hard_limit(Integer(doc, hard, up + ".hardLimit", 0, max));
    if (!soft) u->set_soft_limit(u->hard_limit());
    if (!hard) u->set_hard_limit(u->soft_limit());
  }
}

void ParseLinuxParameters(Doc& doc, const YAML::Node& v, const std::string& field,
                          gantry::v1::ContainerDefinition& c) {
  if (!CheckKeys(doc, v, field, {"capabilities"})) return;
  const YAML::Node caps = v["capabilities"];
  if (!caps) return;
  const std::string cf = field + ".capabilities";
  if (!CheckKeys(doc, caps, cf, {"add", "drop"})) return;
  auto* out = c.mutable_linux_parameters()->mutable_capabilities();
  const std::string example = "[NET_ADMIN]";
  if (caps["add"]) {
    for (auto& s : StringList(doc, caps["add"], cf + ".add", example)) out->add_add(std::move(s));
  }
  if (caps["drop"]) {
    for (auto& s : StringList(doc, caps["drop"], cf + ".drop", example)) {
      out->add_drop(std::move(s));
    }
  }
}

}  // namespace

void ParseSandboxField(Doc& doc, const std::string& key, const YAML::Node& v,
                       const std::string& field, gantry::v1::ContainerDefinition& c) {
  if (key == "pidsLimit") {
    c.set_pids_limit(Integer(doc, v, field, 1, spec::kMaxPidsLimit));
  } else if (key == "readonlyRootFilesystem") {
    c.set_readonly_root_filesystem(Bool(doc, v, field));
  } else if (key == "user") {
    c.set_user(Scalar(doc, v, field));
  } else if (key == "ulimits") {
    ParseUlimits(doc, v, field, c);
  } else if (key == "linuxParameters") {
    ParseLinuxParameters(doc, v, field, c);
  }
}

}  // namespace gantry::ctl
