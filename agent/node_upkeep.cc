#include "agent/node_upkeep.h"

#include <chrono>
#include <filesystem>
#include <set>

#include "agent/logs/log_paths.h"
#include "common/log.h"

namespace gantry::agent {

namespace fs = std::filesystem;
using gantry::v1::Task;

NodeUpkeep::NodeUpkeep(ImageManager* images, const Clock* clock, Options options, ImageSink sink)
    : images_(images), clock_(clock), options_(std::move(options)), sink_(std::move(sink)) {}

void NodeUpkeep::Run(const TrackedTasks& tasks, bool runtime_observed) {
  // When each chore is next due, on the monotonic clock; old logs are judged
  // by their files' wall-clock times.
  const absl::Time now = clock_->Monotonic();
  if (runtime_observed) {
    for (const auto& [id, task] : tasks) {
      if (task.status == Task::RUNNING) RotateLogs(task);
    }
    ManageImages(tasks, now);
  }
  if (now >= next_log_cleanup_) {
    CollectOldLogs(tasks, clock_->Now());
    next_log_cleanup_ = now + options_.log_cleanup_interval;
  }
}

void NodeUpkeep::RotateLogs(const TrackedTask& task) const {
  for (const auto& c : task.containers) {
    const std::string path = ContainerLogPath(options_.data_dir, task.task_id, c.name);
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    if (ec || static_cast<int64_t>(size) <= options_.log_max_bytes) continue;
    // copytruncate: the shim keeps the file open in append mode, so the
    // current file is emptied in place and writing continues at its start.
    fs::copy_file(path, path + ".1", fs::copy_options::overwrite_existing, ec);
    if (!ec) fs::resize_file(path, 0, ec);
    if (ec) spdlog::warn("rotate {}: {}", path, ec.message());
  }
}

void NodeUpkeep::ManageImages(const TrackedTasks& tasks, absl::Time now) {
  std::set<std::string> running;
  std::set<std::string> in_use;  // also what pending tasks are about to run
  for (const auto& [id, task] : tasks) {
    if (task.status == Task::STOPPED) continue;
    for (const auto& c : task.containers) {
      if (c.image.empty()) continue;
      in_use.insert(c.image);
      if (Running(c.state)) running.insert(c.image);
    }
  }
  images_->MarkUsed(running);
  if (now >= next_image_gc_) {
    images_->CollectGarbage(in_use);
    next_image_gc_ = now + options_.image_gc_interval;
  }
  const int64_t generation = images_->generation();
  if (!sink_ || (now < next_image_report_ && generation == reported_image_generation_)) return;
  gantry::v1::ImageReport report;
  for (auto& i : images_->Report(in_use)) *report.add_images() = std::move(i);
  reported_image_generation_ = generation;
  next_image_report_ = now + options_.image_report_interval;
  sink_(report);
}

void NodeUpkeep::CollectOldLogs(const TrackedTasks& tasks, absl::Time now) const {
  // File times are on the file clock; the cutoff comes from the injected one.
  const auto cutoff = std::chrono::file_clock::from_sys(
      std::chrono::time_point_cast<std::chrono::system_clock::duration>(
          absl::ToChronoTime(now - options_.log_retention)));
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(LogsRoot(options_.data_dir), ec)) {
    const std::string task_id = entry.path().filename().string();
    if (tasks.contains(task_id)) continue;
    // The newest file in the directory says when the task last wrote.
    auto newest = fs::file_time_type::min();
    for (const auto& f : fs::directory_iterator(entry.path(), ec)) {
      newest = std::max(newest, f.last_write_time(ec));
    }
    if (newest < cutoff) fs::remove_all(entry.path(), ec);
  }
}

}  // namespace gantry::agent
