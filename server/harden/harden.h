// bulwark harden: builds the image a switch recommends, for real and without Docker. The
// candidate's layers (mounted from its repository when it shares the target's registry, else
// copied as they stream), then one layer of ours holding the app's closure (what the switch's
// Dockerfile copies out of the old image: closure_layer.h), under the config the switch's
// projection was scored with (score/compose.cpp); then the manifest, pushed to a registry or
// written as an OCI image layout (oci_archive.cpp). What is built is what was projected, so a
// scan of it scores what the report promised.
#pragma once

#include "common/error.h"
#include "harden/closure_layer.h"
#include "registry/registry.h"
#include "score/reporter.h"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace bw {

// The most of the image's own layers (compressed) harden reads to build the app's closure, and
// the largest closure layer (uncompressed) it writes: both are held in memory.
inline constexpr std::uint64_t kMaxClosureBytes = 1ull << 30;

struct HardenRequest {
  std::string manifest_digest;  // a stored, scanned image
  std::string image_ref;        // where its layers are read; empty: the reference its report names
  // A candidate's catalog id, or the reference of a stored image when `onto_digest` is set;
  // empty: the best switch of the report projected by construction.
  std::string onto;
  std::string onto_digest;  // the stored, scanned image `onto` names, when it is a reference
  std::string push;         // where the result goes: "registry/repository[:tag]"; empty: nowhere
};

// The image a switch builds, short of the candidate's layers, which stay in their registry until
// written out. Whatever can fail for a reason the caller should read (no switch to build, an
// unfit candidate, a closure past the limit) has failed before one exists, so an archive written
// from it can start with a 200.
struct HardenBuild {
  HardenRequest request;
  SwitchRecipe recipe;
  ResolvedImage source;
  std::optional<ResolvedImage> candidate;  // none: scratch
  ClosureLayer closure;
  std::string config_body, config_digest;
  std::string manifest_body, manifest_digest;
  // The answer's fields that do not depend on where the image goes: {manifest_digest,
  // config_digest, source, onto: {id, base, reference, manifest_digest}, layers: {total, built},
  // closure: {paths, entries}, before: {score, grade}, projected: {score, grade}}.
  nlohmann::json summary;
};

// Errors: not_found (no such image or candidate), conflict (no switch to build, a candidate not
// measured or unfit, a closure past kMaxClosureBytes), registry_not_allowed (the push target) and
// the registries' own errors.
boost::asio::awaitable<Result<HardenBuild>> prepare_harden(RegistryClient& registry,
                                                           Reporter& reporter,
                                                           boost::asio::thread_pool* workers,
                                                           HardenRequest request);

// Pushes `build` to its request's `push`: the summary plus {image, layers: {mounted, copied,
// present}}.
boost::asio::awaitable<Result<nlohmann::json>> push_harden(RegistryClient& registry,
                                                           const HardenBuild& build);

// `build` as an OCI image layout in one tar (what `skopeo copy oci-archive:FILE` reads, and
// `oci:DIR` once unpacked): oci-layout, index.json (the manifest, tagged as the push reference or
// else the source image is, or "latest") and blobs/sha256/, the candidate's layers streamed from
// their registry as they arrive. `out` gets the archive in pieces and answers false when its reader
// is gone.
boost::asio::awaitable<Result<void>> write_oci_archive(RegistryClient& registry,
                                                       const HardenBuild& build, BlobSink out);

// prepare_harden(), then push_harden().
boost::asio::awaitable<Result<nlohmann::json>> harden(RegistryClient& registry, Reporter& reporter,
                                                      boost::asio::thread_pool* workers,
                                                      HardenRequest request);

}  // namespace bw
