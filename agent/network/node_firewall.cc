#include "agent/network/node_firewall.h"

#include <nftables/libnftables.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "agent/network/netns.h"
#include "common/cidr.h"

namespace gantry::agent {

std::string RulesetFor(const std::string& subnet, const std::string& task_cidr) {
  // "add" then "delete" makes the delete safe when the table is new; the
  // whole script is one transaction.
  return absl::StrCat("add table ip ", kFirewallTable, "\n",     //
                      "delete table ip ", kFirewallTable, "\n",  //
                      "table ip ", kFirewallTable, " {\n", "  chain postrouting {\n",
                      "    type nat hook postrouting priority srcnat; policy accept;\n",
                      "    ip saddr ", subnet, " ip daddr != ", task_cidr, " masquerade\n", "  }\n",
                      "}\n");
}

NodeFirewall::NodeFirewall(std::string netns) : netns_(std::move(netns)) {}

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

absl::Status NodeFirewall::Apply(const std::string& subnet, const std::string& task_cidr) {
  if (!ParseIpv4Cidr(subnet).ok() || !ParseIpv4Cidr(task_cidr).ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("firewall: \"", subnet, "\" or \"", task_cidr, "\" is not a CIDR block"));
  }
  return Run(RulesetFor(subnet, task_cidr));
}

absl::Status NodeFirewall::Remove() {
  return Run(
      absl::StrCat("add table ip ", kFirewallTable, "\ndelete table ip ", kFirewallTable, "\n"));
}

}  // namespace gantry::agent
