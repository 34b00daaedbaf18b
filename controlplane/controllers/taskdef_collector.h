#pragma once

// Forgets old task definition revisions, so that plain values a user
// replaced (an environment variable, a secret reference) do not stay in
// the store for ever. Per family it keeps the newest `keep` revisions and
// every revision something may still run: a service's resolved or pinned
// revision, any of its deployments' (a rollback returns to one), and any
// task's. The rest is deleted; revision numbers keep growing from the
// newest, which always stays.
//
// Thread-safe as far as the state is.

#include "controlplane/state/cluster_state.h"

namespace gantry::controllers {

class TaskDefinitionCollector {
 public:
  static constexpr int kKeptRevisions = 10;

  explicit TaskDefinitionCollector(state::ClusterState* state, int keep = kKeptRevisions)
      : state_(state), keep_(keep) {}

  // Deletes what may go; returns how many revisions. A store error is
  // logged and the next pass tries again.
  int Collect();

 private:
  state::ClusterState* const state_;
  const int keep_;
};

}  // namespace gantry::controllers
