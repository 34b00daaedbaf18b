#include "agent/session.h"

#include <random>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/desired_parts.h"
#include "common/log.h"
#include "common/message_limits.h"
#include "common/periodic.h"
#include "common/time_util.h"
#include "grpcpp/create_channel.h"

namespace gantry::agent {

using gantry::v1::AgentMessage;
using gantry::v1::ControlMessage;

Session::Session(Options options, Reconciler* reconciler, const Clock* clock,
                 std::function<void()> wake)
    : endpoints_(Endpoints::Parse(options.controlplane, "--controlplane")
                     .value_or(Endpoints({options.controlplane}))),
      options_(std::move(options)),
      reconciler_(reconciler),
      clock_(clock),
      wake_(std::move(wake)) {
  logs_ = std::make_unique<LogServer>(
      [this](const std::string& task_id) { return reconciler_->LogDir(task_id); },
      [this](const std::string& task_id) {
        for (const auto& ts : reconciler_->Snapshot()) {
          if (ts.task_id() == task_id) return ts.status() != gantry::v1::Task::STOPPED;
        }
        return false;
      },
      [this](const gantry::v1::LogData& data) {
        AgentMessage msg;
        *msg.mutable_log_data() = data;
        Send(msg);
      });
}

Session::~Session() {
  Stop();
  logs_.reset();
}

void Session::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stop_ = true;
  if (context_ != nullptr) context_->TryCancel();
  cv_.notify_all();
}

void Session::SetChecks(std::vector<gantry::v1::NodeCheck> checks) {
  std::lock_guard<std::mutex> lock(mu_);
  checks_ = std::move(checks);
}

std::shared_ptr<grpc::Channel> Session::channel() const {
  std::lock_guard<std::mutex> lock(mu_);
  return channel_;
}

bool Session::connected() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stream_ != nullptr;
}

void Session::Send(const AgentMessage& message) { outbound_.Push(message); }

absl::Status Session::Run() {
  if (!options_.credentials) {
    return absl::InvalidArgumentError("the session has no credentials for the control plane");
  }
  std::mt19937_64 rng{std::random_device{}()};
  absl::Duration backoff = options_.min_backoff;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) break;
    }
    ClientChannel credentials = options_.credentials();
    // A frozen or cut-off control plane is noticed within seconds, well
    // inside the heartbeat grace, and the session moves on.
    credentials.arguments.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 3'000);
    credentials.arguments.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 3'000);
    credentials.arguments.SetMaxReceiveMessageSize(kMaxApiMessageBytes);
    const std::string target = endpoints_.Current();
    auto channel =
        grpc::CreateCustomChannel(target, credentials.credentials, credentials.arguments);
    const std::string before = target;
    if (RunOnce(channel, target)) backoff = options_.min_backoff;
    // Sent on to the leader: go there now.
    if (endpoints_.Current() != before && !redirected_.empty()) {
      redirected_.clear();
      continue;
    }
    // Full jitter: wait a random time up to the current backoff.
    std::uniform_int_distribution<int64_t> jitter(0, absl::ToInt64Milliseconds(backoff));
    const auto wait = std::chrono::milliseconds(jitter(rng) + 50);
    backoff = std::min(backoff * 2, options_.max_backoff);
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, wait, [&] { return stop_; });
  }
  return absl::OkStatus();
}

