#include "controlplane/identity/token_registry.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/time_util.h"
#include "controlplane/identity/names.h"
#include "controlplane/identity/tokens.h"
#include "controlplane/store/list_watch.h"

namespace gantry::identity {
namespace {

using gantry::v1::CreateJoinTokenResponse;
using gantry::v1::CreateTokenResponse;
using gantry::v1::RevokedNode;
using gantry::v1::StoredJoinToken;
using gantry::v1::StoredToken;
using gantry::v1::TokenInfo;

constexpr char kTokenPrefix[] = "/identity/tokens/";
constexpr char kJoinTokenPrefix[] = "/identity/jointokens/";
constexpr char kRevokedPrefix[] = "/identity/revoked/";

constexpr size_t kMaxDescription = 200;
constexpr size_t kMaxServicesGlob = 200;
constexpr absl::Duration kDefaultJoinTtl = absl::Minutes(15);
// Last use is a hint for operators, not an audit trail: writing it on every
// call would turn each authenticated request into a store write.
constexpr absl::Duration kLastUsedResolution = absl::Minutes(1);
// A new random id colliding with a stored one is a 1-in-2^48 event; a few
// attempts make it a non-event.
constexpr int kCreateAttempts = 3;
// Compare-and-swap retries before giving up on a busy record.
constexpr int kUpdateAttempts = 5;

constexpr char kNewJoinToken[] = "create a new one with gantryctl node join-token create";

std::string TokenKey(const std::string& accessor) { return kTokenPrefix + accessor; }
std::string JoinTokenKey(const std::string& id) { return kJoinTokenPrefix + id; }
std::string RevokedKey(const std::string& node) { return kRevokedPrefix + node; }

TokenInfo ToInfo(const StoredToken& t) {
  TokenInfo info;
  info.set_accessor(t.accessor());
  info.set_role(t.role());
  info.set_services(t.services());
  info.set_description(t.description());
  if (t.has_created_at()) *info.mutable_created_at() = t.created_at();
  if (t.has_expires_at()) *info.mutable_expires_at() = t.expires_at();
  if (t.has_last_used_at()) *info.mutable_last_used_at() = t.last_used_at();
  info.set_revoked(t.revoked());
  return info;
}

absl::Status ValidateDescription(const std::string& description) {
  if (description.size() > kMaxDescription) {
    return absl::InvalidArgumentError(absl::StrCat("the token description is ", description.size(),
                                                   " characters long; at most ", kMaxDescription,
                                                   " are allowed"));
  }
  for (unsigned char c : description) {
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(
          "the token description holds a control character (such as a newline or tab); use "
          "printable text only");
    }
  }
  return absl::OkStatus();
}

bool ServicesGlobChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '*' ||
         c == '?' || c == '.' || c == '_' || c == '-';
}

absl::Status ValidateServicesGlob(const std::string& services) {
  if (services.size() > kMaxServicesGlob) {
    return absl::InvalidArgumentError(absl::StrCat("the services glob is ", services.size(),
                                                   " characters long; at most ", kMaxServicesGlob,
                                                   " are allowed"));
  }
  if (!std::all_of(services.begin(), services.end(), ServicesGlobChar)) {
    return absl::InvalidArgumentError(
        "the services glob may hold only letters, digits, '.', '_', '-' and the wildcards '*' "
        "and '?' (for example web*)");
  }
  return absl::OkStatus();
}

absl::Status ValidateTtl(absl::Duration ttl) {
  if (ttl < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the ttl must not be negative (zero means the default)");
  }
  return absl::OkStatus();
}

// Writes `value` at `key` if the key is still at `mod_revision` (0: absent).
// False when someone else changed it first.
absl::StatusOr<bool> PutIfUnchanged(store::Store* store, const std::string& key,
                                    int64_t mod_revision, const std::string& value) {
  store::TxnRequest txn;
  txn.compares.push_back({key, mod_revision});
  txn.ops.push_back(store::Op::Put(key, value));
  auto result = store->Txn(txn);
  if (!result.ok()) return result.status();
  return result->succeeded;
}

absl::Status Corrupt(const std::string& key) {
  return absl::DataLossError(
      absl::StrCat("the store record ", key, " cannot be decoded; delete and recreate it"));
}

absl::Status NotAJoinToken(const absl::Status& parse_error) {
  return absl::UnauthenticatedError(absl::StrCat("the credentials are ", parse_error.message()));
}

