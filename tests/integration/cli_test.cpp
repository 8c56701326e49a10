// The CLI as a CI job runs it, against the real daemon and registry.
#include "daemon.h"
#include "registry.h"
#include "tar_builder.h"

#include <doctest/doctest.h>

using namespace bw::test;

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
  CHECK(run_command({BULWARK_CLI_PATH, "--server", "http://127.0.0.1:9", "health"}, out) == 4);
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
}
