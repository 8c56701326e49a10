// An app's own packages end to end: a Python app from Debian's python3-* packages, a Node app
// from Debian's node-* packages installed under node_modules, a Go binary from a Debian package
// that carries build information, and a Java app from Debian's lib*-java jars (one nested in a
// fat jar), pushed to a real registry and scanned by the real daemon. What is listed must equal
// what the files say, read here independently, with the layer that added each.
#include "base_replicas.h"
#include "daemon.h"
#include "registry.h"
#include "schemas.h"
#include "tar_builder.h"
#include "test_images.h"
#include "zip_builder.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

using namespace bw::test;
using nlohmann::json;

namespace {

// "PyYAML", "pyyaml", "py_yaml" name one distribution (PEP 503).
std::string pep503(std::string name) {
  for (char& c : name) c = c == '_' || c == '.' ? '-' : static_cast<char>(std::tolower(c));
  return name;
}

// The distributions a Debian package installs, from the names of their metadata directories
// ("attrs-22.2.0.dist-info"): name and version as the directory spells them.
std::set<std::string> python_distributions(const std::string& package) {
  std::string listing;
  REQUIRE(run_command({"dpkg", "-L", package}, listing) == 0);
  std::set<std::string> out;
  std::istringstream lines(listing);
  for (std::string path; std::getline(lines, path);) {
    std::string base = std::filesystem::path(path).filename();
    for (std::string suffix : {".dist-info", ".egg-info"})
      if (base.ends_with(suffix) && path.find("-packages/") != std::string::npos) {
        std::string stem = base.substr(0, base.size() - suffix.size());
        std::size_t dash = stem.find('-');
        if (dash != std::string::npos)
          out.insert(pep503(stem.substr(0, dash)) + "@" + stem.substr(dash + 1));
      }
  }
  return out;
}

// The version a Debian lib*-java package's versioned link names: commons-io-2.11.0.jar.
std::string jar_version(const std::string& artifact) {
  for (auto& e : std::filesystem::directory_iterator("/usr/share/java")) {
    std::string n = e.path().filename();
    if (n.starts_with(artifact + "-") && n.ends_with(".jar") &&
        std::isdigit(static_cast<unsigned char>(n[artifact.size() + 1])))
      return n.substr(artifact.size() + 1, n.size() - artifact.size() - 5);
  }
  FAIL("no versioned jar of " << artifact);
  return "";
}

}  // namespace

