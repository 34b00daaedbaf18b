#include "controlplane/store/etcd_store.h"

#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_util.h"
#include "controlplane/store/etcd_watch.h"

namespace gantry::store {
namespace {

constexpr int64_t kPage = 1000;

// etcd has no empty key: "everything" is the range ["\0", "\0").
std::string FirstKey(const std::string& prefix) {
  return prefix.empty() ? std::string(1, '\0') : prefix;
}

KeyValue FromEtcd(const mvccpb::KeyValue& kv) {
  return KeyValue{kv.key(), kv.value(), kv.create_revision(), kv.mod_revision()};
}

// Several ops on one key in one transaction: etcd refuses them, while the
// Store contract lets the last one win. Keeps the last op per key.
std::vector<const Op*> LastOpPerKey(const std::vector<Op>& ops) {
  std::map<std::string, size_t> last;
  for (size_t i = 0; i < ops.size(); ++i) last[ops[i].key] = i;
  std::vector<const Op*> out;
  for (size_t i = 0; i < ops.size(); ++i) {
    if (last[ops[i].key] == i) out.push_back(&ops[i]);
  }
  return out;
}

std::string Mib(size_t bytes) {
  return absl::StrCat(bytes / (1024 * 1024), ".", (bytes % (1024 * 1024)) * 10 / (1024 * 1024),
                      " MiB");
}

}  // namespace

class EtcdStore::Handle final : public WatchHandle {
 public:
  Handle(EtcdStore* store, std::shared_ptr<EtcdWatch> watch)
      : store_(store), watch_(std::move(watch)) {}
  ~Handle() override {
    watch_->Stop();
    store_->Unregister(watch_.get());
  }

 private:
  EtcdStore* const store_;
  std::shared_ptr<EtcdWatch> watch_;
};

EtcdStore::EtcdStore(Options options, std::unique_ptr<EtcdClient> client)
    : options_(std::move(options)), client_(std::move(client)) {}

EtcdStore::~EtcdStore() {
  std::set<std::shared_ptr<EtcdWatch>> watches;
  {
    std::lock_guard<std::mutex> lock(mu_);
    watches = watches_;
  }
  for (const auto& w : watches) w->Stop();
}

absl::StatusOr<std::unique_ptr<EtcdStore>> EtcdStore::Open(const Options& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<EtcdClient> client, EtcdClient::Create(options.etcd));
  std::unique_ptr<EtcdStore> store(new EtcdStore(options, std::move(client)));
  // Reading one key tells whether etcd answers and where its revision is.
  auto probe = store->Get("/gantry/");
  if (!probe.ok()) {
    return absl::UnavailableError(
        absl::StrCat(probe.status().message(),
                     "; check that etcd is running and that --store lists its client URLs (and "
                     "--etcd-ca/--etcd-cert/--etcd-key when it serves TLS)"));
  }
  return store;
}

void EtcdStore::SawRevision(int64_t revision) {
  int64_t seen = revision_.load();
  while (revision > seen && !revision_.compare_exchange_weak(seen, revision)) {
  }
}

absl::StatusOr<std::optional<KeyValue>> EtcdStore::Get(absl::string_view key) {
  etcdserverpb::RangeRequest request;
  request.set_key(std::string(key));
  etcdserverpb::RangeResponse response;
  RETURN_IF_ERROR(client_->Run("get", true, [&](auto& m, grpc::ClientContext& ctx) {
    return m.kv->Range(&ctx, request, &response);
  }));
  SawRevision(response.header().revision());
  if (response.kvs_size() == 0) return std::nullopt;
  return FromEtcd(response.kvs(0));
}

absl::StatusOr<RangeResult> EtcdStore::RangeAll(const std::string& key,
                                                const std::string& range_end, int64_t revision) {
  RangeResult out;
  out.revision = revision;
  etcdserverpb::RangeRequest request;
  request.set_key(key);
  request.set_range_end(range_end);
  request.set_limit(kPage);
  for (;;) {
    // Every page after the first is read at the first one's revision, so
    // the whole listing is one consistent snapshot.
    request.set_revision(out.revision);
    etcdserverpb::RangeResponse response;
    RETURN_IF_ERROR(client_->Run("range", true, [&](auto& m, grpc::ClientContext& ctx) {
      return m.kv->Range(&ctx, request, &response);
    }));
    SawRevision(response.header().revision());
    if (out.revision == 0) out.revision = response.header().revision();
    for (const auto& kv : response.kvs()) out.kvs.push_back(FromEtcd(kv));
    if (!response.more() || response.kvs_size() == 0) return out;
    request.set_key(response.kvs(response.kvs_size() - 1).key() + std::string(1, '\0'));
  }
}

absl::StatusOr<RangeResult> EtcdStore::Range(absl::string_view prefix) {
  const std::string p(prefix);
  return RangeAll(FirstKey(p), RangeEnd(p), 0);
}

