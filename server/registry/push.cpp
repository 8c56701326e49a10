#include "common/digest.h"
#include "net/http_client.h"
#include "registry/detail/call.h"
#include "registry/detail/errors.h"
#include "registry/registry.h"

// Pushing what `bulwark harden` builds: blobs mounted from another repository, copied in chunks
// from wherever they are, or uploaded whole, then the manifest. Each request carries the target
// registry's own credentials only; a blob copied from another registry is read with that
// registry's.
namespace bw {

namespace asio = boost::asio;
using asio::awaitable;
using net::HttpRequest;
using net::HttpResponse;
using Clock = std::chrono::steady_clock;

using detail::status_error;

namespace {

// Blob bytes sent per PATCH: bounds what a copy holds in memory.
constexpr std::size_t kUploadChunk = 8u << 20;

std::string push_scope(const ImageRef& repo) {
  return "repository:" + repo.repository + ":pull,push";
}

}  // namespace

// The upload URL a registry named in Location, as a target on the same endpoint: an upload
// elsewhere would take the registry's credentials to another host.
Result<std::string> RegistryClient::upload_target(const std::string& registry,
                                                  const HttpResponse& r) {
  std::string location = r.header("Location");
  if (location.empty())
    return make_error(Errc::registry_error, registry + " named no upload location");
  auto at = net::resolve_url(r.url, location);
  if (!at) return at.error();
  if (at->origin() != r.url.origin())
    return make_error(Errc::registry_error,
                      registry + " named an upload location on another host: " + at->origin());
  return at->target;
}

awaitable<Result<HttpResponse>> RegistryClient::push_call(const ImageRef& repo, std::string method,
                                                          std::string target, std::string body,
                                                          std::string content_type,
                                                          std::string scope) {
  Call c;
  c.registry = repo.registry;
  c.scope = scope.empty() ? push_scope(repo) : std::move(scope);
  c.target = std::move(target);
  c.kind = "push";
  c.deadline = Clock::now() + options_.blob_timeout;
  c.prepare = [&](HttpRequest& req) {
    req.method = method;
    req.body = body;
    req.content_type = content_type;
  };
  co_return co_await call(c);
}

awaitable<Result<std::string>> RegistryClient::start_upload(const ImageRef& repo) {
  auto start =
      co_await push_call(repo, "POST", "/v2/" + repo.repository + "/blobs/uploads/", "", "");
  if (!start) co_return start.error();
  if (start->status != 202)
    co_return status_error(*start, repo.registry, repo.repository, Errc::blob_unknown, "an upload");
  co_return upload_target(repo.registry, *start);
}

awaitable<Result<void>> RegistryClient::finish_upload(const ImageRef& repo,
                                                      const std::string& target,
                                                      const std::string& digest, std::string body) {
  std::string sep = target.find('?') == std::string::npos ? "?" : "&";
  auto put = co_await push_call(repo, "PUT", target + sep + "digest=" + digest, std::move(body),
                                "application/octet-stream");
  if (!put) co_return put.error();
  if (put->status != 201)
    co_return status_error(*put, repo.registry, repo.repository, Errc::blob_unknown,
                           "blob " + digest);
  co_return Result<void>{};
}

awaitable<Result<bool>> RegistryClient::has_blob(const ImageRef& repo, const std::string& digest) {
  if (auto allowed = check_allowed(repo); !allowed) co_return allowed.error();
  auto r = co_await push_call(repo, "HEAD", "/v2/" + repo.repository + "/blobs/" + digest, "", "");
  if (!r) co_return r.error();
  if (r->status == 200) co_return true;
  if (r->status == 404) co_return false;
  co_return status_error(*r, repo.registry, repo.repository, Errc::blob_unknown, "blob " + digest);
}

awaitable<Result<bool>> RegistryClient::mount_blob(const ImageRef& repo, const std::string& digest,
                                                   const std::string& from) {
  if (auto allowed = check_allowed(repo); !allowed) co_return allowed.error();
  auto r = co_await push_call(
      repo, "POST", "/v2/" + repo.repository + "/blobs/uploads/?mount=" + digest + "&from=" + from,
      "", "", push_scope(repo) + " repository:" + from + ":pull");
  if (!r) co_return r.error();
  // 201: mounted. 202: the registry opened an upload instead (it would not mount); anything else
  // (a token without pull on `from`) is left to a copy too.
  co_return r->status == 201;
}

awaitable<Result<void>> RegistryClient::put_blob(const ImageRef& repo, const std::string& digest,
                                                 std::string body) {
  if (auto allowed = check_allowed(repo); !allowed) co_return allowed.error();
  auto target = co_await start_upload(repo);
  if (!target) co_return target.error();
  co_return co_await finish_upload(repo, *target, digest, std::move(body));
}

awaitable<Result<void>> RegistryClient::copy_blob(const ResolvedImage& source, const Descriptor& d,
                                                  const ImageRef& repo) {
  if (auto allowed = check_allowed(repo); !allowed) co_return allowed.error();
  auto target = co_await start_upload(repo);
  if (!target) co_return target.error();
  std::string pending;
  std::optional<Error> failed;
  auto flush = [&]() -> awaitable<bool> {
    if (pending.empty()) co_return true;
    auto r =
        co_await push_call(repo, "PATCH", *target, std::move(pending), "application/octet-stream");
    pending.clear();
    if (r && r->status == 202) {
      if (auto next = upload_target(repo.registry, *r)) {
        *target = *next;
        co_return true;
      } else {
        failed = next.error();
      }
    } else {
      failed = r ? status_error(*r, repo.registry, repo.repository, Errc::blob_unknown,
                                "blob " + d.digest + " upload")
                 : r.error();
    }
    co_return false;
  };
  auto fetched = co_await fetch_blob(source, d, [&](std::string chunk) -> awaitable<bool> {
    pending += chunk;
    if (pending.size() < kUploadChunk) co_return true;
    co_return co_await flush();
  });
  if (failed) co_return *failed;
  if (!fetched) co_return fetched.error();
  if (!co_await flush()) co_return *failed;
  co_return co_await finish_upload(repo, *target, d.digest, "");
}

awaitable<Result<std::string>> RegistryClient::put_manifest(const ImageRef& repo,
                                                            const std::string& reference,
                                                            const std::string& media_type,
                                                            std::string body) {
  if (auto allowed = check_allowed(repo); !allowed) co_return allowed.error();
  const std::string digest = sha256_digest(body);
  auto r = co_await push_call(repo, "PUT", "/v2/" + repo.repository + "/manifests/" + reference,
                              std::move(body), media_type);
  if (!r) co_return r.error();
  if (r->status != 201)
    co_return status_error(*r, repo.registry, repo.repository, Errc::manifest_unknown,
                           "manifest " + reference);
  co_return digest;
}

}  // namespace bw
