#include "controlplane/controllers/image_pinner.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_util.h"
#include "controlplane/deployments/deployments.h"

namespace gantry::controllers {

using gantry::v1::Deployment;
using gantry::v1::Service;

ImagePinner::ImagePinner(state::ClusterState* state, events::EventLog* events, const Clock* clock,
                         FailureRecorder* failures, RecheckSchedule* rechecks,
                         images::ImageResolver* resolver,
                         std::function<void(const std::string& service)> resolved)
    : state_(state),
      events_(events),
      clock_(clock),
      failures_(failures),
      rechecks_(rechecks),
      resolver_(resolver) {
  if (resolver_ != nullptr && resolved) {
    background_ = std::make_unique<images::BackgroundResolver>(
        resolver_, [resolved = std::move(resolved)](const std::string& key) {
          resolved(key.substr(0, key.find('|')));
        });
  }
}

ImagePinner::Resolved ImagePinner::Resolve(const Service& service, const Deployment& deployment,
                                           const gantry::v1::TaskDefinition& td) {
  Resolved r;
  for (const auto& c : td.containers()) {
    if (resolver_ == nullptr || (c.has_pin_digest() && !c.pin_digest())) continue;
    absl::StatusOr<std::string> digest;
    if (background_ != nullptr) {
      const std::string key = absl::StrCat(service.name(), "|", deployment.id(), "|", c.name());
      auto answer = background_->Get(key, c.image());
      if (!answer) {  // resolving; the answer marks the service dirty
        r.waiting = true;
        continue;
      }
      r.keys.push_back(key);
      digest = std::move(*answer);
    } else {
      digest = resolver_->Resolve(c.image());
    }
    if (!digest.ok()) {
      const std::string what =
          absl::StrCat("cannot pin the image of container ", c.name(), " of ",
                       deployment.task_definition(), ": ", digest.status().message());
      if (absl::IsUnavailable(digest.status()) || absl::IsDeadlineExceeded(digest.status())) {
        // The registry may come back: wait for it rather than run unpinned.
        if (background_ != nullptr) background_->Forget(r.keys.back());  // the retry asks again
        failures_->Record(service.name(), absl::StrCat(what, "; retrying"));
        rechecks_->At(service.name(), clock_->Now() + absl::Seconds(5));
        r.retry = true;
        return r;
      }
      // The registry answered no (unknown image, access denied): the tasks
      // start from the reference as written, so the failure shows on them
      // (CannotPullContainerError) and the circuit breaker can act.
      failures_->Record(service.name(),
                        absl::StrCat(what, "; its tasks use the reference as written"));
      continue;
    }
    gantry::v1::ImagePin pin;
    pin.set_container(c.name());
    pin.set_image(c.image());
    pin.set_digest(*digest);
    r.pins.push_back(std::move(pin));
  }
  return r;
}

absl::Status ImagePinner::SavePins(const Service& service, Deployment& deployment,
                                   const Resolved& resolved) {
  const std::string id = deployment.id();
  RETURN_IF_ERROR(state_->UpdateService(service.name(), [&](Service& s) {
    auto* d = deployments::Find(s, id);
    if (d == nullptr || d->images_pinned()) return false;
    d->clear_image_pins();
    for (const auto& p : resolved.pins) *d->add_image_pins() = p;
    d->set_images_pinned(true);
    return true;
  }));
  std::vector<std::string> parts;
  for (const auto& p : resolved.pins) parts.push_back(absl::StrCat(p.container(), "=", p.digest()));
  if (!parts.empty()) {
    events_->Record(service.name(), "", "",
                    absl::StrCat("deployment ", id, " (", deployment.task_definition(),
                                 ") runs pinned digests: ", absl::StrJoin(parts, ", ")));
  }
  if (background_ != nullptr) {
    for (const auto& key : resolved.keys) background_->Forget(key);
  }
  failures_->Forget(service.name());
  *deployment.mutable_image_pins() = {resolved.pins.begin(), resolved.pins.end()};
  deployment.set_images_pinned(true);
  return absl::OkStatus();
}

absl::StatusOr<bool> ImagePinner::Pin(const Service& service, Deployment& deployment,
                                      const gantry::v1::TaskDefinition& td) {
  if (deployment.images_pinned()) return true;
  const Resolved resolved = Resolve(service, deployment, td);
  if (resolved.retry || resolved.waiting) return false;
  RETURN_IF_ERROR(SavePins(service, deployment, resolved));
  return true;
}

}  // namespace gantry::controllers
