// The CLI as a CI job runs it, against the real daemon and registry.
#include "daemon.h"
#include "fault_server.h"
#include "pki.h"
#include "provenance.h"
#include "registry.h"
#include "rpmdb.h"
#include "schemas.h"
#include "tar_builder.h"
#include "test_images.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <set>
#include <thread>

#include <signal.h>

using namespace bw::test;
using nlohmann::json;

TEST_CASE("bulwark scan prints the scan and exits by its outcome") {
  LocalRegistry reg;
  Daemon d;
  push_image(reg.host(), "ci/app", "1",
             TestImage{{make_layer(TarBuilder().file("etc/motd", "hi").build())}});
  std::string out;
  CHECK(run_command(
            {BULWARK_CLI_PATH, "--server", d.api().server(), "scan", reg.host() + "/ci/app:1"},
            out) == 0);
  CHECK(out.find("status    done") != std::string::npos);
  CHECK(run_command(
            {BULWARK_CLI_PATH, "--server", d.api().server(), "scan", reg.host() + "/ci/app:2"},
            out) == 3);
  CHECK(out.find("manifest_unknown") != std::string::npos);
  CHECK(run_command({BULWARK_CLI_PATH, "--server", d.api().server(), "scan", "Bad Ref"}, out) == 2);
  CHECK(out.find("bad_reference") != std::string::npos);
  CHECK(run_command({BULWARK_CLI_PATH, "--server", d.api().server(), "scan", "--json",
                     reg.host() + "/ci/app:1"},
                    out) == 0);
  CHECK(nlohmann::json::parse(out)["status"] == "done");
  RefusingPort closed;
  CHECK(run_command({BULWARK_CLI_PATH, "--server", "http://" + closed.host(), "health"}, out) == 4);
  CHECK(run_command({BULWARK_CLI_PATH}, out) == 2);
}

TEST_CASE(
    "the gate cannot be bypassed: strict options, anywhere on the line, and the worst "
    "platform decides") {
  LocalRegistry reg;
  Daemon d;
  TestImage amd{{make_layer(TarBuilder().file("etc/motd", "amd").build())}};
  TestImage arm{{make_layer(TarBuilder().file("etc/motd", "arm").build())}};
  arm.architecture = "arm64";
  auto pa = push_image(reg.host(), "ci/multi", "", amd);
  auto pr = push_image(reg.host(), "ci/multi", "", arm);
  push_index(reg.host(), "ci/multi", "1", {{pa, amd}, {pr, arm}}, false);
  std::string image = reg.host() + "/ci/multi:1";
  std::string out;
  const std::string cli = BULWARK_CLI_PATH, server = d.api().server();

  // Both platforms score under 99: the multi-platform scan fails the gate.
  CHECK(run_command(
            {cli, "--server", server, "scan", image, "--platform", "all", "--fail-under", "99"},
            out) == 1);
  CHECK(out.find("verdict   fail") != std::string::npos);
  // Options before the command and after the image mean the same.
  CHECK(run_command({cli, "--fail-under", "0", "scan", "--server", server, image}, out) == 0);
  CHECK(run_command({cli, "scan", image, "--server", server, "--fail-under", "99"}, out) == 1);

  for (auto bad : std::vector<std::vector<std::string>>{{"scan", image, "--fail-under", "abc"},
                                                        {"scan", image, "--fail-under", "5abc"},
                                                        {"scan", image, "--fail-under", "101"},
                                                        {"scan", image, "--timeout", "-1"},
                                                        {"scan", image, "--fail-on", "severe"},
                                                        {"scan", image, "--frobnicate"},
                                                        {"scan", image, "--platform"},
                                                        {"scan"},
                                                        {"scan", image, "another"},
                                                        {"explode"}}) {
    std::vector<std::string> argv = {cli, "--server", server};
    argv.insert(argv.end(), bad.begin(), bad.end());
    CAPTURE(out);
    CHECK(run_command(argv, out) == 2);
    CHECK(out.find("bulwark: ") != std::string::npos);
    CHECK(std::count(out.begin(), out.end(), '\n') == 1);  // one clear line
  }

  CHECK(run_command({cli, "--help"}, out) == 0);
  CHECK(out.find("usage: bulwark") != std::string::npos);
  CHECK(run_command({cli, "--server", server, "--version"}, out) == 0);
  CHECK(out.find("bulwark 0.1.0") != std::string::npos);
  CHECK(out.find("ruleset   rs-") != std::string::npos);
  CHECK(out.find("secrets=1") != std::string::npos);
  CHECK(run_command({"/usr/bin/env", "-u", "BULWARK_SERVER", cli, "--version"}, out) == 0);
  CHECK(out.find("ruleset   rs-") != std::string::npos);
  CHECK(out.find("(in-process)") != std::string::npos);
  CHECK(out.find("elf=4") != std::string::npos);
  CHECK(out.find("npm=1") != std::string::npos);
  CHECK(out.find("jar=1") != std::string::npos);
}

