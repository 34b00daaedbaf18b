#include "common/registry/registry_client.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/json_fields.h"
#include "common/registry/auth.h"
#include "common/registry/registry_tls.h"
#include "common/status_util.h"
#include "nlohmann/json.hpp"

namespace gantry::registry {

using nlohmann::json;

namespace {

void GlobalInit() {
  static const bool done = [] { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }();
  (void)done;
}

// Incremental SHA-256 for verifying streamed blobs.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  void Update(absl::string_view data) { EVP_DigestUpdate(ctx_, data.data(), data.size()); }
  std::string Digest() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, md, &len);
    return absl::StrCat("sha256:", absl::BytesToHexString(
                                       absl::string_view(reinterpret_cast<const char*>(md), len)));
  }

 private:
  EVP_MD_CTX* ctx_;
};

struct Transfer {
  long code = 0;
  std::map<std::string, std::string> headers;
  std::string body;
  const RegistryClient::Sink* sink = nullptr;
  absl::Status sink_status;
};

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  absl::string_view line(data, size * n);
  if (absl::StartsWith(line, "HTTP/")) {
    // A new response (after a redirect or 100-continue): start over.
    t->headers.clear();
    t->body.clear();
    const size_t sp = line.find(' ');
    if (sp != absl::string_view::npos) {
      (void)absl::SimpleAtoi(line.substr(sp + 1, 3), &t->code);
    }
    return size * n;
  }
  const size_t colon = line.find(':');
  if (colon != absl::string_view::npos) {
    t->headers[absl::AsciiStrToLower(line.substr(0, colon))] =
        std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  }
  return size * n;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  absl::string_view chunk(data, size * n);
  if (t->sink != nullptr && t->code == 200) {
    t->sink_status = (*t->sink)(chunk);
    return t->sink_status.ok() ? size * n : 0;  // 0 aborts the transfer
  }
  if (t->body.size() < (8 << 20)) t->body.append(chunk.data(), chunk.size());
  return size * n;
}

}  // namespace

absl::Status RegistryError(long code, const std::string& body) {
  std::string message;
  json j = json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("errors") && j["errors"].is_array()) {
    std::vector<std::string> parts;
    for (const auto& e : j["errors"]) {
      if (e.is_object()) {
        std::string m = JsonText(e, "message");
        parts.push_back(m.empty() ? absl::AsciiStrToLower(JsonText(e, "code", "error")) : m);
      }
    }
    message = absl::StrJoin(parts, "; ");
  }
  if (message.empty()) message = absl::StrCat("HTTP ", code);
  if (code == 404) return absl::NotFoundError(message);
  if (code == 401 || code == 403) return absl::PermissionDeniedError(message);
  if (code == 429 || code >= 500) return absl::UnavailableError(message);
  return absl::InvalidArgumentError(message);
}

absl::Status TransferError(const std::string& url, int curl_code) {
  // scheme://[user@]host[:port]/path -> host[:port]
  absl::string_view host = url;
  if (const size_t scheme = host.find("://"); scheme != absl::string_view::npos) {
    host.remove_prefix(scheme + 3);
  }
  host = host.substr(0, host.find_first_of("/?#"));
  if (const size_t at = host.rfind('@'); at != absl::string_view::npos) host.remove_prefix(at + 1);
  const auto rc = static_cast<CURLcode>(curl_code);
  const std::string said = curl_easy_strerror(rc);
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
      return absl::UnavailableError(absl::StrCat("cannot connect to ", host, " (", said,
                                                 "): is the registry running, and can this "
                                                 "host reach it?"));
    case CURLE_COULDNT_RESOLVE_HOST:
      return absl::UnavailableError(absl::StrCat("cannot resolve ", host, " (", said,
                                                 "): check the name in the image reference "
                                                 "and this host's DNS"));
    case CURLE_OPERATION_TIMEDOUT:
      return absl::UnavailableError(absl::StrCat("no answer from ", host, " in time (", said, ")"));
    case CURLE_PEER_FAILED_VERIFICATION:
      // Not retried: only a change of configuration or certificate helps.
      return absl::FailedPreconditionError(absl::StrCat(
          "the certificate of ", host, " is not trusted (", said,
          "): if a private CA signed it, name that CA's certificate as caFile for the registry "
          "in the registries section of the agents' and the control plane's configuration"));
    case CURLE_SSL_CONNECT_ERROR:
      return absl::UnavailableError(absl::StrCat(
          "the TLS handshake with ", host, " failed (", said,
          "): does it serve HTTPS? A plain-HTTP registry must be listed with insecure: true"));
    default:
      return absl::UnavailableError(absl::StrCat("request to ", host, " failed: ", said));
  }
}

