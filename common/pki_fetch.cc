// FetchPeerChain: a TLS client that only shakes hands. It trusts nothing it
// receives; the caller checks the chain against a pin.
//
// The timeout bounds real elapsed time on the socket, so it is measured on
// the monotonic clock rather than an injected Clock.

#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/net_util.h"
#include "common/pki.h"
#include "common/pki_internal.h"
#include "common/status_util.h"

namespace gantry::pki {
namespace {

using internal::Deleter;
using SslCtxPtr = std::unique_ptr<SSL_CTX, Deleter<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, Deleter<SSL_free>>;
using AddrInfoPtr = std::unique_ptr<addrinfo, Deleter<freeaddrinfo>>;
using Deadline = std::chrono::steady_clock::time_point;

// gRPC servers speak HTTP/2 only and may refuse a handshake without it.
constexpr unsigned char kAlpnH2[] = {2, 'h', '2'};

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  Socket(Socket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Socket& operator=(Socket&&) = delete;
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

int MillisLeft(Deadline deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(left.count(), INT32_MAX)));
}

// OK once `fd` is ready for `events`; DeadlineExceeded when the deadline
// passes first.
absl::Status WaitFor(int fd, short events, Deadline deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = poll(&p, 1, MillisLeft(deadline));
    if (n > 0) return absl::OkStatus();
    if (n == 0) return absl::DeadlineExceededError("timed out");
    if (errno != EINTR) return absl::UnavailableError(std::strerror(errno));
  }
}

absl::StatusOr<Socket> ConnectTo(const addrinfo* address, Deadline deadline) {
  Socket s(socket(address->ai_family, address->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                  address->ai_protocol));
  if (s.get() < 0) return absl::UnavailableError(std::strerror(errno));
  if (connect(s.get(), address->ai_addr, address->ai_addrlen) == 0) return s;
  if (errno != EINPROGRESS) return absl::UnavailableError(std::strerror(errno));
  RETURN_IF_ERROR(WaitFor(s.get(), POLLOUT, deadline));
  int error = 0;
  socklen_t size = sizeof(error);
  if (getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &error, &size) != 0) error = errno;
  if (error != 0) return absl::UnavailableError(std::strerror(error));
  return s;
}

// Tries each address the host resolves to until one accepts.
absl::StatusOr<Socket> Connect(const HostPort& host_port, Deadline deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(host_port.port);
  if (int rc = getaddrinfo(host_port.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return absl::UnavailableError(absl::StrCat("resolve ", host_port.host, ": ", gai_strerror(rc)));
  }
  AddrInfoPtr addresses(found);
  absl::Status last = absl::UnavailableError("no address");
  for (const addrinfo* a = addresses.get(); a != nullptr; a = a->ai_next) {
    auto s = ConnectTo(a, deadline);
    if (s.ok()) return s;
    last = s.status();
    if (absl::IsDeadlineExceeded(last)) break;
  }
  return last;
}

absl::Status Handshake(SSL* ssl, int fd, Deadline deadline) {
  for (;;) {
    ERR_clear_error();
    const int rc = SSL_connect(ssl);
    if (rc == 1) return absl::OkStatus();
    const int error = SSL_get_error(ssl, rc);
    if (error == SSL_ERROR_WANT_READ) {
      RETURN_IF_ERROR(WaitFor(fd, POLLIN, deadline));
    } else if (error == SSL_ERROR_WANT_WRITE) {
      RETURN_IF_ERROR(WaitFor(fd, POLLOUT, deadline));
    } else if (error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
      return absl::UnavailableError(errno != 0 ? std::strerror(errno)
                                               : "the server closed the connection");
    } else {
      return absl::UnavailableError(internal::OpenSslError("handshake failed"));
    }
  }
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

absl::StatusOr<SslPtr> NewClient(SSL_CTX* ctx, const HostPort& host_port, int fd) {
  SslPtr ssl(SSL_new(ctx));
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1 ||
      SSL_set_alpn_protos(ssl.get(), kAlpnH2, sizeof(kAlpnH2)) != 0 ||  // 0 is success here
      (!IsIpLiteral(host_port.host) &&
       SSL_set_tlsext_host_name(ssl.get(), host_port.host.c_str()) != 1)) {
    return absl::InternalError(internal::OpenSslError("set up the TLS client"));
  }
  return ssl;
}

absl::StatusOr<std::vector<std::string>> PeerChain(SSL* ssl) {
  // On a client the chain includes the server's own certificate first.
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
  if (chain == nullptr || sk_X509_num(chain) == 0) {
    return absl::UnavailableError("the server presented no certificate");
  }
  std::vector<std::string> pems;
  for (int i = 0; i < sk_X509_num(chain); ++i) {
    ASSIGN_OR_RETURN(std::string pem, internal::CertToPem(sk_X509_value(chain, i)));
    pems.push_back(std::move(pem));
  }
  return pems;
}

absl::StatusOr<std::vector<std::string>> Fetch(const HostPort& host_port, absl::Duration timeout) {
  const Deadline deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
  ASSIGN_OR_RETURN(Socket socket, Connect(host_port, deadline));
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx || SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1) {
    return absl::InternalError(internal::OpenSslError("set up the TLS client"));
  }
  // Nothing is trusted here: the caller checks what comes back against a pin.
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  ASSIGN_OR_RETURN(SslPtr ssl, NewClient(ctx.get(), host_port, socket.get()));
  RETURN_IF_ERROR(Handshake(ssl.get(), socket.get(), deadline));
  auto chain = PeerChain(ssl.get());
  SSL_shutdown(ssl.get());  // best effort: the socket is non-blocking
  ERR_clear_error();
  return chain;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> FetchPeerChain(const std::string& target,
                                                        absl::Duration timeout) {
  auto host_port = ParseHostPort(target);
  if (!host_port.ok()) return host_port.status();
  if (host_port->port == 0 || host_port->host.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("address \"", target, "\": expected HOST:PORT with a port above 0"));
  }
  auto chain = Fetch(*host_port, timeout);
  if (!chain.ok()) {
    return Annotate(chain.status(), absl::StrCat("fetch the TLS certificates of ", target));
  }
  return chain;
}

}  // namespace gantry::pki
