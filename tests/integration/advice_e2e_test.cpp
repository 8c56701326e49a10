// Advice end to end: images built the ordinary ways, pushed to a real registry, scanned by the
// real daemon; what it advises and whether the Dockerfiles it writes could build and start.
#include "base_replicas.h"
#include "daemon.h"
#include "registry.h"
#include "tar_builder.h"
#include "test_images.h"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

using namespace bw::test;
using nlohmann::json;

namespace {

json report_for(Daemon& d, const std::string& image) {
  json s = d.scan(image);
  REQUIRE(s["status"] == "done");
  return d.get_json("/v1/images/" + s["manifest_digest"].get<std::string>() + "/report");
}

std::vector<json> actions(const json& report, const std::string& kind) {
  std::vector<json> out;
  for (auto& a : report["recommendations"])
    if (a["action"] == kind) out.push_back(a);
  return out;
}

const json* fix_for(const json& report, const std::string& rule) {
  for (auto& a : report["recommendations"])
    if (a["action"] == "fix" && a["rule_id"] == rule) return &a;
  return nullptr;
}

// A structural check of a switch's Dockerfile: every COPY --from has a source and a destination,
// each source is a path the scanned image holds (`files`, absolute), never "/", and the
// entrypoint's program is copied or is one the new base provides (`provided`).
void check_snippet(const json& action, const std::set<std::string>& files,
                   const std::set<std::string>& provided) {
  std::string df = action["dockerfile"];
  CAPTURE(df);
  REQUIRE_FALSE(df.empty());
  std::istringstream in(df);
  std::vector<std::string> copied;
  int froms = 0;
  std::string entry_program;
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string verb;
    words >> verb;
    if (verb == "FROM") {
      std::string image;
      words >> image;
      CHECK_FALSE(image.empty());
      CHECK(image.find('<') == std::string::npos);  // a real image, not a placeholder
      ++froms;
    }
    if (verb == "COPY") {
      std::string from, src, dst;
      words >> from >> src >> dst;
      CHECK(from == "--from=build");
      REQUIRE_FALSE(src.empty());
      REQUIRE_FALSE(dst.empty());
      CHECK(src != "/");
      bool exists = false;
      for (auto& f : files) exists |= f == src || (src.back() == '/' && f.starts_with(src));
      CHECK_MESSAGE(exists, "COPY source " << src << " is not in the image");
      copied.push_back(src);
    }
    if (verb == "ENTRYPOINT" || (verb == "CMD" && entry_program.empty())) {
      json argv = json::parse(line.substr(verb.size() + 1));
      if (!argv.empty()) entry_program = argv[0];
    }
  }
  CHECK(froms == 2);
  CHECK(df.find("USER 65532:65532") != std::string::npos);
  REQUIRE_FALSE(entry_program.empty());
  bool runs = provided.count(entry_program.substr(entry_program.rfind('/') + 1)) > 0;
  for (auto& c : copied)
    runs |= entry_program == c || (c.back() == '/' && entry_program.starts_with(c));
  CHECK_MESSAGE(runs, "the entrypoint " << entry_program << " is neither copied nor provided");
}

// What the candidates provide, by the names their ENTRYPOINTs and PATH give them.
const std::set<std::string> kProvided = {"sh",         "ash",    "bash", "busybox", "python3",
                                         "python3.11", "python", "java", "node"};

std::string private_key() {
  return "-----BEGIN RSA PRIVATE KEY-----\n" + std::string(64, 'Q') +
         "\n-----END RSA PRIVATE KEY-----\n";
}

}  // namespace

