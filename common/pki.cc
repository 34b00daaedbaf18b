// Creating keys, CAs, CSRs and the certificates signed from them. The
// reading side (ParseCert, Verify, pins) is in pki_inspect.cc, the TLS
// client that fetches a server's chain in pki_fetch.cc.

#include "common/pki.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/pki_internal.h"
#include "common/status_util.h"

namespace gantry::pki {

using internal::BioPtr;
using internal::Deleter;
using internal::OpenSslError;
using internal::PkeyPtr;
using internal::X509Ptr;

namespace {

BioPtr MemoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

absl::StatusOr<std::string> Drain(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  if (size < 0 || data == nullptr)
    return absl::InternalError(internal::OpenSslError("read PEM buffer"));
  return std::string(data, static_cast<size_t>(size));
}

}  // namespace

namespace internal {

std::string OpenSslError(absl::string_view what) {
  std::vector<std::string> reasons;
  while (unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    reasons.emplace_back(buf);
  }
  if (reasons.empty()) return std::string(what);
  return absl::StrCat(what, ": ", absl::StrJoin(reasons, "; "));
}

absl::StatusOr<PkeyPtr> ReadKey(const std::string& key_pem) {
  BioPtr bio = MemoryBio(key_pem);
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    ERR_clear_error();  // the reasons would only say "no start line"
    return absl::InvalidArgumentError("not a PEM private key");
  }
  return key;
}

absl::StatusOr<X509Ptr> ReadCert(const std::string& cert_pem) {
  BioPtr bio = MemoryBio(cert_pem);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    ERR_clear_error();
    return absl::InvalidArgumentError("not a PEM certificate");
  }
  return cert;
}

absl::StatusOr<std::vector<X509Ptr>> ReadCerts(const std::string& pem) {
  BioPtr bio = MemoryBio(pem);
  std::vector<X509Ptr> certs;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certs.emplace_back(cert);
  }
  ERR_clear_error();  // the end of the buffer reads as an error
  if (certs.empty()) return absl::InvalidArgumentError("not a PEM certificate");
  return certs;
}

absl::StatusOr<std::string> CertToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return absl::InternalError(OpenSslError("write certificate PEM"));
  }
  return Drain(bio.get());
}

absl::StatusOr<std::string> KeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PKCS8PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return absl::InternalError(OpenSslError("write private key PEM"));
  }
  return Drain(bio.get());
}

}  // namespace internal

namespace {

using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using NamePtr = std::unique_ptr<X509_NAME, Deleter<X509_NAME_free>>;
using ReqPtr = std::unique_ptr<X509_REQ, Deleter<X509_REQ_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, Deleter<GENERAL_NAME_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;

// Certificates start a minute early so that a peer whose clock is a little
// behind accepts them at once.
constexpr absl::Duration kClockSkew = absl::Minutes(1);

absl::StatusOr<PkeyPtr> NewKey() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return absl::InternalError(OpenSslError("generate an EC P-256 key"));
  return key;
}

absl::StatusOr<NamePtr> MakeName(const Subject& subject) {
  NamePtr name(X509_NAME_new());
  auto add = [&](int nid, const std::string& value) {
    return X509_NAME_add_entry_by_NID(name.get(), nid, MBSTRING_UTF8,
                                      reinterpret_cast<const unsigned char*>(value.data()),
                                      static_cast<int>(value.size()), -1, 0) == 1;
  };
  if (!name ||
      (!subject.organization.empty() && !add(NID_organizationName, subject.organization)) ||
      !add(NID_commonName, subject.common_name)) {
    return absl::InvalidArgumentError(OpenSslError(
        absl::StrCat("subject CN=", subject.common_name, " O=", subject.organization)));
  }
  return name;
}

absl::Status SetRandomSerial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return absl::InternalError(OpenSslError("draw a certificate serial"));
  }
  BnPtr bn(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  if (bn && BN_is_zero(bn.get())) BN_one(bn.get());  // a serial must be positive
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr) {
    return absl::InternalError(OpenSslError("set the certificate serial"));
  }
  return absl::OkStatus();
}

