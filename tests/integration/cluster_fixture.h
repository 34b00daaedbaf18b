#pragma once

// What the in-process integration tests share: polling for a condition
// with a generous deadline (nothing asserts on timing), a per-test work
// directory, the operator API over TLS as gantryctl reaches it, and an
// agent's options on a fake runtime, sped up for tests.

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "agent/agent.h"
#include "common/tls.h"
#include "gantry/v1/operator.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "tests/support/test_dir.h"

namespace gantry::testing {

inline bool WaitFor(const std::function<bool()>& condition,
                    absl::Duration timeout = absl::Seconds(20)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

// The operator API at `address` with a token, trusting the cluster CA.
inline std::unique_ptr<gantry::v1::OperatorService::Stub> OperatorStub(const std::string& address,
                                                                       const std::string& ca_pem,
                                                                       const std::string& token) {
  ClientTls tls;
  tls.ca_pem = ca_pem;
  const ClientChannel channel = MakeClientChannel(tls, token);
  return gantry::v1::OperatorService::NewStub(
      grpc::CreateCustomChannel(address, channel.credentials, channel.arguments));
}

// Node `name` in `zone` at 127.0.0.1, its data under `data_dir`, with the
// given capacity and 100 dynamic ports from `first_port`; fast ticks and
// reconnects, and no storage thresholds (a test machine's disk may be
// nearly full). The caller sets the identity.
inline agent::Agent::Options TestAgentOptions(const std::string& name, const std::string& zone,
                                              const std::filesystem::path& data_dir,
                                              const std::string& controlplanes, int64_t cpu,
                                              int64_t memory, uint32_t first_port) {
  agent::Agent::Options o;
  o.reconciler.data_dir = data_dir.string();
  o.reconciler.node_name = name;
  o.reconciler.zone = zone;
  o.reconciler.node_address = "127.0.0.1";
  o.session.controlplane = controlplanes;
  o.session.min_backoff = absl::Milliseconds(20);
  o.session.max_backoff = absl::Milliseconds(200);
  auto& id = o.session.identity;
  id.set_node_name(name);
  id.set_zone(zone);
  id.set_address("127.0.0.1");
  id.mutable_capacity()->set_cpu(cpu);
  id.mutable_capacity()->set_memory(memory);
  id.set_port_range_start(first_port);
  id.set_port_range_end(first_port + 100);
  o.tick_interval = absl::Milliseconds(50);
  o.container_storage = data_dir.parent_path().string();
  o.thresholds.min_disk_free = 0;
  o.thresholds.min_inodes_free = 0;
  return o;
}

}  // namespace gantry::testing
