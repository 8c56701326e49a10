// Report formats that CI systems read, made from a report and a scan as the API serves them:
// SARIF 2.1.0 (code scanning), JUnit XML (GitLab, Jenkins), Markdown (a pull-request comment).
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace bw::cli {

// `rules` is GET /v1/rules: every rule becomes a SARIF rule with its help text and remediation;
// every live finding a result located at its path (or the image, for config and history).
std::string to_sarif(const nlohmann::json& report, const nlohmann::json& rules,
                     const std::string& tool_version);
// One test case per rule of the catalog; a rule with live findings fails.
std::string to_junit(const nlohmann::json& report, const nlohmann::json& rules,
                     const nlohmann::json& scan);
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
