// The hardening rule catalog (data: schema/rules.json) and its evaluation over an image's merged
// facts, config and history. Knows nothing of how facts were found.
#pragma once

#include "analyze/facts.h"
#include "common/error.h"
#include "rules/history.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bw {

// In rising order: a policy's fail_on compares them.
enum class Severity : std::uint8_t { info, low, medium, high, critical };
std::string_view severity_name(Severity s);
std::optional<Severity> parse_severity(std::string_view name);

// Whether a finding comes from the base image's layers or from the app's own layers and config.
enum class Origin : std::uint8_t { base, app };
std::string_view origin_name(Origin o);
// JSON holds the names, never the numbers.
inline void to_json(nlohmann::json& j, Severity s) {
  j = severity_name(s);
}
inline void to_json(nlohmann::json& j, Origin o) {
  j = origin_name(o);
}

struct RuleDef {
  std::string id, title, category;
  Severity severity = Severity::info;
  std::string rationale, remediation, dockle, trivy;
  int weight = 0;
  std::vector<std::string> references;
};

class RuleCatalog {
 public:
  static Result<std::shared_ptr<const RuleCatalog>> parse(std::string_view json_text);
  // schema/rules.json as embedded in the binary.
  static std::shared_ptr<const RuleCatalog> builtin();

  const RuleDef* find(std::string_view id) const;
  const std::vector<RuleDef>& rules() const { return rules_; }
  // "rs-" + the first 12 hex digits of the catalog's sha256: changes with any rule change.
  const std::string& version() const { return version_; }

 private:
  std::vector<RuleDef> rules_;
  std::string version_;
};

struct Evidence {
  std::string path;
  int history_index = -1;
  std::string created_by;
  std::string config_key;
  std::string detail;
};

struct Finding {
  std::string rule_id, title, category;
  Severity severity = Severity::info;
  Evidence evidence;
  std::string layer_digest;  // the layer that introduced it; empty for config-only findings
  Origin origin = Origin::app;
  bool suppressed = false;
  int weight = -1;  // overrides the catalog weight when set (BW-PKGCOUNT scales with the count)
  std::string suppression_reason;   // the matching suppression's reason, when it gave one
  std::string suppression_expired;  // not suppressed: the expiry of the one that matched
  // How many more findings of this rule, origin and suppression state the image has past
  // kMaxFindingsPerRule: counted, not listed.
  std::size_t more = 0;
};

// Bounds on what an image can make a report carry, whatever it holds (README "Limits"). A
// report holds at most kMaxFindingsPerRule findings per rule, origin and suppression state,
// each evidence field at most kMaxEvidenceText bytes (clip()'s marker past it), so its size
// follows the catalog, not the image.
inline constexpr std::size_t kMaxFindingsPerRule = 10;
inline constexpr std::size_t kMaxEvidenceText = 1024;

struct Suppression {
  std::string rule_id;  // required
  std::string path;     // optional: the evidence path, or a directory prefix ending in '/'
  std::string env_key;  // optional: for BW-SECRET-ENV, the variable name
  std::string reason;   // optional: why it is accepted, shown with the suppressed finding
  // optional: the images it applies to, normalised: one reference ("registry/repo:tag" or
  // "…@digest"), a repository ("registry/repo": every tag), or a prefix ending in '/'
  // ("registry/team/"). Empty: every image.
  std::string image;
  // optional: the last day (YYYY-MM-DD, UTC) it suppresses; after it, the finding counts again
  // and says which suppression expired. Empty: never.
  std::string expires;
};

struct RuleInput {
  const ImageSummary& summary;             // summarize_image()
  const nlohmann::json& config;            // the image config JSON
  std::vector<std::string> layer_digests;  // bottom first
  std::size_t base_layers = 0;             // layers [0, base_layers) are the base
  std::string tag;                         // the tag scanned by; empty when by digest
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
  int max_image_age_days = 90;
  // Suppressions are applied as findings are made, so that kMaxFindingsPerRule counts suppressed
  // findings apart from counted ones: a suppression of the first few never hides the rest.
  const std::vector<Suppression>* suppressions = nullptr;
  std::vector<std::string> image_names = {};  // as for apply_suppressions
};

// The catalog as GET /v1/rules serves it: {"ruleset_version", "rules": [...]}.
nlohmann::json to_json(const RuleCatalog& catalog);

// Findings past kMaxFindingsPerRule are counted in the last one kept (Finding::more); the
// work is linear in the config and the facts.
std::vector<Finding> evaluate_rules(const RuleCatalog& catalog, const RuleInput& input);
// Marks the findings of the image known by `image_names` (the reference scanned, and every
// other it was tagged as) that a suppression in force at `now` covers; one that only an
// expired suppression covers stays counted and names the expiry.
void apply_suppressions(std::vector<Finding>& findings,
                        const std::vector<Suppression>& suppressions,
                        const std::vector<std::string>& image_names,
                        std::chrono::system_clock::time_point now);
// Whether `s` applies to an image known by any of `image_names`, and whether it is past its
// expiry.
bool suppression_covers_image(const Suppression& s, const std::vector<std::string>& image_names);
bool suppression_expired(const Suppression& s, std::chrono::system_clock::time_point now);

nlohmann::json to_json(const Finding& f);
Finding finding_from_json(const nlohmann::json& j);
nlohmann::json to_json(const Suppression& s);
Result<Suppression> suppression_from_json(const nlohmann::json& j);

// Whether a `User` value means root (empty, root, 0, 0:0, root:root, or a name passwd maps
// to uid 0). `accounts` is the summary's list.
bool user_is_root(std::string_view user, const std::vector<Account>& accounts);

}  // namespace bw
