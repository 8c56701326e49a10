#include "score/report.h"

#include "layer/image_summary.h"

namespace bw {

using nlohmann::json;

json build_report(const ReportInput& in) {
  std::vector<const LayerFacts*> facts;
  std::vector<std::string> digests;
  std::uint64_t total_bytes = 0;
  for (auto& l : in.layers) {
    facts.push_back(&l.facts);
    digests.push_back(l.digest);
  }
  json summary = summarize_image(facts, digests);
  json config = json::parse(in.image.config, nullptr, false);
  json manifest = json::parse(in.image.manifest, nullptr, false);
  if (!config.is_object()) config = json::object();
  if (!manifest.is_object()) manifest = json::object();
  BaseInfo base = detect_base(manifest, config, summary, digests, in.references);
  std::uint64_t base_bytes = 0;
  for (std::size_t i = 0; i < in.layers.size(); ++i) {
    total_bytes += in.layers[i].facts.uncompressed_size;
    if (i < base.layers) base_bytes += in.layers[i].facts.uncompressed_size;
  }
  RuleInput ri{summary, config, digests, base.layers, in.tag, in.now, in.max_image_age_days};
  auto findings = evaluate_rules(in.rules, ri);
  apply_suppressions(findings, in.suppressions);
  auto whole = score_findings(in.rules, findings);
  auto app = score_findings(in.rules, findings, /*app_only=*/true);
  json f = json::array();
  for (auto& x : findings) f.push_back(to_json(x));
  std::string platform = in.image.os + "/" + in.image.architecture +
                         (in.image.variant.empty() ? "" : "/" + in.image.variant);
  return json{{"manifest_digest", in.image.manifest_digest},
              {"image", in.image_ref},
              {"platform", platform},
              {"ruleset_version", in.rules.version()},
              {"analyzer_version", kAnalyzerVersion},
              {"score", whole.score},
              {"grade", grade_name(whole.grade)},
              {"app_score", app.score},
              {"app_grade", grade_name(app.grade)},
              {"breakdown", whole.breakdown},
              {"findings", f},
              {"base",
               {{"name", base.name},
                {"method", base.method},
                {"confidence", base.confidence},
                {"layers", base.layers}}},
              {"recommendations", recommend_bases(in.rules, findings, summary, config, base,
                                                  digests, whole.score, base_bytes)},
              {"uncompressed_bytes", total_bytes}};
}

}  // namespace bw
