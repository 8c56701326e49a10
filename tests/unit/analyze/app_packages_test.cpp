// Language packages: what npm, Python, Go and Java files say, read as a layer walk reads them.
#include "analyze/app_packages.h"
#include "layer/image_summary.h"
#include "layer_facts.h"
#include "process.h"
#include "tar_builder.h"
#include "zip_builder.h"

#include <doctest/doctest.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

using namespace bw;
using bw::test::analyze_tar;
using bw::test::TarBuilder;
using bw::test::ZipBuilder;
using bw::test::zlib_compress;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ecosystem/group:name@version of every package an image's layers hold, with "+dev" for npm's
// dev dependencies.
std::set<std::string> listed(const std::vector<std::string>& tars) {
  std::vector<LayerFacts> facts;
  std::vector<std::string> digests;
  for (auto& t : tars) {
    facts.push_back(analyze_tar(t));
    digests.push_back("sha256:" + std::to_string(digests.size()));
  }
  std::vector<const LayerFacts*> ptrs;
  for (auto& f : facts) ptrs.push_back(&f);
  std::set<std::string> out;
  for (auto& p : summarize_image(ptrs, digests).app_packages)
    out.insert(p.package.ecosystem + "/" + (p.package.group.empty() ? "" : p.package.group + ":") +
               p.package.name + "@" + p.package.version + (p.dev ? "+dev" : ""));
  return out;
}

std::string npm_manifest(const std::string& name, const std::string& version,
                         const std::string& license_json = "\"MIT\"") {
  return "{\"name\":\"" + name + "\",\"version\":\"" + version + "\",\"license\":" + license_json +
         "}";
}

// Go's build info as the linker writes it (1.18+): header, then the version and the module
// information, each length-prefixed, the latter framed by 16 bytes each side.
std::string go_buildinfo(const std::string& version, const std::string& modinfo) {
  std::string out("\xff Go buildinf:", 14);
  out += '\x08';
  out += '\x02';
  out.append(16, '\0');
  auto put = [&](const std::string& s) {
    std::size_t n = s.size();
    while (n >= 0x80) {
      out += static_cast<char>((n & 0x7f) | 0x80);
      n >>= 7;
    }
    out += static_cast<char>(n);
    out += s;
  };
  put(version);
  put(std::string(16, 'S') + modinfo + std::string(16, 'E'));
  return out;
}

// A little-endian ELF executable (64-bit, or 32-bit) with `sections` (name, content) laid out
// after its header, then `gap` bytes, then the section names and the section header table, where
// linkers put them.
std::string elf_with_sections(const std::vector<std::pair<std::string, std::string>>& sections,
                              std::size_t gap, bool is64 = true) {
  auto put = [](std::string& out, std::size_t at, std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
  };
  // Header and section header sizes, and the offsets of the fields that differ by class.
  const std::size_t ehsize = is64 ? 64 : 52, shentsize = is64 ? 64 : 40;
  const std::size_t shoff_at = is64 ? 40 : 32, counts_at = is64 ? 58 : 46;
  const int word = is64 ? 8 : 4;
  std::string file(ehsize, '\0');
  file.replace(0, 7,
               "\x7f"
               "ELF\x01\x01\x01");
  file[4] = is64 ? 2 : 1;
  put(file, 16, 2, 2);              // ET_EXEC
  put(file, 18, is64 ? 62 : 3, 2);  // x86-64, i386
  put(file, 20, 1, 4);
  put(file, is64 ? 52 : 40, ehsize, 2);
  std::string names(1, '\0');
  std::vector<std::array<std::uint64_t, 3>> placed;  // name, offset, size
  for (auto& [name, content] : sections) {
    placed.push_back({names.size(), file.size(), content.size()});
    names += name + '\0';
    file += content;
  }
  file.append(gap, 'x');
  std::uint64_t names_name = names.size();
  names += std::string(".shstrtab") + '\0';
  placed.push_back({names_name, file.size(), names.size()});
  file += names;
  std::size_t table = file.size();
  file.append(shentsize * (placed.size() + 1), '\0');  // entry 0 is the null section
  for (std::size_t i = 0; i < placed.size(); ++i) {
    std::size_t o = table + shentsize * (i + 1);
    put(file, o, placed[i][0], 4);
    put(file, o + 4, i + 1 == placed.size() ? 3 : 1, 4);  // SHT_STRTAB, else SHT_PROGBITS
    put(file, o + (is64 ? 24 : 16), placed[i][1], word);
    put(file, o + (is64 ? 32 : 20), placed[i][2], word);
  }
  put(file, shoff_at, table, word);
  put(file, counts_at, shentsize, 2);
  put(file, counts_at + 2, placed.size() + 1, 2);
  put(file, counts_at + 4, placed.size(), 2);
  return file;
}

