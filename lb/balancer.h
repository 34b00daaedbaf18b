#pragma once

// gantry-lb's loop: follows the control plane's endpoints and keeps HAProxy
// in step — a reload (that drops no connection) when listeners or servers
// change, runtime API weight changes otherwise, so a traffic shift never
// reloads. While the control plane is unreachable HAProxy keeps serving the
// last known layout.

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/tls.h"
#include "gantry/v1/operator.grpc.pb.h"
#include "lb/haproxy.h"
#include "lb/haproxy_config.h"

namespace gantry::lb {

class Balancer {
 public:
  struct Options {
    std::string controlplane = "127.0.0.1:7070";
    TlsFiles tls;
    std::string work_dir;
    std::string haproxy = "/usr/sbin/haproxy";
    std::string bind_address = "127.0.0.1";
    absl::Duration poll_interval = absl::Milliseconds(250);
  };

  explicit Balancer(Options options);
  // Runs until Stop(); an error only for unusable options.
  absl::Status Run();
  void Stop() { stop_ = true; }

  // Brings HAProxy to `endpoints` (public for the loop and for tests).
  absl::Status Sync(const gantry::v1::ListEndpointsResponse& endpoints);

 private:
  const Options options_;
  Settings settings_;
  std::unique_ptr<Haproxy> haproxy_;
  Layout current_;
  bool started_ = false;
  std::atomic<bool> stop_{false};
};

}  // namespace gantry::lb
