#include "rules/rules.h"
#include "layer/image_summary.h"
#include "rules/history.h"
#include "score/score.h"

#include <doctest/doctest.h>

#include <set>

using namespace bw;
using nlohmann::json;

namespace {

ImageSummary empty_summary() {
  return summarize_image({}, {});
}  // an image with no files

// Rule ids that fire for one RUN (or other) history line, with a non-root numeric user and a
// health check so that only history rules speak.
std::set<std::string> fire(const std::string& created_by,
                           const json& extra_config = json::object()) {
  json config = {{"config", {{"User", "65532"}, {"Healthcheck", {{"Test", {"CMD", "true"}}}}}},
                 {"history", {{{"created_by", created_by}}}}};
  for (auto& [k, v] : extra_config.items()) config["config"][k] = v;
  ImageSummary summary = empty_summary();
  auto catalog = RuleCatalog::builtin();
  RuleInput in{summary, config, {"sha256:l0"}, 0, "1.0"};
  std::set<std::string> ids;
  for (auto& f : evaluate_rules(*catalog, in)) ids.insert(f.rule_id);
  return ids;
}

bool has(const std::set<std::string>& s, const char* id) {
  return s.count(id) > 0;
}

}  // namespace

TEST_CASE("curl | sh fires; download, verify, run does not") {
  CHECK(has(fire("/bin/sh -c curl -fsSL https://get.example.com | sh"), "BW-PIPE-SHELL"));
  CHECK(has(fire("/bin/sh -c wget -qO- https://x/install.sh | sudo bash -s -- --yes"),
            "BW-PIPE-SHELL"));
  CHECK(
      has(fire("RUN /bin/sh -c sh -c \"$(curl -fsSL https://raw.example/install.sh)\" # buildkit"),
          "BW-PIPE-SHELL"));
  CHECK(has(fire("/bin/sh -c bash <(curl -s https://x)"), "BW-PIPE-SHELL"));
  CHECK_FALSE(has(fire("/bin/sh -c curl -fsSLo app.tgz https://x/app.tgz && echo \"abc  app.tgz\" "
                       "| sha256sum -c && tar xzf app.tgz"),
                  "BW-PIPE-SHELL"));
  CHECK_FALSE(has(fire("/bin/sh -c curl -s https://x | tar xz"), "BW-PIPE-SHELL"));
  CHECK_FALSE(has(fire("/bin/sh -c echo 'curl x | sh' > notes.txt"), "BW-PIPE-SHELL"));
}

TEST_CASE("sudo is a command or a package, not a word inside a name") {
  CHECK(has(fire("/bin/sh -c sudo apt-get install -y git"), "BW-SUDO"));
  CHECK(has(fire("/bin/sh -c apt-get update && apt-get install -y --no-install-recommends sudo && "
                 "rm -rf /var/lib/apt/lists/*"),
            "BW-SUDO"));
  CHECK_FALSE(has(fire("/bin/sh -c apt-get update && apt-get install -y --no-install-recommends "
                       "sudo-ldap-docs && rm -rf /var/lib/apt/lists/*"),
                  "BW-SUDO"));
  CHECK_FALSE(has(fire("/bin/sh -c echo sudo"), "BW-SUDO"));
}

TEST_CASE("apt practices: update alone, caches, recommends, upgrades") {
  auto alone = fire("/bin/sh -c apt-get update");
  CHECK(has(alone, "BW-UPDATE-ALONE"));
  CHECK(has(alone, "BW-PKG-CACHE"));
  auto good = fire(
      "/bin/sh -c apt-get update && apt-get install -y --no-install-recommends "
      "ca-certificates=20230311 && rm -rf /var/lib/apt/lists/*");
  CHECK_FALSE(has(good, "BW-UPDATE-ALONE"));
  CHECK_FALSE(has(good, "BW-PKG-CACHE"));
  CHECK_FALSE(has(good, "BW-NO-RECOMMENDS"));
  CHECK_FALSE(has(good, "BW-UNPINNED"));
  auto lazy = fire("/bin/sh -c apt-get update && apt-get install -y curl");
  CHECK(has(lazy, "BW-NO-RECOMMENDS"));
  CHECK(has(lazy, "BW-PKG-CACHE"));
  CHECK(has(lazy, "BW-UNPINNED"));
  CHECK_FALSE(has(lazy, "BW-UPDATE-ALONE"));
  auto upg = fire("/bin/sh -c apt-get update && apt-get upgrade -y");
  CHECK(has(upg, "BW-DIST-UPGRADE"));
  CHECK_FALSE(has(upg, "BW-UPDATE-ALONE"));  // as Dockle: upgrade follows the update
  CHECK(has(fire("/bin/sh -c apk add curl"), "BW-PKG-CACHE"));
  CHECK_FALSE(has(fire("/bin/sh -c apk add --no-cache curl=8.5.0-r0"), "BW-PKG-CACHE"));
  CHECK(has(fire("/bin/sh -c apk update"), "BW-UPDATE-ALONE"));
  CHECK(has(fire("/bin/sh -c dnf install -y git"), "BW-PKG-CACHE"));
  CHECK_FALSE(has(fire("/bin/sh -c dnf install -y git && dnf clean all"), "BW-PKG-CACHE"));
}

