// Asks the control plane for a task's secrets with a node's own
// certificate, as that node's agent would: the end-to-end test's way to
// check that a node that does not run the task is refused.
//
// usage: gantry-e2e-secret-probe CONTROLPLANE IDENTITY_DIR TASK_ID
// (IDENTITY_DIR holds the agent's ca.pem, node.pem and node.key.) Prints
// the gRPC status and the names and versions given, never a value. Exit
// code 0 when the secrets were given, 1 when refused.

#include <grpcpp/grpcpp.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "gantry/v1/agent.grpc.pb.h"

namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: gantry-e2e-secret-probe CONTROLPLANE IDENTITY_DIR TASK_ID\n";
    return 2;
  }
  const std::string dir = argv[2];
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = Slurp(dir + "/ca.pem");
  tls.pem_cert_chain = Slurp(dir + "/node.pem");
  tls.pem_private_key = Slurp(dir + "/node.key");
  auto channel = grpc::CreateChannel(argv[1], grpc::SslCredentials(tls));
  auto stub = gantry::v1::AgentService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  gantry::v1::GetTaskSecretsRequest request;
  request.set_task_id(argv[3]);
  gantry::v1::TaskSecrets response;
  const grpc::Status status = stub->GetTaskSecrets(&context, request, &response);
  std::cout << "status " << status.error_code() << ": " << status.error_message() << "\n";
  for (const auto& s : response.secrets()) {
    std::cout << "given " << s.name() << " version " << s.version() << "\n";
  }
  return status.ok() ? 0 : 1;
}
