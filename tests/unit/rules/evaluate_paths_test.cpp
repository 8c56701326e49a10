// Each rule's conditions one at a time: wrappers and package managers in RUN lines, config
// shapes a hand-written config can take, identity and attack-surface facts built directly, the
// EOL tables, ELF hardening, suppressions and their JSON.
#include "rules/rules.h"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <set>

using namespace bw;
using nlohmann::json;

namespace {

json quiet_config() {
  return {{"User", "65532"}, {"Healthcheck", {{"Test", {"CMD", "true"}}}}};
}

struct Run {
  std::vector<Finding> findings;
  std::set<std::string> ids() const {
    std::set<std::string> s;
    for (auto& f : findings) s.insert(f.rule_id);
    return s;
  }
  std::vector<const Finding*> of(const std::string& id) const {
    std::vector<const Finding*> out;
    for (auto& f : findings)
      if (f.rule_id == id) out.push_back(&f);
    return out;
  }
  bool has(const std::string& id) const { return !of(id).empty(); }
};

Run evaluate(const ImageSummary& summary, const json& image,
             std::vector<std::string> layers = {"sha256:base", "sha256:app"},
             std::size_t base_layers = 1, std::string tag = "1.0") {
  auto catalog = RuleCatalog::builtin();
  RuleInput in{summary, image, std::move(layers), base_layers, std::move(tag)};
  in.now = std::chrono::sys_days{std::chrono::year{2026} / 11 / 30};
  return Run{evaluate_rules(*catalog, in)};
}

// One RUN (or other) history line under a quiet config.
Run step(const std::string& created_by) {
  return evaluate(ImageSummary{},
                  {{"config", quiet_config()}, {"history", {{{"created_by", created_by}}}}});
}

Run config(const json& overrides, const std::string& tag = "1.0") {
  json c = quiet_config();
  for (auto& [k, v] : overrides.items()) c[k] = v;
  return evaluate(ImageSummary{}, {{"config", c}}, {"sha256:base", "sha256:app"}, 1, tag);
}

FileRef file(std::string path, std::string layer = "sha256:app") {
  FileRef f;
  f.path = std::move(path);
  f.layer_digest = std::move(layer);
  return f;
}

InstalledPackage package(std::string name, std::string layer) {
  InstalledPackage p;
  p.package.manager = "dpkg";
  p.package.name = std::move(name);
  p.db = "var/lib/dpkg/status";
  p.layer_digest = std::move(layer);
  return p;
}

}  // namespace

TEST_CASE("wrappers before the program: env, exec, nohup, sudo with options, assignments") {
  CHECK(step("/bin/sh -c env DEBIAN_FRONTEND=noninteractive apt-get install -y curl")
            .has("BW-NO-RECOMMENDS"));
  CHECK(step("/bin/sh -c exec nohup apt-get update").has("BW-UPDATE-ALONE"));
  auto sudo = step("/bin/sh -c sudo -E -u app apk add --no-cache git=2.43.0-r0");
  CHECK(sudo.has("BW-SUDO"));
  CHECK_FALSE(sudo.has("BW-UNPINNED"));
  CHECK_FALSE(sudo.has("BW-PKG-CACHE"));
  // Only assignments: no program at all.
  CHECK(step("/bin/sh -c A=1 B=2").ids().empty());
  // An option with '=' is not an assignment.
  CHECK(step("/bin/sh -c --opt=1 apt-get update").ids().empty());
}

