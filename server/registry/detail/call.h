// One registry request as the transport carries it: endpoint, auth scope, deadline, and the
// streaming hooks. Private to registry/.
#pragma once

#include "net/http_client.h"
#include "registry/registry.h"

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace bw {

struct RegistryClient::Call {
  std::string registry;  // the endpoint: auth, base URL and concurrency limit are per endpoint
  std::string scope;     // "repository:team/app:pull"
  std::string target;    // "/v2/…"
  std::string kind = "manifest";  // the metrics' kind label: manifest, blob, repositories, tags
  std::vector<std::pair<std::string, std::string>> headers;
  std::uint64_t body_limit = 64 * 1024;
  std::chrono::steady_clock::time_point deadline;
  std::function<void(net::HttpRequest&)> prepare;  // per attempt, e.g. Range
  net::HeadHandler on_head;                        // streaming: both set
  net::ChunkHandler on_chunk;
};

}  // namespace bw
