// Registry client: resolves image references to manifests and configs and streams verified
// layer blobs, straight from OCI distribution registries. Handles the auth flows registries
// use (anonymous, basic, bearer token challenges), retries with backoff, Retry-After, resumable
// blob transfers, redirects without forwarding credentials, mirrors, and catalog and tag listing.
// Knows nothing of SQLite or rules.
//
// Not thread-safe: every call runs on the executor given at construction (one thread).
#pragma once

#include "common/error.h"
#include "common/metrics.h"
#include "reference/reference.h"
#include "registry/credentials.h"
#include "registry/manifest.h"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace bw {

namespace net {
class HttpClient;
struct Url;
struct HttpResponse;
}  // namespace net
namespace detail {
class AsyncSemaphore;
}  // namespace detail

struct RegistryHostConfig {
  bool insecure = false;  // allow plain HTTP (always allowed on loopback) and fall back to it
  std::string ca_file;    // PEM trusted in addition to the system CAs
  std::string username;   // credentials for this registry only; they win over docker's config
  std::string password;
  // Token realms ("host:port") of another authority that may receive this registry's
  // credentials. By default credentials go only to a realm on the registry's own host and port
  // (and docker.io's to auth.docker.io).
  std::vector<std::string> token_realms;
};

// Whether a resolved address may be contacted under the loopback and link-local policy.
bool address_permitted(const boost::asio::ip::address& address, bool allow_loopback,
                       bool allow_link_local);

// Name resolution seam: tests inject one to keep every connection on loopback.
using HostResolver =
    std::function<boost::asio::awaitable<Result<std::vector<boost::asio::ip::tcp::endpoint>>>(
        std::string host, std::string port)>;

