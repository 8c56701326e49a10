#include "common/digest.h"
#include "common/log.h"
#include "common/on_pool.h"
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

// Remote operations over the transport: manifests and indexes with platform choice, verified
// and resumable blob streams, catalog and tag listing with Link pagination.
namespace bw {

namespace asio = boost::asio;
using asio::awaitable;
using net::HttpRequest;
using net::HttpResponse;
using Clock = std::chrono::steady_clock;

using detail::status_error;

std::string next_link(std::string_view h) {
  // Link: <url>; rel="next", <url2>; rel="prev"
  std::size_t pos = 0;
  while ((pos = h.find('<', pos)) != std::string_view::npos) {
    auto close = h.find('>', pos);
    if (close == std::string_view::npos) break;
    std::string_view url = h.substr(pos + 1, close - pos - 1);
    auto end = h.find('<', close);
    std::string_view params =
        h.substr(close + 1, end == std::string_view::npos ? end : end - close - 1);
    if (params.find("rel=\"next\"") != std::string_view::npos ||
        params.find("rel=next") != std::string_view::npos)
      return std::string(url);
    pos = close;
  }
  return {};
}

awaitable<Result<std::string>> RegistryClient::fetch_manifest(const std::string& endpoint,
                                                              const ImageRef& ref,
                                                              const std::string& reference,
                                                              std::string& content_type) {
  Call c;
  c.registry = endpoint;
  c.scope = "repository:" + ref.repository + ":pull";
  c.target = "/v2/" + ref.repository + "/manifests/" + reference;
  c.headers = {{"Accept", std::string(media_type::kManifestAccept)}};
  c.body_limit = options_.max_manifest_bytes;
  c.deadline = Clock::now() + options_.request_timeout;
  ++stats_.manifest_fetches;
  auto r = co_await call(c);
  if (!r) {
    if (r.error().code == Errc::payload_too_large)
      co_return make_error(Errc::unsupported_media_type,
                           "manifest " + reference + " exceeds " +
                               std::to_string(options_.max_manifest_bytes) + " bytes");
    co_return r.error();
  }
  if (r->status != 200)
    co_return status_error(*r, endpoint, ref.repository, Errc::manifest_unknown,
                           "manifest " + reference);
  std::string digest = sha256_digest(r->body);
  if (reference.starts_with("sha256:") && digest != reference)
    co_return make_error(Errc::digest_mismatch,
                         "manifest " + reference + " from " + endpoint + " has digest " + digest);
  std::string claimed = r->header("Docker-Content-Digest");
  if (claimed.starts_with("sha256:") && claimed != digest)
    co_return make_error(Errc::digest_mismatch, "manifest from " + endpoint + " claims digest " +
                                                    claimed.substr(0, 80) + " but hashes to " +
                                                    digest);
  content_type = r->header("Content-Type");
  co_return std::move(r->body);
}

awaitable<Result<ResolvedImage>> RegistryClient::resolve(const ImageRef& ref,
                                                         const Platform& platform,
                                                         const KnownImage& known) {
  if (auto allowed = check_allowed(ref); !allowed) co_return allowed.error();
  std::vector<std::string> endpoints;
  if (auto m = options_.mirrors.find(ref.registry); m != options_.mirrors.end())
    for (auto& mirror : m->second) endpoints.push_back(normalize_registry(mirror));
  endpoints.push_back(ref.registry);
  Result<ResolvedImage> last = make_error(Errc::internal, "no endpoint");
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    last = co_await resolve_from(endpoints[i], ref, platform, known);
    if (last || i + 1 == endpoints.size()) break;
    log::info("mirror=" + endpoints[i] + " failed for " + ref.canonical() + " (" +
              last.error().message + "); trying next");
  }
  co_return last;
}

