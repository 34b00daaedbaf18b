#include "controlplane/identity/cluster_pki.h"

#include <arpa/inet.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/log.h"
#include "common/status_util.h"

namespace gantry::identity {
namespace {

constexpr absl::Duration kCaTtl = absl::Hours(24 * 3650);
constexpr absl::Duration kServerTtl = absl::Hours(24 * 365);
constexpr char kCaSubjectPrefix[] = "Gantry cluster CA ";
constexpr char kRestore[] =
    "restore the pki directory from a backup or start on an empty --data-dir";
constexpr mode_t kPrivateFile = 0600;
constexpr mode_t kPublicFile = 0644;

// What LoadOrCreate finds or makes, before it builds the object.
struct Material {
  std::string cluster_id;
  std::string ca_pem;
  std::optional<std::string> ca_key_pem;
  std::string server_chain_pem;
  std::string server_key_pem;
};

std::string Errno(absl::string_view what, const std::string& path) {
  return absl::StrCat(path, ": ", what, ": ", std::strerror(errno));
}

// The file's content, or nullopt when it does not exist.
absl::StatusOr<std::optional<std::string>> ReadIfExists(const std::string& path) {
  absl::StatusOr<std::string> content = ReadWholeFile(path);
  if (absl::IsNotFound(content.status())) return std::nullopt;
  if (!content.ok()) return content.status();
  return *std::move(content);
}

absl::Status WriteAtomically(const std::string& path, const std::string& content, mode_t mode) {
  return WriteFileAtomically(path, content, static_cast<int>(mode));
}

// Creates `dir` (and the data dir above it) when missing; the pki dir
// itself is 0700 whatever it was before.
absl::Status EnsurePrivateDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(dir).parent_path(), ec);
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat(dir, ": cannot create the data dir: ", ec.message()));
  }
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::PermissionDeniedError(Errno("cannot create", dir));
  }
  struct stat st {};
  if (lstat(dir.c_str(), &st) != 0) return absl::PermissionDeniedError(Errno("cannot stat", dir));
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(dir, ": not a directory; ", kRestore));
  }
  if ((st.st_mode & 0777) != 0700 && chmod(dir.c_str(), 0700) != 0) {
    return absl::PermissionDeniedError(Errno("cannot make it private (0700)", dir));
  }
  return absl::OkStatus();
}

// A key file readable by others is made private again (an operator's copy
// or restore may have lost the mode).
void KeepPrivate(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    spdlog::warn("{} was readable by others (mode {:o}); making it 0600", path, st.st_mode & 0777);
    chmod(path.c_str(), kPrivateFile);
  }
}

absl::StatusOr<std::string> RandomClusterId() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return absl::InternalError("cannot draw random bytes for the cluster id");
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

// The advertised names in the form they take in a certificate: IPs without
// brackets and in canonical text, DNS names in lower case; sorted, unique.
// Without any, the certificate covers this machine's loopback names.
std::vector<std::string> NormalizeHosts(const std::vector<std::string>& advertise) {
  std::vector<std::string> hosts;
  for (std::string host : advertise) {
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    if (host.empty()) continue;
    unsigned char ip[16];
    char text[INET6_ADDRSTRLEN] = {};
    if (inet_pton(AF_INET, host.c_str(), ip) == 1) {
      host = inet_ntop(AF_INET, ip, text, sizeof(text));
    } else if (inet_pton(AF_INET6, host.c_str(), ip) == 1) {
      host = inet_ntop(AF_INET6, ip, text, sizeof(text));
    } else {
      absl::AsciiStrToLower(&host);
    }
    hosts.push_back(host);
  }
  if (hosts.empty()) hosts = {"127.0.0.1", "::1", "localhost"};
  std::sort(hosts.begin(), hosts.end());
  hosts.erase(std::unique(hosts.begin(), hosts.end()), hosts.end());
  return hosts;
}

std::vector<std::string> CertHosts(const pki::CertInfo& info) {
  std::vector<std::string> hosts = info.ip_addresses;
  for (const std::string& dns : info.dns_names) hosts.push_back(absl::AsciiStrToLower(dns));
  std::sort(hosts.begin(), hosts.end());
  hosts.erase(std::unique(hosts.begin(), hosts.end()), hosts.end());
  return hosts;
}

