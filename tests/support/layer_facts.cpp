#include "layer_facts.h"

#include "layer/byte_source.h"

#include <doctest/doctest.h>

namespace bw::test {

LayerFacts analyze_tar(const std::string& tar, const AnalyzeOptions& options) {
  MemorySource src(tar);
  auto facts = analyze_layer(src, LayerLimits{}, options);
  REQUIRE(facts);
  return std::move(*facts);
}

}  // namespace bw::test
