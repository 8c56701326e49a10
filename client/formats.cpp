#include "formats.h"

#include "common/digest.h"
#include "common/text.h"
#include "rules/history.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <regex>
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

// GitHub keeps at most 25,000 results of a run.
constexpr std::size_t kSarifMaxResults = 25'000;

// What makes a finding the same one in the next build: its rule, where it is (a path, a config
// key, or the build step's text; never a history index or a digest, which a rebuild changes)
// and what it says, with digests taken out.
std::string fingerprint(const json& f) {
  const json& ev = f.value("evidence", json::object());
  std::string at = ev.value("path", "");
  if (at.empty()) at = ev.value("config_key", "");
  if (at.empty() && ev.contains("created_by"))
    at = "step:" + build_step(ev.value("created_by", ""), 0);
  std::string said = ev.value("detail", "");
  static const std::regex kDigest("sha(256|512):[0-9a-f]{8,128}|history\\[[0-9]+\\]");
  said = std::regex_replace(said, kDigest, "");
  std::string key = f.value("rule_id", "") + "\n" + at + "\n" + said;
  return sha256_digest(key).substr(7, 32);
}

}  // namespace

std::string to_sarif(const std::vector<Scanned>& items, const json& rules,
                     const std::string& tool_version) {
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
  json runs = json::array();
  for (auto& item : items) {
    const json& report = item.report;
    std::string image = report.value("image", item.scan.value("image", ""));
    std::string artifact = image.empty() ? report.value("manifest_digest", "image") : image;
    json results = json::array();
    std::size_t left_out = 0;
    for (auto& f : report.value("findings", json::array())) {
      if (results.size() >= kSarifMaxResults) {
        ++left_out;
        continue;
      }
      std::string id = f.value("rule_id", "");
      std::string loc = where(f);
      bool has_path = loc.starts_with("/");
      std::string text = f.value("title", id) + (detail(f).empty() ? "" : ": " + detail(f)) +
                         " (in the " + (f.value("origin", "app") == "base" ? "base image" : "app") +
                         "'s layers)";
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
          {"partialFingerprints", {{"bulwarkFinding/v2", fingerprint(f)}}}};
      if (auto it = index.find(id); it != index.end()) result["ruleIndex"] = it->second;
      if (f.value("suppressed", false)) {
        std::string why = f.value("suppression_reason", "");
        json sup = {{"kind", "external"}, {"status", "accepted"}};
        if (!why.empty()) sup["justification"] = why;
        result["suppressions"] = json::array({sup});
      }
      results.push_back(std::move(result));
    }
    json props = {{"image", image},
                  {"platform", item.scan.value("platform", "")},
                  {"manifestDigest", report.value("manifest_digest", "")},
                  {"score", report.value("score", 0)},
                  {"grade", report.value("grade", "")},
                  {"rulesetVersion", report.value("ruleset_version", "")}};
    if (left_out) props["resultsLeftOut"] = left_out;
    json run = {{"tool",
                 {{"driver",
                   {{"name", "bulwark"},
                    {"version", tool_version},
                    {"semanticVersion", tool_version},
                    {"rules", sarif_rules}}}}},
                {"results", results},
                {"properties", props}};
    if (items.size() > 1) {
      std::string category = "bulwark-" + item.scan.value("platform", "");
      std::replace(category.begin(), category.end(), '/', '-');
      run["automationDetails"] = {{"id", category + "/"}};
    }
    runs.push_back(std::move(run));
  }
  json sarif = {{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
                {"version", "2.1.0"},
                {"runs", runs}};
  return sarif.dump(2);
}

