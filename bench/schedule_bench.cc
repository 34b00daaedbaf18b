// Drives the control plane's real scheduling path — ServiceController passes
// with the placement core, ClusterState bookkeeping and durable SQLite
// commits (batched as the controller batches them) — for simulated nodes and
// services with mixed strategies and constraints, and prints placements per
// second, time per placement, peak memory and the worst zone skew.
//
// usage: schedule_bench [--nodes N] [--zones Z] [--services S]
//                       [--tasks-per-service T] [--dir DIR]
//                       [--store etcd://HOST:PORT,... [--etcd-ca F --etcd-cert F --etcd-key F]]
// With --store, the store is etcd (it must be empty): commits are split to
// etcd's transaction limits as the controller splits them.
// Not a test: numbers go to docs/performance.md.

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/log.h"
#include "controlplane/api/operator_api.h"
#include "controlplane/controllers/service_controller.h"
#include "controlplane/controllers/task_batch.h"
#include "controlplane/events/event_log.h"
#include "controlplane/nodes/node_manager.h"
#include "controlplane/state/cluster_state.h"
#include "controlplane/state/keys.h"
#include "controlplane/store/open_store.h"

namespace {

struct Flags {
  int nodes = 5000;
  int zones = 5;
  int services = 1000;
  int tasks_per_service = 100;
  std::string dir;
  std::string store;
  gantry::TlsFiles etcd_tls;
};

Flags Parse(int argc, char** argv) {
  Flags f;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const std::string v = argv[i + 1];
    std::string* text = k == "--dir"         ? &f.dir
                        : k == "--store"     ? &f.store
                        : k == "--etcd-ca"   ? &f.etcd_tls.ca
                        : k == "--etcd-cert" ? &f.etcd_tls.cert
                        : k == "--etcd-key"  ? &f.etcd_tls.key
                                             : nullptr;
    if (text != nullptr) {
      *text = v;
      continue;
    }
    int n = 0;
    if (!absl::SimpleAtoi(v, &n) || n <= 0) {
      std::fprintf(stderr, "schedule_bench: %s needs a positive number\n", k.c_str());
      std::exit(2);
    }
    if (k == "--nodes") {
      f.nodes = n;
    } else if (k == "--zones") {
      f.zones = n;
    } else if (k == "--services") {
      f.services = n;
    } else if (k == "--tasks-per-service") {
      f.tasks_per_service = n;
    } else {
      std::fprintf(stderr, "schedule_bench: unknown flag %s\n", k.c_str());
      std::exit(2);
    }
  }
  return f;
}

// Four kinds of services, one of each in turn.
void SetPlacement(int s, gantry::v1::Service& svc) {
  auto* p = svc.mutable_placement();
  auto strategy = [&](const char* type, const char* field) {
    auto* st = p->add_strategy();
    st->set_type(type);
    st->set_field(field);
  };
  switch (s % 4) {
    case 0:  // default: spread by zone, then node
      break;
    case 1:
      strategy("spread", "zone");
      strategy("binpack", "memory");
      break;
    case 2: {
      strategy("spread", "zone");
      strategy("spread", "node");
      auto* c = p->add_constraints();
      c->set_type("memberOf");
      c->set_expression("attribute:disk == ssd");
      break;
    }
    case 3: {
      strategy("spread", "zone");
      strategy("spread", "attribute:rack");
      p->add_constraints()->set_type("distinctInstance");
      break;
    }
  }
}

// Nodes: written directly, as registration would. Half have SSDs; ten racks.
bool WriteNodes(const Flags& flags, gantry::state::ClusterState& state) {
  gantry::store::TxnRequest txn;
  for (int i = 0; i < flags.nodes; ++i) {
    gantry::v1::Node n;
    n.set_name(absl::StrCat("node-", i));
    n.set_zone(absl::StrCat("zone-", i % flags.zones));
    n.set_status(gantry::v1::Node::ACTIVE);
    n.mutable_capacity()->set_cpu(16000);
    n.mutable_capacity()->set_memory(int64_t{64} << 30);
    n.set_port_range_start(20000);
    n.set_port_range_end(32767);
    n.set_address(absl::StrCat("10.0.", i / 250, ".", i % 250));
    (*n.mutable_attributes())["disk"] = (i / flags.zones) % 2 == 0 ? "ssd" : "hdd";
    (*n.mutable_attributes())["rack"] = absl::StrCat("r", (i / flags.zones) % 10);
    txn.ops.push_back(
        gantry::store::Op::Put(gantry::state::NodeKey(n.name()), n.SerializeAsString()));
  }
  auto done = state.CommitEach(txn);
  if (!done.ok()) std::fprintf(stderr, "nodes: %s\n", std::string(done.status().message()).c_str());
  return done.ok();
}

// Services [first, last): one apply (an apply is one transaction, which on
// etcd holds 128 operations at most).
gantry::v1::ApplyRequest Services(int first, int last, const Flags& flags) {
  gantry::v1::ApplyRequest req;
  for (int s = first; s < last; ++s) {
    auto* td = req.add_task_definitions();
    td->set_family(absl::StrCat("svc", s));
    auto* c = td->add_containers();
    c->set_name("app");
    c->set_image("example.org/app:1");
    c->set_cpu(s % 3 == 0 ? 250 : 100);
    c->set_memory(s % 3 == 0 ? (int64_t{512} << 20) : (int64_t{128} << 20));
    c->add_port_mappings()->set_name("http");
    auto* svc = req.add_services();
    svc->set_name(absl::StrCat("svc", s));
    svc->set_task_definition(td->family());
    svc->set_desired_count(flags.tasks_per_service);
    SetPlacement(s, *svc);
  }
  return req;
}