TEST_CASE("package managers: what is installed, pinned, cached and cleaned") {
  auto micro = step("/bin/sh -c microdnf install -y git");
  CHECK(micro.has("BW-PKG-CACHE"));
  CHECK_FALSE(micro.has("BW-UNPINNED"));  // microdnf has no version syntax to pin with
  CHECK_FALSE(step("/bin/sh -c microdnf install -y git && microdnf clean all").has("BW-PKG-CACHE"));
  auto zypper = step("/bin/sh -c zypper install -y git");
  CHECK(zypper.has("BW-PKG-CACHE"));
  REQUIRE(zypper.has("BW-UNPINNED"));
  CHECK(zypper.of("BW-UNPINNED")[0]->evidence.detail == "unpinned: git");
  CHECK(step("/bin/sh -c yum update -y").has("BW-PKG-CACHE"));
  CHECK(step("/bin/sh -c pip3 install flask").has("BW-UNPINNED"));
  CHECK_FALSE(step("/bin/sh -c pip install flask==3.0.0").has("BW-UNPINNED"));
  CHECK_FALSE(step("/bin/sh -c pip install 'flask>=3' 'jinja<4' pkg@https").has("BW-UNPINNED"));
  // Local files, variables and options are no package names.
  auto local = step("/bin/sh -c apk add --no-cache ./app.apk $EXTRA /tmp/x.apk ''");
  CHECK_FALSE(local.has("BW-UNPINNED"));
  // Not a package manager: its words are not install targets.
  CHECK_FALSE(step("/bin/sh -c cargo install ripgrep").has("BW-UNPINNED"));
  // The list of unpinned names stops growing at about 120 bytes.
  std::string many = "/bin/sh -c apk add --no-cache";
  for (int i = 0; i < 40; ++i) many += " package-number-" + std::to_string(i);
  auto long_list = step(many);
  REQUIRE(long_list.has("BW-UNPINNED"));
  const std::string& detail = long_list.of("BW-UNPINNED")[0]->evidence.detail;
  CHECK(detail.size() < 180);
  CHECK(detail.find("package-number-39") == std::string::npos);
}

TEST_CASE("apt and apk: recommends off by option, dist-clean, upgrades, cache removal") {
  CHECK_FALSE(step("/bin/sh -c apt-get update && apt-get install -y -o "
                   "APT::Install-Recommends=false curl=8.5.0 && apt-get dist-clean")
                  .has("BW-NO-RECOMMENDS"));
  CHECK_FALSE(step("/bin/sh -c apt-get update && apt-get install -y --no-install-recommends "
                   "curl=8.5.0 && apt-get dist-clean")
                  .has("BW-PKG-CACHE"));
  CHECK(step("/bin/sh -c apt-get update && apt-get dist-upgrade -y && rm -rf /var/lib/apt/lists/*")
            .has("BW-DIST-UPGRADE"));
  CHECK(step("/bin/sh -c apk upgrade --no-cache").has("BW-DIST-UPGRADE"));
  auto apk = step("/bin/sh -c apk update && apk add git=2 && rm -rf /var/cache/apk/*");
  CHECK_FALSE(apk.has("BW-PKG-CACHE"));
  CHECK_FALSE(apk.has("BW-UPDATE-ALONE"));
  CHECK(step("/bin/sh -c apk add git=2 && rm -rf /tmp/*").has("BW-PKG-CACHE"));
}

TEST_CASE("verification off: git, npm, curl; chmod forms") {
  CHECK(step("/bin/sh -c git config --global http.sslVerify false").has("BW-NO-VERIFY"));
  CHECK_FALSE(step("/bin/sh -c git config --global http.sslVerify true").has("BW-NO-VERIFY"));
  CHECK_FALSE(step("/bin/sh -c git config --global user.name false").has("BW-NO-VERIFY"));
  CHECK_FALSE(step("/bin/sh -c npm config set strict-ssl true").has("BW-NO-VERIFY"));
  CHECK(step("/bin/sh -c curl --insecure -o x https://x").has("BW-NO-VERIFY"));
  CHECK(step("/bin/sh -c wget --no-check-certificate https://x").has("BW-NO-VERIFY"));
  for (const char* mode : {"0777", "666", "0666", "o+w", "+w", "u+x,a+w"})
    CHECK_MESSAGE(step(std::string("/bin/sh -c chmod ") + mode + " /data").has("BW-CHMOD-777"),
                  mode);
  CHECK_FALSE(step("/bin/sh -c chmod u+w /data").has("BW-CHMOD-777"));
}

TEST_CASE("remote scripts run by a shell, and pipes without pipefail") {
  CHECK(step("/bin/sh -c sh -c \"$(wget -qO- https://x/i.sh)\"").has("BW-PIPE-SHELL"));
  CHECK(step("/bin/sh -c bash <(wget -qO- https://x/i.sh)").has("BW-PIPE-SHELL"));
  CHECK(step("/bin/sh -c sh -c \"`curl -s https://x/i.sh`\"").has("BW-PIPE-SHELL"));
  CHECK(step("/bin/sh -c curl -s https://x/i.py | python3").has("BW-PIPE-SHELL"));
  CHECK_FALSE(step("/bin/sh -c bash -c 'echo $(date)'").has("BW-PIPE-SHELL"));
  CHECK(step("/bin/sh -c curl -s https://x | tar xz").has("BW-PIPEFAIL"));
  CHECK_FALSE(step("/bin/sh -c set -o pipefail && curl -s https://x | tar xz").has("BW-PIPEFAIL"));
  CHECK_FALSE(step("/bin/bash -o pipefail -c curl -s https://x | tar xz").has("BW-PIPEFAIL"));
}