TEST_CASE("root, sudo, sshd, curl | sh and keys: lower than clean, with fixes and a real switch") {
  LocalRegistry reg;
  Daemon d;
  TestLayer base = make_layer(debian_base());
  TestLayer packages = make_layer(TarBuilder()
                                      .file("usr/bin/sudo", read_file("/bin/true"), 04755)
                                      .file("usr/sbin/sshd", read_file("/bin/true"), 0755)
                                      .file("etc/ssh/sshd_config", "PermitRootLogin yes\n")
                                      .file("usr/bin/curl", read_file("/bin/true"), 0755)
                                      .build());
  TestLayer app = make_layer(
      TarBuilder()
          .file("app/server", read_file("/bin/true"), 0755)
          .file("app/start.sh", "#!/bin/sh\nset -e\nexec /app/server \"$@\"\n", 0755)
          .file("root/.ssh/id_rsa", private_key(), 0600)
          .file("app/.aws/credentials", "[default]\naws_access_key_id = AKIAZZZZZZZZZZZZZZZ1\n")
          .build());
  TestImage bad{{base, packages, app}};
  bad.config = {{"Entrypoint", {"/app/start.sh"}}};
  bad.created = "2026-11-20T00:00:00Z";
  bad.history = hist({{"/bin/sh -c #(nop) ADD file:deb in / ", false},
                      {"/bin/sh -c #(nop)  CMD [\"bash\"]", true},
                      {"RUN /bin/sh -c apt-get update && apt-get install -y sudo openssh-server "
                       "curl && curl -fsSL https://get.example.invalid/i.sh | sh # buildkit",
                       false},
                      {"COPY . / # buildkit", false},
                      {"ENTRYPOINT [\"/app/start.sh\"]", true}});
  push_image(reg.host(), "team/bad", "1", bad);
  TestImage clean{{base, make_layer(TarBuilder().file("app/server", static_elf(), 0755).build())}};
  clean.config = {{"User", "65532:65532"},
                  {"Entrypoint", {"/app/server"}},
                  {"Healthcheck", {{"Test", {"CMD", "/app/server", "-health"}}}}};
  clean.created = bad.created;
  push_image(reg.host(), "team/clean", "1", clean);

  json r = report_for(d, reg.host() + "/team/bad:1");
  json c = report_for(d, reg.host() + "/team/clean:1");
  CAPTURE(r["recommendations"].dump(1));
  CHECK(r["score"].get<int>() < c["score"].get<int>());
  CHECK(r["score"].get<int>() > 0);  // bad, but still told apart from worse
  CHECK(r.contains("base_score"));
  CHECK(r.contains("app_score"));
  // A fix for each thing no base switch removes, each with its gain.
  for (const char* rule : {"BW-USER-ROOT", "BW-SECRET-CONTENT", "BW-PIPE-SHELL", "BW-SSHD"}) {
    const json* fix = fix_for(r, rule);
    REQUIRE_MESSAGE(fix, rule);
    CHECK((*fix)["score_gain"].get<int>() > 0);
    CHECK_FALSE((*fix)["step"].get<std::string>().empty());
  }
  CHECK((*fix_for(r, "BW-SECRET-CONTENT"))["step"].get<std::string>().find("rotate") !=
        std::string::npos);
  // A switch that gains, and names what it removes.
  auto switches = actions(r, "switch");
  REQUIRE_FALSE(switches.empty());
  const json& best = switches.front();
  CHECK(best["projected_score"].get<int>() > r["score"].get<int>());
  CHECK_FALSE(best["removes"]["findings"].empty());
  for (auto& f : best["removes"]["findings"]) CHECK(f["origin"] == "base");
  // The app's entry script needs a shell: only bases with one are offered.
  for (auto& s : switches) {
    CHECK(s["id"] != "scratch");
    CHECK(s["id"] != "distroless-static");
    check_snippet(s, {"/app/server", "/app/start.sh", "/app/.aws/credentials"}, kProvided);
  }
  // Findings say what to do where people read them.
  for (auto& f : r["findings"]) CHECK_FALSE(f["remediation"].get<std::string>().empty());
  // The plan: the best switch first, then every rule of the app's own, scores never falling,
  // ending well above where it started, the same in the recommendations endpoint.
  const json& plan = r["plan"];
  CAPTURE(plan.dump(1));
  REQUIRE(plan["steps"].size() > 4);
  CHECK(plan["steps"][0]["action"] == "switch");
  CHECK(plan["steps"][0]["id"] == best["id"]);
  int last = r["score"];
  std::set<std::string> planned;
  for (auto& st : plan["steps"]) {
    CHECK(st["score_after"].get<int>() >= last);
    last = st["score_after"];
    if (st["action"] == "fix") planned.insert(st["rule_id"].get<std::string>());
  }
  for (const char* rule : {"BW-USER-ROOT", "BW-SECRET-CONTENT", "BW-PIPE-SHELL", "BW-SSHD"})
    CHECK_MESSAGE(planned.count(rule), rule);
  CHECK(plan["score"] == last);
  CHECK(last >= 80);
  json advice =
      d.get_json("/v1/images/" + r["manifest_digest"].get<std::string>() + "/recommendations");
  CHECK(advice["plan"] == plan);
}

