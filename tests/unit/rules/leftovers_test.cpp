// What builds leave in final images: each rule on one image that trips it and one that must
// not, the images as layers analysed the way the daemon analyses them.
#include "layer/image_summary.h"
#include "layer_facts.h"
#include "rules/rules.h"
#include "tar_builder.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>

using namespace bw;
using bw::test::analyze_tar;
using bw::test::TarBuilder;
using nlohmann::json;

namespace {

struct Run {
  std::vector<Finding> findings;
  std::vector<std::string> details(const std::string& id) const {
    std::vector<std::string> out;
    for (auto& f : findings)
      if (f.rule_id == id) out.push_back(f.evidence.detail);
    return out;
  }
  bool has(const std::string& id) const { return !details(id).empty(); }
};

Run evaluate(const ImageSummary& s, json config = json::object()) {
  config["User"] = "65532";
  auto catalog = RuleCatalog::builtin();
  RuleInput in{s, {{"config", config}}, {"sha256:base", "sha256:app"}, 1, "1.0"};
  in.now = std::chrono::sys_days{std::chrono::year{2026} / 12 / 5};
  return Run{evaluate_rules(*catalog, in)};
}

// A Debian-like base and the app layer `app` on top, analysed and merged.
Run scan(const TarBuilder& app, json config = json::object()) {
  auto base =
      analyze_tar(TarBuilder().file("etc/os-release", "ID=debian\nVERSION_ID=12\n").build());
  auto top = analyze_tar(app.build());
  ImageSummary s = summarize_image({&base, &top}, {"sha256:base", "sha256:app"});
  return evaluate(s, std::move(config));
}

std::string npm_package(const std::string& name) {
  return R"({"name":")" + name + R"(","version":"1.0.0"})";
}

std::string dpkg_status(const std::vector<std::string>& names) {
  std::string out;
  for (auto& n : names)
    out +=
        "Package: " + n + "\nStatus: install ok installed\nVersion: 1.0-1\nArchitecture: amd64\n\n";
  return out;
}

Executable go_binary(const std::string& path, const std::string& layer, std::string version,
                     std::map<std::string, std::string> settings) {
  Executable x;
  x.file.path = path;
  x.file.layer_digest = layer;
  x.elf.kind = ElfKind::executable;
  x.elf.is_static = true;
  x.elf.go = std::move(version);
  x.elf.go_settings = std::move(settings);
  return x;
}

}  // namespace

TEST_CASE("BW-DEV-DEPS: npm dev dependencies installed in the image, not a production install") {
  TarBuilder dev;
  dev.file("app/package.json", R"({"name":"app","devDependencies":{"jest":"29"}})")
      .file("app/node_modules/ms/package.json", npm_package("ms"))
      .file("app/node_modules/jest/package.json", npm_package("jest"));
  CHECK(scan(dev).details("BW-DEV-DEPS") ==
        std::vector<std::string>{"1 npm dev dependencies: jest@1.0.0"});
  TarBuilder prod;
  prod.file("app/package.json", R"({"name":"app","devDependencies":{"jest":"29"}})")
      .file("app/node_modules/ms/package.json", npm_package("ms"));
  CHECK_FALSE(scan(prod).has("BW-DEV-DEPS"));
}

TEST_CASE("BW-PKG-CACHE: the caches package managers leave, by the files they leave") {
  TarBuilder cached;
  cached.dir("root/.npm/_cacache")
      .dir("home/app/.cache/pip")
      .file("var/cache/apt/archives/curl_7.88.1-10_amd64.deb", "deb")
      .file("var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages",
            "Package: x\n");
  auto details = scan(cached).details("BW-PKG-CACHE");
  REQUIRE(details.size() == 1);
  CHECK(details[0].find("/root/.npm/_cacache") != std::string::npos);
  CHECK(details[0].find("/home/app/.cache/pip") != std::string::npos);
  CHECK(details[0].find(".deb") != std::string::npos);
  CHECK(details[0].find("_Packages") != std::string::npos);
  // What apt-get clean and rm -rf /var/lib/apt/lists/* leave is no cache.
  TarBuilder clean;
  clean.dir("var/cache/apt/archives/partial")
      .file("var/cache/apt/archives/lock", "")
      .file("var/lib/apt/lists/lock", "")
      .dir("app/cache");
  CHECK_FALSE(scan(clean).has("BW-PKG-CACHE"));
}

