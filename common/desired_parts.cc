#include "common/desired_parts.h"

#include <utility>

namespace gantry {

using gantry::v1::DesiredTasks;

std::vector<DesiredTasks> SplitDesiredTasks(DesiredTasks whole, size_t part_bytes) {
  std::vector<DesiredTasks> parts;
  if (whole.ByteSizeLong() <= part_bytes) {
    parts.push_back(std::move(whole));
    return parts;
  }
  auto tasks = std::move(*whole.mutable_tasks());
  whole.clear_tasks();
  whole.set_more(false);
  whole.set_part(0);
  // The first part holds routes, firewall rules and the first tasks.
  DesiredTasks current = whole;
  size_t bytes = current.ByteSizeLong();
  for (auto& task : tasks) {
    const size_t size = task.ByteSizeLong() + 8;  // field tag and length
    if (bytes + size > part_bytes && current.tasks_size() > 0) {
      const int next = current.part() + 1;
      current.set_more(true);
      parts.push_back(std::move(current));
      current = DesiredTasks();
      current.set_part(next);
      current.set_sequence(whole.sequence());
      current.set_epoch(whole.epoch());
      bytes = current.ByteSizeLong();
    }
    bytes += size;
    *current.add_tasks() = std::move(task);
  }
  parts.push_back(std::move(current));
  return parts;
}

std::optional<DesiredTasks> DesiredTasksAssembler::Add(DesiredTasks part) {
  if (part.part() == 0) {
    gathering_ = std::move(part);
  } else if (gathering_ && part.part() == gathering_->part() + 1 &&
             part.sequence() == gathering_->sequence() && part.epoch() == gathering_->epoch()) {
    for (auto& task : *part.mutable_tasks()) *gathering_->add_tasks() = std::move(task);
    gathering_->set_part(part.part());
    gathering_->set_more(part.more());
  } else {
    // The rest of a set whose start was dropped for a newer one: wait for
    // the next part 0.
    gathering_.reset();
    return std::nullopt;
  }
  if (gathering_->more()) return std::nullopt;
  std::optional<DesiredTasks> whole = std::move(gathering_);
  gathering_.reset();
  whole->set_part(0);
  return whole;
}

}  // namespace gantry
