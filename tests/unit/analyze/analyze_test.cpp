#include "analyze/analyze.h"
#include "analyze/elf.h"
#include "test_images.h"

#include <doctest/doctest.h>

#include <cctype>
#include <fstream>
#include <sstream>

using namespace bw;

namespace {
std::string read_file(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
bool has(const std::vector<FileTag>& v, FileTag t) {
  return std::find(v.begin(), v.end(), t) != v.end();
}
}  // namespace

TEST_CASE("path classes") {
  CHECK(has(classify_path("bin/sh", 'l', 0777), FileTag::shell));
  CHECK(has(classify_path("usr/bin/apt-get", 'f', 0755), FileTag::package_manager));
  CHECK(has(classify_path("usr/bin/curl", 'f', 0755), FileTag::network_tool));
  CHECK(has(classify_path("usr/sbin/sshd", 'f', 0755), FileTag::sshd));
  CHECK(has(classify_path("usr/bin/sudo", 'f', 04755), FileTag::sudo));
  CHECK(has(classify_path("usr/bin/gcc-12", 'f', 0755), FileTag::toolchain));
  CHECK(classify_path("usr/share/doc/curl", 'f', 0644).empty());
  CHECK(classify_path("usr/bin/curl", 'f', 0644).empty());  // not executable
  CHECK(has(classify_path("app/.git", 'd', 0755), FileTag::unneeded));
  CHECK(has(classify_path("app/Dockerfile", 'f', 0644), FileTag::unneeded));
  CHECK(classify_path("app/node_modules/x/Dockerfile", 'f', 0644).empty());
  CHECK(has(classify_path("root/.ssh/id_rsa", 'f', 0600), FileTag::credential_file));
  CHECK(has(classify_path("app/.env", 'f', 0644), FileTag::credential_file));
  CHECK(has(classify_path("app/server.pem", 'f', 0644), FileTag::credential_file));
  CHECK_FALSE(has(classify_path("etc/ssl/certs/ca.pem", 'f', 0644), FileTag::credential_file));
  CHECK(
      has(classify_path("etc/ssl/certs/ca-certificates.crt", 'f', 0644), FileTag::ca_certificates));
  CHECK(has(classify_path("usr/bin/python3.11", 'f', 0755), FileTag::runtime_python));
}

TEST_CASE("accounts, groups and shadow state; hashes never kept") {
  AnalyzeOptions o;
  auto p = analyze_content(
      "etc/passwd", 0644,
      "root:x:0:0:root:/root:/bin/bash\n# comment\napp:x:1000:1000::/app:/usr/sbin/nologin\n",
      false, o);
  REQUIRE(p.accounts);
  REQUIRE(p.accounts->size() == 2);
  CHECK((*p.accounts)[1].uid == "1000");
  CHECK((*p.accounts)[0].shell == "/bin/bash");
  auto s = analyze_content(
      "etc/shadow", 0640,
      "root:$6$salt$hash:19000:0:99999:7:::\nbin:*:19000::::::\nopen::19000::::::\n", false, o);
  REQUIRE(s.shadow);
  REQUIRE(s.shadow->size() == 3);
  CHECK((*s.shadow)[0].password == PasswordState::set);
  CHECK((*s.shadow)[1].password == PasswordState::locked);
  CHECK((*s.shadow)[2].password == PasswordState::empty);
  CHECK(nlohmann::json(s).dump().find("$6$") == std::string::npos);
}

TEST_CASE("ELF facts of real binaries on this machine") {
  std::string sh = read_file("/bin/dash");
  REQUIRE(sh.size() > 1000);
  auto j = analyze_elf(sh, false);
  REQUIRE(j);
  CHECK(j->kind == ElfKind::executable);
  CHECK_FALSE(j->is_static);
  CHECK(j->libc == Libc::glibc);
  CHECK(j->pie);
  CHECK(j->nx);
  CHECK(j->relro == Relro::full);
  CHECK(std::find(j->needed.begin(), j->needed.end(), "libc.so.6") != j->needed.end());
  // Stored as JSON and read back unchanged.
  nlohmann::json stored = *j;
  CHECK(stored["relro"] == "full");
  CHECK(nlohmann::json(stored.get<ElfInfo>()) == stored);
  CHECK_FALSE(analyze_elf("#!/bin/sh\necho hi\n", false));
  CHECK_FALSE(analyze_elf(std::string("\x7f"
                                      "ELF",
                                      4),
                          false));
  // Truncated or hostile headers never read out of bounds.
  std::string cut = sh.substr(0, 200);
  CHECK(analyze_elf(cut, true));
  std::string junk = sh.substr(0, 64) + std::string(4096, '\xff');
  CHECK(analyze_elf(junk, true));
}

TEST_CASE("shared libraries are read whatever their mode: what they load, the name they go by") {
  AnalyzeOptions o;
  // Debian installs libraries 0644: read by their name, not their mode.
  const std::string libz = read_file("/usr/lib/x86_64-linux-gnu/libz.so.1.2.13");
  EntryView lib{"usr/lib/x86_64-linux-gnu/libz.so.1.2.13", 'f', 0644, libz.size()};
  CHECK(content_wanted(lib.path, lib.kind, lib.mode, lib.size, o) >= libz.size());
  FileInfo info = analyze_entry(lib, libz, false, o);
  REQUIRE(info.elf);
  CHECK(info.elf->kind == ElfKind::shared_library);
  CHECK(info.elf->soname == "libz.so.1");
  CHECK(info.elf->needed == std::vector<std::string>{"libc.so.6"});
  // A C extension is a shared object too.
  EntryView ext{"usr/lib/python3/dist-packages/_x.cpython-311-x86_64-linux-gnu.so", 'f', 0644,
                libz.size()};
  CHECK(analyze_entry(ext, libz, false, o).elf);
  // Any other file that is not executable is not read as ELF.
  EntryView data{"usr/share/app/blob.bin", 'f', 0644, libz.size()};
  CHECK_FALSE(analyze_entry(data, libz, false, o).elf);
  // A linker script named like a library is not ELF.
  EntryView script{"usr/lib/x86_64-linux-gnu/libc.so", 'f', 0644, 200};
  CHECK_FALSE(analyze_entry(script, "/* GNU ld script */\nGROUP ( libc.so.6 )\n", false, o).elf);
}

TEST_CASE("Go build info of a real Go binary: Debian's docker-registry") {
  // A test dependency built with Go. Its build info lies 20 MB in, past the default 16 MiB an
  // analysis reads of an executable: then it is known as Go from the build-ID note in its first
  // page, version unknown; with the build info in reach, the version is read.
  std::string bin = read_file("/usr/bin/docker-registry");
  REQUIRE(bin.size() > 1'000'000);
  auto info_at = bin.find("\xff Go buildinf:");
  REQUIRE(info_at != std::string::npos);
  auto whole = analyze_elf(bin.substr(0, info_at + 4096), true);
  REQUIRE(whole);
  CHECK(whole->kind == ElfKind::executable);
  REQUIRE(whole->go.size() > 5);
  CHECK(whole->go.starts_with("go1."));
  CHECK(std::isdigit(static_cast<unsigned char>(whole->go[4])));
  CHECK(bin.find(whole->go) != std::string::npos);  // as the binary spells it
  auto head = analyze_elf(bin.substr(0, std::min<std::size_t>(bin.size(), 16 << 20)), true);
  REQUIRE(head);
  CHECK(head->go == (info_at < (16u << 20) ? whole->go : std::string("go")));
  // Not Go: no note, no build info.
  CHECK(analyze_elf(read_file("/bin/dash"), false)->go.empty());
}

TEST_CASE("Bulwark's own secret catalog: findings masked, noise paths skipped") {
  AnalyzeOptions o;
  o.secrets = SecretRules::builtin();
  REQUIRE(o.secrets->size() >= 20);
  std::string key = "ghp_" + std::string(36, 'a');
  auto r = analyze_content("app/config.yaml", 0644, "github:\n  token: " + key + "\n", false, o);
  REQUIRE(r.secrets.size() == 1);
  CHECK(r.secrets[0].rule_id == "github-pat");
  CHECK(nlohmann::json(r).dump().find(key) == std::string::npos);  // masked
  auto aws = analyze_content(
      "app/.env", 0644, "AWS_ACCESS_KEY_ID=AKIAZZZZZZZZZZZZZZZ1\nDB_PASSWORD=hunter2hunter2xyz\n",
      false, o);
  REQUIRE(aws.secrets.size() == 2);
  CHECK(aws.secrets[0].rule_id == "aws-access-key-id");
  CHECK(aws.secrets[1].rule_id == "generic-password-assignment");
  CHECK(analyze_content("usr/share/doc/x/README", 0644, "token: " + key, false, o).secrets.empty());
  CHECK(analyze_content("app/tests/fixture.txt", 0644, "token: " + key, false, o).secrets.empty());
  CHECK(analyze_content("app/.env", 0644, "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n", false, o)
            .secrets.empty());
  CHECK(
      analyze_content("app/.env", 0644, "PASSWORD=changeme-changeme\n", false, o).secrets.empty());
  std::string pem = "-----BEGIN RSA PRIVATE KEY-----\n" + std::string(64, 'A') + "\n" +
                    std::string(64, 'B') + "\n-----END RSA PRIVATE KEY-----\n";
  auto k = analyze_content("app/key.pem", 0600, pem, false, o);
  REQUIRE(k.secrets.size() == 1);
  CHECK(k.secrets[0].rule_id == "private-key");
  CHECK(masked_match(k.secrets[0]) == "****");
  // A stored finding reads back as it was stored.
  nlohmann::json stored = k;
  CHECK(nlohmann::json(stored.get<FileInfo>()) == stored);
  CHECK(analyze_content("app/bin.dat", 0644, std::string("ghp_\0", 5) + key, false, o)
            .secrets.empty());
}

TEST_CASE("scripts: the interpreter past env, and the programs they run by absolute path") {
  AnalyzeOptions o;
  auto s = analyze_content("app/start.sh", 0755,
                           "#!/usr/bin/env -S bash -e\nset -e\n/usr/sbin/sshd -D &\n"
                           "exec /usr/local/bin/app-server --port 80\n",
                           false, o);
  REQUIRE(s.script);
  CHECK(s.script->interpreter == "bash");
  // The #! line is the interpreter, not a call; /usr/bin/env is not listed.
  CHECK(s.script->calls == std::vector<std::string>{"usr/local/bin/app-server", "usr/sbin/sshd"});
  CHECK(analyze_content("app/run.sh", 0644, "#!/bin/sh\necho hi\n", false, o).script->interpreter ==
        "sh");
  CHECK_FALSE(analyze_content("app/data.txt", 0755, "plain text\n", false, o).script);
  CHECK(programs_named_in("sh -c '/bin/sleep 1 && /usr/local/bin/app'") ==
        std::vector<std::string>{"bin/sleep", "usr/local/bin/app"});
  // A runtime counts wherever it is installed.
  CHECK(has(classify_path("usr/lib/jvm/java-17-openjdk-amd64/bin/java", 'f', 0755),
            FileTag::runtime_java));
  CHECK(has(classify_path("opt/java/openjdk/bin/java", 'f', 0755), FileTag::runtime_java));
  CHECK_FALSE(has(classify_path("usr/share/doc/java", 'f', 0644), FileTag::runtime_java));
}

TEST_CASE("a stripped static binary's canary is unknown; an unstripped one without it is not") {
  std::string stripped = bw::test::static_elf();
  // The same binary with a section header table holding a symbol table (SHT_SYMTAB) that does
  // not name __stack_chk_fail: built without a canary.
  std::string symbols = stripped;
  auto put = [&](std::size_t off, std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i)
      symbols[off + static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
  };
  std::size_t shoff = symbols.size();
  symbols += std::string(2 * 64, '\0');
  put(40, shoff, 8);          // e_shoff
  put(58, 64, 2);             // e_shentsize
  put(60, 2, 2);              // e_shnum: the null section and .symtab
  put(shoff + 64 + 4, 2, 4);  // sh_type = SHT_SYMTAB
  auto s = analyze_elf(stripped, false);
  auto u = analyze_elf(symbols, false);
  REQUIRE(s);
  REQUIRE(u);
  CHECK(s->is_static);
  CHECK(s->pie);  // a static-pie: its dynamic section imports nothing, so says nothing of canaries
  CHECK_FALSE(s->canary.has_value());
  REQUIRE(u->canary.has_value());
  CHECK_FALSE(*u->canary);
}
