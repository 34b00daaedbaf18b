#include "controlplane/controllers/service_remover.h"

#include "common/status_util.h"
#include "controlplane/state/keys.h"

namespace gantry::controllers {

using gantry::v1::Task;

absl::Status ServiceRemover::Remove(const gantry::v1::Service& service,
                                    const std::vector<Task>& tasks) {
  std::vector<std::string> to_stop;
  bool all_stopped = true;
  for (const auto& t : tasks) {
    if (t.desired_status() == Task::RUNNING) to_stop.push_back(t.id());
    if (t.last_status() != Task::STOPPED && t.last_status() != Task::LOST) all_stopped = false;
  }
  RETURN_IF_ERROR(stopper_->Stop(&service, to_stop, "Service deleted"));
  if (!all_stopped) return absl::OkStatus();
  auto current = state_->GetService(service.name());
  if (!current) return absl::OkStatus();
  store::TxnRequest txn;
  txn.compares.push_back({state::ServiceKey(service.name()), current->mod_revision});
  txn.ops.push_back(store::Op::Delete(state::ServiceKey(service.name())));
  auto result = state_->Commit(txn);
  if (!result.ok()) return result.status();
  if (result->succeeded) {
    failures_->Forget(service.name());
    events_->Record(service.name(), "", "", "service deleted: all its tasks have stopped");
  }
  return absl::OkStatus();
}

absl::Status ServiceRemover::StopOrphans(const std::vector<Task>& tasks) {
  std::vector<std::string> orphans;
  for (const auto& t : tasks) {
    if (t.desired_status() == Task::RUNNING) orphans.push_back(t.id());
  }
  return stopper_->Stop(nullptr, orphans, "Service no longer exists");
}

}  // namespace gantry::controllers