// A v3 certificate for `subject` and `public_key`, issued by `issuer`
// (nullptr: itself), valid from `now` less the skew for `ttl`; unsigned.
absl::StatusOr<X509Ptr> NewCert(const Subject& subject, EVP_PKEY* public_key, X509* issuer,
                                absl::Time now, absl::Duration ttl) {
  if (ttl <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate lifetime ", absl::FormatDuration(ttl), " must be positive"));
  }
  if (subject.common_name.empty()) {
    return absl::InvalidArgumentError("a certificate needs a common name");
  }
  ASSIGN_OR_RETURN(NamePtr name, MakeName(subject));
  X509Ptr cert(X509_new());
  if (!cert) return absl::InternalError(OpenSslError("allocate a certificate"));
  RETURN_IF_ERROR(SetRandomSerial(cert.get()));
  X509_NAME* issuer_name = issuer ? X509_get_subject_name(issuer) : name.get();
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      ASN1_TIME_set(X509_getm_notBefore(cert.get()), absl::ToTimeT(now - kClockSkew)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), absl::ToTimeT(now + ttl)) == nullptr ||
      X509_set_subject_name(cert.get(), name.get()) != 1 ||
      X509_set_issuer_name(cert.get(), issuer_name) != 1 ||
      X509_set_pubkey(cert.get(), public_key) != 1) {
    return absl::InternalError(OpenSslError("fill in the certificate"));
  }
  return cert;
}

// Adds an extension given in OpenSSL's configuration syntax (fixed strings
// only: nothing a caller passes goes through this parser).
absl::Status AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return absl::InternalError(OpenSslError(absl::StrCat("add extension ", value)));
  }
  return absl::OkStatus();
}

// The extensions of a certificate signed by a CA for an end entity.
absl::Status AddLeafExtensions(X509* cert, X509* ca, const char* extended_key_usage) {
  RETURN_IF_ERROR(AddExtension(cert, ca, NID_basic_constraints, "critical,CA:FALSE"));
  RETURN_IF_ERROR(AddExtension(cert, ca, NID_key_usage, "critical,digitalSignature"));
  RETURN_IF_ERROR(AddExtension(cert, ca, NID_ext_key_usage, extended_key_usage));
  RETURN_IF_ERROR(AddExtension(cert, ca, NID_subject_key_identifier, "hash"));
  return AddExtension(cert, ca, NID_authority_key_identifier, "keyid:always");
}

// Letters, digits, '-', '.', '_' and a leading "*." for a wildcard.
bool IsDnsName(const std::string& host) {
  if (host.empty() || host.size() > 253) return false;
  for (size_t i = 0; i < host.size(); ++i) {
    const char c = host[i];
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_') continue;
    if (c == '*' && i == 0 && host.size() > 2 && host[1] == '.') continue;
    return false;
  }
  return true;
}

absl::StatusOr<GeneralNamePtr> SubjectAltName(const std::string& host) {
  std::string bare = host;
  if (bare.size() > 2 && bare.front() == '[' && bare.back() == ']') {
    bare = bare.substr(1, bare.size() - 2);
  }
  GeneralNamePtr name(GENERAL_NAME_new());
  if (!name) return absl::InternalError(OpenSslError("allocate a subject alternative name"));
  unsigned char ip[16];
  int ip_size = 0;
  if (inet_pton(AF_INET, bare.c_str(), ip) == 1) {
    ip_size = 4;
  } else if (inet_pton(AF_INET6, bare.c_str(), ip) == 1) {
    ip_size = 16;
  } else if (!IsDnsName(host)) {
    return absl::InvalidArgumentError(
        absl::StrCat("host \"", host, "\" is neither an IP address nor a DNS name"));
  }
  ASN1_STRING* value = ip_size > 0 ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
  const bool set =
      value != nullptr &&
      (ip_size > 0 ? ASN1_STRING_set(value, ip, ip_size)
                   : ASN1_STRING_set(value, host.data(), static_cast<int>(host.size())));
  if (!set) {
    ASN1_STRING_free(value);
    return absl::InternalError(OpenSslError("fill in a subject alternative name"));
  }
  GENERAL_NAME_set0_value(name.get(), ip_size > 0 ? GEN_IPADD : GEN_DNS, value);
  return name;
}

absl::Status AddSubjectAltNames(X509* cert, const std::vector<std::string>& hosts) {
  GeneralNamesPtr names(GENERAL_NAMES_new());
  if (!names) return absl::InternalError(OpenSslError("allocate subject alternative names"));
  for (const std::string& host : hosts) {
    ASSIGN_OR_RETURN(GeneralNamePtr name, SubjectAltName(host));
    if (sk_GENERAL_NAME_push(names.get(), name.get()) <= 0) {
      return absl::InternalError(OpenSslError("add a subject alternative name"));
    }
    name.release();  // owned by `names` now
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return absl::InternalError(OpenSslError("add the subject alternative names"));
  }
  return absl::OkStatus();
}

absl::Status Sign(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) <= 0) {
    return absl::InternalError(OpenSslError("sign the certificate"));
  }
  return absl::OkStatus();
}

struct LoadedCa {
  PkeyPtr key;
  X509Ptr cert;
};

