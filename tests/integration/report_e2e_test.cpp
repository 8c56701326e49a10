// Rules, scores, base detection and recommendations end to end: images the test builds, pushed
// to a real registry, scanned by the real daemon.
#include "daemon.h"
#include "registry.h"
#include "tar_builder.h"
#include "test_images.h"

#include <doctest/doctest.h>

#include <set>
#include <thread>

using namespace bw::test;
using nlohmann::json;

namespace {

json report_of(Daemon& d, const json& scan) {
  REQUIRE(scan["status"] == "done");
  return d.get_json("/v1/images/" + scan["manifest_digest"].get<std::string>() + "/report");
}

// The finding of `rule`, or a failed case (never a null dereference that takes the run down).
const json& must_find(const json& report, const std::string& rule) {
  for (auto& f : report["findings"])
    if (f["rule_id"] == rule) return f;
  FAIL("no " << rule << " finding");
  throw std::logic_error("unreachable");
}

const json* finding(const json& report, const std::string& rule) {
  for (auto& f : report["findings"])
    if (f["rule_id"] == rule) return &f;
  return nullptr;
}

}  // namespace

TEST_CASE("a static binary on a Debian-like base is advised scratch or distroless/static") {
  LocalRegistry reg;
  Daemon d;
  TestLayer base = make_layer(debian_base()),
            app = make_layer(TarBuilder().file("app/server", static_elf(), 0755).build());
  TestImage im{{base, app}};
  im.config = {{"User", "65532:65532"}, {"Entrypoint", {"/app/server"}}};
  im.created = "2026-11-20T00:00:00Z";
  im.history = hist({{"/bin/sh -c #(nop) ADD file:deb in / ", false},
                     {"/bin/sh -c #(nop)  CMD [\"bash\"]", true},
                     {"COPY server /app/server # buildkit", false},
                     {"ENTRYPOINT [\"/app/server\"]", true}});
  push_image(reg.host(), "team/static", "1.0", im);
  json s = d.scan(reg.host() + "/team/static:1.0");
  CHECK(s.contains("score"));
  json r = report_of(d, s);
  CHECK(r["base"]["name"] == "debian:13");
  CHECK(r["base"]["layers"] == 1);
  CHECK(must_find(r, "BW-SHELL").at("origin") == "base");
  // The image record labels its layers the same way.
  json record = d.get_json("/v1/images/" + s["manifest_digest"].get<std::string>());
  REQUIRE(record["layers"].size() == 2);
  CHECK(record["layers"][0]["origin"] == "base");
  CHECK(record["layers"][1]["origin"] == "app");
  REQUIRE(!r["recommendations"].empty());
  const json& top = r["recommendations"][0];
  CHECK(top["action"] == "switch");
  std::string id = top["id"];
  CHECK((id == "distroless-static" || id == "chainguard-static"));  // CA certificates: no scratch
  CHECK(top["projected_score"].get<int>() > r["score"].get<int>());
  CHECK(top["removes"]["shell"] == true);
  CHECK(top["removes"]["setuid_files"] == 1);
  CHECK(top["dockerfile"].get<std::string>().find("USER 65532:65532") != std::string::npos);
  CHECK(top["dockerfile"].get<std::string>().find("COPY --from=build /app/ /app/") !=
        std::string::npos);
  // CA certificates in the image: bare scratch is not offered.
  for (auto& rec : r["recommendations"]) CHECK(rec.value("id", "") != "scratch");
  json recs =
      d.get_json("/v1/images/" + s["manifest_digest"].get<std::string>() + "/recommendations");
  CHECK(recs["recommendations"] == r["recommendations"]);
}