TEST_CASE(
    "an app's npm, Python, Go and Java packages are listed as their files say, with the "
    "layer that added each, in the report's counts and a CycloneDX that validates") {
  LocalRegistry reg;

  TarBuilder python;
  for (const char* p : {"python3-jsonschema", "python3-yaml", "python3-attr"})
    add_installed_package(python, p);

  // A Node app: two dependencies and two dev dependencies (one scoped), installed as `npm
  // install` lays them out, with the lockfile that says which are dev.
  const std::map<std::string, bool> npm_deps = {
      {"ms", false}, {"inherits", false}, {"balanced-match", true}, {"@types/ms", true}};
  TarBuilder node;
  json lock = {{"name", "app"}, {"lockfileVersion", 3}, {"packages", {{"", {{"name", "app"}}}}}};
  json manifest = {{"name", "app"}, {"version", "1.0.0"}};
  for (auto& [name, dev] : npm_deps) {
    add_tree(node, "/usr/share/nodejs/" + name, "app/node_modules/" + name);
    json pkg = json::parse(read_file("/usr/share/nodejs/" + name + "/package.json"));
    manifest[dev ? "devDependencies" : "dependencies"][name] = pkg["version"];
    lock["packages"]["node_modules/" + name] = {{"version", pkg["version"]}};
    if (dev) lock["packages"]["node_modules/" + name]["dev"] = true;
  }
  node.file("app/package.json", manifest.dump(2))
      .file("app/package-lock.json", lock.dump(2))
      .file("app/index.js", "require('ms');\n");

  // Debian's docker-registry: a Go binary whose build info lies 20 MB in.
  std::string go_binary = read_file("/usr/bin/docker-registry");
  TarBuilder go;
  go.file("usr/local/bin/registry", go_binary, 0755);

  // Java: Debian's jars, and a fat jar that nests one of them as Spring Boot does.
  std::string commons_io = read_file("/usr/share/java/commons-io.jar");
  std::string fat = ZipBuilder()
                        .deflated("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nMain-Class: x\n")
                        .deflated("META-INF/maven/com.example/shop/pom.properties",
                                  "groupId=com.example\nartifactId=shop\nversion=1.0.0\n")
                        .stored("BOOT-INF/lib/commons-io.jar", commons_io)
                        .build();
  TarBuilder java;
  java.file("app/lib/commons-io.jar", commons_io)
      .file("app/lib/commons-lang3.jar", read_file("/usr/share/java/commons-lang3.jar"))
      .file("app/shop.jar", fat);

  TestImage im{{make_layer(debian_base()), make_layer(python.build()), make_layer(node.build()),
                make_layer(go.build()), make_layer(java.build())}};
  im.config = {{"User", "65532"}, {"WorkingDir", "/app"}, {"Cmd", {"node", "index.js"}}};
  push_image(reg.host(), "team/polyglot", "1", im);
  const std::string python_layer = im.layers[1].digest(), node_layer = im.layers[2].digest(),
                    go_layer = im.layers[3].digest(), java_layer = im.layers[4].digest();

  Daemon d(json{{"registries", {{"allowed", {"127.0.0.1"}}}}});
  json scan = d.scan(reg.host() + "/team/polyglot:1");
  REQUIRE(scan["status"] == "done");
  const std::string digest = scan["manifest_digest"];
  json image = d.get_json("/v1/images/" + digest);
  json report = d.get_json("/v1/images/" + digest + "/report");

  std::map<std::string, std::vector<json>> by_eco;
  for (auto& p : image["app_packages"]) by_eco[p["ecosystem"]].push_back(p);
  CAPTURE(image["app_packages"].dump(1));

  {  // python: every distribution the Debian packages installed, from the python layer
    std::set<std::string> want;
    for (const char* p : {"python3-jsonschema", "python3-yaml", "python3-attr"})
      for (auto& x : python_distributions(p)) want.insert(x);
    REQUIRE(want.size() >= 3);
    std::set<std::string> got;
    for (auto& p : by_eco["pypi"]) {
      got.insert(pep503(p["name"]) + "@" + p["version"].get<std::string>());
      CHECK(p["layer_digest"] == python_layer);
    }
    CHECK(got == want);
  }

  {  // npm: each installed package.json, dev dependencies as the lockfile says
    std::set<std::string> want, got;
    for (auto& [name, dev] : npm_deps) {
      json pkg = json::parse(read_file("/usr/share/nodejs/" + name + "/package.json"));
      want.insert(pkg["name"].get<std::string>() + "@" + pkg["version"].get<std::string>() +
                  (dev ? " dev" : ""));
    }
    for (auto& p : by_eco["npm"]) {
      got.insert(p["name"].get<std::string>() + "@" + p["version"].get<std::string>() +
                 (p.value("dev", false) ? " dev" : ""));
      CHECK(p["layer_digest"] == node_layer);
      CHECK(p["path"].get<std::string>().starts_with("app/node_modules/"));
    }
    CHECK(got == want);
  }

  {  // go: the Go version and build settings the binary embeds
    std::size_t magic = go_binary.find(std::string("\xff Go buildinf:", 14));
    REQUIRE(magic != std::string::npos);
    std::string version =
        go_binary.substr(magic + 33, static_cast<unsigned char>(go_binary[magic + 32]));
    REQUIRE(by_eco["golang"].size() == 1);  // Debian builds in GOPATH mode: no module list
    CHECK(by_eco["golang"][0]["name"] == "stdlib");
    CHECK(by_eco["golang"][0]["version"] == version);
    CHECK(by_eco["golang"][0]["layer_digest"] == go_layer);
    bool found = false;
    for (auto& x : image["executables"])
      if (x["path"] == "usr/local/bin/registry") {
        found = true;
        CHECK(x["elf"]["go"] == version);
        CHECK(x["elf"]["go_path"] == "github.com/docker/distribution/cmd/registry");
        CHECK(x["elf"]["go_settings"]["CGO_ENABLED"] == "1");
      }
    CHECK(found);
  }

  {  // java: the artifacts the jars' pom.properties name, nested ones included
    std::set<std::string> want = {
        "commons-io:commons-io@" + jar_version("commons-io") + " app/lib/commons-io.jar",
        "org.apache.commons:commons-lang3@" + jar_version("commons-lang3") +
            " app/lib/commons-lang3.jar",
        "com.example:shop@1.0.0 app/shop.jar",
        "commons-io:commons-io@" + jar_version("commons-io") + " app/shop.jar"};
    std::set<std::string> got;
    for (auto& p : by_eco["maven"]) {
      got.insert(p["group"].get<std::string>() + ":" + p["name"].get<std::string>() + "@" +
                 p["version"].get<std::string>() + " " + p["path"].get<std::string>());
      CHECK(p["layer_digest"] == java_layer);
    }
    CHECK(got == want);
  }

  {  // dev dependencies fire BW-DEV-DEPS; `bulwark diff` shows them gone after npm ci --omit=dev
    bool fired = false;
    for (auto& f : report["findings"])
      if (f["rule_id"] == "BW-DEV-DEPS") {
        fired = true;
        CHECK(f["evidence"]["detail"].get<std::string>().find("2 npm dev dependencies") == 0);
      }
    CHECK(fired);
    // The plan names the step that removes them.
    bool planned = false;
    for (auto& s : report["plan"]["steps"]) planned |= s.value("rule_id", "") == "BW-DEV-DEPS";
    CHECK(planned);
    bool advised = false;
    for (auto& a : report["recommendations"])
      if (a["action"] == "fix" && a["rule_id"] == "BW-DEV-DEPS")
        advised = a.dump().find("--omit=dev") != std::string::npos;
    CHECK(advised);
    // The same app installed for production: only the dependencies, and the lockfile npm
    // leaves in node_modules without the dev entries.
    TarBuilder prod;
    json prod_lock = {{"lockfileVersion", 3}, {"packages", json::object()}};
    for (auto& [name, dev] : npm_deps)
      if (!dev) {
        add_tree(prod, "/usr/share/nodejs/" + name, "app/node_modules/" + name);
        prod_lock["packages"]["node_modules/" + name] = json::object();
      }
    prod.file("app/package.json", manifest.dump(2))
        .file("app/node_modules/.package-lock.json", prod_lock.dump(2))
        .file("app/index.js", "require('ms');\n");
    TestImage slim = im;
    slim.layers[2] = make_layer(prod.build());
    push_image(reg.host(), "team/polyglot", "2", slim);
    std::string out;
    REQUIRE(run_command(
                {BULWARK_CLI_PATH, "--server", d.api().server(), "diff",
                 reg.host() + "/team/polyglot:1", reg.host() + "/team/polyglot:2", "-f", "json"},
                out) >= 0);
    json diff = json::parse(out.substr(out.find('{')));
    std::set<std::string> removed, findings_removed;
    for (auto& p : diff["packages"]["removed"]) removed.insert(p["package"]);
    for (auto& f : diff["findings"]["removed"]) findings_removed.insert(f["rule_id"]);
    CHECK(removed == std::set<std::string>{"npm:@types/ms", "npm:balanced-match"});
    CHECK(diff["packages"]["added"].empty());
    CHECK(findings_removed.count("BW-DEV-DEPS"));
    CHECK(diff["after"]["score"].get<int>() > diff["before"]["score"].get<int>());
  }

  {  // the report counts them; the CLI's CycloneDX lists them by package URL and validates
    for (auto& [eco, list] : by_eco) CHECK(report["packages"][eco] == list.size());
    CHECK(report["packages"]["dpkg"].get<int>() >= 3);
    TempDir dir;
    std::string out;
    REQUIRE(run_command({BULWARK_CLI_PATH, "--server", d.api().server(), "scan",
                         reg.host() + "/team/polyglot:1", "-f", "cyclonedx", "-o",
                         dir.path() + "/sbom.json"},
                        out) >= 0);
    json bom = json::parse(read_file(dir.path() + "/sbom.json"));
    std::set<std::string> purls;
    for (auto& c : bom["components"])
      if (c.contains("purl")) purls.insert(c["purl"]);
    CAPTURE(bom["components"].dump(1));
    auto npm_version = [](const std::string& name) {
      return json::parse(read_file("/usr/share/nodejs/" + name + "/package.json"))["version"]
          .get<std::string>();
    };
    CHECK(purls.count("pkg:npm/%40types/ms@" + npm_version("@types/ms")));
    CHECK(purls.count("pkg:npm/ms@" + npm_version("ms")));
    for (auto& dist : python_distributions("python3-yaml")) CHECK(purls.count("pkg:pypi/" + dist));
    CHECK(purls.count("pkg:maven/commons-io/commons-io@" + jar_version("commons-io")));
    CHECK(
        purls.count("pkg:maven/org.apache.commons/commons-lang3@" + jar_version("commons-lang3")));
    CHECK(std::any_of(purls.begin(), purls.end(),
                      [](auto& p) { return p.starts_with("pkg:golang/stdlib@1."); }));
    std::string check;
    CHECK(cyclonedx_valid(dir.path() + "/sbom.json", check));
  }
}