TEST_CASE("shell-script apps and a plain Debian image get advice, never scratch") {
  LocalRegistry reg;
  Daemon d;
  TestLayer base = make_layer(debian_base());
  TestImage script{
      {base, make_layer(TarBuilder().file("app/run.sh", "#!/bin/sh\necho hello\n", 0755).build())}};
  script.config = {{"User", "65532"}, {"Entrypoint", {"/app/run.sh"}}};
  push_image(reg.host(), "team/script", "1", script);
  json r = report_for(d, reg.host() + "/team/script:1");
  CAPTURE(r["recommendations"].dump(1));
  REQUIRE_FALSE(r["recommendations"].empty());
  CHECK(r["needs"]["shell"] == true);
  for (auto& a : r["recommendations"]) {
    CHECK(a.value("id", "") != "scratch");
    CHECK(a.value("id", "") != "distroless-static");
    if (a["action"] == "switch") check_snippet(a, {"/app/run.sh"}, kProvided);
  }
  bool advised = false;
  for (auto& a : r["recommendations"]) advised |= a["action"] == "switch" || a["action"] == "keep";
  CHECK(advised);

  TestImage plain{{base}};
  plain.config = {{"Cmd", {"bash"}}};
  push_image(reg.host(), "library/debian", "bookworm", plain);
  json p = report_for(d, reg.host() + "/library/debian:bookworm");
  CAPTURE(p["recommendations"].dump(1));
  REQUIRE_FALSE(p["recommendations"].empty());
  CHECK(p["needs"]["bash"] == true);
  for (auto& a : p["recommendations"]) CHECK(a.value("id", "") != "scratch");
  CHECK(fix_for(p, "BW-USER-ROOT"));
}

TEST_CASE("a Python app and a Java app under /usr/lib/jvm are advised a runtime base") {
  LocalRegistry reg;
  Daemon d;
  TestLayer base = make_layer(debian_base());
  TestImage py{{base, make_layer(TarBuilder()
                                     .file("usr/bin/python3.11", read_file("/bin/true"), 0755)
                                     .symlink("usr/bin/python3", "python3.11")
                                     .file("app/main.py", "print('hi')\n")
                                     .build())}};
  py.config = {{"User", "65532"}, {"Entrypoint", {"python3", "/app/main.py"}}};
  push_image(reg.host(), "team/py", "1", py);
  json r = report_for(d, reg.host() + "/team/py:1");
  CAPTURE(r["recommendations"].dump(1));
  CHECK(r["needs"]["runtime"] == "python");
  auto sw = actions(r, "switch");
  REQUIRE_FALSE(sw.empty());
  CHECK((sw[0]["id"] == "distroless-python3" || sw[0]["id"] == "chainguard-python"));
  for (auto& s : sw) check_snippet(s, {"/app/main.py"}, kProvided);

  TestImage java{{base, make_layer(TarBuilder()
                                       .file("usr/lib/jvm/java-17-openjdk-amd64/bin/java",
                                             read_file("/bin/true"), 0755)
                                       .file("app/app.jar", "PK\x03\x04")
                                       .build())}};
  java.config = {{"User", "65532"}, {"Entrypoint", {"java", "-jar", "/app/app.jar"}}};
  push_image(reg.host(), "team/java", "1", java);
  json j = report_for(d, reg.host() + "/team/java:1");
  CAPTURE(j["recommendations"].dump(1));
  CHECK(j["needs"]["runtime"] == "java");
  auto jsw = actions(j, "switch");
  REQUIRE_FALSE(jsw.empty());
  CHECK((jsw[0]["id"] == "distroless-java" || jsw[0]["id"] == "chainguard-jre"));
  for (auto& s : jsw) check_snippet(s, {"/app/app.jar"}, kProvided);
}