TEST_CASE("verification switched off, chmod 777, ADD forms") {
  CHECK(has(fire("/bin/sh -c apt-get install -y --allow-unauthenticated foo"), "BW-NO-VERIFY"));
  CHECK(has(fire("/bin/sh -c curl -k https://x -o y"), "BW-NO-VERIFY"));
  CHECK(has(fire("/bin/sh -c pip install --trusted-host pypi.internal flask"), "BW-NO-VERIFY"));
  CHECK(has(fire("/bin/sh -c yum install -y --nogpgcheck foo"), "BW-NO-VERIFY"));
  CHECK(has(fire("/bin/sh -c npm config set strict-ssl false"), "BW-NO-VERIFY"));
  CHECK_FALSE(has(fire("/bin/sh -c wget -k https://x"), "BW-NO-VERIFY"));  // wget -k converts links
  CHECK(has(fire("/bin/sh -c chmod -R 777 /app"), "BW-CHMOD-777"));
  CHECK(has(fire("/bin/sh -c chmod a+w /data"), "BW-CHMOD-777"));
  CHECK_FALSE(has(fire("/bin/sh -c chmod 755 /app"), "BW-CHMOD-777"));
  CHECK(has(fire("ADD https://example.com/tool.tgz /opt/ # buildkit"), "BW-ADD-REMOTE"));
  CHECK_FALSE(
      has(fire("/bin/sh -c #(nop) ADD file:abc in / "), "BW-ADD-LOCAL"));  // the base rootfs
}

TEST_CASE("secret-looking env and build args, values masked") {
  auto catalog = RuleCatalog::builtin();
  json config = {{"config",
                  {{"User", "1000"},
                   {"Env", {"PATH=/bin", "DB_PASSWORD=hunter2", "GPG_KEY=ABCDEF", "API_TOKEN="}}}},
                 {"history",
                  {{{"created_by", "RUN |1 GITHUB_TOKEN=ghp_x /bin/sh -c make # buildkit"}},
                   {{"created_by", "/bin/sh -c #(nop) ENV PasS=ADMIN"}},
                   {{"created_by", "/bin/sh -c HELLO=\"PASS=\\\"notThis\\\"\" echo x"}}}}};
  ImageSummary summary = empty_summary();
  RuleInput in{summary, config, {"sha256:a", "sha256:b", "sha256:c"}, 0, "1"};
  std::vector<std::string> keys;
  for (auto& f : evaluate_rules(*catalog, in))
    if (f.rule_id == "BW-SECRET-ENV") {
      keys.push_back(f.evidence.detail);
      CHECK(f.evidence.detail.find("hunter2") == std::string::npos);
      CHECK(f.evidence.created_by.find("ghp_x") == std::string::npos);
    }
  CHECK(keys == std::vector<std::string>{"DB_PASSWORD=****", "GITHUB_TOKEN=****", "PasS=****"});
}

TEST_CASE("identity rules") {
  auto catalog = RuleCatalog::builtin();
  std::vector<Account> accounts = {{"root", "0", "", "", "/bin/bash"},
                                   {"admin", "0", "", "", "/bin/sh"},
                                   {"app", "1000", "", "", "/usr/sbin/nologin"}};
  CHECK(user_is_root("", accounts));
  CHECK(user_is_root("0", accounts));
  CHECK(user_is_root("0:0", accounts));
  CHECK(user_is_root("root:root", accounts));
  CHECK(user_is_root("admin", accounts));  // a name passwd maps to uid 0
  CHECK_FALSE(user_is_root("app", accounts));
  CHECK_FALSE(user_is_root("65532:65532", accounts));
  auto ids = [&](const std::string& user) {
    ImageSummary summary = empty_summary();
    summary.accounts = accounts;
    json config = {{"config", {{"User", user}}}};
    std::set<std::string> out;
    for (auto& f : evaluate_rules(*catalog, RuleInput{summary, config, {}, 0, "1"}))
      out.insert(f.rule_id);
    return out;
  };
  CHECK(has(ids("0"), "BW-USER-ROOT"));
  CHECK(has(ids("app"), "BW-USER-NONNUMERIC"));
  CHECK_FALSE(has(ids("app"), "BW-USER-UNKNOWN"));
  CHECK(has(ids("ghost"), "BW-USER-UNKNOWN"));
  CHECK_FALSE(has(ids("65532"), "BW-USER-UNKNOWN"));  // numeric uids need no passwd entry
  CHECK(has(ids("65532"), "BW-PASSWD-DUPID"));        // root and admin share uid 0
  CHECK(has(ids("65532"), "BW-LOGIN-SHELL"));
}

