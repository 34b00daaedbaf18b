#pragma once

// The cluster's identity on disk, created on first start as k3s does and
// reused afterwards: in <data dir>/pki/
//   ca.pem, ca.key (0600)          the cluster CA (EC P-256, 10 years)
//   cluster-id                      a random id, also in the CA's subject
//   server.pem, server.key (0600)   the control plane's certificate for
//                                   every advertised address (1 year); issued
//                                   again when the addresses change or it has
//                                   less than a third of its life left
// The pki directory is 0700. With an empty data dir everything is created
// in memory (in-process tests).
//
// With an operator's own PKI (--tls-cert/--tls-key/--tls-ca) there is no CA
// key: the server certificate and CA are the operator's, the cluster ID is
// the CA's fingerprint, and nodes cannot join with tokens (CanIssue() is
// false): they bring certificates from that CA.
//
// Thread-safe after construction (all state is immutable).

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/pki.h"

namespace gantry::identity {

class ClusterPki {
 public:
  struct Options {
    std::string data_dir;  // empty: in memory
    // Where the CA, cluster id and server certificate live; empty:
    // data_dir/pki. Replicas on one etcd point this at a copy of the first
    // replica's pki directory (as kubeadm copies certificates).
    std::string pki_dir;
    // Names and addresses the server certificate covers (SANs).
    std::vector<std::string> advertise;
    // An operator's own PKI: all three or none.
    std::string tls_cert_file;
    std::string tls_key_file;
    std::string tls_ca_file;
  };

  // Errors name the file and what to do (e.g. a key that does not match
  // its certificate, a directory that cannot be created).
  static absl::StatusOr<std::unique_ptr<ClusterPki>> LoadOrCreate(const Options& options,
                                                                  const Clock* clock);

  const std::string& cluster_id() const { return cluster_id_; }
  const std::string& ca_pem() const { return ca_pem_; }
  // "sha256:<hex>" of the CA certificate.
  const std::string& ca_hash() const { return ca_hash_; }
  // The certificate the server presents: its own followed by the CA, so a
  // client holding only a pin can find the CA in the handshake.
  const std::string& server_chain_pem() const { return server_chain_pem_; }
  const std::string& server_key_pem() const { return server_key_pem_; }

  bool CanIssue() const { return ca_key_pem_.has_value(); }
  // A node certificate (O=gantry:node, CN=node_name) for the CSR's key,
  // valid for `ttl` from now. FailedPrecondition without a CA key.
  absl::StatusOr<std::string> IssueNodeCert(const std::string& csr_pem,
                                            const std::string& node_name, absl::Duration ttl) const;

 private:
  ClusterPki() = default;

  const Clock* clock_ = nullptr;
  std::string cluster_id_;
  std::string ca_pem_;
  std::string ca_hash_;
  std::optional<std::string> ca_key_pem_;
  std::string server_chain_pem_;
  std::string server_key_pem_;
};

}  // namespace gantry::identity