// What cargo auditable records for a binary crate with two runtime dependencies and a build
// dependency (cc, for its build script), and one entry without a version.
const char* const kAuditJson = R"({"packages":[
  {"name":"server","version":"0.3.0","source":"local","dependencies":[1,2,3],"root":true},
  {"name":"serde","version":"1.0.193","source":"crates.io","kind":"runtime"},
  {"name":"libc","version":"0.2.150","source":"crates.io"},
  {"name":"cc","version":"1.0.83","source":"crates.io","kind":"build"},
  {"name":"nameless","source":"crates.io"}]})";

}  // namespace

TEST_CASE("npm: installed manifests by path; names, scopes and licenses as package.json has them") {
  CHECK(is_npm_installed_manifest("app/node_modules/ms/package.json"));
  CHECK(is_npm_installed_manifest("node_modules/@types/node/package.json"));
  CHECK(is_npm_installed_manifest("app/node_modules/a/node_modules/b/package.json"));
  CHECK_FALSE(is_npm_installed_manifest("app/package.json"));
  CHECK_FALSE(is_npm_installed_manifest("app/node_modules/ms/lib/package.json"));
  CHECK_FALSE(is_npm_installed_manifest("app/node_modules/.bin/package.json"));
  CHECK_FALSE(is_npm_installed_manifest("usr/share/nodejs/ms/package.json"));

  auto p = parse_npm_package(npm_manifest("@scope/x", "1.2.3", "{\"type\":\"ISC\"}"));
  REQUIRE(p);
  CHECK(p->name == "@scope/x");
  CHECK(p->license == "ISC");
  auto old = parse_npm_package(
      R"({"name":"y","version":"0.1.0","licenses":[{"type":"MIT"},{"type":"Apache-2.0"}]})");
  REQUIRE(old);
  CHECK(old->license == "MIT OR Apache-2.0");
  CHECK_FALSE(parse_npm_package(R"({"name":"z"})"));
  CHECK_FALSE(parse_npm_package("{not json"));
}

