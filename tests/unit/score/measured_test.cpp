// Switches onto measured candidates: the projected image built from the candidate's layers and
// the app's, so what a switch removes, keeps and adds is what two real sets of findings differ
// by, whatever the catalog entry says.
#include "layer/image_summary.h"
#include "layer/layer.h"
#include "score/score.h"

#include "elf_builder.h"
#include "layer_facts.h"
#include "tar_builder.h"

#include <doctest/doctest.h>

using namespace bw;
using namespace bw::test;
using nlohmann::json;

namespace {

const json* switch_to(const json& recs, const std::string& id) {
  for (auto& r : recs)
    if (r.value("action", "") == "switch" && r.value("id", "") == id) return &r;
  return nullptr;
}

bool lists(const json& refs, const std::string& rule) {
  for (auto& f : refs)
    if (f["rule_id"] == rule) return true;
  return false;
}

// The advice's input for an image scanned as `ref` now, nothing suppressed.
AdviceInput advice_input(const RuleCatalog& catalog, const std::vector<Finding>& findings,
                         const ImageSummary& s, const json& config, const BaseInfo& base,
                         const std::vector<std::string>& layers, const std::string& ref,
                         const std::vector<const LayerFacts*>& facts,
                         const std::vector<MeasuredBase>* measured) {
  static const std::vector<Suppression> kNone;
  return AdviceInput{catalog, findings,    kNone, s,     config,
                     base,    layers,      ref,   "1",   std::chrono::system_clock::now(),
                     90,      100'000'000, {},    facts, measured};
}

}  // namespace

