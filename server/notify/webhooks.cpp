#include "notify/webhooks.h"

#include "common/digest.h"
#include "common/log.h"
#include "net/http_client.h"

#include <openssl/hmac.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace bw {

namespace asio = boost::asio;
using asio::awaitable;

std::string webhook_signature(const std::string& secret, const std::string& body) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), md, &len);
  return "sha256=" + to_hex(md, len);
}

namespace {
net::HttpOptions webhook_http(const std::function<const char*(const char*)>& env) {
  net::HttpOptions o;
  o.proxy = net::ProxyConfig::from_env(env);
  return o;
}
}  // namespace

Webhooks::Webhooks(asio::any_io_executor io, std::vector<Webhook> hooks,
                   const std::function<const char*(const char*)>& env)
    : io_(io),
      hooks_(std::move(hooks)),
      http_(std::make_unique<net::HttpClient>(io, webhook_http(env))) {}

Webhooks::~Webhooks() = default;

void Webhooks::scan_finished(const ScanRecord& scan, nlohmann::json payload) {
  std::string event = "scan." + std::string(scan_status_name(scan.status));
  payload["event"] = event;
  std::string body = payload.dump();
  for (auto& h : hooks_) {
    if (!h.events.empty() && std::find(h.events.begin(), h.events.end(), event) == h.events.end())
      continue;
    asio::co_spawn(io_, deliver(h, body), [](std::exception_ptr) {});
  }
}

awaitable<void> Webhooks::deliver(Webhook hook, std::string body) {
  auto url = net::parse_url(hook.url);
  if (!url) {
    ++failed_;
    co_return;
  }
  for (int attempt = 1; attempt <= 5; ++attempt) {
    net::HttpRequest req{"POST",
                         *url,
                         {{"X-Bulwark-Signature", webhook_signature(hook.secret, body)}},
                         "",
                         0,
                         body,
                         "application/json"};
    auto r = co_await http_->fetch(std::move(req), 64 * 1024);
    if (r && r->status >= 200 && r->status < 300) {
      ++delivered_;
      co_return;
    }
    log::warn("webhook=" + url->origin() + " attempt " + std::to_string(attempt) +
              " failed: " + (r ? "HTTP " + std::to_string(r->status) : r.error().message));
    asio::steady_timer t(io_, std::chrono::milliseconds(200 << attempt));
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  ++failed_;
}

}  // namespace bw
