// The CI contract of the CLI binary, through a real registry: one gate for every path, the
// options people type, suppressions as code in every format, SARIF that survives a rebuild and
// a table that fits its width.
#include "daemon.h"
#include "registry.h"
#include "schemas.h"
#include "tar_builder.h"
#include "test_images.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

using namespace bw::test;
using nlohmann::json;

namespace {

const std::string kCli = BULWARK_CLI_PATH;

// The CLI with no daemon: in-process, its cache in `cache`.
std::vector<std::string> local_cli(const std::string& cache) {
  return {"/usr/bin/env", "-u", "BULWARK_SERVER", "XDG_CACHE_HOME=" + cache, kCli};
}

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// An image a CI gate fails: runs as root, a private key in the app, `curl | sh` in its history.
TestImage failing_image(const std::string& app_file = "v1") {
  TestImage img{{make_layer(TarBuilder()
                                .file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
                                .file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
                                .file("bin/sh", std::string(2000, 's'), 0755)
                                .build()),
                 make_layer(TarBuilder()
                                .file("app/id_rsa", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n")
                                .file("app/main.js", app_file)
                                .build())}};
  img.history =
      json::array({{{"created_by", "/bin/sh -c #(nop) ADD file:0a1b in / "}},
                   {{"created_by",
                     "RUN /bin/sh -c curl -fsSL https://get.example/install.sh | sh # buildkit"}}});
  return img;
}

// One that passes: a numeric non-root user and nothing else of note.
TestImage passing_image() {
  TestImage img{{make_layer(TarBuilder().file("app/server", "x", 0755).build())}};
  img.config = {{"User", "65532"}, {"Entrypoint", json::array({"/app/server"})}};
  return img;
}

// line -> the number of code points (UTF-8).
std::size_t width_of(const std::string& line) {
  std::size_t n = 0;
  for (unsigned char c : line)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

}  // namespace

TEST_CASE(
    "--platform all writes every format, one part per platform, and the worst platform "
    "decides the exit") {
  LocalRegistry reg;
  Daemon d;
  TestImage amd = failing_image(), arm = passing_image();
  arm.architecture = "arm64";
  auto pa = push_image(reg.host(), "ci/multi", "", amd);
  auto pr = push_image(reg.host(), "ci/multi", "", arm);
  push_index(reg.host(), "ci/multi", "1", {{pa, amd}, {pr, arm}}, false);
  const std::string image = reg.host() + "/ci/multi:1";
  TempDir dir;
  for (std::string mode : {"daemon", "in-process"}) {
    CAPTURE(mode);
    std::string at = dir.path() + "/" + mode;
    std::filesystem::create_directories(at);
    std::vector<std::string> cli =
        mode == "daemon" ? std::vector<std::string>{kCli, "--server", d.api().server()}
                         : local_cli(dir.path() + "/cache");
    std::string out;
    int rc = run_command(cli + std::vector<std::string>{"scan",       image,
                                                        "--platform", "all",
                                                        "--fail-on",  "high",
                                                        "-f",         "sarif",
                                                        "-o",         at + "/r.sarif",
                                                        "-f",         "json",
                                                        "-o",         at + "/r.json",
                                                        "-f",         "junit",
                                                        "-o",         at + "/junit.xml",
                                                        "-f",         "markdown",
                                                        "-o",         at + "/r.md",
                                                        "-f",         "cyclonedx",
                                                        "-o",         at + "/sbom.cdx.json",
                                                        "-f",         "table"},
                         out);
    INFO(out);
    CHECK(rc == 1);
    CHECK(out.find("verdict   fail") != std::string::npos);
    CHECK(out.find("== linux/amd64 ==") != std::string::npos);
    CHECK(out.find("== linux/arm64 ==") != std::string::npos);

    json sarif = json::parse(read_file(at + "/r.sarif"));
    REQUIRE(sarif["runs"].size() == 2);
    std::set<std::string> categories;
    std::map<std::string, std::size_t> results;
    for (auto& run : sarif["runs"]) {
      categories.insert(run["automationDetails"]["id"].get<std::string>());
      results[run["properties"]["platform"]] = run["results"].size();
    }
    CHECK(categories == std::set<std::string>{"bulwark-linux-amd64/", "bulwark-linux-arm64/"});
    CHECK(results["linux/amd64"] > results["linux/arm64"]);
    std::string check;
    CHECK(sarif_valid(at + "/r.sarif", check));
    // GitHub's documented limits for an upload.
    CHECK(read_file(at + "/r.sarif").size() < 10u * 1024 * 1024);
    CHECK(sarif["runs"].size() <= 20);
    for (auto& run : sarif["runs"]) {
      CHECK(run["results"].size() <= 25'000);
      CHECK(run["tool"]["driver"]["rules"].size() <= 25'000);
      for (auto& rule : run["tool"]["driver"]["rules"])
        CHECK(rule["properties"]["tags"].size() <= 20);
      for (auto& r : run["results"]) {
        CHECK(r["locations"].size() <= 1000);
        CHECK(r["partialFingerprints"].size() >= 1);
      }
    }

    json reports = json::parse(read_file(at + "/r.json"));
    REQUIRE(reports.is_array());
    REQUIRE(reports.size() == 2);
    CHECK(reports[0]["platform"] != reports[1]["platform"]);

    REQUIRE(run_command({"python3", "-c",
                         "import sys,xml.etree.ElementTree as E\n"
                         "t=E.parse(sys.argv[1]).getroot()\n"
                         "for s in t.findall('testsuite'):\n"
                         "  print(s.get('name').split('(')[-1].rstrip(')'), s.get('failures'))",
                         at + "/junit.xml"},
                        check) == 0);
    CHECK(check.find("linux/amd64 ") != std::string::npos);
    CHECK(check.find("linux/arm64 0") != std::string::npos);
    CHECK(check.find("linux/amd64 0") == std::string::npos);

    std::string md = read_file(at + "/r.md");
    CHECK(md.find("#### linux/amd64") != std::string::npos);
    CHECK(md.find("#### linux/arm64") != std::string::npos);
    CHECK(md.find("policy **fail**") != std::string::npos);

    for (auto suffix : {"linux-amd64", "linux-arm64"}) {
      json bom = json::parse(read_file(at + "/sbom-" + suffix + ".cdx.json"));
      CHECK(bom["bomFormat"] == "CycloneDX");
    }
  }
}

TEST_CASE(
    "options as people type them: --opt=value, short options, lists, any-case severities, "
    "unknown rules refused, skopeo's transports, diff's policy") {
  LocalRegistry reg;
  Daemon d;
  push_image(reg.host(), "ci/opts", "1", failing_image());
  push_image(reg.host(), "ci/opts", "2", passing_image());
  const std::string image = reg.host() + "/ci/opts:1", good = reg.host() + "/ci/opts:2";
  const std::vector<std::string> cli = {kCli, "--server", d.api().server()};
  TempDir dir;
  std::string out;
  auto run = [&](const std::vector<std::string>& args) {
    int rc = run_command(cli + args, out);
    INFO(out);
    return rc;
  };
  CHECK(run({"scan", image, "--fail-on", "HIGH"}) == 1);
  CHECK(run({"scan", good, "--fail-on", "HIGH"}) == 0);
  CHECK(run({"scan", image, "--fail-under=80"}) == 1);
  CHECK(run({"scan", image, "--fail-on=Critical"}) == 0);
  CHECK(run({"scan", image, "-f", "json", "-o", dir.path() + "/r.json"}) == 0);
  CHECK(json::parse(read_file(dir.path() + "/r.json"))["findings"].is_array());
  CHECK(run({"scan", image, "--format=json", "--output=" + dir.path() + "/r2.json"}) == 0);
  CHECK(std::filesystem::exists(dir.path() + "/r2.json"));
  // --quiet: the exit code, no table.
  CHECK(run({"scan", image, "--quiet", "--fail-on", "high"}) == 1);
  CHECK(out.find("status") == std::string::npos);
  CHECK(run({"-q", "scan", image}) == 0);
  CHECK(out.empty());
  // A comma list is two rules; both are suppressed in the report written.
  CHECK(run({"scan", image, "--ignore", "BW-USER-ROOT,BW-PIPE-SHELL", "-f", "json"}) == 0);
  json report = json::parse(out);
  std::set<std::string> suppressed, live;
  for (auto& f : report["findings"])
    (f.value("suppressed", false) ? suppressed : live).insert(f["rule_id"].get<std::string>());
  CHECK(suppressed.count("BW-USER-ROOT"));
  CHECK(suppressed.count("BW-PIPE-SHELL"));
  CHECK_FALSE(live.count("BW-USER-ROOT"));
  // Unknown rule ids are refused before anything is scanned, with a suggestion when close.
  CHECK(run({"scan", image, "--ignore", "BW-NOPE"}) == 2);
  CHECK(out.find("no rule BW-NOPE") != std::string::npos);
  CHECK(run({"scan", image, "--ignore", "BW-USER-ROT"}) == 2);
  CHECK(out.find("did you mean BW-USER-ROOT?") != std::string::npos);
  // Per-command help.
  CHECK(run({"scan", "--help"}) == 0);
  CHECK(out.find("scan IMAGE") != std::string::npos);
  CHECK(out.find("diff BEFORE") == std::string::npos);
  // skopeo's transport prefixes in --input.
  REQUIRE(run_command({"skopeo", "copy", "--quiet", "--src-tls-verify=false", "docker://" + image,
                       "docker-archive:" + dir.path() + "/saved.tar"},
                      out) == 0);
  REQUIRE(run_command({"skopeo", "copy", "--quiet", "--src-tls-verify=false", "docker://" + image,
                       "oci:" + dir.path() + "/layout:v1"},
                      out) == 0);
  for (auto input :
       {"docker-archive:" + dir.path() + "/saved.tar", "oci:" + dir.path() + "/layout:v1"}) {
    CAPTURE(input);
    int rc =
        run_command(local_cli(dir.path() + "/cache") +
                        std::vector<std::string>{"scan", "--input", input, "--fail-on", "high"},
                    out);
    INFO(out);
    CHECK(rc == 1);
    CHECK(out.find("status    done") != std::string::npos);
  }
  CHECK(run_command(local_cli(dir.path() + "/cache") +
                        std::vector<std::string>{"scan", "-i",
                                                 "docker-archive:" + dir.path() + "/missing.tar"},
                    out) == 2);
  // diff: the formats it has, the policy judged on AFTER; the others refused.
  CHECK(run({"diff", image, good, "--format", "markdown"}) == 0);
  CHECK(out.find("### Bulwark diff") != std::string::npos);
  CHECK(run({"diff", good, image, "--fail-under", "90"}) == 1);
  CHECK(out.find("verdict   fail (after)") != std::string::npos);
  CHECK(run({"diff", image, good, "--fail-under", "90"}) == 0);
  CHECK(run({"diff", image, good, "--format", "sarif"}) == 2);
}

TEST_CASE(
    "an ignore file with a live and an expired entry: suppressed in SARIF, JUnit and the "
    "table, the expired one counted again and said so") {
  LocalRegistry reg;
  Daemon d;
  push_image(reg.host(), "ci/ignored", "1", failing_image());
  const std::string image = reg.host() + "/ci/ignored:1";
  TempDir dir;
  std::ofstream(dir.path() + "/.bulwarkignore") << "# checked in with the app\n"
                                                   "ignore:\n"
                                                   "  - rule: BW-SECRET-FILE\n"
                                                   "    path: app/id_rsa\n"
                                                   "    reason: a fixture key, not deployed\n"
                                                   "    expires: 2999-12-31\n"
                                                   "  - rule: BW-USER-ROOT\n"
                                                   "    reason: moving to a user in Q1\n"
                                                   "    expires: 2020-01-31\n";
  std::string out;
  // Found in the working directory, as a checked-in file is.
  int rc = run_command({"/bin/sh", "-c",
                        "cd \"$1\" && exec \"$2\" --server \"$3\" scan \"$4\" --fail-on high "
                        "-f sarif -o r.sarif -f junit -o junit.xml -f table",
                        "sh", dir.path(), kCli, d.api().server(), image},
                       out);
  INFO(out);
  CHECK(rc == 1);  // BW-USER-ROOT (high) counts again
  CHECK(out.find("BW-USER-ROOT: expired 2020-01-31") != std::string::npos);
  CHECK(out.find("it no longer suppresses") != std::string::npos);
  CHECK(out.find("suppressed (not counted)") != std::string::npos);
  CHECK(out.find("a fixture key, not deployed (.bulwarkignore)") != std::string::npos);
  CHECK(out.find("its suppression expired 2020-01-31") != std::string::npos);

  json sarif = json::parse(read_file(dir.path() + "/r.sarif"));
  bool key_suppressed = false, root_live = false;
  for (auto& r : sarif["runs"][0]["results"]) {
    if (r["ruleId"] == "BW-SECRET-FILE")
      key_suppressed = r.contains("suppressions") &&
                       r["suppressions"][0]["justification"] == "a fixture key, not deployed" &&
                       r["suppressions"][0]["kind"] == "external";
    if (r["ruleId"] == "BW-USER-ROOT") root_live = !r.contains("suppressions");
  }
  CHECK(key_suppressed);
  CHECK(root_live);
  std::string check;
  CHECK(sarif_valid(dir.path() + "/r.sarif", check));

  REQUIRE(run_command({"python3", "-c",
                       "import sys,xml.etree.ElementTree as E\n"
                       "for c in E.parse(sys.argv[1]).getroot().iter('testcase'):\n"
                       "  k='failed' if c.find('failure') is not None else 'skipped' if "
                       "c.find('skipped') is not None else 'passed'\n"
                       "  print(c.get('name').split()[0], k)",
                       dir.path() + "/junit.xml"},
                      check) == 0);
  CHECK(check.find("BW-SECRET-FILE skipped") != std::string::npos);
  CHECK(check.find("BW-USER-ROOT failed") != std::string::npos);
  CHECK(check.find("BW-PIPE-SHELL failed") != std::string::npos);
  // Under the policy (info): listed, not failed.
  CHECK(check.find("BW-HEALTHCHECK passed") != std::string::npos);

  // A bad entry is refused before scanning, naming the file and the entry.
  std::ofstream(dir.path() + "/bad.yaml") << "- rule: BW-USER-ROOT\n  expires: soon\n";
  CHECK(run_command({kCli, "--server", d.api().server(), "scan", image, "--ignore-file",
                     dir.path() + "/bad.yaml"},
                    out) == 2);
  CHECK(out.find("bad.yaml: entry 1") != std::string::npos);
}

TEST_CASE("SARIF fingerprints survive a rebuild: a changed app file keeps every other alert") {
  LocalRegistry reg;
  Daemon d;
  auto first = push_image(reg.host(), "ci/rebuilt", "1", failing_image("console.log(1)"));
  auto second = push_image(reg.host(), "ci/rebuilt", "2", failing_image("console.log(2)"));
  REQUIRE(first.manifest_digest != second.manifest_digest);
  TempDir dir;
  std::map<std::string, std::string> prints[2];
  for (int i = 0; i < 2; ++i) {
    std::string out, file = dir.path() + "/" + std::to_string(i) + ".sarif";
    REQUIRE(run_command(
                {kCli, "--server", d.api().server(), "scan",
                 reg.host() + "/ci/rebuilt:" + std::to_string(i + 1), "-f", "sarif", "-o", file},
                out) == 0);
    json sarif = json::parse(read_file(file));
    for (auto& r : sarif["runs"][0]["results"]) {
      std::string fp = r["partialFingerprints"]["bulwarkFinding/v2"];
      CHECK(fp.find("sha256") == std::string::npos);
      std::string text = r["message"]["text"];
      CHECK(text.find("layer )") == std::string::npos);  // no empty digest in messages
      // Where, with the image's own name (its tag differs) left out.
      std::string at = r["locations"][0]["logicalLocations"][0]["name"];
      if (at.starts_with(reg.host())) at = "the image";
      prints[i][r["ruleId"].get<std::string>() + " " + at] = fp;
    }
    CHECK_FALSE(sarif["runs"][0]["tool"]["driver"].contains("informationUri"));
  }
  REQUIRE(prints[0].size() >= 3);
  std::string differing;
  for (auto& [k, fp] : prints[0])
    if (prints[1].count(k) == 0 || prints[1][k] != fp) differing += k + "; ";
  for (auto& [k, fp] : prints[1])
    if (prints[0].count(k) == 0) differing += "only in the rebuild: " + k + "; ";
  CHECK_MESSAGE(differing.empty(), differing);
  std::set<std::string> distinct;
  for (auto& [k, fp] : prints[0]) distinct.insert(fp);
  CHECK(distinct.size() == prints[0].size());
}

TEST_CASE(
    "the table: worst first, columns that never run together at 80 or 200 columns, and the "
    "build step's command") {
  LocalRegistry reg;
  Daemon d;
  push_image(reg.host(), "ci/table", "1", failing_image());
  const std::string image = reg.host() + "/ci/table:1";
  for (int columns : {80, 200}) {
    CAPTURE(columns);
    std::string out;
    REQUIRE(run_command({"/usr/bin/env", "COLUMNS=" + std::to_string(columns), kCli, "--server",
                         d.api().server(), "scan", image},
                        out) == 0);
    INFO(out);
    std::istringstream lines(out);
    const std::regex row("^  (CRITICAL|HIGH|MEDIUM|LOW|INFO) +(BW-[A-Z0-9-]+)  +\\S.*");
    const std::vector<std::string> order = {"INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"};
    int last = 5, rows = 0;
    bool in_findings = false, step_shown = false;
    for (std::string line; std::getline(lines, line);) {
      if (line.starts_with("  SEVERITY")) in_findings = true;
      if (line.empty()) in_findings = false;
      if (!in_findings || line.starts_with("  SEVERITY")) continue;
      CHECK(width_of(line) <= static_cast<std::size_t>(columns));
      if (line.find("RUN curl -fsSL https://get.example/install.sh | sh") != std::string::npos)
        step_shown = true;
      CHECK(line.find("history[") == std::string::npos);
      std::smatch m;
      if (!std::regex_match(line, m, row)) {
        CHECK(line.starts_with("            "));  // a detail line, under the finding
        continue;
      }
      ++rows;
      int rank =
          static_cast<int>(std::find(order.begin(), order.end(), m[1].str()) - order.begin());
      CHECK(rank <= last);  // sorted by severity, worst first
      last = rank;
    }
    CHECK(rows >= 4);
    CHECK(step_shown);
  }
}
