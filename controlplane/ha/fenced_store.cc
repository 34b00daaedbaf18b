#include "controlplane/ha/fenced_store.h"

#include "absl/strings/str_cat.h"

namespace gantry::ha {

void FencedStore::Fence(const std::string& leader_key, int64_t epoch) {
  std::lock_guard<std::mutex> lock(mu_);
  fence_ = store::Compare{leader_key, epoch, store::Compare::Target::kCreate};
}

std::optional<store::Compare> FencedStore::fence() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fence_;
}

store::TxnLimits FencedStore::Limits() const {
  store::TxnLimits limits = inner_->Limits();
  if (limits.max_ops != SIZE_MAX) limits.max_ops -= 1;  // room for the fence
  return limits;
}

absl::StatusOr<store::TxnResult> FencedStore::Txn(const store::TxnRequest& request) {
  const std::optional<store::Compare> f = fence();
  if (!f) return inner_->Txn(request);
  store::TxnRequest fenced = request;
  fenced.compares.push_back(*f);
  auto result = inner_->Txn(fenced);
  if (!result.ok() || result->succeeded) return result;
  // Whose comparison failed: the caller's (a conflict it may retry) or the
  // fence's (this replica no longer leads)?
  auto leader = inner_->Get(f->key);
  if (!leader.ok()) return leader.status();
  if (!leader->has_value() || (*leader)->create_revision != f->mod_revision) {
    return absl::FailedPreconditionError(absl::StrCat(
        "this control plane is no longer the leader (its term, epoch ", f->mod_revision,
        ", ended); nothing was written: retry, another replica leads now"));
  }
  return result;
}

}  // namespace gantry::ha
