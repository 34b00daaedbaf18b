#include "agent/agent.h"

#include "common/log.h"

namespace gantry::agent {

Agent::Agent(ContainerRuntime* runtime, const Clock* clock, Options options)
    : runtime_(runtime), options_(std::move(options)) {
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
                                             [this](const gantry::v1::TaskStatusReport& report) {
                                               gantry::v1::AgentMessage msg;
                                               *msg.mutable_status() = report;
                                               session_->Send(msg);
                                             });
  reconciler_->SetObserver(metrics_.get());
  reconciler_->SetImageSink([this](const gantry::v1::ImageReport& report) {
    gantry::v1::AgentMessage msg;
    *msg.mutable_images() = report;
    session_->Send(msg);
  });
  session_ = std::make_unique<Session>(options_.session, reconciler_.get(), [this] { Wake(); });
}

Agent::~Agent() { Stop(); }

absl::Status Agent::Start() {
  if (auto st = images_->Recover(); !st.ok()) {
    spdlog::warn("images: {} (image garbage collection starts once containerd answers)",
                 st.message());
  }
  if (auto st = reconciler_->Recover(); !st.ok()) return st;
  loop_ = std::thread([this] { Loop(); });
  session_thread_ = std::thread([this] {
    if (auto st = session_->Run(); !st.ok()) {
      spdlog::critical("agent session: {}", st.message());
    }
  });
  return absl::OkStatus();
}

void Agent::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  session_->Stop();
  if (session_thread_.joinable()) session_thread_.join();
  if (loop_.joinable()) loop_.join();
}

void Agent::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

void Agent::Loop() {
  absl::Time next_check = absl::InfinitePast();
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    reconciler_->Tick();
    if (absl::Now() >= next_check) {
      session_->SetChecks(JudgeChecks(
          ReadChecks(runtime_, options_.reconciler.data_dir, options_.container_storage),
          options_.thresholds));
      next_check = absl::Now() + options_.check_interval;
    }
    lock.lock();
    cv_.wait_for(lock, absl::ToChronoNanoseconds(options_.tick_interval),
                 [&] { return stop_ || wake_; });
    wake_ = false;
  }
}

}  // namespace gantry::agent