RegistryClient::RegistryClient(RegistryConfig config) : config_(std::move(config)) { GlobalInit(); }

const RegistryHostConfig& RegistryClient::HostConfig(const std::string& registry) const {
  static const RegistryHostConfig kDefault;
  auto it = config_.hosts.find(registry);
  return it == config_.hosts.end() ? kDefault : it->second;
}

std::string RegistryClient::AuthorizationFor(const Reference& ref) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = authorization_.find(absl::StrCat(ref.registry, "/", ref.repository));
  if (it == authorization_.end()) it = authorization_.find(ref.registry);
  return it == authorization_.end() ? "" : it->second;
}

absl::StatusOr<RegistryClient::Response> RegistryClient::Perform(
    const RegistryHostConfig& host, const std::string& url, const std::string& method,
    const std::string& accept, const std::string& authorization, const Sink* sink, bool bounded) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return absl::InternalError("libcurl: cannot create a handle");
  Transfer t;
  t.sink = sink;
  curl_slist* headers = nullptr;
  if (!accept.empty()) headers = curl_slist_append(headers, ("Accept: " + accept).c_str());
  if (!authorization.empty()) {
    headers = curl_slist_append(headers, ("Authorization: " + authorization).c_str());
  }
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_guard(headers,
                                                                           curl_slist_free_all);
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(config_.connect_timeout)));
  if (bounded) {
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(absl::ToInt64Milliseconds(config_.request_timeout)));
  }
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
                   static_cast<long>(absl::ToInt64Seconds(config_.stall_timeout)));
  if (method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  if (!host.ca_pem.empty()) RETURN_IF_ERROR(TrustCaBundle(c, &host.ca_pem));
  const CURLcode rc = curl_easy_perform(c);
  if (!t.sink_status.ok()) return t.sink_status;
  if (rc != CURLE_OK) return TransferError(url, rc);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &t.code);
  Response out;
  out.code = t.code;
  out.headers = std::move(t.headers);
  out.body = std::move(t.body);
  return out;
}

absl::Status RegistryClient::Authenticate(const Reference& ref, const std::string& header) {
  const RegistryHostConfig& host = HostConfig(ref.registry);
  auto challenge = ParseChallenge(header);
  if (!challenge.ok())
    return absl::PermissionDeniedError(std::string(challenge.status().message()));
  const bool has_credentials = !host.username.empty();
  const std::string basic =
      "Basic " + absl::Base64Escape(absl::StrCat(host.username, ":", host.password));
  if (challenge->scheme == "basic") {
    if (!has_credentials) {
      return absl::PermissionDeniedError(
          absl::StrCat("the registry requires credentials; add a username and password for ",
                       ref.registry, " to the registries section of the configuration"));
    }
    std::lock_guard<std::mutex> lock(mu_);
    authorization_[ref.registry] = basic;
    return absl::OkStatus();
  }
  if (challenge->scheme != "bearer" || !challenge->params.contains("realm")) {
    return absl::PermissionDeniedError(
        absl::StrCat("unsupported authentication challenge \"", challenge->scheme, "\""));
  }
  std::string url = challenge->params["realm"];
  std::vector<std::string> query;
  char* escaped = nullptr;
  auto add = [&](const std::string& key, const std::string& value) {
    escaped = curl_easy_escape(nullptr, value.c_str(), static_cast<int>(value.size()));
    query.push_back(absl::StrCat(key, "=", escaped));
    curl_free(escaped);
  };
  if (challenge->params.contains("service")) add("service", challenge->params["service"]);
  add("scope", challenge->params.contains("scope")
                   ? challenge->params["scope"]
                   : absl::StrCat("repository:", ref.repository, ":pull"));
  url += (absl::StrContains(url, "?") ? "&" : "?") + absl::StrJoin(query, "&");
  auto resp = Perform(host, url, "GET", "application/json", has_credentials ? basic : "", nullptr,
                      /*bounded=*/true);
  if (!resp.ok()) {
    return absl::UnavailableError(absl::StrCat("token service: ", resp.status().message()));
  }
  if (resp->code != 200) {
    auto st = RegistryError(resp->code, resp->body);
    return absl::Status(st.code(), absl::StrCat("token service: ", st.message()));
  }
  json j = json::parse(resp->body, nullptr, false);
  std::string token;
  token = JsonText(j, "token", JsonText(j, "access_token"));
  if (token.empty()) {
    return absl::PermissionDeniedError("token service: the answer holds no token");
  }
  std::lock_guard<std::mutex> lock(mu_);
  authorization_[absl::StrCat(ref.registry, "/", ref.repository)] = "Bearer " + token;
  return absl::OkStatus();
}

