#include "common/yaml_guard.h"

#include <optional>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/parser.h"

namespace gantry {
namespace {

// Remembers where each document starts; `stuck` is set when one starts no
// later than the one before it, which is yaml-cpp making no progress.
class ProgressCheck : public YAML::EventHandler {
 public:
  std::optional<YAML::Mark> stuck;

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (started_ && mark.pos <= last_pos_) stuck = mark;
    started_ = true;
    last_pos_ = mark.pos;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

 private:
  bool started_ = false;
  int last_pos_ = 0;
};

std::string Where(absl::string_view source, const YAML::Mark& mark) {
  return absl::StrCat(source, ": line ", mark.line + 1, ", column ", mark.column + 1);
}

}  // namespace

absl::StatusOr<std::vector<YAML::Node>> LoadYamlDocuments(const std::string& text,
                                                          absl::string_view source) {
  if (text.size() > kMaxYamlBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": ", text.size(), " bytes is larger than the limit of ", kMaxYamlBytes));
  }
  try {
    std::istringstream in(text);
    YAML::Parser parser(in);
    ProgressCheck check;
    while (parser.HandleNextDocument(check)) {
      if (!check.stuck) continue;
      const YAML::Mark& at = *check.stuck;
      const std::string what = at.pos >= 0 && static_cast<size_t>(at.pos) < text.size()
                                   ? absl::StrCat("'", std::string(1, text[at.pos]), "'")
                                   : std::string("the end of the text");
      return absl::InvalidArgumentError(
          absl::StrCat(Where(source, at), ": invalid YAML: no value can start with ", what,
                       " (a ',' outside [ ] or { } must be quoted)"));
    }
    return YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(Where(source, e.mark), ": invalid YAML: ", e.msg));
  }
}

}  // namespace gantry
