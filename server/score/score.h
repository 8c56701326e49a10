// Scores, grades, base-image detection and recommendations, from rule findings and merged facts.
#pragma once

#include "rules/rules.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bw {

enum class Grade : std::uint8_t { A, B, C, D, F };
std::string_view grade_name(Grade g);
std::optional<Grade> parse_grade(std::string_view name);
inline void to_json(nlohmann::json& j, Grade g) {
  j = grade_name(g);
}

struct ScoreResult {
  int score = 100;
  Grade grade = Grade::A;
  nlohmann::json breakdown;  // [{category, deduction, findings: [rule ids]}]
};

// 100 minus each firing rule's weight (once per rule, suppressed findings excluded), floored at 0.
// With app_only, only findings whose origin is "app" count.
ScoreResult score_findings(const RuleCatalog& catalog, const std::vector<Finding>& findings,
                           bool app_only = false);
// A ≥ 90, B ≥ 80, C ≥ 65, D ≥ 40, F below.
Grade grade_for(int score);

struct BaseInfo {
  std::string name;                 // "debian:12", "distroless/static", a reference image, or ""
  std::string method = "none";      // annotation | layer-match | os-release | history | none
  std::string confidence = "none";  // high | medium | low | none
  std::size_t layers = 0;           // how many bottom layers are the base
};

struct ReferenceImage {
  std::string name;
  std::string manifest_digest;
  std::vector<std::string> layers;
};

BaseInfo detect_base(const nlohmann::json& manifest, const nlohmann::json& config,
                     const ImageSummary& summary, const std::vector<std::string>& layers,
                     const std::vector<ReferenceImage>& references);

// Candidate bases from schema/bases.json ranked by projected score, then compatibility risk.
nlohmann::json recommend_bases(const RuleCatalog& catalog, const std::vector<Finding>& findings,
                               const ImageSummary& summary, const nlohmann::json& config,
                               const BaseInfo& base, const std::vector<std::string>& layers,
                               int current_score, std::uint64_t base_bytes);

}  // namespace bw
