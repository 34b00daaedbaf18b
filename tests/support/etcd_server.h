#pragma once

// A real etcd server (Debian's etcd-server, /usr/bin/etcd) for tests: one
// member on free loopback ports with its data in a private temp dir. The
// destructor stops the process it started, by PID, and removes the dir.

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace gantry::testing {

class EtcdServer {
 public:
  static absl::StatusOr<std::unique_ptr<EtcdServer>> Start();
  ~EtcdServer();
  EtcdServer(const EtcdServer&) = delete;
  EtcdServer& operator=(const EtcdServer&) = delete;

  // HOST:PORT of the client listener.
  const std::string& endpoint() const { return endpoint_; }
  std::string url() const { return "etcd://" + endpoint_; }

  // SIGKILL, then start again on the same ports and data.
  absl::Status Restart();

 private:
  EtcdServer() = default;
  absl::Status Launch();
  void Kill();

  std::string dir_;
  std::string endpoint_;
  int client_port_ = 0;
  int peer_port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace gantry::testing