bool Session::RunOnce(const std::shared_ptr<grpc::Channel>& channel, const std::string& target) {
  auto stub = gantry::v1::AgentService::NewStub(channel);
  grpc::ClientContext context;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return false;
    context_ = &context;
  }
  auto stream = stub->Connect(&context);

  AgentMessage hello;
  *hello.mutable_register_() = options_.identity;
  for (const auto& ts : reconciler_->Snapshot()) *hello.mutable_register_()->add_tasks() = ts;
  bool registered = false;
  ControlMessage msg;
  // Reads end (false) once the server has ended the stream.
  bool reads_ended = !stream->Write(hello) || !stream->Read(&msg);
  if (!reads_ended && msg.has_registered() && SameCluster(msg.registered())) {
    registered = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stream_ = stream.get();
      channel_ = channel;
    }
    spdlog::info("registered with the control plane at {} as {}", target,
                 msg.registered().node_name());
    // One writer for the stream: control messages before log data.
    outbound_.Open();
    std::thread writer([this, &stream, &context] {
      while (auto next = outbound_.Pop()) {
        if (!stream->Write(*next)) {
          context.TryCancel();  // the stream is gone: end the reads too
          break;
        }
      }
    });
    // Sets of one stream arrive in order; a new stream's are authoritative
    // even if their sequence is lower (a control plane restored from an
    // older backup, or started on a new store).
    reconciler_->NewSession();
    if (options_.on_registered) options_.on_registered(msg.registered());
    const absl::Duration interval =
        std::max(absl::Milliseconds(100), FromProtoDuration(msg.registered().heartbeat_interval()));
    // The first heartbeat is due one interval after registration.
    bool registered_now = true;
    auto heartbeats = std::make_unique<Periodic>(clock_, interval, [this, &registered_now] {
      if (!std::exchange(registered_now, false)) SendHeartbeat();
    });
    DesiredTasksAssembler parts;
    while (stream->Read(&msg)) {
      switch (msg.message_case()) {
        case ControlMessage::kDesired: {
          auto whole = parts.Add(std::move(*msg.mutable_desired()));
          if (whole && reconciler_->SetDesired(*whole)) {
            if (options_.on_desired) options_.on_desired(*whole);
            wake_();
          }
          break;
        }
        case ControlMessage::kLogRequest:
          logs_->Open(msg.log_request());
          break;
        case ControlMessage::kLogCancel:
          logs_->Cancel(msg.log_cancel().request_id());
          break;
        default:
          break;
      }
    }
    reads_ended = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stream_ = nullptr;
      channel_ = nullptr;
    }
    heartbeats.reset();
    // Nothing writes to the stream once the writer is gone.
    outbound_.Close();
    writer.join();
    logs_->CancelAll();
  }
  // When the server ended the stream, Finish() gives its status; a stream
  // this side abandons (no registration first, another cluster's) is
  // cancelled first, or Finish() would wait for the server forever.
  if (!reads_ended) context.TryCancel();
  const grpc::Status status = stream->Finish();
  {
    std::lock_guard<std::mutex> lock(mu_);
    context_ = nullptr;
    if (stop_) return registered;
  }
  const auto& trailers = context.GetServerTrailingMetadata();
  if (auto leader = trailers.find(kLeaderMetadata); leader != trailers.end()) {
    redirected_ = std::string(leader->second.data(), leader->second.size());
    spdlog::info("the control plane at {} is not the leader; moving to the leader at {}", target,
                 redirected_);
    endpoints_.MoveTo(redirected_);
    return registered;
  }
  endpoints_.MoveOnFrom(target);
  if (registered) {
    spdlog::warn("lost the control plane at {}: {}; reconnecting (containers keep running)", target,
                 status.error_message());
  } else if (!wrong_cluster_) {
    spdlog::warn("cannot register with the control plane at {}: {}{}", target,
                 status.ok() ? "stream closed" : status.error_message(), HintFor(status));
  }
  return registered;
}

bool Session::SameCluster(const gantry::v1::Registered& registered) {
  wrong_cluster_ = !options_.cluster_id.empty() && registered.cluster_id() != options_.cluster_id;
  if (wrong_cluster_) {
    spdlog::error(
        "the control plane at {} belongs to cluster {}, but this node joined cluster {}: "
        "refusing its tasks (containers keep running). Was it started on another or an "
        "empty --data-dir? Point it at its old data dir, or join this node to the new "
        "cluster with a new token and another --data-dir",
        endpoints_.Current(), registered.cluster_id(), options_.cluster_id);
  }
  return !wrong_cluster_;
}

std::string Session::HintFor(const grpc::Status& status) {
  const std::string& m = status.error_message();
  if (m.find("CERTIFICATE_VERIFY_FAILED") != std::string::npos ||
      m.find("certificate verify failed") != std::string::npos) {
    return " (the control plane's certificate is not from this node's cluster CA: a control "
           "plane of another cluster, or one started on an empty --data-dir? containers keep "
           "running)";
  }
  if (status.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
      status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    return " (this node's certificate is refused; join it again with a new token)";
  }
  return "";
}

void Session::SendHeartbeat() {
  AgentMessage hb;
  *hb.mutable_heartbeat()->mutable_time() = ToProtoTime(clock_->Now());
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& c : checks_) *hb.mutable_heartbeat()->add_checks() = c;
  }
  Send(hb);
}

}  // namespace gantry::agent
