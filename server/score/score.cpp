#include "score/score.h"

#include <map>
#include <set>

namespace bw {

using nlohmann::json;

std::string grade_for(int s) {
  if (s >= 90) return "A";
  if (s >= 80) return "B";
  if (s >= 65) return "C";
  if (s >= 40) return "D";
  return "F";
}

ScoreResult score_findings(const RuleCatalog& catalog, const std::vector<Finding>& findings,
                           bool app_only) {
  std::map<std::string, int> rule_weight;  // once per rule: the largest weight among its findings
  for (auto& f : findings) {
    if (f.suppressed || (app_only && f.origin != "app")) continue;
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
  r.score = std::max(0, 100 - total);
  r.grade = grade_for(r.score);
  r.breakdown = json::array();
  for (auto& [cat, v] : by_category)
    r.breakdown.push_back({{"category", cat}, {"deduction", v.first}, {"findings", v.second}});
  return r;
}

}  // namespace bw