TEST_CASE("npm: dev dependencies from the lockfile when there is one, else from package.json") {
  std::string v3 =
      R"({"lockfileVersion":3,"packages":{"":{"name":"app"},"node_modules/ms":{"version":"2.1.3"},
          "node_modules/tap":{"version":"1.0.0","dev":true},
          "node_modules/tap/node_modules/ms":{"version":"1.0.0","dev":true}}})";
  CHECK(npm_lock_dev_paths(v3) ==
        std::vector<std::string>{"node_modules/tap", "node_modules/tap/node_modules/ms"});
  std::string v1 =
      R"({"lockfileVersion":1,"dependencies":{"ms":{"version":"2.1.3"},
          "tap":{"version":"1.0.0","dev":true,"dependencies":{"ms":{"version":"1.0.0","dev":true}}}}})";
  CHECK(npm_lock_dev_paths(v1) ==
        std::vector<std::string>{"node_modules/tap", "node_modules/tap/node_modules/ms"});
  // Version 2 carries both forms: "packages" is read, "dependencies" (for npm 6) is not.
  CHECK(npm_lock_dev_paths(
            R"({"lockfileVersion":2,"dependencies":{"old":{"dev":true}},
                "packages":{"node_modules/tap":{"dev":true,"dependencies":{"ms":"^1"}},
                            "node_modules/ms":{"dev":false,"optional":true}}})") ==
        std::vector<std::string>{"node_modules/tap"});
  // Only `true` under the entry itself counts; arrays break the path.
  CHECK(npm_lock_dev_paths(R"({"packages":{"node_modules/a":{"dev":"true"},
                                           "node_modules/b":{"engines":{"dev":true}},
                                           "node_modules/c":[{"dev":true}]},
                              "x":{"dev":true}})")
            .empty());
  CHECK(npm_lock_dev_paths(R"({"dependencies":[{"tap":{"dev":true}}]})").empty());
  // Not an object, or cut short: nothing, not what was read before the fault.
  CHECK(npm_lock_dev_paths(R"([{"packages":{"node_modules/tap":{"dev":true}}}])").empty());
  CHECK(npm_lock_dev_paths(R"({"packages":{"node_modules/tap":{"dev":true},"node_modules/x":{)")
            .empty());
  CHECK(npm_lock_dev_paths("").empty());
  // A lockfile of a big monorepo (100,000 entries, 7 MB) is read without building a document.
  std::string big = R"({"lockfileVersion":3,"packages":{"":{"name":"mono"})";
  for (int i = 0; i < 100000; ++i)
    big += ",\"node_modules/p" + std::to_string(i) + "\":{\"version\":\"1.0.0\"" +
           (i % 4 == 0 ? ",\"dev\":true}" : "}");
  big += "}}";
  auto many = npm_lock_dev_paths(big);
  REQUIRE(many.size() == 25000);
  CHECK(many[1] == "node_modules/p4");

  auto app =
      TarBuilder()
          .file("app/package.json",
                R"({"name":"app","dependencies":{"ms":"^2"},"devDependencies":{"tap":"1"}})")
          .file("app/node_modules/ms/package.json", npm_manifest("ms", "2.1.3"))
          .file("app/node_modules/tap/package.json", npm_manifest("tap", "1.0.0"))
          .file("app/node_modules/tap/node_modules/ms/package.json", npm_manifest("ms", "1.0.0"));
  // Without a lockfile only the direct dev dependency is known.
  CHECK(listed({app.build()}) ==
        std::set<std::string>{"npm/ms@2.1.3", "npm/tap@1.0.0+dev", "npm/ms@1.0.0"});
  // npm's hidden lockfile in node_modules covers the nested one too.
  auto locked = app;
  locked.file("app/node_modules/.package-lock.json", v3);
  CHECK(listed({locked.build()}) ==
        std::set<std::string>{"npm/ms@2.1.3", "npm/tap@1.0.0+dev", "npm/ms@1.0.0+dev"});
  // `npm ci --omit=dev` in a later layer: the dev packages are gone.
  auto pruned = TarBuilder()
                    .file("app/node_modules/.wh.tap", "")
                    .file("app/node_modules/.package-lock.json",
                          R"({"lockfileVersion":3,"packages":{"node_modules/ms":{}}})");
  CHECK(listed({locked.build(), pruned.build()}) == std::set<std::string>{"npm/ms@2.1.3"});
}

TEST_CASE("python: core metadata in site-packages or dist-packages, dist-info or egg-info") {
  CHECK(is_python_metadata_path("usr/lib/python3/dist-packages/attrs-22.2.0.dist-info/METADATA"));
  CHECK(is_python_metadata_path("app/.venv/lib/python3.11/site-packages/x-1.egg-info/PKG-INFO"));
  CHECK(is_python_metadata_path("usr/lib/python3/dist-packages/six-1.16.0.egg-info"));
  CHECK_FALSE(is_python_metadata_path("app/x-1.dist-info/METADATA"));

  auto p = parse_python_metadata(
      "Metadata-Version: 2.1\r\nName: PyYAML\r\nVersion: 6.0\r\nLicense: MIT\r\n"
      "Classifier: License :: OSI Approved\r\n\r\nName: not-a-header\r\n");
  REQUIRE(p);
  CHECK(p->name == "PyYAML");
  CHECK(p->version == "6.0");
  CHECK(p->license == "MIT");
  auto e = parse_python_metadata(
      "Name: x\nVersion: 1\nLicense: UNKNOWN\nLicense-Expression: Apache-2.0\n");
  REQUIRE(e);
  CHECK(e->license == "Apache-2.0");
  CHECK_FALSE(parse_python_metadata("Name: x\n"));

  // The real metadata of Debian's python3-jsonschema (a test dependency).
  for (auto& entry : std::filesystem::directory_iterator("/usr/lib/python3/dist-packages")) {
    std::string dir = entry.path().filename();
    if (!dir.starts_with("jsonschema-") || !dir.ends_with(".dist-info")) continue;
    std::string version = dir.substr(11, dir.size() - 11 - 10);
    auto tar = TarBuilder()
                   .file("usr/lib/python3/dist-packages/" + dir + "/METADATA",
                         read_file(entry.path().string() + "/METADATA"))
                   .build();
    CHECK(listed({tar}) == std::set<std::string>{"pypi/jsonschema@" + version});
  }
}

