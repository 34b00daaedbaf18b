// ContainerdRuntime::Stats: cgroup statistics of the agent's running
// containers from containerd's Tasks.Metrics. containerd answers with the
// cgroups v1 or v2 statistics message in an Any, depending on the host.
// Its type URL is the bare message name (no "type.googleapis.com/"
// prefix), which protobuf's Any::UnpackTo does not accept; the value is
// parsed directly.

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/runtime/containerd_runtime.h"
#include "common/log.h"
#include "common/status_util.h"
#include "github.com/containerd/cgroups/stats/v1/metrics.pb.h"
#include "github.com/containerd/cgroups/v2/stats/metrics.pb.h"

namespace gantry::agent {

namespace ctrd = containerd::services;

namespace {

// cgroups report "no limit" as a huge number (v1: the page-aligned
// maximum); anything above 2^62 is no limit.
int64_t Limit(uint64_t value) {
  return value >= (uint64_t{1} << 62) ? 0 : static_cast<int64_t>(value);
}

absl::StatusOr<ContainerStats> Decode(const google::protobuf::Any& data) {
  ContainerStats out;
  if (absl::EndsWith(data.type_url(), "cgroups.v1.Metrics")) {
    io::containerd::cgroups::v1::Metrics m;
    if (!m.ParseFromString(data.value()))
      return absl::DataLossError("malformed cgroups v1 statistics");
    out.cpu_seconds = static_cast<double>(m.cpu().usage().total()) / 1e9;
    out.memory_bytes = static_cast<int64_t>(m.memory().usage().usage());
    out.memory_limit = Limit(m.memory().usage().limit());
    return out;
  }
  if (absl::EndsWith(data.type_url(), "cgroups.v2.Metrics")) {
    io::containerd::cgroups::v2::Metrics m;
    if (!m.ParseFromString(data.value()))
      return absl::DataLossError("malformed cgroups v2 statistics");
    out.cpu_seconds = static_cast<double>(m.cpu().usage_usec()) / 1e6;
    out.memory_bytes = static_cast<int64_t>(m.memory().usage());
    out.memory_limit = Limit(m.memory().usage_limit());
    return out;
  }
  return absl::UnimplementedError(
      absl::StrCat("containerd reported statistics of unknown type ", data.type_url()));
}

}  // namespace

absl::StatusOr<std::map<std::string, ContainerStats>> ContainerdRuntime::Stats(
    const std::vector<std::string>& ids) {
  ctrd::tasks::v1::MetricsRequest req;
  // Filters are alternatives: one per container asked for.
  for (const auto& id : ids) req.add_filters(absl::StrCat("id==", id));
  std::map<std::string, ContainerStats> out;
  if (req.filters().empty()) return out;
  ctrd::tasks::v1::MetricsResponse resp;
  auto ctx = client_.Context();
  RETURN_IF_ERROR(client_.Check(client_.tasks().Metrics(ctx.get(), req, &resp), "task metrics"));
  for (const auto& metric : resp.metrics()) {
    auto stats = Decode(metric.data());
    if (stats.ok()) {
      out[metric.id()] = *stats;
    } else {
      spdlog::debug("statistics of {}: {}", metric.id(), stats.status().message());
    }
  }
  return out;
}

}  // namespace gantry::agent
