#include "lb/grpc_endpoints_source.h"

#include <chrono>

#include "common/status_util.h"
#include "grpcpp/create_channel.h"

namespace gantry::lb {

namespace {

// A gRPC deadline is real time by nature; it bounds one call, it decides
// nothing.
constexpr std::chrono::seconds kCallDeadline(5);

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcEndpointsSource>> GrpcEndpointsSource::Connect(
    const std::string& controlplane, const TlsFiles& tls, const std::string& token) {
  auto loaded = LoadClientTls(tls);
  if (!loaded.ok()) return loaded.status();
  if (token.empty() && loaded->cert_pem.empty()) {
    return absl::InvalidArgumentError(
        "no credentials for the control plane: pass --token-file with a token of role lb "
        "(gantryctl token create --role lb)");
  }
  auto endpoints = Endpoints::Parse(controlplane, "--controlplane");
  if (!endpoints.ok()) return endpoints.status();
  const ClientChannel channel = MakeClientChannel(*loaded, token);
  Stubs stubs;
  for (const auto& e : endpoints->All()) {
    stubs[e] = gantry::v1::OperatorService::NewStub(
        grpc::CreateCustomChannel(e, channel.credentials, channel.arguments));
  }
  return std::unique_ptr<GrpcEndpointsSource>(
      new GrpcEndpointsSource(*std::move(endpoints), std::move(stubs)));
}

absl::StatusOr<gantry::v1::ListEndpointsResponse> GrpcEndpointsSource::List() {
  grpc::Status st;
  for (size_t attempt = 0; attempt < stubs_.size(); ++attempt) {
    const std::string target = endpoints_.Current();
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
    gantry::v1::ListEndpointsResponse endpoints;
    st = stubs_.at(target)->ListEndpoints(&ctx, {}, &endpoints);
    if (st.ok()) return endpoints;
    if (st.error_code() != grpc::StatusCode::UNAVAILABLE &&
        st.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
      break;
    }
    endpoints_.MoveOnFrom(target);
  }
  return FromGrpcStatus(st);
}

}  // namespace gantry::lb
