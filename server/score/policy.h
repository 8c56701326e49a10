// A scan's policy ({"fail_under", "fail_on", "ignore"}) judged against its report: the verdict
// CI gates on. Judged once, when the scan ends, and stored with it.
#pragma once

#include "rules/rules.h"
#include "score/score.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace bw {

enum class Verdict : std::uint8_t { none, pass, fail };  // none: no policy
inline void to_json(nlohmann::json& j, Verdict v) {
  j = v == Verdict::pass ? nlohmann::json("pass") : v == Verdict::fail ? "fail" : nullptr;
}

struct ScanResult {
  int score = -1;  // -1: not scored
  Grade grade = Grade::F;
  Verdict verdict = Verdict::none;
  std::vector<std::string> reasons;  // why it failed
};

// `policy` is the scan's policy JSON, or empty. Rules in `ignore` are left out of the score and
// of fail_on, as suppressions are.
ScanResult judge_report(const nlohmann::json& report, const std::string& policy,
                        const RuleCatalog& rules);

// A multi-platform scan: the worst of its platforms' results (fail if any fails, the lowest
// score). `children` pairs each platform with its result; a missing score means it failed.
ScanResult combine_results(const std::vector<std::pair<std::string, ScanResult>>& children);

nlohmann::json to_json(const ScanResult& r);
ScanResult scan_result_from_json(const nlohmann::json& j);

}  // namespace bw
