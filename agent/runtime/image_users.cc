#include "agent/runtime/image_users.h"

#include <optional>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/spec/sandbox.h"

namespace gantry::agent {

namespace {

// One line of /etc/passwd or /etc/group split on ':'; nullopt for
// comments, blank lines and lines with fewer than `fields` fields.
std::optional<std::vector<std::string>> Fields(absl::string_view line, size_t fields) {
  if (line.empty() || line[0] == '#') return std::nullopt;
  std::vector<std::string> parts = absl::StrSplit(line, ':');
  if (parts.size() < fields) return std::nullopt;
  return parts;
}

struct PasswdEntry {
  std::string name;
  uint32_t uid = 0;
  uint32_t gid = 0;
};

// The first entry whose name (or, for a number, uid) matches.
std::optional<PasswdEntry> FindUser(const std::string& passwd, absl::string_view user) {
  const std::optional<uint32_t> number = spec::NumericId(user);
  for (absl::string_view line : absl::StrSplit(passwd, '\n')) {
    auto f = Fields(line, 4);
    if (!f) continue;
    PasswdEntry e{(*f)[0]};
    if (!absl::SimpleAtoi((*f)[2], &e.uid) || !absl::SimpleAtoi((*f)[3], &e.gid)) continue;
    if (number ? e.uid == *number : e.name == user) return e;
  }
  return std::nullopt;
}

struct GroupEntry {
  std::string name;
  uint32_t gid = 0;
  std::vector<std::string> members;
};

std::vector<GroupEntry> Groups(const std::string& group) {
  std::vector<GroupEntry> out;
  for (absl::string_view line : absl::StrSplit(group, '\n')) {
    auto f = Fields(line, 3);
    if (!f) continue;
    GroupEntry g{(*f)[0]};
    if (!absl::SimpleAtoi((*f)[2], &g.gid)) continue;
    if (f->size() > 3 && !(*f)[3].empty()) g.members = absl::StrSplit((*f)[3], ',');
    out.push_back(std::move(g));
  }
  return out;
}

}  // namespace

absl::StatusOr<ProcessUser> ResolveUser(const std::string& user, const std::string& passwd,
                                        const std::string& group) {
  ProcessUser out;
  if (user.empty()) return out;  // the image says nothing: root
  if (std::string problem = spec::UserProblem(user); !problem.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("user \"", user, "\": ", problem));
  }
  const spec::UserSpec parts = spec::SplitUser(user);
  const std::optional<PasswdEntry> entry = FindUser(passwd, parts.user);
  if (auto uid = spec::NumericId(parts.user)) {
    out.uid = *uid;
    out.gid = entry ? entry->gid : *uid;
  } else if (entry) {
    out.uid = entry->uid;
    out.gid = entry->gid;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("user \"", parts.user,
                     "\" is not in the image's /etc/passwd; use a numeric UID[:GID] or a user "
                     "the image defines"));
  }
  const std::vector<GroupEntry> groups = Groups(group);
  if (!parts.group.empty()) {
    if (auto gid = spec::NumericId(parts.group)) {
      out.gid = *gid;
      return out;
    }
    for (const GroupEntry& g : groups) {
      if (g.name == parts.group) {
        out.gid = g.gid;
        return out;
      }
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "group \"", parts.group, "\" is not in the image's /etc/group; use a numeric GID"));
  }
  if (!entry) return out;
  for (const GroupEntry& g : groups) {
    if (g.gid == out.gid) continue;
    for (const std::string& m : g.members) {
      if (m == entry->name) {
        out.additional_gids.push_back(g.gid);
        break;
      }
    }
  }
  return out;
}

}  // namespace gantry::agent