TEST_CASE("score arithmetic and grades") {
  auto catalog = RuleCatalog::builtin();
  CHECK(grade_for(100) == Grade::A);
  CHECK(grade_for(90) == Grade::A);
  CHECK(grade_for(89) == Grade::B);
  CHECK(grade_for(80) == Grade::B);
  CHECK(grade_for(65) == Grade::C);
  CHECK(grade_for(64) == Grade::D);
  CHECK(grade_for(40) == Grade::D);
  CHECK(grade_for(39) == Grade::F);
  Finding shell1{
      "BW-SHELL", "", "attack_surface", Severity::medium, {}, "sha256:a", Origin::base, false, -1,
      "",         ""};
  Finding shell2 = shell1;
  shell2.layer_digest = "sha256:b";
  shell2.origin = Origin::app;
  Finding root{
      "BW-USER-ROOT", "", "identity", Severity::high, {}, "", Origin::app, false, -1, "", ""};
  Finding secret{"BW-SECRET-CONTENT",
                 "",
                 "secrets",
                 Severity::critical,
                 {},
                 "sha256:b",
                 Origin::app,
                 true,
                 -1,
                 "",
                 ""};
  auto s = score_findings(*catalog, {shell1, shell2, root, secret});
  CHECK(s.score == 100 - 8 - 15);  // once per rule; the suppressed secret does not count
  CHECK(s.grade == Grade::C);
  REQUIRE(s.breakdown.size() == 2);
  CHECK(s.breakdown[0]["category"] == "attack_surface");
  CHECK(s.breakdown[0]["deduction"] == 8);
  shell2.origin = Origin::base;
  CHECK(score_findings(*catalog, {shell1, shell2, root}, Origin::app).score == 85);
  CHECK(score_findings(*catalog, {shell1, shell2, root}, Origin::base).score == 92);
  std::vector<Finding> many(30, root);
  for (auto& f : many) f.weight = 50;
  many.push_back(Finding{"BW-SECRET-CONTENT",
                         "",
                         "secrets",
                         Severity::critical,
                         {},
                         "",
                         Origin::app,
                         false,
                         -1,
                         "",
                         ""});
  CHECK(score_findings(*catalog, many).score == 27);  // D = 80: past 60 deductions diminish
  Finding huge = root;
  huge.rule_id = "BW-SECRET-CONTENT";
  huge.weight = 90;
  CHECK(score_findings(*catalog, {huge, root}).score == 16);  // D = 105
  // More serious findings score lower at the bottom too, where a clamp made them equal: a
  // further weight of 5 always shows while D <= 110, any further point while D <= 60.
  for (int d = 0; d <= 110; ++d) CHECK(score_for_deduction(d + 5) < score_for_deduction(d));
  for (int d = 0; d < 60; ++d) CHECK(score_for_deduction(d + 1) < score_for_deduction(d));
  CHECK(score_for_deduction(250) > 0);
  CHECK(score_for_deduction(300) == 0);
}

TEST_CASE("suppressions by rule, rule and path, env key") {
  std::vector<Finding> f = {{"BW-SUID",
                             "",
                             "",
                             Severity::info,
                             {"usr/bin/passwd", -1, "", "", ""},
                             "",
                             Origin::base,
                             false,
                             -1,
                             "",
                             ""},
                            {"BW-SUID",
                             "",
                             "",
                             Severity::info,
                             {"usr/bin/su", -1, "", "", ""},
                             "",
                             Origin::base,
                             false,
                             -1,
                             "",
                             ""},
                            {"BW-SECRET-ENV",
                             "",
                             "",
                             Severity::info,
                             {"", -1, "", "DB_PASSWORD", ""},
                             "",
                             Origin::app,
                             false,
                             -1,
                             "",
                             ""},
                            {"BW-SHELL",
                             "",
                             "",
                             Severity::info,
                             {"bin/sh", -1, "", "", ""},
                             "",
                             Origin::base,
                             false,
                             -1,
                             "",
                             ""}};
  apply_suppressions(f,
                     {{"BW-SUID", "/usr/bin/passwd", "", "audited setuid", "", ""},
                      {"BW-SECRET-ENV", "", "DB_PASSWORD", "", "", ""},
                      {"BW-SHELL", "", "", "", "", ""}},
                     {"registry.example/team/app:1"}, std::chrono::system_clock::now());
  CHECK(f[0].suppressed);
  CHECK(f[0].suppression_reason == "audited setuid");
  CHECK(to_json(f[0])["suppression_reason"] == "audited setuid");
  CHECK(finding_from_json(to_json(f[0])).suppression_reason == "audited setuid");
  CHECK_FALSE(to_json(f[2]).contains("suppression_reason"));
  CHECK_FALSE(f[1].suppressed);
  CHECK(f[2].suppressed);
  CHECK(f[3].suppressed);
}