TEST_CASE("rust: the crates cargo auditable embeds, those that ship in the binary") {
  const std::string whole = zlib_compress(kAuditJson);
  std::set<std::string> got;
  for (auto& p : parse_cargo_auditable(whole, 1 << 20)) {
    CHECK(p.ecosystem == "cargo");
    got.insert(p.name + "@" + p.version);
  }
  CHECK(got == std::set<std::string>{"server@0.3.0", "serde@1.0.193", "libc@0.2.150"});

  CHECK(parse_cargo_auditable(whole.substr(0, whole.size() - 4), 1 << 20).empty());  // cut short
  std::string flipped = whole;
  flipped.back() = static_cast<char>(flipped.back() ^ 1);  // adler-32 no longer matches
  CHECK(parse_cargo_auditable(flipped, 1 << 20).empty());
  CHECK(parse_cargo_auditable(kAuditJson, 1 << 20).empty());  // not compressed
  CHECK(parse_cargo_auditable(zlib_compress("[1,2]"), 1 << 20).empty());
  CHECK(parse_cargo_auditable(zlib_compress(R"({"packages":{}})"), 1 << 20).empty());
  // A bomb: 4 MiB of spaces before the list inflate past the limit, and list nothing.
  std::string bomb = zlib_compress(std::string(4 << 20, ' ') + kAuditJson);
  CHECK(bomb.size() < 16 * 1024);
  CHECK(parse_cargo_auditable(bomb, 1 << 20).empty());
  CHECK(parse_cargo_auditable(bomb, 8 << 20).size() == 3);
  // The cap is exact, and the largest one means none.
  const std::size_t size = std::string_view(kAuditJson).size();
  CHECK(parse_cargo_auditable(whole, size).size() == 3);
  CHECK(parse_cargo_auditable(whole, size - 1).empty());
  CHECK(parse_cargo_auditable(whole, std::numeric_limits<std::size_t>::max()).size() == 3);
}

TEST_CASE("rust: the .dep-v0 section is found where the headers are read, in the head or past it") {
  const std::string section = zlib_compress(kAuditJson);
  auto crates = [](const std::string& binary, std::size_t head) {
    AnalyzeOptions o;
    o.max_elf_read_bytes = head;
    std::set<std::string> out;
    auto facts = analyze_tar(TarBuilder().file("usr/local/bin/server", binary, 0755).build(), o);
    for (auto& f : facts.files)
      for (auto& p : f.info.app_packages)
        if (p.ecosystem == "cargo") out.insert(f.path + " " + p.name + "@" + p.version);
    return out;
  };
  const std::set<std::string> all = {"usr/local/bin/server server@0.3.0",
                                     "usr/local/bin/server serde@1.0.193",
                                     "usr/local/bin/server libc@0.2.150"};
  std::string small = elf_with_sections({{".rodata", "text"}, {".dep-v0", section}}, 100);
  CHECK(crates(small, 1 << 20) == all);  // everything in the head
  // The headers 200 KiB past a 4 KiB head: read later, with the names before them; the section
  // itself is in the head.
  std::string big = elf_with_sections({{".rodata", "text"}, {".dep-v0", section}}, 200 << 10);
  CHECK(crates(big, 4096) == all);
  // The section itself past the head and before what is read later: not reached, nothing listed.
  std::string far =
      elf_with_sections({{".rodata", std::string(8192, 'r')}, {".dep-v0", section}}, 200 << 10);
  CHECK(crates(far, 4096).empty());
  // Only the section of that name counts; headers cut off list nothing.
  CHECK(crates(elf_with_sections({{".dep-v1", section}}, 100), 1 << 20).empty());
  CHECK(crates(small.substr(0, small.size() - 64), 1 << 20).empty());
  // A 32-bit binary: the same section, in the head and past it.
  CHECK(crates(elf_with_sections({{".rodata", "text"}, {".dep-v0", section}}, 100, false),
               1 << 20) == all);
  CHECK(crates(elf_with_sections({{".rodata", "text"}, {".dep-v0", section}}, 200 << 10, false),
               4096) == all);
  // Hostile headers: a table offset that wraps around, a names index past the table.
  std::string wrapped = small;
  wrapped.replace(40, 8, std::string(8, '\xff'));
  CHECK(crates(wrapped, 1 << 20).empty());
  CHECK(crates(wrapped, 4096).empty());
  std::string misnamed = small;
  misnamed[62] = '\x7f';
  CHECK(crates(misnamed, 1 << 20).empty());
}