struct RegistryOptions {
  // Registries callers may name: "host" (any port), "host:port", "*.example.com", or "*".
  // Credentials are sent to a token realm only if its host passes this list too.
  std::vector<std::string> allowed = {
      "docker.io", "auth.docker.io",      "ghcr.io",         "quay.io",           "gcr.io",
      "*.gcr.io",  "*.pkg.dev",           "registry.k8s.io", "mcr.microsoft.com", "public.ecr.aws",
      "cgr.dev",   "registry.gitlab.com", "localhost",       "127.0.0.1",         "::1"};
  // Token realms ("host:port") that may receive any registry's credentials, as a host's
  // token_realms do for that host (the CLI's --token-realm).
  std::vector<std::string> token_realms;
  // Hosts a registry may redirect blob downloads to (object storage and CDNs), besides those in
  // `allowed`; any other redirect target is refused before a connection is made.
  std::vector<std::string> redirect_hosts = {"*.docker.com",
                                             "*.docker.io",
                                             "*.githubusercontent.com",
                                             "*.amazonaws.com",
                                             "*.cloudfront.net",
                                             "*.quay.io",
                                             "storage.googleapis.com",
                                             "*.storage.googleapis.com",
                                             "*.blob.core.windows.net",
                                             "*.azureedge.net",
                                             "*.pkg.dev",
                                             "*.gcr.io",
                                             "*.gitlab-static.net",
                                             "*.r2.cloudflarestorage.com",
                                             "*.k8s.io"};
  // Loopback addresses (127.0.0.0/8, ::1) may be contacted. The daemon allows them only while
  // it listens on loopback itself, or when the allowlist names a loopback host.
  bool allow_loopback = true;
  // Link-local addresses (169.254.0.0/16 with the cloud metadata services, fe80::/10) and the
  // other metadata addresses may be contacted. Off unless configured.
  bool allow_link_local = false;
  std::map<std::string, RegistryHostConfig> hosts;  // keyed by normalised registry name
  // Pull-through mirrors tried in order before the registry itself ("docker.io" -> hosts).
  std::map<std::string, std::vector<std::string>> mirrors;
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds io_timeout{30'000};  // per read or write
  std::chrono::milliseconds request_timeout{
      120'000};  // a manifest, config or token, retries included
  std::chrono::milliseconds blob_timeout{3'600'000};  // one layer, retries and resumes included
  int max_attempts = 5;                               // per request, first try included
  std::chrono::milliseconds backoff_base{250};        // doubled per retry, with jitter
  std::chrono::milliseconds backoff_max{8'000};
  std::chrono::milliseconds max_retry_after{60'000};  // a longer Retry-After fails at once
  std::size_t max_concurrent_per_registry = 8;
  std::uint64_t max_manifest_bytes = 4 << 20;  // manifests and indexes larger are refused
  std::uint64_t max_config_bytes = 8 << 20;    // image config blobs larger are refused
  int max_index_depth = 3;                     // nested indexes deeper are refused
  int max_redirects = 5;
  std::size_t max_list_pages = 1000;  // catalog / tag list pagination bound
  // Where docker's and podman's credential files are found (HOME, DOCKER_CONFIG,
  // REGISTRY_AUTH_FILE).
  EnvLookup env = [](const char* name) -> const char* { return std::getenv(name); };
  HostResolver resolver;  // empty: the system resolver
};

struct ResolvedImage {
  ImageRef ref;
  std::string endpoint;         // the registry that served it (a mirror or ref.registry)
  std::string index_digest;     // when the reference named an index, else empty
  std::string manifest_digest;  // the platform manifest's digest
  Manifest manifest;            // kind == image
  std::string manifest_body;
  std::string config_body;  // the image config JSON, digest-verified
  Platform platform;        // of the chosen manifest, from its config
  // The caller's KnownImage said it already has this manifest's results: the config was not
  // fetched (config_body and platform are empty).
  bool known = false;
};

// Asked with the manifest in hand, before the config is fetched: true when the caller already
// has what it needs for this manifest (a current report), so that a rescan costs one request.
// Awaited: the caller's answer may come from its store, off the io thread.
using KnownImage = std::function<boost::asio::awaitable<bool>(const ResolvedImage&)>;

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
  // Requests this client keeps in flight to one registry at most.
  std::size_t max_concurrent_per_registry() const;

  // Fetches the manifest (following indexes to `platform`) and the config, verifying digests;
  // the config not when `known` says the manifest is known.
  boost::asio::awaitable<Result<ResolvedImage>> resolve(const ImageRef& ref,
                                                        const Platform& platform,
                                                        const KnownImage& known = {});

  // The digest a reference names now, from one HEAD request (Docker-Content-Digest); a registry
  // that does not send it is asked with GET and the body hashed. What a registry pass compares
  // with the digest it scanned last, before fetching anything.
  boost::asio::awaitable<Result<std::string>> manifest_digest(const ImageRef& ref);

  // The platforms a reference offers: for an index, its digest and every runnable entry's
  // platform (attestations skipped); for a single manifest, no digest and the platform its
  // config names.
  boost::asio::awaitable<Result<std::pair<std::string, std::vector<Platform>>>> platforms(
      const ImageRef& ref);

  // Streams blob `d` of `image`'s repository, from the registry that served the manifest, into
  // `sink`. Succeeds only when exactly d.size bytes arrived and their sha256 equals d.digest; on
  // an error the caller must discard whatever it derived from the chunks. A dropped transfer
  // resumes with a Range request (or restarts, skipping what was delivered).
  boost::asio::awaitable<Result<void>> fetch_blob(const ResolvedImage& image, const Descriptor& d,
                                                  BlobSink sink);

  // Repositories of a registry (/v2/_catalog) and tags of a repository, following Link pages.
  // A catalog page is as large as distribution allows by default (catalog.maxentries; v3
  // refuses more): each page walks the registry's storage, and a pass waits for the whole list.
  boost::asio::awaitable<Result<std::vector<std::string>>> list_repositories(
      const std::string& registry, std::size_t page_size = 1000);
  boost::asio::awaitable<Result<std::vector<std::string>>> list_tags(const ImageRef& repo,
                                                                     std::size_t page_size = 100);

  // Pushing (bulwark harden) to the registry and repository `repo` names, with that registry's
  // own credentials; check_allowed applies to it as to pulls.
  // Whether `repo` has blob `digest`.
  boost::asio::awaitable<Result<bool>> has_blob(const ImageRef& repo, const std::string& digest);
  // Mounts blob `digest` into `repo` from repository `from` of the same registry; false when the
  // registry would not (the caller copies it instead).
  boost::asio::awaitable<Result<bool>> mount_blob(const ImageRef& repo, const std::string& digest,
                                                  const std::string& from);
  // Uploads `body` as blob `digest` (a config: one POST, one PUT).
  boost::asio::awaitable<Result<void>> put_blob(const ImageRef& repo, const std::string& digest,
                                                std::string body);
  // Copies blob `d` of `source` (any registry) into `repo` as it streams, verified as fetch_blob
  // verifies, 8 MiB per PATCH: memory stays bounded whatever the blob's size.
  boost::asio::awaitable<Result<void>> copy_blob(const ResolvedImage& source, const Descriptor& d,
                                                 const ImageRef& repo);
  // Puts a manifest under `reference` (a tag or a digest); returns the manifest's digest.
  boost::asio::awaitable<Result<std::string>> put_manifest(const ImageRef& repo,
                                                           const std::string& reference,
                                                           const std::string& media_type,
                                                           std::string body);

  struct Stats {
    std::uint64_t manifest_fetches = 0;
    std::uint64_t manifest_heads = 0;
    std::uint64_t blob_fetches = 0;
    std::uint64_t blob_bytes = 0;
    std::uint64_t retries = 0;
    std::uint64_t token_fetches = 0;
    // For /metrics. Kinds: manifest, blob, repositories, tags, token.
    metrics::Family requests{"bulwark_registry_requests_total",
                             "Requests sent to registries (retries included), by kind.",
                             metrics::Type::counter,
                             {"registry", "kind"}};
    metrics::Family duration{
        "bulwark_registry_request_duration_seconds",
        "Time for one registry request with its retries, the whole transfer for a blob.",
        metrics::Type::histogram,
        {"kind"}};
    metrics::Family errors{"bulwark_registry_errors_total",
                           "Registry requests that failed, by what went wrong (the error code, "
                           "or http_<status>).",
                           metrics::Type::counter,
                           {"registry", "kind", "error"}};
    metrics::Family bytes{"bulwark_registry_bytes_total",
                          "Blob bytes received, by registry.",
                          metrics::Type::counter,
                          {"registry"}};
  };
  const Stats& stats() const { return stats_; }

  // Where work that grows with a document runs (a config's parse and checks): the daemon's
  // workers; inline when unset.
  void set_cpu_pool(boost::asio::thread_pool* pool) { cpu_pool_ = pool; }

 private:
  boost::asio::thread_pool* cpu_pool_ = nullptr;
  // Whether `realm` (a bearer challenge's token service) may receive `registry`'s credentials:
  // the registry's own host and port, docker.io's auth.docker.io, or a configured token_realm.
  bool realm_may_receive_credentials(const std::string& registry, const net::Url& realm) const;
  // Empty when `realm`, named by a challenge that `answered` sent to a request for `asked`, may
  // receive `registry`'s credentials: configured as above, or, as docker, containerd and skopeo
  // do, the realm the registry itself names (no redirect between) on its own host, or over
  // TLS when the challenge came over TLS. Never a link-local or metadata address. Else why not.
  std::string realm_refusal(const std::string& registry, const net::Url& realm,
                            const net::Url& asked, const net::Url& answered) const;
  struct Call;
  struct Token {
    std::string value;
    std::chrono::steady_clock::time_point expires;
  };
  boost::asio::awaitable<Result<std::string>> base_url(const std::string& registry);
  boost::asio::awaitable<Result<net::HttpResponse>> call(Call& c);  // measured
  boost::asio::awaitable<Result<net::HttpResponse>> call_with_retries(Call& c);
  boost::asio::awaitable<Result<void>> authenticate(const std::string& registry,
                                                    const std::string& scope,
                                                    const std::string& challenge_header,
                                                    const net::Url& asked,
                                                    const net::Url& answered);
  boost::asio::awaitable<Result<std::string>> fetch_manifest(const std::string& endpoint,
                                                             const ImageRef& ref,
                                                             const std::string& reference,
                                                             std::string& content_type);
  boost::asio::awaitable<Result<ResolvedImage>> resolve_from(const std::string& endpoint,
                                                             const ImageRef& ref,
                                                             const Platform& platform,
                                                             const KnownImage& known);
  boost::asio::awaitable<Result<void>> stream_blob(const std::string& endpoint,
                                                   const std::string& repository,
                                                   const Descriptor& d, BlobSink sink);
  boost::asio::awaitable<Result<std::vector<std::string>>> list(const std::string& registry,
                                                                const std::string& scope,
                                                                std::string target,
                                                                const char* field);
  boost::asio::awaitable<Result<net::HttpResponse>> push_call(const ImageRef& repo,
                                                              std::string method,
                                                              std::string target, std::string body,
                                                              std::string content_type,
                                                              std::string scope = {});
  Result<std::string> upload_target(const std::string& registry, const net::HttpResponse& r);
  // Opens a blob upload in `repo`; its target. finish_upload() ends it as blob `digest`, with
  // `body` as the last (or only) bytes.
  boost::asio::awaitable<Result<std::string>> start_upload(const ImageRef& repo);
  boost::asio::awaitable<Result<void>> finish_upload(const ImageRef& repo,
                                                     const std::string& target,
                                                     const std::string& digest, std::string body);
  boost::asio::awaitable<void> sleep(std::chrono::milliseconds d);
  std::chrono::milliseconds backoff(int attempt);
  Result<std::string> authorization(const std::string& registry, const std::string& scope);
  detail::AsyncSemaphore& limiter(const std::string& registry);

  boost::asio::any_io_executor ex_;
  RegistryOptions options_;
  CredentialStore credentials_;
  std::unique_ptr<net::HttpClient> http_;
  std::map<std::string, std::string> base_urls_;                 // registry -> "https://host:port"
  std::map<std::pair<std::string, std::string>, Token> tokens_;  // (registry, scope) -> token
  // registry -> why its credentials were kept from the token realm it named (for the error).
  std::map<std::string, std::string> withheld_;
  std::map<std::string, bool> basic_auth_;  // registries that asked for basic auth
  std::map<std::string, std::unique_ptr<detail::AsyncSemaphore>> limiters_;
  std::mt19937 jitter_{std::random_device{}()};
  Stats stats_;
};

// True when `registry` matches one of `patterns` (see RegistryOptions::allowed).
bool registry_allowed(const std::vector<std::string>& patterns, std::string_view registry);

// The URL of a `Link: <url>; rel="next"` header, or empty.
std::string next_link(std::string_view link_header);

// Seconds from a Retry-After value (delta-seconds or an HTTP date), or nullopt.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now);

}  // namespace bw
