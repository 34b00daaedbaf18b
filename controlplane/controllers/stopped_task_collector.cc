#include "controlplane/controllers/stopped_task_collector.h"

#include "common/log.h"
#include "common/time_util.h"
#include "controlplane/state/keys.h"

namespace gantry::controllers {

using gantry::v1::Task;

void StoppedTaskCollector::Collect(const std::vector<Task>& tasks) {
  const absl::Time cutoff = clock_->Now() - retention_;
  store::TxnRequest txn;
  for (const auto& t : tasks) {
    // LOST tasks go too: their node never came back to confirm the end.
    if ((t.last_status() == Task::STOPPED || t.last_status() == Task::LOST) &&
        t.desired_status() == Task::STOPPED && FromProtoTime(t.stopped_at()) < cutoff) {
      txn.ops.push_back(store::Op::Delete(state::TaskKey(t.id())));
    }
  }
  if (txn.ops.empty()) return;
  if (auto st = state_->CommitEach(txn); !st.ok()) {
    spdlog::warn("forget stopped tasks: {}", st.status().message());
  }
}

}  // namespace gantry::controllers
