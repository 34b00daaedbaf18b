#include "agent/images/image_manager.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/time_util.h"
#include "nlohmann/json.hpp"

namespace gantry::agent {

namespace fs = std::filesystem;

namespace {

bool Transient(const absl::Status& st) {
  return absl::IsUnavailable(st) || absl::IsDeadlineExceeded(st) || absl::IsDataLoss(st) ||
         absl::IsResourceExhausted(st) || absl::IsAborted(st) || absl::IsInternal(st) ||
         absl::IsUnknown(st);
}

// `text` ending as a sentence does, so another can follow.
std::string Sentence(absl::string_view text) {
  const bool ended =
      absl::EndsWith(text, ".") || absl::EndsWith(text, "?") || absl::EndsWith(text, "!");
  return ended ? std::string(text) : absl::StrCat(text, ".");
}

}  // namespace

ImageManager::ImageManager(ContainerRuntime* runtime, registry::RegistryClient* registry,
                           const Clock* clock, Options options)
    : runtime_(runtime), registry_(registry), clock_(clock), options_(std::move(options)) {
  for (int i = 0; i < options_.pull_threads; ++i) {
    workers_.emplace_back([this] { Worker(); });
  }
}

ImageManager::~ImageManager() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& w : workers_) w.join();
}

absl::Status ImageManager::Recover() {
  auto images = runtime_->ListImages();
  if (!images.ok()) return images.status();
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& i : *images) digests_[i.name] = i.digest;
  std::ifstream in(fs::path(options_.data_dir) / "images.json");
  if (in) {
    auto j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_object()) {
      for (const auto& [name, seconds] : j.items()) {
        if (seconds.is_number_integer() && digests_.contains(name)) {
          last_used_[name] = absl::FromUnixSeconds(seconds.get<int64_t>());
        }
      }
    }
  }
  return absl::OkStatus();
}

ImageManager::Result ImageManager::Ensure(const std::string& image, bool always,
                                          const std::string& requester) {
  std::unique_lock<std::mutex> lock(mu_);
  // Pull waits and retries are measured on the monotonic clock: a node
  // whose clock is set back must not wait an hour for its next attempt.
  const absl::Time now = clock_->Monotonic();
  const std::string key = absl::StrCat(requester, "|", image);
  // When this task first asked, even if a pull was already running: with
  // pullPolicy always, a pull that ends after that serves it.
  if (always) first_asked_.emplace(key, now);
  auto it = pulls_.find(image);
  // A failed pull answers every task that waited for it; a task that comes
  // later tries again (the registry may have been fixed).
  if (it != pulls_.end() && it->second.failed && !it->second.waiters.contains(requester)) {
    pulls_.erase(it);
    it = pulls_.end();
  }
  if (it != pulls_.end()) {
    Pull& p = it->second;
    if (p.failed) {
      Result r{State::kFailed, p.error};
      p.waiters.erase(requester);
      if (p.waiters.empty()) pulls_.erase(it);
      first_asked_.erase(key);
      return r;
    }
    p.waiters.insert(requester);
    if (p.in_flight || now < p.next_attempt) return {State::kPulling, p.retrying};
    StartLocked(image, p);
  } else {
    if (always) {
      auto pulled = pulled_at_.find(image);
      if (pulled != pulled_at_.end() && pulled->second >= first_asked_[key]) {
        first_asked_.erase(key);
        return {State::kReady, ""};
      }
    } else {
      if (digests_.contains(image)) return {State::kReady, ""};
      // Present but not seen yet (imported by hand, or pulled before the
      // agent restarted): learn its digest once.
      lock.unlock();
      const bool present = runtime_->CheckImage(image).ok();
      std::string digest;
      if (present) {
        if (auto images = runtime_->ListImages(); images.ok()) {
          for (const auto& i : *images) {
            if (i.name == image) digest = i.digest;
          }
        }
      }
      lock.lock();
      if (present) {
        digests_[image] = digest;
        return {State::kReady, ""};
      }
    }
    Pull& p = pulls_[image];
    p.waiters.insert(requester);
    if (!p.in_flight) StartLocked(image, p);
  }
  if (options_.pull_threads == 0) {
    // Inline mode (tests): run the queued pull now.
    std::string next = queue_.front();
    queue_.pop_front();
    lock.unlock();
    RunPull(next);
    lock.lock();
    auto done = pulls_.find(image);
    if (done == pulls_.end()) return {State::kReady, ""};
    if (done->second.failed) {
      Result r{State::kFailed, done->second.error};
      done->second.waiters.erase(requester);
      if (done->second.waiters.empty()) pulls_.erase(done);
      first_asked_.erase(key);
      return r;
    }
  }
  auto waiting = pulls_.find(image);
  return {State::kPulling, waiting == pulls_.end() ? "" : waiting->second.retrying};
}

void ImageManager::StartLocked(const std::string& image, Pull& p) {
  if (p.attempts == 0) p.first_attempt = clock_->Monotonic();
  p.attempts++;
  p.in_flight = true;
  queue_.push_back(image);
  cv_.notify_one();
}

void ImageManager::Worker() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    std::string image = queue_.front();
    queue_.pop_front();
    lock.unlock();
    RunPull(image);
    lock.lock();
  }
}

