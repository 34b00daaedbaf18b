#pragma once

// A small HTTP/1.1 server for Gantry's own plain endpoints — Prometheus
// metrics and service discovery — so they need no web framework: GET only,
// one request per connection (Connection: close), an accept thread and a
// few workers. Handlers run on the workers and must be thread-safe.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

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
  // `address` is HOST:PORT (port 0 picks one).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& address,
                                                           Handler handler, int threads = 2);
  ~HttpServer();
  int port() const { return port_; }

 private:
  HttpServer(int fd, int port, Handler handler);
  void Accept();
  void Work();
  void Serve(int fd);

  const int fd_;
  const int port_;
  const Handler handler_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<int> pending_;
  std::vector<std::thread> threads_;
};

}  // namespace gantry::http