absl::StatusOr<TxnResult> EtcdStore::Txn(const TxnRequest& request) {
  const std::vector<const Op*> ops = LastOpPerKey(request.ops);
  etcdserverpb::TxnRequest txn;
  for (const auto& c : request.compares) {
    auto* cmp = txn.add_compare();
    cmp->set_key(c.key);
    cmp->set_result(etcdserverpb::Compare::EQUAL);
    if (c.target == Compare::Target::kCreate) {
      cmp->set_target(etcdserverpb::Compare::CREATE);
      cmp->set_create_revision(c.mod_revision);
    } else {
      cmp->set_target(etcdserverpb::Compare::MOD);
      cmp->set_mod_revision(c.mod_revision);
    }
  }
  for (const Op* op : ops) {
    auto* r = txn.add_success();
    if (op->type == Op::Type::kPut) {
      r->mutable_request_put()->set_key(op->key);
      r->mutable_request_put()->set_value(op->value);
    } else {
      r->mutable_request_delete_range()->set_key(op->key);
    }
  }
  const size_t bytes = txn.ByteSizeLong();
  const TxnLimits& limits = options_.limits;
  if (ops.size() > limits.max_ops || request.compares.size() > limits.max_ops ||
      bytes > limits.max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the change holds ", ops.size(), " writes and ", request.compares.size(), " checks in ",
        Mib(bytes), "; one transaction on the etcd store holds at most ", limits.max_ops,
        " of each and ", Mib(limits.max_bytes),
        " (etcd's --max-txn-ops and --max-request-bytes): split it"));
  }
  etcdserverpb::TxnResponse response;
  RETURN_IF_ERROR(client_->Run("txn", false, [&](auto& m, grpc::ClientContext& ctx) {
    return m.kv->Txn(&ctx, txn, &response);
  }));
  const int64_t revision = response.header().revision();
  SawRevision(revision);
  if (!response.succeeded()) return TxnResult{false, revision};
  std::set<std::string> changed;
  for (int i = 0; i < response.responses_size() && i < static_cast<int>(ops.size()); ++i) {
    const auto& r = response.responses(i);
    if (r.has_response_put() ||
        (r.has_response_delete_range() && r.response_delete_range().deleted() > 0)) {
      changed.insert(ops[static_cast<size_t>(i)]->key);
    }
  }
  if (!changed.empty()) AwaitWatches(changed, revision);
  return TxnResult{true, revision};
}

void EtcdStore::AwaitWatches(const std::set<std::string>& keys, int64_t revision) {
  auto caught_up = [&] {
    for (const auto& w : watches_) {
      if (!w->alive() || w->delivered() >= revision) continue;
      for (const auto& k : keys) {
        if (absl::StartsWith(k, w->prefix())) return false;
      }
    }
    return true;
  };
  std::unique_lock<std::mutex> lock(mu_);
  if (!delivered_.wait_for(lock, absl::ToChronoMilliseconds(options_.watch_catch_up), caught_up)) {
    spdlog::warn("store: a watch has not delivered revision {} after {}; reads may lag", revision,
                 absl::FormatDuration(options_.watch_catch_up));
  }
}

void EtcdStore::Delivered() {
  { std::lock_guard<std::mutex> lock(mu_); }
  delivered_.notify_all();
}

void EtcdStore::Unregister(EtcdWatch* watch) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = watches_.begin(); it != watches_.end(); ++it) {
    if (it->get() == watch) {
      watches_.erase(it);
      break;
    }
  }
  delivered_.notify_all();
}

absl::StatusOr<std::unique_ptr<WatchHandle>> EtcdStore::Watch(absl::string_view prefix,
                                                              int64_t after_revision,
                                                              WatchCallback callback,
                                                              ResyncCallback resync) {
  const std::string p(prefix);
  // etcd reports compacted history on the stream, after the fact; reading
  // at the revision first lets Watch answer OutOfRange as the contract says.
  etcdserverpb::RangeRequest check;
  check.set_key(FirstKey(p));
  check.set_range_end(RangeEnd(p));
  check.set_revision(std::max<int64_t>(after_revision, 1));
  check.set_limit(1);
  check.set_keys_only(true);
  etcdserverpb::RangeResponse ignored;
  absl::Status st = client_->Run("watch", true, [&](auto& m, grpc::ClientContext& ctx) {
    return m.kv->Range(&ctx, check, &ignored);
  });
  if (!st.ok() && absl::StrContains(st.message(), "compacted")) {
    return absl::OutOfRangeError(absl::StrCat("watch ", p, " after revision ", after_revision,
                                              ": that history was compacted; re-list"));
  }
  if (!st.ok() && !absl::StrContains(st.message(), "future revision")) return st;
  auto watch =
      std::make_shared<EtcdWatch>(this, p, after_revision, std::move(callback), std::move(resync));
  {
    std::lock_guard<std::mutex> lock(mu_);
    watches_.insert(watch);
  }
  watch->Start();
  return std::make_unique<Handle>(this, std::move(watch));
}

absl::Status EtcdStore::Compact(int64_t revision) {
  etcdserverpb::CompactionRequest request;
  request.set_revision(revision);
  request.set_physical(true);
  etcdserverpb::CompactionResponse response;
  return client_->Run("compact", true, [&](auto& m, grpc::ClientContext& ctx) {
    return m.kv->Compact(&ctx, request, &response);
  });
}

}  // namespace gantry::store
