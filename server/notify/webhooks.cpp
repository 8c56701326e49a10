#include "notify/webhooks.h"

#include "common/digest.h"
#include "common/log.h"
#include "common/time_util.h"
#include "net/http_client.h"
#include "store/on_store.h"

#include <openssl/hmac.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace bw {

namespace asio = boost::asio;
using asio::awaitable;
using nlohmann::json;

std::string webhook_signature(const std::string& secret, const std::string& body) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), md, &len);
  return "sha256=" + to_hex(md, len);
}

namespace {

// Pending rows are looked for at least this often: retries another replica scheduled, and
// claims a dead replica left, are found within it.
constexpr std::chrono::milliseconds kPoll{1000};
// A claim outlives one attempt (the HTTP client's own timeouts end it sooner); a replica that
// dies mid-attempt leaves the row to another after it.
constexpr std::int64_t kClaimMs = 60'000;
// Delivered and dead rows are kept this long, then pruned.
constexpr std::int64_t kKeepEndedMs = 7LL * 24 * 3600 * 1000;
constexpr std::size_t kClaimBatch = 16;

net::HttpOptions webhook_http(const std::function<const char*(const char*)>& env) {
  net::HttpOptions o;
  o.proxy = net::ProxyConfig::from_env(env);
  return o;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string rfc3339_ms(std::int64_t ms) {
  return format_rfc3339(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

// Scheme, host and path: a query string can carry a token, and userinfo a password.
std::string shown_url(const std::string& url) {
  auto u = net::parse_url(url);
  if (!u) return "(unparsable URL)";
  auto q = u->target.find('?');
  return u->origin() + (q == std::string::npos ? u->target : u->target.substr(0, q) + "?…");
}

// What logs name: the origin alone, as they name registries.
std::string logged_url(const std::string& url) {
  auto u = net::parse_url(url);
  return u ? u->origin() : "(unparsable URL)";
}

}  // namespace

json to_json(const DeliveryRecord& d) {
  json j = {{"id", d.id},
            {"event", d.event},
            {"url", shown_url(d.url)},
            {"state", d.state},
            {"attempts", d.attempts},
            {"created_at", rfc3339_ms(d.created_at_ms)},
            {"updated_at", rfc3339_ms(d.updated_at_ms)}};
  if (d.state == "pending") j["next_attempt_at"] = rfc3339_ms(d.next_at_ms);
  if (!d.last_error.empty()) j["last_error"] = d.last_error;
  json body = json::parse(d.body, nullptr, false);
  if (!body.is_discarded()) j["payload"] = std::move(body);
  return j;
}

Webhooks::Webhooks(asio::any_io_executor io, std::vector<Webhook> hooks,
                   const std::function<const char*(const char*)>& env, Store& store,
                   asio::thread_pool* store_pool, std::string owner)
    : io_(io),
      hooks_(std::move(hooks)),
      http_(std::make_unique<net::HttpClient>(io, webhook_http(env))),
      store_(store),
      store_pool_(store_pool),
      owner_(std::move(owner)),
      wake_(io) {}

Webhooks::~Webhooks() = default;

void Webhooks::scan_finished(const ScanRecord& scan, json payload) {
  std::string event = "scan." + std::string(scan_status_name(scan.status));
  payload["event"] = event;
  std::string body = payload.dump();
  std::vector<DeliveryRecord> rows;
  for (auto& h : hooks_) {
    if (!h.events.empty() && std::find(h.events.begin(), h.events.end(), event) == h.events.end())
      continue;
    DeliveryRecord d;
    d.event_key = scan.id + "/" + event;
    d.event = event;
    d.url = h.url;
    d.body = body;
    d.created_at_ms = now_ms();
    rows.push_back(std::move(d));
  }
  if (!rows.empty()) asio::co_spawn(io_, record(std::move(rows)), asio::detached);
}

awaitable<void> Webhooks::record(std::vector<DeliveryRecord> rows) {
  for (auto& d : rows) {
    auto added = co_await on_store(store_pool_, [&] { return store_.enqueue_delivery(d); });
    if (!added)
      log::error("webhook=" + logged_url(d.url) + " " + d.event +
                 " not recorded: " + added.error().message);
  }
  wake_.cancel();
}

void Webhooks::stop() {
  stopping_ = true;
  wake_.cancel();
}

awaitable<void> Webhooks::run() {
  while (!stopping_) {
    auto claimed = co_await on_store(store_pool_, [&] {
      return store_.claim_deliveries(owner_, now_ms(), kClaimMs, kClaimBatch);
    });
    if (!claimed)
      log::warn("webhook deliveries not read: " + claimed.error().message);
    else
      for (auto& d : *claimed) asio::co_spawn(io_, attempt(std::move(d)), asio::detached);
    // A full batch may have more behind it: look again at once.
    if (claimed && claimed->size() == kClaimBatch) continue;
    // With no webhook configured, one pass ends what an earlier configuration left.
    if (hooks_.empty()) break;
    wake_.expires_after(kPoll);
    boost::system::error_code ec;
    co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

awaitable<void> Webhooks::wake_after(std::chrono::milliseconds delay) {
  asio::steady_timer t(io_, delay);
  boost::system::error_code ec;
  co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  if (!stopping_) wake_.cancel();
}

awaitable<void> Webhooks::attempt(DeliveryRecord d) {
  auto hook =
      std::find_if(hooks_.begin(), hooks_.end(), [&](const Webhook& h) { return h.url == d.url; });
  auto url = net::parse_url(d.url);
  std::string error;
  if (hook == hooks_.end())
    error = "no webhook with this URL is configured any more";
  else if (!url)
    error = "the URL does not parse";
  else {
    net::HttpRequest req{"POST",
                         *url,
                         {{"X-Bulwark-Signature", webhook_signature(hook->secret, d.body)}},
                         "",
                         0,
                         d.body,
                         "application/json"};
    auto r = co_await http_->fetch(std::move(req), 64 * 1024);
    if (!r)
      error = r.error().message;
    else if (r->status < 200 || r->status >= 300)
      error = "HTTP " + std::to_string(r->status);
  }
  ++d.attempts;
  d.updated_at_ms = now_ms();
  d.last_error = error;
  const bool last = hook == hooks_.end() || !url || d.attempts >= kMaxAttempts;
  std::chrono::milliseconds retry_in(200 << std::min(d.attempts, 16));
  if (error.empty()) {
    d.state = "delivered";
    ++delivered_;
  } else {
    log::warn("webhook=" + logged_url(d.url) + " attempt " + std::to_string(d.attempts) +
              " failed: " + error);
    if (last) {
      d.state = "dead";
      ++failed_;
    } else {
      d.next_at_ms = d.updated_at_ms + retry_in.count();
    }
  }
  auto done = co_await on_store(store_pool_, [&] {
    return store_.finish_delivery(d, owner_, d.updated_at_ms - kKeepEndedMs);
  });
  if (!done)
    log::error("webhook=" + logged_url(d.url) + " attempt not recorded: " + done.error().message);
  if (d.state == "pending" && !stopping_) co_await wake_after(retry_in);
}

}  // namespace bw