TEST_CASE("go: modules, replacements and build settings from the build info") {
  std::string modinfo =
      "path\texample.com/cmd/server\n"
      "mod\texample.com\t(devel)\t\n"
      "dep\tgithub.com/a/b\tv1.2.3\th1:x=\n"
      "dep\tgolang.org/x/sys\tv0.1.0\th1:y=\n"
      "=>\tgithub.com/fork/sys\tv0.1.1\th1:z=\n"
      "build\t-trimpath=true\n"
      "build\tCGO_ENABLED=0\n";
  std::string blob = std::string(100, 'x') + go_buildinfo("go1.22.1", modinfo);
  auto at = find_go_buildinfo(blob);
  REQUIRE(at);
  auto info = parse_go_buildinfo(blob, *at);
  REQUIRE(info);
  CHECK(info->go_version == "go1.22.1");
  CHECK(info->path == "example.com/cmd/server");
  CHECK(info->settings.at("CGO_ENABLED") == "0");
  CHECK(info->settings.at("-trimpath") == "true");
  std::set<std::string> mods;
  for (auto& m : go_packages(*info)) mods.insert(m.name + "@" + m.version);
  CHECK(mods == std::set<std::string>{"example.com@(devel)", "github.com/a/b@v1.2.3",
                                      "github.com/fork/sys@v0.1.1", "stdlib@go1.22.1"});
  // Cut short: the version, nothing invented.
  auto cut = parse_go_buildinfo(blob.substr(0, *at + 42), *at);
  REQUIRE(cut);
  CHECK(cut->deps.empty());
}

TEST_CASE(
    "go: a Debian Go binary whose build info lies past the ELF read is read from its data "
    "segment") {
  const std::string path = "/usr/bin/docker-registry";  // Debian's docker-registry (test dep)
  std::string bin = read_file(path);
  REQUIRE(bin.size() > (16u << 20));
  // Read independently: the module information's lines, between its frames.
  std::size_t magic = bin.find(std::string("\xff Go buildinf:", 14));
  REQUIRE(magic != std::string::npos);
  REQUIRE(magic > (16u << 20));  // past max_elf_read_bytes: the later read is what finds it
  std::size_t vlen = static_cast<unsigned char>(bin[magic + 32]);
  std::string version = bin.substr(magic + 33, vlen);
  std::size_t path_line = bin.find("path\t", magic);
  std::string main_path = bin.substr(path_line + 5, bin.find('\n', path_line) - path_line - 5);
  bool cgo = bin.find("build\tCGO_ENABLED=1", magic) < magic + 4096;

  auto facts = analyze_tar(TarBuilder().file("usr/local/bin/registry", bin, 0755).build());
  const FileInfo* info = nullptr;
  for (auto& f : facts.files)
    if (f.path == "usr/local/bin/registry") info = &f.info;
  REQUIRE(info);
  REQUIRE(info->elf);
  CHECK(info->elf->go == version);
  CHECK(info->elf->go_path == main_path);
  CHECK((info->elf->go_settings.count("CGO_ENABLED") &&
         info->elf->go_settings.at("CGO_ENABLED") == "1") == cgo);
  REQUIRE(info->app_packages.size() == 1);  // built in GOPATH mode: no module list
  CHECK(info->app_packages[0].name == "stdlib");
  CHECK(info->app_packages[0].version == version);
}

