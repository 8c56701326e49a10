// What HTTP adds to every route's answer, the same whatever the route: a strong ETag with 304
// on If-None-Match and Cache-Control for successful reads, gzip for clients that accept it,
// CORS for configured origins, and HEAD answered as GET without the body. Dashboards poll all
// day: an unchanged answer costs them a 304 and no body.
#pragma once

#include "api/api.h"

#include <string>
#include <string_view>

namespace bw {

// The strong validator of a body: a quoted hex prefix of its SHA-256.
std::string etag_of(std::string_view body);

// Whether an If-None-Match header value names `etag` (or is "*"). Weak forms (W/"…") match
// too: RFC 9110 compares weakly for If-None-Match.
bool if_none_match_matches(std::string_view header, std::string_view etag);

// Whether an If-Match header value names `etag` (or is "*"), compared strongly (RFC 9110): a
// weak W/"…" never matches. The gzip form of a representation ("…-gzip") names the same version.
bool if_match_matches(std::string_view header, std::string_view etag);

// Whether an Accept-Encoding header value accepts gzip (present and not q=0).
bool accepts_gzip(std::string_view accept_encoding);

// The answer to an OPTIONS request: a CORS preflight when it has an Origin, else the methods.
ApiResponse preflight(const ApiRequest& req, const ApiOptions& options);

// Adds validators, caching, CORS and compression to `res`, turns a matching conditional GET
// into 304 and a HEAD answer into headers only. Compression of large bodies runs on
// `ctx.workers` when there is a pool.
boost::asio::awaitable<void> negotiate(const ApiRequest& req, ApiResponse& res, ApiContext& ctx);

}  // namespace bw