absl::StatusOr<RegistryClient::Response> RegistryClient::Request(const Reference& ref,
                                                                 const std::string& method,
                                                                 const std::string& path,
                                                                 const std::string& accept,
                                                                 const Sink* sink, bool bounded) {
  const std::string url = absl::StrCat(HostConfig(ref.registry).insecure ? "http" : "https", "://",
                                       ref.ApiHost(), "/v2/", ref.repository, "/", path);
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto resp = Perform(HostConfig(ref.registry), url, method, accept, AuthorizationFor(ref), sink,
                        bounded);
    if (!resp.ok()) return resp;
    if (resp->code != 401 || attempt == 1) return resp;
    auto challenge = resp->headers.find("www-authenticate");
    if (challenge == resp->headers.end()) return resp;
    if (auto st = Authenticate(ref, challenge->second); !st.ok()) return st;
  }
  return absl::InternalError("unreachable");
}

absl::StatusOr<RegistryClient::ManifestResponse> RegistryClient::GetManifest(const Reference& ref) {
  auto resp = Request(ref, "GET", absl::StrCat("manifests/", ref.ManifestRef()),
                      ManifestAcceptHeader(), nullptr, /*bounded=*/true);
  if (!resp.ok()) return resp.status();
  if (resp->code != 200) return RegistryError(resp->code, resp->body);
  ManifestResponse out;
  out.body = std::move(resp->body);
  std::string content_type = resp->headers["content-type"];
  out.media_type = DeclaredMediaType(out.body, content_type);
  Sha256 sha;
  sha.Update(out.body);
  out.digest = sha.Digest();
  if (!ref.digest.empty() && out.digest != ref.digest) {
    return absl::DataLossError(
        absl::StrCat("manifest ", ref.digest, " does not match its digest (got ", out.digest, ")"));
  }
  return out;
}

absl::StatusOr<std::string> RegistryClient::Resolve(const Reference& ref) {
  if (!ref.digest.empty()) return ref.digest;
  auto manifest = GetManifest(ref);
  if (!manifest.ok()) return manifest.status();
  return manifest->digest;
}

absl::Status RegistryClient::FetchBlob(const Reference& ref, const Descriptor& blob,
                                       const Sink& sink) {
  Sha256 sha;
  int64_t received = 0;
  Sink verify = [&](absl::string_view chunk) {
    received += static_cast<int64_t>(chunk.size());
    if (received > blob.size) {
      return absl::DataLossError(
          absl::StrCat("blob ", blob.digest, " is larger than its ", blob.size, " bytes"));
    }
    sha.Update(chunk);
    return sink(chunk);
  };
  auto resp = Request(ref, "GET", absl::StrCat("blobs/", blob.digest), "", &verify,
                      /*bounded=*/false);
  if (!resp.ok()) return resp.status();
  if (resp->code != 200) return RegistryError(resp->code, resp->body);
  if (received != blob.size) {
    return absl::DataLossError(absl::StrCat("blob ", blob.digest, " was truncated: got ", received,
                                            " of ", blob.size, " bytes"));
  }
  const std::string got = sha.Digest();
  if (got != blob.digest) {
    return absl::DataLossError(
        absl::StrCat("blob ", blob.digest, " does not match its digest (got ", got, ")"));
  }
  return absl::OkStatus();
}

}  // namespace gantry::registry