void ImageManager::RunPull(const std::string& image) {
  auto ref = registry::ParseReference(image);
  const absl::Time began = absl::Now();
  absl::Status st = ref.ok() ? runtime_->PullImage(*ref, *registry_) : ref.status();
  if (observer_ != nullptr) observer_->ImagePulled(st.ok(), absl::Now() - began);
  Finish(image, st);
}

void ImageManager::Finish(const std::string& image, const absl::Status& st) {
  std::string digest;
  if (st.ok()) {
    if (auto images = runtime_->ListImages(); images.ok()) {
      for (const auto& i : *images) {
        if (i.name == image) digest = i.digest;
      }
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pulls_.find(image);
  if (it == pulls_.end()) return;
  Pull& p = it->second;
  p.in_flight = false;
  const absl::Time now = clock_->Monotonic();
  if (st.ok()) {
    digests_[image] = digest;
    pulled_at_[image] = now;
    pulls_.erase(it);
    generation_++;
    return;
  }
  const std::string what = absl::StrCat("pull ", image, ": ", st.message());
  if (Transient(st) && now - p.first_attempt < options_.pull_timeout) {
    const absl::Duration wait = std::min(
        options_.retry_max, options_.retry_base * (int64_t{1} << std::min(p.attempts - 1, 20)));
    p.next_attempt = now + wait;
    p.error = what;
    p.retrying =
        absl::StrCat("pulling ", image, ": the last attempt failed: ", Sentence(st.message()),
                     " Retrying for up to ", absl::FormatDuration(options_.pull_timeout),
                     ", then the task fails.");
    spdlog::warn("{} (attempt {}; retrying in {})", what, p.attempts, absl::FormatDuration(wait));
    return;
  }
  p.failed = true;
  p.error = Transient(st) ? absl::StrCat(what, " (gave up after ", p.attempts, " attempts in ",
                                         absl::FormatDuration(now - p.first_attempt), ")")
                          : what;
  spdlog::warn("{}", p.error);
}

void ImageManager::MarkUsed(const std::set<std::string>& images) {
  std::lock_guard<std::mutex> lock(mu_);
  const absl::Time now = clock_->Now();
  for (const auto& i : images) last_used_[i] = now;
  // Minute granularity is plenty for a policy measured in hours.
  if (!images.empty() && now - last_saved_ >= absl::Minutes(1)) SaveLocked();
}

void ImageManager::SaveLocked() {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, t] : last_used_) j[name] = absl::ToUnixSeconds(t);
  std::error_code ec;
  fs::create_directories(options_.data_dir, ec);
  const fs::path path = fs::path(options_.data_dir) / "images.json";
  {
    std::ofstream out(path.string() + ".tmp", std::ios::trunc);
    out << j.dump();
  }
  fs::rename(path.string() + ".tmp", path, ec);
  last_saved_ = clock_->Now();
}

int64_t ImageManager::generation() {
  std::lock_guard<std::mutex> lock(mu_);
  return generation_;
}

std::string ImageManager::DigestOf(const std::string& image) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = digests_.find(image);
  return it == digests_.end() ? "" : it->second;
}

std::vector<std::string> ImageManager::CollectGarbage(const std::set<std::string>& in_use) {
  auto images = runtime_->ListImages();
  if (!images.ok()) return {};
  std::vector<std::pair<absl::Time, std::string>> by_use;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const absl::Time now = clock_->Now();
    for (const auto& i : *images) {
      // An image seen for the first time counts as used now.
      auto [it, inserted] = last_used_.emplace(i.name, now);
      by_use.push_back({it->second, i.name});
      digests_[i.name] = i.digest;
    }
  }
  std::sort(by_use.rbegin(), by_use.rend());
  std::vector<std::string> removed;
  const absl::Time cutoff = clock_->Now() - options_.unused_after;
  for (size_t i = static_cast<size_t>(std::max(0, options_.keep)); i < by_use.size(); ++i) {
    const auto& [used, name] = by_use[i];
    if (in_use.contains(name) || used > cutoff) continue;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (pulls_.contains(name)) continue;
    }
    if (auto st = runtime_->RemoveImage(name); !st.ok()) {
      spdlog::warn("image gc: remove {}: {}", name, st.message());
      continue;
    }
    spdlog::info("image gc: removed {} (unused since {})", name,
                 absl::FormatTime(absl::RFC3339_sec, used, absl::UTCTimeZone()));
    removed.push_back(name);
    std::lock_guard<std::mutex> lock(mu_);
    last_used_.erase(name);
    digests_.erase(name);
    pulled_at_.erase(name);
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!removed.empty()) {
    SaveLocked();
    generation_++;
  }
  return removed;
}

std::vector<gantry::v1::NodeImage> ImageManager::Report(const std::set<std::string>& in_use) {
  std::vector<gantry::v1::NodeImage> out;
  auto images = runtime_->ListImages();
  if (!images.ok()) return out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& i : *images) {
    gantry::v1::NodeImage n;
    n.set_name(i.name);
    n.set_digest(i.digest);
    n.set_size(i.size);
    if (auto it = last_used_.find(i.name); it != last_used_.end()) {
      *n.mutable_last_used() = ToProtoTime(it->second);
    }
    n.set_in_use(in_use.contains(i.name));
    out.push_back(std::move(n));
  }
  return out;
}

}  // namespace gantry::agent