TEST_CASE("java: pom.properties, jars nested in jars, the manifest and the name as fallbacks") {
  std::string pom = "groupId=org.example\nartifactId=core\nversion=1.4.0\n";
  std::string inner = ZipBuilder()
                          .deflated("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
                          .deflated("META-INF/maven/org.example/core/pom.properties", pom)
                          .build();
  std::string manifest_only =
      ZipBuilder()
          .deflated("META-INF/MANIFEST.MF",
                    "Manifest-Version: 1.0\r\nImplementation-Title: tool\r\n"
                    "Implementation-Version: 3.1\r\n\r\nName: x\r\nImplementation-Version: 9\r\n")
          .build();
  std::string fat = ZipBuilder()
                        .deflated("META-INF/MANIFEST.MF", "Main-Class: x\n")
                        .deflated("META-INF/maven/org.example/app/pom.properties",
                                  "groupId=org.example\nartifactId=app\nversion=2.0.0\n")
                        .stored("BOOT-INF/lib/core-1.4.0.jar", inner)
                        .deflated("BOOT-INF/lib/tool.jar", manifest_only)
                        .build();
  auto jar = read_jar(fat, "app.jar", JarLimits{});
  CHECK(jar.error.empty());
  std::set<std::string> got;
  for (auto& p : jar.packages)
    got.insert(p.group + ":" + p.name + "@" + p.version + " " + p.origin);
  CHECK(got == std::set<std::string>{
                   "org.example:app@2.0.0 META-INF/maven/org.example/app/pom.properties",
                   "org.example:core@1.4.0 BOOT-INF/lib/core-1.4.0.jar!META-INF/maven/org.example/"
                   "core/pom.properties",
                   ":tool@3.1 BOOT-INF/lib/tool.jar!META-INF/MANIFEST.MF"});
  // Nesting is bounded.
  JarLimits flat;
  flat.depth = 0;
  CHECK(read_jar(fat, "app.jar", flat).packages.size() == 1);
  // Not a zip: named by its file.
  auto broken = read_jar("garbage", "lib/guava-31.1.jar", JarLimits{});
  CHECK_FALSE(broken.error.empty());
  REQUIRE(broken.packages.size() == 1);
  CHECK(broken.packages[0].name == "guava");
  CHECK(broken.packages[0].version == "31.1");

  // Zip64: past 65,535 entries the end record is Zip64's, and Python's zipfile writes the entry's
  // sizes in a Zip64 extra field when told to.
  {
    bw::test::TempDir dir;
    const std::string path = dir.path() + "/many.jar";
    std::string out;
    REQUIRE_MESSAGE(
        bw::test::run_command(
            {"python3", "-c",
             "import sys, zipfile\n"
             "with zipfile.ZipFile(sys.argv[1], 'w') as z:\n"
             "  with z.open('META-INF/maven/org.example/wide/pom.properties', 'w', "
             "force_zip64=True) as f:\n"
             "    f.write(b'groupId=org.example\\nartifactId=wide\\nversion=7.0.1\\n')\n"
             "  for i in range(70000): z.writestr('c/%d.class' % i, b'')\n",
             path},
            out) == 0,
        out);
    auto wide = read_jar(read_file(path), "many.jar", JarLimits{});
    CHECK(wide.error.empty());
    REQUIRE(wide.packages.size() == 1);
    CHECK(wide.packages[0].group == "org.example");
    CHECK(wide.packages[0].name == "wide");
    CHECK(wide.packages[0].version == "7.0.1");
  }

  // Larger than max_archive_read_bytes: named by its file, its bytes never held.
  AnalyzeOptions small;
  small.max_archive_read_bytes = 64;
  auto big = analyze_tar(TarBuilder().file("app/lib/guava-31.1-jre.jar", fat).build(), small);
  REQUIRE(big.files.size() == 1);
  CHECK(big.files[0].info.archive_error == "larger than max_archive_read_bytes");
  REQUIRE(big.files[0].info.app_packages.size() == 1);
  CHECK(big.files[0].info.app_packages[0].name == "guava");
  CHECK(big.files[0].info.app_packages[0].version == "31.1-jre");

  // A real jar from Debian (libcommons-io-java, a test dependency), in a layer; its version as
  // the package's versioned link names it.
  std::string version;
  for (auto& e : std::filesystem::directory_iterator("/usr/share/java"))
    if (std::string n = e.path().filename(); n.starts_with("commons-io-") && n.ends_with(".jar"))
      version = n.substr(11, n.size() - 11 - 4);
  std::string real = read_file("/usr/share/java/commons-io.jar");
  REQUIRE_FALSE(real.empty());
  CHECK(listed({TarBuilder().file("app/lib/commons-io.jar", real).build()}) ==
        std::set<std::string>{"maven/commons-io:commons-io@" + version});
}

TEST_CASE("a gem's specification: name, version and licenses as RubyGems writes them") {
  // As gem install (and Debian's gem2deb) write them: frozen strings, one attribute a line.
  auto rack = parse_gemspec(
      "# -*- encoding: utf-8 -*-\n"
      "# stub: rack 2.2.22 ruby lib\n\n"
      "Gem::Specification.new do |s|\n"
      "  s.name = \"rack\".freeze\n"
      "  s.version = \"2.2.22\"\n\n"
      "  s.required_rubygems_version = Gem::Requirement.new(\">= 0\".freeze) if "
      "s.respond_to? :required_rubygems_version=\n"
      "  s.metadata = { \"version\" => \"9.9\" } if s.respond_to? :metadata=\n"
      "  s.licenses = [\"MIT\".freeze, \"Ruby\".freeze]\n"
      "  s.rubygems_version = \"3.3.15\".freeze\n"
      "end\n");
  REQUIRE(rack);
  CHECK(rack->ecosystem == "gem");
  CHECK(rack->name == "rack");
  CHECK(rack->version == "2.2.22");
  CHECK(rack->license == "MIT OR Ruby");

  // A default gem's, with `spec.` and one license; a comparison is no assignment.
  auto json_gem = parse_gemspec(
      "Gem::Specification.new do |spec|\n"
      "  spec.name == 'other'\n"
      "  spec.name = 'json'\n"
      "  spec.version = '2.6.1'\n"
      "  spec.license = 'Ruby'\n"
      "end\n");
  REQUIRE(json_gem);
  CHECK(json_gem->name == "json");
  CHECK(json_gem->version == "2.6.1");
  CHECK(json_gem->license == "Ruby");

  CHECK_FALSE(parse_gemspec("Gem::Specification.new do |s|\n  s.name = \"noversion\"\nend\n"));
  CHECK_FALSE(parse_gemspec(""));

  CHECK(is_gemspec_path("usr/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec"));
  CHECK(is_gemspec_path("usr/lib/ruby/gems/3.1.0/specifications/default/json-2.6.1.gemspec"));
  CHECK(is_gemspec_path("usr/local/bundle/specifications/rack-3.0.gemspec"));
  // A gem's own source tree holds its gemspec too: that is not an installed gem.
  CHECK_FALSE(is_gemspec_path("app/vendor/rack/rack.gemspec"));
  CHECK_FALSE(is_gemspec_path("usr/lib/ruby/gems/3.1.0/specifications/README"));
}

TEST_CASE("Composer's installed.json: its packages, their licenses and which are dev") {
  // Composer 2: an object with the packages and the names installed for require-dev.
  auto two = parse_composer_installed(R"({
    "packages": [
      {"name": "monolog/monolog", "version": "3.5.0", "version_normalized": "3.5.0.0",
       "license": ["MIT"], "type": "library"},
      {"name": "symfony/polyfill-mbstring", "version": "v1.28.0", "license": ["MIT", "GPL-2.0"]},
      {"name": "phpunit/phpunit", "version": "10.5.1", "license": ["BSD-3-Clause"]},
      {"name": "acme/nolicense", "version": "dev-main"},
      {"name": "acme/noversion"},
      {"version": "1.0.0"},
      "not an object"
    ],
    "dev": true,
    "dev-package-names": ["phpunit/phpunit"]
  })");
  std::vector<std::string> got;
  for (auto& p : two) {
    CHECK(p.ecosystem == "composer");
    got.push_back(p.name + "@" + p.version + " [" + p.license + "]" + (p.dev ? " dev" : ""));
  }
  CHECK(got == std::vector<std::string>{"monolog/monolog@3.5.0 [MIT]",
                                        "symfony/polyfill-mbstring@v1.28.0 [MIT OR GPL-2.0]",
                                        "phpunit/phpunit@10.5.1 [BSD-3-Clause] dev",
                                        "acme/nolicense@dev-main []"});
  // The dev flag survives the store's JSON.
  CHECK(app_package_from_json(to_json(two[2])).dev);
  CHECK_FALSE(app_package_from_json(to_json(two[0])).dev);

  // Composer 1: the array alone, with no dev list.
  auto one = parse_composer_installed(
      R"([{"name": "guzzlehttp/guzzle", "version": "6.5.8", "license": "MIT"}])");
  REQUIRE(one.size() == 1);
  CHECK(one[0].name == "guzzlehttp/guzzle");
  CHECK(one[0].license == "MIT");
  CHECK_FALSE(one[0].dev);

  // Cut short (past the read limit) or not a list: nothing.
  CHECK(parse_composer_installed(R"({"packages": [{"name": "a/b", "version": "1")").empty());
  CHECK(parse_composer_installed(R"({"packages": {"a/b": "1.0"}})").empty());
  CHECK(parse_composer_installed("").empty());

  CHECK(is_composer_installed_path("app/vendor/composer/installed.json"));
  CHECK(is_composer_installed_path("vendor/composer/installed.json"));
  CHECK_FALSE(is_composer_installed_path("app/vendor/composer/installed.php"));
  CHECK_FALSE(is_composer_installed_path("app/myvendor/composer/installed.json"));
}