TEST_CASE("ADD: the first local ADD is the base's rootfs, later ones are not") {
  auto img = evaluate(ImageSummary{}, {{"config", quiet_config()},
                                       {"history",
                                        {{{"created_by", "/bin/sh -c #(nop) ADD file:abc in / "}},
                                         {{"created_by", "ADD app.tgz /app # buildkit"}},
                                         {{"created_by", "ADD http://x/y.tgz /y # buildkit"}}}}});
  REQUIRE(img.of("BW-ADD-LOCAL").size() == 1);
  CHECK(img.of("BW-ADD-LOCAL")[0]->evidence.history_index == 1);
  REQUIRE(img.of("BW-ADD-REMOTE").size() == 1);
  CHECK(img.of("BW-ADD-REMOTE")[0]->evidence.history_index == 2);
}

TEST_CASE("health checks, ports and volumes in the config") {
  CHECK(config({{"Healthcheck", nullptr}}).has("BW-HEALTHCHECK"));
  CHECK(config({{"Healthcheck", {{"Test", {"NONE"}}}}}).has("BW-HEALTHCHECK"));
  CHECK_FALSE(config({{"Healthcheck", {{"Interval", 30}}}}).has("BW-HEALTHCHECK"));
  CHECK_FALSE(config({{"Healthcheck", {{"Test", "CMD true"}}}}).has("BW-HEALTHCHECK"));
  CHECK_FALSE(config({{"Healthcheck", {{"Test", json::array()}}}}).has("BW-HEALTHCHECK"));
  CHECK(config({{"Healthcheck", {{"Test", {"NONE"}}}}})
            .of("BW-HEALTHCHECK")[0]
            ->evidence.config_key == "config.Healthcheck");

  auto ports = config({{"ExposedPorts",
                        {{"22/tcp", json::object()},
                         {"23/tcp", json::object()},
                         {"2375/tcp", json::object()},
                         {"2376/tcp", json::object()},
                         {"3389/tcp", json::object()},
                         {"5900/tcp", json::object()},
                         {"8080/tcp", json::object()}}}});
  CHECK(ports.of("BW-PORT-SENSITIVE").size() == 6);
  CHECK_FALSE(config({{"ExposedPorts", {"22/tcp"}}}).has("BW-PORT-SENSITIVE"));  // not an object

  // The EXPOSE step that opened the port, latest first; other steps are passed over.
  auto traced =
      evaluate(ImageSummary{},
               {{"config",
                 [] {
                   auto c = quiet_config();
                   c["ExposedPorts"] = {{"22/tcp", json::object()}};
                   return c;
                 }()},
                {"history",
                 {{{"created_by", "EXPOSE map[22/tcp:{}] # buildkit"}, {"empty_layer", true}},
                  {{"created_by", "EXPOSE map[8080/tcp:{}] # buildkit"}, {"empty_layer", true}},
                  {{"created_by", "CMD [\"/app\"] # buildkit"}, {"empty_layer", true}}}}});
  REQUIRE(traced.has("BW-PORT-SENSITIVE"));
  CHECK(traced.of("BW-PORT-SENSITIVE")[0]->evidence.history_index == 0);

  auto vols = config({{"Volumes",
                       {{"/var/run/docker.sock", json::object()},
                        {"/run/docker.sock", json::object()},
                        {"/proc/", json::object()},
                        {"/sys", json::object()},
                        {"/dev", json::object()},
                        {"/", json::object()},
                        {"/data", json::object()}}}});
  CHECK(vols.of("BW-VOLUME-SENSITIVE").size() == 5);
  CHECK_FALSE(config({{"Volumes", {"/proc"}}}).has("BW-VOLUME-SENSITIVE"));
  CHECK(config({}, "latest").has("BW-LATEST-TAG"));
  CHECK_FALSE(config({}, "").has("BW-LATEST-TAG"));
}

