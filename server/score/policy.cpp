#include "score/policy.h"

#include "score/score.h"

#include <algorithm>
#include <set>

namespace bw {
namespace {

using nlohmann::json;

}  // namespace

ScanResult judge_report(const json& report, const std::string& policy_text,
                        const RuleCatalog& rules) {
  ScanResult out;
  out.score = report.value("score", -1);
  out.grade = parse_grade(report.value("grade", "")).value_or(grade_for(out.score));
  if (policy_text.empty()) return out;
  json policy = json::parse(policy_text, nullptr, false);
  if (!policy.is_object()) return out;
  std::vector<std::string> ignore = policy.value("ignore", std::vector<std::string>{});
  std::vector<Finding> findings;
  for (auto& f : report.value("findings", json::array())) {
    Finding x = finding_from_json(f);
    if (std::find(ignore.begin(), ignore.end(), x.rule_id) != ignore.end()) x.suppressed = true;
    findings.push_back(std::move(x));
  }
  int score = score_findings(rules, findings).score;
  if (policy.contains("fail_under") && score < policy["fail_under"].get<int>())
    out.reasons.push_back("score " + std::to_string(score) + " is under " +
                          std::to_string(policy["fail_under"].get<int>()));
  if (policy.contains("fail_on")) {
    Severity limit = parse_severity(policy["fail_on"].get<std::string>()).value_or(Severity::info);
    std::set<std::string> hit;
    for (auto& f : findings)
      if (!f.suppressed && f.severity >= limit && hit.insert(f.rule_id).second)
        out.reasons.push_back(f.rule_id + " (" + std::string(severity_name(f.severity)) +
                              ") at or above fail_on " + policy["fail_on"].get<std::string>());
  }
  out.verdict = out.reasons.empty() ? Verdict::pass : Verdict::fail;
  return out;
}

ScanResult combine_results(const std::vector<std::pair<std::string, ScanResult>>& children) {
  ScanResult out;
  bool judged = false;
  for (auto& [platform, r] : children) {
    if (r.score >= 0 && (out.score < 0 || r.score < out.score)) {
      out.score = r.score;
      out.grade = r.grade;
    }
    if (r.verdict != Verdict::none) judged = true;
    if (r.verdict == Verdict::fail)
      for (auto& why : r.reasons) out.reasons.push_back(platform + ": " + why);
    if (r.score < 0) out.reasons.push_back(platform + ": not scanned");
  }
  if (judged) out.verdict = out.reasons.empty() ? Verdict::pass : Verdict::fail;
  return out;
}

json to_json(const ScanResult& r) {
  json j = json::object();
  if (r.score >= 0) {
    j["score"] = r.score;
    j["grade"] = grade_name(r.grade);
  }
  if (r.verdict != Verdict::none) {
    j["verdict"] = r.verdict;
    j["reasons"] = r.reasons;
  }
  return j;
}

ScanResult scan_result_from_json(const json& j) {
  ScanResult r;
  if (!j.is_object()) return r;
  if (auto s = j.find("score"); s != j.end() && s->is_number_integer()) r.score = s->get<int>();
  if (auto g = j.find("grade"); g != j.end() && g->is_string())
    r.grade = parse_grade(g->get_ref<const std::string&>()).value_or(grade_for(r.score));
  if (auto v = j.find("verdict"); v != j.end() && v->is_string())
    r.verdict = *v == "pass" ? Verdict::pass : *v == "fail" ? Verdict::fail : Verdict::none;
  if (auto rs = j.find("reasons"); rs != j.end() && rs->is_array())
    for (auto& x : *rs)
      if (x.is_string()) r.reasons.push_back(x);
  return r;
}

}  // namespace bw
