#include "common/spec/secret_refs.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace gantry::spec {
namespace {

// Where a secret file may not go: kernel and runtime mounts, and what the
// agent itself mounts.
constexpr const char* kReservedDirs[] = {"/proc", "/sys", "/dev"};
constexpr const char* kReservedFiles[] = {"/etc/resolv.conf", "/etc/hosts", "/etc/hostname"};

std::string FileProblem(const std::string& file) {
  if (file.empty() || file.front() != '/') {
    return absl::StrCat("\"", file, "\": expected an absolute path such as /run/secrets/db");
  }
  if (file.size() > 255) return "longer than 255 characters";
  if (file.back() == '/') return absl::StrCat("\"", file, "\" names a directory, not a file");
  for (absl::string_view part : absl::StrSplit(file.substr(1), '/')) {
    if (part.empty() || part == "." || part == "..") {
      return absl::StrCat("\"", file, "\": no empty, '.' or '..' path elements");
    }
  }
  for (char c : file) {
    if (!absl::ascii_isprint(static_cast<unsigned char>(c)) || c == ',' || c == ':') {
      return absl::StrCat("\"", file, "\": only printable characters other than ',' and ':'");
    }
  }
  for (const char* dir : kReservedDirs) {
    if (absl::StartsWith(file, absl::StrCat(dir, "/")) || file == dir) {
      return absl::StrCat("\"", file, "\" is under ", dir, ", which the runtime mounts");
    }
  }
  for (const char* reserved : kReservedFiles) {
    if (file == reserved) return absl::StrCat("\"", file, "\" is set up by the runtime");
  }
  return "";
}

size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string SecretNameProblem(absl::string_view name) {
  if (name.empty()) return "required";
  if (name.size() > 128) return "longer than 128 characters";
  for (char c : name) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '-' && c != '_' && c != '.') {
      return absl::StrCat("\"", name,
                          "\" may contain only lowercase letters, digits, '-', '_' and '.'");
    }
  }
  if (!absl::ascii_isalnum(name.front())) {
    return absl::StrCat("\"", name, "\" must start with a letter or digit");
  }
  return "";
}

absl::StatusOr<SecretRef> ParseSecretRef(absl::string_view value_from) {
  SecretRef ref;
  const size_t colon = value_from.rfind(':');
  ref.name = std::string(value_from.substr(0, colon));
  if (colon != absl::string_view::npos) {
    const absl::string_view version = value_from.substr(colon + 1);
    if (!absl::SimpleAtoi(version, &ref.version) || ref.version < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", value_from, "\": the version after ':' must be a number from 1, e.g. ",
                       ref.name, ":3"));
    }
  }
  if (auto problem = SecretNameProblem(ref.name); !problem.empty()) {
    return absl::InvalidArgumentError(problem == "required"
                                          ? std::string("required: the secret's name, e.g. "
                                                        "db-password or db-password:3")
                                          : problem);
  }
  return ref;
}

bool IsEnvName(absl::string_view name) {
  if (name.empty() || absl::ascii_isdigit(name.front())) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_') return false;
  }
  return true;
}

void ValidateSecretReferences(const gantry::v1::ContainerDefinition& c, const std::string& path,
                              std::vector<FieldError>& errors) {
  std::set<std::string> names;
  std::set<std::string> files;
  for (int i = 0; i < c.secrets_size(); ++i) {
    const auto& s = c.secrets(i);
    const std::string field = absl::StrCat(path, ".secrets[", i, "]");
    auto add = [&](absl::string_view sub, std::string problem) {
      errors.push_back({absl::StrCat(field, sub), std::move(problem)});
    };
    if (auto ref = ParseSecretRef(s.value_from()); !ref.ok()) {
      add(".valueFrom", std::string(ref.status().message()));
    }
    if (s.name().empty() == s.file().empty()) {
      add("", "give exactly one of name (an environment variable) and file (a path)");
      continue;
    }
    if (!s.name().empty()) {
      if (!IsEnvName(s.name())) {
        add(".name",
            "not a valid variable name (letters, digits and '_', not starting with a digit)");
      } else if (absl::StartsWith(s.name(), "GANTRY_")) {
        add(".name", "names starting with GANTRY_ are set by Gantry");
      } else if (c.environment().contains(s.name())) {
        add(".name", absl::StrCat("\"", s.name(), "\" is also set in environment"));
      } else if (!names.insert(s.name()).second) {
        add(".name", absl::StrCat("\"", s.name(), "\" is set by another secret"));
      }
    } else if (auto problem = FileProblem(s.file()); !problem.empty()) {
      add(".file", problem);
    } else if (!files.insert(s.file()).second) {
      add(".file", absl::StrCat("\"", s.file(), "\" is written by another secret"));
    }
  }
}

std::vector<std::string> CredentialLikeEnvironment(const gantry::v1::TaskDefinition& td) {
  std::vector<std::string> out;
  for (int i = 0; i < td.containers_size(); ++i) {
    std::vector<std::string> keys;
    for (const auto& [key, value] : td.containers(i).environment()) {
      const std::string upper = absl::AsciiStrToUpper(key);
      if (absl::StrContains(upper, "PASSWORD") || absl::StrContains(upper, "PASSWD") ||
          absl::StrContains(upper, "SECRET") || absl::StrContains(upper, "TOKEN") ||
          absl::StrContains(upper, "CREDENTIAL") || absl::EndsWith(upper, "_KEY") ||
          upper == "KEY") {
        keys.push_back(absl::StrCat("containers[", i, "].environment.", key));
      }
    }
    std::sort(keys.begin(), keys.end());  // environment is a map without order
    out.insert(out.end(), keys.begin(), keys.end());
  }
  return out;
}

std::string DidYouMean(absl::string_view name, const std::vector<std::string>& known) {
  const std::string* best = nullptr;
  size_t best_distance = std::max<size_t>(2, name.size() / 4) + 1;
  for (const auto& candidate : known) {
    const size_t d = EditDistance(name, candidate);
    if (d < best_distance) {
      best = &candidate;
      best_distance = d;
    }
  }
  return best == nullptr ? "" : absl::StrCat(" (did you mean \"", *best, "\"?)");
}

}  // namespace gantry::spec
