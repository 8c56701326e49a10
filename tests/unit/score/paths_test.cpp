// Policies and verdicts at their edges, base names for each OS family, and what an app needs
// when its entrypoint is a shell command line, a script under /opt, or a runtime.
#include "score/policy.h"
#include "score/score.h"

#include <doctest/doctest.h>

#include <algorithm>

using namespace bw;
using nlohmann::json;

namespace {

json report_with(int score, std::vector<std::pair<std::string, std::string>> findings) {
  json fs = json::array();
  for (auto& [id, severity] : findings)
    fs.push_back({{"rule_id", id}, {"severity", severity}, {"suppressed", false}});
  return {{"score", score}, {"grade", "C"}, {"findings", fs}};
}

ImageSummary with_os(std::string family, std::string name, std::string pretty = "") {
  ImageSummary s;
  s.os = OsInfo{std::move(family), std::move(name), std::move(pretty)};
  s.os_layer_digest = "l0";
  return s;
}

std::string base_name(const ImageSummary& s) {
  return detect_base(json::object(), json::object(), s, {"l0", "l1"}, {}).name;
}

bool has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

TEST_CASE("policies: none, unreadable, fail_under, fail_on once per rule, ignore") {
  auto catalog = RuleCatalog::builtin();
  json report = report_with(70, {{"BW-USER-ROOT", "high"},
                                 {"BW-SHELL", "medium"},
                                 {"BW-SHELL", "medium"},
                                 {"BW-HEALTHCHECK", "low"}});
  auto none = judge_report(report, "", *catalog);
  CHECK(none.verdict == Verdict::none);
  CHECK(none.score == 70);
  CHECK(none.grade == Grade::C);
  CHECK(judge_report(report, "[1]", *catalog).verdict == Verdict::none);
  CHECK(judge_report(report, "{not json", *catalog).verdict == Verdict::none);

  auto on = judge_report(report, R"({"fail_on": "medium"})", *catalog);
  CHECK(on.verdict == Verdict::fail);
  CHECK(on.reasons.size() == 2);  // BW-USER-ROOT and BW-SHELL, each once
  auto ignored = judge_report(
      report, R"({"fail_on": "medium", "ignore": ["BW-USER-ROOT", "BW-SHELL"]})", *catalog);
  CHECK(ignored.verdict == Verdict::pass);
  auto under = judge_report(report, R"({"fail_under": 101})", *catalog);
  REQUIRE(under.reasons.size() == 1);
  CHECK(under.reasons[0].ends_with("is under 101"));
  // Without a stored grade the grade follows the score.
  CHECK(judge_report({{"score", 95}}, "", *catalog).grade == grade_for(95));
}

TEST_CASE("multi-platform results: the worst score, every failure, unscanned platforms") {
  ScanResult amd{80, Grade::B, Verdict::pass, {}};
  ScanResult arm{60, Grade::D, Verdict::fail, {"score 60 is under 70"}};
  ScanResult lost{};
  auto all = combine_results({{"linux/amd64", amd}, {"linux/arm64", arm}, {"linux/s390x", lost}});
  CHECK(all.score == 60);
  CHECK(all.grade == Grade::D);
  CHECK(all.verdict == Verdict::fail);
  CHECK(all.reasons ==
        std::vector<std::string>{"linux/arm64: score 60 is under 70", "linux/s390x: not scanned"});
  auto unjudged = combine_results({{"linux/amd64", ScanResult{90, Grade::A, Verdict::none, {}}},
                                   {"linux/arm64", ScanResult{95, Grade::A, Verdict::none, {}}}});
  CHECK(unjudged.score == 90);
  CHECK(unjudged.verdict == Verdict::none);
  CHECK(combine_results({}).score == -1);

  json j = to_json(all);
  CHECK(j["verdict"] == "fail");
  auto back = scan_result_from_json(j);
  CHECK(back.score == 60);
  CHECK(back.reasons == all.reasons);
  CHECK(to_json(ScanResult{}) == json::object());
  CHECK(scan_result_from_json("x").score == -1);
  auto odd = scan_result_from_json(
      {{"score", "60"}, {"grade", 5}, {"verdict", "maybe"}, {"reasons", {"a", 1}}});
  CHECK(odd.score == -1);
  CHECK(odd.verdict == Verdict::none);
  CHECK(odd.reasons == std::vector<std::string>{"a"});
  CHECK(scan_result_from_json({{"verdict", "pass"}, {"reasons", "none"}}).verdict == Verdict::pass);
  CHECK(scan_result_from_json({{"score", 40}, {"grade", "Z"}}).grade == grade_for(40));
}

TEST_CASE("base names from the release file, for each family") {
  CHECK(base_name(with_os("debian", "12.5")) == "debian:12");
  CHECK(base_name(with_os("ubuntu", "22.04")) == "ubuntu:22.04");
  CHECK(base_name(with_os("alpine", "3.19.1")) == "alpine:3.19");
  CHECK(base_name(with_os("wolfi", "20230201")) == "wolfi");
  CHECK(base_name(with_os("chainguard", "20230214")) == "chainguard");
  CHECK(base_name(with_os("redhat", "9.3")) == "ubi9");
  CHECK(base_name(with_os("amazon", "2023")) == "amazon:2023");
  auto distroless = with_os("debian", "12", "Distroless");
  CHECK(base_name(distroless) == "distroless/static");
  InstalledPackage libc;
  libc.package.name = "libc6";
  distroless.packages.push_back(libc);
  CHECK(base_name(distroless) == "distroless/base");
  InstalledPackage cxx;
  cxx.package.name = "libstdc++6";
  distroless.packages.push_back(cxx);
  CHECK(base_name(distroless) == "distroless/cc");
  // A status.d database and neither shell nor package manager: built like distroless.
  auto style = with_os("debian", "12.5");
  style.package_dbs.push_back({PackageDb{"dpkg", true, ""}, "var/lib/dpkg/status.d/base", "l0"});
  CHECK(base_name(style) == "distroless-style (debian 12)");
  style.attack_surface.shell.push_back(FileRef{"bin/sh", 0755, 0, 0, "l0", ""});
  CHECK(base_name(style) == "debian:12");
}

TEST_CASE("base layers: annotations with a known digest, package databases, busybox") {
  json ann = {{"annotations",
               {{"org.opencontainers.image.base.name", "ghcr.io/x/base:1"},
                {"org.opencontainers.image.base.digest", "sha256:b"}}}};
  auto a = detect_base(ann, json::object(), ImageSummary{}, {"l0", "l1", "l2"},
                       {{"other", "sha256:o", {"x"}}, {"base", "sha256:b", {"l0", "l1"}}});
  CHECK(a.layers == 2);
  // The highest layer holding a package database bounds the base, never the whole image.
  auto s = with_os("debian", "12");
  s.package_dbs.push_back({PackageDb{"dpkg", true, ""}, "var/lib/dpkg/status", "l1"});
  CHECK(detect_base(json::object(), json::object(), s, {"l0", "l1", "l2"}, {}).layers == 2);
  s.package_dbs.push_back({PackageDb{"dpkg", true, ""}, "var/lib/dpkg/status", "l2"});
  CHECK(detect_base(json::object(), json::object(), s, {"l0", "l1", "l2"}, {}).layers == 2);
  // A reference whose chain differs is no base (and a shell says it is no scratch image).
  ImageSummary with_shell;
  with_shell.attack_surface.shell.push_back(FileRef{"bin/sh", 0755, 0, 0, "l0", ""});
  CHECK(detect_base(json::object(), json::object(), with_shell, {"l0", "l1"}, {{"r", "d", {"zz"}}})
            .method == "none");
  // No release file: busybox in the rootfs layer names it.
  json rootfs = {{"history",
                  {{{"created_by", "/bin/sh -c #(nop) ADD file:abc in / "}},
                   {{"created_by", "/bin/sh -c #(nop)  CMD [\"sh\"]"}, {"empty_layer", true}},
                   {{"created_by", "COPY app /app # buildkit"}}}}};
  ImageSummary busybox;
  busybox.attack_surface.shell.push_back(FileRef{"bin/busybox", 0755, 0, 0, "l0", ""});
  auto bb = detect_base(json::object(), rootfs, busybox, {"l0", "l1"}, {});
  CHECK(bb.name == "busybox");
  CHECK(bb.layers == 1);
  busybox.attack_surface.shell[0].layer_digest = "l1";
  CHECK(detect_base(json::object(), rootfs, busybox, {"l0", "l1"}, {}).name == "unknown");
  // Only the rootfs ADD, without history to say more: the first layer is the base.
  json bare = {{"history", {{{"created_by", "/bin/sh -c #(nop) ADD file:abc in / "}}}}};
  auto first = detect_base(json::object(), bare, ImageSummary{}, {"l0", "l1"}, {});
  CHECK(first.layers == 1);
}

TEST_CASE("needs: shell command lines, scripts as arguments, /opt apps, runtimes, tzdata") {
  ImageSummary s;
  s.attack_surface.shell.push_back(FileRef{"bin/sh", 0755, 0, 0, "base", ""});
  s.executables.push_back(Executable{FileRef{"usr/sbin/nginx", 0755, 0, 0, "base", ""}, {}});
  s.scripts.push_back(
      ScriptFile{FileRef{"opt/app/bin/start.sh", 0755, 0, 0, "app", ""}, {"bash", {"bin/cat"}}});
  s.runtimes = {"java"};
  s.tzdata = true;
  json cfg = {{"config",
               {{"Entrypoint", {"/bin/sh", "-c", "/usr/sbin/nginx -g daemon && exec /app/x"}},
                {"Cmd", {"/opt/app/bin/start.sh", 7}}}}};
  AppNeeds n = infer_needs(s, cfg, {"base"});
  CHECK(n.shell);
  CHECK(n.bash);  // the script's interpreter
  CHECK(has(n.base_programs, "usr/sbin/nginx"));
  CHECK(n.runtime == "java");  // from the image, as nothing in the entrypoint names one
  CHECK(n.tzdata);
  CHECK(has(n.copy_paths, "/opt/app/"));
  CHECK(std::find_if(n.why.begin(), n.why.end(), [](auto& w) {
          return w.find("time zone") != std::string::npos;
        }) != n.why.end());
  json j = to_json(n);
  CHECK(j["libc"] == "unknown");

  // A program found on PATH in usr/local is the app's own, copied file by file.
  ImageSummary local;
  local.executables.push_back(
      Executable{FileRef{"usr/local/bin/tool", 0755, 0, 0, "app", ""}, ElfInfo{}});
  local.executables.back().elf.libc = Libc::musl;
  AppNeeds t = infer_needs(local, {{"config", {{"Entrypoint", {"tool", "/data"}}}}}, {"base"});
  CHECK(t.program == "usr/local/bin/tool");
  CHECK(t.musl);
  CHECK(has(t.copy_paths, "/usr/local/bin/tool"));
  CHECK(has(t.copy_paths, "/data"));
  CHECK(to_json(t)["libc"] == "musl");
  // An entrypoint the image does not have, and no config at all.
  AppNeeds missing = infer_needs(ImageSummary{}, {{"config", {{"Cmd", {"run"}}}}}, {});
  CHECK(missing.program == "run");
  CHECK_FALSE(missing.known());
  CHECK(infer_needs(ImageSummary{}, json::object(), {}).entry.empty());
}
