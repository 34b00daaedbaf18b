#pragma once

// Gantry's plain HTTP endpoints (Prometheus metrics, service discovery) on
// civetweb, the embedded server Debian ships and prometheus-cpp's own
// exposer uses. GET and HEAD only; one request per connection.
//
// Bounded by construction, so a client cannot stall or kill the process:
//   - a fixed pool of workers, and at most `queued` accepted connections
//     waiting for one (beyond that the kernel's listen backlog holds them);
//   - one timeout for the whole request, headers included, and for each
//     write: a client sending a byte every few seconds is cut off when the
//     whole request has taken `request_timeout`;
//   - requests larger than 16 KiB are refused;
//   - writes to a reset connection fail without SIGPIPE.
//
// Handlers run on the workers, concurrently, and must be thread-safe.

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

struct mg_context;
struct mg_connection;

namespace gantry::http {

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// `path` without the query string.
using Handler = std::function<Response(const std::string& path)>;

class HttpServer {
 public:
  struct Options {
    // Requests served at once; each of them can be held by a slow client
    // for at most `request_timeout`.
    int threads = 16;
    int queued = 32;
    // The whole request, from its first byte; scrapes and discovery
    // requests are one small GET.
    absl::Duration request_timeout = absl::Seconds(5);
  };

  // `address` is HOST:PORT with an IPv4 host (port 0 picks one).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& address,
                                                           Handler handler, Options options);
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& address,
                                                           Handler handler) {
    return Start(address, std::move(handler), Options());
  }
  // Stops accepting, waits for the workers to finish.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }

 private:
  explicit HttpServer(Handler handler) : handler_(std::move(handler)) {}
  static int Dispatch(mg_connection* conn, void* self);

  const Handler handler_;
  mg_context* context_ = nullptr;
  int port_ = 0;
};

}  // namespace gantry::http