TEST_CASE("a switch onto a measured candidate is projected from its layers and the app's") {
  const std::string true_bin =
      "\x7f"
      "ELF";
  // The image: a Debian-like base with a shell, apt-get, a setuid passwd, wget and nc; an app
  // run by a shell script.
  LayerFacts os = analyze_tar(TarBuilder()
                                  .file("etc/os-release", "ID=debian\nVERSION_ID=\"13\"\n")
                                  .file("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
                                  .file("bin/sh", true_bin, 0755)
                                  .file("usr/bin/apt-get", true_bin, 0755)
                                  .file("usr/bin/passwd", true_bin, 04755)
                                  .file("usr/bin/wget", true_bin, 0755)
                                  .file("bin/nc", true_bin, 0755)
                                  .build());
  LayerFacts app =
      analyze_tar(TarBuilder().file("app/start.sh", "#!/bin/sh\nexec /app/server\n", 0755).build());
  // busybox as measured: its applets include a shell, wget and nc, none setuid.
  auto busybox = std::make_shared<std::vector<LayerFacts>>();
  busybox->push_back(analyze_tar(TarBuilder()
                                     .file("bin/busybox", true_bin, 0755)
                                     .symlink("bin/sh", "/bin/busybox")
                                     .symlink("bin/ash", "/bin/busybox")
                                     .symlink("usr/bin/wget", "/bin/busybox")
                                     .symlink("usr/bin/nc", "/bin/busybox")
                                     .file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
                                     .build()));

  auto catalog = RuleCatalog::builtin();
  const std::vector<std::string> layers = {"sha256:os", "sha256:app"};
  const std::vector<const LayerFacts*> facts = {&os, &app};
  ImageSummary s = summarize_image(facts, layers);
  json config = {{"config", {{"User", "65532"}, {"Entrypoint", {"/app/start.sh"}}}}};
  BaseInfo base{"debian:13", "os-release", "medium", 1};
  RuleInput ri{s, config, layers, 1, "1"};
  auto findings = evaluate_rules(*catalog, ri);
  AppNeeds needs = infer_needs(s, config, {"sha256:os"});
  auto input_with = [&](const std::vector<MeasuredBase>* measured) {
    return advice_input(*catalog, findings, s, config, base, layers, "reg.test/app:1", facts,
                        measured);
  };
  auto advise_with = [&](const std::vector<MeasuredBase>* measured) {
    return advise(input_with(measured), needs);
  };

  // From the catalog entry (no network tools typed in), busybox is credited with wget and nc.
  json typed = advise_with(nullptr);
  const json* t = switch_to(typed, "busybox");
  REQUIRE(t);
  CHECK((*t)["projection"] == "catalog");
  CHECK(lists((*t)["removes"]["findings"], "BW-NETTOOLS"));

  // Measured, the projection carries busybox's own applets: wget and nc and a shell are kept
  // (folded rules compared by whether they fire, not by which path comes first); apt-get and
  // the setuid passwd go.
  std::vector<MeasuredBase> measured = {
      {"busybox", "mirror.test/busybox:1", "sha256:bb", {"sha256:bb-layer"}, busybox}};
  json m = advise_with(&measured);
  const json* b = switch_to(m, "busybox");
  REQUIRE(b);
  CAPTURE(b->dump(1));
  CHECK((*b)["projection"] == "measured");
  CHECK((*b)["measured"]["manifest_digest"] == "sha256:bb");
  CHECK_FALSE(lists((*b)["removes"]["findings"], "BW-NETTOOLS"));
  CHECK_FALSE(lists((*b)["removes"]["findings"], "BW-SHELL"));
  CHECK_FALSE(lists((*b)["adds"], "BW-SHELL"));
  CHECK(lists((*b)["keeps"], "BW-NETTOOLS"));
  CHECK(lists((*b)["keeps"], "BW-SHELL"));
  CHECK(lists((*b)["removes"]["findings"], "BW-PKGMGR"));
  CHECK(lists((*b)["removes"]["findings"], "BW-SUID"));
  CHECK((*b)["removes"]["shell"] == false);
  CHECK((*b)["removes"]["package_manager"] == true);
  CHECK((*b)["removes"]["setuid_files"] == 1);
  // The Dockerfile builds FROM what was measured.
  CHECK((*b)["dockerfile"].get<std::string>().find("FROM mirror.test/busybox:1\n") !=
        std::string::npos);
  // The measured projection scores lower than the typed one: it carries what busybox carries.
  CHECK((*b)["projected_score"].get<int>() < (*t)["projected_score"].get<int>());

  // Every candidate judged, where the advice lists the best few that gain: each catalog entry is
  // projected (the same projection as the advice's) or ruled out with the reason.
  json judged = judge_candidates(input_with(&measured), needs);
  CAPTURE(judged.dump(1));
  std::size_t listed = 0;
  for (auto& a : m) listed += a["action"] == "switch";
  CHECK(judged["switches"].size() > listed);
  const json* jb = switch_to(judged["switches"], "busybox");
  REQUIRE(jb);
  CHECK(*jb == *b);
  for (auto& c : base_catalog()) {
    bool projected = switch_to(judged["switches"], c["id"]) != nullptr, out = false;
    for (auto& r : judged["ruled_out"])
      if (r["id"] == c["id"]) {
        out = true;
        CHECK_FALSE(r["reason"].get<std::string>().empty());
      }
    CHECK_MESSAGE(projected != out, c["id"]);
  }
  // A script run by /bin/sh cannot go to a base with no shell.
  bool static_out = false;
  for (auto& r : judged["ruled_out"]) static_out |= r["id"] == "distroless-static";
  CHECK(static_out);
}

TEST_CASE("Python packages the app's layers installed for Debian's Python go with the app") {
  const std::string elf =
      "\x7f"
      "ELF";
  const std::string metadata = "Metadata-Version: 2.1\nName: attrs\nVersion: 22.2.0\n";
  LayerFacts os = analyze_tar(TarBuilder()
                                  .file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
                                  .file("etc/debian_version", "12.8\n")
                                  .file("bin/sh", elf, 0755)
                                  .build());
  // apt-get install python3 python3-attr, then the app.
  LayerFacts apt = analyze_tar(
      TarBuilder()
          .file("usr/bin/python3.11", elf, 0755)
          .symlink("usr/bin/python3", "python3.11")
          .file("usr/lib/python3/dist-packages/attrs-22.2.0.dist-info/METADATA", metadata)
          .file("usr/lib/python3/dist-packages/attr/__init__.py", "")
          // python3-yaml's C extension, and the library it loads, which apt installed with it.
          .file("usr/lib/python3/dist-packages/_yaml.cpython-311-x86_64-linux-gnu.so",
                build_elf({.type = 3, .dynamic = true, .needed = {"libyaml-0.so.2"}}))
          .file("usr/lib/x86_64-linux-gnu/libyaml-0.so.2.0.9",
                build_elf({.type = 3, .dynamic = true, .soname = "libyaml-0.so.2"}))
          .symlink("usr/lib/x86_64-linux-gnu/libyaml-0.so.2", "libyaml-0.so.2.0.9")
          .build());
  LayerFacts app = analyze_tar(TarBuilder().file("app/main.py", "import attr\n").build());
  const std::vector<std::string> layers = {"sha256:os", "sha256:apt", "sha256:app"};
  const std::vector<const LayerFacts*> facts = {&os, &apt, &app};
  ImageSummary s = summarize_image(facts, layers);
  json config = {{"config", {{"Cmd", {"python3", "/app/main.py"}}, {"WorkingDir", "/app"}}}};
  AppNeeds needs = infer_needs(s, config, {"sha256:os"});
  CHECK(needs.runtime == "python");
  CHECK(needs.python_dirs == std::vector<std::string>{"/usr/lib/python3/dist-packages/"});
  CHECK(needs.copy_paths == std::vector<std::string>{"/app/", "/usr/lib/python3/dist-packages/"});
  // The same packages in the base's layers: the base's business, not carried.
  CHECK(infer_needs(s, config, {"sha256:os", "sha256:apt"}).python_dirs.empty());

  // Two measured Python bases: Debian's (distroless) and one of another build (Wolfi).
  auto debian_python = std::make_shared<std::vector<LayerFacts>>();
  debian_python->push_back(analyze_tar(TarBuilder()
                                           .file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
                                           .file("etc/debian_version", "12.8\n")
                                           .file("usr/bin/python3.11", elf, 0755)
                                           .build()));
  auto wolfi_python = std::make_shared<std::vector<LayerFacts>>();
  wolfi_python->push_back(analyze_tar(TarBuilder()
                                          .file("etc/os-release", "ID=wolfi\n")
                                          .file("usr/bin/python3.12", elf, 0755)
                                          .build()));
  std::vector<MeasuredBase> measured = {
      {"distroless-python3",
       "mirror.test/python3:nonroot",
       "sha256:dp",
       {"sha256:dp-layer"},
       debian_python,
       json{{"config", {{"Entrypoint", {"/usr/bin/python3.11"}}}}}},
      {"chainguard-python",
       "mirror.test/python:latest",
       "sha256:cp",
       {"sha256:cp-layer"},
       wolfi_python,
       json{{"config", {{"Entrypoint", {"/usr/bin/python"}}}}}}};
  auto catalog = RuleCatalog::builtin();
  BaseInfo base{"debian:12", "os-release", "medium", 1};
  RuleInput ri{s, config, layers, 1, "1"};
  auto findings = evaluate_rules(*catalog, ri);
  AdviceInput in =
      advice_input(*catalog, findings, s, config, base, layers, "reg.test/py:1", facts, &measured);
  json judged = judge_candidates(in, needs);
  CAPTURE(judged.dump(1));
  const json* onto = switch_to(judged["switches"], "distroless-python3");
  REQUIRE(onto);
  CHECK((*onto)["dockerfile"].get<std::string>().find(
            "COPY --from=build /usr/lib/python3/dist-packages/ "
            "/usr/lib/python3/dist-packages/\n") != std::string::npos);
  // The extension's library goes with it: the Python base has no libyaml.
  CHECK((*onto)["dockerfile"].get<std::string>().find(
            "COPY --from=build /usr/lib/x86_64-linux-gnu/libyaml-0.so.2.0.9 ") !=
        std::string::npos);
  std::string wolfi_reason;
  for (auto& r : judged["ruled_out"])
    if (r["id"] == "chainguard-python") wolfi_reason = r["reason"];
  CHECK(wolfi_reason ==
        "the app's Python packages are installed in /usr/lib/python3/dist-packages/, which only "
        "Debian's Python reads");
}

TEST_CASE("a library apt installed for the app goes with it onto a base that lacks it") {
  auto library = [](const std::string& soname, std::vector<std::string> needed) {
    ElfSpec s;
    s.type = 3;  // ET_DYN, no interpreter
    s.dynamic = true;
    s.soname = soname;
    s.needed = std::move(needed);
    return build_elf(s);
  };
  auto program = [](std::vector<std::string> needed) {
    ElfSpec s;
    s.type = 3;
    s.interp = "/lib64/ld-linux-x86-64.so.2";
    s.dynamic = true;
    s.flags1 = 0x08000001;  // DF_1_PIE | DF_1_NOW
    s.needed = std::move(needed);
    return build_elf(s);
  };
  const std::string dir = "lib/x86_64-linux-gnu/";
  LayerFacts os = analyze_tar(TarBuilder()
                                  .file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
                                  .file("etc/debian_version", "12.8\n")
                                  .file("bin/sh", program({"libc.so.6"}), 0755)
                                  .file(dir + "libc.so.6", library("libc.so.6", {}), 0755)
                                  .file(dir + "libpcre2-8.so.0", library("libpcre2-8.so.0", {}))
                                  .build());
  // apt-get install zlib1g libgit1 libq1: a library behind the link its soname names, one named
  // by its soname that loads what only the old base holds, and a link to a file that is no ELF.
  LayerFacts apt = analyze_tar(
      TarBuilder()
          .file(dir + "libz.so.1.2.13", library("libz.so.1", {"libc.so.6"}))
          .symlink(dir + "libz.so.1", "libz.so.1.2.13")
          .file(dir + "libgit.so.1", library("libgit.so.1", {"libpcre2-8.so.0", "libc.so.6"}))
          .file(dir + "libq.so.1.0", "not an ELF file, whatever its name says\n")
          .symlink(dir + "libq.so.1", "libq.so.1.0")
          .build());
  LayerFacts z =
      analyze_tar(TarBuilder().file("app/z", program({"libz.so.1", "libc.so.6"}), 0755).build());
  LayerFacts g =
      analyze_tar(TarBuilder().file("app/g", program({"libgit.so.1", "libc.so.6"}), 0755).build());
  LayerFacts q =
      analyze_tar(TarBuilder().file("app/q", program({"libq.so.1", "libc.so.6"}), 0755).build());
  // distroless/base as measured: glibc and its loader, no zlib.
  auto distroless_base = std::make_shared<std::vector<LayerFacts>>();
  distroless_base->push_back(
      analyze_tar(TarBuilder()
                      .file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
                      .file("etc/passwd", "nonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n")
                      .file(dir + "libc.so.6", library("libc.so.6", {}), 0755)
                      .file("lib64/ld-linux-x86-64.so.2", library("ld-linux-x86-64.so.2", {}), 0755)
                      .build()));
  std::vector<MeasuredBase> measured = {{"distroless-base",
                                         "mirror.test/base:nonroot",
                                         "sha256:db",
                                         {"sha256:db-layer"},
                                         distroless_base,
                                         json{{"config", {{"User", "65532"}}}}}};
  auto catalog = RuleCatalog::builtin();
  BaseInfo base{"debian:12", "os-release", "medium", 1};
  const std::vector<std::string> layers = {"sha256:os", "sha256:apt", "sha256:app"};
  json config = {{"config", {{"Entrypoint", {"/app/z"}}}}};

  auto judge = [&](const LayerFacts& app, json* recipe_closure) {
    const std::vector<const LayerFacts*> facts = {&os, &apt, &app};
    ImageSummary s = summarize_image(facts, layers);
    RuleInput ri{s, config, layers, 1, "1"};
    auto findings = evaluate_rules(*catalog, ri);
    AppNeeds needs = infer_needs(s, config, {"sha256:os"});
    CHECK(needs.glibc);
    AdviceInput in = advice_input(*catalog, findings, s, config, base, layers, "reg.test/app:1",
                                  facts, &measured);
    if (recipe_closure) {
      auto r = switch_recipe(in, needs, "distroless-base");
      REQUIRE(r);
      *recipe_closure = r->closure;
    }
    return judge_candidates(in, needs);
  };

  json closure;
  json judged = judge(z, &closure);
  CAPTURE(judged.dump(1));
  const json* onto = switch_to(judged["switches"], "distroless-base");
  REQUIRE(onto);
  // The link and the file it names, both copied; the reason says what was carried.
  CHECK(closure == json{"/app/", "/" + dir + "libz.so.1", "/" + dir + "libz.so.1.2.13"});
  const std::string dockerfile = (*onto)["dockerfile"];
  CHECK(dockerfile.find("COPY --from=build /" + dir + "libz.so.1 /" + dir + "libz.so.1\n") !=
        std::string::npos);
  CHECK(dockerfile.find("COPY --from=build /" + dir + "libz.so.1.2.13 /" + dir +
                        "libz.so.1.2.13\n") != std::string::npos);
  CHECK((*onto)["reason"].get<std::string>().find(
            "carries libz.so.1 from the app's layers, which the base lacks") != std::string::npos);

  auto ruled_out_because = [&](const LayerFacts& app) {
    const json judged_app = judge(app, nullptr);
    for (auto& r : judged_app["ruled_out"])
      if (r["id"] == "distroless-base") return r["reason"].get<std::string>();
    return std::string();
  };
  // A library whose own needs only the old base provides cannot be carried alone.
  CHECK(ruled_out_because(g) ==
        "/" + dir +
            "libgit.so.1 needs libpcre2-8.so.0, which it lacks (the old base provides it, not the "
            "app's layers)");
  // Nor one whose needs are unknown: what the link names was not read as a library.
  CHECK(ruled_out_because(q) == "/app/q needs libq.so.1, which it lacks (what /" + dir +
                                    "libq.so.1 loads in turn was not read)");
}