TEST_CASE("a distroless-style image without the marker is recognised and told to keep") {
  LocalRegistry reg;
  Daemon d;
  auto pkg = [](const std::string& name, const std::string& version) {
    return make_layer(
        TarBuilder()
            .file("var/lib/dpkg/status.d/" + name,
                  "Package: " + name + "\nVersion: " + version + "\nArchitecture: amd64\n")
            .build());
  };
  TestLayer os = make_layer(
      TarBuilder()
          .file("etc/os-release",
                "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n")
          .file("etc/passwd",
                "root:x:0:0:root:/root:/sbin/nologin\n"
                "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")
          .file("etc/ssl/certs/ca-certificates.crt", "-----BEGIN CERTIFICATE-----\n")
          .build());
  TestImage im{{os, pkg("base-files", "12.4"), pkg("netbase", "6.4"), pkg("tzdata", "2024a"),
                make_layer(TarBuilder().file("app/server", static_elf(), 0755).build())}};
  im.config = {{"User", "65532"}, {"Entrypoint", {"/app/server"}}};
  push_image(reg.host(), "team/distrolessish", "1", im);
  json r = report_for(d, reg.host() + "/team/distrolessish:1");
  CAPTURE(r["base"].dump());
  CHECK(r["base"]["name"].get<std::string>().starts_with("distroless-style"));
  // The layer that names the OS by os-release alone says so in words, not with a marker.
  std::string layer = d.get_json("/v1/layers/" + os.digest()).dump();
  CHECK(layer.find("debian?") == std::string::npos);
  CHECK(layer.find(R"("family":"debian")") != std::string::npos);
  CHECK(layer.find(R"("identified_by":"os-release")") != std::string::npos);
  REQUIRE_FALSE(r["recommendations"].empty());
  CHECK(r["recommendations"][0]["action"] == "keep");
  CHECK(actions(r, "switch").empty());
}

TEST_CASE("a busybox-style image: the rootfs layer is the base, and USER is a fix, not a gain") {
  LocalRegistry reg;
  Daemon d;
  TestLayer rootfs = make_layer(TarBuilder()
                                    .file("bin/busybox", static_elf(), 0755)
                                    .symlink("bin/sh", "busybox")
                                    .file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
                                    .build());
  TestImage im{{rootfs, make_layer(TarBuilder().file("app/server", static_elf(), 0755).build())}};
  im.config = {{"Entrypoint", {"/app/server"}}};
  im.created = "2026-11-20T00:00:00Z";
  im.history = hist({{"/bin/sh -c #(nop) ADD file:0123abcd in / ", false},
                     {"COPY server /app/server # buildkit", false},
                     {"ENTRYPOINT [\"/app/server\"]", true}});
  push_image(reg.host(), "team/bb", "1", im);
  json r = report_for(d, reg.host() + "/team/bb:1");
  CAPTURE(r["recommendations"].dump(1));
  CHECK(r["base"]["name"] == "busybox");
  CHECK(r["base"]["layers"] == 1);
  bool shell_base = false;
  for (auto& f : r["findings"])
    if (f["rule_id"] == "BW-SHELL") shell_base = f["origin"] == "base";
  CHECK(shell_base);
  const json* user = fix_for(r, "BW-USER-ROOT");
  REQUIRE(user);
  CHECK((*user)["score_gain"].get<int>() > 0);
  // No switch is credited with what the USER line does.
  for (auto& s : actions(r, "switch")) {
    for (auto& f : s["removes"]["findings"])
      CHECK_FALSE(f["rule_id"].get<std::string>().starts_with("BW-USER"));
    check_snippet(s, {"/app/server"}, kProvided);
  }
}

