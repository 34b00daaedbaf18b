#pragma once

// Pins the image digests of a deployment before its tasks are placed: each
// container's tag is resolved once per deployment (unless the container
// turns pinning off) and the digests are stored on the deployment
// (Deployment.image_pins), so every task of it, and a rollback to it, runs
// the same images.
//
// With `resolved` set, tags are resolved on a BackgroundResolver's thread,
// so a slow registry holds back only the deployments that need it; the
// pinner owns that resolver and calls `resolved(service)` (on its thread)
// when an answer is in, for the owner to look at the service again. Without
// it, tags are resolved inline (tests).
//
// A registry that is unreachable or times out is waited for (a recheck in
// 5 s); one that answers no (unknown image, access denied) leaves the image
// unpinned, so the tasks start from the reference as written and fail on
// their own, where the circuit breaker sees them.
//
// Pin() must not run concurrently with itself (the controller's pass calls
// it); the background resolver is thread-safe.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "controlplane/controllers/failure_recorder.h"
#include "controlplane/controllers/recheck_schedule.h"
#include "controlplane/events/event_log.h"
#include "controlplane/images/background_resolver.h"
#include "controlplane/images/image_resolver.h"
#include "controlplane/state/cluster_state.h"

namespace gantry::controllers {

class ImagePinner {
 public:
  // `resolver` may be null: images then run by tag, unpinned.
  ImagePinner(state::ClusterState* state, events::EventLog* events, const Clock* clock,
              FailureRecorder* failures, RecheckSchedule* rechecks, images::ImageResolver* resolver,
              std::function<void(const std::string& service)> resolved = nullptr);
  ImagePinner(const ImagePinner&) = delete;
  ImagePinner& operator=(const ImagePinner&) = delete;

  // Pins the images of `deployment` (of `service`, running `td`) once, in
  // the store and in `deployment`. Returns false while that is not done yet
  // (resolving, or the registry is unreachable); true once pinned.
  absl::StatusOr<bool> Pin(const gantry::v1::Service& service, gantry::v1::Deployment& deployment,
                           const gantry::v1::TaskDefinition& td);

 private:
  // What resolving the deployment's containers came to.
  struct Resolved {
    std::vector<gantry::v1::ImagePin> pins;
    std::vector<std::string> keys;  // background answers to forget once stored
    bool waiting = false;           // some answer is not in yet
    bool retry = false;             // the registry is unreachable: try again later
  };
  Resolved Resolve(const gantry::v1::Service& service, const gantry::v1::Deployment& deployment,
                   const gantry::v1::TaskDefinition& td);
  absl::Status SavePins(const gantry::v1::Service& service, gantry::v1::Deployment& deployment,
                        const Resolved& resolved);

  state::ClusterState* const state_;
  events::EventLog* const events_;
  const Clock* const clock_;
  FailureRecorder* const failures_;
  RecheckSchedule* const rechecks_;
  images::ImageResolver* const resolver_;
  // Last, so its thread stops before the rest goes.
  std::unique_ptr<images::BackgroundResolver> background_;
};

}  // namespace gantry::controllers