TEST_CASE("one run writes SARIF, JUnit and Markdown for CI systems, and the table to the log") {
  LocalRegistry reg;
  Daemon d;
  TestImage img{
      {make_layer(TarBuilder()
                      .file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
                      .file("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
                      .file("bin/bash", std::string(3000, 'B'), 0755)
                      .file("usr/bin/su", "x", 04755)
                      .file("app/id_rsa", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n")
                      // Markup in a path: JUnit's XML must escape it.
                      .file("app/<a&b>'\"q\".pem", "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n")
                      // A real executable: the SBOM lists it with its hardening.
                      .file("usr/local/bin/app", read_file("/bin/true"), 0755)
                      .file("var/lib/dpkg/status",
                            "Package: bash\nStatus: install ok installed\n"
                            "Version: 5.2.15-2+b2\nArchitecture: amd64\n\n"
                            "Package: libc6\nStatus: install ok installed\n"
                            "Version: 2.36-9+deb12u4\nArchitecture: amd64\n"
                            "Source: glibc\n\n")
                      .build())}};
  img.history =
      nlohmann::json::array({{{"created_by", "/bin/sh -c #(nop) ADD file:x in / "}},
                             {{"created_by", "/bin/sh -c curl -fsSL https://get.example | sh"}}});
  push_image(reg.host(), "ci/formats", "1", img);
  TempDir dir;
  std::string out;
  int rc = run_command({BULWARK_CLI_PATH,
                        "--server",
                        d.api().server(),
                        "scan",
                        reg.host() + "/ci/formats:1",
                        "--fail-under",
                        "90",
                        "--fail-on",
                        "high",
                        "--format",
                        "sarif",
                        "--output",
                        dir.path() + "/bulwark.sarif",
                        "--format",
                        "junit",
                        "--output",
                        dir.path() + "/junit.xml",
                        "--format",
                        "markdown",
                        "--output",
                        dir.path() + "/comment.md",
                        "--format",
                        "json",
                        "--output",
                        dir.path() + "/report.json",
                        "--format",
                        "cyclonedx",
                        "--output",
                        dir.path() + "/sbom.json",
                        "--format",
                        "table"},
                       out);
  INFO(out);
  CHECK(rc == 1);  // the policy fails; every file is still written
  CHECK(out.find("status    done") != std::string::npos);

  nlohmann::json sarif = nlohmann::json::parse(read_file(dir.path() + "/bulwark.sarif"));
  CHECK(sarif["version"] == "2.1.0");
  auto& run = sarif["runs"][0];
  CHECK(run["tool"]["driver"]["rules"].size() >= 40);
  std::set<std::string> ids;
  for (auto& r : run["results"]) ids.insert(r["ruleId"]);
  CHECK(ids.count("BW-USER-ROOT"));
  CHECK(ids.count("BW-PIPE-SHELL"));
  CHECK(ids.count("BW-SUID"));
  std::string check;
  CHECK(sarif_valid(dir.path() + "/bulwark.sarif", check));

  REQUIRE(
      run_command({"python3", "-c",
                   "import sys,xml.etree.ElementTree as E\n"
                   "s=E.parse(sys.argv[1]).getroot().find('testsuite')\n"
                   "cases=s.findall('testcase')\n"
                   "failed=[c.get('name').split()[0] for c in cases if c.find('failure') is not "
                   "None]\n"
                   "print(len(cases), s.get('failures'), ' '.join(sorted(failed)))",
                   dir.path() + "/junit.xml"},
                  check) == 0);
  CHECK(check.find("BW-USER-ROOT") != std::string::npos);
  CHECK(check.find("BW-PIPE-SHELL") != std::string::npos);
  CHECK(check.find("score") != std::string::npos);  // fail_under is a case of its own
  // Under fail_on: listed in the case's output, not failed.
  CHECK(check.find("BW-HEALTHCHECK") == std::string::npos);
  CHECK(std::stoi(check) >= 40);  // one test case per rule
  // The markup in the path came through escaped, and back intact.
  REQUIRE(run_command({"python3", "-c",
                       "import sys,xml.etree.ElementTree as E\n"
                       "t=E.parse(sys.argv[1]).getroot()\n"
                       "print(any('<a&b>' in (f.text or '') + (f.get('message') or '') "
                       "for f in t.iter('failure')))",
                       dir.path() + "/junit.xml"},
                      check) == 0);
  CHECK(check.find("True") != std::string::npos);

  nlohmann::json sbom = nlohmann::json::parse(read_file(dir.path() + "/sbom.json"));
  std::set<std::string> purls;
  for (auto& c : sbom["components"])
    if (c.contains("purl")) purls.insert(c["purl"]);
  CHECK(purls.count("pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64&distro=debian-12"));
  CHECK(purls.count("pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12"));
  bool app_listed = false;
  for (auto& c : sbom["components"])
    if (c["type"] == "file" && c["name"] == "/usr/local/bin/app")
      for (auto& p : c["properties"])
        if (p["name"] == "bulwark:elf:pie") app_listed = p["value"] == "true";
  CHECK(app_listed);
  CHECK(cyclonedx_valid(dir.path() + "/sbom.json", check));

  std::string md = read_file(dir.path() + "/comment.md");
  nlohmann::json report = nlohmann::json::parse(read_file(dir.path() + "/report.json"));
  CHECK(md.find("grade **" + report["grade"].get<std::string>() + "**") != std::string::npos);
  CHECK(md.find("policy **fail**") != std::string::npos);
  CHECK(md.find("BW-PIPE-SHELL") != std::string::npos);
  if (!report["recommendations"].empty() &&
      !report["recommendations"][0]["dockerfile"].get<std::string>().empty())
    CHECK(md.find("```dockerfile") != std::string::npos);
  CHECK(report ==
        d.get_json("/v1/images/" + report["manifest_digest"].get<std::string>() + "/report"));
}

TEST_CASE(
    "with no daemon, the CLI scans in-process: registry images and local archives give the "
    "daemon's report") {
  LocalRegistry reg;
  TestImage img{
      {make_layer(TarBuilder()
                      .file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
                      .file("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
                      .file("bin/bash", std::string(3000, 'B'), 0755)
                      .build()),
       make_layer(TarBuilder().file("app/server", std::string(4000, 's'), 0755).build())}};
  img.config = {{"User", "1000"}};
  push_image(reg.host(), "ci/local", "1", img);
  std::string ref = reg.host() + "/ci/local:1";
  Daemon d;
  json from_daemon;
  {
    json s = d.scan(ref);
    REQUIRE(s["status"] == "done");
    from_daemon = d.get_json("/v1/images/" + s["manifest_digest"].get<std::string>() + "/report");
  }
  TempDir dir;
  std::string out;
  REQUIRE(run_command({"skopeo", "copy", "--quiet", "--src-tls-verify=false", "docker://" + ref,
                       "oci-archive:" + dir.path() + "/img.tar:v1"},
                      out) == 0);
  auto local = [&](const std::string& image, const std::string& name) {
    int rc = run_command({"/usr/bin/env", "-u", "BULWARK_SERVER", "XDG_CACHE_HOME=" + dir.path(),
                          BULWARK_CLI_PATH, "scan", image, "--format", "json", "--output",
                          dir.path() + "/" + name, "--format", "table"},
                         out);
    INFO(out);
    CHECK(rc == 0);
    CHECK(out.find("status    done") != std::string::npos);
    return nlohmann::json::parse(read_file(dir.path() + "/" + name));
  };
  json cold = local(ref, "registry.json");
  CHECK(cold == from_daemon);
  // The cache under XDG_CACHE_HOME keeps the layers: the archive's copy (same digests) reuses
  // them and reports the same.
  json archive = local("oci-archive:" + dir.path() + "/img.tar:v1", "archive.json");
  archive.erase("image");
  json expected = from_daemon;
  expected.erase("image");
  CHECK(archive == expected);
  CHECK(std::filesystem::exists(dir.path() + "/bulwark/bulwark.db"));
  // --input, as trivy's: the same image from a docker save tarball and an OCI layout.
  REQUIRE(run_command({"skopeo", "copy", "--quiet", "--src-tls-verify=false", "docker://" + ref,
                       "docker-archive:" + dir.path() + "/saved.tar"},
                      out) == 0);
  REQUIRE(run_command({"skopeo", "copy", "--quiet", "--src-tls-verify=false", "docker://" + ref,
                       "oci:" + dir.path() + "/layout:v1"},
                      out) == 0);
  for (auto input :
       {dir.path() + "/saved.tar", dir.path() + "/layout:v1", dir.path() + "/img.tar:v1"}) {
    CAPTURE(input);
    int rc = run_command({"/usr/bin/env", "-u", "BULWARK_SERVER", "XDG_CACHE_HOME=" + dir.path(),
                          BULWARK_CLI_PATH, "scan", "--input", input, "--format", "json"},
                         out);
    CHECK(rc == 0);
    // docker-archive keeps layers uncompressed (other digests): what was found is the same.
    CHECK(without_provenance(json::parse(out)) == without_provenance(from_daemon));
  }
  CHECK(run_command({"/usr/bin/env", "-u", "BULWARK_SERVER", BULWARK_CLI_PATH, "scan", "--input",
                     dir.path() + "/missing.tar"},
                    out) == 2);

  // A failing gate exits 1 locally too; a bad reference is a usage error.
  CHECK(run_command({"/usr/bin/env", "-u", "BULWARK_SERVER", "XDG_CACHE_HOME=" + dir.path(),
                     BULWARK_CLI_PATH, "scan", ref, "--fail-under", "100"},
                    out) == 1);
  CHECK(run_command({"/usr/bin/env", "-u", "BULWARK_SERVER", "XDG_CACHE_HOME=" + dir.path(),
                     BULWARK_CLI_PATH, "scan", "Bad Ref"},
                    out) == 2);
}

TEST_CASE("bulwark diff shows what a base-image switch changed") {
  LocalRegistry reg;
  std::string app = std::string(4000, 's');
  TestImage fat{{make_layer(TarBuilder()
                                .file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
                                .file("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
                                .file("bin/bash", std::string(3000, 'B'), 0755)
                                .file("usr/bin/sudo", "x", 04755)
                                .file("var/lib/dpkg/status",
                                      "Package: bash\nStatus: install ok installed\n"
                                      "Version: 5.2.15-2\nArchitecture: amd64\n\n"
                                      "Package: sudo\nStatus: install ok installed\n"
                                      "Version: 1.9.13p3-1\nArchitecture: amd64\n\n")
                                .build()),
                 make_layer(TarBuilder().file("app/server", app, 0755).build())}};
  TestImage slim{{make_layer(TarBuilder()
                                 .file("etc/passwd", "nonroot:x:65532:65532::/home:/sbin/nologin\n")
                                 .file("var/lib/dpkg/status.d/base",
                                       "Package: base-files\nVersion: 12.4\nArchitecture: amd64\n")
                                 .build()),
                  make_layer(TarBuilder().file("app/server", app, 0755).build())}};
  slim.config = {{"User", "65532:65532"}};
  push_image(reg.host(), "ci/app", "fat", fat);
  push_image(reg.host(), "ci/app", "slim", slim);
  TempDir cache;
  std::string out;
  auto diff = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {
        "/usr/bin/env",   "-u",   "BULWARK_SERVER",           "XDG_CACHE_HOME=" + cache.path(),
        BULWARK_CLI_PATH, "diff", reg.host() + "/ci/app:fat", reg.host() + "/ci/app:slim"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run_command(argv, out);
  };
  REQUIRE(diff({"--json"}) == 0);
  json d = json::parse(out);
  CHECK(d["after"]["score"].get<int>() > d["before"]["score"].get<int>());
  std::set<std::string> removed, added, gone;
  for (auto& p : d["packages"]["removed"]) removed.insert(p["package"]);
  for (auto& p : d["packages"]["added"]) added.insert(p["package"]);
  for (auto& f : d["findings"]["removed"]) gone.insert(f["rule_id"]);
  CHECK(removed == std::set<std::string>{"dpkg:bash", "dpkg:sudo"});
  CHECK(added == std::set<std::string>{"dpkg:base-files"});
  CHECK(gone.count("BW-USER-ROOT"));
  CHECK(gone.count("BW-SHELL"));
  CHECK(gone.count("BW-SUID"));
  REQUIRE(diff({}) == 0);
  CHECK(out.find("  - dpkg:sudo 1.9.13p3-1") != std::string::npos);
  CHECK(out.find("  - BW-SHELL") != std::string::npos);
  CHECK(run_command({BULWARK_CLI_PATH, "diff", "only-one"}, out) == 2);
}

TEST_CASE(
    "human output: findings worst first with their category and fix, folded, colour and "
    "progress only on a terminal") {
  LocalRegistry reg;
  TarBuilder layer;
  layer.file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
      .file("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
  for (int i = 0; i < 6; ++i) layer.file("usr/bin/tool" + std::to_string(i), "x", 04755);
  push_image(reg.host(), "ci/human", "1", TestImage{{make_layer(layer.build())}});
  TempDir cache;
  std::string out;
  std::vector<std::string> base = {
      "/usr/bin/env",   "-u",   "BULWARK_SERVER",          "XDG_CACHE_HOME=" + cache.path(),
      BULWARK_CLI_PATH, "scan", reg.host() + "/ci/human:1"};
  int rc = run_command(base, out);
  INFO(out);
  REQUIRE(rc == 0);
  CHECK(out.find("[attack_surface, ") != std::string::npos);
  CHECK(out.find("BW-SUID  ") != std::string::npos);
  CHECK(out.find("… and 3 more (--verbose lists them)") != std::string::npos);
  CHECK(out.find("fix: ") != std::string::npos);
  CHECK(out.find("findings  ") != std::string::npos);
  // On a pipe: the report and nothing else (no colour, no progress line).
  CHECK(out.find("\033[") == std::string::npos);
  auto verbose = base;
  verbose.push_back("--verbose");
  REQUIRE(run_command(verbose, out) == 0);
  CHECK(out.find("/usr/bin/tool5") != std::string::npos);
  CHECK(out.find("more (--verbose") == std::string::npos);
  // On a terminal (script(1) gives it one): colour, unless NO_COLOR says no.
  std::string line;
  for (auto& a : base) line += "'" + a + "' ";
  REQUIRE(run_command({"script", "-qec", line, "/dev/null"}, out) == 0);
  CHECK(out.find("\033[") != std::string::npos);
  REQUIRE(run_command({"script", "-qec", "NO_COLOR=1 " + line, "/dev/null"}, out) == 0);
  CHECK(out.find("\033[1m") == std::string::npos);
}

TEST_CASE("HTTPS to the daemon: the server's certificate verified against --cacert") {
  // openssl's test server stands in for a TLS-terminated bulwarkd: it answers any GET with 200.
  Pki pki;
  unsigned short port = free_port();
  TempDir logs;
  Process server({"/usr/bin/openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port),
                  "-cert", pki.cert, "-key", pki.key, "-www", "-quiet"},
                 logs.path() + "/out", logs.path() + "/err");
  std::string out;
  std::string url = "https://127.0.0.1:" + std::to_string(port);
  int rc = 4;
  for (int i = 0; i < 100 && rc == 4; ++i) {
    rc = run_command({BULWARK_CLI_PATH, "--server", url, "--cacert", pki.ca, "health"}, out);
    if (rc == 4) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  INFO(out);
  CHECK(rc == 0);
  // The system store does not know the test CA: the handshake fails, nothing is sent.
  CHECK(run_command({BULWARK_CLI_PATH, "--server", url, "health"}, out) == 4);
  CHECK(out.find("certificate verify failed") != std::string::npos);
  // A name the certificate does not carry is refused even with the right CA.
  CHECK(run_command({BULWARK_CLI_PATH, "--server", "https://127.0.0.2:" + std::to_string(port),
                     "--cacert", pki.ca, "health"},
                    out) == 4);
  server.stop(SIGTERM);
}

TEST_CASE("a progress line under a pseudo-terminal, none on a pipe") {
  // A registry that drips its layer, so that the scan is seen in progress.
  TestImage img{{make_layer(TarBuilder().file("etc/motd", std::string(3000, 'm')).build())}};
  BuiltImage built = build_image(img);
  FaultServer reg([&](const SeenRequest& req) {
    return serve_built_image(built, req, [&](const std::string& blob) {
      return std::chrono::milliseconds(blob == img.layers[0].blob ? 2 : 0);
    });
  });
  TempDir cache;
  std::string line = "env -u BULWARK_SERVER XDG_CACHE_HOME='" + cache.path() + "' '" +
                     BULWARK_CLI_PATH + "' scan " + reg.host() + "/ci/slow:1";
  std::string out;
  REQUIRE(run_command({"script", "-qec", line, "/dev/null"}, out) == 0);
  CHECK(out.find("layers 0/1") != std::string::npos);
  CHECK(out.find("MB/s") != std::string::npos);
  TempDir cache2;
  REQUIRE(run_command({"/usr/bin/env", "-u", "BULWARK_SERVER", "XDG_CACHE_HOME=" + cache2.path(),
                       BULWARK_CLI_PATH, "scan", reg.host() + "/ci/slow:1"},
                      out) == 0);
  CHECK(out.find("MB/s") == std::string::npos);
  CHECK(out.find("status    done") != std::string::npos);
}

TEST_CASE("bulwark status, image, layer and report read what the daemon stored; bad use exits 2") {
  LocalRegistry reg;
  Daemon d;
  TestLayer layer = make_layer(TarBuilder()
                                   .file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
                                   .file("var/lib/dpkg/status",
                                         "Package: bash\nStatus: install ok installed\n"
                                         "Version: 5.2.15-2+b2\nArchitecture: amd64\n")
                                   .file("usr/bin/su", "x", 04755)
                                   .build());
  TestImage img{{layer}};
  img.config = {{"User", "1000"}};
  push_image(reg.host(), "ci/read", "1", img);
  TestImage bumped{{make_layer(TarBuilder()
                                   .file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
                                   .file("var/lib/dpkg/status",
                                         "Package: bash\nStatus: install ok installed\n"
                                         "Version: 5.2.15-2+b3\nArchitecture: amd64\n")
                                   .build())}};
  bumped.config = {{"User", "1000"}};
  push_image(reg.host(), "ci/read", "2", bumped);
  const std::string server = d.api().server();
  auto cli = [&](std::vector<std::string> args, std::string& out) {
    args.insert(args.begin(), {BULWARK_CLI_PATH, "--server", server});
    return run_command(args, out);
  };
  std::string out;
  // Flags the CI guides use: no colour, an ignored rule, a severity gate, a timeout.
  REQUIRE(cli({"scan", reg.host() + "/ci/read:1", "--json", "--no-color", "--ignore", "BW-SUID",
               "--fail-on", "critical", "--timeout", "120"},
              out) == 0);
  json scan = json::parse(out.substr(out.find('{')));
  std::string id = scan["id"], digest = scan["manifest_digest"];

  CHECK(cli({"status", id}, out) == 0);
  CHECK(out.find("status    done") != std::string::npos);
  CHECK(cli({"status", id, "--json"}, out) == 0);
  CHECK(json::parse(out)["id"] == id);
  CHECK(cli({"image", digest}, out) == 0);
  CHECK(json::parse(out)["manifest_digest"] == digest);
  CHECK(cli({"layer", layer.digest()}, out) == 0);
  CHECK(json::parse(out)["digest"] == layer.digest());
  CHECK(cli({"report", digest}, out) == 0);
  CHECK(json::parse(out)["manifest_digest"] == digest);
  // Unknown things are the server's 404, a refused request: exit 2, the API's message.
  CHECK(cli({"image", "sha256:" + std::string(64, '0')}, out) == 2);
  CHECK(out.find("not_found") != std::string::npos);

  // A package whose version moved is listed as changed.
  CHECK(cli({"diff", reg.host() + "/ci/read:1", reg.host() + "/ci/read:2"}, out) == 0);
  CHECK_MESSAGE(out.find("~ dpkg:bash 5.2.15-2+b2 -> 5.2.15-2+b3") != std::string::npos, out);

  // Queued without waiting: the scan as submitted, exit 0.
  CHECK(cli({"scan", reg.host() + "/ci/read:2", "--no-wait", "--json"}, out) == 0);
  CHECK(json::parse(out.substr(out.find('{')))["status"].is_string());

  // Usage errors: one line, exit 2.
  CHECK(cli({"scan", reg.host() + "/ci/read:1", "--format", "pdf"}, out) == 2);
  CHECK(out.find("--format takes table, json, sarif") != std::string::npos);
  CHECK(cli({"frobnicate", "x"}, out) == 2);
  CHECK(out.find("unknown command frobnicate") != std::string::npos);
  CHECK(cli({"scan", reg.host() + "/ci/read:1", "--format", "sarif", "--output",
             "/nonexistent/dir/out.sarif"},
            out) == 2);
  CHECK(out.find("cannot write /nonexistent/dir/out.sarif") != std::string::npos);
}

namespace {

// The CLI with no server in its environment; `env` adds NAME=value entries.
int bulwark(std::vector<std::string> args, std::string& out,
            const std::vector<std::string>& env = {}) {
  std::vector<std::string> argv = {"/usr/bin/env", "-u", "BULWARK_SERVER", "-u", "BULWARK_TOKEN"};
  argv.insert(argv.end(), env.begin(), env.end());
  argv.push_back(BULWARK_CLI_PATH);
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, out);
}

}  // namespace

TEST_CASE("bulwark's command line: every option without its value, and values out of range") {
  std::string out;
  for (const char* opt : {"--server", "--cacert", "--platform", "--fail-on", "--format", "--output",
                          "--input", "--ignore", "--fail-under", "--timeout"}) {
    CAPTURE(opt);
    CHECK(bulwark({"scan", opt}, out) == 2);
    CHECK(out.find(std::string(opt) + " needs a value") != std::string::npos);
  }
  CHECK(bulwark({"scan", "x", "--timeout", "0"}, out) == 2);
  CHECK(out.find("--timeout takes a whole number from 1 to 86400") != std::string::npos);
  CHECK(bulwark({"scan", "x", "--fail-under", "1234567890123"}, out) == 2);
  CHECK(bulwark({"scan", "x", "--fail-under", "9x"}, out) == 2);
  CHECK(bulwark({"scan", "x", "--fail-under", ""}, out) == 2);
  CHECK(bulwark({"scan", "x", "--fail-on", "severe"}, out) == 2);
  CHECK(bulwark({"-h"}, out) == 0);
  CHECK(out.find("usage: bulwark") != std::string::npos);
  CHECK(bulwark({}, out) == 2);
  // Output files named before a format: the table goes there.
  TempDir dir;
  CHECK(bulwark({"scan", "--input", dir.path() + "/none", "--output", dir.path() + "/t.txt"},
                out) == 2);
  CHECK(out.find("no such file or directory") != std::string::npos);
  // --input and an image, --input with a server: refused.
  CHECK(bulwark({"scan", "--input", dir.path(), "x"}, out) == 2);
  CHECK(out.find("not both") != std::string::npos);
  CHECK(bulwark({"scan", "--input", dir.path(), "--server", "http://127.0.0.1:1"}, out) == 2);
  CHECK(out.find("needs no --server") != std::string::npos);
  // The server from the environment; a server that is not there.
  RefusingPort closed;
  CHECK(bulwark({"health"}, out, {"BULWARK_SERVER=http://" + closed.host()}) != 0);
  CHECK(bulwark({"--version", "--server", "http://" + closed.host()}, out) == 0);
  CHECK(out.find("not reachable") != std::string::npos);
  CHECK(bulwark({"status"}, out, {"BULWARK_SERVER=http://" + closed.host()}) == 2);
  CHECK(out.find("status takes one argument") != std::string::npos);
  CHECK(bulwark({"status", "x", "--server", "ftp://x"}, out) == 2);
}

TEST_CASE("offline scans in every format: apk and rpm packages, many findings, -v") {
  TempDir dir;
  std::string rpmdb = build_rpmdb(dir.path(), {{"probe", "1.0", "1.el9", ""}});
  TarBuilder t;
  t.file("etc/os-release", "ID=alpine\nVERSION_ID=3.12.0\nPRETTY_NAME=\"Alpine 3.12\"\n")
      .file("lib/apk/db/installed",
            "P:musl\nV:1.2.4-r2\nA:x86_64\no:musl\n\nP:busybox\nV:1.36-r0\n")
      .file("var/lib/rpm/rpmdb.sqlite", rpmdb)
      .file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nsvc:x:1000:1000::/:/bin/sh\n")
      .file("etc/shadow", "root:$6$abc:1::::::\nsvc::1::::::\n");
  // Many setuid files: more findings than the Markdown summary shows.
  for (int i = 0; i < 20; ++i) t.file("usr/bin/s" + std::to_string(i), "x", 04755);
  TestImage img{{make_layer(t.build())}};
  img.config = {{"Cmd", {"/bin/sh"}}};
  BuiltImage built = build_image(img);
  const std::string layout = dir.path() + "/layout";
  write_oci_layout(layout, {built}, built.manifest, built.media_type, {"v1"});
  std::string out;
  const std::string cache = "XDG_CACHE_HOME=" + dir.path() + "/cache";
  int rc = bulwark({"scan",
                    "--input",
                    layout + ":v1",
                    "-v",
                    "--no-color",
                    "--format",
                    "markdown",
                    "--output",
                    dir.path() + "/r.md",
                    "--format",
                    "sarif",
                    "--output",
                    dir.path() + "/r.sarif",
                    "--format",
                    "junit",
                    "--output",
                    dir.path() + "/r.xml",
                    "--format",
                    "cyclonedx",
                    "--output",
                    dir.path() + "/r.cdx.json",
                    "--format",
                    "table"},
                   out, {cache});
  CHECK(rc == 0);
  std::string md = read_file(dir.path() + "/r.md");
  CHECK(md.find("more.") != std::string::npos);  // "… and N more."
  // The plan, where people read the advice: each step with the score after it.
  CHECK(md.find("**Plan:** switch to gcr.io/distroless/base-debian12:debug-nonroot → ") !=
        std::string::npos);
  json cdx = json::parse(read_file(dir.path() + "/r.cdx.json"));
  std::set<std::string> purls;
  for (auto& c : cdx["components"])
    if (c.contains("purl")) purls.insert(c["purl"].get<std::string>());
  CHECK(purls.count("pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.12.0"));
  bool rpm = false;
  for (auto& p : purls) rpm |= p.starts_with("pkg:rpm/alpine/probe@1.0-1.el9");
  CHECK_MESSAGE(rpm, read_file(dir.path() + "/r.cdx.json"));
  json sarif = json::parse(read_file(dir.path() + "/r.sarif"));
  CHECK(sarif["runs"][0]["results"].size() > 15);
  CHECK(read_file(dir.path() + "/r.xml").find("<testsuite") != std::string::npos);
  CHECK(out.find("BW-SUID") != std::string::npos);  // the table on stdout
  CHECK(out.find("plan: switch to ") != std::string::npos);
  // The cache's location from HOME when XDG_CACHE_HOME is not set.
  CHECK(bulwark({"scan", "--input", layout + ":v1", "--format", "json"}, out,
                {"-u", "XDG_CACHE_HOME", "HOME=" + dir.path() + "/home"}) == 0);
  CHECK(std::filesystem::exists(dir.path() + "/home/.cache/bulwark/bulwark.db"));
}

TEST_CASE("offline: a clean image's Markdown, diffs between layouts, outputs without formats") {
  TempDir dir;
  // A static binary, a package database without a release file, a non-root user, a health check.
  TestImage clean{{make_layer(TarBuilder()
                                  .file("app/run", static_elf(), 0755)
                                  .file("var/lib/dpkg/status",
                                        "Package: tzdata\nStatus: install ok installed\n"
                                        "Version: 2024a-0+deb12u1\nArchitecture: all\n")
                                  .build())}};
  char today[32];
  std::time_t now = std::time(nullptr);
  std::strftime(today, sizeof today, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  clean.created = today;  // not old
  clean.config = {{"User", "65532"},
                  {"Entrypoint", {"/app/run"}},
                  {"Healthcheck", {{"Test", {"CMD", "/app/run", "-health"}}}}};
  TestImage dirty{{make_layer(TarBuilder().file("usr/bin/su", "x", 04755).build())}};
  dirty.config = {{"User", "65532"}};
  BuiltImage clean_built = build_image(clean), dirty_built = build_image(dirty);
  const std::string a = dir.path() + "/clean", b = dir.path() + "/dirty";
  write_oci_layout(a, {clean_built}, clean_built.manifest, clean_built.media_type, {"v1"});
  write_oci_layout(b, {dirty_built}, dirty_built.manifest, dirty_built.media_type, {"v1"});
  const std::string cache = "XDG_CACHE_HOME=" + dir.path() + "/cache";
  std::string out;
  // A layout given without a tag: its only image. Two outputs after one format: the second
  // output is the table.
  CHECK(bulwark({"scan", "--input", a, "--format", "markdown", "--output", dir.path() + "/a.md",
                 "--output", dir.path() + "/a.txt", "--format", "cyclonedx", "--output",
                 dir.path() + "/a.cdx.json"},
                out, {cache}) == 0);
  std::string md = read_file(dir.path() + "/a.md");
  CHECK_MESSAGE(md.find("No findings") != std::string::npos, md);
  CHECK(std::filesystem::exists(dir.path() + "/a.txt"));
  CHECK(read_file(dir.path() + "/a.cdx.json").find("pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1") !=
        std::string::npos);
  // diff of two local images, as JSON and as text; a missing one fails before anything prints.
  CHECK(bulwark({"diff", "oci:" + a + ":v1", "oci:" + b + ":v1", "--json"}, out, {cache}) == 0);
  json diff = json::parse(out.substr(out.find('{')));
  CHECK_FALSE(diff["findings"]["added"].empty());
  CHECK(bulwark({"diff", "oci:" + a + ":v1", "oci:" + b + ":v1"}, out, {cache}) == 0);
  CHECK(out.find("+ BW-SUID") != std::string::npos);
  CHECK(bulwark({"diff", "oci:" + dir.path() + "/none:v1", "oci:" + b + ":v1"}, out, {cache}) != 0);
  CHECK(bulwark({"diff", "oci:" + a + ":v1"}, out, {cache}) == 2);
  CHECK(bulwark({"scan", "x", "--timeout", "-"}, out) == 2);
  CHECK(bulwark({"scan", "x", "--timeout", "5-"}, out) == 2);
}