TEST_CASE("busybox itself is named busybox, and an image FROM scratch is told so") {
  LocalRegistry reg;
  Daemon d;
  // busybox:latest as it is made: one rootfs layer, CMD sh.
  TestImage bb{{make_layer(TarBuilder()
                               .file("bin/busybox", static_elf(), 0755)
                               .symlink("bin/sh", "busybox")
                               .file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
                               .build())}};
  bb.config = {{"Cmd", {"sh"}}};
  bb.history = hist({{"/bin/sh -c #(nop) ADD file:0123abcd in / ", false}, {"CMD [\"sh\"]", true}});
  push_image(reg.host(), "library/busybox", "latest", bb);
  json b = report_for(d, reg.host() + "/library/busybox:latest");
  CAPTURE(b["base"].dump());
  CHECK(b["base"]["name"] == "busybox");
  CHECK(b["base"]["layers"] == 1);

  // A static server copied into an empty image.
  TestImage scratch{{make_layer(TarBuilder().file("server", static_elf(), 0755).build())}};
  scratch.config = {{"User", "65532"}, {"Entrypoint", {"/server"}}};
  scratch.history = hist({{"COPY server /server # buildkit", false},
                          {"USER 65532", true},
                          {"ENTRYPOINT [\"/server\"]", true}});
  push_image(reg.host(), "team/static", "1", scratch);
  json s = report_for(d, reg.host() + "/team/static:1");
  CAPTURE(s["recommendations"].dump(1));
  CHECK(s["base"]["name"] == "scratch");
  CHECK(s["base"]["method"] == "contents");
  REQUIRE_FALSE(s["recommendations"].empty());
  CHECK(s["recommendations"][0]["action"] == "keep");
  std::string why = s["recommendations"][0]["reason"];
  CHECK(why.find("FROM scratch") != std::string::npos);
  CHECK(why.find("could not be identified") == std::string::npos);
}

namespace {

const json* base_entry(const json& bases, const std::string& id) {
  for (auto& b : bases["bases"])
    if (b["id"] == id) return &b;
  return nullptr;
}

bool measured(const json& bases, const std::string& id) {
  const json* b = base_entry(bases, id);
  return b && (*b)["measured"].is_object() && (*b)["measured"].contains("grade");
}

const json* switch_to(const json& report, const std::string& id) {
  for (auto& a : report["recommendations"])
    if (a["action"] == "switch" && a["id"] == id) return &a;
  return nullptr;
}

bool lists_rule(const json& refs, const std::string& rule) {
  for (auto& f : refs)
    if (f["rule_id"] == rule) return true;
  return false;
}

}  // namespace

