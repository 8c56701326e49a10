#include "layer/image_summary.h"

#include "layer_facts.h"
#include "tar_builder.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

using namespace bw;
using namespace bw::test;

namespace {

LayerFacts analyze(const std::string& tar) {
  AnalyzeOptions options;
  options.secrets = SecretRules::builtin();
  return analyze_tar(tar, options);
}

std::string dash() {
  std::ifstream in("/bin/dash", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("the image summary is typed, and the same whether facts are fresh or read back") {
  std::string key = "ghp_" + std::string(36, 'b');
  LayerFacts base = analyze(
      TarBuilder()
          .file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian 12\"\n")
          .file("etc/passwd", "root:x:0:0:root:/root:/bin/bash\napp:x:0:1000::/app:/bin/sh\n")
          .file("etc/shadow", "root:*:1::::::\napp::1::::::\n")
          .file("var/lib/dpkg/status",
                "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\n\n")
          .file("usr/bin/passwd", "p", 04755)
          .file("bin/dash", dash(), 0755)
          .symlink("bin/sh", "dash")
          .file("app/.env", "GITHUB_TOKEN=" + key + "\n")
          .build());
  LayerFacts app =
      analyze(TarBuilder().file("app/.wh..env", "").file("app/run", "x", 0755).build());
  std::vector<std::string> digests = {"sha256:base", "sha256:app"};
  ImageSummary s = summarize_image({&base, &app}, digests);

  REQUIRE(s.os);
  CHECK(s.os->family == "debian");
  CHECK(s.os_layer_digest == "sha256:base");
  REQUIRE(s.packages.size() == 1);
  CHECK(s.packages[0].package.name == "libc6");
  CHECK(s.packages[0].db == "var/lib/dpkg/status");
  CHECK(s.accounts.size() == 2);
  REQUIRE(s.passwords.size() == 2);
  CHECK(s.passwords[1].password == PasswordState::empty);
  CHECK(s.account_files.at("etc/shadow") == "sha256:base");
  CHECK(s.attack_surface.shell.size() == 2);  // bin/dash and bin/sh
  REQUIRE(s.setuid_files.size() == 1);
  CHECK(s.setuid_files[0].setuid);
  REQUIRE(s.executables.size() == 1);
  CHECK(s.executables[0].elf.libc == Libc::glibc);
  // The .env the app layer deleted is still in the base blob, secret and all.
  CHECK(s.credential_files.empty());
  REQUIRE(s.deleted_secrets.size() == 1);
  CHECK(s.deleted_secrets[0].credential_file);
  REQUIRE(s.deleted_secrets[0].findings.size() == 1);
  CHECK(masked_match(s.deleted_secrets[0].findings[0]).find(key) == std::string::npos);

  // The API's JSON, then the same image from facts as the store keeps them: identical.
  nlohmann::json j = s;
  CHECK(j["package_count"] == 1);
  CHECK(j["attack_surface"]["shell"].size() == 2);
  CHECK(j["executables"][0]["elf"]["libc"] == "glibc");
  CHECK(j["passwords"][1]["password"] == "empty");
  CHECK(j.dump().find(key) == std::string::npos);
  auto base_back = layer_facts_from_json(to_json(base));
  auto app_back = layer_facts_from_json(to_json(app));
  REQUIRE(base_back);
  REQUIRE(app_back);
  CHECK(nlohmann::json(summarize_image({&*base_back, &*app_back}, digests)) == j);
  // And the summary's own JSON reads back to the same summary.
  CHECK(nlohmann::json(j.get<ImageSummary>()) == j);
}

TEST_CASE("a credential file is deleted when the final filesystem shows another layer's file") {
  auto cred = [](std::string path) {
    FileEntry e;
    e.path = std::move(path);
    e.info.tags = {FileTag::credential_file};
    return e;
  };
  auto plain = [](std::string path) {
    FileEntry e;
    e.path = std::move(path);
    return e;
  };
  LayerFacts base, app;
  // Kept as written; rewritten by the next layer; written twice in one layer, the last time
  // without a credential (the final filesystem shows that layer's path).
  base.files = {cred("root/.aws/credentials"), cred("app/.env"), cred("app/.netrc"),
                plain("app/.netrc")};
  app.files = {plain("app/.env")};
  for (auto* l : {&base, &app}) {
    for (auto& f : l->files) l->path_hashes.push_back(path_hash(f.path));
    std::sort(l->path_hashes.begin(), l->path_hashes.end());
  }
  ImageSummary s = summarize_image({&base, &app}, {"sha256:base", "sha256:app"});
  REQUIRE(s.deleted_secrets.size() == 1);
  CHECK(s.deleted_secrets[0].path == "app/.env");
  CHECK(s.deleted_secrets[0].layer_digest == "sha256:base");
  CHECK(s.deleted_secrets[0].credential_file);
  REQUIRE(s.credential_files.size() == 1);
  CHECK(s.credential_files[0].path == "root/.aws/credentials");
}