TEST_CASE("a CGO Go binary linked dynamically cannot start on a base without its loader") {
  // Debian's docker-registry is built with CGO_ENABLED=1 and linked against glibc.
  LocalRegistry reg;
  TarBuilder go;
  go.file("app/registry", read_file("/usr/bin/docker-registry"), 0755);
  const std::string app_layer = go.build();
  TestImage on_static = distroless_static_replica();
  on_static.layers.push_back(make_layer(app_layer));
  on_static.config["Entrypoint"] = {"/app/registry"};
  push_image(reg.host(), "team/registry", "static", on_static);
  TestImage on_base = distroless_base_replica();
  on_base.layers.push_back(make_layer(app_layer));
  on_base.config["Entrypoint"] = {"/app/registry"};
  push_image(reg.host(), "team/registry", "base", on_base);

  Daemon d(json{{"registries", {{"allowed", {"127.0.0.1"}}}}});
  auto go_build = [&](const std::string& tag) {
    json scan = d.scan(reg.host() + "/team/registry:" + tag);
    REQUIRE(scan["status"] == "done");
    json report =
        d.get_json("/v1/images/" + scan["manifest_digest"].get<std::string>() + "/report");
    std::string detail;
    for (auto& f : report["findings"])
      if (f["rule_id"] == "BW-GO-BUILD") detail = f["evidence"].value("detail", "");
    return detail;
  };
  CHECK(go_build("static").find("linked dynamically against /lib64/ld-linux-x86-64.so.2, which "
                                "the image does not have: it cannot start") != std::string::npos);
  CHECK(go_build("base").find("cannot start") == std::string::npos);
}

