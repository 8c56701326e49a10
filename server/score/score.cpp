#include "score/score.h"

#include "common/enum_names.h"

#include <cmath>
#include <map>
#include <set>

namespace bw {

using nlohmann::json;

namespace {
constexpr EnumNames<Grade, 5> kGrades{{"A", "B", "C", "D", "F"}};
}  // namespace

std::string_view grade_name(Grade g) {
  return kGrades.name(g);
}

std::optional<Grade> parse_grade(std::string_view name) {
  return kGrades.parse(name);
}

Grade grade_for(int s) {
  if (s >= 90) return Grade::A;
  if (s >= 80) return Grade::B;
  if (s >= 65) return Grade::C;
  if (s >= 40) return Grade::D;
  return Grade::F;
}

int score_for_deduction(int d) {
  if (d <= 60) return 100 - std::max(d, 0);
  return static_cast<int>(std::lround(40.0 * std::exp(-(d - 60) / 50.0)));
}

ScoreResult score_findings(const RuleCatalog& catalog, const std::vector<Finding>& findings,
                           std::optional<Origin> only) {
  std::map<std::string, int> rule_weight;  // once per rule: the largest weight among its findings
  for (auto& f : findings) {
    if (f.suppressed || (only && f.origin != *only)) continue;
    const RuleDef* d = catalog.find(f.rule_id);
    int w = f.weight >= 0 ? f.weight : (d ? d->weight : 0);
    rule_weight[f.rule_id] = std::max(rule_weight[f.rule_id], w);
  }
  std::map<std::string, std::pair<int, std::vector<std::string>>> by_category;
  int total = 0;
  for (auto& [id, w] : rule_weight) {
    const RuleDef* d = catalog.find(id);
    auto& slot = by_category[d ? d->category : "other"];
    slot.first += w;
    slot.second.push_back(id);
    total += w;
  }
  ScoreResult r;
  r.score = score_for_deduction(total);
  r.grade = grade_for(r.score);
  r.breakdown = json::array();
  for (auto& [cat, v] : by_category)
    r.breakdown.push_back({{"category", cat}, {"deduction", v.first}, {"findings", v.second}});
  return r;
}

}  // namespace bw
