#include "formats.h"

#include <cctype>
#include <map>
#include <sstream>

namespace bw::cli {
namespace {

using nlohmann::json;

int severity_rank(const std::string& s) {
  static const std::map<std::string, int> rank = {
      {"info", 0}, {"low", 1}, {"medium", 2}, {"high", 3}, {"critical", 4}};
  auto it = rank.find(s);
  return it == rank.end() ? 0 : it->second;
}

std::string sarif_level(const std::string& severity) {
  int r = severity_rank(severity);
  return r >= 3 ? "error" : r == 2 ? "warning" : "note";
}

// GitHub orders code-scanning alerts by this CVSS-like number.
std::string security_severity(const std::string& severity) {
  static const char* kScores[] = {"1.0", "3.0", "5.5", "8.0", "9.5"};
  return kScores[severity_rank(severity)];
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // XML 1.0 has no place for other control characters.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t' && c != '\r')
          out += ' ';
        else
          out += c;
    }
  }
  return out;
}

// Where a finding is: its path, else the history step or config key that shows it.
std::string where(const json& f) {
  const json& ev = f.value("evidence", json::object());
  if (ev.contains("path") && ev["path"].is_string() && !ev["path"].get<std::string>().empty())
    return "/" + ev["path"].get<std::string>();
  if (ev.contains("history_index")) return "history[" + ev["history_index"].dump() + "]";
  return ev.value("config_key", "");
}

std::string detail(const json& f) {
  const json& ev = f.value("evidence", json::object());
  std::string d = ev.value("detail", "");
  if (d.empty()) d = ev.value("created_by", "");
  return d;
}

bool live(const json& f) {
  return !f.value("suppressed", false);
}

}  // namespace

