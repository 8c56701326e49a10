#include "score/report.h"

#include "layer/image_summary.h"

#include <algorithm>

namespace bw {

using nlohmann::json;

namespace {

// The first day past which a suppression that shapes this report stops: the report is stale
// then. "" when none expires.
std::string suppressed_until(const std::vector<Finding>& findings,
                             const std::vector<Suppression>& suppressions,
                             const std::vector<std::string>& image_names,
                             std::chrono::system_clock::time_point now) {
  std::string until;
  for (auto& s : suppressions) {
    if (s.expires.empty() || suppression_expired(s, now) ||
        !suppression_covers_image(s, image_names))
      continue;
    bool shapes = std::any_of(findings.begin(), findings.end(), [&](const Finding& f) {
      return f.rule_id == s.rule_id && f.suppressed;
    });
    if (shapes && (until.empty() || s.expires < until)) until = s.expires;
  }
  return until;
}

// The sum of a score's deductions: how the base part and the app part make the whole (a
// rule firing in both counts once in the whole).
int deduction_of(const ScoreResult& r) {
  int d = 0;
  for (auto& c : r.breakdown) d += c.value("deduction", 0);
  return d;
}

// What a report and a switch's recipe are both made from: the image's merged facts, its base,
// the rules' findings and what the app needs.
struct Assessed {
  std::vector<const LayerFacts*> facts;
  std::vector<std::string> digests;
  std::uint64_t total_bytes = 0, base_bytes = 0;
  ImageSummary summary;
  json config, manifest;
  BaseInfo base;
  std::vector<std::string> names;
  std::vector<Finding> findings;
  AppNeeds needs;
};

// Filled in place: the advice input points into it.
void assess(const ReportInput& in, Assessed& a) {
  for (auto& l : in.layers) {
    a.facts.push_back(&l->facts);
    a.digests.push_back(l->digest);
  }
  a.summary = summarize_image(a.facts, a.digests);
  a.config = json::parse(in.image.config, nullptr, false);
  a.manifest = json::parse(in.image.manifest, nullptr, false);
  if (!a.config.is_object()) a.config = json::object();
  if (!a.manifest.is_object()) a.manifest = json::object();
  a.base = detect_base(a.manifest, a.config, a.summary, a.digests, in.references);
  for (std::size_t i = 0; i < in.layers.size(); ++i) {
    a.total_bytes += in.layers[i]->facts.uncompressed_size;
    if (i < a.base.layers) a.base_bytes += in.layers[i]->facts.uncompressed_size;
  }
  a.names = in.also_known_as;
  a.names.insert(a.names.begin(), in.image_ref);
  RuleInput ri{
      a.summary,        a.config, a.digests, a.base.layers, in.tag, in.now, in.max_image_age_days,
      &in.suppressions, a.names};
  a.findings = evaluate_rules(in.rules, ri);
  std::vector<std::string> base_digests(
      a.digests.begin(),
      a.digests.begin() + static_cast<std::ptrdiff_t>(std::min(a.base.layers, a.digests.size())));
  a.needs = infer_needs(a.summary, a.config, base_digests);
}

AdviceInput advice_input(const ReportInput& in, const Assessed& a) {
  return AdviceInput{in.rules,
                     a.findings,
                     in.suppressions,
                     a.summary,
                     a.config,
                     a.base,
                     a.digests,
                     in.image_ref,
                     in.tag,
                     in.now,
                     in.max_image_age_days,
                     a.base_bytes,
                     a.names,
                     a.facts,
                     &in.measured,
                     in.bases};
}

}  // namespace

Result<SwitchRecipe> report_switch_recipe(const ReportInput& in, const std::string& id) {
  Assessed a;
  assess(in, a);
  return switch_recipe(advice_input(in, a), a.needs, id);
}

json report_candidates(const ReportInput& in) {
  Assessed a;
  assess(in, a);
  return judge_candidates(advice_input(in, a), a.needs);
}

json build_report(const ReportInput& in) {
  Assessed a;
  assess(in, a);
  const auto& findings = a.findings;
  auto whole = score_findings(in.rules, findings);
  auto app = score_findings(in.rules, findings, Origin::app);
  auto base_part = score_findings(in.rules, findings, Origin::base);
  // Each finding says what to do about it where people read it.
  // Past kMaxReportFindings, the least severe go first; the rest keep their order.
  std::vector<bool> listed(findings.size(), true);
  if (findings.size() > kMaxReportFindings) {
    std::vector<std::size_t> order(findings.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) {
      return findings[x].severity > findings[y].severity;
    });
    for (std::size_t k = kMaxReportFindings; k < order.size(); ++k) listed[order[k]] = false;
  }
  json f = json::array();
  std::size_t omitted = 0;
  for (std::size_t i = 0; i < findings.size(); ++i) {
    const Finding& x = findings[i];
    if (!listed[i]) {
      omitted += 1 + x.more;
      continue;
    }
    json j = to_json(x);
    if (const RuleDef* d = in.rules.find(x.rule_id)) {
      j["rationale"] = d->rationale;
      j["remediation"] = d->remediation;
      j["references"] = d->references;
    }
    f.push_back(std::move(j));
  }
  const BaseInfo& base = a.base;
  const AppNeeds& needs = a.needs;
  const auto& names = a.names;
  const auto& summary = a.summary;
  const auto total_bytes = a.total_bytes;
  AdviceInput advice = advice_input(in, a);
  std::string platform = in.image.os + "/" + in.image.architecture +
                         (in.image.variant.empty() ? "" : "/" + in.image.variant);
  json plan;
  json recommendations = advise(advice, needs, &plan);
  json out{{"manifest_digest", in.image.manifest_digest},
           {"image", in.image_ref},
           {"platform", platform},
           {"ruleset_version", in.rules.version()},
           {"analyzer_version", kAnalyzerVersion},
           {"score", whole.score},
           {"grade", grade_name(whole.grade)},
           {"app_score", app.score},
           {"app_grade", grade_name(app.grade)},
           {"base_score", base_part.score},
           {"base_grade", grade_name(base_part.grade)},
           {"breakdown", whole.breakdown},
           {"deductions",
            {{"total", deduction_of(whole)},
             {"base", deduction_of(base_part)},
             {"app", deduction_of(app)}}},
           {"findings", f},
           {"base",
            {{"name", base.name},
             {"method", base.method},
             {"confidence", base.confidence},
             {"layers", base.layers}}},
           {"needs", to_json(needs)},
           {"recommendations", std::move(recommendations)},
           {"plan", std::move(plan)},
           {"packages", packages_by_ecosystem(summary)},
           {"uncompressed_bytes", total_bytes}};
  if (omitted > 0) out["findings_omitted"] = omitted;
  if (auto until = suppressed_until(findings, in.suppressions, names, in.now); !until.empty())
    out["suppressed_until"] = until;
  return out;
}

}  // namespace bw
