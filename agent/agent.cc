#include "agent/agent.h"

#include "common/log.h"

namespace gantry::agent {

namespace {

Agent::Options WithUpkeepDataDir(Agent::Options options) {
  options.upkeep.data_dir = options.reconciler.data_dir;
  return options;
}

}  // namespace

Agent::Agent(std::unique_ptr<ContainerRuntime> runtime, const Clock* clock, Options options)
    : Agent(runtime.get(), clock, std::move(options)) {
  owned_runtime_ = std::move(runtime);
}

Agent::Agent(ContainerRuntime* runtime, const Clock* clock, Options options)
    : runtime_(runtime),
      clock_(clock),
      options_(WithUpkeepDataDir(std::move(options))),
      storage_(runtime_, options_.container_storage) {
  auto send = [this](gantry::v1::AgentMessage msg) { session_->Send(msg); };
  registry_ = std::make_unique<registry::RegistryClient>(options_.registries);
  images_ = std::make_unique<ImageManager>(runtime_, registry_.get(), clock, options_.images);
  health_ = std::make_unique<HealthMonitor>(runtime_, clock, options_.health);
  metrics_ =
      std::make_unique<AgentMetrics>(runtime_, health_.get(), options_.session.identity.node_name(),
                                     options_.session.identity.zone());
  images_->SetObserver(metrics_.get());
  health_->SetObserver(metrics_.get());
  reconciler_ = std::make_unique<Reconciler>(runtime_, images_.get(), health_.get(), clock,
                                             options_.reconciler,
                                             [send](const gantry::v1::TaskStatusReport& report) {
                                               gantry::v1::AgentMessage msg;
                                               *msg.mutable_status() = report;
                                               send(std::move(msg));
                                             });
  reconciler_->SetObserver(metrics_.get());
  upkeep_ = std::make_unique<NodeUpkeep>(images_.get(), clock, options_.upkeep,
                                         [send](const gantry::v1::ImageReport& report) {
                                           gantry::v1::AgentMessage msg;
                                           *msg.mutable_images() = report;
                                           send(std::move(msg));
                                         });
  Session::Options session = options_.session;
  if (options_.network) {
    std::shared_ptr<NodeNetwork> network = options_.network;
    reconciler_->SetTaskNetwork(network->tasks());
    session.on_registered = [network](const gantry::v1::Registered& r) {
      network->OnRegistered(r);
    };
    session.on_desired = [network](const gantry::v1::DesiredTasks& d) { network->OnDesired(d); };
  }
  if (options_.identity) {
    std::shared_ptr<NodeIdentity> identity = options_.identity;
    session.credentials = [identity] { return identity->Channel(); };
    session.cluster_id = identity->cluster_id();
  }
  session_ =
      std::make_unique<Session>(std::move(session), reconciler_.get(), clock_, [this] { Wake(); });
  secret_source_ = std::make_unique<SessionSecretSource>(session_.get());
  reconciler_->SetSecretSource(secret_source_.get());
}

Agent::~Agent() {
  Stop();
  // The health monitor's and image manager's workers report to the
  // metrics: they go first (members would go in the other order).
  reconciler_.reset();
  upkeep_.reset();
  health_.reset();
  images_.reset();
}

void Agent::ServeMetrics(std::unique_ptr<MetricsEndpoint> endpoint) {
  endpoint->Serve(metrics_.get());
  metrics_endpoint_ = std::move(endpoint);
}

absl::Status Agent::Start() {
  if (auto st = images_->Recover(); !st.ok()) {
    spdlog::warn("images: {} (image garbage collection starts once containerd answers)",
                 st.message());
  }
  if (auto st = reconciler_->Recover(); !st.ok()) return st;
  loop_ = std::make_unique<Periodic>(clock_, options_.tick_interval, [this] { Pass(); });
  if (options_.identity) options_.identity->StartRenewal();
  session_thread_ = std::thread([this] {
    if (auto st = session_->Run(); !st.ok()) {
      spdlog::critical("agent session: {}", st.message());
    }
  });
  return absl::OkStatus();
}

void Agent::Stop() {
  metrics_endpoint_.reset();  // before the metrics it reads go
  session_->Stop();
  if (session_thread_.joinable()) session_thread_.join();
  if (loop_) loop_->Stop();
}

void Agent::Wake() {
  // The session thread, which calls this, starts after the loop exists.
  if (loop_) loop_->Wake();
}

void Agent::Pass() {
  reconciler_->Tick();
  upkeep_->Run(reconciler_->tasks(), reconciler_->runtime_observed());
  const absl::Time now = clock_->Monotonic();
  if (now >= next_check_) {
    CheckReadings readings = ReadChecks(runtime_, options_.reconciler.data_dir, storage_.Path());
    if (options_.network) readings.network_error = options_.network->Problem();
    session_->SetChecks(JudgeChecks(readings, options_.thresholds));
    next_check_ = now + options_.check_interval;
  }
}

}  // namespace gantry::agent