TEST_CASE("a Ruby app's gems are listed as RubyGems itself reads their specifications") {
  // Debian's Ruby, with rack, rake and webrick from its ruby-* packages: default gems, bundled
  // gems and rubygems-integration's, each specification in its own directory.
  const std::vector<std::string> packages = {"libruby3.1", "ruby-rack", "rake", "ruby-webrick"};
  TarBuilder ruby;
  for (auto& p : packages) add_installed_package(ruby, p);
  LocalRegistry reg;
  TestImage im{{make_layer(debian_base()), make_layer(ruby.build())}};
  im.config = {{"User", "65532"}, {"Cmd", {"ruby", "/app/server.rb"}}};
  push_image(reg.host(), "team/ruby", "1", im);

  // What RubyGems makes of each specification file the packages installed.
  std::vector<std::string> argv = {
      "ruby", "-e",
      "ARGV.each { |f| s = Gem::Specification.load(f); "
      "puts \"#{f[1..]} #{s.name}@#{s.version} #{s.licenses.join(' OR ')}\" }"};
  for (auto& p : packages) {
    std::string listing;
    REQUIRE(run_command({"dpkg", "-L", p}, listing) == 0);
    std::istringstream lines(listing);
    for (std::string path; std::getline(lines, path);)
      if (path.ends_with(".gemspec") && path.find("/specifications/") != std::string::npos)
        argv.push_back(path);
  }
  REQUIRE(argv.size() > 10);
  std::string said;
  REQUIRE(run_command(argv, said) == 0);
  std::set<std::string> want;
  std::istringstream lines(said);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) want.insert(line.back() == ' ' ? line.substr(0, line.size() - 1) : line);

  Daemon d(json{{"registries", {{"allowed", {"127.0.0.1"}}}}});
  json scan = d.scan(reg.host() + "/team/ruby:1");
  REQUIRE(scan["status"] == "done");
  const std::string digest = scan["manifest_digest"];
  json image = d.get_json("/v1/images/" + digest);
  std::set<std::string> got;
  for (auto& p : image["app_packages"]) {
    if (p["ecosystem"] != "gem") continue;
    std::string line = p["path"].get<std::string>() + " " + p["name"].get<std::string>() + "@" +
                       p["version"].get<std::string>();
    if (!p.value("license", std::string()).empty()) line += " " + p["license"].get<std::string>();
    got.insert(line);
    CHECK(p["layer_digest"] == im.layers[1].digest());
  }
  CAPTURE(said);
  CHECK(got == want);
  json report = d.get_json("/v1/images/" + digest + "/report");
  CHECK(report["packages"]["gem"] == want.size());

  // In the CLI's CycloneDX by package URL, as Syft writes them, valid against the schema.
  TempDir dir;
  std::string out;
  REQUIRE(
      run_command({BULWARK_CLI_PATH, "--server", d.api().server(), "scan",
                   reg.host() + "/team/ruby:1", "-f", "cyclonedx", "-o", dir.path() + "/sbom.json"},
                  out) >= 0);
  json bom = json::parse(read_file(dir.path() + "/sbom.json"));
  std::set<std::string> purls;
  for (auto& c : bom["components"])
    if (c.contains("purl")) purls.insert(c["purl"]);
  for (auto& line : want) {
    std::string id = line.substr(line.find(' ') + 1);
    id = id.substr(0, id.find(' '));
    CHECK_MESSAGE(purls.count("pkg:gem/" + id), id);
  }
  std::string check;
  CHECK(cyclonedx_valid(dir.path() + "/sbom.json", check));
}

