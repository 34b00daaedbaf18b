#pragma once

// Runs HAProxy in master-worker mode and talks to it: starts it with a
// configuration, reloads it (SIGUSR2 to the master: a new worker takes over
// the listening sockets, old ones finish their connections), and sends
// runtime API commands over its admin socket.
//
// Not thread-safe; gantry-lb drives it from one loop.

#include <string>

#include "absl/status/status.h"
#include "lb/haproxy_control.h"

namespace gantry::lb {

class Haproxy final : public HaproxyControl {
 public:
  Haproxy(std::string binary, std::string config_path, std::string admin_socket);
  ~Haproxy() override;
  Haproxy(const Haproxy&) = delete;
  Haproxy& operator=(const Haproxy&) = delete;

  // Writes `config`, checks it with `haproxy -c`, then starts or reloads.
  absl::Status Apply(const std::string& config) override;
  // Sends a runtime API command; an error is HAProxy's answer or the admin
  // socket's failure.
  absl::Status Command(const std::string& command) override;
  // Stops the master and its workers.
  void Stop() override;
  int pid() const override { return pid_; }

 private:
  absl::Status Start();

  const std::string binary_;
  const std::string config_path_;
  const std::string admin_socket_;
  int pid_ = -1;
};

}  // namespace gantry::lb
