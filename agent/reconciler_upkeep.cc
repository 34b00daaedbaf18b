// The reconciler's upkeep, apart from driving tasks: rotating and
// collecting container logs, handing running containers' health checks to
// the monitor, and image garbage collection and reports.

#include <filesystem>
#include <set>

#include "agent/reconciler.h"
#include "common/log.h"

namespace gantry::agent {

namespace fs = std::filesystem;
using gantry::v1::Task;
using gantry::v1::TaskAssignment;

void Reconciler::RotateLogs(const Record& r) {
  for (const auto& c : r.containers) {
    const std::string path = LogPath(r.task_id, c.name);
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

void Reconciler::SyncHealthChecks() {
  std::vector<HealthTarget> targets;
  for (const auto& [id, r] : records_) {
    if (r.status != Task::RUNNING || !r.assignment) continue;
    const TaskAssignment& a = *r.assignment;
    for (int i = 0; i < a.containers_size() && i < static_cast<int>(r.containers.size()); ++i) {
      const auto& def = a.containers(i);
      const Container& c = r.containers[i];
      if (!def.has_health_check() || !Running(c.state)) continue;
      HealthTarget t;
      t.container_id = c.id;
      t.service = a.service();
      t.task = r.task_id;
      t.container = c.name;
      t.check = def.health_check();
      t.address = options_.node_address;
      const std::string port = t.check.has_http() ? t.check.http().port() : t.check.tcp().port();
      for (const auto& p : a.ports()) {
        if (p.name() == port) t.port = p.host_port();
      }
      t.started = r.started_at;
      targets.push_back(std::move(t));
    }
  }
  health_->Sync(targets);
}

void Reconciler::ManageImages() {
  std::set<std::string> running;
  std::set<std::string> in_use;  // also what pending tasks are about to run
  for (const auto& [id, r] : records_) {
    if (r.status == Task::STOPPED) continue;
    for (const auto& c : r.containers) {
      if (c.image.empty()) continue;
      in_use.insert(c.image);
      if (Running(c.state)) running.insert(c.image);
    }
  }
  images_->MarkUsed(running);
  const absl::Time now = clock_->Now();
  if (now >= next_image_gc_) {
    images_->CollectGarbage(in_use);
    next_image_gc_ = now + options_.image_gc_interval;
  }
  const int64_t generation = images_->generation();
  if (!image_sink_ || (now < next_image_report_ && generation == reported_image_generation_)) {
    return;
  }
  gantry::v1::ImageReport report;
  for (auto& i : images_->Report(in_use)) *report.add_images() = std::move(i);
  reported_image_generation_ = generation;
  next_image_report_ = now + options_.image_report_interval;
  image_sink_(report);
}

void Reconciler::CollectOldLogs() {
  std::error_code ec;
  const fs::path dir = fs::path(options_.data_dir) / "logs";
  const auto cutoff =
      fs::file_time_type::clock::now() - std::chrono::duration_cast<fs::file_time_type::duration>(
                                             absl::ToChronoNanoseconds(options_.log_retention));
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string task_id = entry.path().filename().string();
    if (records_.contains(task_id)) continue;
    // The newest file in the directory says when the task last wrote.
    auto newest = fs::file_time_type::min();
    for (const auto& f : fs::directory_iterator(entry.path(), ec)) {
      newest = std::max(newest, f.last_write_time(ec));
    }
    if (newest < cutoff) fs::remove_all(entry.path(), ec);
  }
}

}  // namespace gantry::agent
