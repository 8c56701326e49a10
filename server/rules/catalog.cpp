#include "common/digest.h"
#include "common/embedded.h"
#include "common/enum_names.h"
#include "rules/rules.h"

namespace bw {

namespace {
constexpr EnumNames<Severity, 5> kSeverities{{"info", "low", "medium", "high", "critical"}};
}  // namespace

std::string_view severity_name(Severity s) {
  return kSeverities.name(s);
}

std::optional<Severity> parse_severity(std::string_view name) {
  return kSeverities.parse(name);
}

std::string_view origin_name(Origin o) {
  return o == Origin::base ? "base" : "app";
}

Result<std::shared_ptr<const RuleCatalog>> RuleCatalog::parse(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("rules") || !j["rules"].is_array())
    return make_error(Errc::bad_request, "rules: not a rule catalog ({\"rules\": […]})");
  auto out = std::make_shared<RuleCatalog>();
  try {
    for (auto& r : j["rules"]) {
      RuleDef d;
      d.id = r.at("id").get<std::string>();
      d.title = r.at("title").get<std::string>();
      d.category = r.at("category").get<std::string>();
      std::string severity = r.at("severity").get<std::string>();
      d.weight = r.at("weight").get<int>();
      d.rationale = r.value("rationale", "");
      d.remediation = r.value("remediation", "");
      d.dockle = r.value("dockle", "");
      d.trivy = r.value("trivy", "");
      d.references = r.value("references", std::vector<std::string>{});
      auto known = parse_severity(severity);
      if (!known)
        return make_error(Errc::bad_request,
                          "rules: " + d.id + " has unknown severity " + severity);
      d.severity = *known;
      if (d.weight < 0 || d.weight > 100)
        return make_error(Errc::bad_request, "rules: " + d.id + " weight out of 0..100");
      out->rules_.push_back(std::move(d));
    }
  } catch (const nlohmann::json::exception& e) {
    return make_error(Errc::bad_request, std::string("rules: ") + e.what());
  }
  out->version_ = "rs-" + sha256_digest(text).substr(7, 12);
  return std::shared_ptr<const RuleCatalog>(std::move(out));
}

std::shared_ptr<const RuleCatalog> RuleCatalog::builtin() {
  auto r = parse(schema_files::get("rules.json"));
  if (!r) throw std::runtime_error("embedded rules.json: " + r.error().message);
  return *r;
}

const RuleDef* RuleCatalog::find(std::string_view id) const {
  for (auto& r : rules_)
    if (r.id == id) return &r;
  return nullptr;
}

nlohmann::json to_json(const RuleCatalog& catalog) {
  nlohmann::json rules = nlohmann::json::array();
  for (auto& r : catalog.rules())
    rules.push_back({{"id", r.id},
                     {"title", r.title},
                     {"category", r.category},
                     {"severity", severity_name(r.severity)},
                     {"weight", r.weight},
                     {"rationale", r.rationale},
                     {"remediation", r.remediation},
                     {"references", r.references},
                     {"dockle", r.dockle},
                     {"trivy", r.trivy}});
  return {{"ruleset_version", catalog.version()}, {"rules", std::move(rules)}};
}

}  // namespace bw