namespace {

// An app's directory as /app, one layer over Debian's base, pushed as REPO:TAG and scanned.
struct ScannedApp {
  std::string app_layer;  // the digest of the app's layer
  json image;             // GET /v1/images/{digest}
  json report;            // …/report
};
ScannedApp scan_app_dir(const LocalRegistry& reg, Daemon& d, const std::string& repo,
                        const std::string& tag, const std::string& dir, json cmd) {
  TarBuilder layer;
  add_tree(layer, dir, "app");
  TestImage im{{make_layer(debian_base()), make_layer(layer.build())}};
  im.config = {{"User", "65532"}, {"WorkingDir", "/app"}, {"Cmd", std::move(cmd)}};
  push_image(reg.host(), repo, tag, im);
  json scan = d.scan(reg.host() + "/" + repo + ":" + tag);
  REQUIRE(scan["status"] == "done");
  const std::string digest = scan["manifest_digest"];
  return {im.layers[1].digest(), d.get_json("/v1/images/" + digest),
          d.get_json("/v1/images/" + digest + "/report")};
}

// The package URLs in the CLI's CycloneDX for `ref`, which must validate against the schema.
std::set<std::string> cyclonedx_purls(Daemon& d, const std::string& ref) {
  TempDir dir;
  std::string out;
  REQUIRE(run_command({BULWARK_CLI_PATH, "--server", d.api().server(), "scan", ref, "-f",
                       "cyclonedx", "-o", dir.path() + "/sbom.json"},
                      out) >= 0);
  json bom = json::parse(read_file(dir.path() + "/sbom.json"));
  std::set<std::string> purls;
  for (auto& c : bom["components"])
    if (c.contains("purl")) purls.insert(c["purl"]);
  std::string check;
  CHECK_MESSAGE(cyclonedx_valid(dir.path() + "/sbom.json", check), check);
  return purls;
}

}  // namespace

