#include "agent/runtime/oci_spec.h"

#include <openssl/evp.h>

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/runtime/seccomp_profile.h"
#include "nlohmann/json.hpp"

namespace gantry::agent {

using nlohmann::json;

namespace {

json Mount(const std::string& dest, const std::string& type, const std::string& source,
           std::vector<std::string> options) {
  return json{{"destination", dest}, {"type", type}, {"source", source}, {"options", options}};
}

json Device(const std::string& type, int major, int minor) {
  return json{
      {"allow", true}, {"type", type}, {"major", major}, {"minor", minor}, {"access", "rwm"}};
}

std::vector<std::string> StringArray(const json& j, const char* key) {
  std::vector<std::string> out;
  if (!j.contains(key) || !j[key].is_array()) return out;
  for (const auto& v : j[key]) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

}  // namespace

absl::StatusOr<ImageConfig> ParseImageConfig(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("image config is not a JSON object");
  }
  ImageConfig out;
  if (j.contains("config") && j["config"].is_object()) {
    const json& c = j["config"];
    out.env = StringArray(c, "Env");
    out.entrypoint = StringArray(c, "Entrypoint");
    out.cmd = StringArray(c, "Cmd");
    if (c.contains("WorkingDir") && c["WorkingDir"].is_string()) {
      out.working_dir = c["WorkingDir"].get<std::string>();
    }
    if (c.contains("User") && c["User"].is_string()) out.user = c["User"].get<std::string>();
  }
  if (j.contains("rootfs") && j["rootfs"].is_object()) {
    out.diff_ids = StringArray(j["rootfs"], "diff_ids");
  }
  if (out.diff_ids.empty()) {
    return absl::InvalidArgumentError("image config lists no layers (rootfs.diff_ids)");
  }
  return out;
}

std::string Sha256Digest(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0xf]);
  }
  return out;
}

std::string ChainId(const std::vector<std::string>& diff_ids) {
  if (diff_ids.empty()) return "";
  std::string chain = diff_ids[0];
  for (size_t i = 1; i < diff_ids.size(); ++i) {
    chain = Sha256Digest(absl::StrCat(chain, " ", diff_ids[i]));
  }
  return chain;
}

namespace {

// The process: arguments (the task's command, or the image's entrypoint and
// cmd), environment (the image's, then the task's), user and capabilities.
absl::StatusOr<json> Process(const ContainerSpec& spec, const ImageConfig& image,
                             const ProcessUser& user) {
  std::vector<std::string> args;
  if (!spec.command.empty()) {
    args = spec.command;
  } else {
    args = image.entrypoint;
    args.insert(args.end(), image.cmd.begin(), image.cmd.end());
  }
  if (args.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image ", spec.image, " defines no command; set command in the task definition"));
  }
  // Later entries win; keep the image's first, then the task's.
  std::vector<std::string> env = image.env;
  bool has_path = false;
  for (const auto& e : env) has_path |= absl::StartsWith(e, "PATH=");
  if (!has_path)
    env.insert(env.begin(), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  env.insert(env.end(), spec.env.begin(), spec.env.end());
  if (!spec.hostname.empty()) env.push_back(absl::StrCat("HOSTNAME=", spec.hostname));

  json who = {{"uid", user.uid}, {"gid", user.gid}};
  if (!user.additional_gids.empty()) who["additionalGids"] = user.additional_gids;
  // A process that is not root keeps no effective or permitted
  // capabilities across exec, as with Docker; the bounding set still limits
  // what a setuid program could regain (no-new-privileges forbids that too).
  const std::vector<std::string>& caps = spec.capabilities;
  const std::vector<std::string> none;
  const auto& held = user.uid == 0 ? caps : none;
  json process = {
      {"terminal", false},
      {"user", who},
      {"args", args},
      {"env", env},
      {"cwd", image.working_dir.empty() ? "/" : image.working_dir},
      {"capabilities", {{"bounding", caps}, {"effective", held}, {"permitted", held}}},
      {"noNewPrivileges", true},
  };
  if (!spec.rlimits.empty()) {
    json rlimits = json::array();
    for (const auto& r : spec.rlimits) {
      rlimits.push_back({{"type", r.type}, {"soft", r.soft}, {"hard", r.hard}});
    }
    process["rlimits"] = rlimits;
  }
  return process;
}

json Mounts(const ContainerSpec& spec, const OciOptions& options) {
  json mounts = json::array({
      Mount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
      Mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      Mount("/dev/pts", "devpts", "devpts",
            {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
      Mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
      Mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
      Mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
      Mount("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}),
  });
  std::error_code ec;
  if (!options.resolv_conf.empty() && std::filesystem::exists(options.resolv_conf, ec)) {
    mounts.push_back(Mount("/etc/resolv.conf", "bind", options.resolv_conf,
                           {"rbind", "ro", "nosuid", "nodev", "noexec"}));
  }
  for (const BindMount& m : spec.mounts) {
    mounts.push_back(Mount(m.destination, "bind", m.source,
                           {"rbind", m.read_only ? "ro" : "rw", "nosuid", "nodev", "noexec"}));
  }
  return mounts;
}

// Devices, memory and CPU limits.
json Resources(const ContainerSpec& spec) {
  json resources = {
      {"devices", json::array({{{"allow", false}, {"access", "rwm"}},
                               Device("c", 1, 3),  // null
                               Device("c", 1, 5),  // zero
                               Device("c", 1, 7),  // full
                               Device("c", 1, 8),  // random
                               Device("c", 1, 9),  // urandom
                               Device("c", 5, 0),  // tty
                               Device("c", 5, 2),  // ptmx
                               Device("c", 136, -1)})},
      {"memory", {{"limit", spec.memory_bytes}, {"swap", spec.memory_bytes}}},
  };
  json cpu = {{"shares", std::max<int64_t>(2, spec.cpu_millis * 1024 / 1000)}};
  if (spec.cpu_millis > 0) {
    cpu["quota"] = spec.cpu_millis * 100;  // of a 100ms period
    cpu["period"] = 100000;
  }
  resources["cpu"] = cpu;
  if (spec.pids_limit > 0) resources["pids"] = {{"limit", spec.pids_limit}};
  // devpts wildcard minor is encoded as "no minor".
  resources["devices"].back().erase("minor");
  return resources;
}

json Linux(const ContainerSpec& spec, const OciOptions& options) {
  json namespaces =
      json::array({{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}}});
  if (!spec.netns_path.empty()) {
    namespaces.push_back({{"type", "network"}, {"path", spec.netns_path}});
  }
  return json{
      {"resources", Resources(spec)},
      {"cgroupsPath", absl::StrCat(options.cgroup_parent, "/", spec.id)},
      {"namespaces", namespaces},
      {"maskedPaths",
       {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
        "/proc/scsi"}},
      {"readonlyPaths", {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}},
      {"seccomp", DefaultSeccompProfile(spec.capabilities)},
  };
}

}  // namespace

absl::StatusOr<std::string> BuildOciSpec(const ContainerSpec& spec, const ImageConfig& image,
                                         const ProcessUser& user, const OciOptions& options) {
  auto process = Process(spec, image, user);
  if (!process.ok()) return process.status();
  json out = {
      {"ociVersion", "1.0.2"},
      {"process", *process},
      {"root", {{"path", "rootfs"}, {"readonly", spec.readonly_root}}},
      {"hostname", spec.hostname},
      {"mounts", Mounts(spec, options)},
      {"linux", Linux(spec, options)},
  };
  return out.dump();
}

}  // namespace gantry::agent
