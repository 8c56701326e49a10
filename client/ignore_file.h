// Suppressions as code: the ignore file a repository checks in (`.bulwarkignore`, YAML or JSON)
// and `--ignore`, applied to reports on the CLI's side so that every format shows what they
// suppress, and the policy is judged without it.
#pragma once

#include "common/error.h"
#include "rules/rules.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace bw::cli {

// Entries of an ignore file: a list of {rule (or rule_id), path?, image?, env_key?, reason?,
// expires?}, at the top level or under `ignore:` (or `suppressions:`, the API's name). The
// error names the file and the entry.
Result<std::vector<Suppression>> load_ignore_file(const std::string& path);

struct IgnoreOutcome {
  bool changed = false;              // some finding is now suppressed: re-scored
  std::vector<std::string> expired;  // "RULE path: expired YYYY-MM-DD", one per entry
};

// Marks the report's findings that `entries` or the rule ids of `--ignore` suppress
// (`suppressed`, `suppression_reason`, `suppressed_by`), or that only an expired entry covers
// (`suppression_expired`), and re-scores the report when any changed. `catalog` weighs the rules.
IgnoreOutcome apply_ignores(nlohmann::json& report, const std::vector<Suppression>& entries,
                            const std::vector<std::string>& ignore_ids, const std::string& source,
                            const RuleCatalog& catalog, std::chrono::system_clock::time_point now);

}  // namespace bw::cli