TEST_CASE("image age: old is old; the epoch, the far future and junk are unknown") {
  auto aged = [](const std::string& created) {
    return evaluate(ImageSummary{}, {{"config", quiet_config()}, {"created", created}})
        .has("BW-IMAGE-AGE");
  };
  CHECK(aged("2024-01-01T00:00:00Z"));
  CHECK_FALSE(aged("2026-11-01T00:00:00Z"));
  CHECK_FALSE(aged("1970-01-01T00:00:00Z"));
  CHECK_FALSE(aged("1980-06-01T00:00:00Z"));
  CHECK_FALSE(aged("9999-01-01T00:00:00Z"));
  CHECK_FALSE(aged("yesterday!"));
  CHECK_FALSE(aged("2024"));
}

TEST_CASE("OS end of life: regular support, long-term support, unknown releases") {
  auto os = [](const std::string& family, const std::string& name) {
    ImageSummary s;
    s.os = OsInfo{family, name, ""};
    s.os_layer_digest = "sha256:base";
    return evaluate(s, {{"config", quiet_config()}});
  };
  auto buster = os("debian", "10.13");  // eol 2022, lts 2024: both past
  REQUIRE(buster.has("BW-OS-EOL"));
  CHECK(buster.of("BW-OS-EOL")[0]->layer_digest == "sha256:base");
  auto focal = os("ubuntu", "20.04");  // eol 2025, ESM to 2030
  CHECK(focal.has("BW-OS-LTS"));
  CHECK_FALSE(focal.has("BW-OS-EOL"));
  CHECK(os("alpine", "3.12.0").has("BW-OS-EOL"));         // no lts table for alpine
  CHECK(os("debian", "12").has("BW-OS-LTS"));             // regular support ended 2026-06-10
  CHECK_FALSE(os("debian", "99").has("BW-OS-EOL"));       // not listed: assumed supported
  CHECK_FALSE(os("wolfi", "20230201").has("BW-OS-EOL"));  // no table for the family
  CHECK_FALSE(os("debian", "100").has("BW-OS-EOL"));      // "10" is no prefix of "100"
}

TEST_CASE("users: names known and unknown, login shells, shared ids, passwords") {
  ImageSummary s;
  s.accounts = {{"root", "0", "0", "/root", "/bin/bash"},
                {"daemon", "1", "1", "/", "/usr/sbin/nologin"},
                {"bin", "2", "2", "/", "/bin/false"},
                {"sync", "4", "65534", "/", "/bin/sync"},
                {"halt", "5", "0", "/", "/sbin/halt"},
                {"down", "6", "0", "/", "/sbin/shutdown"},
                {"noshell", "7", "7", "/", ""},
                {"app", "1000", "1000", "/app", "/bin/sh"},
                {"twin", "1000", "1000", "/app", "/bin/bash"},
                {"blank", "", "", "/", "/usr/sbin/nologin"},
                {"blank2", "", "", "/", "/usr/sbin/nologin"}};
  s.groups = {{"app", "1000"}, {"app2", "1000"}, {"solo", "2000"}};
  s.passwords = {{"root", PasswordState::set},
                 {"app", PasswordState::empty},
                 {"daemon", PasswordState::locked}};
  s.account_files = {{"etc/passwd", "sha256:base"}, {"etc/shadow", "sha256:app"}};
  auto with_user = [&](const std::string& user) {
    auto c = quiet_config();
    c["User"] = user;
    return evaluate(s, {{"config", c}});
  };
  auto app = with_user("app");
  CHECK(app.has("BW-USER-NONNUMERIC"));
  CHECK_FALSE(app.has("BW-USER-UNKNOWN"));
  CHECK_FALSE(app.has("BW-USER-ROOT"));
  REQUIRE(app.has("BW-ROOT-PASSWORD"));
  CHECK(app.of("BW-ROOT-PASSWORD")[0]->layer_digest == "sha256:app");
  REQUIRE(app.of("BW-PASSWD-EMPTY").size() == 1);
  CHECK(app.of("BW-PASSWD-EMPTY")[0]->evidence.detail.find("app") != std::string::npos);
  // Shared uid 1000 and gid 1000; empty ids are not "shared".
  auto dup = app.of("BW-PASSWD-DUPID");
  REQUIRE(dup.size() == 2);
  CHECK(dup[0]->evidence.path == "etc/passwd");
  CHECK(dup[0]->layer_digest == "sha256:base");
  CHECK(dup[1]->evidence.path == "etc/group");
  CHECK(dup[1]->layer_digest.empty());  // no record of which layer wrote etc/group
  REQUIRE(app.has("BW-LOGIN-SHELL"));
  CHECK(app.of("BW-LOGIN-SHELL")[0]->evidence.detail ==
        "login shells: app (/bin/sh) twin (/bin/bash)");
  CHECK(with_user("ghost:app").has("BW-USER-UNKNOWN"));
  CHECK_FALSE(with_user("1000:1000").has("BW-USER-NONNUMERIC"));
  CHECK(with_user("root").of("BW-USER-ROOT")[0]->evidence.detail == "USER root is root");
  CHECK(with_user("").of("BW-USER-ROOT")[0]->evidence.detail == "no USER: runs as root");
  // Nothing about shadow when there is none.
  CHECK_FALSE(evaluate(ImageSummary{}, {{"config", quiet_config()}}).has("BW-ROOT-PASSWORD"));
}

