// The report of one image under one ruleset: findings, score and grade (whole image and app
// layers alone), the detected base, and recommendations. Built from stored facts only, so a
// ruleset change re-scores without fetching anything.
#pragma once

#include "rules/rules.h"
#include "score/score.h"
#include "store/store.h"

#include <nlohmann/json.hpp>

namespace bw {

struct ReportInput {
  const ImageRecord& image;
  const std::vector<SharedLayerRecord>& layers;  // in the image's order, none null
  const RuleCatalog& rules;
  const std::vector<Suppression>& suppressions;
  const std::vector<ReferenceImage>& references;
  std::string image_ref;  // the reference scanned, for the report
  std::string tag;
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
  int max_image_age_days = 90;
  // The other references the image was tagged as: a suppression scoped to any of them applies
  // (a report is per digest, whichever tag it was scanned by).
  std::vector<std::string> also_known_as = {};
  // Candidate bases measured so far (advice projects a switch to one by construction).
  std::vector<MeasuredBase> measured = {};
  const nlohmann::json* bases = nullptr;  // the candidates; null: the built-in catalog
};

// A report lists at most this many findings (Finding::more counts past kMaxFindingsPerRule per
// rule; "findings_omitted" counts past this), and is at most kMaxReportBytes as JSON whatever
// the image holds (README "Limits"; a fuzz target holds it to that).
inline constexpr std::size_t kMaxReportFindings = 500;
inline constexpr std::size_t kMaxReportBytes = 8u << 20;

nlohmann::json build_report(const ReportInput& in);

// Every candidate judged for the image (judge_candidates()), under the report's own facts.
nlohmann::json report_candidates(const ReportInput& in);

// What `bulwark harden` builds to switch the image to candidate `id` (see switch_recipe()).
Result<SwitchRecipe> report_switch_recipe(const ReportInput& in, const std::string& id);

}  // namespace bw
