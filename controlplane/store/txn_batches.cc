#include "controlplane/store/txn_batches.h"

#include <map>
#include <string>

namespace gantry::store {

std::vector<TxnRequest> SplitToLimits(const TxnRequest& request, const TxnLimits& limits) {
  std::map<std::string, std::vector<const Compare*>> compares;
  for (const auto& c : request.compares) compares[c.key].push_back(&c);
  std::vector<TxnRequest> out;
  TxnRequest chunk;
  size_t bytes = 0;
  // Headroom for each op's framing in the request.
  constexpr size_t kOpOverhead = 64;
  for (const auto& op : request.ops) {
    const auto own = compares.find(op.key);
    const size_t op_compares = own == compares.end() ? 0 : own->second.size();
    const size_t op_bytes = op.key.size() * (1 + op_compares) + op.value.size() + kOpOverhead;
    if (!chunk.ops.empty() && (chunk.ops.size() + 1 > limits.max_ops ||
                               chunk.compares.size() + op_compares > limits.max_ops ||
                               bytes + op_bytes > limits.max_bytes)) {
      out.push_back(std::move(chunk));
      chunk = {};
      bytes = 0;
    }
    chunk.ops.push_back(op);
    if (own != compares.end()) {
      for (const auto* c : own->second) chunk.compares.push_back(*c);
      compares.erase(own);  // a key's comparisons go with its first op
    }
    bytes += op_bytes;
  }
  if (!chunk.ops.empty()) out.push_back(std::move(chunk));
  return out;
}

absl::StatusOr<TxnResult> CommitInBatches(Store* store, const TxnRequest& request) {
  TxnResult result{true, store->Revision()};
  for (const auto& batch : SplitToLimits(request, store->Limits())) {
    auto done = store->Txn(batch);
    if (!done.ok()) return done.status();
    result = *done;
    if (!result.succeeded) return result;
  }
  return result;
}

}  // namespace gantry::store