TEST_CASE("attack surface: each tool group, long lists, package counts by origin") {
  ImageSummary s;
  s.attack_surface.toolchain = {file("usr/bin/gcc")};
  s.attack_surface.debug_tool = {file("usr/bin/strace")};
  s.attack_surface.sshd = {file("usr/sbin/sshd")};
  s.attack_surface.sudo = {file("usr/bin/sudo")};
  for (int i = 0; i < 15; ++i) s.attack_surface.shell.push_back(file("bin/sh" + std::to_string(i)));
  s.attack_surface.network_tool = {file("usr/bin/curl", "sha256:base"), file("usr/bin/wget")};
  for (int i = 0; i < 60; ++i)
    s.packages.push_back(package("base-" + std::to_string(i), "sha256:base"));
  for (int i = 0; i < 10; ++i)
    s.packages.push_back(package("app-" + std::to_string(i), "sha256:app"));
  s.packages.push_back(package("lost", "sha256:gone"));
  auto r = evaluate(s, {{"config", quiet_config()}});
  for (const char* id : {"BW-TOOLCHAIN", "BW-DEBUGTOOLS", "BW-SSHD", "BW-SUDO", "BW-SHELL"})
    CHECK_MESSAGE(r.has(id), id);
  REQUIRE(r.of("BW-SHELL").size() == 1);
  CHECK(r.of("BW-SHELL")[0]->evidence.detail.ends_with(" and 3 more"));
  CHECK(r.of("BW-NETTOOLS").size() == 2);  // one per introducing layer
  auto counts = r.of("BW-PKGCOUNT");
  REQUIRE(counts.size() == 2);
  // app first (false < true): 11 packages (one from a layer not in the image counts as app)
  CHECK(counts[0]->evidence.detail == "11 of 71 OS packages from the app layers");
  CHECK(counts[1]->evidence.detail == "60 of 71 OS packages from the base layers");
  CHECK(counts[1]->weight > counts[0]->weight);  // scaled by the count past 25
}

TEST_CASE("setuid and setgid bits, file capabilities, sshd settings, unneeded files") {
  ImageSummary s;
  auto su = file("usr/bin/su", "sha256:base");
  su.mode = 04755;
  auto wall = file("usr/bin/wall", "sha256:base");
  wall.mode = 02755;
  auto both = file("usr/bin/both");
  both.mode = 06755;
  s.setuid_files = {{su, true, false}, {wall, false, true}, {both, true, true}};
  s.capability_files = {{file("usr/bin/ping"), FileCaps{1ull << 13, 0, false}},
                        {file("usr/bin/tool"), FileCaps{1ull << 21, 0, true}}};
  SshdConfigFile dropin{file("etc/ssh/sshd_config.d/10.conf"), {{"permitrootlogin", "no"}}};
  SshdConfigFile main{file("etc/ssh/sshd_config"),
                      {{"permitrootlogin", "yes"},
                       {"passwordauthentication", "yes"},
                       {"permitemptypasswords", "no"}}};
  s.sshd_configs = {dropin, main};
  s.unneeded_files = {file("app/README.md"), file("app/.git/config")};
  auto r = evaluate(s, {{"config", quiet_config()}});
  auto suid = r.of("BW-SUID");
  REQUIRE(suid.size() == 3);
  CHECK(suid[0]->evidence.detail.starts_with("setuid 4755"));
  CHECK(suid[1]->evidence.detail.starts_with("setgid 2755"));
  CHECK(suid[2]->evidence.detail.starts_with("setuid+setgid 6755"));
  REQUIRE(r.of("BW-FILE-CAPS").size() == 1);
  CHECK(r.of("BW-FILE-CAPS")[0]->evidence.detail == "cap_net_raw+p");
  REQUIRE(r.of("BW-FILE-CAPS-PRIV").size() == 1);
  CHECK(r.of("BW-FILE-CAPS-PRIV")[0]->evidence.detail == "cap_sys_admin+ep");
  // The drop-in's "no" wins over the main file's "yes", as sshd reads them.
  auto sshd = r.of("BW-SSHD-CONFIG");
  REQUIRE(sshd.size() == 1);
  CHECK(sshd[0]->evidence.detail == "PasswordAuthentication yes");
  CHECK(r.has("BW-UNNEEDED-FILES"));
}