TEST_CASE("candidate bases are measured from their mirrors, and switches onto them are built") {
  LocalRegistry reg;
  PushedImage stat =
      push_image(reg.host(), "mirror/distroless-static", "nonroot", distroless_static_replica());
  PushedImage bb = push_image(reg.host(), "mirror/busybox", "1", busybox_replica());
  // A team's golden base: the same static filesystem, under the team's own name.
  PushedImage golden =
      push_image(reg.host(), "golden/static", "1", distroless_static_replica("etc/corp-golden"));
  // An app run by a shell script (and no CA certificates, which busybox lacks), on a
  // Debian-like base that also carries wget and nc.
  TestLayer os = make_layer(debian_base(false, {"usr/bin/wget", "bin/nc"}));
  TestLayer app =
      make_layer(TarBuilder()
                     .file("app/server", static_elf(), 0755)
                     .file("app/start.sh", "#!/bin/sh\nset -e\nexec /app/server \"$@\"\n", 0755)
                     .build());
  TestImage im{{os, app}};
  im.config = {{"Entrypoint", {"/app/start.sh"}}, {"User", "65532"}};
  im.created = "2026-11-20T00:00:00Z";
  im.history = hist({{"/bin/sh -c #(nop) ADD file:deb in / ", false},
                     {"/bin/sh -c #(nop)  CMD [\"bash\"]", true},
                     {"COPY . / # buildkit", false},
                     {"USER 65532", true},
                     {"ENTRYPOINT [\"/app/start.sh\"]", true}});
  push_image(reg.host(), "team/script", "1", im);

  // Without measurement, the catalog's typed busybox (no network tools) is credited with
  // removing wget and nc: the claim measurement corrects.
  {
    Daemon typed(json{{"registries", {{"allowed", {"127.0.0.1"}}}}});
    json r = report_for(typed, reg.host() + "/team/script:1");
    CAPTURE(r["recommendations"].dump(1));
    const json* to_bb = switch_to(r, "busybox");
    REQUIRE(to_bb);
    CHECK((*to_bb)["projection"] == "catalog");
    CHECK(lists_rule((*to_bb)["removes"]["findings"], "BW-NETTOOLS"));
    CHECK_FALSE(typed.get_json("/v1/bases")["measure"].get<bool>());
  }

  json mirrors = json::array(
      {{{"id", "distroless-static"}, {"image", reg.host() + "/mirror/distroless-static:nonroot"}},
       {{"id", "busybox"}, {"image", reg.host() + "/mirror/busybox:1"}}});
  // Only the test registry is allowed: the other entries' images are refused, never fetched.
  json extra = json::array({{{"id", "corp-static"},
                             {"image", reg.host() + "/golden/static:1"},
                             {"libc", "none"},
                             {"user", "65532"},
                             {"ca_certificates", true},
                             {"tzdata", true}}});
  Daemon d(json{{"registries", {{"allowed", {"127.0.0.1"}}}},
                {"bases", {{"measure", true}, {"mirrors", mirrors}, {"extra", extra}}}});
  json bases;
  REQUIRE(eventually(
      [&] {
        bases = d.get_json("/v1/bases");
        return measured(bases, "distroless-static") && measured(bases, "busybox") &&
               measured(bases, "corp-static");
      },
      std::chrono::seconds(120)));
  CAPTURE(bases.dump(1));
  CHECK(bases["measure"] == true);
  const json& st = (*base_entry(bases, "distroless-static"))["measured"];
  const json& bm = (*base_entry(bases, "busybox"))["measured"];
  // The digests measured are the images pushed, with when.
  CHECK(st["manifest_digest"] == stat.manifest_digest);
  CHECK(bm["manifest_digest"] == bb.manifest_digest);
  CHECK_FALSE(st["measured_at"].get<std::string>().empty());
  CHECK((*base_entry(bases, "distroless-static"))["reference"] ==
        reg.host() + "/mirror/distroless-static:nonroot");
  // What each one carries is what its files are.
  CHECK_FALSE(st["findings"].contains("BW-SHELL"));
  CHECK_FALSE(st["findings"].contains("BW-PKGMGR"));
  CHECK_FALSE(st["findings"].contains("BW-USER-ROOT"));
  CHECK(bm["findings"].contains("BW-SHELL"));
  CHECK(bm["findings"].contains("BW-NETTOOLS"));
  // An entry not mirrored names its own image and stays unmeasured here.
  const json* alpine = base_entry(bases, "alpine");
  REQUIRE(alpine);
  CHECK((*alpine)["reference"] == "docker.io/library/alpine:3.22");
  CHECK((*alpine)["measured"].is_null());
  CHECK((*base_entry(bases, "scratch"))["measured"]["layers"] == 0);
  const json* corp = base_entry(bases, "corp-static");
  CHECK((*corp)["golden"] == true);
  CHECK((*corp)["measured"]["manifest_digest"] == golden.manifest_digest);
  CHECK((*corp)["provides"]["libc"] == "none");
  CHECK_FALSE((*corp)["measured"]["findings"].contains("BW-SHELL"));

  // The replica scanned as itself is named by the catalog's image, and told to keep.
  json own = d.get_json("/v1/images/" + stat.manifest_digest + "/report");
  CHECK(own["base"]["name"] == "gcr.io/distroless/static-debian12:nonroot");

  json r = report_for(d, reg.host() + "/team/script:1");
  CAPTURE(r["recommendations"].dump(1));
  const json* to_bb = switch_to(r, "busybox");
  REQUIRE(to_bb);
  CHECK((*to_bb)["projection"] == "measured");
  CHECK((*to_bb)["measured"]["manifest_digest"] == bb.manifest_digest);
  // busybox's own wget and nc: kept, not removed; its shell too.
  CHECK_FALSE(lists_rule((*to_bb)["removes"]["findings"], "BW-NETTOOLS"));
  CHECK(lists_rule((*to_bb)["keeps"], "BW-NETTOOLS"));
  CHECK((*to_bb)["removes"]["shell"] == false);
  // Its Dockerfile builds FROM the mirror measured, what this registry's users can pull.
  CHECK((*to_bb)["dockerfile"].get<std::string>().find("FROM " + reg.host() +
                                                       "/mirror/busybox:1\n") != std::string::npos);
  // No measured projection lists as removed what the candidate's own facts hold.
  check_no_carried_removals(d, r);

  // The CLI lists the same, digest and all.
  std::string out;
  REQUIRE(run_command({BULWARK_CLI_PATH, "--server", d.api().server(), "bases"}, out) == 0);
  CHECK(out.find("distroless-static") != std::string::npos);
  CHECK(out.find(stat.manifest_digest.substr(7, 12)) != std::string::npos);
  CHECK(out.find("not measured") != std::string::npos);

  // A snapshot of what was measured carries it to a daemon that cannot reach the bases: its
  // catalog names the public images, no mirror, and it measures nothing itself.
  TempDir snap;
  const std::string file = snap.path() + "/bases.json";
  REQUIRE(run_command({BULWARK_CLI_PATH, "--server", d.api().server(), "bases", "--snapshot", file},
                      out) == 0);
  CAPTURE(out);
  json snapshot = json::parse(read_file(file));
  CHECK(snapshot["format"] == "bulwark-bases-snapshot/1");
  std::map<std::string, std::string> taken;
  for (auto& b : snapshot["bases"]) taken[b["id"]] = b["manifest_digest"];
  CHECK(taken["distroless-static"] == stat.manifest_digest);
  CHECK(taken["busybox"] == bb.manifest_digest);
  CHECK(taken["corp-static"] == golden.manifest_digest);
  // One base's facts from another analyser version, another's manifest not the one its digest
  // names: each is skipped, not believed.
  for (auto& b : snapshot["bases"]) {
    if (b["id"] == "corp-static")
      for (auto& l : b["layers"]) l["analyzer_version"] = 1;
    if (b["id"] == "distroless-static") b["image"]["manifest"] = "{}";
  }
  write_file(file, snapshot.dump());
  Daemon offline(json{{"registries", {{"allowed", {"127.0.0.1"}}}},
                      {"bases", {{"snapshot", file}, {"extra", extra}}}});
  json ob;
  REQUIRE(eventually(
      [&] {
        ob = offline.get_json("/v1/bases");
        return measured(ob, "busybox");
      },
      std::chrono::seconds(60)));
  CAPTURE(ob.dump(1));
  const json& obb = (*base_entry(ob, "busybox"))["measured"];
  CHECK(obb["source"] == "snapshot");
  CHECK(obb["manifest_digest"] == bb.manifest_digest);
  CHECK(obb["measured_from"] == reg.host() + "/mirror/busybox:1");
  CHECK(obb["measured_at"] == bm["measured_at"]);
  CHECK(obb["findings"] == bm["findings"]);
  // Known by the catalog's own image (canonical), not the mirror it was measured from.
  CHECK((*base_entry(ob, "busybox"))["reference"] ==
        "docker.io/library/" + (*base_entry(bases, "busybox"))["image"].get<std::string>());
  CHECK((*base_entry(ob, "distroless-static"))["measured"].is_null());
  CHECK((*base_entry(ob, "corp-static"))["measured"].is_null());
  // The switch is projected by construction, as where it was measured: the same score.
  json o = report_for(offline, reg.host() + "/team/script:1");
  const json* offline_bb = switch_to(o, "busybox");
  REQUIRE(offline_bb);
  CHECK((*offline_bb)["projection"] == "measured");
  CHECK((*offline_bb)["measured"]["manifest_digest"] == bb.manifest_digest);
  CHECK((*offline_bb)["projected_score"] == (*to_bb)["projected_score"]);
  CHECK((*offline_bb)["removes"] == (*to_bb)["removes"]);
  // Nothing but the app was scanned: the bases' registry was never asked.
  const json scans = offline.get_json("/v1/scans?limit=100");
  for (auto& sc : scans["scans"])
    CHECK(sc["image"].get<std::string>().find("/mirror/") == std::string::npos);
}
