// A layer's facts as the daemon records them, from a tarball built in memory.
#pragma once

#include "layer/layer.h"

#include <string>

namespace bw::test {

// analyze_layer() over `tar` (uncompressed), with default limits; REQUIREs that it succeeds.
LayerFacts analyze_tar(const std::string& tar, const AnalyzeOptions& options = {});

}  // namespace bw::test