TEST_CASE("secrets: deleted credential files, Env shapes, build args") {
  ImageSummary s;
  s.deleted_secrets = {{"root/.aws/credentials", "sha256:base", {}, true},
                       {"app/notes.txt", "sha256:base", {}, false}};
  auto c = quiet_config();
  c["Env"] = {42, "=value", "NOEQUALS", "API_KEY=", "SECRET_KEY=x"};
  auto r = evaluate(s, {{"config", c},
                        {"history",
                         {{{"created_by", "/bin/sh -c #(nop) ARG DB_PASSWORD=p4ss"}},
                          {{"created_by", "/bin/sh -c #(nop)  LABEL TOKEN=abc"}}}}});
  auto files = r.of("BW-SECRET-FILE");
  REQUIRE(files.size() == 1);
  CHECK(files[0]->evidence.path == "root/.aws/credentials");
  std::set<std::string> env;
  for (auto* f : r.of("BW-SECRET-ENV")) env.insert(f->evidence.detail);
  CHECK(env == std::set<std::string>{"SECRET_KEY=****", "DB_PASSWORD=****"});
}

TEST_CASE("ELF hardening: the app's binaries and the base's entrypoint only, 10 listed per rule") {
  ImageSummary s;
  Executable weak;
  weak.elf.pie = false;
  weak.elf.relro = Relro::none;
  weak.elf.nx = false;
  weak.elf.canary = false;
  for (int i = 0; i < 25; ++i) {
    weak.file = file("app/bin/" + std::to_string(i));
    s.executables.push_back(weak);
  }
  weak.file = file("usr/bin/base-tool", "sha256:base");
  s.executables.push_back(weak);
  weak.file = file("usr/bin/entry", "sha256:base");
  s.executables.push_back(weak);
  Executable go;
  go.file = file("app/go");
  go.elf.is_static = true;
  go.elf.go = "go1.22.1";
  go.elf.canary = false;
  s.executables.push_back(go);
  auto c = quiet_config();
  c["Entrypoint"] = {"/usr/bin/entry"};
  auto r = evaluate(s, {{"config", c}});
  // 25 weak app binaries (26 without PIE, with the Go one): ten listed, the rest counted on the
  // last; the base's entrypoint listed apart, as a base finding.
  for (const char* id : {"BW-ELF-NOPIE", "BW-ELF-NORELRO", "BW-ELF-EXECSTACK", "BW-ELF-NOCANARY"}) {
    std::size_t app = 0, base = 0, more = 0;
    for (auto* f : r.of(id)) {
      (f->origin == Origin::app ? app : base) += 1;
      more += f->more;
    }
    CHECK_MESSAGE(app == kMaxFindingsPerRule, id);
    CHECK_MESSAGE(base == 1, id);
    CHECK_MESSAGE(app + more == (std::string(id) == "BW-ELF-NOPIE" ? 26 : 25), id);
  }
  // A static Go binary built without -buildmode=pie is as fixed in memory as a dynamic one
  // without PIE, and says how to build it; it has no RELRO to want, and Go has no canaries.
  ImageSummary go_only;
  go_only.executables = {go};
  std::vector<std::string> on_go;
  for (auto& f : evaluate(go_only, {{"config", c}}).findings)
    if (f.evidence.path == "app/go") on_go.push_back(f.rule_id + " " + f.evidence.detail);
  // Go 1.22's support ended when 1.24 shipped: its standard library is fixed only by a rebuild.
  CHECK(on_go == std::vector<std::string>{"BW-ELF-NOPIE static, not position-independent (build "
                                          "with -static-pie, or go build -buildmode=pie)",
                                          "BW-RUNTIME-EOL go 1.22 reached end of life on "
                                          "2025-02-11 (/app/go built with go1.22.1)"});

  // The entrypoint from Cmd when there is no Entrypoint; a non-string first word is no path.
  ImageSummary base_only;
  weak.file = file("usr/bin/entry", "sha256:base");
  base_only.executables = {weak};
  auto c2 = quiet_config();
  c2["Entrypoint"] = {7};
  c2["Cmd"] = {"usr/bin/entry"};
  CHECK(evaluate(base_only, {{"config", c2}}).has("BW-ELF-NOPIE"));
  c2["Cmd"] = "usr/bin/entry";
  CHECK_FALSE(evaluate(base_only, {{"config", c2}}).has("BW-ELF-NOPIE"));
}

