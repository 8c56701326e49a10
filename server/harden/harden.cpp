#include "harden/harden.h"

#include "common/digest.h"
#include "common/on_pool.h"
#include "common/time_util.h"
#include "harden/closure_layer.h"
#include "reference/reference.h"
#include "score/score.h"

namespace bw {

namespace asio = boost::asio;
using asio::awaitable;
using nlohmann::json;

namespace {

// Layers keep their bytes; a Docker media type is named by its OCI equivalent, as the manifest
// written is an OCI one.
std::string oci_layer_type(const std::string& type) {
  if (type == "application/vnd.docker.image.rootfs.diff.tar.gzip")
    return "application/vnd.oci.image.layer.v1.tar+gzip";
  if (type == "application/vnd.docker.image.rootfs.diff.tar")
    return "application/vnd.oci.image.layer.v1.tar";
  return type;
}

struct LayerCounts {
  std::size_t mounted = 0, copied = 0, present = 0;
};

// Puts `d` of `from` into `to`: mounted when both are repositories of one registry, left alone
// when `to` has it already, else copied as it streams.
awaitable<Result<void>> place_layer(RegistryClient& registry, const ResolvedImage& from,
                                    const Descriptor& d, const ImageRef& to, LayerCounts& n) {
  if (from.endpoint == to.registry && from.ref.repository != to.repository) {
    auto mounted = co_await registry.mount_blob(to, d.digest, from.ref.repository);
    if (!mounted) co_return mounted.error();
    if (*mounted) {
      ++n.mounted;
      co_return Result<void>{};
    }
  }
  auto have = co_await registry.has_blob(to, d.digest);
  if (!have) co_return have.error();
  if (*have) {
    ++n.present;
    co_return Result<void>{};
  }
  auto copied = co_await registry.copy_blob(from, d, to);
  if (!copied) co_return copied.error();
  ++n.copied;
  co_return Result<void>{};
}

Platform platform_of(const json& config) {
  return Platform{config.value("os", "linux"), config.value("architecture", "amd64"),
                  config.value("variant", "")};
}

}  // namespace

awaitable<Result<HardenBuild>> prepare_harden(RegistryClient& registry, Reporter& reporter,
                                              asio::thread_pool* workers, HardenRequest req) {
  if (!is_valid_digest(req.manifest_digest))
    co_return make_error(Errc::bad_request, "image digest must be sha256:<64 hex>");
  if (!req.push.empty()) {
    auto target = parse_reference(req.push);
    if (!target) co_return target.error();
    if (!target->digest.empty())
      co_return make_error(Errc::bad_request,
                           "push names a repository and tag; the digest is the result's");
    if (auto allowed = registry.check_allowed(*target); !allowed) co_return allowed.error();
  }

  // The report says what the image scores, where it was read and which switch its plan takes.
  auto report = co_await on_pool(workers, [&] { return reporter.get(req.manifest_digest); });
  if (!report) co_return report.error();
  if (!*report) co_return make_error(Errc::not_found, "no image " + req.manifest_digest);
  const json& r = **report;
  if (req.image_ref.empty()) req.image_ref = r.value("image", "");
  // The best switch that can be built: one projected by construction (best first).
  for (auto& a : r.value("recommendations", json::array()))
    if (req.onto.empty() && a.value("action", "") == "switch" &&
        a.value("projection", "") == "measured")
      req.onto = a.value("id", "");
  if (req.onto.empty())
    co_return make_error(Errc::conflict,
                         "the report has no switch to a measured base to build (name one with "
                         "onto, or let bases.measure measure the candidates)");
  auto recipe = co_await on_pool(workers, [&]() -> Result<SwitchRecipe> {
    try {
      return req.onto_digest.empty() ? reporter.recipe(req.manifest_digest, req.image_ref, req.onto)
                                     : reporter.recipe_onto(req.manifest_digest, req.image_ref,
                                                            req.onto_digest, req.onto);
    } catch (const std::exception& e) {
      return make_error(Errc::invalid_image,
                        "image " + req.manifest_digest + " cannot be projected: " + e.what());
    }
  });
  if (!recipe) co_return recipe.error();
  if (recipe->closure.empty())
    co_return make_error(Errc::conflict,
                         "no file of the image's own layers was found to carry (its entrypoint, "
                         "WORKDIR, /app, /opt, usr/local): nothing to build");

  // The layers as the registries hold them: the image's own by digest, the candidate's as
  // measured (a candidate refreshed since is projected again first).
  auto source_ref = parse_reference(req.image_ref);
  if (!source_ref) co_return source_ref.error();
  source_ref->digest = req.manifest_digest;
  const Platform platform = platform_of(recipe->config);
  auto source = co_await registry.resolve(*source_ref, platform);
  if (!source) co_return source.error();
  std::optional<ResolvedImage> candidate;
  if (!recipe->reference.empty()) {
    auto cref = parse_reference(recipe->reference);
    if (!cref) co_return cref.error();
    cref->digest = recipe->manifest_digest;
    auto c = co_await registry.resolve(*cref, platform);
    if (!c) co_return c.error();
    candidate = std::move(*c);
    for (auto& d : candidate->manifest.layers)
      if (!d.urls.empty())
        co_return make_error(Errc::unsupported_media_type,
                             "layer " + d.digest + " is a foreign layer, which cannot be copied");
  }
  const std::size_t candidate_layers = candidate ? candidate->manifest.layers.size() : 0;
  json config = recipe->config;
  auto& diff_ids = config["rootfs"]["diff_ids"];
  // The app's closure, read out of the image's own layers: one layer of ours.
  ClosureLayer closure;
  {
    std::vector<std::string> blobs;
    std::uint64_t read = 0;
    const auto& own = source->manifest.layers;
    for (std::size_t i = recipe->app_layers_from; i < own.size(); ++i) {
      if (!own[i].urls.empty())
        co_return make_error(
            Errc::unsupported_media_type,
            "layer " + own[i].digest + " is a foreign layer, which cannot be read");
      if ((read += own[i].size) > kMaxClosureBytes)
        co_return make_error(Errc::conflict, "the image's own layers are larger than " +
                                                 std::to_string(kMaxClosureBytes) +
                                                 " bytes, the most harden reads");
      std::string blob;
      auto fetched = co_await registry.fetch_blob(*source, own[i],
                                                  [&blob](std::string chunk) -> awaitable<bool> {
                                                    blob += chunk;
                                                    co_return true;
                                                  });
      if (!fetched) co_return fetched.error();
      blobs.push_back(std::move(blob));
    }
    auto built = co_await on_pool(
        workers, [&] { return build_closure_layer(blobs, recipe->closure, kMaxClosureBytes); });
    if (!built) co_return built.error();
    closure = std::move(*built);
    if (diff_ids.empty() || diff_ids.back() != kClosureLayer)
      co_return make_error(Errc::internal, "the recipe's config has no closure layer");
    diff_ids.back() = closure.diff_id;
  }
  if (diff_ids.size() != candidate_layers + 1)
    co_return make_error(Errc::invalid_image,
                         "the config names " + std::to_string(diff_ids.size()) +
                             " layers where the candidate has " + std::to_string(candidate_layers) +
                             " and the closure one");

  const std::string created = now_rfc3339();
  config["created"] = created;
  // Ours are the last two entries: the closure's COPY and the note.
  json& history = config["history"];
  for (std::size_t i = history.size() >= 2 ? history.size() - 2 : 0; i < history.size(); ++i)
    history[i]["created"] = created;
  HardenBuild b;
  b.config_body = config.dump();
  b.config_digest = sha256_digest(b.config_body);
  json manifest_layers = json::array();
  if (candidate)
    for (auto& d : candidate->manifest.layers)
      manifest_layers.push_back(
          {{"mediaType", oci_layer_type(d.media_type)}, {"digest", d.digest}, {"size", d.size}});
  manifest_layers.push_back({{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"},
                             {"digest", closure.digest},
                             {"size", closure.blob.size()}});
  json manifest = {{"schemaVersion", 2},
                   {"mediaType", media_type::kOciManifest},
                   {"config",
                    {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                     {"digest", b.config_digest},
                     {"size", b.config_body.size()}}},
                   {"layers", std::move(manifest_layers)}};
  // The base by the OCI annotations, as a build that records its base writes them.
  if (candidate)
    manifest["annotations"] = {{"org.opencontainers.image.base.name", recipe->base},
                               {"org.opencontainers.image.base.digest", recipe->manifest_digest}};
  b.manifest_body = manifest.dump();
  b.manifest_digest = sha256_digest(b.manifest_body);
  b.summary =
      json{{"manifest_digest", b.manifest_digest},
           {"config_digest", b.config_digest},
           {"source", {{"image", req.image_ref}, {"manifest_digest", req.manifest_digest}}},
           {"onto",
            {{"id", recipe->id},
             {"base", recipe->base},
             {"reference", recipe->reference},
             {"manifest_digest", recipe->manifest_digest}}},
           {"layers", {{"total", candidate_layers + 1}, {"built", 1}}},
           {"closure", {{"paths", recipe->closure}, {"entries", closure.entries}}},
           {"before", {{"score", r.value("score", 0)}, {"grade", r.value("grade", "")}}},
           {"projected",
            {{"score", recipe->projected_score}, {"grade", grade_for(recipe->projected_score)}}}};
  b.request = std::move(req);
  b.recipe = std::move(*recipe);
  b.source = std::move(*source);
  b.candidate = std::move(candidate);
  b.closure = std::move(closure);
  co_return b;
}

awaitable<Result<json>> push_harden(RegistryClient& registry, const HardenBuild& b) {
  auto target = parse_reference(b.request.push);
  if (!target) co_return target.error();
  if (auto allowed = registry.check_allowed(*target); !allowed) co_return allowed.error();
  LayerCounts counts;
  if (b.candidate)
    for (auto& d : b.candidate->manifest.layers)
      if (auto placed = co_await place_layer(registry, *b.candidate, d, *target, counts); !placed)
        co_return placed.error();
  for (auto [digest, body] : {std::pair{&b.closure.digest, &b.closure.blob},
                              std::pair{&b.config_digest, &b.config_body}}) {
    auto have = co_await registry.has_blob(*target, *digest);
    if (!have) co_return have.error();
    if (*have) continue;
    if (auto put = co_await registry.put_blob(*target, *digest, *body); !put) co_return put.error();
  }
  auto pushed = co_await registry.put_manifest(
      *target, target->tag, std::string(media_type::kOciManifest), b.manifest_body);
  if (!pushed) co_return pushed.error();
  if (*pushed != b.manifest_digest)
    co_return make_error(Errc::digest_mismatch, "the registry stored the manifest as " + *pushed +
                                                    ", not " + b.manifest_digest);
  ImageRef at = *target;
  at.digest = *pushed;
  json out = b.summary;
  out["image"] = at.canonical();
  out["layers"]["mounted"] = counts.mounted;
  out["layers"]["copied"] = counts.copied;
  out["layers"]["present"] = counts.present;
  co_return out;
}

awaitable<Result<json>> harden(RegistryClient& registry, Reporter& reporter,
                               asio::thread_pool* workers, HardenRequest req) {
  auto built = co_await prepare_harden(registry, reporter, workers, std::move(req));
  if (!built) co_return built.error();
  co_return co_await push_harden(registry, *built);
}

}  // namespace bw
