// How large the messages that grow with a cluster get, against the limits
// of common/message_limits.h: a node's desired set at 10,000 tasks (whole and
// in parts, with the time to split and reassemble it), a ListTasks page, and
// the endpoint list of 100,000 tasks. Prints one line per message.
//
//   build/bin/message_sizes_bench [tasks_per_node] [cluster_tasks]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "common/desired_parts.h"
#include "common/ids.h"
#include "common/message_limits.h"
#include "gantry/v1/operator.pb.h"

namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

// A typical task: one container with a dozen environment entries, a port
// and a health check.
gantry::v1::TaskAssignment Assignment(int i) {
  gantry::v1::TaskAssignment a;
  a.set_task_id(gantry::NewId());
  a.set_service("service-" + std::to_string(i % 50));
  a.set_task_definition("service-" + std::to_string(i % 50) + ":3");
  a.set_network_mode("task");
  auto* c = a.add_containers();
  c->set_name("app");
  c->set_image("registry.example.org/team/app:1.4.2");
  c->set_cpu(100);
  c->set_memory(64 << 20);
  for (int e = 0; e < 12; ++e) {
    (*c->mutable_environment())["SETTING_" + std::to_string(e)] = "value-of-moderate-length";
  }
  c->add_port_mappings()->set_name("http");
  c->mutable_health_check()->mutable_http()->set_port("http");
  auto* p = a.add_ports();
  p->set_name("http");
  p->set_host_port(20000 + i % 10000);
  (*a.mutable_image_digests())["app"] =
      "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  return a;
}

gantry::v1::Task TaskRecord(int i) {
  gantry::v1::Task t;
  t.set_id(gantry::NewId());
  t.set_service("service-" + std::to_string(i % 50));
  t.set_task_definition("service-" + std::to_string(i % 50) + ":3");
  t.set_node("node-" + std::to_string(i % 5000));
  t.set_zone("zone-" + std::to_string(i % 3));
  t.set_address("10.200.1." + std::to_string(i % 250));
  t.set_desired_status(gantry::v1::Task::RUNNING);
  t.set_last_status(gantry::v1::Task::RUNNING);
  auto* cs = t.add_containers();
  cs->set_name("app");
  cs->set_image_digest("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  return t;
}

void Line(const char* what, size_t bytes, const std::string& more) {
  std::printf("%-44s %10.2f MiB  (%5.1f%% of the %d MiB limit)%s\n", what,
              static_cast<double>(bytes) / (1 << 20),
              100.0 * static_cast<double>(bytes) / gantry::kMaxApiMessageBytes,
              gantry::kMaxApiMessageBytes >> 20, more.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  const int per_node = argc > 1 ? std::atoi(argv[1]) : 10000;
  const int cluster = argc > 2 ? std::atoi(argv[2]) : 100000;

  gantry::v1::DesiredTasks desired;
  desired.set_sequence(1);
  for (int i = 0; i < per_node; ++i) *desired.add_tasks() = Assignment(i);
  const size_t whole = desired.ByteSizeLong();
  auto start = Clock::now();
  auto parts = gantry::SplitDesiredTasks(desired);
  const double split_ms = Ms(start);
  size_t largest = 0;
  for (const auto& p : parts) largest = std::max(largest, p.ByteSizeLong());
  start = Clock::now();
  gantry::DesiredTasksAssembler assembler;
  std::optional<gantry::v1::DesiredTasks> back;
  for (auto& p : parts) back = assembler.Add(std::move(p));
  const double join_ms = Ms(start);
  char more[160];
  std::snprintf(more, sizeof(more), "; %zu parts, largest %.2f MiB; split %.1f ms, joined %.1f ms",
                parts.size(), static_cast<double>(largest) / (1 << 20), split_ms, join_ms);
  Line(("desired set, " + std::to_string(per_node) + " tasks").c_str(), whole, more);
  if (!back || back->tasks_size() != per_node) {
    std::fprintf(stderr, "reassembly lost tasks\n");
    return 1;
  }

  gantry::v1::ListTasksResponse page;
  for (int i = 0; i < 1000; ++i) *page.add_tasks() = TaskRecord(i);
  Line("ListTasks page of 1,000 (the default)", page.ByteSizeLong(), "");
  gantry::v1::ListTasksResponse max_page;
  for (int i = 0; i < 5000; ++i) *max_page.add_tasks() = TaskRecord(i);
  Line("ListTasks page of 5,000 (the most)", max_page.ByteSizeLong(), "");

  gantry::v1::ListEndpointsResponse endpoints;
  for (int s = 0; s < 50; ++s) {
    auto* l = endpoints.add_listeners();
    l->set_service("service-" + std::to_string(s));
    l->set_port(8000 + s);
    for (int i = 0; i < cluster / 50; ++i) {
      auto* b = l->add_backends();
      b->set_task_id(gantry::NewId());
      b->set_address("10.200." + std::to_string(i / 250) + "." + std::to_string(i % 250));
      b->set_port(8080);
      b->set_weight(256);
      b->set_deployment_id(gantry::NewId());
    }
  }
  std::snprintf(more, sizeof(more), "; clients accept %d MiB",
                gantry::kMaxClientReceiveBytes >> 20);
  Line(("ListEndpoints, " + std::to_string(cluster) + " tasks").c_str(), endpoints.ByteSizeLong(),
       more);
  return 0;
}
