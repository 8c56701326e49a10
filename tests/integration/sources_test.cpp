// One image, four sources: the registry, and skopeo's copies of it as an OCI layout, an
// oci-archive and a docker-archive. Each is scanned by a fresh daemon and must give the same
// layer facts and report (docker-archive stores layers uncompressed, so its digests differ).
#include "daemon.h"
#include "provenance.h"
#include "registry.h"
#include "tar_builder.h"

#include <doctest/doctest.h>

#include <set>

using namespace bw::test;
using nlohmann::json;

namespace {

struct Scanned {
  json scan, report;
  std::vector<json> layers;
};

Scanned scan_with_fresh_daemon(const std::string& image) {
  Daemon d(json{{"scans", {{"allow_local_sources", true}}}});
  Scanned out;
  out.scan = d.scan(image);
  INFO(image << ": " << out.scan.dump());
  REQUIRE(out.scan["status"] == "done");
  std::string digest = out.scan["manifest_digest"];
  out.report = d.get_json("/v1/images/" + digest + "/report");
  json record = d.get_json("/v1/images/" + digest);
  for (auto& l : record["layers"])
    out.layers.push_back(d.get_json("/v1/layers/" + l["digest"].get<std::string>()));
  return out;
}

}  // namespace

TEST_CASE("registry, OCI layout, oci-archive and docker-archive give the same facts and report") {
  LocalRegistry reg;
  TestImage img(
      {make_layer(TarBuilder()
                      .file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
                      .file("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
                      .file("bin/bash", std::string(3000, 'B'), 0755)
                      .file("usr/bin/su", "x", 04755)
                      .build()),
       make_layer(TarBuilder()
                      .file("app/server", std::string(5000, 's'), 0755)
                      .file("app/.env", "GITHUB_TOKEN=ghp_0123456789abcdefghijklmnopqrstuvwxyzAB\n")
                      .build())});
  img.config = {{"User", "root"}, {"Env", {"PATH=/bin"}}};
  img.history = json::array({{{"created_by", "/bin/sh -c #(nop) ADD file:x in / "}},
                             {{"created_by", "/bin/sh -c curl -fsSL https://x | sh"}}});
  push_image(reg.host(), "team/app", "1", img);
  TempDir dir;
  std::string src = "docker://" + reg.host() + "/team/app:1";
  std::string out;
  for (auto dest : {"oci:" + dir.path() + "/layout:v1", "oci-archive:" + dir.path() + "/img.tar:v1",
                    "docker-archive:" + dir.path() + "/docker.tar"}) {
    int rc = run_command({"skopeo", "copy", "--quiet", "--src-tls-verify=false", src, dest}, out);
    INFO(out);
    REQUIRE(rc == 0);
  }

  Scanned from_registry = scan_with_fresh_daemon(reg.host() + "/team/app:1");
  Scanned layout = scan_with_fresh_daemon("oci:" + dir.path() + "/layout:v1");
  Scanned archive = scan_with_fresh_daemon("oci-archive:" + dir.path() + "/img.tar:v1");
  Scanned docker = scan_with_fresh_daemon("docker-archive:" + dir.path() + "/docker.tar");

  CHECK(layout.scan["manifest_digest"] == from_registry.scan["manifest_digest"]);
  CHECK(archive.scan["manifest_digest"] == from_registry.scan["manifest_digest"]);
  CHECK(layout.scan["image"] == "oci:" + dir.path() + "/layout:v1");
  for (auto* other : {&layout, &archive, &docker}) {
    CAPTURE(other->scan["image"]);
    CHECK(without_provenance(other->report) == without_provenance(from_registry.report));
    REQUIRE(other->layers.size() == from_registry.layers.size());
    for (std::size_t i = 0; i < other->layers.size(); ++i)
      CHECK(without_provenance(other->layers[i]) == without_provenance(from_registry.layers[i]));
  }
  CHECK(from_registry.report["score"] == docker.report["score"]);
  CHECK(docker.layers[0]["compression"] == "none");

  // A daemon by default refuses local sources: callers must not read the server's files.
  Daemon strict;
  auto r = strict.api().call("POST", "/v1/scans",
                             json{{"image", "oci:" + dir.path() + "/layout:v1"}}.dump());
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(json::parse(r->body)["error"]["message"].get<std::string>().find("local image sources") !=
        std::string::npos);
}
