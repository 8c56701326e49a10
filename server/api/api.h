// The REST API: routing and JSON for requests already parsed off the wire. route() is a plain
// coroutine over values, testable without sockets; http_server.h puts it on a socket.
#pragma once

#include "common/metrics.h"
#include "config/config.h"
#include "registry/registry.h"
#include "scan/scan.h"
#include "scan/scheduler.h"
#include "score/base_snapshot.h"
#include "score/reporter.h"
#include "store/store.h"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace bw {

struct ApiRequest {
  std::string method;  // "GET"
  std::string target;  // "/v1/scans/abc?wait=10"
  std::string body;
  std::string request_id;
  std::string authorization;  // the Authorization header, if any
  std::string if_none_match;  // conditional GET
  std::string accept_encoding;
  std::string origin;  // CORS
  // "no-cache" asks for an answer read from the store now, not one kept from before.
  std::string cache_control = {};
  std::string if_match = {};  // conditional PUT: the version the caller edited
};

struct ApiResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  // An answer to HEAD: the Content-Length GET would have sent (the body is empty).
  std::optional<std::size_t> head_length;
  // The route template that answered ("/v1/scans/{id}"), for metrics and logs; empty: none.
  std::string route;
  // A body too large to hold (`body` is then empty): sent chunked as `stream` hands it to the
  // sink (BlobSink: a piece, answered false once the client is gone). An error after the status
  // went out can only end the body short, which the client sees as a truncated chunked body.
  std::function<boost::asio::awaitable<Result<void>>(BlobSink)> stream = {};
};

struct HttpMetrics {
  // Labels stay bounded whatever callers send: known methods or "other", route templates or
  // "unmatched".
  metrics::Family requests{"bulwark_http_requests_total",
                           "API requests answered, by method, route template and status code.",
                           metrics::Type::counter,
                           {"method", "route", "code"}};
  metrics::Family duration{
      "bulwark_http_request_duration_seconds",
      "Time from a request's last byte read to its answer written, by method and route.",
      metrics::Type::histogram,
      {"method", "route"}};
  std::uint64_t accept_backoffs = 0;  // times accepting paused for lack of descriptors
  std::size_t in_flight = 0;          // requests read and not yet answered
};

// What routes may touch. Lives as long as the server.
struct ApiContext {
  ScanService& scans;
  Reporter& reporter;
  Store& store;
  RegistryClient& registry;
  const Config& config;
  HttpMetrics& http_metrics;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  bool ready = true;                             // false while starting up or shutting down
  const RegistryScheduler* scheduler = nullptr;  // whole-registry rescans, when configured
  const Webhooks* webhooks = nullptr;            // their delivery counts, when configured
  // Candidate bases a snapshot (bases.snapshot) measured, where this daemon has no scan of them.
  std::vector<SnapshotBase> snapshot_bases = {};
  // Where routes build large answers (image views, reports, layer facts) so that the io thread
  // keeps serving meanwhile; null: on the io thread.
  boost::asio::thread_pool* workers = nullptr;
  // Where routes' store calls run (see store/on_store.h); null: inline.
  boost::asio::thread_pool* store_pool = nullptr;
  // Answers that depend only on the store and the request (dashboard lists, stats, trends),
  // by request target, with the store generation they were built at: polls of an unchanged
  // store cost no query. Touched on the io thread only.
  struct CachedView {
    std::string generation;
    ApiResponse response;
    std::chrono::steady_clock::time_point built;
  };
  std::map<std::string, CachedView> views = {};
  // Held from the If-Match check of PUT /v1/suppressions to its write, on a store thread:
  // two edits of one version cannot both pass.
  std::mutex suppressions_edit = {};
};

// Answers one request. Never throws for bad input: every failure is a JSON error response.
// HEAD is answered wherever GET is, OPTIONS everywhere (CORS preflight); successful reads carry
// an ETag and honour If-None-Match (see negotiate.h).
boost::asio::awaitable<ApiResponse> route(const ApiRequest& request, ApiContext& ctx);

// Every route served, as "METHOD /path/{param}" in OpenAPI's path-template form (HEAD and
// OPTIONS implied), for the test that holds schema/openapi.yaml to the server.
std::vector<std::string> api_routes();

ApiResponse error_response(const Error& e);

inline constexpr std::string_view kVersion = "0.1.0";

}  // namespace bw
