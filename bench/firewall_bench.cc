// What rewriting the node's nftables table costs (needs root): in a
// private node namespace, the table for T tasks of S services, each
// service with R ingress rules naming other services (address sets of A
// addresses each), is built (RulesetFor) and applied through libnftables
// (one transaction, the whole table replaced), K times. Prints the rule
// count, the build time and the apply time, beside `nft -f` of the same
// script (the CLI a shell-script firewall would run).
//
// usage: firewall_bench [TASKS [SERVICES [RULES [ADDRESSES [RUNS]]]]]
//        (defaults 200 50 18 20 15: about 1,000 rules)

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/network/firewall_rules.h"
#include "agent/network/netns.h"
#include "agent/network/node_firewall.h"

namespace {

using Clock = std::chrono::steady_clock;
double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

void Print(const char* what, std::vector<double> v) {
  std::sort(v.begin(), v.end());
  std::printf("%-34s median %7.2f ms   p90 %7.2f ms   max %7.2f ms   (n=%zu)\n", what,
              v[v.size() / 2], v[v.size() * 9 / 10], v.back(), v.size());
}

int Arg(int argc, char** argv, int i, int fallback) {
  return argc > i ? std::atoi(argv[i]) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace gantry::agent;
  const int tasks = Arg(argc, argv, 1, 200), services = Arg(argc, argv, 2, 50),
            rules = Arg(argc, argv, 3, 18), addresses = Arg(argc, argv, 4, 20),
            runs = Arg(argc, argv, 5, 15);
  if (geteuid() != 0) {
    std::fprintf(stderr, "firewall_bench: needs root (a network namespace, nftables)\n");
    return 2;
  }
  FirewallConfig c;
  c.subnet = "10.250.0.0/24";
  c.task_cidr = "10.250.0.0/16";
  for (int s = 0; s < services; ++s) {
    auto& ingress = c.ingress.emplace_back();
    ingress.set_service(absl::StrCat("svc", s));
    auto* own = ingress.add_rules();
    own->set_from_service(ingress.service());
    own->set_protocol("all");
    for (int r = 0; r < rules; ++r) {
      auto* rule = ingress.add_rules();
      if (r % 2 == 0) {
        rule->set_from_service(absl::StrCat("svc", (s + r + 1) % services));
      } else {
        rule->set_cidr(absl::StrCat("10.", 100 + r, ".0.0/16"));
      }
      rule->set_protocol("tcp");
      rule->add_ports(1000 + r);
    }
    auto& set = c.addresses.emplace_back();
    set.set_service(ingress.service());
    for (int a = 0; a < addresses; ++a) {
      set.add_addresses(absl::StrCat("10.250.", 1 + s % 250, ".", 1 + a % 250));
    }
  }
  for (int t = 0; t < tasks && t < 250; ++t) {
    c.tasks.push_back(
        {absl::StrCat("10.250.0.", 2 + t), absl::StrCat("svc", t % services), {8080}});
  }
  auto script = RulesetFor(c);
  if (!script.ok()) {
    std::fprintf(stderr, "%s\n", std::string(script.status().message()).c_str());
    return 1;
  }
  int rule_lines = 0;
  for (absl::string_view line : absl::StrSplit(*script, '\n')) {
    rule_lines += absl::StrContains(line, "accept") || absl::StrContains(line, "drop") ||
                  absl::StrContains(line, "goto") || absl::StrContains(line, "return") ||
                  absl::StrContains(line, "jump") || absl::StrContains(line, "masquerade");
  }
  const std::string dir = "/tmp/gantry-fwbench-" + std::to_string(getpid());
  const std::string ns = dir + "/node";
  if (auto st = CreateNetns(ns); !st.ok()) {
    std::fprintf(stderr, "%s\n", std::string(st.message()).c_str());
    return 1;
  }
  std::printf("%d tasks, %d services x %d rules, %d addresses per set: %d rules, %zu bytes\n",
              static_cast<int>(c.tasks.size()), services, rules + 1, addresses, rule_lines,
              script->size());
  NodeFirewall firewall(ns);
  std::vector<double> build, apply, cli;
  int failures = 0;
  const std::string file = dir + "/table.nft";
  std::ofstream(file) << *script;
  for (int i = 0; i < runs; ++i) {
    // Change one address each time, as a task coming or going would.
    c.addresses[0].set_addresses(0, absl::StrCat("10.250.9.", 1 + i % 250));
    auto t0 = Clock::now();
    auto s = RulesetFor(c);
    auto t1 = Clock::now();
    auto st = firewall.Apply(c, *s);
    auto t2 = Clock::now();
    failures += !st.ok();
    if (!st.ok() && failures == 1) std::fprintf(stderr, "%s\n", std::string(st.message()).c_str());
    build.push_back(Ms(t1 - t0));
    apply.push_back(Ms(t2 - t1));
    // The same script through the CLI, in the same namespace.
    auto t3 = Clock::now();
    const std::string nsenter = absl::StrCat("nsenter --net=", ns, " nft -f ", file);
    failures += std::system(nsenter.c_str()) != 0;
    cli.push_back(Ms(Clock::now() - t3));
  }
  (void)firewall.Remove();
  (void)DeleteNetns(ns);
  std::filesystem::remove_all(dir);
  Print("build the script (RulesetFor)", build);
  Print("apply through libnftables", apply);
  Print("apply with nft -f (fork + exec)", cli);
  std::printf("failures: %d\n", failures);
  return failures == 0 ? 0 : 1;
}