std::string UtcText(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone());
}

std::string Chain(std::string cert_pem, const std::string& ca_pem) {
  if (!cert_pem.empty() && cert_pem.back() != '\n') cert_pem += '\n';
  return cert_pem + ca_pem;
}

// Why the stored server certificate must be issued again; empty when it
// can be kept.
std::string ReissueReason(const std::string& cert_pem, const std::string& key_pem,
                          const std::string& ca_pem, const std::vector<std::string>& hosts,
                          absl::Time now) {
  auto info = pki::ParseCert(cert_pem);
  if (!info.ok()) return std::string(info.status().message());
  if (!pki::KeyMatchesCert(key_pem, cert_pem).ok()) return "server.key does not match it";
  if (absl::Status st = pki::Verify(ca_pem, cert_pem, now); !st.ok()) {
    return std::string(st.message());
  }
  if (const std::vector<std::string> covered = CertHosts(*info); covered != hosts) {
    return absl::StrCat("it covers ", absl::StrJoin(covered, ","), " but the advertised hosts are ",
                        absl::StrJoin(hosts, ","));
  }
  if (info->not_after - now < (info->not_after - info->not_before) / 3) {
    return absl::StrCat("less than a third of its life is left (it expires at ",
                        UtcText(info->not_after), ")");
  }
  return "";
}

// The cluster id is also in the CA's subject, so a lost cluster-id file can
// be written again and a foreign one is noticed.
absl::StatusOr<std::string> ClusterIdOfCa(const std::string& ca_path, const std::string& ca_pem,
                                          absl::Time now) {
  auto info = pki::ParseCert(ca_pem);
  if (!info.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(ca_path, ": ", info.status().message(), "; ", kRestore));
  }
  if (!info->is_ca) {
    return absl::FailedPreconditionError(
        absl::StrCat(ca_path, ": not a CA certificate; ", kRestore));
  }
  if (info->not_after <= now) {
    return absl::FailedPreconditionError(
        absl::StrCat(ca_path, ": the cluster CA expired at ", UtcText(info->not_after),
                     "; start a new cluster on an empty --data-dir"));
  }
  absl::string_view id = info->subject.common_name;
  if (!absl::ConsumePrefix(&id, kCaSubjectPrefix) || id.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(ca_path, ": not a Gantry cluster CA (subject CN=", info->subject.common_name,
                     "); ", kRestore));
  }
  return std::string(id);
}

absl::Status CreateCa(const std::string& dir, absl::Time now, Material* m) {
  ASSIGN_OR_RETURN(m->cluster_id, RandomClusterId());
  ASSIGN_OR_RETURN(pki::KeyAndCert ca, pki::CreateCa(m->cluster_id, now, kCaTtl));
  // ca.pem last: once it exists, the files before it do too.
  RETURN_IF_ERROR(WriteAtomically(dir + "/cluster-id", m->cluster_id + "\n", kPublicFile));
  RETURN_IF_ERROR(WriteAtomically(dir + "/ca.key", ca.key_pem, kPrivateFile));
  RETURN_IF_ERROR(WriteAtomically(dir + "/ca.pem", ca.cert_pem, kPublicFile));
  spdlog::info("created the cluster CA for cluster {} in {}", m->cluster_id, dir);
  m->ca_pem = std::move(ca.cert_pem);
  m->ca_key_pem = std::move(ca.key_pem);
  return absl::OkStatus();
}

