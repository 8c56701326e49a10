// Registry client: resolves image references to manifests and configs and streams verified
// layer blobs, straight from OCI distribution registries. Knows nothing of SQLite or rules.
//
// Not thread-safe: every call runs on the executor given at construction (one thread).
#pragma once

#include "common/error.h"
#include "reference/reference.h"
#include "registry/manifest.h"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace bw {

namespace detail {
class HttpClient;
}

struct RegistryHostConfig {
  bool insecure = false;  // allow plain HTTP (always allowed on loopback) and fall back to it
  std::string ca_file;    // PEM trusted in addition to the system CAs
  std::string username;   // basic credentials, sent only to this registry
  std::string password;
};

struct RegistryOptions {
  // Registries callers may name: "host" (any port), "host:port", "*.example.com", or "*".
  // Default: well-known public registries and loopback.
  std::vector<std::string> allowed = {"docker.io",
                                      "ghcr.io",
                                      "quay.io",
                                      "gcr.io",
                                      "*.gcr.io",
                                      "*.pkg.dev",
                                      "registry.k8s.io",
                                      "mcr.microsoft.com",
                                      "public.ecr.aws",
                                      "cgr.dev",
                                      "registry.gitlab.com",
                                      "localhost",
                                      "127.0.0.1",
                                      "::1"};
  std::map<std::string, RegistryHostConfig> hosts;  // keyed by normalised registry name
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds io_timeout{30'000};  // per read or write
  std::uint64_t max_manifest_bytes = 4 << 20;    // manifests and indexes larger are refused
  std::uint64_t max_config_bytes = 8 << 20;      // image config blobs larger are refused
  int max_index_depth = 3;                       // nested indexes deeper are refused
  int max_redirects = 5;
};

struct ResolvedImage {
  ImageRef ref;
  std::string index_digest;     // when the reference named an index, else empty
  std::string manifest_digest;  // the platform manifest's digest
  Manifest manifest;            // kind == image
  std::string manifest_body;
  std::string config_body;  // the image config JSON, digest-verified
  Platform platform;        // of the chosen manifest (from the config when not from an index)
};

// Receives verified-so-far bytes in order; returning false abandons the transfer.
using BlobSink = std::function<boost::asio::awaitable<bool>(std::string chunk)>;

class RegistryClient {
 public:
  RegistryClient(boost::asio::any_io_executor ex, RegistryOptions options);
  ~RegistryClient();
  RegistryClient(const RegistryClient&) = delete;
  RegistryClient& operator=(const RegistryClient&) = delete;

  // Errc::registry_not_allowed unless the options allow ref.registry. No I/O.
  Result<void> check_allowed(const ImageRef& ref) const;

  // Fetches the manifest (following an index to `platform`) and the config, verifying digests.
  boost::asio::awaitable<Result<ResolvedImage>> resolve(const ImageRef& ref,
                                                        const Platform& platform);

  // Streams blob `d` of ref's repository into `sink`. Succeeds only when exactly d.size bytes
  // arrived and their sha256 equals d.digest; on Errc::digest_mismatch the caller must discard
  // whatever it derived from the chunks.
  boost::asio::awaitable<Result<void>> fetch_blob(const ImageRef& ref, const Descriptor& d,
                                                  BlobSink sink);

  struct Stats {
    std::uint64_t manifest_fetches = 0;
    std::uint64_t blob_fetches = 0;
    std::uint64_t blob_bytes = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  struct Endpoint;
  boost::asio::awaitable<Result<std::string>> base_url(const std::string& registry);
  boost::asio::awaitable<Result<std::string>> fetch_manifest(const ImageRef& ref,
                                                             const std::string& reference,
                                                             std::string& content_type);
  boost::asio::awaitable<Result<std::string>> fetch_small_blob(const ImageRef& ref,
                                                               const Descriptor& d,
                                                               std::uint64_t limit);
  std::string authorization_for(const std::string& registry) const;

  RegistryOptions options_;
  std::unique_ptr<detail::HttpClient> http_;
  std::map<std::string, std::string> base_urls_;  // registry -> "https://host:port"
  Stats stats_;
};

// True when `registry` matches one of `patterns` (see RegistryOptions::allowed).
bool registry_allowed(const std::vector<std::string>& patterns, std::string_view registry);

}  // namespace bw
