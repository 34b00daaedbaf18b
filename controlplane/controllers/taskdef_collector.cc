#include "controlplane/controllers/taskdef_collector.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/spec/validation.h"
#include "controlplane/state/keys.h"

namespace gantry::controllers {
namespace {

// "web:3" (or "web", which names the newest: always kept anyway).
void Use(std::set<std::pair<std::string, int64_t>>& used, const std::string& ref) {
  auto parsed = spec::ParseTaskDefinitionRef(ref);
  if (parsed.ok() && parsed->revision != 0) used.insert({parsed->family, parsed->revision});
}

}  // namespace

int TaskDefinitionCollector::Collect() {
  std::set<std::pair<std::string, int64_t>> used;
  for (const auto& s : state_->ListServices()) {
    Use(used, s.task_definition());
    Use(used, s.resolved_task_definition());
    for (const auto& d : s.deployments()) Use(used, d.task_definition());
  }
  state_->ForEachTask([&](const gantry::v1::Task& t) { Use(used, t.task_definition()); });

  std::map<std::string, std::vector<int64_t>> by_family;
  for (const auto& td : state_->ListTaskDefinitions("")) {
    by_family[td.family()].push_back(td.revision());
  }
  store::TxnRequest txn;
  for (auto& [family, revisions] : by_family) {
    std::sort(revisions.rbegin(), revisions.rend());  // newest first
    for (size_t i = static_cast<size_t>(keep_); i < revisions.size(); ++i) {
      if (used.contains({family, revisions[i]})) continue;
      txn.ops.push_back(store::Op::Delete(state::TaskDefKey(family, revisions[i])));
    }
  }
  if (txn.ops.empty()) return 0;
  auto done = state_->CommitEach(txn);
  if (!done.ok()) {
    spdlog::warn("forgetting old task definition revisions: {}", done.status().message());
    return 0;
  }
  spdlog::info("forgot {} old task definition revision(s) nothing runs", txn.ops.size());
  return static_cast<int>(txn.ops.size());
}

}  // namespace gantry::controllers