std::string to_junit(const std::vector<Scanned>& items, const json& rules, const json& policy) {
  std::optional<int> fail_on;
  if (policy.contains("fail_on")) fail_on = severity_rank(policy["fail_on"].get<std::string>());
  std::ostringstream suites;
  std::size_t all_tests = 0, all_failures = 0, all_skipped = 0;
  for (auto& item : items) {
    const json& report = item.report;
    const json& scan = item.scan;
    const json findings = report.value("findings", json::array());  // pointers below point here
    std::map<std::string, std::vector<const json*>> live_by_rule, suppressed_by_rule;
    for (auto& f : findings)
      (live(f) ? live_by_rule : suppressed_by_rule)[f.value("rule_id", "")].push_back(&f);
    std::ostringstream cases;
    std::size_t tests = 0, failures = 0, skipped = 0;
    if (policy.contains("fail_under")) {
      ++tests;
      int under = policy["fail_under"].get<int>(), score = report.value("score", 0);
      cases << "    <testcase classname=\"bulwark.policy\" name=\"score at least " << under << "\"";
      if (score < under) {
        ++failures;
        cases << ">\n      <failure type=\"policy\" message=\"score " << score << " is under "
              << under << "\"/>\n    </testcase>\n";
      } else {
        cases << "/>\n";
      }
    }
    for (auto& r : rules.value("rules", json::array())) {
      std::string id = r.value("id", "");
      ++tests;
      cases << "    <testcase classname=\"bulwark." << xml_escape(r.value("category", ""))
            << "\" name=\"" << xml_escape(id + " " + r.value("title", "")) << "\"";
      auto it = live_by_rule.find(id);
      if (it == live_by_rule.end()) {
        auto sup = suppressed_by_rule.find(id);
        if (sup == suppressed_by_rule.end()) {
          cases << "/>\n";
          continue;
        }
        ++skipped;
        cases << ">\n      <skipped message=\""
              << xml_escape("suppressed: " + sup->second.front()->value("suppression_reason", ""))
              << "\"/>\n    </testcase>\n";
        continue;
      }
      std::ostringstream listed;
      for (auto* f : it->second)
        listed << xml_escape(where(*f) + (detail(*f).empty() ? "" : " " + detail(*f))) << "\n";
      listed << xml_escape("Fix: " + r.value("remediation", ""));
      int worst = 0;
      for (auto* f : it->second) worst = std::max(worst, severity_rank(f->value("severity", "")));
      if (fail_on && worst >= *fail_on) {
        ++failures;
        cases << ">\n      <failure type=\"" << xml_escape(r.value("severity", ""))
              << "\" message=\""
              << xml_escape(std::to_string(it->second.size()) +
                            " finding(s) at or above fail_on: " + r.value("title", ""))
              << "\">" << listed.str() << "</failure>\n    </testcase>\n";
      } else {
        // Under the policy: shown, not failed.
        cases << ">\n      <system-out>" << listed.str() << "</system-out>\n    </testcase>\n";
      }
    }
    std::string platform = scan.value("platform", "");
    std::string name = "bulwark " + report.value("image", scan.value("image", "")) +
                       (platform.empty() ? "" : " (" + platform + ")");
    suites << "  <testsuite name=\"" << xml_escape(name) << "\" tests=\"" << tests
           << "\" failures=\"" << failures << "\" errors=\"0\" skipped=\"" << skipped << "\">\n"
           << "    <properties>\n"
           << "      <property name=\"score\" value=\"" << report.value("score", 0) << "\"/>\n"
           << "      <property name=\"grade\" value=\"" << xml_escape(report.value("grade", ""))
           << "\"/>\n"
           << "      <property name=\"verdict\" value=\"" << xml_escape(scan.value("verdict", ""))
           << "\"/>\n"
           << "    </properties>\n"
           << cases.str() << "  </testsuite>\n";
    all_tests += tests;
    all_failures += failures;
    all_skipped += skipped;
  }
  std::ostringstream out;
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<testsuites name=\"bulwark\" tests=\"" << all_tests << "\" failures=\"" << all_failures
      << "\" skipped=\"" << all_skipped << "\">\n"
      << suites.str() << "</testsuites>\n";
  return out.str();
}

