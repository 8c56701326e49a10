// Report formats that CI systems read, made from a report and a scan as the API serves them:
// SARIF 2.1.0 (code scanning), JUnit XML (GitLab, Jenkins), Markdown (a pull-request comment).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace bw::cli {

// One platform's scan (as GET /v1/scans/{id}) and its report (as GET /v1/images/{d}/report).
struct Scanned {
  nlohmann::json scan, report;
};

// `rules` is GET /v1/rules: every rule becomes a SARIF rule with its help text and remediation;
// every finding a result at its path (or the image, for config and history), suppressed ones
// with a `suppressions` entry and its justification. One run per item: several (a
// multi-platform scan) carry `automationDetails.id` "bulwark-OS-ARCH/" so that code scanning
// keeps them apart. `partialFingerprints` come from the rule, where the finding is (path, config
// key or build step) and what it says, never a digest: a rebuild keeps its alerts.
std::string to_sarif(const std::vector<Scanned>& items, const nlohmann::json& rules,
                     const std::string& tool_version);
// One test suite per item, one test case per rule of the catalog. A case fails only when the
// policy fails by it (`fail_on`); live findings under the policy are listed in the case's
// output, a rule with only suppressed findings is skipped, and `fail_under` is a case of its own.
std::string to_junit(const std::vector<Scanned>& items, const nlohmann::json& rules,
                     const nlohmann::json& policy);
// A build step's command as its Dockerfile said it ("RUN curl … | sh", "ADD https://… /x"), from
// a history entry's created_by: shell prefixes and BuildKit's marks taken off, secrets masked,
// at most `max` code points (0: all of it).
std::string build_step(const std::string& created_by, std::size_t max);
// `text` cut to `max` code points, the last one "…" when cut (0: not cut).
std::string shorten(const std::string& text, std::size_t max);
// A CycloneDX 1.5 SBOM of the image record (GET /v1/images/{digest}): the OS, its packages
// with package URLs, and the executables.
std::string to_cyclonedx(const nlohmann::json& image, const nlohmann::json& report,
                         const std::string& tool_version);
// One line for an advice action: "switch to IMAGE: 40 → 52 (+12), why", "fix RULE: step (+15)",
// "keep BASE: why".
std::string advice_line(const nlohmann::json& action);
// The report's plan as one line: "switch to X → 74 (C), fix BW-USER-ROOT → 89 (B), …", and
// what keeps it from B; empty without a plan.
std::string plan_line(const nlohmann::json& report);
// Grade, score, verdict, the findings by severity, and the advice with the best switch's
// Dockerfile.
std::string to_markdown(const nlohmann::json& report, const nlohmann::json& scan);

}  // namespace bw::cli
