#include "lb/balancer.h"

#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_util.h"
#include "grpcpp/create_channel.h"

namespace gantry::lb {

Balancer::Balancer(Options options) : options_(std::move(options)) {
  settings_.bind_address = options_.bind_address;
  settings_.admin_socket = (std::filesystem::path(options_.work_dir) / "admin.sock").string();
  settings_.pid_file = (std::filesystem::path(options_.work_dir) / "haproxy.pid").string();
  haproxy_ = std::make_unique<Haproxy>(
      options_.haproxy, (std::filesystem::path(options_.work_dir) / "haproxy.cfg").string(),
      settings_.admin_socket);
}

absl::Status Balancer::Sync(const gantry::v1::ListEndpointsResponse& endpoints) {
  Layout next = LayoutOf(endpoints);
  std::vector<std::string> commands;
  if (!started_ || NeedsReload(current_, next, commands)) {
    RETURN_IF_ERROR(haproxy_->Apply(Render(next, settings_)));
    if (started_) {
      spdlog::info("haproxy reloaded: {} listener(s)", next.size());
    } else {
      spdlog::info("haproxy started (pid {}): {} listener(s)", haproxy_->pid(), next.size());
    }
    started_ = true;
    current_ = std::move(next);
    return absl::OkStatus();
  }
  for (const auto& c : commands) {
    RETURN_IF_ERROR(haproxy_->Command(c));
    spdlog::info("haproxy: {}", c);
  }
  current_ = std::move(next);
  return absl::OkStatus();
}

absl::Status Balancer::Run() {
  std::error_code ec;
  std::filesystem::create_directories(options_.work_dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("--work-dir ", options_.work_dir, ": ", ec.message()));
  }
  auto channel = MakeClientChannel(options_.tls, options_.controlplane);
  if (!channel.ok()) return channel.status();
  auto stub = gantry::v1::OperatorService::NewStub(
      grpc::CreateCustomChannel(options_.controlplane, channel->credentials, channel->arguments));
  std::string last_error;
  while (!stop_) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    gantry::v1::ListEndpointsResponse endpoints;
    grpc::Status st = stub->ListEndpoints(&ctx, {}, &endpoints);
    absl::Status result = st.ok() ? Sync(endpoints) : FromGrpcStatus(st);
    if (!result.ok()) {
      const std::string error(result.message());
      if (error != last_error) {
        spdlog::warn("{} (haproxy keeps its last configuration)", error);
        last_error = error;
      }
    } else {
      last_error.clear();
    }
    std::this_thread::sleep_for(absl::ToChronoMilliseconds(options_.poll_interval));
  }
  haproxy_->Stop();
  return absl::OkStatus();
}

}  // namespace gantry::lb
