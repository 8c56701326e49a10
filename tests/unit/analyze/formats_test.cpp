// The analysers' parsers on inputs built byte by byte: ELF headers of each class and byte order,
// rpm headers that lie about their sizes, secret catalogs that do not compile, and the facts'
// JSON as the store keeps it, read back from shapes a damaged row could have.
#include "analyze/elf.h"
#include "analyze/facts.h"
#include "analyze/packages.h"
#include "analyze/secrets.h"

#include "elf_builder.h"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <cstring>
#include <memory>

using namespace bw;
using namespace bw::test;
using nlohmann::json;

namespace {

// Go's build info: magic, pointer size, flags (2: inline strings), then at +32 a varint length
// and the version.
std::string go_buildinfo(std::string version, unsigned char flags = 2, std::string len = "") {
  std::string s = "\xff Go buildinf:";
  s += '\x08';
  s += static_cast<char>(flags);
  s.resize(32, '\0');
  s += len.empty() ? std::string(1, static_cast<char>(version.size())) : len;
  return s + version;
}

struct RpmTag {
  std::uint32_t tag, type;
  std::string data;
};

// An rpm header blob: il, dl, the index, the data.
std::string rpm_header(const std::vector<RpmTag>& tags) {
  Bytes b(false);
  std::string data;
  for (std::size_t i = 0; i < tags.size(); ++i) {
    b.put(8 + i * 16, tags[i].tag, 4);
    b.put(8 + i * 16 + 4, tags[i].type, 4);
    b.put(8 + i * 16 + 8, data.size(), 4);
    b.put(8 + i * 16 + 12, 1, 4);
    data += tags[i].data;
  }
  b.put(0, tags.size(), 4);
  b.put(4, data.size(), 4);
  b.put(8 + tags.size() * 16, data);
  return b.str();
}

std::string be32(std::uint32_t v) {
  Bytes b(false);
  b.put(0, v, 4);
  return b.str();
}

// An rpmdb.sqlite with these blobs in its Packages table, as the bytes a layer would hold.
std::string rpmdb(const std::vector<std::optional<std::string>>& blobs,
                  const char* table = "Packages") {
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open(":memory:", &raw) == SQLITE_OK);
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db(raw, sqlite3_close);
  std::string create =
      std::string("CREATE TABLE ") + table + " (hnum INTEGER PRIMARY KEY, blob BLOB)";
  REQUIRE(sqlite3_exec(db.get(), create.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  for (auto& blob : blobs) {
    sqlite3_stmt* st = nullptr;
    std::string insert = std::string("INSERT INTO ") + table + " (blob) VALUES (?)";
    REQUIRE(sqlite3_prepare_v2(db.get(), insert.c_str(), -1, &st, nullptr) == SQLITE_OK);
    if (blob)
      sqlite3_bind_blob(st, 1, blob->data(), static_cast<int>(blob->size()), SQLITE_TRANSIENT);
    CHECK(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_finalize(st);
  }
  sqlite3_int64 size = 0;
  unsigned char* bytes = sqlite3_serialize(db.get(), "main", &size, 0);
  REQUIRE(bytes);
  std::string out(reinterpret_cast<char*>(bytes), static_cast<std::size_t>(size));
  sqlite3_free(bytes);
  return out;
}

}  // namespace

TEST_CASE("ELF: 32-bit little-endian, dynamic, PIE by flag, full RELRO, musl") {
  ElfSpec s;
  s.is64 = false;
  s.type = 3;  // ET_DYN
  s.interp = "/lib/ld-musl-i386.so.1";
  s.dynamic = true;
  s.needed = {"libc.musl-x86.so.1", "libssl.so.3"};
  s.flags1 = 0x08000001;  // DF_1_PIE | DF_1_NOW
  s.relro = true;
  auto e = analyze_elf(build_elf(s), false);
  REQUIRE(e);
  CHECK(e->kind == ElfKind::executable);
  CHECK(e->pie);
  CHECK_FALSE(e->is_static);
  CHECK(e->libc == Libc::musl);
  CHECK(e->relro == Relro::full);
  CHECK(e->nx);
  CHECK(e->needed == std::vector<std::string>{"libc.musl-x86.so.1", "libssl.so.3"});
  REQUIRE(e->canary.has_value());
  CHECK_FALSE(*e->canary);  // the import table was read and has no __stack_chk_fail
}

TEST_CASE("ELF: a shared library's DT_SONAME and what it loads") {
  ElfSpec s;
  s.type = 3;  // ET_DYN, no interpreter
  s.dynamic = true;
  s.needed = {"libc.so.6"};
  s.soname = "libz.so.1";
  auto e = analyze_elf(build_elf(s), false);
  REQUIRE(e);
  CHECK(e->kind == ElfKind::shared_library);
  CHECK(e->soname == "libz.so.1");
  CHECK(e->needed == std::vector<std::string>{"libc.so.6"});
  json j = *e;
  CHECK(j["soname"] == "libz.so.1");
  CHECK(j.get<ElfInfo>().soname == "libz.so.1");
  // No DT_SONAME (an executable): none recorded.
  s.soname.clear();
  CHECK(analyze_elf(build_elf(s), false)->soname.empty());
  CHECK_FALSE(json(*analyze_elf(build_elf(s), false)).contains("soname"));
}

TEST_CASE("ELF: 64-bit big-endian, partial RELRO, executable stack, another loader") {
  ElfSpec s;
  s.little = false;
  s.interp = "/lib/ld64.so.1";
  s.dynamic = true;
  s.needed = {"libc.so.6", "__stack_chk_fail"};
  s.relro = true;
  s.exec_stack = true;
  auto e = analyze_elf(build_elf(s), false);
  REQUIRE(e);
  CHECK(e->kind == ElfKind::executable);
  CHECK_FALSE(e->pie);  // ET_EXEC
  CHECK(e->libc == Libc::other);
  CHECK(e->relro == Relro::partial);
  CHECK_FALSE(e->nx);
  CHECK(e->canary == true);
  // DT_FLAGS with DF_BIND_NOW is full RELRO too.
  s.flags = 0x8;
  CHECK(analyze_elf(build_elf(s), false)->relro == Relro::full);
}

TEST_CASE("ELF: shared libraries, static binaries, objects, symbol tables, truncation") {
  ElfSpec lib;
  lib.type = 3;
  lib.dynamic = true;
  auto so = analyze_elf(build_elf(lib), false);
  REQUIRE(so);
  CHECK(so->kind == ElfKind::shared_library);
  CHECK_FALSE(so->is_static);
  CHECK_FALSE(so->pie);

  ElfSpec stat;  // ET_EXEC, no interpreter, no dynamic section
  auto st = analyze_elf(build_elf(stat), false);
  REQUIRE(st);
  CHECK(st->is_static);
  CHECK_FALSE(st->canary.has_value());  // stripped: no symbol table to tell by
  stat.symtab = true;
  CHECK(analyze_elf(build_elf(stat), false)->canary == false);
  CHECK_FALSE(analyze_elf(build_elf(stat), true)->canary.has_value());  // may be past the read
  stat.tail = "..__stack_chk_fail..";
  CHECK(analyze_elf(build_elf(stat), false)->canary == true);

  ElfSpec obj;
  obj.type = 1;  // ET_REL
  CHECK(analyze_elf(build_elf(obj), false)->kind == ElfKind::other);

  // The dynamic section beyond what was read: partial, its libraries unknown.
  std::string cut = build_elf(lib).substr(0, 0x400);
  auto part = analyze_elf(cut, true);
  REQUIRE(part);
  CHECK(part->partial);
  CHECK(part->needed.empty());
  CHECK_FALSE(
      analyze_elf("\x7f"
                  "ELF short",
                  false));
  CHECK_FALSE(analyze_elf(std::string(64, 'x'), false));
}

TEST_CASE("ELF: Go versions from build info, and Go known only by its note") {
  ElfSpec s;
  s.tail = go_buildinfo("go1.22.1");
  CHECK(analyze_elf(build_elf(s), false)->go == "go1.22.1");
  s.tail = go_buildinfo("go1.22.1", 0);  // pointer-based strings: version not inline
  CHECK(analyze_elf(build_elf(s), false)->go == "go");
  s.tail = go_buildinfo("go1.22.1", 2, std::string("\x80\x80\x80\x80\x80\x80", 6));  // endless
  CHECK(analyze_elf(build_elf(s), false)->go == "go");
  s.tail = go_buildinfo(std::string(100, 'g'), 2, std::string("\xe4\x00", 2));  // 100 > 64
  CHECK(analyze_elf(build_elf(s), false)->go == "go");
  s.tail = go_buildinfo("go1.22.1").substr(0, 20);  // cut before the version
  CHECK(analyze_elf(build_elf(s), false)->go == "go");
  s.tail = std::string("\x04\x00\x00\x00\x14\x00\x00\x00\x04\x00\x00\x00Go\x00\x00", 16);
  auto noted = analyze_elf(build_elf(s), false);
  CHECK(noted->go == "go");
  s.tail = std::string("\x05\x00\x00\x00\x14\x00\x00\x00\x04\x00\x00\x00Go\x00\x00", 16);
  CHECK(analyze_elf(build_elf(s), false)->go.empty());  // not a note's name size
}

TEST_CASE("ELF facts as JSON, and JSON of other shapes") {
  ElfInfo e;
  e.kind = ElfKind::executable;
  e.partial = true;
  e.canary = true;
  e.needed = {"libc.so.6"};
  json j = e;
  CHECK(j["partial"] == true);
  auto back = j.get<ElfInfo>();
  CHECK(back.canary == true);
  CHECK(back.needed == e.needed);
  CHECK(json("junk").get<ElfInfo>().kind == ElfKind::other);
  auto odd = json{{"canary", "yes"}, {"needed", {"a", 1}}}.get<ElfInfo>();
  CHECK_FALSE(odd.canary.has_value());
  CHECK(odd.needed == std::vector<std::string>{"a"});
}

TEST_CASE("rpm headers: epochs, missing releases, source rpms, and headers that lie") {
  auto str = [](std::string s) { return s + '\0'; };
  std::string good = rpm_header({{1000, 6, str("bash")},
                                 {1001, 6, str("5.1.8")},
                                 {1002, 6, str("9.el9")},
                                 {1022, 6, str("x86_64")},
                                 {1011, 6, str("Rocky")},
                                 {1044, 6, str("bash-5.1.8-9.el9.src.rpm")},
                                 {1003, 4, be32(2)}});
  std::string no_release = rpm_header({{1000, 6, str("tzdata")},
                                       {1001, 9, str("2024a")},
                                       {1044, 6, str("tzdata.src.rpm")},
                                       {1003, 6, str("1")}});  // epoch of the wrong type
  std::string odd_source =
      rpm_header({{1000, 6, str("odd")}, {1001, 6, str("1")}, {1044, 6, str("odd-1.tar.gz")}});
  std::string no_name = rpm_header({{1000, 4, be32(7)}, {1001, 6, str("1")}});
  std::string key = rpm_header({{1000, 6, str("gpg-pubkey")}, {1001, 6, str("1")}});
  std::string past_data = rpm_header({{1000, 6, str("x")}, {1001, 6, str("1")}});
  past_data[8 + 16 + 8 + 3] = 0x7f;  // the version's offset past the data
  std::string huge_il = good;
  huge_il[0] = 0x7f;
  std::string huge_dl = good;
  huge_dl[4] = 0x7f;
  auto pkgs = parse_rpm_sqlite(rpmdb({good, no_release, odd_source, no_name, key, past_data,
                                      huge_il, huge_dl, std::string("abc"), std::nullopt}));
  REQUIRE(pkgs);
  REQUIRE(pkgs->size() == 3);
  const Package& bash = (*pkgs)[0];
  CHECK(bash.name == "bash");
  CHECK(bash.version == "2:5.1.8-9.el9");
  CHECK(bash.source_name == "bash");
  CHECK(bash.source_version == "2:5.1.8-9.el9");
  CHECK(bash.maintainer == "Rocky");
  const Package& tz = (*pkgs)[1];
  CHECK(tz.version == "2024a");
  CHECK(tz.source_name == "tzdata");  // a source rpm name without a version: the package's
  CHECK((*pkgs)[2].source_version == "1");

  auto wrong_table = parse_rpm_sqlite(rpmdb({good}, "Other"));
  REQUIRE_FALSE(wrong_table);
  CHECK(wrong_table.error().code == Errc::unsupported_media_type);
  auto not_sqlite = parse_rpm_sqlite(std::string(4096, 'x'));
  REQUIRE_FALSE(not_sqlite);
  CHECK(not_sqlite.error().code == Errc::unsupported_media_type);
}

TEST_CASE("dpkg versions and stanzas at the edges") {
  CHECK_FALSE(valid_deb_version("x:1.0"));
  CHECK_FALSE(valid_deb_version(":1.0"));
  CHECK_FALSE(valid_deb_version("1.0-a#b"));
  CHECK_FALSE(valid_deb_version("1.0 beta"));
  CHECK(valid_deb_version("1.0-1_x.y"));
  auto pkgs = parse_dpkg_status(
      "Package: a\nStatus: purge ok not-installed\nVersion: 1.0\n\n"
      "Package: b\r\nStatus: install ok installed\r\nVersion: 1.0\r\nSource: bsrc (2.0\r\n\r\n"
      "Package: c\nVersion: 1.0\nSource: \n");
  REQUIRE(pkgs.size() == 2);
  CHECK(pkgs[0].source_name == "bsrc");
  CHECK(pkgs[0].source_version == "2.0");
  CHECK(pkgs[1].source_name == "c");
  CHECK(to_json(pkgs[0])["source_version"] == "2.0");
  CHECK_FALSE(to_json(pkgs[1]).contains("source_version"));
  CHECK(package_db_kind("var/lib/dpkg/status.d/x.list").empty());
  CHECK(package_db_kind("var/lib/dpkg/status.d/x.preinst").empty());
  CHECK(package_db_kind("var/lib/dpkg/status.d/x.postinst").empty());
  CHECK(package_db_kind("var/lib/dpkg/status.d/sub/x").empty());
  CHECK(package_db_kind("var/lib/rpm/Packages.db") == "rpm-ndb");
}

TEST_CASE("secret catalogs that do not compile, or are no catalog") {
  auto bad = [](const std::string& text) {
    auto r = SecretRules::parse(text);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::bad_request);
    return r.error().message;
  };
  bad("[]");
  bad("{\"rule\": []}");
  bad("not json");
  CHECK(bad(R"({"rules": [{"ID": "r1", "Regex": "("}]})").find("r1") != std::string::npos);
  bad(R"({"rules": [{"ID": "r1", "Regex": "x", "Path": "["}]})");
  bad(R"({"rules": [{"ID": "r1", "Regex": "x", "AllowRules": [{"ID": "a", "Path": "("}]}]})");
  bad(R"({"rules": [{"ID": "r1", "Regex": "x", "AllowRules": [{"ID": "a", "Regex": "("}]}]})");
  bad(R"({"rules": [], "allowRules": [{"ID": "a", "Regex": "("}]})");
  bad(R"({"rules": [{"Regex": "x"}]})");  // no ID
  bad(R"({"rules": [{"ID": "r1", "Regex": 5}]})");
  // Allow rules by path and by regex, one of them disabled.
  auto ok = SecretRules::parse(
      R"J({"rules": [{"ID": "tok", "Regex": "tok_(?P<secret>[a-z]{8})", "SecretGroupName": "secret",
          "Keywords": ["TOK_"]}],
          "allowRules": [{"ID": "tests", "Path": "^test/"}, {"ID": "examples", "Regex": "tok_example"}]})J",
      {"tests"});
  REQUIRE(ok);
  CHECK((*ok)->scan("test/a.txt", "tok_abcdefgh").size() == 1);  // "tests" disabled
  CHECK((*ok)->scan("a.txt", "tok_examples").empty());
  auto found = (*ok)->scan("a.txt", "x tok_abcdefgh\r\n");
  REQUIRE(found.size() == 1);
  CHECK(found[0].length == 8);  // the named group, not the whole match
}

TEST_CASE("facts JSON: every field back as written; other shapes give empty fields") {
  FileInfo f;
  f.tags = {FileTag::shell};
  f.os = OsInfo{"debian", "12", "Debian 12"};
  f.os_error = "bad";
  f.package_db = PackageDb{"rpm-sqlite", false, "unreadable"};
  f.script = ScriptInfo{"sh", {"usr/bin/curl"}};
  f.sshd_config = std::map<std::string, std::string>{{"permitrootlogin", "yes"}};
  f.extra = {{"custom", 1}};
  json j = f;
  CHECK(j["package_db"]["reason"] == "unreadable");
  CHECK_FALSE(j.contains("packages"));  // not parsed: no list
  auto back = j.get<FileInfo>();
  CHECK(back.script->calls == f.script->calls);
  CHECK(back.sshd_config == f.sshd_config);
  CHECK(back.extra == json{{"custom", 1}});
  CHECK(back.os == f.os);

  CHECK(json::array().get<FileInfo>().empty());
  auto odd = json{{"tags", {"shell", 3, "no-such-tag"}},
                  {"os", "debian"},
                  {"package_db", "dpkg"},
                  {"packages", {1, {{"name", "x"}}}},
                  {"elf", 1},
                  {"script", {{"interpreter", "sh"}, {"calls", "usr/bin/x"}}},
                  {"sshd_config", {{"permitrootlogin", "yes"}, {"port", 22}}}}
                 .get<FileInfo>();
  CHECK(odd.tags == std::vector<FileTag>{FileTag::shell});
  CHECK_FALSE(odd.os);
  CHECK_FALSE(odd.package_db);
  CHECK(odd.packages.size() == 1);
  CHECK_FALSE(odd.elf);
  CHECK(odd.script->calls.empty());
  CHECK(odd.sshd_config->size() == 1);
  auto no_tags = json{{"tags", "shell"}, {"script", "sh"}, {"sshd_config", "x"}}.get<FileInfo>();
  CHECK(no_tags.tags.empty());
  CHECK_FALSE(no_tags.script);
  CHECK_FALSE(no_tags.sshd_config);

  FileCaps caps = caps_from_json(json{{"permitted", {"cap_net_raw", 3}}, {"inheritable", "x"}});
  CHECK(caps.permitted == (1ull << 13));
  CHECK(caps.inheritable == 0);
}

TEST_CASE("image summary JSON: every list back as written; damaged shapes read as empty") {
  ImageSummary s;
  s.runtimes = {"java", "python"};
  FileRef ref{"usr/bin/ping", 0755, 0, 0, "sha256:a", ""};
  s.capability_files = {{ref, FileCaps{1ull << 13, 0, true}}};
  s.scripts = {{ref, ScriptInfo{"sh", {"usr/bin/curl"}}}};
  s.sshd_configs = {{ref, {{"permitrootlogin", "yes"}}}};
  s.deleted_secrets = {{"a/.env", "sha256:a", {}, true}};
  s.account_files = {{"etc/passwd", "sha256:a"}};
  s.attack_surface.shell = {ref};
  s.unanalysed_layers = {{"sha256:b", "truncated", "cut"}};
  json j = s;
  auto back = j.get<ImageSummary>();
  CHECK(back.runtimes == s.runtimes);
  REQUIRE(back.capability_files.size() == 1);
  CHECK(back.capability_files[0].caps == s.capability_files[0].caps);
  REQUIRE(back.scripts.size() == 1);
  CHECK(back.scripts[0].script.calls == s.scripts[0].script.calls);
  REQUIRE(back.sshd_configs.size() == 1);
  CHECK(back.sshd_configs[0].settings == s.sshd_configs[0].settings);
  CHECK(back.deleted_secrets[0].credential_file);
  CHECK(back.attack_surface.shell.size() == 1);
  CHECK(back.unanalysed_layers[0].reason == "cut");
  CHECK(nlohmann::json(back) == j);

  CHECK(json(1).get<ImageSummary>().packages.empty());
  auto odd = json{{"os", 1},
                  {"account_files", {{"etc/passwd", 1}, {"etc/group", "sha256:g"}}},
                  {"attack_surface", {{"shell", {ref.path}}, {"nonsense", {}}, {"unneeded", {}}}},
                  {"runtimes", {"java", 1}},
                  {"capability_files", {{{"path", "x"}, {"capabilities", "all"}}}},
                  {"executables", {{{"path", "x"}}}},
                  {"scripts", {{{"path", "x"}, {"script", "sh"}}}},
                  {"sshd_configs",
                   {{{"path", "x"}, {"settings", {{"a", 1}, {"b", "no"}}}},
                    {{"path", "y"}, {"settings", "none"}}}}}
                 .get<ImageSummary>();
  CHECK_FALSE(odd.os);
  CHECK(odd.account_files == std::map<std::string, std::string>{{"etc/group", "sha256:g"}});
  CHECK(odd.attack_surface.shell.empty());  // strings are no file objects
  CHECK(odd.runtimes == std::vector<std::string>{"java"});
  CHECK(odd.capability_files[0].caps == FileCaps{});
  CHECK(odd.executables[0].elf.kind == ElfKind::other);
  CHECK(odd.scripts[0].script.interpreter.empty());
  CHECK(odd.sshd_configs[0].settings == std::map<std::string, std::string>{{"b", "no"}});
  CHECK(odd.sshd_configs[1].settings.empty());
}
