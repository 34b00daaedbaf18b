#pragma once

// The agent's images: pulls on demand, one pull per image however many
// tasks wait for it, retries with backoff, and a node image cache that is
// kept clean.
//
// Ensure() never blocks: it answers ready, pulling or failed, and starts a
// pull on a worker thread when one is needed. Retries are level-triggered:
// a transient failure (registry unreachable, 5xx, corrupt or truncated blob)
// schedules the next attempt, which starts when Ensure() is asked again at
// or after that time, until the pull timeout has passed since the first
// attempt; meanwhile Ensure() answers pulling with the last failure, so a
// waiting task can say why. A permanent failure (manifest unknown,
// unauthorized, bad reference) is reported at once. A failed answer is given
// once; the next Ensure() starts over, since a replacement task may find the
// registry fixed.
//
// Garbage collection removes images no task has used for `unused_after`,
// always keeping the `keep` most recently used and never one in use.
//
// Thread-safe.

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/metrics/observer.h"
#include "agent/runtime/container_runtime.h"
#include "common/clock.h"
#include "common/registry/registry_client.h"
#include "gantry/v1/types.pb.h"

namespace gantry::agent {

class ImageManager {
 public:
  struct Options {
    std::string data_dir;  // last-use times persist in images.json here
    absl::Duration pull_timeout = absl::Minutes(5);
    absl::Duration retry_base = absl::Seconds(1);
    absl::Duration retry_max = absl::Seconds(30);
    absl::Duration unused_after = absl::Hours(1);
    int keep = 5;
    // 0 runs pulls on the calling thread (tests).
    int pull_threads = 2;
  };

  ImageManager(ContainerRuntime* runtime, registry::RegistryClient* registry, const Clock* clock,
               Options options);
  ~ImageManager();

  enum class State { kReady, kPulling, kFailed };
  struct Result {
    State state = State::kPulling;
    // kFailed: "pull REF: <what the registry said>"; kPulling after a
    // transient failure: that failure and that it is being retried (for the
    // task's reason); empty while the first attempt runs.
    std::string error;
  };
  // `image` is a normalised reference (Reference::String()). With `always`,
  // the image is pulled again once for each new `requester` (a task id).
  Result Ensure(const std::string& image, bool always, const std::string& requester);

  // Records that these images run now (for garbage collection).
  void MarkUsed(const std::set<std::string>& images);
  // The manifest digest of an image the agent pulled or found, if known.
  std::string DigestOf(const std::string& image);
  // Removes unused images by the policy above; returns their names.
  std::vector<std::string> CollectGarbage(const std::set<std::string>& in_use);
  // The node's images, for the control plane.
  std::vector<gantry::v1::NodeImage> Report(const std::set<std::string>& in_use);
  // Reads the runtime's images and the persisted last-use times.
  absl::Status Recover();
  // Grows whenever the node's set of images changes (pull, removal).
  int64_t generation();

  // Told of every pull; may be null. Set before pulls start.
  void SetObserver(AgentObserver* observer) { observer_ = observer; }

 private:
  struct Pull {
    bool in_flight = false;
    bool failed = false;
    std::string error;
    std::string retrying;  // what waiting tasks are told after a transient failure
    int attempts = 0;
    absl::Time first_attempt;  // on Clock::Monotonic, as next_attempt
    absl::Time next_attempt;
    std::set<std::string> waiters;  // requesters told "pulling"
  };
  void StartLocked(const std::string& image, Pull& pull);
  void RunPull(const std::string& image);
  void Finish(const std::string& image, const absl::Status& status);
  void Worker();
  void SaveLocked();

  ContainerRuntime* const runtime_;
  registry::RegistryClient* const registry_;
  const Clock* const clock_;
  const Options options_;
  AgentObserver* observer_ = nullptr;

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Pull> pulls_;
  // On Clock::Monotonic: when an image was last pulled, when a task asked.
  std::map<std::string, absl::Time> pulled_at_;
  std::map<std::string, absl::Time> first_asked_;  // requester|image -> time
  std::map<std::string, std::string> digests_;     // image -> digest
  std::map<std::string, absl::Time> last_used_;    // wall clock: saved in images.json
  absl::Time last_saved_ = absl::InfinitePast();
  int64_t generation_ = 0;
  std::deque<std::string> queue_;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace gantry::agent
