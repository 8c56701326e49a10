// Secret detection in file content with RE2: a keyword pre-filter, then each rule's regex; the
// reported span is the rule's secret group; allow rules drop known noise by path or by match.
// Values are always masked in what is returned; what is stored (to_json) masks with a fixed
// width so that the secret's length is not revealed either.
#pragma once

#include "common/error.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bw {

struct SecretFinding {
  std::string rule_id;
  std::string title;
  std::string category;
  std::string severity;
  // The line, secret bytes replaced by '*' (Trivy's form), cut around the secret if long.
  // to_json() masks [mask_at, mask_at + mask_len) with the fixed-width kSecretMask instead.
  std::string match;
  std::size_t mask_at = 0;
  std::size_t mask_len = 0;
  int start_line = 0;
  int end_line = 0;
  std::size_t offset = 0;        // byte offset of the secret in the scanned (CR-stripped) content
  std::size_t length = 0;        // of the secret
  std::size_t fallback_end = 0;  // non-zero for a fallback rule's finding (internal)
};

class SecretRules {
 public:
  // Parses a catalog: {"rules": [{ID, Title, Category, Severity, Regex, SecretGroupName?,
  // Keywords?, Path?, AllowRules?}], "builtinAllowRules"|"allowRules": [{ID, Path?, Regex?}]}.
  // `disabled_allow_rules` names allow rules to leave out.
  static Result<std::shared_ptr<const SecretRules>> parse(
      std::string_view json, const std::vector<std::string>& disabled_allow_rules = {});
  // Bulwark's own catalog, embedded from schema/secret_rules.json.
  static std::shared_ptr<const SecretRules> builtin();

  ~SecretRules();
  // Scans content (CRs are stripped first); `path` is layer-relative. Sorted by rule id, then
  // match.
  std::vector<SecretFinding> scan(std::string_view path, std::string_view content) const;
  std::size_t size() const;

 private:
  struct Impl;
  SecretRules();
  std::unique_ptr<Impl> impl_;
};

// The match as stored and served: the secret replaced by the fixed-width kSecretMask.
std::string masked_match(const SecretFinding& f);
nlohmann::json to_json(const SecretFinding& f);
// A stored finding: its match is already masked and is kept as it is.
SecretFinding secret_finding_from_json(const nlohmann::json& j);

}  // namespace bw
