#include "agent/outbound_queue.h"

#include <utility>

namespace gantry::agent {

bool OutboundQueue::IsBulk(const gantry::v1::AgentMessage& message) {
  return message.has_log_data();
}

bool OutboundQueue::Push(gantry::v1::AgentMessage message) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!IsBulk(message)) {
    if (!open_) return false;
    control_.push_back(std::move(message));
    cv_.notify_all();
    return true;
  }
  const size_t size = message.log_data().data().size();
  // One message larger than the bound still goes, alone; one without data
  // (the end of a log stream) never waits.
  cv_.wait(lock, [&] {
    return !open_ || size == 0 || bulk_bytes_ == 0 || bulk_bytes_ + size <= max_bulk_bytes_;
  });
  if (!open_) return false;
  bulk_bytes_ += size;
  bulk_.push_back(std::move(message));
  cv_.notify_all();
  return true;
}

std::optional<gantry::v1::AgentMessage> OutboundQueue::Pop() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !open_ || !control_.empty() || !bulk_.empty(); });
  if (!open_) return std::nullopt;
  std::optional<gantry::v1::AgentMessage> next;
  if (!control_.empty()) {
    next = std::move(control_.front());
    control_.pop_front();
  } else {
    next = std::move(bulk_.front());
    bulk_.pop_front();
    bulk_bytes_ -= next->log_data().data().size();
    cv_.notify_all();  // room for a waiting sender
  }
  return next;
}

void OutboundQueue::Open() {
  std::lock_guard<std::mutex> lock(mu_);
  open_ = true;
}

void OutboundQueue::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  open_ = false;
  control_.clear();
  bulk_.clear();
  bulk_bytes_ = 0;
  cv_.notify_all();
}

}  // namespace gantry::agent
