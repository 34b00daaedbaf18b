#include "common/spec/sandbox.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace gantry::spec {

using gantry::v1::ContainerDefinition;

const std::vector<std::string>& KnownCapabilities() {
  static const auto* caps = new std::vector<std::string>{"CAP_CHOWN",
                                                         "CAP_DAC_OVERRIDE",
                                                         "CAP_DAC_READ_SEARCH",
                                                         "CAP_FOWNER",
                                                         "CAP_FSETID",
                                                         "CAP_KILL",
                                                         "CAP_SETGID",
                                                         "CAP_SETUID",
                                                         "CAP_SETPCAP",
                                                         "CAP_LINUX_IMMUTABLE",
                                                         "CAP_NET_BIND_SERVICE",
                                                         "CAP_NET_BROADCAST",
                                                         "CAP_NET_ADMIN",
                                                         "CAP_NET_RAW",
                                                         "CAP_IPC_LOCK",
                                                         "CAP_IPC_OWNER",
                                                         "CAP_SYS_MODULE",
                                                         "CAP_SYS_RAWIO",
                                                         "CAP_SYS_CHROOT",
                                                         "CAP_SYS_PTRACE",
                                                         "CAP_SYS_PACCT",
                                                         "CAP_SYS_ADMIN",
                                                         "CAP_SYS_BOOT",
                                                         "CAP_SYS_NICE",
                                                         "CAP_SYS_RESOURCE",
                                                         "CAP_SYS_TIME",
                                                         "CAP_SYS_TTY_CONFIG",
                                                         "CAP_MKNOD",
                                                         "CAP_LEASE",
                                                         "CAP_AUDIT_WRITE",
                                                         "CAP_AUDIT_CONTROL",
                                                         "CAP_SETFCAP",
                                                         "CAP_MAC_OVERRIDE",
                                                         "CAP_MAC_ADMIN",
                                                         "CAP_SYSLOG",
                                                         "CAP_WAKE_ALARM",
                                                         "CAP_BLOCK_SUSPEND",
                                                         "CAP_AUDIT_READ",
                                                         "CAP_PERFMON",
                                                         "CAP_BPF",
                                                         "CAP_CHECKPOINT_RESTORE"};
  return *caps;
}

const std::vector<std::string>& DefaultCapabilities() {
  static const auto* caps = new std::vector<std::string>{
      "CAP_CHOWN",      "CAP_DAC_OVERRIDE", "CAP_FSETID",          "CAP_FOWNER",  "CAP_MKNOD",
      "CAP_SETGID",     "CAP_SETUID",       "CAP_SETFCAP",         "CAP_SETPCAP", "CAP_KILL",
      "CAP_SYS_CHROOT", "CAP_AUDIT_WRITE",  "CAP_NET_BIND_SERVICE"};
  return *caps;
}

std::optional<std::string> CanonicalCapability(absl::string_view name) {
  std::string upper = absl::AsciiStrToUpper(name);
  if (!absl::StartsWith(upper, "CAP_")) upper = absl::StrCat("CAP_", upper);
  const auto& known = KnownCapabilities();
  if (std::find(known.begin(), known.end(), upper) == known.end()) return std::nullopt;
  return upper;
}