TEST_CASE("BW-UNNEEDED-FILES: source maps and test suites of the app, not of its packages") {
  TarBuilder leftovers;
  leftovers.file("app/dist/main.js", "x")
      .file("app/dist/main.js.map", "{}")
      .dir("app/tests")
      .file(".env.example", "DB_HOST=\n");
  auto details = scan(leftovers).details("BW-UNNEEDED-FILES");
  REQUIRE(details.size() == 1);
  CHECK(details[0].find("/app/dist/main.js.map") != std::string::npos);
  CHECK(details[0].find("/app/tests") != std::string::npos);
  CHECK(details[0].find("/.env.example") != std::string::npos);
  TarBuilder packaged;
  packaged.file("app/dist/main.js", "x")
      .dir("app/node_modules/ms/test")
      .file("app/node_modules/ms/dist/ms.js.map", "{}")
      .dir("usr/lib/python3/dist-packages/yaml/tests")
      .dir("usr/share/doc/x/tests");
  CHECK_FALSE(scan(packaged).has("BW-UNNEEDED-FILES"));
}

TEST_CASE("BW-DEV-PACKAGES: headers and static libraries in the final stage") {
  TarBuilder dev;
  dev.file("var/lib/dpkg/status", dpkg_status({"libssl3", "libssl-dev", "zlib1g-dev"}));
  CHECK(scan(dev).details("BW-DEV-PACKAGES") ==
        std::vector<std::string>{"development packages: libssl-dev, zlib1g-dev"});
  TarBuilder runtime;
  runtime.file("var/lib/dpkg/status", dpkg_status({"libssl3", "zlib1g", "libdevmapper1.02.1"}));
  CHECK_FALSE(scan(runtime).has("BW-DEV-PACKAGES"));
}

TEST_CASE("BW-GO-BUILD: the app's Go binary built without -trimpath, or CGO linked statically") {
  ImageSummary s;
  s.executables = {
      go_binary("app/server", "sha256:app", "go1.26.0", {{"CGO_ENABLED", "1"}, {"GOOS", "linux"}})};
  auto details = evaluate(s).details("BW-GO-BUILD");
  REQUIRE(details.size() == 1);
  CHECK(details[0].find("-trimpath") != std::string::npos);
  CHECK(details[0].find("CGO_ENABLED=1") != std::string::npos);
  // A clean build, and a base's binary (the OS's packages are not the app's build).
  s.executables = {
      go_binary("app/server", "sha256:app", "go1.26.0",
                {{"CGO_ENABLED", "0"}, {"-trimpath", "true"}}),
      go_binary("usr/bin/registry", "sha256:base", "go1.26.0", {{"CGO_ENABLED", "1"}})};
  CHECK_FALSE(evaluate(s).has("BW-GO-BUILD"));
}

TEST_CASE("BW-GO-BUILD: a CGO binary linked dynamically on a base without its loader") {
  Executable dynamic = go_binary("app/server", "sha256:app", "go1.26.0",
                                 {{"CGO_ENABLED", "1"}, {"-trimpath", "true"}});
  dynamic.elf.is_static = false;
  dynamic.elf.interpreter = "/lib64/ld-linux-x86-64.so.2";
  dynamic.elf.libc = Libc::glibc;
  // On scratch or a static base: nothing to load it.
  ImageSummary bare;
  bare.executables = {dynamic};
  auto details = evaluate(bare).details("BW-GO-BUILD");
  REQUIRE(details.size() == 1);
  CHECK(details[0] ==
        "CGO_ENABLED=1 linked dynamically against /lib64/ld-linux-x86-64.so.2, which the image "
        "does not have: it cannot start");
  // On a base with glibc (its package, or libc.so.6 itself): it starts.
  ImageSummary with_libc = bare;
  with_libc.packages.push_back(
      InstalledPackage{Package{"dpkg", "libc6", "2.36-9", "", "", "amd64", ""},
                       "var/lib/dpkg/status", "sha256:base"});
  CHECK_FALSE(evaluate(with_libc).has("BW-GO-BUILD"));
  ImageSummary with_so = bare;
  Executable libc_so;
  libc_so.file.path = "lib/x86_64-linux-gnu/libc.so.6";
  libc_so.file.layer_digest = "sha256:base";
  with_so.executables.push_back(libc_so);
  CHECK_FALSE(evaluate(with_so).has("BW-GO-BUILD"));
  // musl's loader needs musl, not glibc.
  dynamic.elf.interpreter = "/lib/ld-musl-x86_64.so.1";
  dynamic.elf.libc = Libc::musl;
  with_libc.executables = {dynamic};
  CHECK(evaluate(with_libc).has("BW-GO-BUILD"));
}

