#include "analyze/analyze.h"
#include "layer/image_summary.h"
#include "score/score.h"

#include <doctest/doctest.h>

#include <set>

using namespace bw;
using nlohmann::json;

namespace {
ElfInfo elf(Libc libc, bool is_static = false) {
  ElfInfo e;
  e.kind = ElfKind::executable;
  e.libc = libc;
  e.is_static = is_static;
  e.pie = true;
  return e;
}
Executable exe(const std::string& path, const std::string& layer, ElfInfo e) {
  return Executable{FileRef{path, 0755, 0, 0, layer, ""}, e};
}
ImageSummary summary_with(std::vector<Executable> executables,
                          std::vector<std::string> runtimes = {}, bool ca = false) {
  ImageSummary s;
  s.executables = std::move(executables);
  s.runtimes = std::move(runtimes);
  s.ca_certificates = ca;
  // The base's shell, package manager and setuid binary: what a switch can remove.
  s.attack_surface.shell.push_back(FileRef{"bin/sh", 0755, 0, 0, "base", ""});
  s.attack_surface.package_manager.push_back(FileRef{"usr/bin/apt-get", 0755, 0, 0, "base", ""});
  s.setuid_files.push_back(SetuidFile{FileRef{"usr/bin/passwd", 04755, 0, 0, "base", ""}, true});
  return s;
}
std::vector<std::string> ids(const json& recs) {
  std::vector<std::string> out;
  for (auto& r : recs) out.push_back(r.value("id", r.value("action", "")));
  return out;
}
bool has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}
}  // namespace

TEST_CASE("base detection: annotations, reference layer chains, history") {
  json manifest = {{"annotations",
                    {{"org.opencontainers.image.base.name", "docker.io/library/alpine:3.22"},
                     {"org.opencontainers.image.base.digest", "sha256:ref"}}}};
  std::vector<ReferenceImage> refs = {{"alpine", "sha256:ref", {"l0"}},
                                      {"longer", "sha256:x", {"l0", "l1"}}};
  auto a = detect_base(manifest, json::object(), summarize_image({}, {}), {"l0", "l1", "l2"}, refs);
  CHECK(a.method == "annotation");
  CHECK(a.name == "docker.io/library/alpine:3.22");
  CHECK(a.layers == 1);
  auto m = detect_base(json::object(), json::object(), summarize_image({}, {}), {"l0", "l1", "l2"},
                       refs);
  CHECK(m.method == "layer-match");
  CHECK(m.name == "longer");  // the longest chain wins
  CHECK(m.layers == 2);
  // An image that is a reference under another name is that base, whole.
  auto same = detect_base(json::object(), json::object(), summarize_image({}, {}), {"l0", "l1"},
                          {{"same", "d", {"l0", "l1"}}, {"shorter", "e", {"l0"}}});
  CHECK(same.method == "layer-match");
  CHECK(same.name == "same");
  CHECK(same.layers == 2);
  // busybox:latest itself: one rootfs layer, busybox in it.
  json rootfs_only = {
      {"history",
       {{{"created_by", "/bin/sh -c #(nop) ADD file:bb in / "}},
        {{"created_by", "/bin/sh -c #(nop)  CMD [\"sh\"]"}, {"empty_layer", true}}}}};
  ImageSummary bb;
  bb.attack_surface.shell.push_back(FileRef{"bin/busybox", 0755, 0, 0, "l0", ""});
  auto busybox = detect_base(json::object(), rootfs_only, bb, {"l0"}, {});
  CHECK(busybox.name == "busybox");
  CHECK(busybox.layers == 1);
  // Nothing of an OS: built FROM scratch, no base layer.
  ImageSummary bare;
  bare.executables.push_back(Executable{FileRef{"app/run", 0755, 0, 0, "l0", ""}, {}});
  json copy_only = {{"history", {{{"created_by", "COPY run /app/run # buildkit"}}}}};
  auto scratch = detect_base(json::object(), copy_only, bare, {"l0"}, {});
  CHECK(scratch.name == "scratch");
  CHECK(scratch.method == "contents");
  CHECK(scratch.layers == 0);
  // A shell is something of an OS: not scratch, and not known either.
  bare.attack_surface.shell.push_back(FileRef{"bin/sh", 0755, 0, 0, "l0", ""});
  CHECK(detect_base(json::object(), copy_only, bare, {"l0"}, {}).method == "none");
  json config = {{"history",
                  {{{"created_by", "/bin/sh -c #(nop) ADD file:x in /"}},
                   {{"created_by", "/bin/sh -c #(nop)  CMD [\"sh\"]"}, {"empty_layer", true}},
                   {{"created_by", "/bin/sh -c make"}}}}};
  auto h = detect_base(json::object(), config, summarize_image({}, {}), {"l0", "l1"}, {});
  CHECK(h.method == "history");
  CHECK(h.layers == 1);
}