absl::Status LoadOrCreateCa(const std::string& dir, absl::Time now, Material* m) {
  const std::string ca_path = dir + "/ca.pem";
  const std::string key_path = dir + "/ca.key";
  const std::string id_path = dir + "/cluster-id";
  ASSIGN_OR_RETURN(std::optional<std::string> ca_pem, ReadIfExists(ca_path));
  ASSIGN_OR_RETURN(std::optional<std::string> key_pem, ReadIfExists(key_path));
  if (!ca_pem && !key_pem) return CreateCa(dir, now, m);
  if (!ca_pem || !key_pem) {
    return absl::FailedPreconditionError(
        absl::StrCat(ca_pem ? key_path : ca_path, ": missing while ", ca_pem ? ca_path : key_path,
                     " exists; ", kRestore));
  }
  KeepPrivate(key_path);
  if (absl::Status st = pki::KeyMatchesCert(*key_pem, *ca_pem); !st.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(key_path, ": does not match ", ca_path, " (", st.message(), "); ", kRestore));
  }
  ASSIGN_OR_RETURN(const std::string id_in_ca, ClusterIdOfCa(ca_path, *ca_pem, now));
  ASSIGN_OR_RETURN(std::optional<std::string> id, ReadIfExists(id_path));
  const std::string stored = id ? std::string(absl::StripAsciiWhitespace(*id)) : "";
  if (stored.empty()) {
    RETURN_IF_ERROR(WriteAtomically(id_path, id_in_ca + "\n", kPublicFile));
  } else if (stored != id_in_ca) {
    return absl::FailedPreconditionError(absl::StrCat(id_path, ": says cluster ", stored, " but ",
                                                      ca_path, " is the CA of cluster ", id_in_ca,
                                                      "; ", kRestore));
  }
  m->cluster_id = id_in_ca;
  m->ca_pem = std::move(*ca_pem);
  m->ca_key_pem = std::move(*key_pem);
  return absl::OkStatus();
}

// Keeps server.pem while it covers `hosts` and has a third of its life
// left; otherwise issues and stores a new one.
absl::Status LoadOrIssueServerCert(const std::string& dir, const std::vector<std::string>& hosts,
                                   absl::Time now, Material* m) {
  const std::string cert_path = dir + "/server.pem";
  const std::string key_path = dir + "/server.key";
  ASSIGN_OR_RETURN(std::optional<std::string> cert_pem, ReadIfExists(cert_path));
  ASSIGN_OR_RETURN(std::optional<std::string> key_pem, ReadIfExists(key_path));
  std::string reason = "there is none";
  if (cert_pem && key_pem) {
    reason = ReissueReason(*cert_pem, *key_pem, m->ca_pem, hosts, now);
    if (reason.empty()) {
      KeepPrivate(key_path);
      m->server_chain_pem = Chain(std::move(*cert_pem), m->ca_pem);
      m->server_key_pem = std::move(*key_pem);
      return absl::OkStatus();
    }
  }
  ASSIGN_OR_RETURN(pki::KeyAndCert server,
                   pki::IssueServerCert({*m->ca_key_pem, m->ca_pem}, hosts, now, kServerTtl));
  // The key first: a crash between the two leaves a pair that does not
  // match, which the next start issues again.
  RETURN_IF_ERROR(WriteAtomically(key_path, server.key_pem, kPrivateFile));
  RETURN_IF_ERROR(WriteAtomically(cert_path, server.cert_pem, kPublicFile));
  spdlog::info("issued the server certificate for {} ({})", absl::StrJoin(hosts, ","), reason);
  m->server_chain_pem = Chain(std::move(server.cert_pem), m->ca_pem);
  m->server_key_pem = std::move(server.key_pem);
  return absl::OkStatus();
}

absl::StatusOr<Material> OnDisk(const ClusterPki::Options& options, absl::Time now) {
  const std::string dir = !options.pki_dir.empty()
                              ? options.pki_dir
                              : (std::filesystem::path(options.data_dir) / "pki").string();
  RETURN_IF_ERROR(EnsurePrivateDir(dir));
  Material m;
  RETURN_IF_ERROR(LoadOrCreateCa(dir, now, &m));
  RETURN_IF_ERROR(LoadOrIssueServerCert(dir, NormalizeHosts(options.advertise), now, &m));
  return m;
}

absl::StatusOr<Material> InMemory(const ClusterPki::Options& options, absl::Time now) {
  Material m;
  ASSIGN_OR_RETURN(m.cluster_id, RandomClusterId());
  ASSIGN_OR_RETURN(pki::KeyAndCert ca, pki::CreateCa(m.cluster_id, now, kCaTtl));
  ASSIGN_OR_RETURN(pki::KeyAndCert server,
                   pki::IssueServerCert(ca, NormalizeHosts(options.advertise), now, kServerTtl));
  m.ca_pem = std::move(ca.cert_pem);
  m.ca_key_pem = std::move(ca.key_pem);
  m.server_chain_pem = Chain(std::move(server.cert_pem), m.ca_pem);
  m.server_key_pem = std::move(server.key_pem);
  return m;
}

