#include "registry/registry.h"

#include "common/digest.h"
#include "common/log.h"
#include "registry/detail/http_client.h"

#include <boost/beast/core/detail/base64.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>

namespace bw {

namespace asio = boost::asio;
using asio::awaitable;
using detail::HttpRequest;
using detail::HttpResponse;

namespace {

// The registry's own error text ({"errors":[{"code","message"}]}), if it sent one.
std::string registry_message(const HttpResponse& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("errors") && j["errors"].is_array() && !j["errors"].empty()) {
    auto& e = j["errors"][0];
    std::string code = e.value("code", "");
    std::string msg = e.value("message", "");
    return (code + (msg.empty() ? "" : ": " + msg)).substr(0, 300);
  }
  return {};
}

Error status_error(const HttpResponse& r, const ImageRef& ref, Errc not_found_code,
                   std::string_view what) {
  std::string detail = registry_message(r);
  std::string suffix =
      " (HTTP " + std::to_string(r.status) + (detail.empty() ? "" : ", " + detail) + ")";
  std::string repo = ref.registry + "/" + ref.repository;
  switch (r.status) {
    case 401:
      return make_error(Errc::registry_auth_failed, "not authorized to pull " + repo + suffix);
    case 403:
      return make_error(Errc::forbidden, "access to " + repo + " denied" + suffix);
    case 404:
      return make_error(not_found_code, std::string(what) + " not found in " + repo + suffix);
    case 429:
      return make_error(Errc::rate_limited, "rate limited by " + ref.registry + suffix);
    default:
      return make_error(Errc::registry_error,
                        std::string(what) + " request to " + ref.registry + " failed" + suffix);
  }
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

}  // namespace

bool registry_allowed(const std::vector<std::string>& patterns, std::string_view registry) {
  std::string reg = normalize_registry(registry);
  for (auto& p : patterns)
    if (host_matches(p, reg)) return true;
  return false;
}

RegistryClient::RegistryClient(asio::any_io_executor ex, RegistryOptions options)
    : options_(std::move(options)) {
  detail::HttpOptions http;
  http.connect_timeout = options_.connect_timeout;
  http.io_timeout = options_.io_timeout;
  http.max_redirects = options_.max_redirects;
  for (auto& [reg, cfg] : options_.hosts)
    if (!cfg.ca_file.empty())
      http.ca_files[reg == kDockerHub ? std::string(kDockerHubHost) : reg] = cfg.ca_file;
  http_ = std::make_unique<detail::HttpClient>(std::move(ex), std::move(http));
}

RegistryClient::~RegistryClient() = default;

Result<void> RegistryClient::check_allowed(const ImageRef& ref) const {
  if (registry_allowed(options_.allowed, ref.registry)) return {};
  return make_error(Errc::registry_not_allowed,
                    "registry " + ref.registry + " is not in the allowed list of this server");
}

std::string RegistryClient::authorization_for(const std::string& registry) const {
  auto it = options_.hosts.find(registry);
  if (it == options_.hosts.end() || it->second.username.empty()) return {};
  std::string plain = it->second.username + ":" + it->second.password;
  std::string enc(boost::beast::detail::base64::encoded_size(plain.size()), '\0');
  enc.resize(boost::beast::detail::base64::encode(enc.data(), plain.data(), plain.size()));
  return "Basic " + enc;
}

// HTTPS first; plain HTTP only for loopback registries and those marked insecure, as Docker does.
awaitable<Result<std::string>> RegistryClient::base_url(const std::string& registry) {
  if (auto it = base_urls_.find(registry); it != base_urls_.end()) co_return it->second;
  std::string host = registry == kDockerHub ? std::string(kDockerHubHost) : registry;
  auto cfg = options_.hosts.find(registry);
  bool may_plain =
      is_loopback_registry(registry) || (cfg != options_.hosts.end() && cfg->second.insecure);
  Error last;
  for (std::string scheme : {"https", "http"}) {
    if (scheme == "http" && !may_plain) break;
    auto url = detail::parse_url(scheme + "://" + host + "/v2/");
    if (!url) co_return url.error();
    auto r = co_await http_->fetch(HttpRequest{"GET", *url, {}, authorization_for(registry), 0},
                                   64 * 1024);
    if (r) {
      std::string base = scheme + "://" + host;
      base_urls_[registry] = base;
      co_return base;
    }
    last = r.error();
  }
  co_return last;
}

awaitable<Result<std::string>> RegistryClient::fetch_manifest(const ImageRef& ref,
                                                              const std::string& reference,
                                                              std::string& content_type) {
  auto base = co_await base_url(ref.registry);
  if (!base) co_return base.error();
  auto url = detail::parse_url(*base + "/v2/" + ref.repository + "/manifests/" + reference);
  if (!url) co_return url.error();
  HttpRequest req{"GET",
                  *url,
                  {{"Accept", std::string(media_type::kManifestAccept)}},
                  authorization_for(ref.registry),
                  0};
  ++stats_.manifest_fetches;
  auto r = co_await http_->fetch(std::move(req), options_.max_manifest_bytes);
  if (!r) {
    if (r.error().code == Errc::payload_too_large)
      co_return make_error(Errc::unsupported_media_type,
                           "manifest " + reference + " exceeds " +
                               std::to_string(options_.max_manifest_bytes) + " bytes");
    co_return r.error();
  }
  if (r->status != 200)
    co_return status_error(*r, ref, Errc::manifest_unknown, "manifest " + reference);
  std::string digest = sha256_digest(r->body);
  if (reference.starts_with("sha256:") && digest != reference)
    co_return make_error(Errc::digest_mismatch, "manifest " + reference + " from " + ref.registry +
                                                    " has digest " + digest);
  std::string claimed = r->header("Docker-Content-Digest");
  if (!claimed.empty() && claimed.starts_with("sha256:") && claimed != digest)
    co_return make_error(Errc::digest_mismatch, "manifest from " + ref.registry +
                                                    " claims digest " + claimed.substr(0, 80) +
                                                    " but hashes to " + digest);
  content_type = r->header("Content-Type");
  co_return std::move(r->body);
}

awaitable<Result<std::string>> RegistryClient::fetch_small_blob(const ImageRef& ref,
                                                                const Descriptor& d,
                                                                std::uint64_t limit) {
  if (d.size < 0 || static_cast<std::uint64_t>(d.size) > limit)
    co_return make_error(Errc::unsupported_media_type,
                         "blob " + d.digest + " of " + std::to_string(d.size) +
                             " bytes exceeds the limit of " + std::to_string(limit));
  std::string body;
  auto r = co_await fetch_blob(ref, d, [&body](std::string chunk) -> awaitable<bool> {
    body += chunk;
    co_return true;
  });
  if (!r) co_return r.error();
  co_return body;
}

awaitable<Result<ResolvedImage>> RegistryClient::resolve(const ImageRef& ref,
                                                         const Platform& platform) {
  if (auto allowed = check_allowed(ref); !allowed) co_return allowed.error();
  ResolvedImage out;
  out.ref = ref;
  std::string reference = ref.manifest_reference();
  for (int depth = 0;; ++depth) {
    std::string content_type;
    auto body = co_await fetch_manifest(ref, reference, content_type);
    if (!body) co_return body.error();
    auto m = parse_manifest(*body, content_type);
    if (!m) co_return m.error();
    std::string digest = sha256_digest(*body);
    if (m->kind == ManifestKind::image) {
      out.manifest_digest = digest;
      out.manifest = std::move(*m);
      out.manifest_body = std::move(*body);
      break;
    }
    if (depth >= options_.max_index_depth)
      co_return make_error(Errc::unsupported_media_type,
                           "index nesting deeper than " + std::to_string(options_.max_index_depth));
    if (out.index_digest.empty()) out.index_digest = digest;
    auto entry = select_platform(*m, platform);
    if (!entry) co_return entry.error();
    reference = entry->digest;
  }
  auto config = co_await fetch_small_blob(ref, out.manifest.config, options_.max_config_bytes);
  if (!config) co_return config.error();
  out.config_body = std::move(*config);
  auto cj = nlohmann::json::parse(out.config_body, nullptr, false);
  if (!cj.is_object())
    co_return make_error(Errc::unsupported_media_type,
                         "image config " + out.manifest.config.digest + " is not a JSON object");
  out.platform =
      Platform{cj.value("os", ""), cj.value("architecture", ""), cj.value("variant", "")};
  co_return out;
}

awaitable<Result<void>> RegistryClient::fetch_blob(const ImageRef& ref, const Descriptor& d,
                                                   BlobSink sink) {
  if (auto allowed = check_allowed(ref); !allowed) co_return allowed.error();
  if (!d.digest.starts_with("sha256:"))
    co_return make_error(Errc::unsupported_media_type, "only sha256 blob digests are supported");
  auto base = co_await base_url(ref.registry);
  if (!base) co_return base.error();
  auto url = detail::parse_url(*base + "/v2/" + ref.repository + "/blobs/" + d.digest);
  if (!url) co_return url.error();
  ++stats_.blob_fetches;
  Sha256 hash;
  std::uint64_t received = 0;
  const std::uint64_t expected = static_cast<std::uint64_t>(d.size);
  bool oversize = false;
  auto r = co_await http_->stream(HttpRequest{"GET", *url, {}, authorization_for(ref.registry), 0},
                                  [&](std::string chunk) -> awaitable<bool> {
                                    received += chunk.size();
                                    stats_.blob_bytes += chunk.size();
                                    if (received > expected) {
                                      oversize = true;
                                      co_return false;
                                    }
                                    hash.update(chunk);
                                    co_return co_await sink(std::move(chunk));
                                  });
  if (oversize)
    co_return make_error(Errc::digest_mismatch, "blob " + d.digest + " is larger than the " +
                                                    std::to_string(expected) +
                                                    " bytes its descriptor declares");
  if (!r) co_return r.error();
  if (r->status != 200) co_return status_error(*r, ref, Errc::blob_unknown, "blob " + d.digest);
  if (received != expected)
    co_return make_error(Errc::digest_mismatch, "blob " + d.digest + " delivered " +
                                                    std::to_string(received) + " of " +
                                                    std::to_string(expected) + " bytes");
  std::string got = hash.finish();
  if (got != d.digest)
    co_return make_error(Errc::digest_mismatch, "blob " + d.digest + " hashes to " + got);
  co_return Result<void>{};
}

}  // namespace bw