struct PassTimes {
  double seconds = 0;
  double commit_seconds = 0;
  std::vector<double> per_placement_us;  // sorted
};

// One controller pass over every service, batched and committed as the
// controller's loop does it.
std::optional<PassTimes> RunPass(const Flags& flags, gantry::controllers::ServiceController& c,
                                 gantry::controllers::TaskBatch& batch) {
  PassTimes out;
  const auto start = std::chrono::steady_clock::now();
  for (int s = 0; s < flags.services; ++s) {
    const auto t0 = std::chrono::steady_clock::now();
    if (!c.ReconcileInto(absl::StrCat("svc", s), batch).ok()) return std::nullopt;
    const double us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    for (int i = 0; i < flags.tasks_per_service; ++i) {
      out.per_placement_us.push_back(us / flags.tasks_per_service);
    }
    if (batch.size() >= 20000 || s + 1 == flags.services) {
      const auto c0 = std::chrono::steady_clock::now();
      if (auto st = batch.Flush(); !st.ok()) {
        std::fprintf(stderr, "commit: %s\n", std::string(st.message()).c_str());
        return std::nullopt;
      }
      out.commit_seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
    }
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::sort(out.per_placement_us.begin(), out.per_placement_us.end());
  return out;
}

// The largest difference between a service's fullest and emptiest zone.
int MaxZoneSkew(const Flags& flags, const std::vector<gantry::v1::Task>& tasks) {
  int skew = 0;
  std::map<std::string, std::map<std::string, int>> per_service_zone;
  for (const auto& t : tasks) per_service_zone[t.service()][t.zone()]++;
  for (auto& [svc, zones] : per_service_zone) {
    int lo = INT32_MAX;
    int hi = 0;
    for (int z = 0; z < flags.zones; ++z) {
      const int n = zones[absl::StrCat("zone-", z)];
      lo = std::min(lo, n);
      hi = std::max(hi, n);
    }
    skew = std::max(skew, hi - lo);
  }
  return skew;
}

void Report(const Flags& flags, size_t tasks, const PassTimes& times, int skew) {
  auto pct = [&](double p) {
    return times.per_placement_us[static_cast<size_t>(p * (times.per_placement_us.size() - 1))];
  };
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf("nodes %d, zones %d, services %d x %d tasks (4 placement policies in turn)\n",
              flags.nodes, flags.zones, flags.services, flags.tasks_per_service);
  std::printf(
      "placed %zu tasks in %.3f s (%.3f s of it in commits): %.0f placements/s, durably "
      "committed\n",
      tasks, times.seconds, times.commit_seconds, tasks / times.seconds);
  std::printf("time per placement (excluding commits): p50 %.1f us, p99 %.1f us\n", pct(0.5),
              pct(0.99));
  std::printf("peak memory: %.1f MiB\n", usage.ru_maxrss / 1024.0);
  std::printf("max zone skew of any service: %d\n", skew);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace gantry;
  const Flags flags = Parse(argc, argv);
  spdlog::set_level(spdlog::level::warn);
  const std::string dir = flags.dir.empty() ? (std::filesystem::temp_directory_path() /
                                               ("gantry-bench-" + std::to_string(::getpid())))
                                                  .string()
                                            : flags.dir;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string where;
  absl::StatusOr<std::unique_ptr<store::Store>> opened =
      flags.store.empty() ? store::OpenSqliteStore(dir, where)
                          : absl::StatusOr<std::unique_ptr<store::Store>>(
                                store::OpenEtcdStore(flags.store, flags.etcd_tls));
  if (!opened.ok()) {
    std::fprintf(stderr, "%s\n", std::string(opened.status().message()).c_str());
    return 1;
  }
  auto store = std::move(*opened);
  std::printf("store: %s\n", flags.store.empty() ? "SQLite (WAL, synchronous=FULL)"
                                                 : ("etcd " + flags.store).c_str());
  FakeClock clock;
  state::ClusterState state(store.get());
  events::EventLog events(store.get(), &clock);
  nodes::NodeManager nodes(&state, &events, &clock, {});
  controllers::ServiceController controller(&state, &events, &clock, {});
  api::OperatorApi api(&state, &events, &nodes, &clock);
  if (!state.Start().ok() || !events.Start().ok()) return 1;
  if (!WriteNodes(flags, state)) return 1;
  const int per_apply = flags.store.empty() ? flags.services : 50;
  for (int s = 0; s < flags.services; s += per_apply) {
    if (auto r = api.Apply(Services(s, std::min(flags.services, s + per_apply), flags)); !r.ok()) {
      std::fprintf(stderr, "apply: %s\n", std::string(r.status().message()).c_str());
      return 1;
    }
  }
  controllers::TaskBatch batch(&state, &events, &clock);
  const auto times = RunPass(flags, controller, batch);
  if (!times) return 1;
  const auto tasks = state.ListTasks({});
  Report(flags, tasks.size(), *times, MaxZoneSkew(flags, tasks));
  if (flags.dir.empty()) std::filesystem::remove_all(dir);
  return 0;
}
