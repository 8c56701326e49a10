// The HTTP/1.1 front of the API on Boost.Beast: one coroutine per connection, plain or TLS
// (api.tls, optionally with client certificates), bounded request headers and bodies, idle
// timeouts, X-Request-Id on every response, graceful stop.
#pragma once

#include "api/api.h"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <memory>

namespace bw {

class HttpServer {
 public:
  // Binds now, so that a port in use fails start-up and port 0 is resolved at once.
  static Result<std::unique_ptr<HttpServer>> bind(boost::asio::any_io_executor ex,
                                                  const std::string& listen, ApiContext& ctx);
  ~HttpServer();

  boost::asio::ip::tcp::endpoint local_endpoint() const;

  // Whether the listener speaks TLS (api.tls set).
  bool tls() const;
  // Reads api.tls's files again (SIGHUP: a renewed certificate). New connections use them;
  // open ones keep theirs. On error the files in use stay.
  Result<void> reload_tls();

  // Accepts until stop(). Each connection runs as its own coroutine.
  boost::asio::awaitable<void> run();

  // Stops accepting, closes idle connections and lets requests in flight finish. Returns once
  // every connection has closed.
  boost::asio::awaitable<void> stop();

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace bw
