// Webhooks: each finished scan is POSTed as JSON to the configured URLs, signed with
// `X-Bulwark-Signature: sha256=<hex HMAC-SHA256 of the body>`, retried with backoff.
//
// Thread-safety: use on the io_context's thread.
#pragma once

#include "store/store.h"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bw {

namespace net {
class HttpClient;
}

struct Webhook {
  std::string url;
  std::string secret;               // HMAC key; from the environment in config (secret_env)
  std::vector<std::string> events;  // "scan.done", "scan.failed", "scan.cancelled"; empty: all
};

class Webhooks {
 public:
  // Deliveries go through the shared HTTP client: system CAs (SSL_CERT_FILE) and the proxies
  // `env` names (http_proxy, HTTPS_PROXY, NO_PROXY), as for registries.
  Webhooks(boost::asio::any_io_executor io, std::vector<Webhook> hooks,
           const std::function<const char*(const char*)>& env);
  ~Webhooks();

  // Sends `payload` for `scan` to every hook that wants its event, in the background.
  void scan_finished(const ScanRecord& scan, nlohmann::json payload);

  std::uint64_t delivered() const { return delivered_; }
  std::uint64_t failed() const { return failed_; }

 private:
  boost::asio::awaitable<void> deliver(Webhook hook, std::string body);

  boost::asio::any_io_executor io_;
  std::vector<Webhook> hooks_;
  std::unique_ptr<net::HttpClient> http_;
  std::uint64_t delivered_ = 0, failed_ = 0;
};

// "sha256=" + hex HMAC-SHA256(secret, body).
std::string webhook_signature(const std::string& secret, const std::string& body);

}  // namespace bw
