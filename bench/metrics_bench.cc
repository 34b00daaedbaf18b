// What Gantry's metrics and autoscaling cost the control plane at scale: a
// state of N nodes and S services of T running tasks (each declaring a
// metrics port, each service autoscaled), then
//   - one /metrics render (prometheus-cpp families plus the counts read
//     from ClusterState),
//   - one /sd/tasks and one /sd/agents document,
//   - one autoscaler pass over every service, with Prometheus answered in
//     memory (so it measures Gantry's part: the arithmetic, each service's
//     status written to the store every pass, and in the first pass the
//     scale-out of every service with its event),
// each repeated and reported as the median and the worst.
//
// usage: metrics_bench [--nodes N] [--services S] [--tasks-per-service T]
// Not a test: numbers go to docs/performance.md.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/time_util.h"
#include "controlplane/autoscaling/autoscaler.h"
#include "controlplane/events/event_log.h"
#include "controlplane/metrics/cp_metrics.h"
#include "controlplane/metrics/discovery.h"
#include "controlplane/state/cluster_state.h"
#include "controlplane/state/keys.h"
#include "controlplane/store/sqlite_store.h"

namespace {

using gantry::v1::Task;

struct Flags {
  int nodes = 1000;
  int services = 1000;
  int tasks_per_service = 20;
};

Flags Parse(int argc, char** argv) {
  Flags f;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    int n = 0;
    if (!absl::SimpleAtoi(argv[i + 1], &n) || n <= 0) {
      std::fprintf(stderr, "metrics_bench: %s needs a positive number\n", k.c_str());
      std::exit(2);
    }
    if (k == "--nodes") {
      f.nodes = n;
    } else if (k == "--services") {
      f.services = n;
    } else if (k == "--tasks-per-service") {
      f.tasks_per_service = n;
    } else {
      std::fprintf(stderr, "metrics_bench: unknown flag %s\n", k.c_str());
      std::exit(2);
    }
  }
  return f;
}

// Every query answers 120 against a target of 100: every service wants to
// grow by 20%, so every pass writes each service.
class ConstantPrometheus : public gantry::autoscaling::Prometheus {
 public:
  absl::StatusOr<gantry::autoscaling::QueryResult> Query(const std::string&,
                                                         const std::string&) override {
    return gantry::autoscaling::QueryResult{false, {120}};
  }
};

template <typename F>
void Time(const char* what, int runs, F&& f) {
  std::vector<double> ms;
  size_t bytes = 0;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    bytes = f();
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  std::printf("%-34s median %8.2f ms  worst %8.2f ms  %8.1f KiB\n", what, ms[ms.size() / 2],
              ms.back(), bytes / 1024.0);
}

