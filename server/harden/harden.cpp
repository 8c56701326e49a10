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

awaitable<Result<json>> harden(RegistryClient& registry, Reporter& reporter,
                               asio::thread_pool* workers, HardenRequest req) {
  if (!is_valid_digest(req.manifest_digest))
    co_return make_error(Errc::bad_request, "image digest must be sha256:<64 hex>");
  auto target = parse_reference(req.push);
  if (!target) co_return target.error();
  if (!target->digest.empty())
    co_return make_error(Errc::bad_request,
                         "push names a repository and tag; the digest is the result's");
  if (auto allowed = registry.check_allowed(*target); !allowed) co_return allowed.error();

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
  std::vector<std::pair<const ResolvedImage*, Descriptor>> layers;
  std::optional<ResolvedImage> candidate;
  if (!recipe->reference.empty()) {
    auto cref = parse_reference(recipe->reference);
    if (!cref) co_return cref.error();
    cref->digest = recipe->manifest_digest;
    auto c = co_await registry.resolve(*cref, platform);
    if (!c) co_return c.error();
    candidate = std::move(*c);
    for (auto& d : candidate->manifest.layers) layers.emplace_back(&*candidate, d);
  }
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
  if (diff_ids.size() != layers.size() + 1)
    co_return make_error(Errc::invalid_image,
                         "the config names " + std::to_string(diff_ids.size()) +
                             " layers where the candidate has " + std::to_string(layers.size()) +
                             " and the closure one");

  LayerCounts counts;
  json manifest_layers = json::array();
  for (auto& [from, d] : layers) {
    if (!d.urls.empty())
      co_return make_error(Errc::unsupported_media_type,
                           "layer " + d.digest + " is a foreign layer, which cannot be pushed");
    auto placed = co_await place_layer(registry, *from, d, *target, counts);
    if (!placed) co_return placed.error();
    manifest_layers.push_back(
        {{"mediaType", oci_layer_type(d.media_type)}, {"digest", d.digest}, {"size", d.size}});
  }
  if (auto have = co_await registry.has_blob(*target, closure.digest); !have) {
    co_return have.error();
  } else if (!*have) {
    if (auto put = co_await registry.put_blob(*target, closure.digest, closure.blob); !put)
      co_return put.error();
  }
  manifest_layers.push_back({{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"},
                             {"digest", closure.digest},
                             {"size", closure.blob.size()}});
  const std::string created = now_rfc3339();
  config["created"] = created;
  // Ours are the last two entries: the closure's COPY and the note.
  json& history = config["history"];
  for (std::size_t i = history.size() >= 2 ? history.size() - 2 : 0; i < history.size(); ++i)
    history[i]["created"] = created;
  const std::string config_body = config.dump();
  const std::string config_digest = sha256_digest(config_body);
  if (auto have = co_await registry.has_blob(*target, config_digest); !have) {
    co_return have.error();
  } else if (!*have) {
    if (auto put = co_await registry.put_blob(*target, config_digest, config_body); !put)
      co_return put.error();
  }
  json manifest = {{"schemaVersion", 2},
                   {"mediaType", media_type::kOciManifest},
                   {"config",
                    {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                     {"digest", config_digest},
                     {"size", config_body.size()}}},
                   {"layers", std::move(manifest_layers)}};
  // The base by the OCI annotations, as a build that records its base writes them.
  if (candidate)
    manifest["annotations"] = {{"org.opencontainers.image.base.name", recipe->base},
                               {"org.opencontainers.image.base.digest", recipe->manifest_digest}};
  auto pushed = co_await registry.put_manifest(
      *target, target->tag, std::string(media_type::kOciManifest), manifest.dump());
  if (!pushed) co_return pushed.error();
  ImageRef at = *target;
  at.digest = *pushed;
  co_return json{
      {"image", at.canonical()},
      {"manifest_digest", *pushed},
      {"config_digest", config_digest},
      {"source", {{"image", req.image_ref}, {"manifest_digest", req.manifest_digest}}},
      {"onto",
       {{"id", recipe->id},
        {"base", recipe->base},
        {"reference", recipe->reference},
        {"manifest_digest", recipe->manifest_digest}}},
      {"layers",
       {{"total", layers.size() + 1},
        {"mounted", counts.mounted},
        {"copied", counts.copied},
        {"present", counts.present},
        {"built", 1}}},
      {"closure", {{"paths", recipe->closure}, {"entries", closure.entries}}},
      {"before", {{"score", r.value("score", 0)}, {"grade", r.value("grade", "")}}},
      {"projected",
       {{"score", recipe->projected_score}, {"grade", grade_for(recipe->projected_score)}}}};
}

}  // namespace bw
