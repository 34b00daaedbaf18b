// What authentication and authorization cost per operator call.
//
// One control plane in-process (in-memory store). Side by side on one TLS
// connection each, sequential unary calls of ListNodes (an empty cluster,
// so the answer is the same everywhere):
//   - the control plane: bearer token checked, role checked;
//   - a bare gRPC server with the same TLS credentials that answers
//     ListNodes without looking at who calls (the alternative: no checks).
// Then the checks alone, in-process: TokenRegistry::Authenticate plus
// Authorizer::Check per call.
//
// usage: auth_bench [CALLS]   (default 20000)

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "common/tls.h"
#include "controlplane/control_plane.h"
#include "gantry/v1/operator.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace {

using Clock = std::chrono::steady_clock;

// Answers ListNodes with an empty list, checking nothing.
class Unchecked final : public gantry::v1::OperatorService::CallbackService {
  grpc::ServerUnaryReactor* ListNodes(grpc::CallbackServerContext* ctx,
                                      const gantry::v1::ListNodesRequest*,
                                      gantry::v1::ListNodesResponse*) override {
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

double CallsPerSecond(gantry::v1::OperatorService::Stub& stub, int calls) {
  gantry::v1::ListNodesResponse resp;
  for (int i = 0; i < 200; ++i) {  // warm up: handshake, first allocations
    grpc::ClientContext ctx;
    if (!stub.ListNodes(&ctx, {}, &resp).ok()) {
      std::fprintf(stderr, "auth_bench: a call failed\n");
      std::exit(1);
    }
  }
  const auto start = Clock::now();
  for (int i = 0; i < calls; ++i) {
    grpc::ClientContext ctx;
    stub.ListNodes(&ctx, {}, &resp);
  }
  return calls / std::chrono::duration<double>(Clock::now() - start).count();
}

std::unique_ptr<gantry::v1::OperatorService::Stub> StubFor(const std::string& address,
                                                           const std::string& ca_pem,
                                                           const std::string& token) {
  gantry::ClientTls tls;
  tls.ca_pem = ca_pem;
  const gantry::ClientChannel ch = gantry::MakeClientChannel(tls, token);
  return gantry::v1::OperatorService::NewStub(
      grpc::CreateCustomChannel(address, ch.credentials, ch.arguments));
}

}  // namespace

int main(int argc, char** argv) {
  const int calls = argc > 1 ? std::atoi(argv[1]) : 20000;
  gantry::ControlPlane::Options o;
  o.listen = "127.0.0.1:0";
  auto cp = gantry::ControlPlane::Start(o, gantry::RealClock::Get());
  if (!cp.ok()) {
    std::fprintf(stderr, "auth_bench: %s\n", std::string(cp.status().message()).c_str());
    return 1;
  }
  const auto& pki = (*cp)->pki();

  Unchecked unchecked;
  grpc::SslServerCredentialsOptions tls(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  tls.pem_root_certs = pki.ca_pem();
  tls.pem_key_cert_pairs.push_back({pki.server_key_pem(), pki.server_chain_pem()});
  int bare_port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(tls), &bare_port);
  builder.RegisterService(&unchecked);
  auto bare = builder.BuildAndStart();

  auto checked_stub =
      StubFor("127.0.0.1:" + std::to_string((*cp)->port()), pki.ca_pem(), (*cp)->bootstrap_token());
  auto bare_stub = StubFor("127.0.0.1:" + std::to_string(bare_port), pki.ca_pem(), "");
  const double with_checks = CallsPerSecond(*checked_stub, calls);
  const double without = CallsPerSecond(*bare_stub, calls);
  std::printf("ListNodes over TLS, one connection, %d sequential calls\n", calls);
  std::printf("  token + role checked: %8.0f calls/s  (%.1f us/call)\n", with_checks,
              1e6 / with_checks);
  std::printf("  no checks:            %8.0f calls/s  (%.1f us/call)\n", without, 1e6 / without);

  gantry::identity::Authorizer authorizer;
  const int inner = calls * 10;
  const auto start = Clock::now();
  for (int i = 0; i < inner; ++i) {
    auto who = (*cp)->tokens()->Authenticate((*cp)->bootstrap_token());
    if (!who.ok() || !authorizer.Allowed(*who, {gantry::identity::Verb::kList, "nodes", ""})) {
      std::fprintf(stderr, "auth_bench: the check failed\n");
      return 1;
    }
  }
  const double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / inner;
  std::printf("the checks alone (Authenticate + Check), in-process: %.0f ns/call\n", ns);
  bare->Shutdown();
  (*cp)->Shutdown();
  return 0;
}
