#pragma once

// Private to the pki_*.cc files and their tests: owning pointers for
// OpenSSL objects and the PEM conversions they share. Not part of the
// gantry_pki interface; include common/pki.h instead.

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gantry::pki::internal {

// unique_ptr deleter calling an OpenSSL free function.
template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};

using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;

// The OpenSSL error queue, drained, as "what: reason; reason".
std::string OpenSslError(absl::string_view what);

// InvalidArgument when the PEM does not hold a private key.
absl::StatusOr<PkeyPtr> ReadKey(const std::string& key_pem);
// The first certificate in `cert_pem`; InvalidArgument when there is none.
absl::StatusOr<X509Ptr> ReadCert(const std::string& cert_pem);
// Every certificate in `pem`, in order; InvalidArgument when there is none.
absl::StatusOr<std::vector<X509Ptr>> ReadCerts(const std::string& pem);

absl::StatusOr<std::string> CertToPem(X509* cert);
absl::StatusOr<std::string> KeyToPem(EVP_PKEY* key);

}  // namespace gantry::pki::internal
