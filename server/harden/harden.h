// bulwark harden: builds the image a switch recommends, for real and without Docker. The
// candidate's layers (mounted from its repository when it shares the target's registry, else
// copied as they stream), then one layer of ours holding the app's closure (what the switch's
// Dockerfile copies out of the old image: closure_layer.h), under the config the switch's
// projection was scored with (score/compose.cpp); then the manifest, pushed. What is built is
// what was projected, so a scan of it scores what the report promised.
#pragma once

#include "common/error.h"
#include "registry/registry.h"
#include "score/reporter.h"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
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
  std::string push;         // where the result goes: "registry/repository[:tag]"
};

// {image, manifest_digest, config_digest, onto: {id, base, reference, manifest_digest},
//  layers: {total, mounted, copied, present, built}, closure: {paths, entries},
//  before: {score, grade},
//  projected: {score, grade}}. Errors: not_found (no such image or candidate), conflict (no
// switch to build, a candidate not measured or unfit), registry_not_allowed and the registry's
// own errors.
boost::asio::awaitable<Result<nlohmann::json>> harden(RegistryClient& registry, Reporter& reporter,
                                                      boost::asio::thread_pool* workers,
                                                      HardenRequest request);

}  // namespace bw