TEST_CASE("runtimes unpacked from upstream archives say their release in their own files") {
  // Node.js's official tarballs ship include/node/node_version.h.
  auto node = parse_node_version_header(
      "#ifndef SRC_NODE_VERSION_H_\n#define SRC_NODE_VERSION_H_\n\n"
      "#define NODE_MAJOR_VERSION 16\n#define NODE_MINOR_VERSION 20\n"
      "#define NODE_PATCH_VERSION 2\n\n#define NODE_VERSION_IS_LTS 1\n");
  REQUIRE(node);
  CHECK(node->ecosystem == "generic");
  CHECK(node->name == "node");
  CHECK(node->version == "16.20.2");
  CHECK_FALSE(parse_node_version_header("#define NODE_MAJOR_VERSION 16\n"));
  CHECK(is_node_version_header("usr/local/include/node/node_version.h"));
  CHECK_FALSE(is_node_version_header("app/node_modules/nan/node_version.h"));

  // A JDK's release file: Temurin's, and Java 8's old numbering.
  auto jdk = parse_java_release(
      "IMPLEMENTOR=\"Eclipse Adoptium\"\nIMPLEMENTOR_VERSION=\"Temurin-17.0.9+9\"\n"
      "JAVA_RUNTIME_VERSION=\"17.0.9+9\"\nJAVA_VERSION=\"17.0.9\"\nJAVA_VERSION_DATE=\"2023-10-"
      "17\"\n");
  REQUIRE(jdk);
  CHECK(jdk->name == "java");
  CHECK(jdk->version == "17.0.9");
  CHECK(parse_java_release("JAVA_VERSION=\"1.8.0_392\"\nOS_NAME=\"Linux\"\n")->version ==
        "1.8.0_392");
  CHECK_FALSE(parse_java_release("OS_NAME=\"Linux\"\n"));
  CHECK(is_java_release_file("opt/java/openjdk/release"));
  CHECK(is_java_release_file("usr/lib/jvm/java-17-openjdk-amd64/release"));
  CHECK(is_java_release_file("opt/jdk-17.0.9+9/release"));
  CHECK_FALSE(is_java_release_file("etc/release"));
  CHECK_FALSE(is_java_release_file("app/release"));

  // Read as a layer walk reads them, each file one package.
  auto facts = analyze_tar(TarBuilder()
                               .file("usr/local/include/node/node_version.h",
                                     "#define NODE_MAJOR_VERSION 22\n#define NODE_MINOR_VERSION 3\n"
                                     "#define NODE_PATCH_VERSION 0\n")
                               .file("opt/java/openjdk/release", "JAVA_VERSION=\"21.0.2\"\n")
                               .build());
  std::set<std::string> got;
  for (auto& f : facts.files)
    for (auto& p : f.info.app_packages) got.insert(f.path + " " + p.name + "@" + p.version);
  CHECK(got == std::set<std::string>{"opt/java/openjdk/release java@21.0.2",
                                     "usr/local/include/node/node_version.h node@22.3.0"});
}
