// What task networking costs a task start and stop, with Debian's real CNI
// plugins (needs root): in a private node namespace, N tasks are attached
// (namespace, loopback, bridge with host-local, portmap) and detached one
// after another, and each step is timed. networkMode host does none of
// this, so the ADD time is what networkMode task adds to a start.
//
// usage: task_network_bench [N]   (default 30)

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "agent/network/cni_exec.h"
#include "agent/network/cni_network.h"
#include "agent/network/netns.h"

namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

void Print(const char* what, std::vector<double> v) {
  std::sort(v.begin(), v.end());
  std::printf("%-28s median %7.1f ms   p90 %7.1f ms   max %7.1f ms   (n=%zu)\n", what,
              v[v.size() / 2], v[v.size() * 9 / 10], v.back(), v.size());
}

}  // namespace

int main(int argc, char** argv) {
  using namespace gantry::agent;
  const int n = argc > 1 ? std::atoi(argv[1]) : 30;
  if (geteuid() != 0) {
    std::fprintf(stderr, "task_network_bench: needs root (network namespaces, CNI plugins)\n");
    return 2;
  }
  const std::string dir = "/tmp/gantry-netbench-" + std::to_string(getpid());
  const std::string node_ns = dir + "/node";
  if (auto st = CreateNetns(node_ns); !st.ok()) {
    std::fprintf(stderr, "%s\n", std::string(st.message()).c_str());
    return 1;
  }
  ProcessCniExec exec({"/usr/lib/cni", "/opt/cni/bin"}, node_ns);
  CniNetwork::Options o;
  o.state_dir = dir + "/cni";
  o.netns_dir = dir + "/netns";
  CniNetwork network(o, &exec);
  network.SetSubnet("10.250.0.0/24");
  std::vector<double> add_ports, add_plain, del;
  int failures = 0;
  for (int i = 0; i < n; ++i) {
    const std::string id = "bench" + std::to_string(i);
    const bool ports = i % 2 == 0;
    auto t0 = Clock::now();
    auto a = network.Attach(id, ports ? std::vector<MappedPort>{{uint32_t(20000 + i), 8080}}
                                      : std::vector<MappedPort>{});
    auto t1 = Clock::now();
    if (!a.ok()) {
      std::fprintf(stderr, "attach %s: %s\n", id.c_str(),
                   std::string(a.status().message()).c_str());
      failures++;
      continue;
    }
    (ports ? add_ports : add_plain).push_back(Ms(t1 - t0));
    t0 = Clock::now();
    auto st = network.Detach(id);
    t1 = Clock::now();
    if (!st.ok()) failures++;
    del.push_back(Ms(t1 - t0));
  }
  (void)DeleteNetns(node_ns);
  std::filesystem::remove_all(dir);
  if (add_ports.empty() || add_plain.empty()) return 1;
  std::printf("task networking, %d tasks, one at a time, on this machine\n", n);
  Print("ADD (ns+lo+bridge)", add_plain);
  Print("ADD (ns+lo+bridge+portmap)", add_ports);
  Print("DEL", del);
  std::printf("networkMode host: 0 ms (nothing to set up)\n");
  return failures == 0 ? 0 : 1;
}