// The state, written as the controllers would have left it. Returns the
// number of running tasks, or -1 when a commit fails.
int WriteState(const Flags& flags, gantry::state::ClusterState& state) {
  gantry::v1::TaskDefinition td;
  td.set_family("svc");
  td.set_revision(1);
  auto* c = td.add_containers();
  c->set_name("app");
  c->set_image("example.org/app:1");
  c->set_memory(64 << 20);
  c->add_port_mappings()->set_name("http");
  c->mutable_metrics()->set_port("http");
  gantry::store::TxnRequest txn;
  txn.ops.push_back(
      gantry::store::Op::Put(gantry::state::TaskDefKey("svc", 1), td.SerializeAsString()));
  for (int n = 0; n < flags.nodes; ++n) {
    gantry::v1::Node node;
    node.set_name(absl::StrCat("node-", n));
    node.set_zone(absl::StrCat("zone-", n % 5));
    node.set_address(absl::StrCat("10.", n / 250, ".", n % 250, ".1"));
    node.set_metrics_address(absl::StrCat(node.address(), ":7072"));
    node.set_status(gantry::v1::Node::ACTIVE);
    node.mutable_capacity()->set_cpu(16000);
    node.mutable_capacity()->set_memory(int64_t{64} << 30);
    txn.ops.push_back(
        gantry::store::Op::Put(gantry::state::NodeKey(node.name()), node.SerializeAsString()));
  }
  int next = 0;
  for (int s = 0; s < flags.services; ++s) {
    gantry::v1::Service svc;
    svc.set_name(absl::StrCat("svc-", s));
    svc.set_task_definition("svc:1");
    svc.set_resolved_task_definition("svc:1");
    svc.set_desired_count(flags.tasks_per_service);
    svc.set_status(gantry::v1::Service::ACTIVE);
    auto* a = svc.mutable_autoscaling();
    a->set_min_count(1);
    a->set_max_count(flags.tasks_per_service * 10);
    a->set_prometheus("http://prometheus:9090");
    a->add_target_tracking()->set_query(absl::StrCat("load{service=\"", svc.name(), "\"}"));
    a->mutable_target_tracking(0)->set_target(100);
    txn.ops.push_back(
        gantry::store::Op::Put(gantry::state::ServiceKey(svc.name()), svc.SerializeAsString()));
    for (int t = 0; t < flags.tasks_per_service; ++t, ++next) {
      Task task;
      task.set_id(absl::StrCat("task-", next));
      task.set_service(svc.name());
      task.set_task_definition("svc:1");
      task.set_node(absl::StrCat("node-", next % flags.nodes));
      task.set_zone(absl::StrCat("zone-", (next % flags.nodes) % 5));
      task.set_desired_status(Task::RUNNING);
      task.set_last_status(Task::RUNNING);
      auto* p = task.add_ports();
      p->set_name("http");
      p->set_host_port(static_cast<uint32_t>(20000 + t));
      p->set_host_address("10.0.0.1");
      txn.ops.push_back(
          gantry::store::Op::Put(gantry::state::TaskKey(task.id()), task.SerializeAsString()));
    }
    if (txn.ops.size() > 20000) {
      if (!state.Commit(txn).ok()) return -1;
      txn = {};
    }
  }
  if (!txn.ops.empty() && !state.Commit(txn).ok()) return -1;
  return next;
}

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = Parse(argc, argv);
  spdlog::set_level(spdlog::level::warn);
  gantry::FakeClock clock;
  auto store = gantry::store::SqliteStore::Open({":memory:", 100000});
  if (!store.ok()) {
    std::fprintf(stderr, "metrics_bench: %s\n", std::string(store.status().message()).c_str());
    return 1;
  }
  gantry::state::ClusterState state(store->get());
  gantry::events::EventLog events(store->get(), &clock);
  if (!state.Start().ok() || !events.Start().ok()) return 1;
  const int next = WriteState(flags, state);
  if (next < 0) return 1;
  std::printf("%d nodes, %d services x %d tasks = %d running tasks\n", flags.nodes, flags.services,
              flags.tasks_per_service, next);

  gantry::metrics::ControlPlaneMetrics metrics(&state);
  for (int i = 0; i < 50; ++i) {  // some API and placement history
    metrics.ApiRequest(absl::StrCat("Method", i % 17), "OK", absl::Milliseconds(i % 7));
    metrics.Placement(10, 0, absl::Microseconds(300));
  }
  Time("/metrics render", 9, [&] { return metrics.Render().size(); });
  Time("/sd/tasks", 9, [&] { return gantry::metrics::TaskTargets(state).size(); });
  Time("/sd/agents", 9, [&] { return gantry::metrics::AgentTargets(state).size(); });
  ConstantPrometheus prometheus;
  gantry::autoscaling::Autoscaler autoscaler(&state, &events, &clock, &prometheus, &metrics, {});
  Time("autoscaler pass (all services)", 5, [&] {
    clock.Advance(absl::Minutes(10));  // past every cooldown: each pass scales every service
    autoscaler.EvaluateAll();
    return size_t{0};
  });
  // Each pass scaled every service out by 20%: show that it did.
  const auto svc0 = state.GetService("svc-0");
  std::printf("svc-0 after the passes: %d tasks desired (from %d), last decision: %s\n",
              svc0->value.desired_count(), flags.tasks_per_service,
              svc0->value.autoscaling_status().last_decision().substr(0, 30).c_str());
  return 0;
}
