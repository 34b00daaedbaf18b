#include "agent/network/node_firewall.h"

#include <nftables/libnftables.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "agent/network/netns.h"

namespace gantry::agent {

namespace {
constexpr char kBridgeFilter[] = "/proc/sys/net/bridge/bridge-nf-call-iptables";
}

NodeFirewall::NodeFirewall(std::string netns, std::string table)
    : netns_(std::move(netns)), table_(std::move(table)) {}

absl::Status NodeFirewall::Run(const std::string& script) {
  // libnftables speaks netlink in the calling thread's namespace.
  return InNetns(netns_, [&]() -> absl::Status {
    nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
    if (ctx == nullptr) return absl::InternalError("nftables: cannot create a context");
    nft_ctx_buffer_output(ctx);
    nft_ctx_buffer_error(ctx);
    const int rc = nft_run_cmd_from_buffer(ctx, script.c_str());
    std::string error = nft_ctx_get_error_buffer(ctx);
    nft_ctx_free(ctx);
    if (rc != 0) {
      return absl::InternalError(
          absl::StrCat("nftables: ", absl::StripTrailingAsciiWhitespace(error)));
    }
    return absl::OkStatus();
  });
}

absl::Status NodeFirewall::FilterBridgedTraffic() {
  // /proc/sys/net is the opening thread's namespace's.
  return InNetns(netns_, [&]() -> absl::Status {
    std::ifstream in(kBridgeFilter);
    std::string value;
    if (!in || !(in >> value)) {
      return absl::FailedPreconditionError(
          "security groups need the kernel's br_netfilter module (modprobe br_netfilter): "
          "without it traffic between tasks on one node passes unfiltered");
    }
    if (value == "1") return absl::OkStatus();
    std::ofstream out(kBridgeFilter);
    out << "1\n";
    out.close();
    if (!out) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot turn on ", kBridgeFilter, " for the node's namespace"));
    }
    return absl::OkStatus();
  });
}

absl::Status NodeFirewall::Apply(const FirewallConfig&, const std::string& ruleset) {
  // Without br_netfilter the table still filters what is routed.
  const absl::Status bridged = FilterBridgedTraffic();
  if (auto st = Run(ruleset); !st.ok()) return st;
  return bridged;
}

absl::Status NodeFirewall::Remove() { return Run(RemoveTableScript(table_)); }

}  // namespace gantry::agent
