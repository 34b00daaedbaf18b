#include "common/registry/registry_tls.h"

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>

#include "absl/strings/str_cat.h"

namespace gantry::registry {
namespace {

// Calls `add` for each certificate in `pem`; returns how many there were.
template <typename Add>
int ForEachCertificate(const std::string& pem, Add add) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (!bio) return 0;
  int n = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    add(cert);
    X509_free(cert);
    n++;
  }
  ERR_clear_error();  // the end of the text reads as an error
  return n;
}

// libcurl hands over its SSL_CTX, already holding the system store, before
// the handshake.
CURLcode AddToStore(CURL*, void* ssl_ctx, void* pem) {
  X509_STORE* store = SSL_CTX_get_cert_store(static_cast<SSL_CTX*>(ssl_ctx));
  const int n = ForEachCertificate(*static_cast<const std::string*>(pem),
                                   [&](X509* cert) { X509_STORE_add_cert(store, cert); });
  ERR_clear_error();  // a certificate the store already holds is not an error
  return n > 0 ? CURLE_OK : CURLE_SSL_CACERT_BADFILE;
}

}  // namespace

absl::Status CheckCaBundle(const std::string& pem) {
  if (ForEachCertificate(pem, [](X509*) {}) == 0) {
    return absl::InvalidArgumentError("holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
  }
  return absl::OkStatus();
}

absl::Status TrustCaBundle(CURL* curl, const std::string* pem) {
  if (curl_easy_setopt(curl, CURLOPT_SSL_CTX_FUNCTION, &AddToStore) != CURLE_OK ||
      curl_easy_setopt(curl, CURLOPT_SSL_CTX_DATA, pem) != CURLE_OK) {
    return absl::FailedPreconditionError(
        absl::StrCat("a registry caFile needs libcurl built on OpenSSL; this one is ",
                     curl_version_info(CURLVERSION_NOW)->ssl_version));
  }
  return absl::OkStatus();
}

}  // namespace gantry::registry
