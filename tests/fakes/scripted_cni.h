#pragma once

// A CniExec that answers as the standard plugins would, records every call
// and fails the calls a test names ("ADD bridge").

#include <map>
#include <string>
#include <vector>

#include "agent/network/cni_exec.h"
#include "nlohmann/json.hpp"

namespace gantry::testing {

class ScriptedCni : public agent::CniExec {
 public:
  absl::StatusOr<std::string> Run(const agent::CniCall& call) override {
    using nlohmann::json;
    calls.push_back(call);
    const std::string key = call.command + " " + call.plugin;
    if (auto f = failures.find(key); f != failures.end()) return f->second;
    if (call.command == "ADD" && call.plugin == "bridge") {
      const std::string address = absl::StrCat("10.200.3.", next_host++, "/24");
      return json{{"cniVersion", "1.0.0"},
                  {"ips", json::array({{{"address", address}, {"gateway", "10.200.3.1"}}})}}
          .dump();
    }
    if (call.command == "ADD" && call.plugin == "portmap") {
      return json::parse(call.config)["prevResult"].dump();
    }
    return std::string("{}");
  }
  std::vector<std::string> Names() const {
    std::vector<std::string> out;
    for (const auto& c : calls) out.push_back(c.command + " " + c.plugin + " " + c.ifname);
    return out;
  }
  std::vector<agent::CniCall> calls;
  std::map<std::string, absl::Status> failures;
  int next_host = 2;  // each ADD gets the next address: .2, .3, ...
};

}  // namespace gantry::testing
