#pragma once

// gantry-lb's loop: follows the control plane's endpoints and keeps HAProxy
// in step — a reload (that drops no connection) when listeners or servers
// change, runtime API weight changes otherwise, so a traffic shift never
// reloads. While the control plane is unreachable HAProxy keeps serving the
// last known layout; a problem is logged once, until it changes or clears.
//
// A layout is remembered only once HAProxy has taken it, so a failed reload
// or command is tried again on the next poll.
//
// Endpoints that fail gantry-lb's checks (haproxy_config.h: a listener or
// backend with a value that could change the configuration's meaning) are
// left out and the rest is served; each is logged as a warning naming the
// listener, task and field when it first appears, not on every poll.
//
// The Balancer does not own `haproxy`, `endpoints` or `clock`; they must
// outlive it. Run() and Stop() are thread-safe (Stop() typically comes from
// a signal thread); Sync() and Poll() must not run concurrently with each
// other or with Run()'s loop.

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "lb/endpoints_source.h"
#include "lb/haproxy_config.h"
#include "lb/haproxy_control.h"

namespace gantry::lb {

class Balancer {
 public:
  struct Options {
    Settings settings;  // rendered into HAProxy's configuration
    absl::Duration poll_interval = absl::Milliseconds(250);
    // How often, in real time, the loop looks at a clock that does not move
    // in real time (a FakeClock); see Periodic.
    absl::Duration look_again = absl::Seconds(1);
  };

  Balancer(HaproxyControl* haproxy, EndpointsSource* endpoints, const Clock* clock,
           Options options);

  // Polls at once, then poll_interval (on the clock) after each poll ends,
  // until Stop(); then stops HAProxy.
  void Run();
  void Stop();

  // One round: reads the endpoints and brings HAProxy to them.
  absl::Status Poll();
  // Brings HAProxy to `endpoints`.
  absl::Status Sync(const gantry::v1::ListEndpointsResponse& endpoints);

 private:
  absl::Status Reload(Layout next);
  absl::Status SetWeights(const std::vector<std::string>& commands);
  // Logs the refusals not logged at the poll before.
  void ReportRefused(std::vector<std::string> refused);

  HaproxyControl* const haproxy_;
  EndpointsSource* const endpoints_;
  const Clock* const clock_;
  const Options options_;

  // What HAProxy serves; only the loop (or a test) touches these.
  Layout current_;
  bool started_ = false;
  std::string last_error_;                 // the problem last logged, until it clears
  std::vector<std::string> last_refused_;  // sorted; the last poll's refusals

  Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  CondVar stopped_;  // signalled when stop_ is set
};

}  // namespace gantry::lb