std::string to_sarif(const json& report, const json& rules, const std::string& tool_version) {
  json sarif_rules = json::array();
  std::map<std::string, std::size_t> index;
  for (auto& r : rules.value("rules", json::array())) {
    std::string id = r.value("id", "");
    index[id] = sarif_rules.size();
    std::string remediation = r.value("remediation", "");
    sarif_rules.push_back(
        {{"id", id},
         {"name", id},
         {"shortDescription", {{"text", r.value("title", id)}}},
         {"fullDescription", {{"text", r.value("rationale", r.value("title", id))}}},
         {"help",
          {{"text", remediation},
           {"markdown", "**" + r.value("title", id) + "**\n\n" + r.value("rationale", "") +
                            "\n\n**Fix:** " + remediation}}},
         {"defaultConfiguration", {{"level", sarif_level(r.value("severity", "info"))}}},
         {"properties",
          {{"security-severity", security_severity(r.value("severity", "info"))},
           {"tags", json::array({"security", "container", r.value("category", "")})}}}});
  }
  std::string image = report.value("image", "");
  std::string artifact = image.empty() ? report.value("manifest_digest", "image") : image;
  json results = json::array();
  for (auto& f : report.value("findings", json::array())) {
    if (!live(f)) continue;
    std::string id = f.value("rule_id", "");
    std::string loc = where(f);
    bool has_path = loc.starts_with("/");
    std::string text = f.value("title", id) + (detail(f).empty() ? "" : ": " + detail(f)) + " (" +
                       f.value("origin", "app") + " layer " +
                       f.value("layer_digest", "").substr(0, 19) + ")";
    json result = {
        {"ruleId", id},
        {"level", sarif_level(f.value("severity", "info"))},
        {"message", {{"text", text}}},
        {"locations",
         json::array({{{"physicalLocation",
                        {{"artifactLocation", {{"uri", has_path ? loc.substr(1) : artifact}}},
                         {"region", {{"startLine", 1}}}}},
                       {"logicalLocations",
                        json::array({{{"name", loc.empty() ? artifact : loc},
                                      {"fullyQualifiedName", artifact + (has_path ? loc : "")},
                                      {"kind", "resource"}}})}}})},
        {"partialFingerprints",
         {{"bulwarkFinding/v1", id + ":" + loc + ":" + report.value("manifest_digest", "")}}}};
    if (auto it = index.find(id); it != index.end()) result["ruleIndex"] = it->second;
    results.push_back(std::move(result));
  }
  json sarif = {
      {"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
      {"version", "2.1.0"},
      {"runs", json::array({{{"tool",
                              {{"driver",
                                {{"name", "bulwark"},
                                 {"version", tool_version},
                                 {"informationUri", "https://github.com/bulwark/bulwark"},
                                 {"rules", sarif_rules}}}}},
                             {"results", results},
                             {"properties",
                              {{"image", image},
                               {"manifestDigest", report.value("manifest_digest", "")},
                               {"score", report.value("score", 0)},
                               {"grade", report.value("grade", "")},
                               {"rulesetVersion", report.value("ruleset_version", "")}}}}})}};
  return sarif.dump(2);
}

std::string to_junit(const json& report, const json& rules, const json& scan) {
  const json findings = report.value("findings", json::array());  // the pointers below point here
  std::map<std::string, std::vector<const json*>> by_rule;
  for (auto& f : findings)
    if (live(f)) by_rule[f.value("rule_id", "")].push_back(&f);
  std::ostringstream cases;
  std::size_t tests = 0, failures = 0;
  for (auto& r : rules.value("rules", json::array())) {
    std::string id = r.value("id", "");
    ++tests;
    cases << "    <testcase classname=\"bulwark." << xml_escape(r.value("category", ""))
          << "\" name=\"" << xml_escape(id + " " + r.value("title", "")) << "\"";
    auto it = by_rule.find(id);
    if (it == by_rule.end()) {
      cases << "/>\n";
      continue;
    }
    ++failures;
    cases << ">\n      <failure type=\"" << xml_escape(r.value("severity", "")) << "\" message=\""
          << xml_escape(std::to_string(it->second.size()) + " finding(s): " + r.value("title", ""))
          << "\">";
    for (auto* f : it->second)
      cases << xml_escape(where(*f) + (detail(*f).empty() ? "" : " " + detail(*f))) << "\n";
    cases << xml_escape("Fix: " + r.value("remediation", "")) << "</failure>\n    </testcase>\n";
  }
  std::ostringstream out;
  std::string name = "bulwark " + report.value("image", scan.value("image", ""));
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<testsuites name=\"bulwark\" tests=\"" << tests << "\" failures=\"" << failures << "\">\n"
      << "  <testsuite name=\"" << xml_escape(name) << "\" tests=\"" << tests << "\" failures=\""
      << failures << "\" errors=\"0\" skipped=\"0\">\n"
      << "    <properties>\n"
      << "      <property name=\"score\" value=\"" << report.value("score", 0) << "\"/>\n"
      << "      <property name=\"grade\" value=\"" << xml_escape(report.value("grade", ""))
      << "\"/>\n"
      << "      <property name=\"verdict\" value=\"" << xml_escape(scan.value("verdict", ""))
      << "\"/>\n"
      << "    </properties>\n"
      << cases.str() << "  </testsuite>\n</testsuites>\n";
  return out.str();
}

std::string advice_line(const json& a) {
  std::string kind = a.value("action", ""), gain;
  if (a.value("score_gain", 0) > 0) gain = " (+" + std::to_string(a.value("score_gain", 0)) + ")";
  if (kind == "fix") return "fix " + a.value("rule_id", "") + ": " + a.value("step", "") + gain;
  if (kind == "switch")
    return "switch to " + a.value("base", "") + ": projected " +
           std::to_string(a.value("projected_score", 0)) + " (" + a.value("projected_grade", "") +
           ")" + gain + ", " + a.value("reason", "");
  return kind + " " + a.value("base", "") + ": " + a.value("reason", "");
}

std::string plan_line(const json& report) {
  const json plan = report.value("plan", json::object());
  const json steps = plan.value("steps", json::array());
  if (steps.empty()) return {};
  std::string out;
  for (auto& s : steps) {
    if (!out.empty()) out += ", ";
    out += s.value("action", "") == "switch" ? "switch to " + s.value("base", "")
                                             : "fix " + s.value("rule_id", "");
    out +=
        " → " + std::to_string(s.value("score_after", 0)) + " (" + s.value("grade_after", "") + ")";
  }
  if (plan.contains("why_not_b")) out += "; short of B: " + plan.value("why_not_b", "");
  return out;
}

std::string to_markdown(const json& report, const json& scan) {
  std::ostringstream out;
  out << "### Bulwark: `" << report.value("image", "") << "` grade **" << report.value("grade", "?")
      << "** (" << report.value("score", 0) << "/100)";
  if (scan.contains("verdict")) out << ", policy **" << scan["verdict"].get<std::string>() << "**";
  out << "\n\n";
  out << "Base `" << report["base"].value("name", "unknown") << "` ("
      << report["base"].value("method", "") << "); app score " << report.value("app_score", 0)
      << " (" << report.value("app_grade", "") << ").\n\n";
  const json all = report.value("findings", json::array());  // the pointers below point here
  std::vector<const json*> findings;
  for (auto& f : all)
    if (live(f)) findings.push_back(&f);
  std::stable_sort(findings.begin(), findings.end(), [](const json* a, const json* b) {
    return severity_rank(a->value("severity", "")) > severity_rank(b->value("severity", ""));
  });
  if (findings.empty()) {
    out << "No findings.\n\n";
  } else {
    out << "| severity | rule | where | layer |\n|---|---|---|---|\n";
    std::size_t shown = 0;
    for (auto* f : findings) {
      if (++shown > 15) break;
      out << "| " << f->value("severity", "") << " | " << f->value("rule_id", "") << " "
          << f->value("title", "") << " | `" << where(*f) << "` | " << f->value("origin", "")
          << " |\n";
    }
    if (findings.size() > 15) out << "\n… and " << findings.size() - 15 << " more.\n";
    out << "\n";
  }
  const json& recs = report.value("recommendations", json::array());
  if (!recs.empty()) {
    out << "**Advice**\n\n";
    for (std::size_t i = 0; i < recs.size() && i < 6; ++i)
      out << "- " << advice_line(recs[i]) << "\n";
    if (std::string plan = plan_line(report); !plan.empty()) out << "\n**Plan:** " << plan << "\n";
    for (auto& a : recs)
      if (a.value("action", "") == "switch" && !a.value("dockerfile", "").empty()) {
        out << "\n```dockerfile\n" << a["dockerfile"].get<std::string>() << "```\n";
        break;
      }
  }
  return out.str();
}

namespace {

// Package URL escaping: what is not unreserved is percent-encoded.
std::string purl_escape(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '.' || c == '-' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// pkg:deb/debian/bash@5.2-1?arch=amd64&distro=debian-12, as Syft and Trivy write them.
std::string purl(const json& p, const json& os) {
  std::string manager = p.value("manager", "");
  std::string type = manager == "dpkg" ? "deb" : manager == "apk" ? "apk" : "rpm";
  std::string family = os.is_object() ? os.value("family", "") : "";
  std::string ns = family.empty() ? (type == "deb"   ? "debian"
                                     : type == "apk" ? "alpine"
                                                     : "rpm")
                                  : family;
  std::string out = "pkg:" + type + "/" + purl_escape(ns) + "/" + purl_escape(p.value("name", "")) +
                    "@" + purl_escape(p.value("version", ""));
  std::string sep = "?";
  if (p.contains("arch")) {
    out += sep + "arch=" + purl_escape(p["arch"].get<std::string>());
    sep = "&";
  }
  if (!family.empty() && os.contains("name"))
    out += sep + "distro=" + purl_escape(family + "-" + os.value("name", ""));
  return out;
}

}  // namespace

std::string to_cyclonedx(const json& image, const json& report, const std::string& tool_version) {
  json components = json::array();
  const json os = image.value("os", json());
  if (os.is_object())
    components.push_back({{"type", "operating-system"},
                          {"bom-ref", "os:" + os.value("family", "") + "@" + os.value("name", "")},
                          {"name", os.value("family", "")},
                          {"version", os.value("name", "")},
                          {"description", os.value("pretty_name", "")}});
  std::map<std::string, int> seen;  // bom-refs must be unique
  for (auto& p : image.value("packages", json::array())) {
    std::string ref = purl(p, os);
    if (seen[ref]++) continue;
    json c = {{"type", "library"},
              {"bom-ref", ref},
              {"name", p.value("name", "")},
              {"version", p.value("version", "")},
              {"purl", ref}};
    json props = json::array({{{"name", "bulwark:package:db"}, {"value", p.value("db", "")}},
                              {{"name", "bulwark:layer"}, {"value", p.value("layer_digest", "")}}});
    if (p.contains("source_name"))
      props.push_back({{"name", "bulwark:package:source"}, {"value", p["source_name"]}});
    c["properties"] = props;
    components.push_back(std::move(c));
  }
  for (auto& x : image.value("executables", json::array())) {
    std::string path = "/" + x.value("path", "");
    if (seen["file:" + path]++) continue;
    const json elf = x.value("elf", json::object());
    json props = json::array({{{"name", "bulwark:layer"}, {"value", x.value("layer_digest", "")}}});
    for (const char* k : {"linkage", "pie", "relro", "nx", "canary"})
      if (elf.contains(k))
        props.push_back(
            {{"name", std::string("bulwark:elf:") + k},
             {"value", elf[k].is_string() ? elf[k].get<std::string>() : elf[k].dump()}});
    components.push_back(
        {{"type", "file"}, {"bom-ref", "file:" + path}, {"name", path}, {"properties", props}});
  }
  std::string digest = image.value("manifest_digest", "");
  json bom = {
      {"bomFormat", "CycloneDX"},
      {"specVersion", "1.5"},
      {"version", 1},
      {"metadata",
       {{"tools",
         {{"components",
           json::array(
               {{{"type", "application"}, {"name", "bulwark"}, {"version", tool_version}}})}}},
        {"component",
         {{"type", "container"},
          {"bom-ref", digest},
          {"name", report.value("image", digest)},
          {"version", digest}}}}},
      {"components", components}};
  if (digest.size() == 71)
    bom["serialNumber"] = "urn:uuid:" + digest.substr(7, 8) + "-" + digest.substr(15, 4) + "-5" +
                          digest.substr(20, 3) + "-8" + digest.substr(24, 3) + "-" +
                          digest.substr(27, 12);
  return bom.dump(2);
}

}  // namespace bw::cli
