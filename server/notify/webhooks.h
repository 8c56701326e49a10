// Webhooks: each finished scan is POSTed as JSON to the configured URLs, signed with
// `X-Bulwark-Signature: sha256=<hex HMAC-SHA256 of the body>`, retried with backoff.
//
// A delivery is a row in the store (one per event and URL) with its attempts and the time of
// the next: a daemon killed between attempts resumes them when it starts again, and on
// PostgreSQL any replica does (a claim on the row keeps two from sending it at once). What
// every attempt failed to deliver stays listed (GET /v1/webhooks/deliveries).
//
// Thread-safety: use on the io_context's thread.
#pragma once

#include "store/store.h"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
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
  // Attempts per delivery; the n-th failed attempt waits 200 ms << n for the next.
  static constexpr int kMaxAttempts = 5;

  // Deliveries go through the shared HTTP client: system CAs (SSL_CERT_FILE) and the proxies
  // `env` names (http_proxy, HTTPS_PROXY, NO_PROXY), as for registries. Rows live in `store`,
  // whose calls run on `store_pool` (inline when null), claimed in the name of `owner` (this
  // replica).
  Webhooks(boost::asio::any_io_executor io, std::vector<Webhook> hooks,
           const std::function<const char*(const char*)>& env, Store& store,
           boost::asio::thread_pool* store_pool, std::string owner);
  ~Webhooks();

  // Records a delivery of `payload` for `scan` to every hook that wants its event, and wakes
  // run().
  void scan_finished(const ScanRecord& scan, nlohmann::json payload);

  // Sends what is due until stop(): first what an earlier run left pending, then each new
  // delivery as it is recorded and each retry at its time.
  boost::asio::awaitable<void> run();
  void stop();

  // Delivered, and given up on after kMaxAttempts, by this process.
  std::uint64_t delivered() const { return delivered_; }
  std::uint64_t failed() const { return failed_; }

 private:
  boost::asio::awaitable<void> record(std::vector<DeliveryRecord> rows);
  boost::asio::awaitable<void> attempt(DeliveryRecord d);
  boost::asio::awaitable<void> wake_after(std::chrono::milliseconds delay);

  boost::asio::any_io_executor io_;
  std::vector<Webhook> hooks_;
  std::unique_ptr<net::HttpClient> http_;
  Store& store_;
  boost::asio::thread_pool* store_pool_;
  std::string owner_;
  boost::asio::steady_timer wake_;
  bool stopping_ = false;
  std::uint64_t delivered_ = 0, failed_ = 0;
};

// "sha256=" + hex HMAC-SHA256(secret, body).
std::string webhook_signature(const std::string& secret, const std::string& body);

// A delivery as GET /v1/webhooks/deliveries lists it: the URL's scheme, host and path (a query
// string, which can carry a token, shown as "?…"), times in RFC 3339, the body as the JSON it
// holds.
nlohmann::json to_json(const DeliveryRecord& d);

}  // namespace bw