absl::StatusOr<std::string> ReadFlagFile(absl::string_view flag, const std::string& path) {
  auto content = ReadIfExists(path);
  if (!content.ok()) return Annotate(content.status(), flag);
  if (!content->has_value()) {
    return absl::NotFoundError(absl::StrCat(flag, " ", path, ": no such file"));
  }
  return std::move(**content);
}

// An operator's own PKI: their server certificate as it is (it carries
// whatever chain they put in the file), their CA, and no CA key.
absl::StatusOr<Material> OwnPki(const ClusterPki::Options& options) {
  ASSIGN_OR_RETURN(std::string cert_pem, ReadFlagFile("--tls-cert", options.tls_cert_file));
  ASSIGN_OR_RETURN(std::string key_pem, ReadFlagFile("--tls-key", options.tls_key_file));
  ASSIGN_OR_RETURN(std::string ca_pem, ReadFlagFile("--tls-ca", options.tls_ca_file));
  if (absl::Status st = pki::ParseCert(cert_pem).status(); !st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls-cert ", options.tls_cert_file, ": ", st.message()));
  }
  if (absl::Status st = pki::ParseCert(ca_pem).status(); !st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls-ca ", options.tls_ca_file, ": ", st.message()));
  }
  if (absl::Status st = pki::KeyMatchesCert(key_pem, cert_pem); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls-key ", options.tls_key_file, ": ", st.message(), " in --tls-cert ",
        options.tls_cert_file, "; give the key that belongs to the server certificate"));
  }
  Material m;
  ASSIGN_OR_RETURN(const std::string ca_hash, pki::Fingerprint(ca_pem));
  m.cluster_id = ca_hash.substr(std::strlen("sha256:"), 32);
  m.ca_pem = std::move(ca_pem);
  m.server_chain_pem = std::move(cert_pem);
  m.server_key_pem = std::move(key_pem);
  return m;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ClusterPki>> ClusterPki::LoadOrCreate(const Options& options,
                                                                     const Clock* clock) {
  if (clock == nullptr) clock = RealClock::Get();
  const int own =
      !options.tls_cert_file.empty() + !options.tls_key_file.empty() + !options.tls_ca_file.empty();
  if (own != 0 && own != 3) {
    return absl::InvalidArgumentError(
        "--tls-cert, --tls-key and --tls-ca go together: set all three or none");
  }
  absl::StatusOr<Material> m = own == 3                   ? OwnPki(options)
                               : options.data_dir.empty() ? InMemory(options, clock->Now())
                                                          : OnDisk(options, clock->Now());
  if (!m.ok()) return m.status();
  auto out = std::unique_ptr<ClusterPki>(new ClusterPki());
  ASSIGN_OR_RETURN(out->ca_hash_, pki::Fingerprint(m->ca_pem));
  out->clock_ = clock;
  out->cluster_id_ = std::move(m->cluster_id);
  out->ca_pem_ = std::move(m->ca_pem);
  out->ca_key_pem_ = std::move(m->ca_key_pem);
  out->server_chain_pem_ = std::move(m->server_chain_pem);
  out->server_key_pem_ = std::move(m->server_key_pem);
  return out;
}

absl::StatusOr<std::string> ClusterPki::IssueNodeCert(const std::string& csr_pem,
                                                      const std::string& node_name,
                                                      absl::Duration ttl) const {
  if (!ca_key_pem_) {
    return absl::FailedPreconditionError(
        "this control plane uses the operator's own PKI (--tls-ca) and holds no CA key: nodes "
        "join with certificates from that CA, not with join tokens");
  }
  if (node_name.empty()) return absl::InvalidArgumentError("a node certificate needs a node name");
  return pki::SignClientCert({*ca_key_pem_, ca_pem_}, csr_pem,
                             pki::Subject{node_name, pki::kNodeOrganization}, clock_->Now(), ttl);
}

}  // namespace gantry::identity
