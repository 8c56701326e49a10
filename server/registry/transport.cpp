#include "common/digest.h"
#include "common/log.h"
#include "net/http_client.h"
#include "registry/challenge.h"
#include "registry/detail/async_semaphore.h"
#include "registry/detail/call.h"
#include "registry/detail/errors.h"
#include "registry/registry.h"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <ctime>

// The registry transport: allowlist, scheme probe, auth challenges and the token cache,
// per-registry concurrency, and retries with backoff and Retry-After. The remote operations
// (remote.cpp) send every request through call().
namespace bw {

namespace asio = boost::asio;
using asio::awaitable;
using net::HttpRequest;
using net::HttpResponse;
using Clock = std::chrono::steady_clock;
using detail::status_error;

namespace {

std::string base64(std::string_view plain) {
  namespace b64 = boost::beast::detail::base64;
  std::string enc(b64::encoded_size(plain.size()), '\0');
  enc.resize(b64::encode(enc.data(), plain.data(), plain.size()));
  return enc;
}

bool host_matches(std::string_view pattern, const std::string& registry) {
  if (pattern == "*") return true;
  std::string pat = normalize_registry(pattern);
  bool bracketed = pat.starts_with('[');
  bool pattern_has_port = bracketed ? pat.find("]:") != std::string::npos
                                    : std::count(pat.begin(), pat.end(), ':') == 1;
  // "host:port" matches that port only; "host" any port.
  if (pattern_has_port) return pat == registry;
  std::string host = registry_hostname(registry);
  if (pat.starts_with("*.")) {
    std::string suffix = pat.substr(1);
    return host.size() > suffix.size() && host.ends_with(suffix);
  }
  return (bracketed ? registry_hostname(pat) : pat) == host;
}

bool retryable_status(int s) {
  return s == 500 || s == 502 || s == 503 || s == 504;
}

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
      out += static_cast<char>(c);
    else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

std::string authority_of(const net::Url& u) {
  bool v6 = u.host.find(':') != std::string::npos;
  return (v6 ? "[" + u.host + "]" : u.host) + ":" + u.port;
}

}  // namespace

bool address_permitted(const asio::ip::address& a, bool allow_loopback, bool allow_link_local) {
  if (a.is_unspecified() || a.is_multicast()) return false;
  if (a.is_loopback()) return allow_loopback;
  if (a.is_v6()) {
    auto v6 = a.to_v6();
    if (v6.is_v4_mapped())
      return address_permitted(asio::ip::make_address_v4(asio::ip::v4_mapped, v6), allow_loopback,
                               allow_link_local);
    // fd00:ec2::254 is AWS's IPv6 metadata service.
    if (v6.is_link_local() || a == asio::ip::make_address("fd00:ec2::254")) return allow_link_local;
    return true;
  }
  auto bytes = a.to_v4().to_bytes();
  // 169.254.0.0/16 holds the cloud metadata services; 100.100.100.200 is Alibaba's.
  if ((bytes[0] == 169 && bytes[1] == 254) || a == asio::ip::make_address("100.100.100.200"))
    return allow_link_local;
  return true;
}

bool registry_allowed(const std::vector<std::string>& patterns, std::string_view registry) {
  std::string reg = normalize_registry(registry);
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](auto& p) { return host_matches(p, reg); });
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view v,
                                                      std::chrono::system_clock::time_point now) {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  if (v.empty()) return std::nullopt;
  if (std::all_of(v.begin(), v.end(), ::isdigit)) {
    if (v.size() > 9) return std::chrono::seconds(999'999'999);
    return std::chrono::seconds(std::stol(std::string(v)));
  }
  std::tm tm{};
  std::string s(v);
  if (!strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm)) return std::nullopt;
  auto when = std::chrono::system_clock::from_time_t(timegm(&tm));
  auto delta = std::chrono::duration_cast<std::chrono::seconds>(when - now);
  return std::max(delta, std::chrono::seconds(0));
}