std::string build_step(const std::string& created_by, std::size_t max) {
  std::string s = mask_secret_assignments(created_by);
  auto trim = [&s] {
    s.erase(0, std::min(s.find_first_not_of(" \t\n"), s.size()));
    s.erase(s.find_last_not_of(" \t\n") + 1);
  };
  trim();
  // BuildKit writes "|2 A=1 B=2 /bin/sh -c …" when build args are in force.
  if (s.starts_with("|"))
    if (auto sh = s.find("/bin/sh -c "); sh != std::string::npos) s.erase(0, sh);
  std::string verb;
  if (s.starts_with("RUN ")) {
    verb = "RUN ";
    s.erase(0, 4);
    trim();
  }
  if (s.starts_with("/bin/sh -c ")) {
    s.erase(0, 11);
    trim();
    verb = "RUN ";
  }
  if (s.starts_with("#(nop)")) {  // a Dockerfile instruction other than RUN, written as is
    s.erase(0, 6);
    trim();
    verb.clear();
  }
  if (s.ends_with("# buildkit")) {
    s.resize(s.size() - 10);
    trim();
  }
  std::string out = verb;
  for (char c : s) {
    if (c == '\n' || c == '\t' || c == '\r') c = ' ';
    if (c == ' ' && !out.empty() && out.back() == ' ') continue;
    out += c;
  }
  return shorten(out, max);
}

std::string shorten(const std::string& text, std::size_t max) {
  // Counted in code points; a cut never splits a UTF-8 sequence.
  std::size_t points = 0, cut = std::string::npos;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (points == (max > 0 ? max - 1 : 0)) cut = i;
    ++points;
  }
  if (points <= max || max == 0) return text;
  return text.substr(0, cut) + "…";
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

// A language package's URL, as Syft writes them: pkg:npm/%40scope/name@v, pkg:pypi/name@v
// (normalised as the purl spec asks), pkg:golang/host/path/name@v (stdlib at the bare Go
// version), pkg:maven/group/artifact@v, pkg:composer/vendor/name@v, pkg:cargo/name@v.
std::string app_purl(const json& p) {
  std::string eco = p.value("ecosystem", ""), name = p.value("name", ""),
              version = p.value("version", ""), ns;
  if (eco == "npm" && name.starts_with('@') && name.find('/') != std::string::npos) {
    ns = name.substr(0, name.find('/'));
    name = name.substr(name.find('/') + 1);
  } else if (eco == "pypi") {
    for (char& c : name) c = c == '_' ? '-' : static_cast<char>(std::tolower(c));
  } else if (eco == "golang") {
    if (name == "stdlib" && version.starts_with("go")) version = version.substr(2);
    if (auto slash = name.rfind('/'); slash != std::string::npos) {
      ns = name.substr(0, slash);
      name = name.substr(slash + 1);
    }
  } else if (eco == "maven") {
    ns = p.value("group", "");
  } else if (eco == "composer" && name.find('/') != std::string::npos) {
    ns = name.substr(0, name.find('/'));
    name = name.substr(name.find('/') + 1);
  }
  std::string path;
  for (const std::string& part : split(ns, '/'))
    if (!part.empty()) path += purl_escape(part) + "/";
  std::string out = "pkg:" + eco + "/" + path + purl_escape(name);
  if (!version.empty()) out += "@" + purl_escape(version);
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
  for (auto& p : image.value("app_packages", json::array())) {
    std::string ref = app_purl(p);
    // The same package installed at two paths is two components.
    std::string bom_ref = seen[ref]++ ? ref + "#" + std::to_string(seen[ref]) : ref;
    json props =
        json::array({{{"name", "bulwark:package:path"}, {"value", "/" + p.value("path", "")}},
                     {{"name", "bulwark:layer"}, {"value", p.value("layer_digest", "")}}});
    if (p.contains("origin"))
      props.push_back({{"name", "bulwark:package:origin"}, {"value", p["origin"]}});
    if (p.value("dev", false)) props.push_back({{"name", "bulwark:npm:dev"}, {"value", "true"}});
    json c = {{"type", "library"},
              {"bom-ref", bom_ref},
              {"name", p.value("name", "")},
              {"version", p.value("version", "")},
              {"purl", ref},
              {"properties", props}};
    if (p.contains("group")) c["group"] = p["group"];
    if (p.contains("license"))
      c["licenses"] = json::array({{{"license", {{"name", p["license"]}}}}});
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
