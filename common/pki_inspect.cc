// Reading certificates: their fields, fingerprints, chains of trust and
// CA pins.

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <ctime>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/pki.h"
#include "common/pki_internal.h"
#include "common/status_util.h"

namespace gantry::pki {

using internal::Deleter;
using internal::PkeyPtr;
using internal::X509Ptr;

namespace {

using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;
using StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>>;
void FreeOpenSslString(char* s) { OPENSSL_free(s); }
using OpenSslString = std::unique_ptr<char, Deleter<FreeOpenSslString>>;

constexpr absl::string_view kPinPrefix = "sha256:";

std::string NameEntry(const X509_NAME* name, int nid) {
  const int index = X509_NAME_get_index_by_NID(name, nid, -1);
  if (index < 0) return "";
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  const int size = ASN1_STRING_to_UTF8(&utf8, data);
  if (size < 0) {
    ERR_clear_error();
    return "";
  }
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(size));
  OPENSSL_free(utf8);
  return out;
}

absl::Time ToTime(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return absl::InfinitePast();
  return absl::FromTimeT(timegm(&tm));
}

std::string UtcText(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

std::string SerialHex(const X509* cert) {
  BnPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (!bn) return "";
  OpenSslString hex(BN_bn2hex(bn.get()));
  return hex ? absl::AsciiStrToLower(hex.get()) : "";
}

void ReadSubjectAltNames(X509* cert, CertInfo* info) {
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type == GEN_DNS) {
      const ASN1_STRING* dns = name->d.dNSName;
      info->dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                   static_cast<size_t>(ASN1_STRING_length(dns)));
    } else if (name->type == GEN_IPADD) {
      const ASN1_STRING* ip = name->d.iPAddress;
      const int length = ASN1_STRING_length(ip);
      char text[INET6_ADDRSTRLEN] = {};
      if ((length == 4 || length == 16) &&
          inet_ntop(length == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(ip), text,
                    sizeof(text)) != nullptr) {
        info->ip_addresses.emplace_back(text);
      }
    }
  }
}

// Why X509_verify_cert refused, in words a user can act on.
std::string VerifyFailure(X509_STORE_CTX* ctx) {
  const int error = X509_STORE_CTX_get_error(ctx);
  const bool leaf = X509_STORE_CTX_get_error_depth(ctx) == 0;
  const X509* current = X509_STORE_CTX_get_current_cert(ctx);
  const std::string which = leaf ? "the certificate" : "the CA certificate";
  switch (error) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return absl::StrCat(which, " expired at ",
                          UtcText(ToTime(current ? X509_get0_notAfter(current) : nullptr)));
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return absl::StrCat(which, " is not valid before ",
                          UtcText(ToTime(current ? X509_get0_notBefore(current) : nullptr)),
                          " (is this machine's clock behind?)");
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return "the certificate is signed by another CA";
    default:
      return absl::StrCat("the certificate does not verify: ",
                          X509_verify_cert_error_string(error));
  }
}

}  // namespace

absl::StatusOr<CertInfo> ParseCert(const std::string& cert_pem) {
  ASSIGN_OR_RETURN(X509Ptr cert, internal::ReadCert(cert_pem));
  CertInfo info;
  const X509_NAME* subject = X509_get_subject_name(cert.get());
  info.subject.common_name = NameEntry(subject, NID_commonName);
  info.subject.organization = NameEntry(subject, NID_organizationName);
  info.serial_hex = SerialHex(cert.get());
  info.not_before = ToTime(X509_get0_notBefore(cert.get()));
  info.not_after = ToTime(X509_get0_notAfter(cert.get()));
  ReadSubjectAltNames(cert.get(), &info);
  info.is_ca = (X509_get_extension_flags(cert.get()) & EXFLAG_CA) != 0;
  return info;
}

absl::StatusOr<std::string> Fingerprint(const std::string& cert_pem) {
  ASSIGN_OR_RETURN(X509Ptr cert, internal::ReadCert(cert_pem));
  const int size = i2d_X509(cert.get(), nullptr);
  if (size <= 0) return absl::InternalError(internal::OpenSslError("encode the certificate"));
  std::string der(static_cast<size_t>(size), '\0');
  unsigned char* out = reinterpret_cast<unsigned char*>(der.data());
  i2d_X509(cert.get(), &out);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  if (EVP_Digest(der.data(), der.size(), digest, &digest_size, EVP_sha256(), nullptr) != 1) {
    return absl::InternalError(internal::OpenSslError("hash the certificate"));
  }
  return absl::StrCat(kPinPrefix, absl::BytesToHexString(absl::string_view(
                                      reinterpret_cast<const char*>(digest), digest_size)));
}

absl::Status Verify(const std::string& ca_pem, const std::string& cert_pem, absl::Time now) {
  auto cas = internal::ReadCerts(ca_pem);
  if (!cas.ok()) return Annotate(cas.status(), "CA");
  ASSIGN_OR_RETURN(X509Ptr cert, internal::ReadCert(cert_pem));
  StorePtr store(X509_STORE_new());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !ctx) return absl::InternalError(internal::OpenSslError("allocate a trust store"));
  for (const X509Ptr& ca : *cas) {
    if (X509_STORE_add_cert(store.get(), ca.get()) != 1) {
      return absl::InternalError(internal::OpenSslError("add the CA to the trust store"));
    }
  }
  if (X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) != 1) {
    return absl::InternalError(internal::OpenSslError("set up verification"));
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, absl::ToTimeT(now));
  // The CA given is the anchor even when it is itself signed by another.
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  if (X509_verify_cert(ctx.get()) == 1) return absl::OkStatus();
  ERR_clear_error();
  return absl::PermissionDeniedError(VerifyFailure(ctx.get()));
}

absl::Status KeyMatchesCert(const std::string& key_pem, const std::string& cert_pem) {
  ASSIGN_OR_RETURN(PkeyPtr key, internal::ReadKey(key_pem));
  ASSIGN_OR_RETURN(X509Ptr cert, internal::ReadCert(cert_pem));
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("the private key does not belong to the certificate");
  }
  return absl::OkStatus();
}

absl::Status ValidatePin(const std::string& pin) {
  const absl::string_view hex =
      absl::string_view(pin).substr(absl::StartsWith(pin, kPinPrefix) ? kPinPrefix.size() : 0);
  bool ok = absl::StartsWith(pin, kPinPrefix) && hex.size() == 64;
  for (const char c : hex) ok = ok && absl::ascii_isxdigit(c);
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CA pin \"", pin, "\" is not \"sha256:\" followed by 64 hex digits; copy the CA hash the ",
        "control plane reports"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> PinnedCa(const std::vector<std::string>& chain, const std::string& pin,
                                     absl::Time now) {
  RETURN_IF_ERROR(ValidatePin(pin));
  const std::string want = absl::AsciiStrToLower(pin);
  if (chain.empty()) return absl::PermissionDeniedError("the server presents no certificate");
  for (const std::string& cert : chain) {
    auto fingerprint = Fingerprint(cert);
    if (!fingerprint.ok()) return Annotate(fingerprint.status(), "a certificate the server sent");
    if (*fingerprint != want) continue;
    if (absl::Status st = Verify(cert, chain[0], now); !st.ok()) {
      return absl::PermissionDeniedError(absl::StrCat("the server presents the CA ", want,
                                                      " but its own certificate does not verify "
                                                      "against it: ",
                                                      st.message()));
    }
    return cert;
  }
  return absl::PermissionDeniedError(
      absl::StrCat("the server does not present the CA ", want,
                   "; check the pin, and that the address is the cluster's control plane"));
}

}  // namespace gantry::pki