RegistryClient::RegistryClient(asio::any_io_executor ex, RegistryOptions options)
    : ex_(ex),
      options_(std::move(options)),
      credentials_(
          [&] {
            std::map<std::string, Credentials> configured;
            for (auto& [reg, cfg] : options_.hosts)
              if (!cfg.username.empty())
                configured[normalize_registry(reg)] = {cfg.username, cfg.password, ""};
            return configured;
          }(),
          options_.env) {
  net::HttpOptions http;
  http.connect_timeout = options_.connect_timeout;
  http.io_timeout = options_.io_timeout;
  http.max_redirects = options_.max_redirects;
  for (auto& [reg, cfg] : options_.hosts)
    if (!cfg.ca_file.empty())
      http.ca_files[reg == kDockerHub ? std::string(kDockerHubHost) : registry_hostname(reg)] =
          cfg.ca_file;
  if (options_.resolver) http.resolver = options_.resolver;
  // Every host the server may contact: what callers may name, the configured registries and
  // their mirrors and token realms; redirects may also go to the storage hosts.
  std::vector<std::string> contactable = options_.allowed;
  for (auto& [reg, cfg] : options_.hosts) {
    contactable.push_back(reg == kDockerHub ? std::string(kDockerHubHost) : reg);
    contactable.insert(contactable.end(), cfg.token_realms.begin(), cfg.token_realms.end());
  }
  for (auto& [reg, list] : options_.mirrors)
    contactable.insert(contactable.end(), list.begin(), list.end());
  if (registry_allowed(options_.allowed, std::string(kDockerHub)))
    for (auto h : {kDockerHubHost, std::string_view("auth.docker.io")}) contactable.emplace_back(h);
  http.url_allowed = [contactable, redirects = options_.redirect_hosts](
                         const net::Url& url, bool redirect) -> Result<void> {
    std::string where = authority_of(url);
    if (registry_allowed(contactable, where) || (redirect && registry_allowed(redirects, where)))
      return {};
    return make_error(Errc::registry_not_allowed,
                      std::string(redirect ? "redirect" : "request") + " to " + url.host +
                          " refused: the host is not in this server's allowed registries");
  };
  http.address_allowed = [loopback = options_.allow_loopback,
                          link_local = options_.allow_link_local](const asio::ip::address& a) {
    return address_permitted(a, loopback, link_local);
  };
  http.proxy = net::ProxyConfig::from_env(options_.env);
  // As many kept-alive connections as requests may be in flight to one registry: fewer, and a
  // registry pass (eight repositories at once) closes and opens a connection per request.
  http.max_idle_per_origin =
      std::max(http.max_idle_per_origin, options_.max_concurrent_per_registry);
  http_ = std::make_unique<net::HttpClient>(ex_, std::move(http));
}

RegistryClient::~RegistryClient() = default;

bool RegistryClient::realm_may_receive_credentials(const std::string& registry,
                                                   const net::Url& realm) const {
  std::string where = authority_of(realm);
  std::string host = registry == kDockerHub ? std::string(kDockerHubHost) : registry;
  // The registry's own host and port; a registry named without a port is at the default port
  // of the realm's scheme.
  auto own = net::parse_url(realm.scheme + "://" + host + "/");
  if (own && own->host == realm.host && own->port == realm.port) return true;
  if (registry == kDockerHub && where == "auth.docker.io:443") return true;
  auto listed = [&](const std::vector<std::string>& realms) {
    for (auto& r : realms)
      if (normalize_registry(r) == normalize_registry(where) ||
          (normalize_registry(r) + ":443" == where && realm.scheme == "https"))
        return true;
    return false;
  };
  if (listed(options_.token_realms)) return true;
  auto cfg = options_.hosts.find(registry);
  return cfg != options_.hosts.end() && listed(cfg->second.token_realms);
}

Result<void> RegistryClient::check_allowed(const ImageRef& ref) const {
  if (registry_allowed(options_.allowed, ref.registry)) return {};
  return make_error(Errc::registry_not_allowed,
                    "registry " + ref.registry + " is not in the allowed list of this server");
}

std::size_t RegistryClient::max_concurrent_per_registry() const {
  return std::max<std::size_t>(1, options_.max_concurrent_per_registry);
}

detail::AsyncSemaphore& RegistryClient::limiter(const std::string& registry) {
  auto& slot = limiters_[registry];
  if (!slot) slot = std::make_unique<detail::AsyncSemaphore>(ex_, max_concurrent_per_registry());
  return *slot;
}

