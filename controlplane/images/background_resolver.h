#pragma once

// Runs tag resolution off the caller's thread. The service controller must
// not wait on a registry: one that is slow or unreachable (a 5 s connect
// timeout, a 10 s request timeout) would stall every service's reconcile
// behind it. The controller asks with Get(); the first call starts the
// resolution and returns nothing, and `done` is called when the answer is
// there, so the controller can look again.
//
// Thread-safe.

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "controlplane/images/image_resolver.h"

namespace gantry::images {

class BackgroundResolver {
 public:
  // `done(key)` runs on the resolver's thread after each resolution.
  BackgroundResolver(ImageResolver* inner, std::function<void(const std::string& key)> done);
  ~BackgroundResolver();
  BackgroundResolver(const BackgroundResolver&) = delete;
  BackgroundResolver& operator=(const BackgroundResolver&) = delete;

  // The digest of `image` resolved for `key` (a deployment's container);
  // nullopt while it is being resolved. The answer is kept until Forget.
  std::optional<absl::StatusOr<std::string>> Get(const std::string& key, const std::string& image);
  // Drops the answer for `key`: the next Get resolves again.
  void Forget(const std::string& key);

 private:
  void Run();

  ImageResolver* const inner_;
  const std::function<void(const std::string&)> done_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, std::string>> queue_;       // (key, image)
  std::set<std::string> pending_;                               // keys queued or resolving
  std::map<std::string, absl::StatusOr<std::string>> results_;  // key -> answer
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace gantry::images
