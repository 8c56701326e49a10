#include "analyze/analyze.h"
#include "analyze/elf.h"

#include <doctest/doctest.h>

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
bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}
}  // namespace

TEST_CASE("path classes") {
  CHECK(has(classify_path("bin/sh", 'l', 0777), "shell"));
  CHECK(has(classify_path("usr/bin/apt-get", 'f', 0755), "package_manager"));
  CHECK(has(classify_path("usr/bin/curl", 'f', 0755), "network_tool"));
  CHECK(has(classify_path("usr/sbin/sshd", 'f', 0755), "sshd"));
  CHECK(has(classify_path("usr/bin/sudo", 'f', 04755), "sudo"));
  CHECK(has(classify_path("usr/bin/gcc-12", 'f', 0755), "toolchain"));
  CHECK(classify_path("usr/share/doc/curl", 'f', 0644).empty());
  CHECK(classify_path("usr/bin/curl", 'f', 0644).empty());  // not executable
  CHECK(has(classify_path("app/.git", 'd', 0755), "unneeded"));
  CHECK(has(classify_path("app/Dockerfile", 'f', 0644), "unneeded"));
  CHECK(classify_path("app/node_modules/x/Dockerfile", 'f', 0644).empty());
  CHECK(has(classify_path("root/.ssh/id_rsa", 'f', 0600), "credential_file"));
  CHECK(has(classify_path("app/.env", 'f', 0644), "credential_file"));
  CHECK(has(classify_path("app/server.pem", 'f', 0644), "credential_file"));
  CHECK_FALSE(has(classify_path("etc/ssl/certs/ca.pem", 'f', 0644), "credential_file"));
  CHECK(has(classify_path("etc/ssl/certs/ca-certificates.crt", 'f', 0644), "ca_certificates"));
  CHECK(has(classify_path("usr/bin/python3.11", 'f', 0755), "runtime:python"));
}

TEST_CASE("accounts, groups and shadow state; hashes never kept") {
  AnalyzeOptions o;
  auto p = analyze_content(
      "etc/passwd", 0644,
      "root:x:0:0:root:/root:/bin/bash\n# comment\napp:x:1000:1000::/app:/usr/sbin/nologin\n",
      false, o);
  REQUIRE(p["accounts"].size() == 2);
  CHECK(p["accounts"][1]["uid"] == "1000");
  CHECK(p["accounts"][0]["shell"] == "/bin/bash");
  auto s = analyze_content(
      "etc/shadow", 0640,
      "root:$6$salt$hash:19000:0:99999:7:::\nbin:*:19000::::::\nopen::19000::::::\n", false, o);
  REQUIRE(s["shadow"].size() == 3);
  CHECK(s["shadow"][0]["password"] == "set");
  CHECK(s["shadow"][1]["password"] == "locked");
  CHECK(s["shadow"][2]["password"] == "empty");
  CHECK(s.dump().find("$6$") == std::string::npos);
}

TEST_CASE("ELF facts of real binaries on this machine") {
  std::string sh = read_file("/bin/dash");
  REQUIRE(sh.size() > 1000);
  auto j = analyze_elf(sh, false);
  REQUIRE(j);
  CHECK((*j)["kind"] == "executable");
  CHECK((*j)["static"] == false);
  CHECK((*j)["libc"] == "glibc");
  CHECK((*j)["pie"] == true);
  CHECK((*j)["nx"] == true);
  CHECK((*j)["relro"] == "full");
  CHECK(std::find((*j)["needed"].begin(), (*j)["needed"].end(), "libc.so.6") !=
        (*j)["needed"].end());
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

TEST_CASE("Bulwark's own secret catalog: findings masked, noise paths skipped") {
  AnalyzeOptions o;
  o.secrets = SecretRules::builtin();
  REQUIRE(o.secrets->size() >= 20);
  std::string key = "ghp_" + std::string(36, 'a');
  auto r = analyze_content("app/config.yaml", 0644, "github:\n  token: " + key + "\n", false, o);
  REQUIRE(r.contains("secrets"));
  CHECK(r["secrets"][0]["rule_id"] == "github-pat");
  CHECK(r.dump().find(key) == std::string::npos);  // masked
  auto aws = analyze_content(
      "app/.env", 0644, "AWS_ACCESS_KEY_ID=AKIAZZZZZZZZZZZZZZZ1\nDB_PASSWORD=hunter2hunter2xyz\n",
      false, o);
  REQUIRE(aws.contains("secrets"));
  CHECK(aws["secrets"].size() == 2);
  CHECK(aws["secrets"][0]["rule_id"] == "aws-access-key-id");
  CHECK(aws["secrets"][1]["rule_id"] == "generic-password-assignment");
  CHECK_FALSE(analyze_content("usr/share/doc/x/README", 0644, "token: " + key, false, o)
                  .contains("secrets"));
  CHECK_FALSE(analyze_content("app/tests/fixture.txt", 0644, "token: " + key, false, o)
                  .contains("secrets"));
  CHECK_FALSE(
      analyze_content("app/.env", 0644, "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n", false, o)
          .contains("secrets"));
  CHECK_FALSE(analyze_content("app/.env", 0644, "PASSWORD=changeme-changeme\n", false, o)
                  .contains("secrets"));
  std::string pem = "-----BEGIN RSA PRIVATE KEY-----\n" + std::string(64, 'A') + "\n" +
                    std::string(64, 'B') + "\n-----END RSA PRIVATE KEY-----\n";
  auto k = analyze_content("app/key.pem", 0600, pem, false, o);
  REQUIRE(k.contains("secrets"));
  CHECK(k["secrets"][0]["rule_id"] == "private-key");
  CHECK(k["secrets"][0]["match"] == "****");
  CHECK_FALSE(analyze_content("app/bin.dat", 0644, std::string("ghp_\0", 5) + key, false, o)
                  .contains("secrets"));
}