TEST_CASE("suppressions: exact paths, directory prefixes, env keys, first reason kept") {
  auto mk = [](std::string rule, std::string path, std::string key = "") {
    Finding f;
    f.rule_id = std::move(rule);
    f.evidence.path = std::move(path);
    f.evidence.config_key = std::move(key);
    return f;
  };
  std::vector<Finding> fs = {mk("BW-SUID", "usr/bin/su"), mk("BW-SUID", "usr/lib/x/helper"),
                             mk("BW-SUID", "opt/tool"), mk("BW-SECRET-ENV", "", "API_KEY"),
                             mk("BW-SECRET-ENV", "", "OTHER")};
  apply_suppressions(fs,
                     {{"BW-SUID", "/usr/bin/su", "", "needed", "", ""},
                      {"BW-SUID", "usr/lib/", "", "", "", ""},
                      {"BW-SUID", "/usr/lib/", "", "second reason", "", ""},
                      {"BW-SUID", "opt/", "", "", "", ""},
                      {"BW-SUID", "/opt/tool/", "", "", "", ""},
                      {"BW-SECRET-ENV", "", "API_KEY", "rotated", "", ""}},
                     {"docker.io/library/app:1"}, std::chrono::system_clock::now());
  CHECK(fs[0].suppressed);
  CHECK(fs[0].suppression_reason == "needed");
  CHECK(fs[1].suppressed);
  CHECK(fs[1].suppression_reason == "second reason");
  CHECK(fs[2].suppressed);
  CHECK(fs[3].suppressed);
  CHECK_FALSE(fs[4].suppressed);

  json j = to_json(fs[3]);
  CHECK(j["suppression_reason"] == "rotated");
  CHECK_FALSE(j.contains("weight"));
  fs[3].weight = 7;
  CHECK(to_json(fs[3])["weight"] == 7);
  CHECK(finding_from_json(to_json(fs[3])).weight == 7);

  Suppression full{"BW-SECRET-ENV",          "app/",      "API_KEY", "why",
                   "registry.example/team/", "2027-01-31"};
  auto back = suppression_from_json(to_json(full));
  REQUIRE(back);
  CHECK(back->env_key == "API_KEY");
  CHECK(back->path == "app/");
  CHECK(back->reason == "why");
  for (json bad : {json::array(), json{{"path", "x"}}, json{{"rule_id", 1}},
                   json{{"rule_id", "R"}, {"path", 1}}, json{{"rule_id", "R"}, {"env_key", {}}},
                   json{{"rule_id", "R"}, {"reason", 5}},
                   json{{"rule_id", "R"}, {"reason", std::string(1001, 'x')}}}) {
    auto r = suppression_from_json(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::bad_request);
  }
}

