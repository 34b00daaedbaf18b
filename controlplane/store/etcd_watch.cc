#include "controlplane/store/etcd_watch.h"

#include <chrono>
#include <vector>

#include "common/log.h"
#include "controlplane/store/etcd_store.h"

namespace gantry::store {
namespace {

constexpr auto kFirstBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::milliseconds(1'000);

Event FromEtcd(const mvccpb::Event& e) {
  Event out;
  out.type = e.type() == mvccpb::Event::DELETE ? Event::Type::kDelete : Event::Type::kPut;
  out.kv.key = e.kv().key();
  if (out.type == Event::Type::kPut) out.kv.value = e.kv().value();
  out.kv.create_revision = e.kv().create_revision();
  out.kv.mod_revision = e.kv().mod_revision();
  return out;
}

}  // namespace

EtcdWatch::EtcdWatch(EtcdStore* store, std::string prefix, int64_t after_revision,
                     WatchCallback callback, ResyncCallback resync)
    : store_(store),
      prefix_(std::move(prefix)),
      callback_(std::move(callback)),
      resync_(std::move(resync)),
      delivered_(after_revision) {}

EtcdWatch::~EtcdWatch() { Stop(); }

void EtcdWatch::Start() {
  thread_ = std::thread([this] { Run(); });
}

void EtcdWatch::Stop() {
  {
    std::lock_guard<std::mutex> lock(context_mu_);
    stopping_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  stop_cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void EtcdWatch::Run() {
  auto backoff = kFirstBackoff;
  while (!stopping_) {
    if (need_resync_ && !Resync()) break;
    const int64_t before = delivered_.load();
    const bool again = !need_resync_ ? Stream() : true;
    if (!again || stopping_) break;
    if (delivered_.load() != before) backoff = kFirstBackoff;
    std::unique_lock<std::mutex> lock(context_mu_);
    stop_cv_.wait_for(lock, backoff, [this] { return stopping_.load(); });
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
  ended_ = true;
  store_->Delivered();  // wake writers waiting on this watch
}

bool EtcdWatch::Stream() {
  grpc::ClientContext context;
  {
    std::lock_guard<std::mutex> lock(context_mu_);
    if (stopping_) return false;
    context_ = &context;
  }
  EtcdClient::Member& member = store_->client().Current();
  auto stream = member.watch->Watch(&context);
  etcdserverpb::WatchRequest request;
  auto* create = request.mutable_create_request();
  create->set_key(prefix_.empty() ? std::string(1, '\0') : prefix_);
  create->set_range_end(RangeEnd(prefix_));
  create->set_start_revision(delivered_.load() + 1);
  create->set_fragment(true);  // etcd splits big responses; we join them

  std::vector<Event> pending;
  etcdserverpb::WatchResponse response;
  bool ok = stream->Write(request);
  while (ok && stream->Read(&response)) {
    store_->SawRevision(response.header().revision());
    if (response.compact_revision() > 0) {
      spdlog::warn(
          "store: the etcd watch on {} lost its history (compacted at revision {}); "
          "re-listing",
          prefix_, response.compact_revision());
      need_resync_ = true;
      break;
    }
    if (response.canceled()) {
      spdlog::warn("store: etcd cancelled the watch on {}: {}", prefix_, response.cancel_reason());
      break;
    }
    for (const auto& e : response.events()) pending.push_back(FromEtcd(e));
    if (response.fragment() || pending.empty()) continue;
    // One callback per revision, in order, as the Store contract says.
    size_t begin = 0;
    while (begin < pending.size()) {
      const int64_t rev = pending[begin].kv.mod_revision;
      size_t end = begin;
      while (end < pending.size() && pending[end].kv.mod_revision == rev) ++end;
      if (rev > delivered_.load()) {
        callback_(rev, std::vector<Event>(pending.begin() + begin, pending.begin() + end));
        delivered_ = rev;
      }
      begin = end;
    }
    pending.clear();
    store_->Delivered();
  }
  {
    std::lock_guard<std::mutex> lock(context_mu_);
    context_ = nullptr;
  }
  context.TryCancel();
  const grpc::Status status = stream->Finish();
  if (stopping_) return false;
  if (!need_resync_) {
    spdlog::warn("store: the etcd watch on {} at {} ended ({}); reconnecting after revision {}",
                 prefix_, member.endpoint, status.error_message(), delivered_.load());
    store_->client().MoveOnFrom(member);
  }
  return true;
}

bool EtcdWatch::Resync() {
  if (!resync_) {
    spdlog::error(
        "store: the watch on {} lost history after revision {} and cannot re-list; its cache "
        "is stale until the control plane restarts",
        prefix_, delivered_.load());
    return false;
  }
  auto snapshot = store_->Range(prefix_);
  if (!snapshot.ok()) {
    spdlog::warn("store: re-listing {}: {}; trying again", prefix_, snapshot.status().message());
    return true;  // need_resync_ stays set; Run() backs off and retries
  }
  resync_(*snapshot);
  delivered_ = snapshot->revision;
  need_resync_ = false;
  store_->Delivered();
  return true;
}

}  // namespace gantry::store
