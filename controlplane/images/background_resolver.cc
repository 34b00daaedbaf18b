#include "controlplane/images/background_resolver.h"

namespace gantry::images {

BackgroundResolver::BackgroundResolver(ImageResolver* inner,
                                       std::function<void(const std::string& key)> done)
    : inner_(inner), done_(std::move(done)), thread_([this] { Run(); }) {}

BackgroundResolver::~BackgroundResolver() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::optional<absl::StatusOr<std::string>> BackgroundResolver::Get(const std::string& key,
                                                                   const std::string& image) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = results_.find(key); it != results_.end()) return it->second;
  if (pending_.insert(key).second) {
    queue_.emplace_back(key, image);
    cv_.notify_one();
  }
  return std::nullopt;
}

void BackgroundResolver::Forget(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  results_.erase(key);
}

void BackgroundResolver::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    auto [key, image] = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    absl::StatusOr<std::string> digest = inner_->Resolve(image);
    lock.lock();
    results_.insert_or_assign(key, std::move(digest));
    pending_.erase(key);
    lock.unlock();
    if (done_) done_(key);
    lock.lock();
  }
}

}  // namespace gantry::images