TEST_CASE("a Node app npm installed from packed packages: each listed with its dev flag") {
  // Three small packages packed by `npm pack` (one scoped), installed by `npm install` the way
  // a build does it, one of them as a dev dependency; then the same app installed by `npm ci
  // --omit=dev`. npm is kept offline and pointed at a port nothing listens on: no byte leaves
  // this machine.
  TempDir work;
  const std::string packs = work.path() + "/packs";
  std::filesystem::create_directories(packs);
  const std::vector<std::string> env = {"env", "npm_config_cache=" + work.path() + "/cache",
                                        "npm_config_registry=http://127.0.0.1:9/",
                                        "npm_config_update_notifier=false"};
  auto npm = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = env;
    argv.push_back("npm");
    argv.insert(argv.end(), args.begin(), args.end());
    for (const char* flag : {"--offline", "--no-audit", "--no-fund", "--ignore-scripts"})
      argv.push_back(flag);
    std::string out;
    REQUIRE_MESSAGE(run_command(argv, out) == 0, out);
  };
  std::map<std::string, std::string> tarball;
  for (auto [name, version, license] :
       {std::tuple{"left-pad-lite", "1.2.3", "MIT"}, std::tuple{"@acme/util", "0.4.0", "ISC"},
        std::tuple{"@acme/test-helper", "2.0.0", "Apache-2.0"}}) {
    std::string dir =
        work.path() + "/src/" + std::string(name).substr(std::string(name).find('/') + 1);
    std::filesystem::create_directories(dir);
    write_file(
        dir + "/package.json",
        json{{"name", name}, {"version", version}, {"license", license}, {"main", "index.js"}}
            .dump());
    write_file(dir + "/index.js", "module.exports = 1;\n");
    npm({"pack", dir, "--pack-destination", packs});
    std::string file = std::string(name[0] == '@' ? std::string(name).substr(1) : name);
    std::replace(file.begin(), file.end(), '/', '-');
    tarball[name] = packs + "/" + file + "-" + version + ".tgz";
    REQUIRE(std::filesystem::exists(tarball[name]));
  }
  const std::string app = work.path() + "/app";
  std::filesystem::create_directories(app);
  write_file(app + "/package.json", R"({"name":"app","version":"1.0.0"})");
  write_file(app + "/index.js", "require('left-pad-lite');\n");
  npm({"install", "--prefix", app, tarball["left-pad-lite"], tarball["@acme/util"]});
  npm({"install", "--prefix", app, "--save-dev", tarball["@acme/test-helper"]});
  // The same app built for production: its lockfile, dev dependencies left out.
  const std::string prod = work.path() + "/prod";
  std::filesystem::create_directories(prod);
  for (const char* f : {"package.json", "package-lock.json", "index.js"})
    std::filesystem::copy_file(app + "/" + f, prod + "/" + f);
  npm({"ci", "--prefix", prod, "--omit=dev"});

  // What npm's files say: each installed package.json, and the dev flags of the lockfile npm
  // wrote under node_modules.
  auto installed = [](const std::string& root) {
    json lock = json::parse(read_file(root + "/node_modules/.package-lock.json"));
    std::set<std::string> out;
    for (auto& e : std::filesystem::recursive_directory_iterator(root + "/node_modules")) {
      if (e.path().filename() != "package.json") continue;
      std::string rel = std::filesystem::relative(e.path().parent_path(), root).string();
      json pkg = json::parse(read_file(e.path()));
      bool dev = lock["packages"].contains(rel) && lock["packages"][rel].value("dev", false);
      out.insert(pkg["name"].get<std::string>() + "@" + pkg["version"].get<std::string>() + " " +
                 pkg["license"].get<std::string>() + (dev ? " dev" : ""));
    }
    return out;
  };
  const std::set<std::string> want = installed(app), want_prod = installed(prod);
  CHECK(want.size() == 3);
  CHECK(want_prod.size() == 2);

  LocalRegistry reg;
  Daemon d(json{{"registries", {{"allowed", {"127.0.0.1"}}}}});
  for (const auto& built : {std::tuple{"dev", app, &want}, std::tuple{"prod", prod, &want_prod}}) {
    const std::string tag = std::get<0>(built), root = std::get<1>(built);
    const std::set<std::string>* expect = std::get<2>(built);
    CAPTURE(tag);
    ScannedApp scanned = scan_app_dir(reg, d, "team/node", tag, root, {"node", "index.js"});
    std::set<std::string> got;
    for (auto& p : scanned.image["app_packages"]) {
      if (p["ecosystem"] != "npm") continue;
      got.insert(p["name"].get<std::string>() + "@" + p["version"].get<std::string>() + " " +
                 p.value("license", std::string()) + (p.value("dev", false) ? " dev" : ""));
      CHECK(p["layer_digest"] == scanned.app_layer);
    }
    CHECK(got == *expect);
    // A dev dependency in the image trips BW-DEV-DEPS; the production install does not.
    bool dev_deps = false;
    for (auto& f : scanned.report["findings"]) dev_deps |= f["rule_id"] == "BW-DEV-DEPS";
    CHECK(dev_deps == (tag == "dev"));

    auto purls = cyclonedx_purls(d, reg.host() + "/team/node:" + tag);
    CHECK(purls.count("pkg:npm/left-pad-lite@1.2.3"));
    CHECK(purls.count("pkg:npm/%40acme/util@0.4.0"));
    CHECK(purls.count("pkg:npm/%40acme/test-helper@2.0.0") == (tag == "dev"));
  }
}

