#pragma once

// A registry's own CA (its `caFile`): trusted in addition to the system's CA
// store for that registry's transfers, as Docker's certs.d and containerd's
// hosts.toml `ca` do. The system store stays, so redirects to public storage
// (S3, a CDN) still verify.

#include <string>

#include "absl/status/status.h"

typedef void CURL;

namespace gantry::registry {

// OK when `pem` holds at least one PEM certificate.
absl::Status CheckCaBundle(const std::string& pem);

// Makes `curl`'s next transfer trust the certificates in `*pem` besides the
// system's; `pem` must outlive the transfer. Needs libcurl built on OpenSSL
// (Debian's libcurl4-openssl-dev); otherwise an error that says so.
absl::Status TrustCaBundle(CURL* curl, const std::string* pem);

}  // namespace gantry::registry