TEST_CASE("suppressions scoped to an image, a repository or a prefix, and expiring") {
  auto suid = [] {
    Finding f;
    f.rule_id = "BW-SUID";
    f.evidence.path = "usr/bin/su";
    return std::vector<Finding>{f};
  };
  auto at = [](const char* day) {
    std::tm tm{};
    std::sscanf(day, "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_hour = 12;
    return std::chrono::system_clock::from_time_t(timegm(&tm));
  };
  auto suppressed = [&](const char* image_scope, const char* ref, const char* expires = "",
                        const char* day = "2026-06-01") {
    auto fs = suid();
    apply_suppressions(fs, {{"BW-SUID", "", "", "why", image_scope, expires}},
                       {std::string(ref), "other.example/mirror/app:1"}, at(day));
    return fs[0].suppressed;
  };
  // The scope as the API takes it, normalised as scans name images.
  auto scope = [](json image) {
    auto s = suppression_from_json({{"rule_id", "BW-SUID"}, {"image", image}});
    return s ? s->image : "error: " + s.error().message;
  };
  CHECK(scope("alpine") == "docker.io/library/alpine");
  CHECK(scope("alpine:3.19") == "docker.io/library/alpine:3.19");
  CHECK(scope("127.0.0.1:5000/team/app") == "127.0.0.1:5000/team/app");
  CHECK(scope("127.0.0.1:5000/team/app:v1@sha256:" + std::string(64, 'a')) ==
        "127.0.0.1:5000/team/app@sha256:" + std::string(64, 'a'));
  CHECK(scope("registry.example/team/") == "registry.example/team/");
  CHECK(scope("Not A Reference").starts_with("error: "));
  CHECK(scope(7).starts_with("error: "));

  CHECK(suppressed("", "registry.example/team/app:1"));
  CHECK(suppressed("registry.example/team/app:1", "registry.example/team/app:1"));
  CHECK_FALSE(suppressed("registry.example/team/app:1", "registry.example/team/app:2"));
  CHECK(suppressed("registry.example/team/app", "registry.example/team/app:2"));
  CHECK(suppressed("registry.example/team/app", "registry.example/team/app@sha256:abc"));
  CHECK_FALSE(suppressed("registry.example/team/app", "registry.example/team/app2:1"));
  CHECK_FALSE(suppressed("registry.example/team/app", "registry.example/team/app/sub:1"));
  CHECK(suppressed("registry.example/team/", "registry.example/team/app/sub:1"));
  CHECK_FALSE(suppressed("registry.example/team/", "registry.example/teams/app:1"));
  // Any name the image is known by counts: the same digest mirrored elsewhere.
  CHECK(suppressed("other.example/mirror/app", "registry.example/team/app:1"));
  CHECK(
      suppressed("registry.example/team/app@sha256:abc", "registry.example/team/app:9@sha256:abc"));
  CHECK_FALSE(
      suppressed("registry.example/team/app@sha256:abc", "registry.example/team/app:9@sha256:abd"));
  CHECK_FALSE(
      suppressed("registry.example/team/app@sha256:abc", "registry.example/other:9@sha256:abc"));

  // In force through its last day, then the finding counts again and says why.
  CHECK(suppressed("", "r/a:1", "2026-06-01", "2026-06-01"));
  CHECK_FALSE(suppressed("", "r/a:1", "2026-06-01", "2026-06-02"));
  auto fs = suid();
  apply_suppressions(fs, {{"BW-SUID", "", "", "until the rebuild", "", "2026-05-31"}}, {"r/a:1"},
                     at("2026-06-01"));
  CHECK_FALSE(fs[0].suppressed);
  CHECK(to_json(fs[0])["suppression_expired"] == "2026-05-31");
  CHECK_FALSE(to_json(fs[0]).contains("suppression_reason"));
  // Another entry in force still suppresses it, and the expired one is not mentioned.
  apply_suppressions(fs,
                     {{"BW-SUID", "", "", "until the rebuild", "", "2026-05-31"},
                      {"BW-SUID", "usr/bin/", "", "kept", "", ""}},
                     {"r/a:1"}, at("2026-06-01"));
  CHECK(fs[0].suppressed);
  CHECK_FALSE(to_json(fs[0]).contains("suppression_expired"));

  for (auto bad : {"2026-13-01", "2026-1-01", "tomorrow", "2026-06-01T00:00:00Z"}) {
    CAPTURE(bad);
    CHECK_FALSE(suppression_from_json({{"rule_id", "BW-SUID"}, {"expires", bad}}));
  }
  CHECK(suppression_from_json({{"rule_id", "BW-SUID"}, {"expires", "2026-06-30"}})->expires ==
        "2026-06-30");
}