TEST_CASE("BW-RUNTIME-EOL: runtimes outside the OS's packages, past upstream support") {
  ImageSummary none;
  // Official images name their runtime in the environment.
  for (const char* env : {"PYTHON_VERSION=3.8.18", "NODE_VERSION=20.11.1",
                          "JAVA_VERSION=jdk8u392-b08", "GOLANG_VERSION=1.22.5"}) {
    CAPTURE(env);
    CHECK(evaluate(none, {{"Env", {env}}}).has("BW-RUNTIME-EOL"));
  }
  for (const char* env : {"PYTHON_VERSION=3.12.1", "NODE_VERSION=22.3.0",
                          "JAVA_VERSION=jdk-17.0.9+9", "GOLANG_VERSION=1.26.0", "APP_VERSION=1"}) {
    CAPTURE(env);
    CHECK_FALSE(evaluate(none, {{"Env", {env}}}).has("BW-RUNTIME-EOL"));
  }
  CHECK(
      evaluate(none, {{"Env", {"NODE_VERSION=20.11.1"}}}).details("BW-RUNTIME-EOL") ==
      std::vector<std::string>{"node 20 reached end of life on 2026-04-30 (NODE_VERSION=20.11.1)"});
  // A Python built into /usr/local, and the app's Go binary built with an old Go; the OS's
  // own python3.9 is the OS's to support (BW-OS-EOL).
  ImageSummary s;
  Executable py;
  py.file = FileRef{"usr/local/bin/python3.9", 0755, 0, 0, "sha256:base", ""};
  py.elf.kind = ElfKind::executable;
  s.executables = {py, go_binary("app/server", "sha256:app", "go1.21.3", {})};
  auto details = evaluate(s).details("BW-RUNTIME-EOL");
  CHECK(details == std::vector<std::string>{
                       "python 3.9 reached end of life on 2025-10-31 (/usr/local/bin/python3.9)",
                       "go 1.21 reached end of life on 2024-08-13 (/app/server built with "
                       "go1.21.3)"});
  py.file.path = "usr/bin/python3.9";
  s.executables = {py, go_binary("app/server", "sha256:app", "go1.26.0", {})};
  CHECK_FALSE(evaluate(s).has("BW-RUNTIME-EOL"));
  // Node.js and a JDK unpacked from upstream's archives, by their own release files; the same
  // files of an OS package's JDK (under usr/lib/jvm, in a base layer) are the OS's.
  auto release = [](const std::string& name, const std::string& version, const std::string& path,
                    const std::string& layer) {
    return InstalledAppPackage{AppPackage{"generic", "", name, version, "", ""}, path, layer};
  };
  ImageSummary r;
  r.app_packages = {
      release("node", "16.20.2", "usr/local/include/node/node_version.h", "sha256:base"),
      release("java", "1.8.0_392", "opt/java/openjdk/release", "sha256:base"),
      release("java", "15.0.2", "usr/lib/jvm/java-15/release", "sha256:base")};
  CHECK(evaluate(r).details("BW-RUNTIME-EOL") ==
        std::vector<std::string>{
            "node 16 reached end of life on 2023-09-11 (/usr/local/include/node/node_version.h "
            "says 16.20.2)",
            "java 8 reached end of life on 2026-11-30 (/opt/java/openjdk/release says 1.8.0_392)"});
  r.app_packages = {
      release("node", "22.3.0", "usr/local/include/node/node_version.h", "sha256:base"),
      release("java", "21.0.2", "opt/java/openjdk/release", "sha256:base")};
  CHECK_FALSE(evaluate(r).has("BW-RUNTIME-EOL"));
}

TEST_CASE(
    "credentials in the app's tool configs are secret files; the tools' own defaults are not") {
  TarBuilder creds;
  for (const char* p :
       {"root/.npmrc", "app/.npmrc", "root/.pypirc", "root/.git-credentials",
        "root/.docker/config.json", "home/app/.m2/settings.xml", "srv/www/.htpasswd"})
    creds.file(p, "secret\n");
  std::vector<std::string> paths;
  for (auto& f : scan(creds).findings)
    if (f.rule_id == "BW-SECRET-FILE") paths.push_back(f.evidence.path);
  std::sort(paths.begin(), paths.end());
  CHECK(paths == std::vector<std::string>{"app/.npmrc", "home/app/.m2/settings.xml",
                                          "root/.docker/config.json", "root/.git-credentials",
                                          "root/.npmrc", "root/.pypirc", "srv/www/.htpasswd"});
  TarBuilder defaults;
  defaults.file("usr/share/maven/conf/settings.xml", "<settings/>\n")
      .file("usr/lib/node_modules/npm/npmrc", "prefix=/usr/local\n")
      .file("app/.npmrc.example", "registry=https://registry.npmjs.org/\n");
  CHECK(scan(defaults).details("BW-SECRET-FILE").empty());
}
