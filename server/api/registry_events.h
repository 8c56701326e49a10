// Scan on push: the notifications registries send when an image is pushed, read into the
// references to scan. Two envelopes are understood: the CNCF distribution registry's
// (`notifications.endpoints`: {"events":[{"action":"push","target":{…},"request":{…}}]}) and
// Harbor's push webhook ({"type":"PUSH_ARTIFACT","event_data":{"resources":[…],
// "repository":{…}}}).
#pragma once

#include "common/error.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace bw {

struct PushedReference {
  std::string image;  // "registry/repository[:tag]@digest"
};

struct RegistryEvents {
  std::vector<PushedReference> pushes;  // in the order the envelope lists them, each once
  std::size_t ignored = 0;              // pulls, deletes, blob pushes, untagged children
};

// Reads an envelope. bad_request when it is neither form; events that name no manifest push
// (a pull, a layer's blob, an index's untagged platform manifests) are counted as ignored.
Result<RegistryEvents> parse_registry_events(const nlohmann::json& body);

}  // namespace bw
