#include "common/pki.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <regex>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "common/pki_internal.h"
#include "common/signals.h"

namespace gantry::pki {
namespace {

using internal::BioPtr;
using internal::Deleter;

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);
constexpr absl::Duration kDay = absl::Hours(24);

template <typename T>
T Must(absl::StatusOr<T> value) {
  EXPECT_TRUE(value.ok()) << value.status();
  return value.ok() ? *std::move(value) : T{};
}

KeyAndCert TestCa(const std::string& id = "0123456789abcdef") {
  return Must(CreateCa(id, kNow, 3650 * kDay));
}

// A node certificate signed by `ca` for a fresh key.
KeyAndCert NodeCert(const KeyAndCert& ca, absl::Time now = kNow, absl::Duration ttl = kDay) {
  KeyAndCert out;
  out.key_pem = Must(GenerateKey());
  const std::string csr = Must(CreateCsr(out.key_pem, {"node-1", kNodeOrganization}));
  out.cert_pem = Must(SignClientCert(ca, csr, {"node-1", kNodeOrganization}, now, ttl));
  return out;
}

TEST(PkiTest, GenerateKeyMakesDistinctP256KeysInPkcs8) {
  const std::string a = Must(GenerateKey());
  const std::string b = Must(GenerateKey());
  EXPECT_TRUE(absl::StartsWith(a, "-----BEGIN PRIVATE KEY-----")) << a;
  EXPECT_NE(a, b);
  BioPtr bio(BIO_new_mem_buf(a.data(), static_cast<int>(a.size())));
  std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_NE(key, nullptr);
  EXPECT_TRUE(EVP_PKEY_is_a(key.get(), "EC"));
  char group[64] = {};
  ASSERT_EQ(EVP_PKEY_get_utf8_string_param(key.get(), "group", group, sizeof(group), nullptr), 1);
  EXPECT_STREQ(group, "prime256v1");
}

TEST(PkiTest, CreateCaIsACaNamedAfterTheCluster) {
  const KeyAndCert ca = TestCa("c0ffee");
  const CertInfo info = Must(ParseCert(ca.cert_pem));
  EXPECT_TRUE(info.is_ca);
  EXPECT_EQ(info.subject.common_name, "Gantry cluster CA c0ffee");
  EXPECT_EQ(info.subject.organization, "");
  EXPECT_EQ(info.not_before, kNow - absl::Minutes(1));
  EXPECT_EQ(info.not_after, kNow + 3650 * kDay);
  EXPECT_TRUE(std::regex_match(info.serial_hex, std::regex("[0-9a-f]{1,32}"))) << info.serial_hex;
  EXPECT_TRUE(Verify(ca.cert_pem, ca.cert_pem, kNow).ok());
  EXPECT_TRUE(KeyMatchesCert(ca.key_pem, ca.cert_pem).ok());
  EXPECT_EQ(CreateCa("", kNow, kDay).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PkiTest, ServerCertPutsIpsAndNamesInTheirOwnSans) {
  const KeyAndCert ca = TestCa();
  const KeyAndCert server = Must(IssueServerCert(
      ca, {"10.0.0.1", "cp.example.com", "::1", "[fd00::2]", "1.2.3.4.nip.io"}, kNow, kDay));
  const CertInfo info = Must(ParseCert(server.cert_pem));
  EXPECT_FALSE(info.is_ca);
  EXPECT_EQ(info.ip_addresses, (std::vector<std::string>{"10.0.0.1", "::1", "fd00::2"}));
  EXPECT_EQ(info.dns_names, (std::vector<std::string>{"cp.example.com", "1.2.3.4.nip.io"}));
  EXPECT_TRUE(Verify(ca.cert_pem, server.cert_pem, kNow).ok());
  EXPECT_TRUE(KeyMatchesCert(server.key_pem, server.cert_pem).ok());
}

TEST(PkiTest, ServerCertRefusesHostsItCannotName) {
  const KeyAndCert ca = TestCa();
  EXPECT_EQ(IssueServerCert(ca, {}, kNow, kDay).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto bad = IssueServerCert(ca, {"cp", "not a host"}, kNow, kDay);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "not a host")) << bad.status();
  const KeyAndCert other = TestCa("other");
  EXPECT_FALSE(IssueServerCert({other.key_pem, ca.cert_pem}, {"cp"}, kNow, kDay).ok());
}

TEST(PkiTest, CsrRoundTripSignsTheKeyOfTheCsr) {
  const KeyAndCert ca = TestCa();
  const KeyAndCert node = NodeCert(ca);
  EXPECT_TRUE(KeyMatchesCert(node.key_pem, node.cert_pem).ok());
  EXPECT_TRUE(Verify(ca.cert_pem, node.cert_pem, kNow).ok());
  const CertInfo info = Must(ParseCert(node.cert_pem));
  EXPECT_FALSE(info.is_ca);
  EXPECT_EQ(info.not_before, kNow - absl::Minutes(1));
  EXPECT_EQ(info.not_after, kNow + kDay);
}

TEST(PkiTest, SignClientCertGivesTheCallersSubjectNotTheCsrs) {
  const KeyAndCert ca = TestCa();
  const std::string key = Must(GenerateKey());
  const std::string csr = Must(CreateCsr(key, {"admin", "gantry:role:admin"}));
  const std::string cert = Must(SignClientCert(ca, csr, {"node-7", kNodeOrganization}, kNow, kDay));
  const CertInfo info = Must(ParseCert(cert));
  EXPECT_EQ(info.subject.common_name, "node-7");
  EXPECT_EQ(info.subject.organization, "gantry:node");
  EXPECT_TRUE(KeyMatchesCert(key, cert).ok());
}

TEST(PkiTest, SignClientCertDrawsFreshSerials) {
  const KeyAndCert ca = TestCa();
  EXPECT_NE(Must(ParseCert(NodeCert(ca).cert_pem)).serial_hex,
            Must(ParseCert(NodeCert(ca).cert_pem)).serial_hex);
}

// The CSR with its subject replaced after it was signed.
std::string TamperedCsr(const std::string& csr_pem) {
  BioPtr in(BIO_new_mem_buf(csr_pem.data(), static_cast<int>(csr_pem.size())));
  std::unique_ptr<X509_REQ, Deleter<X509_REQ_free>> req(
      PEM_read_bio_X509_REQ(in.get(), nullptr, nullptr, nullptr));
  EXPECT_NE(req, nullptr);
  if (!req) return "";
  std::unique_ptr<X509_NAME, Deleter<X509_NAME_free>> name(X509_NAME_new());
  X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("root"), -1, -1, 0);
  X509_REQ_set_subject_name(req.get(), name.get());
  BioPtr out(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(out.get(), req.get());
  char* data = nullptr;
  const long size = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

TEST(PkiTest, SignClientCertRefusesATamperedCsr) {
  const KeyAndCert ca = TestCa();
  const std::string csr = Must(CreateCsr(Must(GenerateKey()), {"node-1", ""}));
  const std::string tampered = TamperedCsr(csr);
  ASSERT_NE(tampered, csr);
  auto cert = SignClientCert(ca, tampered, {"node-1", kNodeOrganization}, kNow, kDay);
  EXPECT_EQ(cert.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(cert.status().message(), "signature")) << cert.status();
}

TEST(PkiTest, SignClientCertRefusesGarbage) {
  const KeyAndCert ca = TestCa();
  const Subject subject{"node-1", kNodeOrganization};
  EXPECT_EQ(SignClientCert(ca, "hello", subject, kNow, kDay).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SignClientCert(ca, ca.cert_pem, subject, kNow, kDay).status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::string csr = Must(CreateCsr(Must(GenerateKey()), subject));
  EXPECT_EQ(SignClientCert(ca, csr, {"", ""}, kNow, kDay).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SignClientCert(ca, csr, subject, kNow, -kDay).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PkiTest, VerifyRefusesExpiredAndNotYetValidCerts) {
  const KeyAndCert ca = TestCa();
  const KeyAndCert node = NodeCert(ca, kNow, kDay);
  EXPECT_TRUE(Verify(ca.cert_pem, node.cert_pem, kNow + absl::Hours(23)).ok());
  const absl::Status expired = Verify(ca.cert_pem, node.cert_pem, kNow + 2 * kDay);
  EXPECT_EQ(expired.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(expired.message(), "expired")) << expired;
  const absl::Status early = Verify(ca.cert_pem, node.cert_pem, kNow - absl::Hours(1));
  EXPECT_EQ(early.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(early.message(), "not valid before")) << early;
}

TEST(PkiTest, VerifyRefusesACertFromAnotherCa) {
  const KeyAndCert ca = TestCa();
  const KeyAndCert other = TestCa("other");
  const absl::Status st = Verify(other.cert_pem, NodeCert(ca).cert_pem, kNow);
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(st.message(), "another CA")) << st;
  EXPECT_EQ(Verify("garbage", NodeCert(ca).cert_pem, kNow).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PkiTest, FingerprintIsStableSha256OfTheFirstCert) {
  const KeyAndCert ca = TestCa();
  const KeyAndCert other = TestCa("other");
  const std::string pin = Must(Fingerprint(ca.cert_pem));
  EXPECT_TRUE(std::regex_match(pin, std::regex("sha256:[0-9a-f]{64}"))) << pin;
  EXPECT_EQ(Must(Fingerprint(ca.cert_pem)), pin);
  EXPECT_EQ(Must(Fingerprint(ca.cert_pem + other.cert_pem)), pin);
  EXPECT_NE(Must(Fingerprint(other.cert_pem)), pin);
  EXPECT_FALSE(Fingerprint("nothing").ok());
}

TEST(PkiTest, KeyMatchesCertOnlyForItsOwnKey) {
  const KeyAndCert ca = TestCa();
  EXPECT_TRUE(KeyMatchesCert(ca.key_pem, ca.cert_pem).ok());
  EXPECT_EQ(KeyMatchesCert(Must(GenerateKey()), ca.cert_pem).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(KeyMatchesCert("not a key", ca.cert_pem).code(), absl::StatusCode::kInvalidArgument);
}

TEST(PkiTest, PinnedCaPicksThePinnedCertFromTheChain) {
  const KeyAndCert ca = TestCa();
  const KeyAndCert server = Must(IssueServerCert(ca, {"127.0.0.1"}, kNow, kDay));
  const std::string pin = Must(Fingerprint(ca.cert_pem));
  EXPECT_EQ(Must(PinnedCa({server.cert_pem, ca.cert_pem}, pin, kNow)), ca.cert_pem);
  const std::string upper = "sha256:" + absl::AsciiStrToUpper(pin.substr(7));
  EXPECT_EQ(Must(PinnedCa({server.cert_pem, ca.cert_pem}, upper, kNow)), ca.cert_pem);
}

TEST(PkiTest, PinnedCaRefusesAWrongPin) {
  const KeyAndCert ca = TestCa();
  const KeyAndCert server = Must(IssueServerCert(ca, {"127.0.0.1"}, kNow, kDay));
  const std::string wrong = Must(Fingerprint(TestCa("other").cert_pem));
  auto got = PinnedCa({server.cert_pem, ca.cert_pem}, wrong, kNow);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(got.status().message(), wrong)) << got.status();
  EXPECT_EQ(PinnedCa({}, wrong, kNow).status().code(), absl::StatusCode::kPermissionDenied);
}

TEST(PkiTest, PinnedCaRefusesALeafTheCaDidNotSign) {
  const KeyAndCert ca = TestCa();
  const KeyAndCert other = TestCa("other");
  const KeyAndCert server = Must(IssueServerCert(other, {"127.0.0.1"}, kNow, kDay));
  auto got = PinnedCa({server.cert_pem, ca.cert_pem}, Must(Fingerprint(ca.cert_pem)), kNow);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST(PkiTest, PinnedCaRefusesAMalformedPin) {
  const KeyAndCert ca = TestCa();
  const std::string hex = Must(Fingerprint(ca.cert_pem)).substr(7);
  for (const std::string& pin : {std::string("sha256:abc"), "md5:" + hex, hex,
                                 "sha256:" + hex + "0", "sha256:" + hex.substr(1) + "g"}) {
    EXPECT_EQ(PinnedCa({ca.cert_pem}, pin, kNow).status().code(),
              absl::StatusCode::kInvalidArgument)
        << pin;
    EXPECT_FALSE(ValidatePin(pin).ok()) << pin;
  }
  EXPECT_TRUE(ValidatePin("sha256:" + hex).ok());
}

// A TLS server on a loopback port that completes one handshake, presenting
// `chain_pem` (leaf first), and notes whether the client offered "h2".
class TlsServer {
 public:
  TlsServer(const std::string& key_pem, const std::string& chain_pem, int family) {
    IgnoreSigpipe();
    ctx_.reset(SSL_CTX_new(TLS_server_method()));
    auto key = internal::ReadKey(key_pem);
    auto certs = internal::ReadCerts(chain_pem);
    if (!ctx_ || !key.ok() || !certs.ok() || SSL_CTX_use_PrivateKey(ctx_.get(), key->get()) != 1 ||
        SSL_CTX_use_certificate(ctx_.get(), (*certs)[0].get()) != 1) {
      ADD_FAILURE() << "cannot set up the test TLS server";
      return;
    }
    for (size_t i = 1; i < certs->size(); ++i) {
      SSL_CTX_add1_chain_cert(ctx_.get(), (*certs)[i].get());
    }
    SSL_CTX_set_alpn_select_cb(ctx_.get(), &TlsServer::SelectAlpn, this);
    listener_ = Listen(family, &port_);
    if (listener_ >= 0) thread_ = std::thread([this] { ServeOne(); });
  }
  ~TlsServer() {
    if (thread_.joinable()) thread_.join();
    if (listener_ >= 0) close(listener_);
  }

  // 0 when the address family is not available here.
  int port() const { return port_; }
  bool offered_h2() const { return offered_h2_; }

  // A bound, listening socket on the loopback address of `family`.
  static int Listen(int family, int* port) {
    const int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_storage address{};
    socklen_t size = 0;
    if (family == AF_INET) {
      auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
      v4->sin_family = AF_INET;
      v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      size = sizeof(*v4);
    } else {
      auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
      v6->sin6_family = AF_INET6;
      v6->sin6_addr = in6addr_loopback;
      size = sizeof(*v6);
    }
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), size) != 0 || listen(fd, 4) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
      close(fd);
      return -1;
    }
    *port = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&address)->sin_port
                                    : reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
    return fd;
  }

 private:
  static int SelectAlpn(SSL*, const unsigned char** out, unsigned char* out_size,
                        const unsigned char* in, unsigned int in_size, void* arg) {
    static const unsigned char kH2[] = {2, 'h', '2'};
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, out_size, kH2, sizeof(kH2), in, in_size) !=
        OPENSSL_NPN_NEGOTIATED) {
      return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    static_cast<TlsServer*>(arg)->offered_h2_ = true;
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }

