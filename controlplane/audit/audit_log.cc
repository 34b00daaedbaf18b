#include "controlplane/audit/audit_log.h"

#include <algorithm>

#include "common/log.h"

namespace gantry::audit {

AuditLog::AuditLog(const Clock* clock, std::unique_ptr<Sink> sink, size_t window,
                   std::vector<Entry> recovered)
    : clock_(clock), window_(std::max<size_t>(window, 1)), sink_(std::move(sink)) {
  const size_t skip = recovered.size() > window_ ? recovered.size() - window_ : 0;
  for (size_t i = skip; i < recovered.size(); ++i) recent_.push_back(std::move(recovered[i]));
}

void AuditLog::Record(Entry entry) {
  entry.time = clock_->Now();
  std::lock_guard<std::mutex> lock(mu_);
  if (sink_ != nullptr) {
    absl::Status written = sink_->Write(entry);
    if (!written.ok() && !sink_failing_) {
      spdlog::error("audit log: {}; entries are kept in memory until it works again",
                    written.message());
    } else if (written.ok() && sink_failing_) {
      spdlog::info("audit log: writing again");
    }
    sink_failing_ = !written.ok();
  }
  recent_.push_back(std::move(entry));
  while (recent_.size() > window_) recent_.pop_front();
}

std::vector<Entry> AuditLog::Find(const Query& query) const {
  std::vector<Entry> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = recent_.rbegin(); it != recent_.rend() && out.size() < query.limit; ++it) {
    if (it->time < query.since) break;  // entries are in time order
    if (!query.identity.empty() && it->identity != query.identity &&
        it->accessor != query.identity) {
      continue;
    }
    out.push_back(*it);
  }
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace gantry::audit
