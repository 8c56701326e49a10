#include "api/negotiate.h"

#include "common/digest.h"
#include "common/gzip.h"
#include "common/text.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <vector>

namespace bw {

namespace asio = boost::asio;

namespace {

std::string_view trimmed(std::string_view s) {
  auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

// Comma-separated header list items, trimmed.
std::vector<std::string_view> list_items(std::string_view header) {
  std::vector<std::string_view> out;
  while (!header.empty()) {
    auto comma = header.find(',');
    std::string_view item = trimmed(header.substr(0, comma));
    if (!item.empty()) out.push_back(item);
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return out;
}

bool compressible(std::string_view content_type) {
  return content_type.starts_with("application/json") || content_type.starts_with("text/") ||
         content_type.starts_with("application/javascript") ||
         content_type.starts_with("image/svg+xml") || content_type.starts_with("application/yaml");
}

const std::string* allowed_origin(const ApiRequest& req, const ApiOptions& options) {
  if (req.origin.empty()) return nullptr;
  for (auto& o : options.cors_origins)
    if (o == "*" || o == req.origin) return &req.origin;
  return nullptr;
}

void add_vary(ApiResponse& res, std::string_view what) {
  for (auto& [k, v] : res.headers)
    if (k == "Vary") {
      v += ", " + std::string(what);
      return;
    }
  res.headers.emplace_back("Vary", std::string(what));
}

}  // namespace

std::string etag_of(std::string_view body) {
  return "\"" + sha256_digest(body).substr(7, 32) + "\"";
}

bool if_none_match_matches(std::string_view header, std::string_view etag) {
  for (auto item : list_items(header)) {
    if (item == "*") return true;
    if (item.starts_with("W/")) item.remove_prefix(2);
    if (item == etag) return true;
  }
  return false;
}

bool if_match_matches(std::string_view header, std::string_view etag) {
  for (auto item : list_items(header)) {
    if (item == "*") return true;
    if (item.starts_with("W/")) continue;
    std::string tag(item);
    if (tag.size() > 6 && tag.ends_with("-gzip\"")) tag.erase(tag.size() - 6, 5);
    if (tag == etag) return true;
  }
  return false;
}

bool accepts_gzip(std::string_view accept_encoding) {
  for (auto item : list_items(accept_encoding)) {
    auto semi = item.find(';');
    std::string name = to_lower(trimmed(item.substr(0, semi)));
    if (name != "gzip" && name != "x-gzip" && name != "*") continue;
    if (semi == std::string_view::npos) return true;
    std::string params = to_lower(item.substr(semi + 1));
    auto q = params.find("q=");
    if (q == std::string::npos) return true;
    // q=0, q=0.0, q=0.000: refused.
    std::string_view value = trimmed(std::string_view(params).substr(q + 2));
    return value.find_first_not_of("0.") != std::string_view::npos;
  }
  return false;
}

ApiResponse preflight(const ApiRequest& req, const ApiOptions& options) {
  constexpr std::string_view kMethods = "GET, HEAD, POST, PUT, DELETE, OPTIONS";
  ApiResponse res{204, "", "text/plain", {{"Allow", std::string(kMethods)}}, {}, {}};
  if (req.origin.empty()) return res;
  const std::string* origin = allowed_origin(req, options);
  if (!origin) {
    res = error_response(make_error(
        Errc::forbidden, "origin " + req.origin.substr(0, 200) + " is not in api.cors_origins"));
    return res;
  }
  res.headers.emplace_back("Access-Control-Allow-Origin", *origin);
  res.headers.emplace_back("Access-Control-Allow-Methods", std::string(kMethods));
  res.headers.emplace_back("Access-Control-Allow-Headers",
                           "Authorization, Content-Type, If-None-Match, X-Request-Id");
  res.headers.emplace_back("Access-Control-Max-Age", "600");
  res.headers.emplace_back("Vary", "Origin");
  return res;
}

asio::awaitable<void> negotiate(const ApiRequest& req, ApiResponse& res, ApiContext& ctx) {
  const ApiOptions& options = ctx.config.api;
  if (const std::string* origin = allowed_origin(req, options)) {
    res.headers.emplace_back("Access-Control-Allow-Origin", *origin);
    res.headers.emplace_back("Access-Control-Expose-Headers", "ETag, Location, X-Request-Id");
    add_vary(res, "Origin");
  }
  const bool read = req.method == "GET" || req.method == "HEAD";
  if (!read || res.status != 200) co_return;

  const bool gzip = options.gzip_min_bytes > 0 && res.body.size() >= options.gzip_min_bytes &&
                    compressible(res.content_type) && accepts_gzip(req.accept_encoding);
  if (compressible(res.content_type)) add_vary(res, "Accept-Encoding");
  // A gzipped representation is a different one: its strong validator differs. A route that
  // knows its validator already (a cached view) set it.
  std::string etag;
  for (auto it = res.headers.begin(); it != res.headers.end(); ++it)
    if (it->first == "ETag") {
      etag = std::move(it->second);
      res.headers.erase(it);
      break;
    }
  if (etag.empty()) etag = etag_of(res.body);
  if (gzip) etag.insert(etag.size() - 1, "-gzip");
  res.headers.emplace_back("ETag", etag);
  res.headers.emplace_back("Cache-Control", "private, no-cache");
  if (!req.if_none_match.empty() && if_none_match_matches(req.if_none_match, etag)) {
    res.status = 304;
    res.body.clear();
    co_return;
  }
  if (gzip) {
    std::string packed;
    if (ctx.workers && res.body.size() >= (256u << 10))
      packed = co_await asio::co_spawn(
          *ctx.workers,
          [&body = res.body]() -> asio::awaitable<std::string> { co_return gzip_compress(body); },
          asio::use_awaitable);
    else
      packed = gzip_compress(res.body);
    if (!packed.empty()) {
      res.body = std::move(packed);
      res.headers.emplace_back("Content-Encoding", "gzip");
    } else {
      // Compression failed: send the identity body, with its own validator.
      for (auto& [k, v] : res.headers)
        if (k == "ETag") v = etag_of(res.body);
    }
  }
  if (req.method == "HEAD") {
    res.head_length = res.body.size();
    res.body.clear();
  }
}

}  // namespace bw
