// HTTP/1.1 client for registry traffic: plain TCP or TLS (SNI, hostname verification, system
// CAs via OpenSSL's default verify paths so SSL_CERT_FILE works, per-host CA files), idle
// connections kept per origin, redirects followed without forwarding credentials to another
// origin, bounded headers and bodies, and per-I/O timeouts.
//
// Not thread-safe: use one HttpClient from one thread (the io_context's), as every coroutine
// of the registry module runs there.
#pragma once

#include "common/error.h"
#include "net/proxy.h"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bw::net {

struct Url {
  std::string scheme;  // "http" | "https"
  std::string host;    // without brackets for IPv6
  std::string port;
  std::string target;  // path and query, starting with '/'

  std::string origin() const;  // "https://host:443"
  std::string str() const { return origin() + target; }
};

// Absolute http(s) URLs only.
Result<Url> parse_url(std::string_view text);
// Resolves a Location header against the URL that answered it.
Result<Url> resolve_url(const Url& base, std::string_view location);

using Endpoints = std::vector<boost::asio::ip::tcp::endpoint>;
// Name resolution seam: tests inject one to prove that other addresses are refused.
using Resolver =
    std::function<boost::asio::awaitable<Result<Endpoints>>(std::string host, std::string port)>;

struct HttpOptions {
  std::chrono::milliseconds connect_timeout{10'000};
  // The longest wait for any one read or write; a slow drip that sends a byte a minute still
  // fails, since every read must make progress within this time.
  std::chrono::milliseconds io_timeout{30'000};
  std::uint32_t max_header_bytes = 64 * 1024;
  int max_redirects = 5;
  std::size_t max_idle_per_origin = 4;
  std::size_t stream_chunk_bytes = 256 * 1024;
  // host[:port] -> PEM file trusted in addition to the system CAs.
  std::map<std::string, std::string> ca_files;
  Resolver resolver;  // empty: the system resolver
  ProxyConfig proxy;  // empty: connect directly
  // Whether a URL may be contacted at all, checked before any connection: for the request's
  // own URL (redirect false) and each redirect target (redirect true). Empty: any.
  std::function<Result<void>(const Url& url, bool redirect)> url_allowed;
  // Whether a resolved address may be connected to (link-local, metadata, loopback policy).
  // Applied to direct connections; a proxy's own address is the operator's choice. Empty: any.
  std::function<bool(const boost::asio::ip::address& address)> address_allowed;
};

struct HttpRequest {
  std::string method = "GET";
  Url url;
  std::vector<std::pair<std::string, std::string>> headers;
  // Sent only to url's origin; dropped when a redirect leaves that origin.
  std::string authorization;
  // Byte offset to resume from (a Range request); 0 means the whole body.
  std::uint64_t range_from = 0;
  std::string body;  // sent with Content-Type when non-empty
  std::string content_type;
};

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  Url url;  // the URL that answered, after redirects

  // First header with this name, case-insensitively; empty when absent.
  std::string header(std::string_view name) const;
};

// Receives body chunks in order. Returning false stops the transfer (the caller's consumer
// went away); the request then ends with Errc::cancelled.
using ChunkHandler = std::function<boost::asio::awaitable<bool>(std::string chunk)>;
// Sees the status and headers of a 2xx answer before its body; an error aborts the transfer.
using HeadHandler = std::function<Result<void>(const HttpResponse& head)>;

class HttpClient {
 public:
  HttpClient(boost::asio::any_io_executor ex, HttpOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends the request and reads the whole body, failing with Errc::payload_too_large past
  // body_limit bytes. Follows redirects. Any status is a value; transport faults are errors.
  boost::asio::awaitable<Result<HttpResponse>> fetch(HttpRequest req, std::uint64_t body_limit);

  // Like fetch, but a 2xx body goes to on_chunk instead of into the response, so it is never
  // held whole. Non-2xx bodies are read into the response up to 64 KiB for error messages.
  boost::asio::awaitable<Result<HttpResponse>> stream(HttpRequest req, HeadHandler on_head,
                                                      ChunkHandler on_chunk);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bw::net
