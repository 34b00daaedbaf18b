#include "agent/network/cni_network.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "agent/network/netns.h"
#include "common/files.h"
#include "common/log.h"
#include "common/safe_id.h"

namespace gantry::agent {

using nlohmann::json;

namespace {

constexpr char kCniVersion[] = "1.0.0";

std::string Message(const absl::Status& st) { return std::string(st.message()); }

// Tasks speak IPv4 only: the rules are IPv4 (table ip), so an IPv6 link-
// local address on eth0 would reach the node and its other tasks past
// them. Set before the interfaces exist, so none gets one.
absl::Status DisableIpv6(const std::string& netns) {
  return InNetns(netns, []() -> absl::Status {
    for (const char* conf : {"all", "default"}) {
      const std::string path = absl::StrCat("/proc/sys/net/ipv6/conf/", conf, "/disable_ipv6");
      if (access(path.c_str(), F_OK) != 0) continue;  // a kernel without IPv6
      std::ofstream out(path);
      out << "1\n";
      out.close();
      if (!out)
        return absl::InternalError(absl::StrCat("cannot write ", path, " in the task's namespace"));
    }
    return absl::OkStatus();
  });
}

}  // namespace

std::string ResultAddress(const json& result) {
  if (!result.is_object() || !result.contains("ips") || !result["ips"].is_array()) return "";
  for (const auto& ip : result["ips"]) {
    if (!ip.contains("address") || !ip["address"].is_string()) continue;
    std::string a = ip["address"].get<std::string>();
    return a.substr(0, a.find('/'));
  }
  return "";
}

CniNetwork::CniNetwork(Options options, CniExec* exec)
    : options_(std::move(options)), exec_(exec) {}

void CniNetwork::SetSubnet(const std::string& subnet) {
  std::lock_guard<std::mutex> lock(mu_);
  subnet_ = subnet;
}

std::string CniNetwork::subnet() const {
  std::lock_guard<std::mutex> lock(mu_);
  return subnet_;
}

json CniNetwork::BridgeConfig(const std::string& subnet) const {
  return json{
      {"cniVersion", kCniVersion},
      {"name", options_.network_name},
      {"type", "bridge"},
      {"bridge", options_.bridge},
      {"isGateway", true},
      // Not masqueraded here: the node's nftables table masquerades only
      // what leaves the task CIDR, so tasks see each other's addresses.
      {"ipMasq", false},
      // A task reaches its own published ports through the node's address.
      {"hairpinMode", true},
      {"ipam",
       {{"type", "host-local"},
        {"ranges", json::array({json::array({{{"subnet", subnet}}})})},
        {"routes", json::array({{{"dst", "0.0.0.0/0"}}})},
        {"dataDir", absl::StrCat(options_.state_dir, "/ipam")}}},
  };
}

json CniNetwork::PortmapConfig(const std::vector<MappedPort>& ports) const {
  json mappings = json::array();
  for (const auto& p : ports) {
    mappings.push_back(
        {{"hostPort", p.host_port}, {"containerPort", p.container_port}, {"protocol", "tcp"}});
  }
  return json{{"cniVersion", kCniVersion},
              {"name", options_.network_name},
              {"type", "portmap"},
              {"capabilities", {{"portMappings", true}}},
              {"runtimeConfig", {{"portMappings", mappings}}},
              {"snat", true}};
}

std::string CniNetwork::RecordPath(const std::string& task_id) const {
  return absl::StrCat(options_.state_dir, "/attachments/", task_id, ".json");
}

std::optional<json> CniNetwork::Load(const std::string& task_id) const {
  if (!IsSafePathId(task_id)) return std::nullopt;
  auto text = ReadWholeFile(RecordPath(task_id));
  if (!text.ok()) return std::nullopt;
  json j = json::parse(*text, nullptr, false);
  // What Teardown and Find read must be there and of its type.
  if (!j.is_object() || !j.contains("netns") || !j["netns"].is_string() || !j.contains("stage") ||
      !j["stage"].is_string() || !j.contains("bridge") || !j["bridge"].is_object() ||
      (j.contains("portmap") && !j["portmap"].is_object()) ||
      (j["stage"] == "added" && (!j.contains("address") || !j["address"].is_string()))) {
    spdlog::warn("ignoring unreadable network record {}", RecordPath(task_id));
    return std::nullopt;
  }
  return j;
}

absl::Status CniNetwork::Save(const std::string& task_id, const json& record) const {
  if (auto st = MakePrivateDirectory(absl::StrCat(options_.state_dir, "/attachments")); !st.ok()) {
    return st;
  }
  return WriteFileAtomically(RecordPath(task_id), record.dump(), 0600);
}

absl::StatusOr<std::string> CniNetwork::Call(const std::string& command, const std::string& task_id,
                                             const std::string& netns, const std::string& ifname,
                                             json config, const json* prev) {
  if (prev != nullptr && !prev->is_null()) config["prevResult"] = *prev;
  CniCall call;
  call.plugin = config["type"].get<std::string>();
  call.command = command;
  call.container_id = task_id;
  call.netns = netns;
  call.ifname = ifname;
  call.config = config.dump();
  return exec_->Run(call);
}

absl::StatusOr<TaskAttachment> CniNetwork::Attach(const std::string& task_id,
                                                  const std::vector<MappedPort>& ports) {
  if (!IsSafePathId(task_id)) {
    return absl::InvalidArgumentError(absl::StrCat("task id \"", task_id, "\" is not plain"));
  }
  if (auto recorded = Find(task_id)) return *recorded;
  if (auto record = Load(task_id)) {
    // An ADD that a restart interrupted: undo it, then start over.
    if (auto st = Teardown(task_id, *record); !st.ok()) return st;
  }
  const std::string subnet = this->subnet();
  if (subnet.empty()) {
    return absl::UnavailableError("waiting for the node's task subnet from the control plane");
  }
  const std::string netns = absl::StrCat(options_.netns_dir, "/", task_id);
  json record = {{"task", task_id},
                 {"stage", "adding"},
                 {"netns", netns},
                 {"subnet", subnet},
                 {"bridge", BridgeConfig(subnet)}};
  if (!ports.empty()) record["portmap"] = PortmapConfig(ports);
  if (auto st = Save(task_id, record); !st.ok()) return st;

  auto fail = [&](const absl::Status& st) -> absl::Status {
    if (auto undo = Teardown(task_id, record); !undo.ok()) {
      return absl::Status(st.code(),
                          absl::StrCat(st.message(), " (and undoing it: ", undo.message(), ")"));
    }
    return st;
  };
  if (options_.manage_namespaces) {
    if (auto st = CreateNetns(netns); !st.ok()) return fail(st);
    if (auto st = DisableIpv6(netns); !st.ok()) return fail(st);
  }
  const json loopback = {
      {"cniVersion", kCniVersion}, {"name", options_.network_name}, {"type", "loopback"}};
  if (auto out = Call("ADD", task_id, netns, "lo", loopback, nullptr); !out.ok()) {
    return fail(out.status());
  }
  auto bridge = Call("ADD", task_id, netns, "eth0", record["bridge"], nullptr);
  if (!bridge.ok()) return fail(bridge.status());
  json result = json::parse(*bridge, nullptr, false);
  const std::string address = ResultAddress(result);
  if (address.empty()) {
    return fail(absl::InternalError(absl::StrCat("bridge gave no address: ", *bridge)));
  }
  record["result"] = result;  // DEL needs it from here on
  if (record.contains("portmap")) {
    auto mapped = Call("ADD", task_id, netns, "eth0", record["portmap"], &result);
    if (!mapped.ok()) return fail(mapped.status());
    json final_result = json::parse(*mapped, nullptr, false);
    if (final_result.is_object()) record["result"] = final_result;
  }
  record["stage"] = "added";
  record["address"] = address;
  if (auto st = Save(task_id, record); !st.ok()) return fail(st);
  return TaskAttachment{netns, address};
}

absl::Status CniNetwork::Check(const std::string& task_id) {
  auto record = Load(task_id);
  if (!record || (*record)["stage"] != "added") {
    return absl::NotFoundError(absl::StrCat("task ", task_id, " has no network attachment"));
  }
  const std::string netns = (*record)["netns"].get<std::string>();
  if (options_.manage_namespaces && !IsNetns(netns)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the task's network namespace ", netns, " is gone"));
  }
  const json& result = (*record)["result"];
  if (auto out = Call("CHECK", task_id, netns, "eth0", (*record)["bridge"], &result); !out.ok()) {
    return out.status();
  }
  // portmap is not asked: Debian 12's portmap (1.1.1) fails CHECK of an
  // IPv4-only mapping whenever ip6tables exists ("could not check ipv6
  // dnat"), which would stop every adopted task with published ports.
  return absl::OkStatus();
}

absl::Status CniNetwork::Teardown(const std::string& task_id, const json& record) {
  const std::string netns = record.at("netns").get<std::string>();
  const json* prev = record.contains("result") ? &record.at("result") : nullptr;
  // A namespace that is gone (a reboot, or a crash before it was mounted)
  // is passed as none: the plugins then release the address and rules, as
  // the CNI spec allows, instead of failing on a path that is no namespace.
  const std::string plugin_netns = !options_.manage_namespaces || IsNetns(netns) ? netns : "";
  absl::Status first;
  // Reverse order; DEL of what is already gone succeeds, per the spec.
  if (record.contains("portmap")) {
    if (auto out = Call("DEL", task_id, plugin_netns, "eth0", record.at("portmap"), prev);
        !out.ok()) {
      first.Update(out.status());
    }
  }
  if (auto out = Call("DEL", task_id, plugin_netns, "eth0", record.at("bridge"), prev); !out.ok()) {
    first.Update(out.status());
  }
  if (!first.ok()) return first;
  if (options_.manage_namespaces) {
    if (auto st = DeleteNetns(netns); !st.ok()) return st;
  }
  std::error_code ec;
  std::filesystem::remove(RecordPath(task_id), ec);
  return absl::OkStatus();
}

absl::Status CniNetwork::Detach(const std::string& task_id) {
  auto record = Load(task_id);
  if (!record) return absl::OkStatus();
  if (auto st = Teardown(task_id, *record); !st.ok()) {
    return absl::Status(st.code(),
                        absl::StrCat("remove the network of task ", task_id, ": ", Message(st)));
  }
  return absl::OkStatus();
}

std::vector<std::string> CniNetwork::Attached() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e :
       std::filesystem::directory_iterator(absl::StrCat(options_.state_dir, "/attachments"), ec)) {
    if (e.path().extension() == ".json") out.push_back(e.path().stem().string());
  }
  return out;
}

std::optional<TaskAttachment> CniNetwork::Find(const std::string& task_id) const {
  auto record = Load(task_id);
  if (!record || (*record)["stage"] != "added") return std::nullopt;
  return TaskAttachment{(*record)["netns"].get<std::string>(),
                        (*record)["address"].get<std::string>()};
}

}  // namespace gantry::agent