TEST_CASE("a PHP app Composer installed from path repositories: each listed with its dev flag") {
  // Three local packages (one under two licenses, one a dev dependency) installed by Debian's
  // composer the way a build does it, then again with --no-dev. Packagist is switched off and
  // the network disabled: no byte leaves this machine.
  TempDir work;
  const std::string pkgs = work.path() + "/pkgs";
  for (auto [dir, manifest] :
       {std::pair{"log", json{{"name", "acme/log"}, {"version", "1.2.0"}, {"license", "MIT"}}},
        std::pair{"http", json{{"name", "acme/http"},
                               {"version", "2.1.3"},
                               {"license", {"MIT", "Apache-2.0"}},
                               {"require", {{"acme/log", "^1.0"}}}}},
        std::pair{"testkit", json{{"name", "acme/testkit"}, {"version", "0.3.1"}}}}) {
    std::filesystem::create_directories(pkgs + "/" + dir);
    write_file(pkgs + "/" + dir + "/composer.json", manifest.dump());
  }
  const json root = {
      {"name", "acme/app"},
      {"repositories",
       {{{"packagist.org", false}},
        {{"type", "path"}, {"url", pkgs + "/*"}, {"options", {{"symlink", false}}}}}},
      {"require", {{"acme/http", "^2.0"}}},
      {"require-dev", {{"acme/testkit", "0.3.1"}}}};
  const std::vector<std::string> env = {"env",
                                        "COMPOSER_HOME=" + work.path() + "/home",
                                        "COMPOSER_CACHE_DIR=" + work.path() + "/cache",
                                        "COMPOSER_DISABLE_NETWORK=1",
                                        "COMPOSER_ALLOW_SUPERUSER=1",
                                        "http_proxy=http://127.0.0.1:9",
                                        "https_proxy=http://127.0.0.1:9"};
  auto composer = [&](const std::string& dir, std::vector<std::string> args) {
    std::vector<std::string> argv = env;
    argv.insert(argv.end(), {"composer", "--no-interaction", "--working-dir=" + dir});
    argv.insert(argv.end(), args.begin(), args.end());
    std::string out;
    REQUIRE_MESSAGE(run_command(argv, out) == 0, out);
    return out;
  };
  const std::string app = work.path() + "/app", prod = work.path() + "/prod";
  for (auto& dir : {app, prod}) {
    std::filesystem::create_directories(dir);
    write_file(dir + "/composer.json", root.dump());
    write_file(dir + "/index.php", "<?php require __DIR__ . '/vendor/autoload.php';\n");
  }
  composer(app, {"install", "--no-progress"});
  composer(prod, {"install", "--no-progress", "--no-dev"});

  // What Composer itself says is installed, with and without the dev requirements, read here
  // through `composer show` rather than the file the analyser reads.
  auto shown = [&](const std::string& dir, bool no_dev) {
    std::vector<std::string> args = {"show", "--format=json"};
    if (no_dev) args.push_back("--no-dev");
    json listed = json::parse(composer(dir, args));
    std::set<std::string> out;
    for (auto& p : listed["installed"])
      out.insert(p["name"].get<std::string>() + "@" + p["version"].get<std::string>());
    return out;
  };
  auto with_dev_flags = [&](const std::string& dir) {
    std::set<std::string> all = shown(dir, false), production = shown(dir, true), out;
    for (auto& p : all) out.insert(p + (production.count(p) ? "" : " dev"));
    return out;
  };
  const std::set<std::string> want = with_dev_flags(app), want_prod = with_dev_flags(prod);
  CHECK(want ==
        std::set<std::string>{"acme/http@2.1.3", "acme/log@1.2.0", "acme/testkit@0.3.1 dev"});
  CHECK(want_prod == std::set<std::string>{"acme/http@2.1.3", "acme/log@1.2.0"});

  LocalRegistry reg;
  Daemon d(json{{"registries", {{"allowed", {"127.0.0.1"}}}}});
  for (const auto& built : {std::tuple{"dev", app, &want}, std::tuple{"prod", prod, &want_prod}}) {
    const std::string tag = std::get<0>(built), dir = std::get<1>(built);
    const std::set<std::string>* expect = std::get<2>(built);
    CAPTURE(tag);
    ScannedApp scanned = scan_app_dir(reg, d, "team/php", tag, dir, {"php", "index.php"});
    std::set<std::string> got;
    for (auto& p : scanned.image["app_packages"]) {
      if (p["ecosystem"] != "composer") continue;
      got.insert(p["name"].get<std::string>() + "@" + p["version"].get<std::string>() +
                 (p.value("dev", false) ? " dev" : ""));
      CHECK(p["layer_digest"] == scanned.app_layer);
      CHECK(p["path"] == "app/vendor/composer/installed.json");
      if (p["name"] == "acme/http") CHECK(p["license"] == "MIT OR Apache-2.0");
    }
    CHECK(got == *expect);
    CHECK(scanned.report["packages"]["composer"] == expect->size());
    // A dev dependency in the image trips BW-DEV-DEPS, named by its ecosystem; --no-dev does not.
    std::string dev_detail;
    for (auto& f : scanned.report["findings"])
      if (f["rule_id"] == "BW-DEV-DEPS") dev_detail = f["evidence"].value("detail", "");
    if (tag == "dev")
      CHECK(dev_detail == "1 composer dev dependencies: acme/testkit@0.3.1");
    else
      CHECK(dev_detail.empty());

    auto purls = cyclonedx_purls(d, reg.host() + "/team/php:" + tag);
    CHECK(purls.count("pkg:composer/acme/http@2.1.3"));
    CHECK(purls.count("pkg:composer/acme/log@1.2.0"));
    CHECK(purls.count("pkg:composer/acme/testkit@0.3.1") == (tag == "dev"));
  }
}

