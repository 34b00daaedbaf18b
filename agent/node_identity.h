#pragma once

// The node's identity: its private key and node certificate from the
// cluster CA, kept in <data dir>/identity/ (0700; node.key 0600):
//   node.key, node.pem   the key (made on this node, never sent) and certificate
//   ca.pem, cluster-id   the cluster it joined, trusted from then on
//
// Establish() reuses a valid certificate, or joins (TLS bootstrap): it
// finds the CA (--tls-ca, or the server's chain checked against the
// --ca-hash pin), makes a key and a CSR, and trades them with a one-time
// join token for a certificate naming the node. With an operator's own PKI
// (--tls-cert/--tls-key) the given certificate is used as it is.
//
// StartRenewal() renews the certificate with the current one when two
// thirds of its life have passed, so a running agent never needs a token
// again; a restart reuses the stored certificate.
//
// Thread-safe: Channel() may be called from any thread while a renewal
// replaces the certificate.

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/periodic.h"
#include "common/tls.h"

namespace gantry::agent {

class NodeIdentity {
 public:
  struct Options {
    std::string data_dir;
    std::string node_name;
    std::string controlplane;  // HOST:PORT
    std::string join_token;
    std::string ca_hash;  // "sha256:<hex>" pin of the cluster CA
    // tls.ca instead of a pin; tls.cert and tls.key: an operator's own PKI.
    TlsFiles tls;
    // How long a join keeps retrying a control plane that does not answer.
    absl::Duration join_timeout = absl::Seconds(60);
    absl::Duration call_timeout = absl::Seconds(10);
  };

  // Every error says what to do (join with a token, pass the right
  // --node-name, ...).
  static absl::StatusOr<std::unique_ptr<NodeIdentity>> Establish(const Options& options,
                                                                 const Clock* clock);
  ~NodeIdentity();

  // Credentials with the current certificate.
  ClientChannel Channel() const;
  // Empty with an operator's own PKI.
  const std::string& cluster_id() const { return cluster_id_; }
  absl::Time expires_at() const;
  // Renews now if two thirds of the certificate's life have passed.
  absl::Status RenewIfDue();
  // Checks RenewIfDue() every `every` on the clock until destroyed.
  void StartRenewal(absl::Duration every = absl::Minutes(1));

 private:
  NodeIdentity(Options options, const Clock* clock) : options_(std::move(options)), clock_(clock) {}
  absl::Status LoadStored();
  absl::Status Join();
  absl::Status Adopt(const std::string& key_pem, const std::string& cert_pem,
                     const std::string& ca_pem, const std::string& cluster_id, bool save);

  const Options options_;
  const Clock* const clock_;
  bool own_pki_ = false;
  std::string cluster_id_;
  mutable Mutex mu_;
  ClientTls tls_ ABSL_GUARDED_BY(mu_);
  absl::Time not_before_ ABSL_GUARDED_BY(mu_);
  absl::Time not_after_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Periodic> renewal_;  // last: stops before the rest goes
};

}  // namespace gantry::agent
