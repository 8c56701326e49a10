// A small blocking client for bulwarkd's REST API, for the CLI (HTTP or HTTPS to the server).
#pragma once

#include "common/error.h"

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bw::cli {

struct Reply {
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  // First header with this name (case-insensitive), or empty.
  std::string header(std::string_view name) const;
};

class ApiClient {
 public:
  // `server` is "http://host:port".
  // `token`: sent as `Authorization: Bearer` when non-empty.
  // `server` is http://HOST:PORT or https://HOST:PORT; HTTPS verifies the server's certificate
  // and name against the system CAs (SSL_CERT_FILE works) or `cacert`, a PEM file.
  static Result<ApiClient> create(const std::string& server, std::string token = "",
                                  std::string cacert = "");
  // One request on a fresh connection; transport failures are Errc::unavailable.
  Result<Reply> call(const std::string& method, const std::string& target,
                     const std::string& body = {},
                     std::chrono::seconds timeout = std::chrono::seconds(60),
                     const std::string& content_type = "application/json") const;
  // As call(), for an answer too large to hold: a 2xx body goes to `sink` piece by piece as it
  // arrives (false stops the transfer) and the reply's body stays empty; any other answer is
  // read whole. `timeout` bounds each wait for the server, not the whole transfer. A body cut
  // short (the server's stream failed) is Errc::unavailable.
  using BodySink = std::function<bool(std::string_view piece)>;
  Result<Reply> download(const std::string& method, const std::string& target,
                         const std::string& body, const BodySink& sink,
                         std::chrono::seconds timeout = std::chrono::seconds(60)) const;
  const std::string& server() const { return server_; }

 private:
  Result<Reply> exchange(const std::string& method, const std::string& target,
                         const std::string& body, std::chrono::seconds timeout,
                         const std::string& content_type, const BodySink* sink) const;
  std::string server_;
  std::string token_;
  std::string host_;
  std::string port_;
  bool tls_ = false;
  std::string cacert_;
};

}  // namespace bw::cli
