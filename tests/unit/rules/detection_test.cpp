// The detections added after real images showed what was missed: capabilities, secrets in build
// steps, sshd settings, a root password, per-package layers, pipefail, extended OS support.
#include "layer/image_summary.h"
#include "rules/rules.h"

#include "layer_facts.h"
#include "tar_builder.h"

#include <doctest/doctest.h>

#include <set>

using namespace bw;
using namespace bw::test;
using nlohmann::json;

namespace {

std::vector<Finding> findings_of(const std::vector<const LayerFacts*>& layers,
                                 const json& config = json{{"config", {{"User", "65532"}}}},
                                 std::size_t base_layers = 0) {
  std::vector<std::string> digests;
  for (std::size_t i = 0; i < layers.size(); ++i) digests.push_back("sha256:l" + std::to_string(i));
  ImageSummary s = summarize_image(layers, digests);
  RuleInput in{s, config, digests, base_layers, "1"};
  in.now = std::chrono::system_clock::from_time_t(1'796'000'000);  // 2026-11-30
  return evaluate_rules(*RuleCatalog::builtin(), in);
}

const Finding* find(const std::vector<Finding>& fs, const std::string& id) {
  for (auto& f : fs)
    if (f.rule_id == id) return &f;
  return nullptr;
}

// vfs_cap_data revision 2: magic (with the effective flag), then permitted and inheritable as
// two 32-bit words each, little-endian.
std::string caps_xattr(std::uint64_t permitted, bool effective) {
  std::string v(20, '\0');
  auto put = [&](std::size_t at, std::uint32_t x) {
    for (int i = 0; i < 4; ++i)
      v[at + static_cast<std::size_t>(i)] = static_cast<char>(x >> (8 * i));
  };
  put(0, 0x02000000u | (effective ? 1u : 0u));
  put(4, static_cast<std::uint32_t>(permitted));
  put(12, static_cast<std::uint32_t>(permitted >> 32));
  return v;
}

std::set<std::string> history_rules(const std::string& created_by) {
  json config = {{"config", {{"User", "65532"}}}, {"history", {{{"created_by", created_by}}}}};
  std::set<std::string> ids;
  for (auto& f : findings_of({}, config)) ids.insert(f.rule_id);
  return ids;
}

}  // namespace

TEST_CASE("file capabilities: decoded, recorded per layer, and a rule by how much they grant") {
  auto c = decode_file_caps(caps_xattr(cap_bits({"net_raw", "dac_read_search"}), true));
  REQUIRE(c);
  CHECK(c->effective);
  CHECK(cap_names(c->permitted) == std::vector<std::string>{"cap_dac_read_search", "cap_net_raw"});
  CHECK_FALSE(decode_file_caps("junk"));
  LayerFacts l = analyze_tar(
      TarBuilder()
          .file("usr/bin/ping", "ping", 0755)
          .xattr("security.capability", caps_xattr(cap_bits({"net_raw"}), true))
          .file("usr/bin/dumper", "dump", 0755)
          .xattr("security.capability", caps_xattr(cap_bits({"dac_read_search", "net_raw"}), true))
          .file("usr/bin/plain", "x", 0755)
          .build());
  int with_caps = 0;
  for (auto& f : l.files) with_caps += f.caps.has_value();
  CHECK(with_caps == 2);
  // Stored and read back.
  auto back = layer_facts_from_json(to_json(l));
  REQUIRE(back);
  for (auto& f : back->files)
    if (f.path == "usr/bin/ping")
      CHECK(f.caps == decode_file_caps(caps_xattr(cap_bits({"net_raw"}), true)));
  auto fs = findings_of({&l});
  const Finding* ping = find(fs, "BW-FILE-CAPS");
  REQUIRE(ping);
  CHECK(ping->evidence.path == "usr/bin/ping");
  CHECK(ping->evidence.detail == "cap_net_raw+ep");
  const Finding* dumper = find(fs, "BW-FILE-CAPS-PRIV");
  REQUIRE(dumper);
  CHECK(dumper->severity == Severity::high);
  CHECK(dumper->evidence.path == "usr/bin/dumper");
}

TEST_CASE("secrets written into build steps are found and masked; variables and stdin are not") {
  for (const char* step :
       {"RUN /bin/sh -c echo root:hunter2 | chpasswd",
        "RUN /bin/sh -c echo 'S3cret!' | passwd --stdin app",
        "RUN /bin/sh -c htpasswd -cb /etc/nginx/.htpasswd admin Adm1nPass",
        "RUN /bin/sh -c docker login --password hunter2hunter2 -u me registry.example",
        "RUN /bin/sh -c mysql -uroot -pS3cretPw -e 'select 1'",
        "RUN /bin/sh -c git clone https://deploy:ghp_abcdef123456@github.com/org/repo.git",
        "RUN /bin/sh -c curl -H 'Authorization: Bearer eyJabc.def.ghi' https://api.example/x",
        "RUN /bin/sh -c curl -u admin:Pa55word https://repo.example/file -o f"}) {
    CAPTURE(step);
    CHECK(history_rules(step).count("BW-SECRET-BUILD"));
    std::string masked = mask_secret_assignments(step);
    for (const char* value :
         {"hunter2", "S3cret", "Adm1nPass", "S3cretPw", "ghp_abcdef123456", "eyJabc", "Pa55word"})
      CHECK(masked.find(value) == std::string::npos);
  }
  for (const char* step :
       {"RUN /bin/sh -c echo $PASSWORD | docker login --password-stdin -u me r.example",
        "RUN /bin/sh -c curl -u \"$USER:$PASS\" https://repo.example/f -o f",
        "RUN /bin/sh -c mysql -u root --password=$DB_PASSWORD -e 'select 1'",
        "RUN /bin/sh -c docker run -p 8080:80 nginx",
        "RUN /bin/sh -c git clone https://github.com/o/r"}) {
    CAPTURE(step);
    CHECK_FALSE(history_rules(step).count("BW-SECRET-BUILD"));
  }
}

TEST_CASE("sshd settings that open root or password logins; a root password") {
  LayerFacts l =
      analyze_tar(TarBuilder()
                      .file("etc/ssh/sshd_config",
                            "Include /etc/ssh/sshd_config.d/*.conf\n"
                            "PermitRootLogin no\nPasswordAuthentication yes\n"
                            "Match User backup\n  PermitEmptyPasswords yes\n")
                      .file("etc/ssh/sshd_config.d/10-root.conf", "PermitRootLogin yes\n")
                      .file("etc/shadow", "root:$6$salt$hash:19000:0:99999:7:::\n")
                      .build());
  auto fs = findings_of({&l});
  std::set<std::string> details;
  for (auto& f : fs)
    if (f.rule_id == "BW-SSHD-CONFIG") details.insert(f.evidence.path + " " + f.evidence.detail);
  // The .d file is read first and wins; settings inside a Match block are not global.
  CHECK(details == std::set<std::string>{"etc/ssh/sshd_config PasswordAuthentication yes",
                                         "etc/ssh/sshd_config.d/10-root.conf PermitRootLogin yes"});
  CHECK(find(fs, "BW-ROOT-PASSWORD"));
  LayerFacts safe =
      analyze_tar(TarBuilder()
                      .file("etc/ssh/sshd_config",
                            "PermitRootLogin prohibit-password\nPasswordAuthentication no\n")
                      .file("etc/shadow", "root:*:19000:0:99999:7:::\n")
                      .build());
  auto none = findings_of({&safe});
  CHECK_FALSE(find(none, "BW-SSHD-CONFIG"));
  CHECK_FALSE(find(none, "BW-ROOT-PASSWORD"));
}

TEST_CASE("keys authorised in the image: root's with sshd is a root login; .htpasswd is a secret") {
  const std::string key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJx0 ops@laptop\n";
  LayerFacts l = analyze_tar(TarBuilder()
                                 .file("usr/sbin/sshd",
                                       "\x7f"
                                       "ELF",
                                       0755)
                                 .file("etc/ssh/sshd_config", "PermitRootLogin yes\n")
                                 .file("root/.ssh/authorized_keys", key, 0600)
                                 .file("home/deploy/.ssh/authorized_keys2", key, 0600)
                                 .file("srv/www/.htpasswd", "admin:$apr1$salt$hash\n")
                                 .file("usr/share/doc/ssh/authorized_keys.example", key)
                                 .build());
  auto fs = findings_of({&l});
  std::map<std::string, std::string> keys;
  for (auto& f : fs)
    if (f.rule_id == "BW-SSH-AUTHORIZED-KEYS") keys[f.evidence.path] = f.evidence.detail;
  REQUIRE(keys.size() == 2);
  CHECK(keys["root/.ssh/authorized_keys"] ==
        "keys that log in as root; sshd lets root in by key (PermitRootLogin yes)");
  CHECK(keys["home/deploy/.ssh/authorized_keys2"] == "keys that log in to the image");
  bool htpasswd = false;
  for (auto& f : fs)
    htpasswd |= f.rule_id == "BW-SECRET-FILE" && f.evidence.path == "srv/www/.htpasswd";
  CHECK(htpasswd);
  // A user's Maven settings (repository passwords) are credentials; Maven's own are not.
  LayerFacts maven =
      analyze_tar(TarBuilder()
                      .file("root/.m2/settings.xml",
                            "<settings><servers><server><id>corp</id><username>ci</username>"
                            "<password>hunter2hunter2</password></server></servers></settings>\n")
                      .file("usr/share/maven/conf/settings.xml", "<settings></settings>\n")
                      .build());
  std::set<std::string> secret_files;
  for (auto& f : findings_of({&maven}))
    if (f.rule_id == "BW-SECRET-FILE") secret_files.insert(f.evidence.path);
  CHECK(secret_files == std::set<std::string>{"root/.m2/settings.xml"});
  // Without sshd, or with root kept out, root's keys are still keys in the image, no more.
  LayerFacts closed = analyze_tar(TarBuilder()
                                      .file("usr/sbin/sshd",
                                            "\x7f"
                                            "ELF",
                                            0755)
                                      .file("etc/ssh/sshd_config", "PermitRootLogin no\n")
                                      .file("root/.ssh/authorized_keys", key, 0600)
                                      .build());
  auto c = findings_of({&closed});
  const Finding* only = find(c, "BW-SSH-AUTHORIZED-KEYS");
  REQUIRE(only);
  CHECK(only->evidence.detail == "keys that log in as root");
  // The default lets root in by key.
  LayerFacts by_default = analyze_tar(TarBuilder()
                                          .file("usr/sbin/sshd",
                                                "\x7f"
                                                "ELF",
                                                0755)
                                          .file("root/.ssh/authorized_keys", key, 0600)
                                          .build());
  auto d = findings_of({&by_default});
  REQUIRE(find(d, "BW-SSH-AUTHORIZED-KEYS"));
  CHECK(find(d, "BW-SSH-AUTHORIZED-KEYS")->evidence.detail.find("prohibit-password, the default") !=
        std::string::npos);
}

TEST_CASE("each package belongs to the layer that first installed it; the count splits") {
  std::string base_status, app_status;
  for (int i = 0; i < 30; ++i)
    base_status +=
        "Package: base" + std::to_string(i) + "\nStatus: install ok installed\nVersion: 1.0-1\n\n";
  app_status = base_status;
  for (int i = 0; i < 3; ++i)
    app_status +=
        "Package: extra" + std::to_string(i) + "\nStatus: install ok installed\nVersion: 2.0-1\n\n";
  LayerFacts base = analyze_tar(TarBuilder().file("var/lib/dpkg/status", base_status).build());
  LayerFacts app = analyze_tar(TarBuilder().file("var/lib/dpkg/status", app_status).build());
  ImageSummary s = summarize_image({&base, &app}, {"sha256:base", "sha256:app"});
  REQUIRE(s.packages.size() == 33);
  for (auto& p : s.packages)
    CHECK(p.layer_digest == (p.package.name.starts_with("extra") ? "sha256:app" : "sha256:base"));
  auto fs = findings_of({&base, &app}, json{{"config", {{"User", "65532"}}}}, 1);
  std::map<Origin, std::string> counts;
  for (auto& f : fs)
    if (f.rule_id == "BW-PKGCOUNT") counts[f.origin] = f.evidence.detail;
  CHECK(counts[Origin::base] == "30 of 33 OS packages from the base layers");
  CHECK(counts[Origin::app] == "3 of 33 OS packages from the app layers");
}

TEST_CASE("pipes without pipefail; USER and EXPOSE point at their history steps") {
  CHECK(history_rules("RUN /bin/sh -c wget -O- https://x.example/a.tgz | tar xz # buildkit")
            .count("BW-PIPEFAIL"));
  CHECK_FALSE(history_rules("RUN /bin/sh -c set -o pipefail && wget -O- https://x/a | tar xz")
                  .count("BW-PIPEFAIL"));
  CHECK_FALSE(history_rules("RUN /bin/bash -o pipefail -c wget -O- https://x/a | tar xz # buildkit")
                  .count("BW-PIPEFAIL"));
  CHECK_FALSE(history_rules("RUN /bin/sh -c make && make install").count("BW-PIPEFAIL"));
  json config = {{"config", {{"User", "root"}, {"ExposedPorts", {{"22/tcp", json::object()}}}}},
                 {"history",
                  {{{"created_by", "EXPOSE map[22/tcp:{}]"}, {"empty_layer", true}},
                   {{"created_by", "USER root"}, {"empty_layer", true}}}}};
  auto fs = findings_of({}, config);
  REQUIRE(find(fs, "BW-USER-ROOT"));
  CHECK(find(fs, "BW-USER-ROOT")->evidence.history_index == 1);
  REQUIRE(find(fs, "BW-PORT-SENSITIVE"));
  CHECK(find(fs, "BW-PORT-SENSITIVE")->evidence.history_index == 0);
}

TEST_CASE("end of regular support inside LTS is its own, lower finding") {
  auto os_findings = [](const std::string& release, const std::string& version) {
    LayerFacts l = analyze_tar(
        TarBuilder()
            .file("etc/os-release", "ID=" + release + "\nVERSION_ID=\"" + version + "\"\n")
            .build());
    std::set<std::string> ids;
    for (auto& f : findings_of({&l}))
      if (f.rule_id.starts_with("BW-OS-")) ids.insert(f.rule_id + " " + f.evidence.detail);
    return ids;
  };
  // On 2026-11-30 Debian 12 is past regular support (2026-06-10) and inside LTS (2028-06-30).
  CHECK(os_findings("debian", "12") ==
        std::set<std::string>{"BW-OS-LTS debian 12 left regular security support on 2026-06-10; "
                              "long-term support runs to 2028-06-30"});
  CHECK(os_findings("debian", "10") ==
        std::set<std::string>{"BW-OS-EOL debian 10 reached end of life on 2024-06-30"});
  CHECK(os_findings("debian", "13").empty());
  CHECK(os_findings("alpine", "3.18") ==
        std::set<std::string>{"BW-OS-EOL alpine 3.18 reached end of life on 2025-05-09"});
}

TEST_CASE("toolchains and runtimes outside the standard bin folders; busybox applets") {
  LayerFacts l = analyze_tar(TarBuilder()
                                 .file("usr/lib/go-1.22/bin/go", "go", 0755)
                                 .file("usr/local/go/bin/gofmt", "x", 0755)
                                 .file("opt/llvm/bin/clang++-17", "x", 0755)
                                 .file("usr/lib/jvm/java-17-openjdk-amd64/bin/java", "x", 0755)
                                 .file("bin/busybox", "bb", 0755)
                                 .hardlink("bin/dpkg", "bin/busybox")
                                 .symlink("sbin/rpm", "/bin/busybox")
                                 .build());
  ImageSummary s = summarize_image({&l}, {"sha256:l"});
  std::set<std::string> tools;
  for (auto& f : s.attack_surface.toolchain) tools.insert(f.path);
  CHECK(tools == std::set<std::string>{"opt/llvm/bin/clang++-17", "usr/lib/go-1.22/bin/go"});
  CHECK(s.runtimes == std::vector<std::string>{"java"});
  // busybox's dpkg and rpm applets fetch nothing: no package manager.
  CHECK(s.attack_surface.package_manager.empty());
}
