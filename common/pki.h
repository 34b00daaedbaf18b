#pragma once

// X.509 for the cluster's identity, on OpenSSL 3: EC P-256 keys, the
// cluster CA, server certificates, CSRs and the node certificates signed
// from them, and the CA pin ("sha256:<hex>" of the CA certificate's DER)
// that a joining node or a logging-in operator checks the server against.
//
// Everything is PEM in and PEM out; no function touches the file system.
// The subject of a signed client certificate is always the one the caller
// passes, never the one the CSR asks for, and no extension is copied from
// a CSR: a CSR contributes its public key only.
//
// Identity in certificates: node certificates carry O=gantry:node and
// CN=<node name>; operator certificates from an operator's own CA carry
// O=gantry:role:<role> and CN=<user>.
//
// Thread-safe: no state.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace gantry::pki {

inline constexpr char kNodeOrganization[] = "gantry:node";
inline constexpr char kRoleOrganizationPrefix[] = "gantry:role:";

struct KeyAndCert {
  std::string key_pem;  // PKCS#8
  std::string cert_pem;
};

struct Subject {
  std::string common_name;
  std::string organization;  // empty: none
};

// A fresh EC P-256 private key.
absl::StatusOr<std::string> GenerateKey();

// A self-signed CA valid from `now` (less a minute for clock skew) for
// `ttl`: CN "Gantry cluster CA <cluster_id>", basicConstraints CA:TRUE,
// keyUsage keyCertSign and cRLSign.
absl::StatusOr<KeyAndCert> CreateCa(const std::string& cluster_id, absl::Time now,
                                    absl::Duration ttl);

// A server certificate (serverAuth) signed by `ca` with a fresh key; each
// host that is an IP literal becomes an IP SAN, every other a DNS SAN.
absl::StatusOr<KeyAndCert> IssueServerCert(const KeyAndCert& ca,
                                           const std::vector<std::string>& hosts, absl::Time now,
                                           absl::Duration ttl);

// A CSR for `key_pem` naming `subject`.
absl::StatusOr<std::string> CreateCsr(const std::string& key_pem, const Subject& subject);

// Checks the CSR's signature (InvalidArgument when it does not verify or
// does not parse), then signs its public key into a client certificate
// (clientAuth, not a CA) with `subject`, a random 128-bit serial, valid
// from `now` less a minute for `ttl`.
absl::StatusOr<std::string> SignClientCert(const KeyAndCert& ca, const std::string& csr_pem,
                                           const Subject& subject, absl::Time now,
                                           absl::Duration ttl);

struct CertInfo {
  Subject subject;
  std::string serial_hex;  // lowercase
  absl::Time not_before;
  absl::Time not_after;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  bool is_ca = false;
};

// The first certificate in `cert_pem`.
absl::StatusOr<CertInfo> ParseCert(const std::string& cert_pem);

// "sha256:<64 lowercase hex>" of the first certificate's DER.
absl::StatusOr<std::string> Fingerprint(const std::string& cert_pem);

// OK when `cert_pem` (its first certificate) is signed by `ca_pem` and
// valid at `now`; otherwise PermissionDenied saying why (expired, not yet
// valid, another CA).
absl::Status Verify(const std::string& ca_pem, const std::string& cert_pem, absl::Time now);

// OK when the private key belongs to the certificate's public key.
absl::Status KeyMatchesCert(const std::string& key_pem, const std::string& cert_pem);

// Opens a TLS connection to `target` (HOST:PORT) without verifying it and
// returns the certificates the server presented, leaf first, as PEM. Used
// only to find a CA that is then checked against a pin.
absl::StatusOr<std::vector<std::string>> FetchPeerChain(const std::string& target,
                                                        absl::Duration timeout);

// The certificate in `chain` whose Fingerprint() is `pin`, once the leaf
// (chain[0]) verifies against it at `now`. PermissionDenied naming the pin
// when no certificate matches ("the server at ... does not present the CA
// sha256:..."), InvalidArgument when `pin` is not "sha256:<64 hex>".
absl::StatusOr<std::string> PinnedCa(const std::vector<std::string>& chain, const std::string& pin,
                                     absl::Time now);

// Checks the form of a pin: "sha256:" and 64 hex digits.
absl::Status ValidatePin(const std::string& pin);

}  // namespace gantry::pki
