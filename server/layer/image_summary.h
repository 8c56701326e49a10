// The image as its final filesystem shows it, from per-layer facts merged bottom-up: OS,
// packages, accounts, attack surface, setuid and world-writable files, credentials and secrets
// (also those a later layer deleted, which remain in the earlier blob), executables' ELF facts.
// Every item names the layer that introduced it.
#pragma once

#include "analyze/facts.h"
#include "layer/layer.h"

#include <string>
#include <vector>

namespace bw {

// `digests[i]` names layers[i] (bottom first).
ImageSummary summarize_image(const std::vector<const LayerFacts*>& layers,
                             const std::vector<std::string>& digests);

}  // namespace bw