// Every check on a join token except the compare-and-swap that consumes it.
absl::Status CheckJoinToken(const StoredJoinToken& t, const ParsedToken& parsed,
                            const std::string& node_name, absl::Time now) {
  if (!SecretMatches(t.secret_sha256(), parsed.secret)) {
    return absl::UnauthenticatedError("the join token is not known to this cluster");
  }
  if (t.used()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "join token ", t.id(), " was already used (by node ", t.used_by(), "); ", kNewJoinToken));
  }
  if (t.has_expires_at() && now >= FromProtoTime(t.expires_at())) {
    return absl::UnauthenticatedError(
        absl::StrCat("join token ", t.id(), " has expired; ", kNewJoinToken));
  }
  if (!t.node_name().empty() && t.node_name() != node_name) {
    return absl::PermissionDeniedError(absl::StrCat(
        "join token ", t.id(), " is for node ", t.node_name(), ", not ", node_name,
        "; join with --node-name ", t.node_name(), " or create a token for ", node_name));
  }
  return absl::OkStatus();
}

}  // namespace

TokenRegistry::TokenRegistry(store::Store* store, const Clock* clock)
    : store_(store), clock_(clock) {}

TokenRegistry::~TokenRegistry() { watch_.reset(); }

absl::Status TokenRegistry::Start() {
  auto watch =
      store::ListAndWatch(store_, kIdentityRoot, [this](const auto& events, bool replace_all) {
        std::lock_guard<std::mutex> lock(mu_);
        if (replace_all) {
          tokens_.clear();
          join_tokens_.clear();
          revoked_nodes_.clear();
        }
        Apply(events);
      });
  if (!watch.ok()) return watch.status();
  watch_ = std::move(*watch);
  return absl::OkStatus();
}

void TokenRegistry::Apply(const std::vector<store::Event>& events) {
  for (const auto& e : events) {
    const std::string& key = e.kv.key;
    const bool put = e.type == store::Event::Type::kPut;
    std::map<std::string, store::KeyValue>* records = nullptr;
    std::string id;
    if (absl::StartsWith(key, kTokenPrefix)) {
      records = &tokens_;
      id = key.substr(sizeof(kTokenPrefix) - 1);
    } else if (absl::StartsWith(key, kJoinTokenPrefix)) {
      records = &join_tokens_;
      id = key.substr(sizeof(kJoinTokenPrefix) - 1);
    } else if (absl::StartsWith(key, kRevokedPrefix)) {
      const std::string node = key.substr(sizeof(kRevokedPrefix) - 1);
      RevokedNode r;
      if (!put) {
        revoked_nodes_.erase(node);
      } else if (r.ParseFromString(e.kv.value)) {
        revoked_nodes_[node] = FromProtoTime(r.revoked_at());
      } else {
        spdlog::error("identity: cannot decode {}; ignoring it", key);
      }
      continue;
    } else {
      continue;
    }
    if (put) {
      (*records)[id] = e.kv;
    } else {
      records->erase(id);
    }
  }
}

absl::StatusOr<CreateTokenResponse> TokenRegistry::CreateToken(const std::string& role,
                                                               const std::string& services,
                                                               absl::Duration ttl,
                                                               const std::string& description) {
  if (role.empty()) return absl::InvalidArgumentError("a token needs a role");
  if (auto st = ValidateDescription(description); !st.ok()) return st;
  if (auto st = ValidateServicesGlob(services); !st.ok()) return st;
  if (auto st = ValidateTtl(ttl); !st.ok()) return st;
  const absl::Time now = clock_->Now();
  for (int attempt = 0; attempt < kCreateAttempts; ++attempt) {
    auto made = MakeToken(TokenKind::kOperator);
    if (!made.ok()) return made.status();
    StoredToken t;
    t.set_accessor(made->id);
    t.set_secret_sha256(made->secret_sha256);
    t.set_role(role);
    t.set_services(services);
    t.set_description(description);
    *t.mutable_created_at() = ToProtoTime(now);
    if (ttl > absl::ZeroDuration()) *t.mutable_expires_at() = ToProtoTime(now + ttl);
    auto put = PutIfUnchanged(store_, TokenKey(t.accessor()), 0, t.SerializeAsString());
    if (!put.ok()) return put.status();
    if (!*put) continue;
    CreateTokenResponse out;
    out.set_token(made->token);
    *out.mutable_info() = ToInfo(t);
    spdlog::info("identity: created token {} (role {})", t.accessor(), role);
    return out;
  }
  return absl::InternalError("could not pick an unused token accessor; try again");
}