absl::StatusOr<LoadedCa> LoadCa(const KeyAndCert& ca) {
  auto key = internal::ReadKey(ca.key_pem);
  if (!key.ok()) return Annotate(key.status(), "CA key");
  auto cert = internal::ReadCert(ca.cert_pem);
  if (!cert.ok()) return Annotate(cert.status(), "CA certificate");
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("the CA key does not belong to the CA certificate");
  }
  return LoadedCa{std::move(*key), std::move(*cert)};
}

}  // namespace

absl::StatusOr<std::string> GenerateKey() {
  ASSIGN_OR_RETURN(PkeyPtr key, NewKey());
  return internal::KeyToPem(key.get());
}

absl::StatusOr<KeyAndCert> CreateCa(const std::string& cluster_id, absl::Time now,
                                    absl::Duration ttl) {
  if (cluster_id.empty()) return absl::InvalidArgumentError("a CA needs a cluster id");
  ASSIGN_OR_RETURN(PkeyPtr key, NewKey());
  const Subject subject{absl::StrCat("Gantry cluster CA ", cluster_id), ""};
  ASSIGN_OR_RETURN(X509Ptr cert, NewCert(subject, key.get(), nullptr, now, ttl));
  RETURN_IF_ERROR(AddExtension(cert.get(), nullptr, NID_basic_constraints, "critical,CA:TRUE"));
  RETURN_IF_ERROR(AddExtension(cert.get(), nullptr, NID_key_usage, "critical,keyCertSign,cRLSign"));
  RETURN_IF_ERROR(AddExtension(cert.get(), nullptr, NID_subject_key_identifier, "hash"));
  RETURN_IF_ERROR(Sign(cert.get(), key.get()));
  KeyAndCert out;
  ASSIGN_OR_RETURN(out.key_pem, internal::KeyToPem(key.get()));
  ASSIGN_OR_RETURN(out.cert_pem, internal::CertToPem(cert.get()));
  return out;
}

absl::StatusOr<KeyAndCert> IssueServerCert(const KeyAndCert& ca,
                                           const std::vector<std::string>& hosts, absl::Time now,
                                           absl::Duration ttl) {
  if (hosts.empty()) {
    return absl::InvalidArgumentError("a server certificate needs at least one host");
  }
  ASSIGN_OR_RETURN(LoadedCa issuer, LoadCa(ca));
  ASSIGN_OR_RETURN(PkeyPtr key, NewKey());
  ASSIGN_OR_RETURN(X509Ptr cert, NewCert(Subject{"Gantry control plane", ""}, key.get(),
                                         issuer.cert.get(), now, ttl));
  RETURN_IF_ERROR(AddLeafExtensions(cert.get(), issuer.cert.get(), "serverAuth"));
  RETURN_IF_ERROR(AddSubjectAltNames(cert.get(), hosts));
  RETURN_IF_ERROR(Sign(cert.get(), issuer.key.get()));
  KeyAndCert out;
  ASSIGN_OR_RETURN(out.key_pem, internal::KeyToPem(key.get()));
  ASSIGN_OR_RETURN(out.cert_pem, internal::CertToPem(cert.get()));
  return out;
}

absl::StatusOr<std::string> CreateCsr(const std::string& key_pem, const Subject& subject) {
  ASSIGN_OR_RETURN(PkeyPtr key, internal::ReadKey(key_pem));
  ASSIGN_OR_RETURN(NamePtr name, MakeName(subject));
  ReqPtr req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1 ||
      X509_REQ_set_subject_name(req.get(), name.get()) != 1 ||
      X509_REQ_set_pubkey(req.get(), key.get()) != 1 ||
      X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0) {
    return absl::InternalError(OpenSslError("create the CSR"));
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_REQ(bio.get(), req.get()) != 1) {
    return absl::InternalError(OpenSslError("write CSR PEM"));
  }
  return Drain(bio.get());
}

absl::StatusOr<std::string> SignClientCert(const KeyAndCert& ca, const std::string& csr_pem,
                                           const Subject& subject, absl::Time now,
                                           absl::Duration ttl) {
  BioPtr bio = MemoryBio(csr_pem);
  ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) {
    ERR_clear_error();
    return absl::InvalidArgumentError("the CSR is not a PEM certificate request");
  }
  EVP_PKEY* public_key = X509_REQ_get0_pubkey(req.get());
  if (public_key == nullptr || X509_REQ_verify(req.get(), public_key) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        "the CSR's signature does not verify against its public key; create a new CSR");
  }
  ASSIGN_OR_RETURN(LoadedCa issuer, LoadCa(ca));
  ASSIGN_OR_RETURN(X509Ptr cert, NewCert(subject, public_key, issuer.cert.get(), now, ttl));
  RETURN_IF_ERROR(AddLeafExtensions(cert.get(), issuer.cert.get(), "clientAuth"));
  RETURN_IF_ERROR(Sign(cert.get(), issuer.key.get()));
  return internal::CertToPem(cert.get());
}

}  // namespace gantry::pki