awaitable<void> RegistryClient::sleep(std::chrono::milliseconds d) {
  asio::steady_timer t(ex_, d);
  boost::system::error_code ec;
  co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

std::chrono::milliseconds RegistryClient::backoff(int attempt) {
  std::chrono::milliseconds d = options_.backoff_base * (1LL << std::min(attempt - 1, 16));
  d = std::min(d, options_.backoff_max);
  // Jitter in [d/2, d] so that many scans retrying one registry spread out.
  std::uniform_int_distribution<long long> dist(d.count() / 2, std::max<long long>(d.count(), 1));
  return std::chrono::milliseconds(dist(jitter_));
}

// HTTPS first; plain HTTP only for loopback registries and those marked insecure, as Docker does.
awaitable<Result<std::string>> RegistryClient::base_url(const std::string& registry) {
  if (auto it = base_urls_.find(registry); it != base_urls_.end()) co_return it->second;
  std::string host = registry == kDockerHub ? std::string(kDockerHubHost) : registry;
  auto cfg = options_.hosts.find(registry);
  bool may_plain =
      is_loopback_registry(registry) || (cfg != options_.hosts.end() && cfg->second.insecure);
  std::optional<Error> first_error;
  for (std::string scheme : {"https", "http"}) {
    if (scheme == "http" && !may_plain) break;
    auto url = net::parse_url(scheme + "://" + host + "/v2/");
    if (!url) co_return url.error();
    // A registry answers /v2/ with 200, or 401 and a challenge; anything else (a TLS port's
    // "plain HTTP sent to HTTPS server") means this scheme does not reach a registry.
    auto r = co_await http_->fetch(HttpRequest{"GET", *url, {}, "", 0, "", ""}, 64 * 1024);
    if (r && r->status != 200 && r->status != 401)
      r = make_error(Errc::registry_error, "GET " + url->str() + " answered HTTP " +
                                               std::to_string(r->status) +
                                               ": not a registry API endpoint");
    if (r) {
      std::string base = scheme + "://" + host;
      base_urls_[registry] = base;
      co_return base;
    }
    if (!first_error) first_error = r.error();
    // A server that speaks TLS with a certificate we do not trust is not a plain-HTTP server:
    // falling back would hide the real problem (and talk plain text to a TLS port).
    if (r.error().message.find("certificate verify failed") != std::string::npos) break;
  }
  // Kept as they are: refusals by policy, an untrusted certificate, and the configured proxy's
  // own failures (they say nothing of the registry's ports, and the operator must act on them).
  if (first_error->code == Errc::registry_not_allowed ||
      first_error->message.find("certificate verify failed") != std::string::npos ||
      first_error->message.find("proxy ") != std::string::npos)
    co_return *first_error;
  // Refused, closed, timed out, not a registry: one answer, so that scans cannot map ports.
  log::debug("registry=" + registry + " unreachable: " + first_error->message);
  co_return make_error(Errc::registry_unreachable, "registry " + registry + " is unreachable");
}

Result<std::string> RegistryClient::authorization(const std::string& registry,
                                                  const std::string& scope) {
  if (auto it = tokens_.find({registry, scope}); it != tokens_.end()) {
    if (Clock::now() < it->second.expires) return "Bearer " + it->second.value;
    tokens_.erase(it);
  }
  if (basic_auth_.count(registry)) {
    auto creds = credentials_.lookup(registry);
    if (!creds) return creds.error();
    if (*creds && !(*creds)->username.empty())
      return "Basic " + base64((*creds)->username + ":" + (*creds)->password);
  }
  return std::string();
}

std::string RegistryClient::realm_refusal(const std::string& registry, const net::Url& realm,
                                          const net::Url& asked, const net::Url& answered) const {
  if (realm_may_receive_credentials(registry, realm)) return {};
  boost::system::error_code ec;
  auto ip = boost::asio::ip::make_address(
      realm.host.starts_with("[") ? realm.host.substr(1, realm.host.size() - 2) : realm.host, ec);
  bool link_local =
      !ec && ((ip.is_v4() && (ip.to_v4().to_uint() >> 16) == 0xA9FE) ||
              (ip.is_v6() && (ip.to_v6().is_link_local() ||
                              ip.to_v6() == boost::asio::ip::make_address_v6("fd00:ec2::254"))));
  if (link_local || realm.host == "metadata.google.internal" || realm.host == "metadata")
    return "a link-local or cloud metadata address";
  if (answered.scheme != asked.scheme || authority_of(answered) != authority_of(asked))
    return "the challenge came from " + authority_of(answered) + ", after a redirect";
  // The registry's own host on another port: GitLab's layout (registry :5050, realm :443).
  if (realm.host == asked.host) return {};
  if (asked.scheme == "https" && realm.scheme == "https") return {};
  return realm.scheme != "https" ? "another host, over plain HTTP"
                                 : "another host, named by a registry reached over plain HTTP";
}

awaitable<Result<void>> RegistryClient::authenticate(const std::string& registry,
                                                     const std::string& scope,
                                                     const std::string& header,
                                                     const net::Url& asked,
                                                     const net::Url& answered) {
  auto challenges = parse_challenges(header);
  auto creds = credentials_.lookup(registry);
  if (!creds) co_return creds.error();
  for (auto& ch : challenges) {
    if (ch.scheme == "basic") {
      if (!*creds || (*creds)->username.empty())
        co_return make_error(Errc::registry_auth_failed,
                             registry + " requires credentials and none are configured");
      basic_auth_[registry] = true;
      co_return Result<void>{};
    }
    if (ch.scheme != "bearer") continue;
    auto realm = net::parse_url(ch.params["realm"]);
    if (!realm)
      co_return make_error(Errc::registry_auth_failed, registry + " named an invalid token realm");
    // As docker, containerd and skopeo: the registry's credentials go to the realm it names
    // (realm_refusal says when not); otherwise the token is asked for anonymously, and a refusal
    // then says why the credentials stayed home.
    std::string refusal = *creds ? realm_refusal(registry, *realm, asked, answered) : "";
    if (!refusal.empty()) {
      std::string where = realm->scheme + "://" + authority_of(*realm);
      withheld_[registry] =
          "the credentials for " + registry + " were not sent to its token realm " + where + " (" +
          refusal + "); allow it with registries.hosts[\"" + registry + "\"].token_realms [\"" +
          authority_of(*realm) + "\"] (the CLI: --token-realm " + authority_of(*realm) +
          " or BULWARK_TOKEN_REALMS)";
      log::warn("registry=" + registry + " " + withheld_[registry] + "; asking anonymously");
    } else {
      withheld_.erase(registry);
    }
    bool send = *creds && refusal.empty();
    std::string service = ch.params.count("service") ? ch.params["service"] : "";
    std::string want_scope = ch.params.count("scope") && scope.empty() ? ch.params["scope"] : scope;
    HttpRequest req{"GET", *realm, {}, "", 0, "", ""};
    if (send && !(*creds)->identity_token.empty()) {
      // docker login with a token: OAuth2 refresh-token grant.
      req.method = "POST";
      req.content_type = "application/x-www-form-urlencoded";
      req.body = "grant_type=refresh_token&client_id=bulwark&service=" + url_encode(service) +
                 "&scope=" + url_encode(want_scope) +
                 "&refresh_token=" + url_encode((*creds)->identity_token);
    } else {
      std::string sep = realm->target.find('?') == std::string::npos ? "?" : "&";
      if (!service.empty()) {
        realm->target += sep + "service=" + url_encode(service);
        sep = "&";
      }
      // Several scopes (a mount's pull of the source with the push) go as one scope parameter
      // each, as docker's token spec has them.
      for (std::size_t at = 0; at < want_scope.size();) {
        std::size_t end = std::min(want_scope.find(' ', at), want_scope.size());
        if (end > at) realm->target += sep + "scope=" + url_encode(want_scope.substr(at, end - at));
        sep = "&";
        at = end + 1;
      }
      req.url = *realm;
      if (send)
        req.authorization = "Basic " + base64((*creds)->username + ":" + (*creds)->password);
    }
    ++stats_.token_fetches;
    stats_.requests.add({registry, "token"});
    auto token_start = Clock::now();
    auto r = co_await http_->fetch(std::move(req), 1 << 20);
    stats_.duration.observe({"token"},
                            std::chrono::duration<double>(Clock::now() - token_start).count());
    if (!r || r->status != 200)
      stats_.errors.add(
          {registry, "token",
           r ? "http_" + std::to_string(r->status) : std::string(errc_name(r.error().code))});
    if (!r)
      co_return make_error(Errc::registry_auth_failed,
                           "token service of " + registry + ": " + r.error().message);
    if (r->status == 401 || r->status == 403)
      co_return make_error(Errc::registry_auth_failed,
                           "token service of " + registry + " refused the " +
                               (send ? "credentials" : "anonymous request") + " (HTTP " +
                               std::to_string(r->status) + ")" +
                               (refusal.empty() ? "" : ": " + withheld_[registry]));
    if (r->status != 200)
      co_return make_error(
          Errc::registry_auth_failed,
          "token service of " + registry + " answered HTTP " + std::to_string(r->status));
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    std::string token;
    if (j.is_object()) {
      if (j.contains("token") && j["token"].is_string())
        token = j["token"];
      else if (j.contains("access_token") && j["access_token"].is_string())
        token = j["access_token"];
    }
    if (token.empty())
      co_return make_error(Errc::registry_auth_failed,
                           "token service of " + registry + " sent no token");
    // It is sent with every request: a token service must not make them absurd.
    if (token.size() > 64 * 1024 ||
        std::any_of(token.begin(), token.end(), [](char c) { return c < 0x21 || c > 0x7e; }))
      co_return make_error(Errc::registry_auth_failed,
                           "token service of " + registry + " sent an unusable token");
    long long expires = 60;
    if (j.contains("expires_in") && j["expires_in"].is_number_integer())
      expires = std::max<long long>(60, j["expires_in"].get<long long>());
    // Renew a little early so a token does not lapse between check and use.
    tokens_[{registry, scope}] = Token{token, Clock::now() + std::chrono::seconds(expires - 5)};
    co_return Result<void>{};
  }
  co_return make_error(Errc::registry_auth_failed,
                       registry + " asked for an unsupported authentication scheme");
}

awaitable<Result<HttpResponse>> RegistryClient::call(Call& c) {
  auto start = Clock::now();
  auto r = co_await call_with_retries(c);
  stats_.duration.observe({c.kind}, std::chrono::duration<double>(Clock::now() - start).count());
  if (!r)
    stats_.errors.add({c.registry, c.kind, std::string(errc_name(r.error().code))});
  else if (r->status >= 400)
    stats_.errors.add({c.registry, c.kind, "http_" + std::to_string(r->status)});
  co_return r;
}

awaitable<Result<HttpResponse>> RegistryClient::call_with_retries(Call& c) {
  auto permit = co_await limiter(c.registry).acquire();
  auto base = co_await base_url(c.registry);
  if (!base) co_return base.error();
  auto url = net::parse_url(*base + c.target);
  if (!url) co_return url.error();
  bool authenticated = false;
  for (int attempt = 1;; ++attempt) {
    auto authz = authorization(c.registry, c.scope);
    if (!authz) co_return authz.error();
    HttpRequest req{"GET", *url, c.headers, *authz, 0, "", ""};
    if (c.prepare) c.prepare(req);
    stats_.requests.add({c.registry, c.kind});
    Result<HttpResponse> r = c.on_chunk
                                 ? co_await http_->stream(std::move(req), c.on_head, c.on_chunk)
                                 : co_await http_->fetch(std::move(req), c.body_limit);
    std::chrono::milliseconds wait{0};
    if (!r) {
      Errc code = r.error().code;
      if (code != Errc::registry_unreachable && code != Errc::timeout) co_return r;
      wait = backoff(attempt);
    } else if (r->status == 401 && !authenticated &&
               r->header("WWW-Authenticate").find("insufficient_scope") == std::string::npos) {
      tokens_.erase({c.registry, c.scope});
      auto a =
          co_await authenticate(c.registry, c.scope, r->header("WWW-Authenticate"), *url, r->url);
      if (!a) co_return a.error();
      authenticated = true;
      continue;
    } else if (r->status == 429 || (r->status == 503 && !r->header("Retry-After").empty())) {
      auto after = parse_retry_after(r->header("Retry-After"), std::chrono::system_clock::now());
      wait =
          after ? std::chrono::duration_cast<std::chrono::milliseconds>(*after) : backoff(attempt);
      if (wait > options_.max_retry_after) co_return r;
    } else if (retryable_status(r->status)) {
      wait = backoff(attempt);
    } else {
      // Refused after an anonymous token: say why the credentials were not used.
      if ((r->status == 401 || r->status == 403) && authenticated)
        if (auto w = withheld_.find(c.registry); w != withheld_.end())
          co_return make_error(Errc::registry_auth_failed,
                               c.registry + " refused the anonymous token (HTTP " +
                                   std::to_string(r->status) + "): " + w->second);
      co_return r;
    }
    if (attempt >= options_.max_attempts || Clock::now() + wait > c.deadline) co_return r;
    ++stats_.retries;
    log::debug("registry=" + c.registry + " retry " + std::to_string(attempt) + " in " +
               std::to_string(wait.count()) +
               "ms: " + (r ? "HTTP " + std::to_string(r->status) : r.error().message));
    co_await sleep(wait);
  }
}

}  // namespace bw