  void ServeOne() {
    // A bound on the wait so that a failing client cannot hang the test.
    pollfd p{listener_, POLLIN, 0};
    if (poll(&p, 1, 10'000) != 1) return;
    const int fd = accept(listener_, nullptr, nullptr);
    if (fd < 0) return;
    std::unique_ptr<SSL, Deleter<SSL_free>> ssl(SSL_new(ctx_.get()));
    SSL_set_fd(ssl.get(), fd);
    if (SSL_accept(ssl.get()) == 1) SSL_shutdown(ssl.get());
    ERR_clear_error();
    ssl.reset();
    close(fd);
  }

  std::unique_ptr<SSL_CTX, Deleter<SSL_CTX_free>> ctx_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> offered_h2_{false};
  std::thread thread_;
};

TEST(PkiFetchTest, FetchPeerChainReturnsLeafThenCa) {
  const KeyAndCert ca = TestCa();
  const KeyAndCert server = Must(IssueServerCert(ca, {"127.0.0.1"}, kNow, kDay));
  TlsServer tls(server.key_pem, server.cert_pem + ca.cert_pem, AF_INET);
  ASSERT_NE(tls.port(), 0);
  const std::vector<std::string> chain =
      Must(FetchPeerChain("127.0.0.1:" + std::to_string(tls.port()), absl::Seconds(10)));
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(chain[0], server.cert_pem);
  EXPECT_EQ(chain[1], ca.cert_pem);
  EXPECT_TRUE(tls.offered_h2());
  EXPECT_EQ(Must(PinnedCa(chain, Must(Fingerprint(ca.cert_pem)), kNow)), ca.cert_pem);
}

TEST(PkiFetchTest, FetchPeerChainTakesBracketedIpv6) {
  const KeyAndCert ca = TestCa();
  const KeyAndCert server = Must(IssueServerCert(ca, {"::1"}, kNow, kDay));
  TlsServer tls(server.key_pem, server.cert_pem + ca.cert_pem, AF_INET6);
  if (tls.port() == 0) GTEST_SKIP() << "no IPv6 loopback here";
  const std::vector<std::string> chain =
      Must(FetchPeerChain("[::1]:" + std::to_string(tls.port()), absl::Seconds(10)));
  EXPECT_EQ(chain.size(), 2u);
}

TEST(PkiFetchTest, FetchPeerChainNamesTheTargetWhenNothingListens) {
  // Bound but not listening: the port stays ours, and connecting is refused.
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof(address);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), size), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size), 0);
  const std::string target = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  auto chain = FetchPeerChain(target, absl::Seconds(10));
  close(fd);
  EXPECT_EQ(chain.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(chain.status().message(), target)) << chain.status();
}

TEST(PkiFetchTest, FetchPeerChainGivesUpOnAServerThatNeverAnswers) {
  // The kernel accepts the connection, but nobody speaks TLS on it.
  int port = 0;
  const int fd = TlsServer::Listen(AF_INET, &port);
  ASSERT_GE(fd, 0);
  const std::string target = "127.0.0.1:" + std::to_string(port);
  auto chain = FetchPeerChain(target, absl::Milliseconds(100));
  close(fd);
  EXPECT_EQ(chain.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(absl::StrContains(chain.status().message(), target)) << chain.status();
}

TEST(PkiFetchTest, FetchPeerChainRefusesAMalformedTarget) {
  for (const std::string target : {"no-port", "host:0", "[::1:443", ":443"}) {
    auto chain = FetchPeerChain(target, absl::Seconds(1));
    EXPECT_EQ(chain.status().code(), absl::StatusCode::kInvalidArgument) << target;
    EXPECT_TRUE(absl::StrContains(chain.status().message(), target)) << chain.status();
  }
}

}  // namespace
}  // namespace gantry::pki