absl::StatusOr<Identity> TokenRegistry::Authenticate(const std::string& token) {
  auto parsed = ParseToken(token, TokenKind::kOperator);
  if (!parsed.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("the credentials are ", parsed.status().message()));
  }
  store::KeyValue kv;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tokens_.find(parsed->id);
    if (it != tokens_.end()) kv = it->second;
  }
  StoredToken t;
  // A wrong secret reads like an unknown token: the answer tells a guesser
  // nothing about which accessors exist.
  if (kv.key.empty() || !t.ParseFromString(kv.value) ||
      !SecretMatches(t.secret_sha256(), parsed->secret)) {
    return absl::UnauthenticatedError(
        "the token is not known to this cluster (was it made for another control plane?)");
  }
  if (t.revoked()) {
    return absl::UnauthenticatedError(absl::StrCat("token ", t.accessor(), " was revoked"));
  }
  const absl::Time now = clock_->Now();
  if (t.has_expires_at() && now >= FromProtoTime(t.expires_at())) {
    return absl::UnauthenticatedError(absl::StrCat(
        "token ", t.accessor(), " has expired; create a new one with gantryctl token create"));
  }
  if (!t.has_last_used_at() || now - FromProtoTime(t.last_used_at()) >= kLastUsedResolution) {
    *t.mutable_last_used_at() = ToProtoTime(now);
    // Outside mu_: the commit runs our watch callback on this thread. A
    // conflict means someone else just wrote the record; last use can wait.
    auto put = PutIfUnchanged(store_, kv.key, kv.mod_revision, t.SerializeAsString());
    if (!put.ok()) {
      spdlog::warn("identity: cannot record last use of token {}: {}", t.accessor(),
                   put.status().message());
    }
  }
  Identity who;
  who.kind = Identity::Kind::kOperatorToken;
  who.name = t.description().empty() ? t.accessor() : t.description();
  who.accessor = t.accessor();
  who.role = t.role();
  who.services = t.services();
  return who;
}

std::vector<TokenInfo> TokenRegistry::ListTokens() const {
  std::vector<TokenInfo> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    out.reserve(tokens_.size());
    for (const auto& [accessor, kv] : tokens_) {
      StoredToken t;
      if (!t.ParseFromString(kv.value)) {
        spdlog::error("identity: cannot decode {}; leaving it out of the list", kv.key);
        continue;
      }
      out.push_back(ToInfo(t));
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const TokenInfo& a, const TokenInfo& b) {
    return FromProtoTime(a.created_at()) < FromProtoTime(b.created_at());
  });
  return out;
}

absl::StatusOr<TokenInfo> TokenRegistry::RevokeToken(const std::string& accessor) {
  const std::string key = TokenKey(accessor);
  for (int attempt = 0; attempt < kUpdateAttempts; ++attempt) {
    // From the store, not the cache: another control plane may have
    // created the token a moment ago.
    auto kv = store_->Get(key);
    if (!kv.ok()) return kv.status();
    if (!kv->has_value()) {
      return absl::NotFoundError(absl::StrCat("token ", accessor,
                                              " is not known to this cluster; gantryctl token "
                                              "list shows the accessors"));
    }
    StoredToken t;
    if (!t.ParseFromString((*kv)->value)) return Corrupt(key);
    if (t.revoked()) return ToInfo(t);
    t.set_revoked(true);
    auto put = PutIfUnchanged(store_, key, (*kv)->mod_revision, t.SerializeAsString());
    if (!put.ok()) return put.status();
    if (*put) {
      spdlog::info("identity: revoked token {}", accessor);
      return ToInfo(t);
    }
  }
  return absl::AbortedError(
      absl::StrCat("token ", accessor, " kept changing while being revoked; try again"));
}

absl::StatusOr<std::optional<std::string>> TokenRegistry::EnsureBootstrapAdmin() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [accessor, kv] : tokens_) {
      StoredToken t;
      if (t.ParseFromString(kv.value) && t.role() == "admin" && !t.revoked()) {
        return std::optional<std::string>();
      }
    }
  }
  auto created = CreateToken("admin", "", absl::ZeroDuration(), "bootstrap admin");
  if (!created.ok()) return created.status();
  return std::optional<std::string>(created->token());
}