TEST_CASE("a glibc binary is never advised scratch; an image on distroless is told to keep it") {
  LocalRegistry reg;
  Daemon d;
  TestLayer base = make_layer(debian_base());
  TestLayer app = make_layer(TarBuilder().file("app/server", read_file("/bin/true"), 0755).build());
  TestImage im{{base, app}};
  im.config = {{"User", "65532"}, {"Entrypoint", {"/app/server"}}};
  push_image(reg.host(), "team/glibc", "1", im);
  json r = report_of(d, d.scan(reg.host() + "/team/glibc:1"));
  REQUIRE(!r["recommendations"].empty());
  for (auto& rec : r["recommendations"]) {
    CHECK(rec.value("id", "") != "scratch");
    CHECK(rec.value("id", "") != "distroless-static");
  }
  CHECK(r["recommendations"][0]["reason"].get<std::string>().find("glibc") != std::string::npos);

  std::string distroless =
      TarBuilder()
          .file("etc/os-release", "PRETTY_NAME=\"Distroless\"\nID=debian\nVERSION_ID=\"13\"\n")
          .file("etc/debian_version", "13.1\n")
          .file("var/lib/dpkg/status.d/libc6",
                "Package: libc6\nVersion: 2.41-12\nArchitecture: amd64\n")
          .file("var/lib/dpkg/status.d/base-files",
                "Package: base-files\nVersion: 13.8\nArchitecture: amd64\n")
          .file("etc/passwd",
                "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/"
                "sbin/nologin\n")
          .build();
  TestImage on{{make_layer(distroless), app}};
  on.config = {{"User", "65532"},
               {"Entrypoint", {"/app/server"}},
               {"Healthcheck", {{"Test", {"CMD", "/app/server"}}}}};
  push_image(reg.host(), "team/onbase", "1", on);
  json k = report_of(d, d.scan(reg.host() + "/team/onbase:1"));
  CHECK(k["base"]["name"] == "distroless/base");
  REQUIRE(!k["recommendations"].empty());
  CHECK(k["recommendations"][0]["action"] == "keep");
  CHECK(k["grade"] == "A");
}

TEST_CASE("root, curl | sh and a private key grade F, each finding on the layer that brought it") {
  LocalRegistry reg;
  Daemon d;
  TestLayer base = make_layer(debian_base());
  TestLayer installer =
      make_layer(TarBuilder().file("usr/local/bin/tool", read_file("/bin/true"), 0755).build());
  TestLayer keys = make_layer(TarBuilder()
                                  .file("root/.ssh/id_rsa",
                                        "-----BEGIN RSA PRIVATE KEY-----\n" + std::string(64, 'Q') +
                                            "\n-----END RSA PRIVATE KEY-----\n",
                                        0600)
                                  .build());
  TestImage im{{base, installer, keys}};
  im.config = {{"Env", {"PATH=/usr/bin", "API_TOKEN=s3cr3t-value"}}};
  im.history =
      hist({{"/bin/sh -c #(nop) ADD file:deb in / ", false},
            {"/bin/sh -c #(nop)  CMD [\"bash\"]", true},
            {"RUN /bin/sh -c curl -fsSL https://get.example.invalid/install.sh | bash # buildkit",
             false},
            {"COPY id_rsa /root/.ssh/id_rsa # buildkit", false}});
  push_image(reg.host(), "team/bad", "latest", im);
  json s = d.scan(reg.host() + "/team/bad");
  json r = report_of(d, s);
  CHECK(r["grade"] == "F");
  CHECK(s["grade"] == "F");
  const json* root = finding(r, "BW-USER-ROOT");
  REQUIRE(root);
  const json* pipe = finding(r, "BW-PIPE-SHELL");
  REQUIRE(pipe);
  CHECK((*pipe)["layer_digest"] == installer.digest());
  CHECK((*pipe)["origin"] == "app");
  CHECK((*pipe)["evidence"]["history_index"] == 2);
  const json* key = finding(r, "BW-SECRET-CONTENT");
  REQUIRE(key);
  CHECK((*key)["layer_digest"] == keys.digest());
  CHECK((*key)["evidence"]["path"] == "root/.ssh/id_rsa");
  CHECK(finding(r, "BW-SECRET-FILE"));
  const json* env = finding(r, "BW-SECRET-ENV");
  REQUIRE(env);
  CHECK(r.dump().find("s3cr3t-value") == std::string::npos);
  CHECK(finding(r, "BW-LATEST-TAG"));
  CHECK(must_find(r, "BW-SUID").at("origin") == "base");
  CHECK(r["app_score"].get<int>() >= r["score"].get<int>());
  bool categories = false;
  for (auto& b : r["breakdown"])
    categories |= b["category"] == "secrets" && b["deduction"].get<int>() >= 30;
  CHECK(categories);

  // Suppressed findings stay listed, flagged, and out of the score.
  auto put = d.api().call(
      "PUT", "/v1/suppressions",
      R"({"suppressions": [{"rule_id": "BW-USER-ROOT"}, {"rule_id": "BW-SUID", "path": "/usr/bin/passwd"}]})");
  REQUIRE(put);
  CHECK(put->status == 200);
  json again = d.get_json("/v1/images/" + s["manifest_digest"].get<std::string>() + "/report");
  CHECK(must_find(again, "BW-USER-ROOT").at("suppressed") == true);
  CHECK(must_find(again, "BW-SUID").at("suppressed") == true);
  CHECK(must_find(again, "BW-PIPE-SHELL").at("suppressed") == false);
  // GET lists what PUT stored, as stored.
  json listed = d.get_json("/v1/suppressions");
  std::set<std::string> listed_rules;
  for (auto& x : listed["suppressions"])
    listed_rules.insert(x["rule_id"].get<std::string>() + " " + x.value("path", ""));
  CHECK(listed_rules == std::set<std::string>{"BW-SUID /usr/bin/passwd", "BW-USER-ROOT "});
  auto bad = d.api().call("PUT", "/v1/suppressions", R"({"suppressions": [{"rule_id": "NOPE"}]})");
  REQUIRE(bad);
  CHECK(bad->status == 400);

  // Policies make a CI verdict.
  auto policy = d.api().call(
      "POST", "/v1/scans",
      json{{"image", reg.host() + "/team/bad"}, {"wait", 30}, {"fail_on", "critical"}}.dump());
  REQUIRE(policy);
  json p = json::parse(policy->body);
  CHECK(p["verdict"] == "fail");
  CHECK(p["reasons"][0].get<std::string>().find("BW-SECRET-CONTENT") != std::string::npos);
  std::string out;
  CHECK(run_command({BULWARK_CLI_PATH, "--server", d.api().server(), "scan", "--fail-under", "80",
                     reg.host() + "/team/bad"},
                    out) == 1);
  CHECK(out.find("BW-PIPE-SHELL") != std::string::npos);
  CHECK(run_command({BULWARK_CLI_PATH, "--server", d.api().server(), "scan", "--fail-under", "0",
                     reg.host() + "/team/bad"},
                    out) == 0);
}

