// One image, four sources: the registry, and skopeo's copies of it as an OCI layout, an
// oci-archive and a docker-archive. Each is scanned by a fresh daemon and must give the same
// layer facts and report (docker-archive stores layers uncompressed, so its digests differ).
#include "daemon.h"
#include "provenance.h"
#include "registry.h"
#include "tar_builder.h"

#include <doctest/doctest.h>

#include <filesystem>
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

TEST_CASE("OCI layouts: platforms from a nested index; tampered, ambiguous or broken ones fail") {
  Daemon d(json{{"scans", {{"allow_local_sources", true}}}});
  TestImage amd({make_layer(TarBuilder().file("app/amd", std::string(100, 'a'), 0755).build())});
  amd.config = {{"User", "1000"}};
  TestImage arm({make_layer(TarBuilder().file("app/arm", std::string(100, 'r'), 0755).build())});
  arm.architecture = "arm64";
  arm.variant = "v8";
  arm.config = {{"User", "1000"}};
  BuiltImage amd_built = build_image(amd), arm_built = build_image(arm);
  std::string index = index_document({{amd_built, amd}, {arm_built, arm}}, false);
  TempDir dir;
  const std::string multi = dir.path() + "/multi";
  write_oci_layout(multi, {amd_built, arm_built}, index, "application/vnd.oci.image.index.v1+json",
                   {"v1"});

  // The platform asked for, through the nested index; and every platform with "all".
  json s = d.scan("oci:" + multi + ":v1", "linux/arm64/v8");
  REQUIRE(s["status"] == "done");
  CHECK(s["manifest_digest"] == sha256(arm_built.manifest));
  CHECK(s["index_digest"] == sha256(index));
  json all = d.scan("oci:" + multi + ":v1", "all");
  REQUIRE(all["status"] == "done");
  CHECK(all["progress"]["children"].size() == 2);
  // A tag the layout does not hold.
  json missing = d.scan("oci:" + multi + ":v2");
  CHECK(missing["status"] == "failed");
  CHECK(missing["error"]["code"] == "manifest_unknown");

  // Two images and no tag named: which one is meant is not guessed.
  const std::string two = dir.path() + "/two";
  write_oci_layout(two, {amd_built}, amd_built.manifest, amd_built.media_type, {"a", "b"});
  json ambiguous = d.scan("oci:" + two);
  CHECK(ambiguous["status"] == "failed");
  CHECK(ambiguous["error"]["code"] == "bad_reference");

  // A layer whose bytes were swapped for others of the same size (a layer not analysed before:
  // a stored one is never read again, whatever its file now holds).
  TestImage fresh({make_layer(TarBuilder().file("app/new", std::string(100, 'n'), 0755).build())});
  BuiltImage fresh_built = build_image(fresh);
  const std::string tampered = dir.path() + "/tampered";
  write_oci_layout(tampered, {fresh_built}, fresh_built.manifest, fresh_built.media_type, {"v1"});
  std::string layer_file = tampered + "/blobs/sha256/" + sha256(fresh.layers[0].blob).substr(7);
  std::string bytes = read_file(layer_file);
  bytes[bytes.size() / 2] ^= 0x55;
  write_file(layer_file, bytes);
  json bad_layer = d.scan("oci:" + tampered + ":v1");
  CHECK(bad_layer["status"] == "failed");
  CHECK(bad_layer["error"]["code"] == "digest_mismatch");

  // A config that does not hash to its descriptor.
  const std::string bad_config_dir = dir.path() + "/config";
  write_oci_layout(bad_config_dir, {amd_built}, amd_built.manifest, amd_built.media_type, {"v1"});
  write_file(bad_config_dir + "/blobs/sha256/" + sha256(amd_built.blobs[0]).substr(7),
             R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}})");
  json bad_config = d.scan("oci:" + bad_config_dir + ":v1");
  CHECK(bad_config["status"] == "failed");
  CHECK(bad_config["error"]["code"] == "digest_mismatch");

  // index.json that is not an index.
  const std::string broken = dir.path() + "/broken";
  write_oci_layout(broken, {amd_built}, amd_built.manifest, amd_built.media_type, {"v1"});
  write_file(broken + "/index.json", R"({"schemaVersion":2,"layers":"no"})");
  json not_index = d.scan("oci:" + broken + ":v1");
  CHECK(not_index["status"] == "failed");
  CHECK(not_index["error"]["code"] == "invalid_image");

  // A layout missing the layer's blob; an index.json past the document limit (8 MiB).
  const std::string partial = dir.path() + "/partial";
  write_oci_layout(partial, {fresh_built}, fresh_built.manifest, fresh_built.media_type, {"v1"});
  std::filesystem::remove(partial + "/blobs/sha256/" + sha256(fresh.layers[0].blob).substr(7));
  json no_blob = d.scan("oci:" + partial + ":v1");
  CHECK(no_blob["status"] == "failed");
  CHECK(no_blob["error"]["code"] == "not_found");
  write_file(broken + "/index.json", std::string(9 << 20, ' '));
  json huge = d.scan("oci:" + broken + ":v1");
  CHECK(huge["status"] == "failed");
  CHECK(huge["error"]["message"].get<std::string>().find("is larger than") != std::string::npos);

  // A single image asked for every platform: one child. A layer file longer than its
  // descriptor says; a manifest that does not hash to the digest index.json names.
  json one = d.scan("oci:" + dir.path() + "/two:a", "all");
  CHECK(one["status"] == "done");
  CHECK(one["progress"]["children"].size() == 1);
  const std::string longer = dir.path() + "/longer";
  TestImage other({make_layer(TarBuilder().file("app/other", "o").build())});
  BuiltImage other_built = build_image(other);
  write_oci_layout(longer, {other_built}, other_built.manifest, other_built.media_type, {"v1"});
  std::string other_file = longer + "/blobs/sha256/" + sha256(other.layers[0].blob).substr(7);
  write_file(other_file, read_file(other_file) + "trailing");
  json too_long = d.scan("oci:" + longer + ":v1");
  CHECK(too_long["status"] == "failed");
  CHECK(too_long["error"]["code"] == "digest_mismatch");
  write_file(longer + "/blobs/sha256/" + sha256(other_built.manifest).substr(7),
             other_built.manifest + " ");
  json bad_manifest = d.scan("oci:" + longer + ":v1");
  CHECK(bad_manifest["status"] == "failed");
  CHECK(bad_manifest["error"]["message"].get<std::string>().find("manifest does not hash") !=
        std::string::npos);

  // docker save archives whose manifest.json is not one.
  write_file(dir.path() + "/not-list.tar",
             TarBuilder().file("manifest.json", R"({"Config":"x"})").build());
  write_file(dir.path() + "/no-layers.tar",
             TarBuilder().file("manifest.json", R"([{"Config":"c.json"}])").build());
  for (auto [file, why] : {std::pair{"not-list.tar", "is not a docker save manifest"},
                           std::pair{"no-layers.tar", "lacks Config or Layers"}}) {
    json bad = d.scan("docker-archive:" + dir.path() + "/" + file);
    CHECK(bad["status"] == "failed");
    CHECK(bad["error"]["code"] == "invalid_image");
    CHECK(bad["error"]["message"].get<std::string>().find(why) != std::string::npos);
  }

  // Archives: none there, and one that is not a tar.
  json none = d.scan("oci-archive:" + dir.path() + "/none.tar");
  CHECK(none["status"] == "failed");
  CHECK(none["error"]["code"] == "not_found");
  write_file(dir.path() + "/junk.tar", std::string(10000, '\x17'));
  for (auto kind : {"oci-archive:", "docker-archive:"}) {
    json junk = d.scan(kind + dir.path() + "/junk.tar");
    CHECK(junk["status"] == "failed");
    CHECK(junk["error"]["code"] != "internal");
  }
  CHECK(d.get_json("/healthz")["status"] == "ok");
}
