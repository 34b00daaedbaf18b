#include "controlplane/secrets/secret_registry.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/spec/secret_refs.h"
#include "common/time_util.h"
#include "controlplane/store/list_watch.h"

namespace gantry::secrets {
namespace {

// Compare-and-swap retries before giving up on a busy record.
constexpr int kWriteAttempts = 5;

std::string SecretKey(const std::string& name) { return kSecretPrefix + name; }

const gantry::v1::StoredSecret::SealedVersion* FindSealed(const gantry::v1::StoredSecret& stored,
                                                          int64_t version) {
  for (const auto& s : stored.sealed()) {
    if (s.version() == version) return &s;
  }
  return nullptr;
}

absl::Status CheckValue(const std::string& name, const std::string& value) {
  if (auto problem = spec::SecretNameProblem(name); !problem.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("secret name: ", problem));
  }
  if (value.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("secret ", name, ": the value is empty"));
  }
  if (value.size() > spec::kMaxSecretBytes) {
    return absl::InvalidArgumentError(absl::StrCat("secret ", name, ": the value has ",
                                                   value.size(), " bytes; at most ",
                                                   spec::kMaxSecretBytes, " are allowed"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string SealContext(const std::string& name, int64_t version) {
  return absl::StrCat("gantry-secret/", name, "/", version);
}

SecretRegistry::SecretRegistry(store::Store* store, KeyEncryptionKey kek, const Clock* clock)
    : store_(store), clock_(clock) {
  current_ = std::make_shared<const KeyEncryptionKey>(std::move(kek));
  keys_[current_->id()] = current_;
}

std::shared_ptr<const KeyEncryptionKey> SecretRegistry::Current() const {
  std::lock_guard<std::mutex> lock(keys_mu_);
  return current_;
}

std::shared_ptr<const KeyEncryptionKey> SecretRegistry::KeyFor(const std::string& id) const {
  std::lock_guard<std::mutex> lock(keys_mu_);
  auto it = keys_.find(id);
  return it == keys_.end() ? nullptr : it->second;
}

std::string SecretRegistry::current_key_id() const { return Current()->id(); }

void SecretRegistry::ForgetOtherKeys() {
  std::lock_guard<std::mutex> lock(keys_mu_);
  keys_ = {{current_->id(), current_}};
}

absl::StatusOr<int> SecretRegistry::Rewrap(KeyEncryptionKey next_in) {
  auto next = std::make_shared<const KeyEncryptionKey>(std::move(next_in));
  {
    std::lock_guard<std::mutex> lock(keys_mu_);
    keys_[next->id()] = next;
    current_ = next;  // new versions are sealed with it from now on
  }
  int count = 0;
  for (const auto& name : Names()) {
    bool done = false;
    for (int attempt = 0; attempt < kWriteAttempts && !done; ++attempt) {
      auto wrote = RewrapOne(name, *next, count);
      if (!wrote.ok()) return wrote.status();
      done = *wrote;
    }
    if (!done) {
      return absl::AbortedError(
          absl::StrCat("secret ", name, " kept changing while being re-wrapped; run it again"));
    }
  }
  spdlog::info("secrets: re-wrapped {} version(s) with key-encryption key {}", count, next->id());
  return count;
}

// True once the record holds no data key of another key (or is gone).
absl::StatusOr<bool> SecretRegistry::RewrapOne(const std::string& name,
                                               const KeyEncryptionKey& next, int& count) {
  const std::string key = SecretKey(name);
  auto kv = store_->Get(key);
  if (!kv.ok()) return kv.status();
  if (!kv->has_value()) return true;
  gantry::v1::StoredSecret stored;
  if (!stored.ParseFromString((*kv)->value)) {
    return absl::DataLossError(absl::StrCat("secret ", name, ": its record does not decode"));
  }
  int changed = 0;
  for (auto& s : *stored.mutable_sealed()) {
    if (s.kek_id() == next.id()) continue;
    auto from = KeyFor(s.kek_id());
    if (from == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          "secret ", name, " version ", s.version(), " is sealed by key-encryption key ",
          s.kek_id(), ", which this control plane does not have"));
    }
    const Sealed sealed{s.kek_id(), s.wrapped_key(), s.ciphertext()};
    auto rewrapped = secrets::Rewrap(*from, next, sealed, SealContext(name, s.version()));
    if (!rewrapped.ok()) return rewrapped.status();
    s.set_kek_id(rewrapped->kek_id);
    s.set_wrapped_key(rewrapped->wrapped_key);
    ++changed;
  }
  if (changed == 0) return true;
  store::TxnRequest txn;
  txn.compares.push_back({key, (*kv)->mod_revision});
  txn.ops.push_back(store::Op::Put(key, stored.SerializeAsString()));
  auto result = store_->Txn(txn);
  if (!result.ok()) return result.status();
  if (result->succeeded) count += changed;
  return result->succeeded;
}

SecretRegistry::~SecretRegistry() { watch_.reset(); }

absl::Status SecretRegistry::Start() {
  auto watch = store::WatchNamed(
      store_, kSecretPrefix, mu_, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { secrets_.clear(); },
      [this](const std::string& name, const store::Event& e)
          ABSL_NO_THREAD_SAFETY_ANALYSIS { Apply(name, e); });
  if (!watch.ok()) return watch.status();
  watch_ = std::move(*watch);
  return absl::OkStatus();
}

void SecretRegistry::Apply(const std::string& name, const store::Event& e) {
  secrets_.erase(name);
  if (e.type != store::Event::Type::kPut) return;
  gantry::v1::StoredSecret stored;
  if (!stored.ParseFromString(e.kv.value) || stored.metadata().name() != name) {
    spdlog::error("secrets: cannot decode {}; secret {} is unavailable until written again",
                  e.kv.key, name);
    return;
  }
  secrets_[name] = std::move(stored);
}

absl::StatusOr<gantry::v1::Secret> SecretRegistry::Create(const std::string& name,
                                                          const std::string& value,
                                                          const std::string& created_by) {
  return Write(name, value, created_by, /*create=*/true);
}

absl::StatusOr<gantry::v1::Secret> SecretRegistry::Update(const std::string& name,
                                                          const std::string& value,
                                                          const std::string& created_by) {
  return Write(name, value, created_by, /*create=*/false);
}

absl::StatusOr<gantry::v1::Secret> SecretRegistry::Write(const std::string& name,
                                                         const std::string& value,
                                                         const std::string& created_by,
                                                         bool create) {
  if (auto st = CheckValue(name, value); !st.ok()) return st;
  const std::string key = SecretKey(name);
  for (int attempt = 0; attempt < kWriteAttempts; ++attempt) {
    // From the store, not the cache: another control plane may have written
    // a version a moment ago.
    auto kv = store_->Get(key);
    if (!kv.ok()) return kv.status();
    gantry::v1::StoredSecret stored;
    int64_t revision = 0;
    if (kv->has_value()) {
      revision = (*kv)->mod_revision;
      if (!stored.ParseFromString((*kv)->value)) {
        return absl::DataLossError(absl::StrCat("secret ", name, ": its record does not decode; ",
                                                "delete it with gantryctl secret delete ", name));
      }
    }
    if (create && revision != 0) {
      return absl::AlreadyExistsError(absl::StrCat("secret ", name,
                                                   " exists; gantryctl secret update ", name,
                                                   " --from-file FILE writes a new version"));
    }
    if (!create && revision == 0) {
      return absl::NotFoundError(absl::StrCat("no secret ", name, "; gantryctl secret create ",
                                              name, " --from-file FILE creates it"));
    }
    const auto now = ToProtoTime(clock_->Now());
    auto* meta = stored.mutable_metadata();
    meta->set_name(name);
    if (create) *meta->mutable_created_at() = now;
    *meta->mutable_updated_at() = now;
    const int64_t version = meta->current_version() + 1;
    auto sealed = Seal(*Current(), value, SealContext(name, version));
    if (!sealed.ok()) return sealed.status();
    meta->set_current_version(version);
    gantry::v1::Secret::Version info;
    info.set_version(version);
    *info.mutable_created_at() = now;
    info.set_created_by(created_by);
    info.set_size(static_cast<int64_t>(value.size()));
    meta->mutable_versions()->Add(std::move(info));
    std::rotate(meta->mutable_versions()->begin(), meta->mutable_versions()->end() - 1,
                meta->mutable_versions()->end());  // newest first
    auto* s = stored.add_sealed();
    s->set_version(version);
    s->set_kek_id(sealed->kek_id);
    s->set_wrapped_key(sealed->wrapped_key);
    s->set_ciphertext(sealed->ciphertext);
    Prune(stored);
    store::TxnRequest txn;
    txn.compares.push_back({key, revision});
    txn.ops.push_back(store::Op::Put(key, stored.SerializeAsString()));
    auto result = store_->Txn(txn);
    if (!result.ok()) return result.status();
    if (result->succeeded) {
      spdlog::info("secrets: {} is now at version {}", name, version);
      return stored.metadata();
    }
  }
  return absl::AbortedError(
      absl::StrCat("secret ", name, " kept changing while being written; try again"));
}

void SecretRegistry::Prune(gantry::v1::StoredSecret& stored) const {
  const auto& meta = stored.metadata();
  if (meta.versions_size() <= kKeptVersions) return;
  std::set<int64_t> keep;
  if (in_use_) keep = in_use_(meta.name());
  for (int i = 0; i < kKeptVersions; ++i) keep.insert(meta.versions(i).version());
  gantry::v1::StoredSecret pruned;
  *pruned.mutable_metadata() = meta;
  pruned.mutable_metadata()->clear_versions();
  for (const auto& v : meta.versions()) {
    if (keep.contains(v.version())) *pruned.mutable_metadata()->add_versions() = v;
  }
  for (const auto& s : stored.sealed()) {
    if (keep.contains(s.version())) *pruned.add_sealed() = s;
  }
  stored = std::move(pruned);
}

absl::StatusOr<gantry::v1::Secret> SecretRegistry::Delete(const std::string& name) {
  const std::string key = SecretKey(name);
  for (int attempt = 0; attempt < kWriteAttempts; ++attempt) {
    auto kv = store_->Get(key);
    if (!kv.ok()) return kv.status();
    if (!kv->has_value()) {
      return absl::NotFoundError(
          absl::StrCat("no secret ", name, "; gantryctl secret list lists them"));
    }
    gantry::v1::StoredSecret stored;
    if (!stored.ParseFromString((*kv)->value)) stored.mutable_metadata()->set_name(name);
    store::TxnRequest txn;
    txn.compares.push_back({key, (*kv)->mod_revision});
    txn.ops.push_back(store::Op::Delete(key));
    auto result = store_->Txn(txn);
    if (!result.ok()) return result.status();
    if (result->succeeded) {
      spdlog::info("secrets: deleted {}", name);
      return stored.metadata();
    }
  }
  return absl::AbortedError(
      absl::StrCat("secret ", name, " kept changing while being deleted; try again"));
}

std::optional<gantry::v1::Secret> SecretRegistry::Get(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = secrets_.find(name);
  if (it == secrets_.end()) return std::nullopt;
  return it->second.metadata();
}

std::vector<gantry::v1::Secret> SecretRegistry::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<gantry::v1::Secret> out;
  out.reserve(secrets_.size());
  for (const auto& [name, stored] : secrets_) out.push_back(stored.metadata());
  return out;
}

absl::StatusOr<SecretRegistry::Revealed> SecretRegistry::Reveal(const std::string& name,
                                                                int64_t version) const {
  Sealed sealed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = secrets_.find(name);
    if (it == secrets_.end()) return absl::NotFoundError(absl::StrCat("no secret ", name));
    if (version == 0) version = it->second.metadata().current_version();
    const auto* s = FindSealed(it->second, version);
    if (s == nullptr) {
      return absl::NotFoundError(absl::StrCat("secret ", name, " has no version ", version,
                                              " (kept: the newest ", kKeptVersions,
                                              " and those deployments pin)"));
    }
    sealed = {s->kek_id(), s->wrapped_key(), s->ciphertext()};
  }
  auto kek = KeyFor(sealed.kek_id);
  if (kek == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("secret ", name, " version ", version, " is sealed by key-encryption key ",
                     sealed.kek_id, " and this control plane has key ", current_key_id(),
                     "; give every replica the same --secrets-key-file"));
  }
  auto value = Open(*kek, sealed, SealContext(name, version));
  if (!value.ok()) {
    return absl::DataLossError(absl::StrCat("secret ", name, " version ", version,
                                            " does not open: ", value.status().message()));
  }
  return Revealed{version, std::move(*value)};
}

int64_t SecretRegistry::CurrentVersion(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = secrets_.find(name);
  return it == secrets_.end() ? 0 : it->second.metadata().current_version();
}

bool SecretRegistry::HasVersion(const std::string& name, int64_t version) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = secrets_.find(name);
  return it != secrets_.end() && FindSealed(it->second, version) != nullptr;
}

std::vector<std::string> SecretRegistry::Names() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, stored] : secrets_) out.push_back(name);
  return out;
}

}  // namespace gantry::secrets
