#include "controlplane/identity/role_registry.h"

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/access/role_validation.h"
#include "common/access/vocabulary.h"
#include "common/log.h"
#include "common/spec/validation.h"
#include "controlplane/store/list_watch.h"

namespace gantry::identity {
namespace {

// Compare-and-swap retries before giving up on a busy record.
constexpr int kUpdateAttempts = 5;

std::string RoleKey(const std::string& name) { return kRolePrefix + name; }

bool HasAll(const google::protobuf::RepeatedPtrField<std::string>& values) {
  return std::find(values.begin(), values.end(), access::kAll) != values.end();
}

// What apply owns of a role; the rest (times, built_in) is the registry's.
gantry::v1::Role Applied(const gantry::v1::Role& in) {
  gantry::v1::Role out;
  out.set_name(in.name());
  out.set_description(in.description());
  *out.mutable_rules() = in.rules();
  return out;
}

}  // namespace

Role RoleFromMessage(const gantry::v1::Role& message) {
  Role role;
  role.name = message.name();
  role.description = message.description();
  for (const auto& in : message.rules()) {
    Rule rule;
    if (!HasAll(in.verbs())) {
      for (const auto& name : in.verbs()) {
        if (auto verb = access::ParseVerb(name)) rule.verbs.push_back(*verb);
      }
      // Empty would mean "every verb": the opposite of what it said.
      if (rule.verbs.empty()) continue;
    }
    if (!HasAll(in.resources())) {
      if (in.resources().empty()) continue;
      rule.resources.assign(in.resources().begin(), in.resources().end());
    }
    rule.names.assign(in.names().begin(), in.names().end());
    role.rules.push_back(std::move(rule));
  }
  return role;
}

gantry::v1::Role RoleToMessage(const Role& role) {
  gantry::v1::Role out;
  out.set_name(role.name);
  out.set_description(role.description);
  for (const Rule& rule : role.rules) {
    auto* r = out.add_rules();
    if (rule.verbs.empty()) r->add_verbs(access::kAll);
    for (Verb verb : rule.verbs) r->add_verbs(VerbName(verb));
    if (rule.resources.empty()) r->add_resources(access::kAll);
    for (const auto& resource : rule.resources) r->add_resources(resource);
    for (const auto& name : rule.names) r->add_names(name);
  }
  return out;
}

RoleRegistry::~RoleRegistry() { watch_.reset(); }

absl::Status RoleRegistry::Start() {
  auto watch = store::WatchNamed(
      store_, kRolePrefix, mu_, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { roles_.clear(); },
      [this](const std::string& name, const store::Event& e)
          ABSL_NO_THREAD_SAFETY_ANALYSIS { Apply(name, e); });
  if (!watch.ok()) return watch.status();
  watch_ = std::move(*watch);
  return absl::OkStatus();
}

void RoleRegistry::Apply(const std::string& name, const store::Event& e) {
  roles_.erase(name);
  if (e.type != store::Event::Type::kPut) return;
  Cached cached;
  if (!cached.message.ParseFromString(e.kv.value)) {
    spdlog::error("identity: cannot decode {}; role {} grants nothing until applied again",
                  e.kv.key, name);
    return;
  }
  // Built-in names among them: a built-in role cannot be overridden.
  if (auto problem = access::RoleNameProblem(name); !problem.empty()) {
    spdlog::error("identity: ignoring {}: the role name {}; delete the record", e.kv.key, problem);
    return;
  }
  if (cached.message.name() != name) {
    spdlog::error(
        "identity: ignoring {}: it holds role \"{}\"; delete the record and apply "
        "the role again",
        e.kv.key, cached.message.name());
    return;
  }
  cached.kv = e.kv;
  cached.role = RoleFromMessage(cached.message);
  roles_[name] = std::move(cached);
}

std::optional<Role> RoleRegistry::FindRole(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = roles_.find(name);
  if (it == roles_.end()) return std::nullopt;
  return it->second.role;
}

std::vector<gantry::v1::Role> RoleRegistry::ListRoles() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<gantry::v1::Role> out;
  out.reserve(roles_.size());
  for (const auto& [name, cached] : roles_) out.push_back(cached.message);
  return out;
}

absl::StatusOr<std::string> RoleRegistry::Stage(const gantry::v1::Role& in,
                                                const google::protobuf::Timestamp& now,
                                                store::TxnRequest& txn) const {
  if (auto st = spec::ErrorsToStatus(absl::StrCat("Role ", in.name()), access::ValidateRole(in));
      !st.ok()) {
    return st;
  }
  gantry::v1::Role role = Applied(in);
  std::optional<Cached> current;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = roles_.find(in.name());
    if (it != roles_.end()) current = it->second;
  }
  const std::string key = RoleKey(role.name());
  if (current.has_value() &&
      google::protobuf::util::MessageDifferencer::Equals(Applied(current->message), role)) {
    return std::string("unchanged");
  }
  *role.mutable_created_at() = current.has_value() ? current->message.created_at() : now;
  *role.mutable_updated_at() = now;
  // A record the cache ignored (undecodable) is still there: replace it.
  int64_t revision = current.has_value() ? current->kv.mod_revision : 0;
  if (!current.has_value()) {
    auto stored = store_->Get(key);
    if (!stored.ok()) return stored.status();
    if (stored->has_value()) revision = (*stored)->mod_revision;
  }
  txn.compares.push_back({key, revision});
  txn.ops.push_back(store::Op::Put(key, role.SerializeAsString()));
  return std::string(revision == 0 ? "created" : "updated");
}

absl::StatusOr<gantry::v1::Role> RoleRegistry::DeleteRole(const std::string& name) {
  if (access::IsBuiltInRoleName(name)) {
    return absl::FailedPreconditionError(
        absl::StrCat("role ", name, " is built in and cannot be deleted"));
  }
  if (auto problem = access::RoleNameProblem(name); !problem.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("role name: ", problem));
  }
  const std::string key = RoleKey(name);
  for (int attempt = 0; attempt < kUpdateAttempts; ++attempt) {
    // From the store, not the cache: another control plane may have
    // applied it a moment ago.
    auto kv = store_->Get(key);
    if (!kv.ok()) return kv.status();
    if (!kv->has_value()) {
      return absl::NotFoundError(
          absl::StrCat("role ", name, " does not exist; gantryctl get roles lists the roles"));
    }
    gantry::v1::Role role;
    if (!role.ParseFromString((*kv)->value)) role.set_name(name);  // deleted all the same
    store::TxnRequest txn;
    txn.compares.push_back({key, (*kv)->mod_revision});
    txn.ops.push_back(store::Op::Delete(key));
    auto result = store_->Txn(txn);
    if (!result.ok()) return result.status();
    if (result->succeeded) {
      spdlog::info("identity: deleted role {}", name);
      return role;
    }
  }
  return absl::AbortedError(
      absl::StrCat("role ", name, " kept changing while being deleted; try again"));
}

}  // namespace gantry::identity
