#include "common/http/server.h"

#include <arpa/inet.h>

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "civetweb.h"
#include "common/log.h"
#include "common/net_util.h"

namespace gantry::http {

namespace {

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

int LogMessage(const mg_connection*, const char* message) {
  spdlog::debug("http: {}", message);
  return 1;  // handled: civetweb writes nothing to stderr
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& address,
                                                              Handler handler, Options options) {
  auto hp = ParseHostPort(address);
  if (!hp.ok()) return hp.status();
  const std::string host = hp->host.empty() || hp->host == "localhost" ? "127.0.0.1" : hp->host;
  in_addr parsed{};
  if (inet_pton(AF_INET, host.c_str(), &parsed) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("HTTP address ", address, ": expected an IPv4 address and a port"));
  }
  const std::string ports = absl::StrCat(host, ":", hp->port);
  const std::string threads = absl::StrCat(std::max(1, options.threads));
  const std::string queued = absl::StrCat(std::max(1, options.queued));
  const std::string timeout = absl::StrCat(absl::ToInt64Milliseconds(options.request_timeout));
  const char* config[] = {"listening_ports",
                          ports.c_str(),
                          "num_threads",
                          threads.c_str(),
                          "connection_queue",
                          queued.c_str(),
                          "listen_backlog",
                          "64",
                          "request_timeout_ms",
                          timeout.c_str(),
                          "enable_keep_alive",
                          "no",
                          "max_request_size",
                          "16384",
                          nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = &LogMessage;
  std::unique_ptr<HttpServer> server(new HttpServer(std::move(handler)));
  mg_init_data init{&callbacks, server.get(), config};
  char error_text[256] = {};
  unsigned error_code = 0;
  mg_error_data error{&error_code, error_text, sizeof(error_text)};
  server->context_ = mg_start2(&init, &error);
  if (server->context_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address, ": ", error_text,
                                               " (is another process using the port?)"));
  }
  mg_set_request_handler(server->context_, "/", &HttpServer::Dispatch, server.get());
  mg_server_port bound{};
  if (mg_get_server_ports(server->context_, 1, &bound) != 1) {
    return absl::InternalError(absl::StrCat("HTTP server on ", address, ": no listening port"));
  }
  server->port_ = bound.port;
  return server;
}

HttpServer::~HttpServer() {
  if (context_ != nullptr) mg_stop(context_);
}

int HttpServer::Dispatch(mg_connection* conn, void* self) {
  const auto* server = static_cast<const HttpServer*>(self);
  const mg_request_info* info = mg_get_request_info(conn);
  const std::string method = info->request_method != nullptr ? info->request_method : "";
  Response resp;
  if (method != "GET" && method != "HEAD") {
    resp = {405, "text/plain; charset=utf-8", "only GET\n"};
  } else {
    resp = server->handler_(info->local_uri != nullptr ? info->local_uri : "/");
  }
  const std::string head = absl::StrCat(
      "HTTP/1.1 ", resp.status, " ", Reason(resp.status), "\r\nContent-Type: ", resp.content_type,
      "\r\nContent-Length: ", resp.body.size(), "\r\nConnection: close\r\n\r\n");
  // A failed write (the client went away) ends the request; nothing to do.
  if (mg_write(conn, head.data(), head.size()) > 0 && method != "HEAD") {
    mg_write(conn, resp.body.data(), resp.body.size());
  }
  return resp.status;
}

}  // namespace gantry::http
