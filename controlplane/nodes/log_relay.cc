#include "controlplane/nodes/log_relay.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace gantry::nodes {

using gantry::v1::ControlMessage;

LogRelay::LogRelay(const AgentSessions* sessions) : sessions_(sessions) {}

absl::StatusOr<int64_t> LogRelay::Open(const gantry::v1::Task& task,
                                       const gantry::v1::GetLogsRequest& request, Sink sink) {
  // The lock is held while the connection is looked up, so a disconnect
  // either happens before (and Open fails) or its EndOrphaned() finds the
  // stream.
  MutexLock lock(&mu_);
  auto connection = sessions_->Connection(task.node());
  if (connection == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("the agent on node ", task.node(), " that ran task ", task.id().substr(0, 8),
                     " is not connected; its logs are readable again once it reconnects"));
  }
  const int64_t id = next_id_++;
  streams_[id] = Stream{task.node(), connection, std::move(sink)};
  ControlMessage msg;
  auto* lr = msg.mutable_log_request();
  lr->set_request_id(id);
  lr->set_task_id(task.id());
  lr->set_container(request.container());
  lr->set_tail_lines(request.tail_lines());
  lr->set_follow(request.follow());
  connection->Send(msg);
  return id;
}

void LogRelay::Close(int64_t request_id) {
  MutexLock lock(&mu_);
  auto it = streams_.find(request_id);
  if (it == streams_.end()) return;
  if (auto connection = sessions_->Connection(it->second.node); connection != nullptr) {
    ControlMessage msg;
    msg.mutable_log_cancel()->set_request_id(request_id);
    connection->Send(msg);
  }
  streams_.erase(it);
}

void LogRelay::OnData(const std::string& node, const gantry::v1::LogData& data) {
  Sink sink;
  {
    MutexLock lock(&mu_);
    auto it = streams_.find(data.request_id());
    if (it == streams_.end() || it->second.node != node) return;
    sink = it->second.sink;
    if (data.eof()) streams_.erase(it);
  }
  sink(data);
}

void LogRelay::EndOrphaned(const std::string& node) {
  std::vector<Sink> orphaned;
  {
    MutexLock lock(&mu_);
    const auto current = sessions_->Connection(node);
    for (auto s = streams_.begin(); s != streams_.end();) {
      if (s->second.node == node && s->second.via != current) {
        orphaned.push_back(std::move(s->second.sink));
        s = streams_.erase(s);
      } else {
        ++s;
      }
    }
  }
  gantry::v1::LogData eof;
  eof.set_eof(true);
  eof.set_error(absl::StrCat("the agent on ", node, " disconnected"));
  for (const auto& sink : orphaned) sink(eof);
}

}  // namespace gantry::nodes
