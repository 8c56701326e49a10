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
