#pragma once

// A client for the OCI distribution API (the registry HTTP API v2) over
// libcurl: manifests by tag or digest, blobs streamed to a sink with their
// size and digest verified, and authentication — anonymous, HTTP basic, and
// the bearer-token flow a 401's WWW-Authenticate header asks for. HTTPS with
// the system's CA store unless a registry is configured as insecure.
//
// Errors keep the registry's own words and are classified for retrying:
// NotFound / PermissionDenied / InvalidArgument are permanent; Unavailable
// (network, 5xx, 429) and DataLoss (a corrupt or truncated blob) may succeed
// on a later attempt.
//
// Thread-safe; bearer tokens are cached per repository (their scope). Credentials are
// never logged or put in error messages.

#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/registry/manifest.h"
#include "common/registry/reference.h"

namespace gantry::registry {

struct RegistryHostConfig {
  bool insecure = false;  // plain HTTP
  std::string username;
  std::string password;
  // PEM certificates trusted for this registry besides the system's CA store
  // (a registry whose certificate a private CA signed).
  std::string ca_pem;
};

struct RegistryConfig {
  // By registry host as written in references ("127.0.0.1:5000").
  std::map<std::string, RegistryHostConfig> hosts;
  absl::Duration connect_timeout = absl::Seconds(10);
  // Manifests and tokens; blobs are only bounded by a stall timeout.
  absl::Duration request_timeout = absl::Seconds(30);
  absl::Duration stall_timeout = absl::Seconds(30);
};

class RegistryClient {
 public:
  explicit RegistryClient(RegistryConfig config);

  struct ManifestResponse {
    std::string media_type;
    std::string digest;
    std::string body;
  };
  // Fetches what `ref` names (by its digest if it has one, else its tag).
  absl::StatusOr<ManifestResponse> GetManifest(const Reference& ref);
  // The digest `ref`'s tag points to now.
  absl::StatusOr<std::string> Resolve(const Reference& ref);

  using Sink = std::function<absl::Status(absl::string_view chunk)>;
  // Streams the blob to `sink` and verifies its size and digest at the end.
  absl::Status FetchBlob(const Reference& ref, const Descriptor& blob, const Sink& sink);

 private:
  struct Response {
    long code = 0;
    std::map<std::string, std::string> headers;  // lowercased names, last response only
    std::string body;                            // error bodies and small answers
  };
  absl::StatusOr<Response> Request(const Reference& ref, const std::string& method,
                                   const std::string& path, const std::string& accept,
                                   const Sink* sink, bool bounded);
  absl::StatusOr<Response> Perform(const RegistryHostConfig& host, const std::string& url,
                                   const std::string& method, const std::string& accept,
                                   const std::string& authorization, const Sink* sink,
                                   bool bounded);
  absl::Status Authenticate(const Reference& ref, const std::string& challenge);
  std::string AuthorizationFor(const Reference& ref);
  const RegistryHostConfig& HostConfig(const std::string& registry) const;

  const RegistryConfig config_;
  std::mutex mu_;
  // Header values: basic credentials by registry; bearer tokens by
  // "registry/repository", since a token is scoped to one repository.
  std::map<std::string, std::string> authorization_;
};

// Turns a registry's error answer into a status that quotes it, e.g.
// NotFound "manifest unknown".
absl::Status RegistryError(long code, const std::string& body);

// A request to `url` that got no HTTP answer (libcurl's `curl_code`):
// Unavailable, naming the host, quoting libcurl and saying what to check,
// e.g. "cannot connect to 127.0.0.1:5000 (Couldn't connect to server): is
// the registry running, and can this host reach it?".
absl::Status TransferError(const std::string& url, int curl_code);

}  // namespace gantry::registry