absl::StatusOr<CreateJoinTokenResponse> TokenRegistry::CreateJoinToken(const std::string& node_name,
                                                                       absl::Duration ttl) {
  if (!node_name.empty()) {
    if (auto st = ValidateNodeName(node_name); !st.ok()) return st;
  }
  if (auto st = ValidateTtl(ttl); !st.ok()) return st;
  if (ttl == absl::ZeroDuration()) ttl = kDefaultJoinTtl;
  const absl::Time now = clock_->Now();
  for (int attempt = 0; attempt < kCreateAttempts; ++attempt) {
    auto made = MakeToken(TokenKind::kJoin);
    if (!made.ok()) return made.status();
    StoredJoinToken t;
    t.set_id(made->id);
    t.set_secret_sha256(made->secret_sha256);
    t.set_node_name(node_name);
    *t.mutable_created_at() = ToProtoTime(now);
    *t.mutable_expires_at() = ToProtoTime(now + ttl);
    auto put = PutIfUnchanged(store_, JoinTokenKey(t.id()), 0, t.SerializeAsString());
    if (!put.ok()) return put.status();
    if (!*put) continue;
    CreateJoinTokenResponse out;
    out.set_token(made->token);
    *out.mutable_expires_at() = t.expires_at();
    out.set_node_name(node_name);
    spdlog::info("identity: created join token {}{}", t.id(),
                 node_name.empty() ? "" : absl::StrCat(" for node ", node_name));
    return out;
  }
  return absl::InternalError("could not pick an unused join token id; try again");
}

absl::Status TokenRegistry::ConsumeJoinToken(const std::string& token,
                                             const std::string& node_name) {
  auto parsed = ParseToken(token, TokenKind::kJoin);
  if (!parsed.ok()) return NotAJoinToken(parsed.status());
  if (auto st = ValidateNodeName(node_name); !st.ok()) return st;
  const std::string key = JoinTokenKey(parsed->id);
  std::optional<store::KeyValue> kv;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = join_tokens_.find(parsed->id);
    if (it != join_tokens_.end()) kv = it->second;
  }
  for (int attempt = 0; attempt < kUpdateAttempts; ++attempt) {
    if (!kv.has_value()) {
      // Not cached (yet): the token may come from another control plane.
      auto read = store_->Get(key);
      if (!read.ok()) return read.status();
      kv = std::move(*read);
    }
    if (!kv.has_value()) {
      return absl::UnauthenticatedError(
          "the join token is not known to this cluster (was it made for another control plane?)");
    }
    StoredJoinToken t;
    if (!t.ParseFromString(kv->value)) return Corrupt(key);
    const absl::Time now = clock_->Now();
    if (auto st = CheckJoinToken(t, *parsed, node_name, now); !st.ok()) return st;
    t.set_used(true);
    t.set_used_by(node_name);
    *t.mutable_used_at() = ToProtoTime(now);
    auto put = PutIfUnchanged(store_, key, kv->mod_revision, t.SerializeAsString());
    if (!put.ok()) return put.status();
    if (*put) {
      spdlog::info("identity: node {} joined with join token {}", node_name, t.id());
      return absl::OkStatus();
    }
    // Someone changed it first (most likely another agent consuming it):
    // re-read and judge again, which reports "already used".
    kv.reset();
  }
  return absl::AbortedError(
      absl::StrCat("join token ", parsed->id, " kept changing while being used; try again"));
}

absl::Status TokenRegistry::RevokeNode(const std::string& node_name) {
  if (node_name.empty()) return absl::InvalidArgumentError("revoking a node needs its name");
  RevokedNode r;
  r.set_node_name(node_name);
  *r.mutable_revoked_at() = ToProtoTime(clock_->Now());
  store::TxnRequest txn;
  txn.ops.push_back(store::Op::Put(RevokedKey(node_name), r.SerializeAsString()));
  auto result = store_->Txn(txn);
  if (!result.ok()) return result.status();
  spdlog::info("identity: revoked the certificates of node {}", node_name);
  return absl::OkStatus();
}

bool TokenRegistry::NodeRevoked(const std::string& node_name, absl::Time issued_at) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = revoked_nodes_.find(node_name);
  return it != revoked_nodes_.end() && issued_at <= it->second;
}

}  // namespace gantry::identity