TEST_CASE("advice follows what the app needs") {
  auto catalog = RuleCatalog::builtin();
  BaseInfo base{"debian:13", "os-release", "medium", 1};
  json config = {{"config", {{"User", "65532"}, {"Entrypoint", {"/app/run"}}}}};
  std::vector<std::string> layers = {"base", "app"};
  auto advice = [&](const ImageSummary& s, const json& cfg, const BaseInfo& b = {},
                    json* plan = nullptr) {
    const BaseInfo& on = b.name.empty() ? base : b;
    std::vector<std::string> base_layers(layers.begin(), layers.begin() + 1);
    RuleInput ri{s, cfg, layers, on.layers, "1"};
    auto findings = evaluate_rules(*catalog, ri);
    AppNeeds needs = infer_needs(s, cfg, base_layers);
    AdviceInput in{*catalog, findings,
                   {},       s,
                   cfg,      on,
                   layers,   "registry.test/app:1",
                   "1",      std::chrono::system_clock::now(),
                   90,       100'000'000};
    return advise(in, needs, plan);
  };
  auto statik = summary_with({exe("app/run", "app", elf(Libc::none, true))});
  auto st = advice(statik, config);
  REQUIRE(!st.empty());
  CHECK(st[0]["action"] == "switch");
  CHECK((st[0]["id"] == "distroless-static" || st[0]["id"] == "chainguard-static"));
  CHECK(st[0]["projected_score"].get<int>() > 0);
  CHECK(st[0]["score_gain"].get<int>() > 0);
  // What the switch removes is named by rule and path.
  bool shell_removed = false;
  for (auto& f : st[0]["removes"]["findings"]) shell_removed |= f["rule_id"] == "BW-SHELL";
  CHECK(shell_removed);
  // The snippet copies the app's own directory, never the old root filesystem.
  std::string df = st[0]["dockerfile"];
  CHECK(df.find("FROM registry.test/app:1 AS build") != std::string::npos);
  CHECK(df.find("COPY --from=build /app/ /app/") != std::string::npos);
  CHECK(df.find("COPY --from=build / /") == std::string::npos);
  CHECK(df.find("ENTRYPOINT [\"/app/run\"]") != std::string::npos);

  auto withca = summary_with({exe("app/run", "app", elf(Libc::none, true))}, {}, true);
  CHECK_FALSE(has(ids(advice(withca, config)), "scratch"));
  auto ml = ids(advice(summary_with({exe("app/run", "app", elf(Libc::musl))}), config));
  CHECK(has(ml, "alpine"));
  CHECK_FALSE(has(ml, "distroless-base"));
  auto py =
      advice(summary_with({exe("usr/bin/python3.11", "base", elf(Libc::glibc))}, {"python"}),
             json{{"config", {{"User", "65532"}, {"Entrypoint", {"python3", "/app/main.py"}}}}});
  CHECK((py[0]["id"] == "distroless-python3" || py[0]["id"] == "chainguard-python"));
  // Dockerfiles that run: a runtime base's ENTRYPOINT prefixes a CMD-only command, so the
  // command keeps only its arguments; an ENTRYPOINT naming the runtime gets the base's path.
  auto dockerfile_for = [&](const json& recs, const std::string& id) {
    for (auto& r : recs)
      if (r.value("id", "") == id) return r["dockerfile"].get<std::string>();
    return std::string("(not offered)");
  };
  ImageSummary python =
      summary_with({exe("usr/bin/python3.11", "base", elf(Libc::glibc))}, {"python"});
  python.scripts.push_back(
      ScriptFile{FileRef{"app/main.py", 0644, 0, 0, "app", ""}, {"python3", {}}});
  std::string py_cmd = dockerfile_for(
      advice(python, json{{"config", {{"User", "65532"}, {"Cmd", {"python3", "/app/main.py"}}}}}),
      "distroless-python3");
  CHECK(py_cmd.find("CMD [\"/app/main.py\"]") != std::string::npos);
  CHECK(py_cmd.find("ENTRYPOINT") == std::string::npos);
  std::string py_entry = dockerfile_for(
      advice(python,
             json{{"config", {{"User", "65532"}, {"Entrypoint", {"python3", "/app/main.py"}}}}}),
      "distroless-python3");
  CHECK(py_entry.find("ENTRYPOINT [\"/usr/bin/python3.11\",\"/app/main.py\"]") !=
        std::string::npos);
  // A Node app run from WORKDIR by a relative path, exec or plain shell form: its directory is
  // copied, and distroless nodejs (no node on PATH, no shell) runs it through its ENTRYPOINT.
  ImageSummary node = summary_with({exe("usr/bin/node", "base", elf(Libc::glibc))}, {"node"});
  for (json cmd : {json{"node", "index.js"}, json{"/bin/sh", "-c", "node index.js"}}) {
    CAPTURE(cmd.dump());
    std::string df = dockerfile_for(
        advice(node, json{{"config", {{"User", "65532"}, {"WorkingDir", "/app"}, {"Cmd", cmd}}}}),
        "distroless-nodejs");
    CHECK(df.find("COPY --from=build /app/ /app/") != std::string::npos);
    CHECK(df.find("WORKDIR /app") != std::string::npos);
    CHECK(df.find("CMD [\"index.js\"]") != std::string::npos);
    CHECK(df.find("/bin/sh") == std::string::npos);
  }
  // A shell form with shell syntax still needs a shell.
  auto piped = advice(node, json{{"config",
                                  {{"User", "65532"},
                                   {"WorkingDir", "/app"},
                                   {"Cmd", {"/bin/sh", "-c", "node index.js | tee /tmp/log"}}}}});
  CHECK(dockerfile_for(piped, "distroless-nodejs") == "(not offered)");
  // java -jar on distroless java (ENTRYPOINT java -jar) keeps only the jar.
  ImageSummary java = summary_with({exe("usr/bin/java", "base", elf(Libc::glibc))}, {"java"});
  std::string jar = dockerfile_for(
      advice(java,
             json{{"config", {{"User", "65532"}, {"Cmd", {"java", "-jar", "/app/app.jar"}}}}}),
      "distroless-java");
  CHECK(jar.find("CMD [\"/app/app.jar\"]") != std::string::npos);
  // A base tool says nothing of the app: a musl busybox in the base does not make the app musl.
  auto mixed = ids(advice(summary_with({exe("bin/busybox", "base", elf(Libc::musl)),
                                        exe("app/run", "app", elf(Libc::glibc))}),
                          config));
  CHECK_FALSE(has(mixed, "alpine"));
  // A shell script needs a base with a shell: never scratch or distroless static.
  ImageSummary script = summary_with({});
  script.scripts.push_back(ScriptFile{FileRef{"app/start.sh", 0755, 0, 0, "app", ""}, {"sh", {}}});
  json script_cfg = {{"config", {{"User", "65532"}, {"Entrypoint", {"/app/start.sh"}}}}};
  auto sh = advice(script, script_cfg);
  REQUIRE(!sh.empty());
  for (auto& r : sh) {
    if (r["action"] != "switch") continue;
    CHECK(r["id"] != "scratch");
    CHECK(r["id"] != "distroless-static");
    CHECK(r["dockerfile"].get<std::string>().find("COPY --from=build /app/ /app/") !=
          std::string::npos);
  }
  CHECK(has(ids(sh), "distroless-base-debug"));
  // An entrypoint that runs the old base's sshd cannot move: keep, and say why.
  ImageSummary sshd = script;
  sshd.scripts[0].script.calls = {"usr/sbin/sshd"};
  sshd.attack_surface.sshd.push_back(FileRef{"usr/sbin/sshd", 0755, 0, 0, "app", ""});
  auto k = advice(sshd, script_cfg);
  REQUIRE(!k.empty());
  CHECK(k[0]["action"] == "keep");
  CHECK(k[0]["reason"].get<std::string>().find("/usr/sbin/sshd") != std::string::npos);
  CHECK_FALSE(has(ids(k), "wolfi-base"));
  // Already minimal: keep, nothing else to switch to.
  BaseInfo minimal{"distroless/static", "os-release", "medium", 1};
  ImageSummary on_static = summary_with({exe("app/run", "app", elf(Libc::none, true))});
  on_static.attack_surface = {};
  on_static.setuid_files.clear();
  auto keep = advice(on_static, config, minimal);
  REQUIRE(!keep.empty());
  CHECK(keep[0]["action"] == "keep");
  CHECK(keep[0]["reason"].get<std::string>().find("no shell") != std::string::npos);
  for (auto& r : keep) CHECK(r["action"] != "switch");
  // A "minimal" base that carries a shell and a package manager (wolfi-base: busybox's ash,
  // apk) is not called one: no keep that says there is no shell while BW-SHELL fires.
  ImageSummary on_wolfi = summary_with({exe("app/run", "app", elf(Libc::glibc))});
  on_wolfi.attack_surface.shell = {FileRef{"bin/ash", 0755, 0, 0, "base", ""}};
  on_wolfi.attack_surface.package_manager = {FileRef{"sbin/apk", 0755, 0, 0, "base", ""}};
  auto wolfi = advice(on_wolfi, config, BaseInfo{"wolfi", "os-release", "medium", 1});
  REQUIRE(!wolfi.empty());
  for (auto& r : wolfi)
    if (r["action"] == "keep")
      CHECK(r["reason"].get<std::string>().find("no shell") == std::string::npos);
  CHECK(wolfi[0]["action"] == "switch");
  // Built FROM scratch: keep, and say so rather than "could not be identified".
  auto from_scratch = advice(on_static, config, BaseInfo{"scratch", "contents", "medium", 0});
  REQUIRE(!from_scratch.empty());
  CHECK(from_scratch[0]["action"] == "keep");
  CHECK(from_scratch[0]["reason"].get<std::string>().find("FROM scratch") != std::string::npos);
  // Hardening flags are the team's to change only for what they build: a binary an OS package
  // put in an app layer gets the way out instead (drop the package, or switch).
  ElfInfo soft = elf(Libc::glibc);
  soft.pie = false;
  auto fix_step = [&](const ImageSummary& s) {
    for (auto& r : advice(s, config))
      if (r["action"] == "fix" && r["rule_id"] == "BW-ELF-NOPIE")
        return r["step"].get<std::string>();
    return std::string();
  };
  std::string packaged = fix_step(summary_with({exe("usr/bin/python3.11", "app", soft)}));
  CHECK(packaged.find("/usr/bin/python3.11 came with OS packages") != std::string::npos);
  CHECK(packaged.find("-fPIE") == std::string::npos);
  std::string own = fix_step(summary_with({exe("app/run", "app", soft)}));
  CHECK(own.find("-fPIE") != std::string::npos);
  CHECK(own.find("OS packages") == std::string::npos);
  std::string both =
      fix_step(summary_with({exe("app/run", "app", soft), exe("usr/sbin/setcap", "app", soft)}));
  CHECK(both.find("-fPIE") != std::string::npos);
  CHECK(both.find("/usr/sbin/setcap came with OS packages") != std::string::npos);
  // The worst image gets a path, not one step: every fix of its own findings in order, each
  // scored with the ones before it, even those that gain nothing alone at the flat end.
  ImageSummary worst = summary_with({exe("app/run", "app", elf(Libc::glibc))});
  for (const char* p : {"usr/sbin/sshd", "usr/bin/sudo", "usr/bin/curl", "usr/bin/wget", "bin/bash",
                        "usr/bin/gdb", "usr/bin/gcc"}) {
    FileRef f{p, 0755, 0, 0, "app", ""};
    for (FileTag t : classify_path(p, 'f', 0755))
      if (auto* list = worst.attack_surface.list(t)) list->push_back(f);
  }
  worst.setuid_files.push_back(SetuidFile{FileRef{"app/helper", 04755, 0, 0, "app", ""}, true});
  worst.credential_files.push_back(FileRef{"root/.ssh/id_rsa", 0600, 0, 0, "app", ""});
  worst.world_writable.push_back(FileRef{"app/data", 0777, 0, 0, "app", ""});
  json worst_cfg = {{"config", {{"Entrypoint", {"/app/run"}}, {"Env", {"DB_PASSWORD=hunter2"}}}},
                    {"history",
                     {{{"created_by", "/bin/sh -c curl -fsSL https://get.example | sh"}},
                      {{"created_by", "/bin/sh -c chmod 777 /app/data"}}}}};
  json plan;
  advice(worst, worst_cfg, {}, &plan);
  RuleInput wri{worst, worst_cfg, layers, 1, "1"};
  auto worst_findings = evaluate_rules(*catalog, wri);
  CAPTURE(plan.dump(1));
  const int start = score_findings(*catalog, worst_findings).score;
  REQUIRE(plan["steps"].size() > 3);
  int last = start;
  std::set<std::string> fixed;
  for (auto& st : plan["steps"]) {
    CHECK(st["score_after"].get<int>() >= last);
    last = st["score_after"];
    if (st["action"] == "fix") fixed.insert(st["rule_id"].get<std::string>());
  }
  CHECK(plan["score"] == last);
  CHECK(last > start + 30);
  for (auto& f : worst_findings)
    if (f.origin == Origin::app) CHECK_MESSAGE(fixed.count(f.rule_id), f.rule_id);
  if (plan["grade"].get<std::string>() > "B") CHECK(plan.contains("why_not_b"));
  // Root is a fix no base switch makes, with its own gain.
  json root_cfg = {{"config", {{"Entrypoint", {"/app/run"}}}}};
  auto fixes = advice(statik, root_cfg);
  bool root_fix = false;
  for (auto& r : fixes)
    if (r["action"] == "fix" && r["rule_id"] == "BW-USER-ROOT") {
      root_fix = true;
      CHECK(r["score_gain"].get<int>() > 0);
      CHECK(r["step"].get<std::string>().find("USER") != std::string::npos);
    }
  CHECK(root_fix);
}