awaitable<Result<ResolvedImage>> RegistryClient::resolve_from(const std::string& endpoint,
                                                              const ImageRef& ref,
                                                              const Platform& platform,
                                                              const KnownImage& known) {
  ResolvedImage out;
  out.ref = ref;
  out.endpoint = endpoint;
  std::string reference = ref.manifest_reference();
  for (int depth = 0;; ++depth) {
    std::string content_type;
    auto body = co_await fetch_manifest(endpoint, ref, reference, content_type);
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
  if (known && co_await known(out)) {
    out.known = true;
    co_return out;
  }
  const Descriptor& cfg = out.manifest.config;
  if (cfg.size < 0 || static_cast<std::uint64_t>(cfg.size) > options_.max_config_bytes)
    co_return make_error(Errc::unsupported_media_type,
                         "image config of " + std::to_string(cfg.size) +
                             " bytes exceeds the limit of " +
                             std::to_string(options_.max_config_bytes));
  std::string config;
  auto r = co_await stream_blob(endpoint, ref.repository, cfg,
                                [&config](std::string chunk) -> awaitable<bool> {
                                  config += chunk;
                                  co_return true;
                                });
  if (!r) co_return r.error();
  out.config_body = std::move(config);
  // Up to max_config_bytes of JSON parsed and checked field by field: off the io thread.
  auto named = co_await on_pool(cpu_pool_, [&] { return config_platform(out.config_body); });
  if (!named) co_return named.error();
  out.platform = std::move(*named);
  co_return out;
}

awaitable<Result<std::string>> RegistryClient::manifest_digest(const ImageRef& ref) {
  if (auto allowed = check_allowed(ref); !allowed) co_return allowed.error();
  Call c;
  c.registry = ref.registry;
  c.scope = "repository:" + ref.repository + ":pull";
  c.target = "/v2/" + ref.repository + "/manifests/" + ref.manifest_reference();
  c.headers = {{"Accept", std::string(media_type::kManifestAccept)}};
  c.deadline = Clock::now() + options_.request_timeout;
  c.prepare = [](net::HttpRequest& req) { req.method = "HEAD"; };
  ++stats_.manifest_heads;
  auto r = co_await call(c);
  if (!r) co_return r.error();
  if (r->status != 200)
    co_return status_error(*r, ref.registry, ref.repository, Errc::manifest_unknown,
                           "manifest " + ref.manifest_reference());
  std::string claimed = r->header("Docker-Content-Digest");
  if (claimed.starts_with("sha256:") && claimed.size() == 71) co_return claimed;
  std::string content_type;
  auto body = co_await fetch_manifest(ref.registry, ref, ref.manifest_reference(), content_type);
  if (!body) co_return body.error();
  co_return sha256_digest(*body);
}

awaitable<Result<std::pair<std::string, std::vector<Platform>>>> RegistryClient::platforms(
    const ImageRef& ref) {
  using Out = std::pair<std::string, std::vector<Platform>>;
  if (auto allowed = check_allowed(ref); !allowed) co_return allowed.error();
  std::string content_type;
  auto body = co_await fetch_manifest(ref.registry, ref, ref.manifest_reference(), content_type);
  if (!body) co_return body.error();
  auto m = parse_manifest(*body, content_type);
  if (!m) co_return m.error();
  if (m->kind == ManifestKind::image) {
    auto image = co_await resolve(ref, default_platform());
    if (!image) co_return image.error();
    co_return Out{"", {image->platform}};
  }
  Out out{sha256_digest(*body), {}};
  for (auto& d : platform_entries(*m))
    if (d.platform) out.second.push_back(*d.platform);
  if (out.second.empty()) co_return make_error(Errc::platform_not_found, "index names no platform");
  co_return out;
}

awaitable<Result<void>> RegistryClient::fetch_blob(const ResolvedImage& image, const Descriptor& d,
                                                   BlobSink sink) {
  if (auto allowed = check_allowed(image.ref); !allowed) co_return allowed.error();
  co_return co_await stream_blob(image.endpoint, image.ref.repository, d, std::move(sink));
}

awaitable<Result<void>> RegistryClient::stream_blob(const std::string& endpoint,
                                                    const std::string& repository,
                                                    const Descriptor& d, BlobSink sink) {
  using namespace asio::experimental::awaitable_operators;
  if (!d.digest.starts_with("sha256:"))
    co_return make_error(Errc::unsupported_media_type, "only sha256 blob digests are supported");
  ++stats_.blob_fetches;
  Sha256 hash;
  const std::uint64_t expected = static_cast<std::uint64_t>(d.size);
  std::uint64_t delivered = 0;  // bytes hashed and handed to the sink, across attempts
  std::uint64_t skip = 0;       // bytes of this attempt's body already delivered before
  bool oversize = false;
  Call c;
  c.registry = endpoint;
  c.scope = "repository:" + repository + ":pull";
  c.target = "/v2/" + repository + "/blobs/" + d.digest;
  c.kind = "blob";
  c.deadline = Clock::now() + options_.blob_timeout;
  c.prepare = [&](HttpRequest& req) { req.range_from = delivered; };
  c.on_head = [&](const HttpResponse& head) -> Result<void> {
    skip = 0;
    if (head.status == 206) {
      // "bytes START-END/TOTAL" must start where we stopped.
      std::string range = head.header("Content-Range");
      auto space = range.find(' ');
      auto dash = range.find('-');
      if (space == std::string::npos || dash == std::string::npos ||
          range.substr(space + 1, dash - space - 1) != std::to_string(delivered))
        return make_error(Errc::registry_error,
                          "blob " + d.digest + " resumed at the wrong offset");
    } else if (delivered > 0) {
      skip = delivered;  // the server ignored Range: drop what was already delivered
    }
    return {};
  };
  c.on_chunk = [&](std::string chunk) -> awaitable<bool> {
    if (skip > 0) {
      std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(skip, chunk.size()));
      chunk.erase(0, k);
      skip -= k;
      if (chunk.empty()) co_return true;
    }
    delivered += chunk.size();
    stats_.blob_bytes += chunk.size();
    stats_.bytes.add({endpoint}, static_cast<double>(chunk.size()));
    if (delivered > expected) {
      oversize = true;
      co_return false;
    }
    hash.update(chunk);
    co_return co_await sink(std::move(chunk));
  };
  asio::steady_timer total(ex_, options_.blob_timeout);
  auto raced = co_await (call(c) || total.async_wait(asio::use_awaitable));
  if (raced.index() == 1)
    co_return make_error(Errc::timeout, "blob " + d.digest + " took longer than " +
                                            std::to_string(options_.blob_timeout.count()) + " ms");
  auto& r = std::get<0>(raced);
  if (oversize)
    co_return make_error(Errc::digest_mismatch, "blob " + d.digest + " is larger than the " +
                                                    std::to_string(expected) +
                                                    " bytes its descriptor declares");
  if (!r) co_return r.error();
  if (r->status != 200 && r->status != 206)
    co_return status_error(*r, endpoint, repository, Errc::blob_unknown, "blob " + d.digest);
  if (delivered != expected)
    co_return make_error(Errc::digest_mismatch, "blob " + d.digest + " delivered " +
                                                    std::to_string(delivered) + " of " +
                                                    std::to_string(expected) + " bytes");
  std::string got = hash.finish();
  if (got != d.digest)
    co_return make_error(Errc::digest_mismatch, "blob " + d.digest + " hashes to " + got);
  co_return Result<void>{};
}