namespace {

bool DropsAll(const ContainerDefinition& c) {
  const auto& drop = c.linux_parameters().capabilities().drop();
  return std::any_of(drop.begin(), drop.end(),
                     [](const std::string& d) { return absl::AsciiStrToUpper(d) == "ALL"; });
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

std::vector<std::string> EffectiveCapabilities(const ContainerDefinition& c) {
  const auto& caps = c.linux_parameters().capabilities();
  std::vector<std::string> out;
  if (!DropsAll(c)) {
    std::set<std::string> dropped;
    for (const auto& d : caps.drop()) {
      if (auto cap = CanonicalCapability(d)) dropped.insert(*cap);
    }
    for (const auto& cap : DefaultCapabilities()) {
      if (!dropped.contains(cap)) out.push_back(cap);
    }
  }
  for (const auto& a : caps.add()) {
    auto cap = CanonicalCapability(a);
    if (cap && !Contains(out, *cap)) out.push_back(*cap);
  }
  return out;
}

std::vector<std::string> AddedCapabilities(const ContainerDefinition& c) {
  std::vector<std::string> out;
  for (const auto& a : c.linux_parameters().capabilities().add()) {
    auto cap = CanonicalCapability(a);
    if (!cap || Contains(DefaultCapabilities(), *cap)) continue;
    std::string bare = cap->substr(4);
    if (!Contains(out, bare)) out.push_back(std::move(bare));
  }
  return out;
}

std::optional<std::string> RlimitType(absl::string_view name) {
  static const auto* names = new std::set<std::string>{
      "as",   "core",   "cpu",   "data", "fsize",  "locks",  "memlock",    "msgqueue",
      "nice", "nofile", "nproc", "rss",  "rtprio", "rttime", "sigpending", "stack"};
  if (!names->contains(std::string(name))) return std::nullopt;
  return absl::StrCat("RLIMIT_", absl::AsciiStrToUpper(name));
}

std::optional<uint32_t> NumericId(absl::string_view id) {
  uint32_t n = 0;
  if (id.empty() || !absl::ascii_isdigit(id[0]) || !absl::SimpleAtoi(id, &n)) return std::nullopt;
  return n;
}

UserSpec SplitUser(absl::string_view user) {
  const size_t colon = user.find(':');
  if (colon == absl::string_view::npos) return {std::string(user), ""};
  return {std::string(user.substr(0, colon)), std::string(user.substr(colon + 1))};
}

namespace {

// A POSIX-ish account name (what useradd accepts) or a number below
// 2^32 - 1 (-1 means "no change" to the kernel).
std::string IdProblem(absl::string_view id, const char* what) {
  if (id.empty()) return absl::StrCat("the ", what, " is empty");
  if (absl::ascii_isdigit(id[0])) {
    auto n = NumericId(id);
    if (!n || *n == 4294967295u) return absl::StrCat(what, " id \"", id, "\" is out of range");
    return "";
  }
  if (id.size() > 32) return absl::StrCat(what, " name \"", id, "\" is longer than 32 characters");
  for (char ch : id) {
    if (!absl::ascii_isalnum(ch) && ch != '_' && ch != '-' && ch != '.') {
      return absl::StrCat(what, " name \"", id,
                          "\" may hold only letters, digits, '_', '-' and '.'");
    }
  }
  return "";
}

void ValidateCapabilities(const ContainerDefinition& c, const std::string& path,
                          std::vector<FieldError>& errors) {
  const auto& caps = c.linux_parameters().capabilities();
  const std::string base = path + ".linuxParameters.capabilities";
  auto check = [&](const auto& list, const char* key, bool allow_all) {
    for (int i = 0; i < list.size(); ++i) {
      const std::string& name = list[i];
      if (allow_all && absl::AsciiStrToUpper(name) == "ALL") continue;
      if (!CanonicalCapability(name)) {
        errors.push_back({absl::StrCat(base, ".", key, "[", i, "]"),
                          absl::StrCat("\"", name,
                                       "\" is not a Linux capability (e.g. NET_ADMIN, SYS_PTRACE; "
                                       "see capabilities(7))")});
      }
    }
  };
  check(caps.add(), "add", false);
  check(caps.drop(), "drop", true);
}

void ValidateUlimits(const ContainerDefinition& c, const std::string& path,
                     std::vector<FieldError>& errors) {
  std::set<std::string> seen;
  for (int i = 0; i < c.ulimits_size(); ++i) {
    const auto& u = c.ulimits(i);
    const std::string field = absl::StrCat(path, ".ulimits[", i, "]");
    if (!RlimitType(u.name())) {
      errors.push_back({field + ".name",
                        absl::StrCat("\"", u.name(),
                                     "\" is not a resource limit; use one of as, core, cpu, data, "
                                     "fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, "
                                     "rtprio, rttime, sigpending, stack")});
      continue;
    }
    if (!seen.insert(u.name()).second) {
      errors.push_back({field + ".name", absl::StrCat("\"", u.name(), "\" is set twice")});
    }
    if (u.soft_limit() < 0 || u.hard_limit() < 0) {
      errors.push_back({field, "softLimit and hardLimit must not be negative"});
    } else if (u.soft_limit() > u.hard_limit()) {
      errors.push_back({field + ".softLimit",
                        absl::StrCat(u.soft_limit(), " is above hardLimit ", u.hard_limit())});
    }
  }
}

}  // namespace

std::string UserProblem(absl::string_view user) {
  if (std::count(user.begin(), user.end(), ':') > 1) {
    return "expected NAME, UID, NAME:GROUP or UID:GID";
  }
  const UserSpec spec = SplitUser(user);
  if (std::string p = IdProblem(spec.user, "user"); !p.empty()) return p;
  if (absl::StrContains(user, ':')) return IdProblem(spec.group, "group");
  return "";
}

void ValidateSandbox(const ContainerDefinition& c, const std::string& path,
                     std::vector<FieldError>& errors) {
  if (c.pids_limit() < 0 || c.pids_limit() > kMaxPidsLimit) {
    errors.push_back({path + ".pidsLimit", absl::StrCat("must be between 1 and ", kMaxPidsLimit,
                                                        " (default ", kDefaultPidsLimit, ")")});
  }
  if (!c.user().empty()) {
    if (std::string p = UserProblem(c.user()); !p.empty()) errors.push_back({path + ".user", p});
  }
  ValidateUlimits(c, path, errors);
  ValidateCapabilities(c, path, errors);
}

}  // namespace gantry::spec