TEST_CASE("the catalog: every rule of the design, a stable version, bad catalogs refused") {
  auto c = RuleCatalog::builtin();
  // The 40 of the design, BW-LAYER-UNANALYSED (fail closed), 9 after trying real images, 4 for
  // what builds leave behind.
  CHECK(c->rules().size() == 54);
  CHECK(c->find("BW-LAYER-UNANALYSED")->severity == Severity::high);
  CHECK(c->version().starts_with("rs-"));
  CHECK(c->find("BW-PIPE-SHELL")->severity == Severity::high);
  CHECK_FALSE(RuleCatalog::parse("{}"));
  CHECK_FALSE(RuleCatalog::parse(
      R"({"rules":[{"id":"X","title":"t","category":"c","severity":"huge","weight":1}]})"));
  auto small = RuleCatalog::parse(
      R"({"rules":[{"id":"BW-SHELL","title":"t","category":"c","severity":"low","weight":1}]})");
  REQUIRE(small);
  CHECK((*small)->version() != c->version());
}

TEST_CASE("image age: old images flagged; the epoch, the far future and garbage are unknown") {
  auto catalog = RuleCatalog::builtin();
  ImageSummary summary = empty_summary();
  auto aged = [&](const std::string& created) {
    json config = {{"created", created}, {"config", {{"User", "65532"}}}};
    RuleInput in{summary, config, {"sha256:a"}, 0, "1"};
    in.now = std::chrono::system_clock::from_time_t(1'780'000'000);  // 2026-05
    for (auto& f : evaluate_rules(*catalog, in))
      if (f.rule_id == "BW-IMAGE-AGE") return true;
    return false;
  };
  CHECK(aged("2024-01-01T00:00:00Z"));
  CHECK_FALSE(aged("2026-04-01T00:00:00Z"));
  CHECK_FALSE(aged("1970-01-01T00:00:00Z"));
  CHECK_FALSE(aged("4052-01-01T00:00:00Z"));  // past what the clock's nanoseconds can hold
  CHECK_FALSE(aged("99999-01-01T00:00:00Z"));
  CHECK_FALSE(aged("yesterday"));
}

TEST_CASE("secrets outside KEY=value are masked in the stored config, their shape kept") {
  nlohmann::json config = {
      {"config",
       {{"Env", {"PATH=/bin", "DB_URL=postgres://admin:hunter2@db/x", "API_TOKEN=t0k"}},
        {"Labels", {{"password", "hunter2"}, {"com.example.api-token", "t0k"}, {"team", "x"}}},
        {"Entrypoint", {"/app/server", "--db-password=hunter2"}},
        {"Cmd", {"--password", "hunter2", "--port", "8080", "--token", "-v"}},
        {"Healthcheck", {{"Test", {"CMD", "curl", "-f", "http://u:hunter2@localhost/"}}}}}}};
  nlohmann::json masked = bw::mask_config_secrets(config);
  const auto& c = masked["config"];
  CHECK(c["Env"][0] == "PATH=/bin");
  CHECK(c["Env"][1] == "DB_URL=postgres://admin:****@db/x");
  CHECK(c["Env"][2] == "API_TOKEN=****");
  CHECK(c["Labels"]["password"] == "****");
  CHECK(c["Labels"]["com.example.api-token"] == "****");
  CHECK(c["Labels"]["team"] == "x");
  CHECK(c["Entrypoint"][1] == "--db-password=****");
  CHECK(c["Cmd"] == nlohmann::json({"--password", "****", "--port", "8080", "--token", "-v"}));
  CHECK(c["Healthcheck"]["Test"][3] == "http://u:****@localhost/");
  CHECK(masked.dump().find("hunter2") == std::string::npos);
  CHECK(bw::is_secret_option("--password"));
  CHECK(bw::is_secret_option("--db-password=x"));
  CHECK(bw::is_secret_option("--api-key"));
  CHECK_FALSE(bw::is_secret_option("--port"));
  CHECK_FALSE(bw::is_secret_option("--password-stdin"));
  CHECK_FALSE(bw::is_secret_option("-p"));
}
