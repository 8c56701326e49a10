// A layer blob (gzip, zstd or plain tar, chosen by magic) through the one-pass analysis with
// every analyser, the built-in secret rules included, then the image summary and every rule.
#include "layer/image_summary.h"
#include "layer/layer.h"
#include "rules/rules.h"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto secrets = bw::SecretRules::builtin();
  static const auto catalog = bw::RuleCatalog::builtin();
  bw::AnalyzeOptions analysis;
  analysis.secrets = secrets;
  bw::LayerLimits limits;
  limits.max_uncompressed_bytes = 64u << 20;  // a bomb stops here, not in the fuzzer's memory
  limits.max_notable_entries = 2'000;
  bw::MemorySource source(std::string_view(reinterpret_cast<const char*>(data), size));
  auto facts = bw::analyze_layer(source, limits, analysis);
  if (!facts) return 0;
  // Facts survive their JSON round trip, as they do through the store.
  auto back = bw::layer_facts_from_json(bw::to_json(*facts));
  if (!back) __builtin_trap();
  bw::ImageSummary summary = bw::summarize_image({&*facts}, {"sha256:layer"});
  nlohmann::json config = {{"config", {{"User", "0"}}}};
  bw::RuleInput in{summary, config, {"sha256:layer"}, 0, "latest"};
  (void)bw::evaluate_rules(*catalog, in);
  return 0;
}