awaitable<Result<std::vector<std::string>>> RegistryClient::list(const std::string& registry,
                                                                 const std::string& scope,
                                                                 std::string target,
                                                                 const char* field) {
  std::vector<std::string> out;
  for (std::size_t page = 0; page < options_.max_list_pages; ++page) {
    Call c;
    c.registry = registry;
    c.scope = scope;
    c.target = target;
    c.kind = field;
    c.body_limit = 8 << 20;
    c.deadline = Clock::now() + options_.request_timeout;
    auto r = co_await call(c);
    if (!r) co_return r.error();
    if (r->status != 200) co_return status_error(*r, registry, "", Errc::not_found, field);
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    if (!j.is_object())
      co_return make_error(Errc::registry_error, std::string(field) + " list is not JSON");
    if (auto it = j.find(field); it != j.end() && it->is_array())
      for (auto& v : *it)
        if (v.is_string()) out.push_back(v.get<std::string>());
    std::string next = next_link(r->header("Link"));
    if (next.empty()) co_return out;
    // Only the path and query of the next page are used: it stays on this registry.
    auto u = boost::urls::parse_uri_reference(next);
    if (!u || !u->encoded_path().starts_with("/v2/"))
      co_return make_error(Errc::registry_error, "invalid Link header from " + registry);
    target = std::string(u->encoded_resource());
  }
  co_return make_error(Errc::registry_error,
                       std::string(field) + " of " + registry + " has more than " +
                           std::to_string(options_.max_list_pages) + " pages");
}

awaitable<Result<std::vector<std::string>>> RegistryClient::list_repositories(
    const std::string& registry, std::size_t page_size) {
  std::string reg = normalize_registry(registry);
  if (!registry_allowed(options_.allowed, reg))
    co_return make_error(Errc::registry_not_allowed,
                         "registry " + reg + " is not in the allowed list of this server");
  co_return co_await list(reg, "registry:catalog:*", "/v2/_catalog?n=" + std::to_string(page_size),
                          "repositories");
}

awaitable<Result<std::vector<std::string>>> RegistryClient::list_tags(const ImageRef& repo,
                                                                      std::size_t page_size) {
  if (auto allowed = check_allowed(repo); !allowed) co_return allowed.error();
  co_return co_await list(repo.registry, "repository:" + repo.repository + ":pull",
                          "/v2/" + repo.repository + "/tags/list?n=" + std::to_string(page_size),
                          "tags");
}

}  // namespace bw
