#pragma once

// What gantry-lb needs from HAProxy: bring it to a configuration (write,
// check, then start it or reload it), send it runtime API commands, stop it.
// `Haproxy` drives the real process; tests use a fake that records what it
// was asked. A failed Apply() leaves the previous configuration serving.
//
// Implementations need not be thread-safe: the Balancer calls them from one
// thread at a time.

#include <string>

#include "absl/status/status.h"

namespace gantry::lb {

class HaproxyControl {
 public:
  virtual ~HaproxyControl() = default;

  // Writes `config`, checks it, then starts HAProxy or reloads it without
  // dropping a connection. An error leaves the running HAProxy as it was.
  virtual absl::Status Apply(const std::string& config) = 0;
  // Sends one runtime API command. An error says what went wrong (HAProxy's
  // answer, or the admin socket's failure); the caller names the command.
  virtual absl::Status Command(const std::string& command) = 0;
  // Stops HAProxy (its master and workers); nothing when it is not running.
  virtual void Stop() = 0;
  // The master's pid; -1 when HAProxy is not running.
  virtual int pid() const = 0;
};

}  // namespace gantry::lb
