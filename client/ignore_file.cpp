#include "ignore_file.h"

#include "score/score.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>

namespace bw::cli {
namespace {

using nlohmann::json;

// YAML scalars stay strings (an `expires: 2027-01-31` is a date string either way); JSON is YAML.
json to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      json out = json::object();
      for (auto it = n.begin(); it != n.end(); ++it)
        out[it->first.as<std::string>()] = to_json(it->second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (auto it = n.begin(); it != n.end(); ++it) out.push_back(to_json(*it));
      return out;
    }
    case YAML::NodeType::Scalar:
      return n.as<std::string>();
    default:
      return nullptr;
  }
}

std::string describe(const Suppression& s) {
  return s.rule_id + (s.path.empty() ? "" : " " + s.path) +
         (s.image.empty() ? "" : " (" + s.image + ")");
}

}  // namespace

Result<std::vector<Suppression>> load_ignore_file(const std::string& path) {
  json doc;
  try {
    doc = to_json(YAML::LoadFile(path));
  } catch (const YAML::Exception& e) {
    return make_error(Errc::bad_request, path + ": " + e.what());
  }
  json list = doc;
  if (doc.is_object())
    list = doc.contains("ignore") ? doc["ignore"] : doc.value("suppressions", json());
  if (doc.is_null()) list = json::array();  // an empty file ignores nothing
  if (!list.is_array())
    return make_error(Errc::bad_request,
                      path + ": expected a list of entries, at the top or under \"ignore:\"");
  std::vector<Suppression> out;
  for (std::size_t i = 0; i < list.size(); ++i) {
    json e = list[i];
    if (e.is_object() && e.contains("rule") && !e.contains("rule_id")) {
      e["rule_id"] = e["rule"];
      e.erase("rule");
    }
    if (e.is_object())
      for (auto& [k, v] : e.items())
        if (k != "rule_id" && k != "path" && k != "image" && k != "env_key" && k != "reason" &&
            k != "expires")
          return make_error(Errc::bad_request,
                            path + ": entry " + std::to_string(i + 1) + ": unknown key \"" + k +
                                "\" (rule, path, image, env_key, reason, expires)");
    auto s = suppression_from_json(e);
    if (!s)
      return make_error(Errc::bad_request,
                        path + ": entry " + std::to_string(i + 1) + ": " + s.error().message);
    out.push_back(std::move(*s));
  }
  return out;
}

IgnoreOutcome apply_ignores(json& report, const std::vector<Suppression>& entries,
                            const std::vector<std::string>& ignore_ids, const std::string& source,
                            const RuleCatalog& catalog, std::chrono::system_clock::time_point now) {
  IgnoreOutcome out;
  if (!report.is_object() || !report.contains("findings")) return out;
  std::vector<std::string> names = {report.value("image", "")};
  for (auto& t : report.value("tags", json::array()))
    if (t.is_string()) names.push_back(t);
  std::vector<Finding> findings;
  for (auto& f : report["findings"]) findings.push_back(finding_from_json(f));
  for (auto& s : entries)
    if (suppression_expired(s, now) && suppression_covers_image(s, names))
      out.expired.push_back(describe(s) + ": expired " + s.expires +
                            (s.reason.empty() ? "" : " (" + s.reason + ")"));
  std::vector<Finding> marked = findings;
  apply_suppressions(marked, entries, names, now);
  for (std::size_t i = 0; i < marked.size(); ++i) {
    json& f = report["findings"][i];
    if (findings[i].suppressed) continue;  // the server's suppression stands
    bool by_flag =
        std::find(ignore_ids.begin(), ignore_ids.end(), marked[i].rule_id) != ignore_ids.end();
    if (marked[i].suppressed || by_flag) {
      f["suppressed"] = true;
      f["suppressed_by"] = marked[i].suppressed ? source : "--ignore";
      std::string reason = marked[i].suppressed ? marked[i].suppression_reason : "";
      if (reason.empty()) reason = marked[i].suppressed ? "listed in " + source : "--ignore";
      f["suppression_reason"] = reason;
      f.erase("suppression_expired");
      marked[i].suppressed = true;
      out.changed = true;
    } else if (!marked[i].suppression_expired.empty()) {
      f["suppression_expired"] = marked[i].suppression_expired;
    }
  }
  if (out.changed) {
    auto whole = score_findings(catalog, marked);
    report["score"] = whole.score;
    report["grade"] = grade_name(whole.grade);
    if (report.contains("app_score")) {
      auto app = score_findings(catalog, marked, Origin::app);
      report["app_score"] = app.score;
      report["app_grade"] = grade_name(app.grade);
    }
  }
  return out;
}

}  // namespace bw::cli