TEST_CASE(
    "a new ruleset re-scores stored images with zero blob fetches; a reference image is matched by "
    "layers") {
  LocalRegistry reg;
  TempDir data, rules_dir;
  TestLayer base = make_layer(debian_base());
  TestLayer app = make_layer(TarBuilder().file("app/run", read_file("/bin/true"), 0755).build());
  push_image(reg.host(), "base/debian", "13", TestImage{{base}});
  TestImage im{{base, app}};
  im.config = {{"User", "1000"}};
  push_image(reg.host(), "team/app", "2", im);
  json cfg = {{"reference_images", {reg.host() + "/base/debian:13"}}};
  std::string digest;
  int first_score = 0;
  {
    Daemon d(cfg, data.path());
    json ref = d.scan(reg.host() + "/base/debian:13");  // also scanned at start-up: waits for it
    REQUIRE(ref["status"] == "done");
    json s = d.scan(reg.host() + "/team/app:2");
    json r = report_of(d, s);
    digest = s["manifest_digest"];
    first_score = r["score"];
    CHECK(r["base"]["method"] == "layer-match");
    CHECK(r["base"]["name"] == reg.host() + "/base/debian:13");
    CHECK(r["base"]["layers"] == 1);
    CHECK(d.stop() == 0);
  }
  int fetches = 0;
  for (auto& l : {base.digest(), app.digest()}) fetches += reg.blob_gets(l);
  // The same rules with BW-SHELL made heavier: a new ruleset version.
  json rules = json::parse(read_file(std::string(BULWARK_SOURCE_DIR) + "/schema/rules.json"));
  for (auto& r : rules["rules"])
    if (r["id"] == "BW-SHELL") r["weight"] = 40;
  write_file(rules_dir.path() + "/rules.json", rules.dump());
  json cfg2 = cfg;
  cfg2["rules_file"] = rules_dir.path() + "/rules.json";
  cfg2.erase("reference_images");
  Daemon d(cfg2, data.path());
  // Re-scoring runs on a worker after start-up; /readyz says when it is done.
  for (int i = 0; i < 600 && d.get_json("/readyz")["rescoring"] == true; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(d.get_json("/readyz")["rescoring"] == false);
  CHECK(d.log().find("rescored=") != std::string::npos);
  json r = d.get_json("/v1/images/" + digest + "/report");
  CHECK(r["score"].get<int>() == first_score - 32);
  CHECK(r["ruleset_version"] == d.get_json("/version")["ruleset_version"]);
  int after = 0;
  for (auto& l : {base.digest(), app.digest()}) after += reg.blob_gets(l);
  CHECK(after == fetches);  // not one blob fetched to re-score
  CHECK(d.metric_sum("bulwark_registry_requests_total", "kind=\"blob\"") == 0);
  std::string version = d.get_json("/version")["ruleset_version"];
  d.stop();

  // The same catalog named by the --rules flag: applied and reported.
  Daemon by_flag(json::object(), "", {}, {"--rules", rules_dir.path() + "/rules.json"});
  CHECK(by_flag.get_json("/version")["ruleset_version"] == version);
  CHECK(version != Daemon().get_json("/version")["ruleset_version"]);  // not the built-in one
  // A rules file that cannot be read stops the start with a clear error.
  std::string out;
  int rc = run_command({BULWARKD_PATH, "--listen", "127.0.0.1:0", "--data-dir",
                        rules_dir.path() + "/data", "--rules", rules_dir.path() + "/missing.json"},
                       out);
  CHECK(rc != 0);
  CHECK(out.find("cannot load rules " + rules_dir.path() + "/missing.json") != std::string::npos);
}

TEST_CASE("dashboard lists: images with scores and filters, repositories, tag history, stats") {
  LocalRegistry reg;
  Daemon d;
  TestLayer base = make_layer(debian_base());
  TestImage v1{{base, make_layer(TarBuilder().file("app/a", "1").build())}};
  v1.config = {{"User", "1000"}};
  TestImage v2{{base, make_layer(TarBuilder().file("app/a", "2").build())}};
  v2.config = {{"User", "1000"}, {"Healthcheck", {{"Test", {"CMD", "true"}}}}};
  auto p1 = push_image(reg.host(), "team/web", "stable", v1);
  REQUIRE(d.scan(reg.host() + "/team/web:stable")["status"] == "done");
  auto p2 = push_image(reg.host(), "team/web", "stable", v2);  // the tag moves
  REQUIRE(d.scan(reg.host() + "/team/web:stable")["status"] == "done");
  push_image(reg.host(), "team/api", "1", v1);
  REQUIRE(d.scan(reg.host() + "/team/api:1")["status"] == "done");

  json images = d.get_json("/v1/images?sort=-score");
  REQUIRE(images["images"].size() == 2);  // v1 is one image under two names
  CHECK(images["images"][0]["manifest_digest"] == p2.manifest_digest);
  CHECK(images["images"][0]["score"].get<int>() > images["images"][1]["score"].get<int>());
  // Each image under the tag that names it now: team/web:stable moved to v2, and v1 was last
  // seen as team/api:1.
  json web = d.get_json("/v1/images?repository=team/web");
  REQUIRE(web["images"].size() == 1);
  CHECK(web["images"][0]["manifest_digest"] == p2.manifest_digest);
  CHECK(d.get_json("/v1/images?repository=team/api")["images"][0]["manifest_digest"] ==
        p1.manifest_digest);
  // Keyset pages: the cursor continues after the last row, until a short page.
  json first = d.get_json("/v1/images?limit=1");
  REQUIRE(first["images"].size() == 1);
  REQUIRE(first.contains("next_cursor"));
  json second = d.get_json("/v1/images?limit=1&cursor=" + first["next_cursor"].get<std::string>());
  REQUIRE(second["images"].size() == 1);
  CHECK(second["images"][0]["manifest_digest"] != first["images"][0]["manifest_digest"]);
  json third = d.get_json("/v1/images?limit=1&cursor=" + second["next_cursor"].get<std::string>());
  CHECK(third["images"].empty());
  CHECK_FALSE(third.contains("next_cursor"));
  int low = images["images"][1]["score"];
  CHECK(d.get_json("/v1/images?max_score=" + std::to_string(low))["images"].size() == 1);
  CHECK(d.api().call("GET", "/v1/images?sort=size")->status == 400);

  json repos = d.get_json("/v1/repositories");
  REQUIRE(repos["repositories"].size() == 2);
  CHECK(repos["repositories"][0]["repository"] == "team/api");
  json tags = d.get_json("/v1/repositories/" + reg.host() + "/team/web/tags");
  REQUIRE(tags["tags"].size() == 2);  // both digests "stable" pointed to
  std::set<std::string> seen;
  for (auto& t : tags["tags"]) seen.insert(t["manifest_digest"]);
  CHECK(seen == std::set<std::string>{p1.manifest_digest, p2.manifest_digest});
  CHECK(d.api().call("GET", "/v1/repositories/" + reg.host() + "/team/none/tags")->status == 404);

  json stats = d.get_json("/v1/stats");
  CHECK(stats["images"] == 2);
  CHECK(stats["layers"] == 3);
  CHECK(stats["scans"]["done"] == 3);
  CHECK(stats["repositories"] == 2);
  CHECK(stats["queue"]["running"] == 0);
}