TEST_CASE("a Rust binary's crates are listed as its cargo auditable section records them") {
  // Debian ships no cargo auditable: the program is built with Debian's rustc, and the audit data
  // linked in the way cargo auditable links it, an object file holding the .dep-v0 section and
  // the symbol the linker is told to keep.
  TempDir work;
  const std::string dir = work.path();
  write_file(dir + "/main.rs", "fn main() { println!(\"server up\"); }\n");
  const json audit = {
      {"packages",
       {{{"name", "server"},
         {"version", "0.3.0"},
         {"source", "local"},
         {"dependencies", {1, 2, 3}},
         {"root", true}},
        {{"name", "serde"}, {"version", "1.0.193"}, {"source", "crates.io"}},
        {{"name", "libc"}, {"version", "0.2.150"}, {"source", "crates.io"}, {"kind", "runtime"}},
        {{"name", "cc"}, {"version", "1.0.83"}, {"source", "crates.io"}, {"kind", "build"}}}}};
  write_file(dir + "/audit_data", zlib_compress(audit.dump()));
  std::string out;
  REQUIRE_MESSAGE(
      run_command({"sh", "-c",
                   "cd '" + dir +
                       "' && objcopy -I binary -O elf64-x86-64 -B i386:x86-64 "
                       "--rename-section .data=.dep-v0,alloc,load,readonly,data,contents "
                       "--redefine-sym _binary_audit_data_start=AUDITABLE_VERSION_INFO "
                       "audit_data audit_data.o"},
                  out) == 0,
      out);
  REQUIRE_MESSAGE(
      run_command({"/usr/bin/rustc", "-C", "opt-level=2", "-C", "link-arg=" + dir + "/audit_data.o",
                   "-C", "link-arg=-Wl,--undefined=AUDITABLE_VERSION_INFO", "-o", dir + "/server",
                   dir + "/main.rs"},
                  out) == 0,
      out);
  REQUIRE(read_file(dir + "/server").size() > (2u << 20));  // past the 1 MiB read below
  REQUIRE(run_command({dir + "/server"}, out) == 0);
  CHECK(out.find("server up") != std::string::npos);

  // What the binary says, read here independently: the section objcopy dumps, inflated, its
  // runtime crates.
  REQUIRE_MESSAGE(
      run_command({"objcopy", "--dump-section", ".dep-v0=" + dir + "/dumped", dir + "/server"},
                  out) == 0,
      out);
  std::set<std::string> want;
  const json dumped = json::parse(zlib_decompress(read_file(dir + "/dumped")));
  for (auto& p : dumped["packages"])
    if (p.value("kind", "runtime") == "runtime")
      want.insert(p["name"].get<std::string>() + "@" + p["version"].get<std::string>());
  CHECK(want == std::set<std::string>{"server@0.3.0", "serde@1.0.193", "libc@0.2.150"});

  LocalRegistry reg;
  TarBuilder app;
  app.file("usr/local/bin/server", read_file(dir + "/server"), 0755);
  TestImage im{{make_layer(debian_base()), make_layer(app.build())}};
  im.config = {{"User", "65532"}, {"Entrypoint", {"/usr/local/bin/server"}}};
  push_image(reg.host(), "team/rust", "1", im);
  // The binary (11 MB) read whole, then with a 1 MiB ELF read: its section headers, at its end,
  // are then read later, and find the section in the head.
  for (std::uint64_t elf_read : {std::uint64_t{16} << 20, std::uint64_t{1} << 20}) {
    CAPTURE(elf_read);
    Daemon d(json{{"registries", {{"allowed", {"127.0.0.1"}}}},
                  {"limits", {{"max_elf_read_bytes", elf_read}}}});
    json scan = d.scan(reg.host() + "/team/rust:1");
    REQUIRE(scan["status"] == "done");
    const std::string digest = scan["manifest_digest"];
    json image = d.get_json("/v1/images/" + digest);
    json report = d.get_json("/v1/images/" + digest + "/report");
    std::set<std::string> got;
    for (auto& p : image["app_packages"]) {
      if (p["ecosystem"] != "cargo") continue;
      got.insert(p["name"].get<std::string>() + "@" + p["version"].get<std::string>());
      CHECK(p["layer_digest"] == im.layers[1].digest());
      CHECK(p["path"] == "usr/local/bin/server");
    }
    CAPTURE(image["app_packages"].dump(1));
    CHECK(got == want);
    CHECK(report["packages"]["cargo"] == want.size());

    auto purls = cyclonedx_purls(d, reg.host() + "/team/rust:1");
    for (auto& p : want) CHECK(purls.count("pkg:cargo/" + p));
    CHECK(purls.count("pkg:cargo/cc@1.0.83") == 0);
  }
}
