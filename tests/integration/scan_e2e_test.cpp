// End to end through the real binary and Debian's docker-registry on loopback: images the test
// builds are pushed, scanned over the REST API, and the stored layers checked.
#include "daemon.h"
#include "fault_server.h"
#include "notify/webhooks.h"
#include "registry.h"
#include "tar_builder.h"
#include "test_proxy.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <set>
#include <thread>

using namespace bw::test;
using nlohmann::json;

namespace {

std::string base_tar() {
  return TarBuilder()
      .dir("etc")
      .file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12\"\n")
      .file("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
      .dir("bin")
      .file("bin/sh", std::string(4096, 'S'), 0755)
      .file("usr/bin/passwd", std::string(2048, 'P'), 04755)
      .file("usr/share/doc/readme", "not notable")
      .dir("tmp", 01777)
      .build();
}

json find_file(const json& files, const std::string& path) {
  for (auto& f : files)
    if (f["path"] == path) return f;
  return json();
}

std::string blob_path(const LocalRegistry& reg, const std::string& digest) {
  std::string hex = digest.substr(7);
  return reg.storage() + "/docker/registry/v2/blobs/sha256/" + hex.substr(0, 2) + "/" + hex +
         "/data";
}

}  // namespace

TEST_CASE("a scan stores per-layer facts and never refetches a stored layer") {
  LocalRegistry reg;
  Daemon d;
  std::string base = base_tar();
  TestLayer base_layer = make_layer(base, LayerCompression::gzip);
  TestLayer app1 =
      make_layer(TarBuilder().file("app/server", std::string(10000, 'x'), 0755).build());
  TestLayer app2 =
      make_layer(TarBuilder().file("app/worker", "w", 0755).file("app/.env", "X=1").build(),
                 LayerCompression::zstd);
  TestImage img1{{base_layer, app1}};
  img1.config = {{"User", "1000"}};
  TestImage img2{{base_layer, app2}};
  auto p1 = push_image(reg.host(), "team/app", "1.0", img1);
  auto p2 = push_image(reg.host(), "team/worker", "1.0", img2);

  json s1 = d.scan(reg.host() + "/team/app:1.0");
  REQUIRE(s1["status"] == "done");
  CHECK(s1["manifest_digest"] == p1.manifest_digest);
  CHECK(s1["image"] == reg.host() + "/team/app:1.0");
  CHECK(s1["platform"] == "linux/amd64");
  REQUIRE(s1["progress"]["layers"].size() == 2);
  CHECK(s1["progress"]["layers"][0]["bytes_done"] == base_layer.blob.size());

  json image = d.get_json("/v1/images/" + p1.manifest_digest);
  CHECK(image["config_digest"] == p1.config_digest);
  CHECK(image["user"] == "1000");
  REQUIRE(image["layers"].size() == 2);
  CHECK(image["layers"][0]["digest"] == base_layer.digest());
  CHECK(image["layers"][0]["diff_id"] == base_layer.diff_id);
  CHECK(image["layers"][1]["digest"] == app1.digest());
  json passwd = find_file(image["files"], "usr/bin/passwd");
  REQUIRE(passwd.is_object());
  CHECK(passwd["mode"] == 04755);
  CHECK(passwd["layer_digest"] == base_layer.digest());
  CHECK(find_file(image["files"], "usr/share/doc/readme").is_null());

  json layer = d.get_json("/v1/layers/" + base_layer.digest());
  CHECK(layer["compression"] == "gzip");
  CHECK(layer["compressed_size"] == base_layer.blob.size());
  CHECK(layer["uncompressed_size"] == base.size());
  CHECK(layer["diff_id"] == base_layer.diff_id);
  CHECK(layer["entry_count"] == 8);
  CHECK(layer["status"] == "complete");
  CHECK(find_file(layer["files"], "bin/sh")["mode"] == 0755);
  CHECK(
      find_file(layer["files"], "tmp").is_null());  // sticky: not world-writable in the risky sense

  CHECK(reg.blob_gets(base_layer.digest()) == 1);
  CHECK(d.metric("bulwark_layers_analyzed_total") == 2);

  // A second image on the same base fetches only its own layer.
  json s2 = d.scan(reg.host() + "/team/worker:1.0");
  REQUIRE(s2["status"] == "done");
  CHECK(reg.blob_gets(base_layer.digest()) == 1);
  CHECK(reg.blob_gets(app2.digest()) == 1);
  CHECK(d.metric("bulwark_layer_cache_hits_total") == 1);
  CHECK(d.metric("bulwark_layers_analyzed_total") == 3);
  CHECK(d.get_json("/v1/layers/" + app2.digest())["compression"] == "zstd");
  CHECK(s2["progress"]["layers"][0]["state"] == "cached");

  // Scanning the first image again costs its manifest only: no layer, not even the config, and
  // the verdict is the stored report's.
  int config_gets = reg.blob_gets(p1.config_digest);
  json first = d.get_json("/v1/scans/" + s1["id"].get<std::string>());
  json again = d.scan(reg.host() + "/team/app:1.0");
  CHECK(again["status"] == "done");
  CHECK(reg.blob_gets(base_layer.digest()) == 1);
  CHECK(reg.blob_gets(app1.digest()) == 1);
  CHECK(reg.blob_gets(p1.config_digest) == config_gets);
  CHECK(d.metric("bulwark_layers_analyzed_total") == 3);
  CHECK(d.metric("bulwark_known_rescans_total") == 1);
  CHECK(again["score"] == first["score"]);
  CHECK(again["manifest_digest"] == first["manifest_digest"]);
  CHECK(again["progress"]["layers"][0]["state"] == "cached");

  // The list shows all three, newest first.
  json list = d.get_json("/v1/scans");
  REQUIRE(list["scans"].size() == 3);
  CHECK(list["scans"][0]["id"] == again["id"]);
  CHECK(d.stop() == 0);
}

TEST_CASE("a known image rescanned by digest; a damaged stored report is built again") {
  LocalRegistry reg;
  Daemon d;
  TestLayer layer = make_layer(TarBuilder().file("app/run", std::string(500, 'r'), 0755).build());
  TestImage img{{layer}};
  img.config = {{"User", "1000"}};
  auto pushed = push_image(reg.host(), "team/known", "1", img);
  REQUIRE(d.scan(reg.host() + "/team/known:1")["status"] == "done");
  json first = d.get_json("/v1/images/" + pushed.manifest_digest + "/report");
  // By digest: known, nothing fetched again, no tag touched.
  json by_digest = d.scan(reg.host() + "/team/known@" + pushed.manifest_digest);
  REQUIRE(by_digest["status"] == "done");
  CHECK(by_digest["progress"]["layers"][0]["state"] == "cached");
  CHECK(reg.blob_gets(layer.digest()) == 1);
  // The stored report damaged: the next scan builds it again from the stored facts.
  std::string out;
  REQUIRE(run_command({"sqlite3", "-cmd", ".timeout 10000", d.data_dir() + "/bulwark.db",
                       "UPDATE reports SET report = '{not json'"},
                      out) == 0);
  json again = d.scan(reg.host() + "/team/known:1");
  REQUIRE(again["status"] == "done");
  CHECK(reg.blob_gets(layer.digest()) == 1);  // the layer's facts were stored: no fetch
  json rebuilt = d.get_json("/v1/images/" + pushed.manifest_digest + "/report");
  CHECK(rebuilt["score"] == first["score"]);
  CHECK(rebuilt["findings"].size() == first["findings"].size());
}

TEST_CASE("a scan stored before results were kept is judged from its report, alone and listed") {
  LocalRegistry reg;
  TempDir data;
  TestImage img{{make_layer(TarBuilder().file("app/run", std::string(500, 'r'), 0755).build())}};
  img.config = {{"User", "1000"}};
  push_image(reg.host(), "team/old", "1", img);
  json scanned;
  {
    Daemon d(json::object(), data.path());
    scanned = d.scan(reg.host() + "/team/old:1");
    REQUIRE(scanned["status"] == "done");
    REQUIRE(scanned.contains("score"));
    CHECK(d.stop() == 0);
  }
  // As a store from before results were kept has it; a new process knows the scan only from
  // there.
  std::string out;
  REQUIRE(run_command({"sqlite3", "-cmd", ".timeout 10000", data.path() + "/bulwark.db",
                       "UPDATE scans SET result = NULL"},
                      out) == 0);
  Daemon d(json::object(), data.path());
  const std::string id = scanned["id"];
  json alone = d.get_json("/v1/scans/" + id);
  CHECK(alone["status"] == "done");
  CHECK(alone["score"] == scanned["score"]);
  CHECK(alone["grade"] == scanned["grade"]);
  CHECK(alone["verdict"] == scanned["verdict"]);
  CHECK(alone["report"] == scanned["report"]);
  CHECK(d.get_json("/v1/scans/" + id + "?wait=5")["score"] == scanned["score"]);
  json listed = d.get_json("/v1/scans?limit=10")["scans"];
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["id"] == id);
  CHECK(listed[0]["score"] == scanned["score"]);
  CHECK(listed[0]["verdict"] == scanned["verdict"]);
}

TEST_CASE("Docker media types, uncompressed layers and platform choice from a manifest list") {
  LocalRegistry reg;
  Daemon d(json{{"scans", {{"max_concurrent", 1}}}});  // "all" must not hold the only slot
  std::string tar_amd = TarBuilder().file("amd", "a").build();
  std::string tar_arm = TarBuilder().file("arm", "b").build();
  TestImage amd{{make_layer(tar_amd, LayerCompression::gzip, true)}};
  amd.docker_media_types = true;
  TestImage arm{{make_layer(tar_arm, LayerCompression::gzip, true)}};
  arm.docker_media_types = true;
  arm.architecture = "arm64";
  arm.variant = "v8";
  auto pa = push_image(reg.host(), "multi/app", "", amd);
  auto pr = push_image(reg.host(), "multi/app", "", arm);
  std::string list_digest =
      push_index(reg.host(), "multi/app", "latest", {{pa, amd}, {pr, arm}}, true);

  json s = d.scan(reg.host() + "/multi/app");
  REQUIRE(s["status"] == "done");
  CHECK(s["manifest_digest"] == pa.manifest_digest);
  CHECK(s["index_digest"] == list_digest);

  json sa = d.scan(reg.host() + "/multi/app:latest", "linux/arm64");
  REQUIRE(sa["status"] == "done");
  CHECK(sa["manifest_digest"] == pr.manifest_digest);
  CHECK(d.get_json("/v1/images/" + pr.manifest_digest)["platform"] == "linux/arm64/v8");

  // platform "all": one child scan per platform of the list.
  json all = d.scan(reg.host() + "/multi/app:latest", "all");
  REQUIRE(all["status"] == "done");
  CHECK(all["platform"] == "all");
  CHECK(all["index_digest"] == list_digest);
  REQUIRE(all["progress"]["children"].size() == 2);
  std::set<std::string> digests;
  for (auto& id : all["progress"]["children"]) {
    json child = d.get_json("/v1/scans/" + id.get<std::string>());
    CHECK(child["status"] == "done");
    digests.insert(child["manifest_digest"]);
  }
  CHECK(digests == std::set<std::string>{pa.manifest_digest, pr.manifest_digest});

  // A gate on every platform: the verdict is the worst of its children's, given once when the
  // scan ends and stored with it (a later suppression change re-scores reports, not verdicts).
  auto posted = d.api().call(
      "POST", "/v1/scans",
      json{{"image", reg.host() + "/multi/app:latest"}, {"platform", "all"}, {"fail_under", 99}}
          .dump());
  REQUIRE(posted);
  std::string gate_id = json::parse(posted->body)["id"];
  json gate;
  for (int i = 0; i < 30; ++i) {
    gate = d.get_json("/v1/scans/" + gate_id + "?wait=10");
    if (gate["status"] == "done" || gate["status"] == "failed") break;
  }
  REQUIRE(gate["status"] == "done");
  CHECK(gate["verdict"] == "fail");
  REQUIRE(gate["reasons"].size() == 2);
  CHECK(gate["reasons"][0].get<std::string>().find("is under 99") != std::string::npos);
  CHECK(gate["score"].is_number());
  for (auto& id : gate["progress"]["children"])
    CHECK(d.get_json("/v1/scans/" + id.get<std::string>())["verdict"] == "fail");
  auto put = d.api().call("PUT", "/v1/suppressions",
                          json{{"suppressions", {{{"rule_id", "BW-USER-ROOT"}}}}}.dump());
  REQUIRE(put);
  CHECK(put->status == 200);
  CHECK(d.get_json("/v1/scans/" + gate_id)["reasons"] == gate["reasons"]);

  json none = d.scan(reg.host() + "/multi/app:latest", "linux/s390x");
  CHECK(none["status"] == "failed");
  CHECK(none["error"]["code"] == "platform_not_found");
  CHECK(none["error"]["message"].get<std::string>().find("linux/arm64/v8") != std::string::npos);

  // An OCI image whose only layer is a plain tar.
  std::string plain = TarBuilder().file("data/x", "x").build();
  TestLayer pl = make_layer(plain, LayerCompression::none);
  push_image(reg.host(), "plain/app", "1", TestImage{{pl}});
  json sp = d.scan(reg.host() + "/plain/app:1");
  REQUIRE(sp["status"] == "done");
  json layer = d.get_json("/v1/layers/" + pl.digest());
  CHECK(layer["compression"] == "none");
  CHECK(layer["diff_id"] == pl.diff_id);
}

TEST_CASE(
    "registry faults end the scan failed with the contract's error code; the daemon lives on") {
  LocalRegistry reg;
  Daemon d;
  TestLayer l = make_layer(TarBuilder().file("etc/hostname", "box").build());
  push_image(reg.host(), "faulty/app", "1", TestImage{{l}});

  json unknown = d.scan(reg.host() + "/faulty/app:nope");
  CHECK(unknown["status"] == "failed");
  CHECK(unknown["error"]["code"] == "manifest_unknown");

  // Flip the stored blob's bytes: the registry serves them under the old digest.
  std::string path = blob_path(reg, l.digest());
  std::string bytes = read_file(path);
  REQUIRE(!bytes.empty());
  bytes[bytes.size() / 2] ^= 0x55;
  write_file(path, bytes);
  json bad = d.scan(reg.host() + "/faulty/app:1");
  CHECK(bad["status"] == "failed");
  CHECK(bad["error"]["code"] == "digest_mismatch");
  auto missing = d.api().call("GET", "/v1/layers/" + l.digest());
  REQUIRE(missing);
  CHECK(missing->status == 404);  // nothing derived from unverified bytes was stored

  reg.stop();
  json down = d.scan(reg.host() + "/faulty/app:1");
  CHECK(down["status"] == "failed");
  CHECK(down["error"]["code"] == "registry_unreachable");

  auto bad_json = d.api().call("POST", "/v1/scans", "{\"image\": ");
  REQUIRE(bad_json);
  CHECK(bad_json->status == 400);
  CHECK(json::parse(bad_json->body)["error"]["code"] == "bad_request");
  CHECK(!bad_json->header("X-Request-Id").empty());
  auto bad_ref = d.api().call("POST", "/v1/scans", R"({"image": "bad//name"})");
  REQUIRE(bad_ref);
  CHECK(bad_ref->status == 400);
  CHECK(json::parse(bad_ref->body)["error"]["code"] == "bad_reference");
  auto not_allowed =
      d.api().call("POST", "/v1/scans", R"({"image": "registry.internal.example:5000/x"})");
  REQUIRE(not_allowed);
  CHECK(not_allowed->status == 403);
  CHECK(json::parse(not_allowed->body)["error"]["code"] == "registry_not_allowed");

  CHECK(d.get_json("/healthz")["status"] == "ok");
  CHECK(d.metric("bulwark_scans_finished_total{outcome=\"failed\"}") == 3);
}

TEST_CASE("a decompression bomb stops at the configured limit and is recorded, not fatal") {
  LocalRegistry reg;
  Daemon d(json{{"limits", {{"max_uncompressed_bytes", 8 << 20}}}});
  std::string bomb = gzip_bomb(64ull << 20);
  TestLayer l{bomb, "application/vnd.oci.image.layer.v1.tar+gzip",
              "sha256:" + std::string(64, '0')};
  push_image(reg.host(), "bomb/app", "1", TestImage{{l}});
  json s = d.scan(reg.host() + "/bomb/app:1");
  REQUIRE(s["status"] == "done");
  json layer = d.get_json("/v1/layers/" + l.digest());
  CHECK(layer["status"] == "limit_exceeded");
  CHECK(layer["status_reason"].get<std::string>().find("max_uncompressed_bytes") !=
        std::string::npos);
  CHECK(layer["compressed_size"] == bomb.size());
  CHECK(layer["uncompressed_size"].get<std::uint64_t>() <= (8u << 20) + (1u << 20));
  CHECK(d.get_json("/healthz")["status"] == "ok");
}

TEST_CASE("an image copied by skopeo from an OCI layout the test writes") {
  LocalRegistry reg;
  Daemon d;
  TempDir dir;
  std::string layout = dir.path() + "/layout";
  std::string tar = TarBuilder().file("srv/app", "binary", 0755).build();
  TestLayer l = make_layer(tar);
  json config = {{"architecture", "amd64"},
                 {"os", "linux"},
                 {"config", {{"User", "65532:65532"}}},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", {l.diff_id}}}}};
  std::string cfg = config.dump();
  json manifest = {
      {"schemaVersion", 2},
      {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
      {"config",
       {{"mediaType", "application/vnd.oci.image.config.v1+json"},
        {"digest", sha256(cfg)},
        {"size", cfg.size()}}},
      {"layers", {{{"mediaType", l.media_type}, {"digest", l.digest()}, {"size", l.blob.size()}}}}};
  std::string man = manifest.dump();
  auto blob = [&](const std::string& data) {
    write_file(layout + "/blobs/sha256/" + sha256(data).substr(7), data);
  };
  blob(cfg);
  blob(l.blob);
  blob(man);
  write_file(layout + "/oci-layout", R"({"imageLayoutVersion": "1.0.0"})");
  json index = {{"schemaVersion", 2},
                {"manifests",
                 {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                   {"digest", sha256(man)},
                   {"size", man.size()},
                   {"annotations", {{"org.opencontainers.image.ref.name", "v1"}}}}}}};
  write_file(layout + "/index.json", index.dump());
  std::string out;
  int rc = run_command({"skopeo", "copy", "--insecure-policy", "--dest-tls-verify=false",
                        "oci:" + layout + ":v1", "docker://" + reg.host() + "/skopeo/app:v1"},
                       out);
  INFO(out);
  REQUIRE(rc == 0);
  json s = d.scan(reg.host() + "/skopeo/app:v1");
  REQUIRE(s["status"] == "done");
  json image = d.get_json("/v1/images/" + s["manifest_digest"].get<std::string>());
  CHECK(image["user"] == "65532:65532");
  CHECK(image["layers"][0]["diff_id"] == l.diff_id);
}

TEST_CASE("a restart applies no migration again and keeps scans") {
  LocalRegistry reg;
  TempDir data;
  TestLayer l = make_layer(TarBuilder().file("a", "a").build());
  push_image(reg.host(), "keep/app", "1", TestImage{{l}});
  std::string id;
  int version = 0;
  {
    Daemon d(json::object(), data.path());
    version = d.get_json("/readyz")["schema_version"];
    id = d.scan(reg.host() + "/keep/app:1")["id"];
    CHECK(d.log().find("applied migration 001_initial.sql") != std::string::npos);
    CHECK(d.stop() == 0);
  }
  Daemon d(json::object(), data.path());
  CHECK(d.get_json("/readyz")["schema_version"] == version);
  CHECK(d.get_json("/v1/scans/" + id)["status"] == "done");
  CHECK(d.log().find("migration") == std::string::npos);
}

TEST_CASE("the API refuses oversized and malformed requests with JSON errors and stays up") {
  Daemon d(json{{"api", {{"max_body_bytes", 4096}}}});
  auto big = d.api().call("POST", "/v1/scans", "{\"image\": \"" + std::string(10000, 'a') + "\"}");
  REQUIRE(big);
  CHECK(big->status == 413);
  CHECK(json::parse(big->body)["error"]["code"] == "payload_too_large");
  auto deep = d.api().call("POST", "/v1/scans", std::string(2000, '[') + std::string(2000, ']'));
  REQUIRE(deep);
  CHECK(deep->status == 400);
  auto notutf8 = d.api().call("POST", "/v1/scans", "{\"image\": \"\xff\xfe\"}");
  REQUIRE(notutf8);
  CHECK(notutf8->status == 400);
  // Raw garbage on the socket: an HTTP error, then the daemon answers the next caller.
  std::string out;
  std::string host = d.api().server().substr(7);
  auto colon = host.rfind(':');
  CHECK(run_command(
            {"bash", "-c",
             "printf 'NOT HTTP AT ALL\\r\\n\\r\\n' | timeout 5 bash -c 'exec 3<>/dev/tcp/" +
                 host.substr(0, colon) + "/" + host.substr(colon + 1) + "; cat >&3; cat <&3'"},
            out) == 0);
  CHECK(out.find("400") != std::string::npos);
  // Headers past api.max_header_bytes: 400 with its reason; an X-Request-Id that is not a plain
  // token is replaced, not echoed.
  auto raw = [&](const std::string& request) {
    write_file(d.data_dir() + "/request", request);
    CHECK(run_command({"bash", "-c",
                       "timeout 5 bash -c 'exec 3<>/dev/tcp/" + host.substr(0, colon) + "/" +
                           host.substr(colon + 1) + "; cat \"$0\" >&3; cat <&3' \"$0\"",
                       d.data_dir() + "/request"},
                      out) == 0);
    return out;
  };
  std::string huge =
      raw("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(100 * 1024, 'p') +
          "\r\nConnection: close\r\n\r\n");
  CHECK(huge.find("HTTP/1.1 400") != std::string::npos);
  CHECK(huge.find("request headers too large") != std::string::npos);
  std::string odd = raw(
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: <script>\r\nConnection: close\r\n\r\n");
  CHECK(odd.find("HTTP/1.1 200") != std::string::npos);
  CHECK(odd.find("<script>") == std::string::npos);
  // HEAD through the server: GET's length, no body.
  std::string head = raw("HEAD /v1/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(head.find("HTTP/1.1 200") != std::string::npos);
  CHECK(head.find("Content-Length: ") != std::string::npos);
  CHECK(head.find("{") == std::string::npos);
  CHECK(d.get_json("/healthz")["status"] == "ok");
}

TEST_CASE("a schedule rescans a whole registry from its catalog") {
  LocalRegistry reg;
  TestLayer l = make_layer(TarBuilder().file("etc/hostname", "h").build());
  for (auto repo : {"fleet/a", "fleet/b"})
    for (auto tag : {"1", "2"}) push_image(reg.host(), repo, tag, TestImage{{l}});
  Daemon d(json{{"schedules", {{{"registry", reg.host()}, {"interval_minutes", 60}}}}});
  json done;
  for (int i = 0; i < 400; ++i) {
    done = d.get_json("/v1/scans?status=done");
    if (done["scans"].size() == 4) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(done["scans"].size() == 4);
  std::set<std::string> images;
  for (auto& s : done["scans"]) images.insert(s["image"]);
  CHECK(images.count(reg.host() + "/fleet/b:2"));
  CHECK(reg.blob_gets(l.digest()) == 1);  // the shared layer once, for four images
  json st = d.get_json("/v1/schedules");
  CHECK(st["schedules"][0]["scans_queued"] == 4);
  CHECK(st["schedules"][0]["errors"].empty());
}

TEST_CASE(
    "a second pass over a registry: unchanged tags cost one HEAD and no scan, moved ones are "
    "scanned") {
  LocalRegistry reg;
  TestLayer shared = make_layer(TarBuilder().file("etc/hostname", "h").build());
  TestImage single{{shared}};
  PushedImage amd = push_image(reg.host(), "pass/multi", "", single);
  TestImage arm{{shared}};
  arm.architecture = "arm64";
  PushedImage armd = push_image(reg.host(), "pass/multi", "", arm);
  push_index(reg.host(), "pass/multi", "1", {{amd, single}, {armd, arm}}, false);
  push_image(reg.host(), "pass/a", "1", single);
  push_image(reg.host(), "pass/a", "2", single);
  push_image(reg.host(), "pass/b", "1", single);
  const json config = {{"schedules", {{{"registry", reg.host()}, {"interval_minutes", 600}}}},
                       {"scans", {{"keep_per_image", 1}}}};
  auto pass_over = [&](Daemon& d, int scans_done) {
    json st;
    bool ran = eventually(
        [&] {
          st = d.get_json("/v1/schedules")["schedules"];
          return st.size() == 1 && st[0].contains("unchanged") &&
                 d.get_json("/v1/scans?status=done")["scans"].size() ==
                     static_cast<std::size_t>(scans_done) &&
                 d.get_json("/v1/scans?status=queued")["scans"].empty() &&
                 d.get_json("/v1/scans?status=running")["scans"].empty();
        },
        std::chrono::seconds(60));
    REQUIRE_MESSAGE(ran, st.dump() << "\n" << d.log());
    return st[0];
  };
  TempDir data;
  {
    Daemon first(config, data.path());
    json st = pass_over(first, 4);
    CHECK(st["scans_queued"] == 4);
    CHECK(st["unchanged"] == 0);
    CHECK(first.stop() == 0);
  }
  // pass/b:1 moves to another image; every other tag names what it named.
  TestImage moved{{shared, make_layer(TarBuilder().file("app/new", "n").build())}};
  PushedImage b2 = push_image(reg.host(), "pass/b", "1", moved);
  const int gets_before = reg.requests("GET", "/v2/pass/", "/manifests/");
  const int heads_before = reg.requests("HEAD", "/v2/pass/", "/manifests/");
  Daemon second(config, data.path());
  json st = pass_over(second, 4);  // retention keeps pass/b:1's newest scan only
  CHECK(st["scans_queued"] == 1);
  CHECK(st["unchanged"] == 3);  // the index tag too: its HEAD names the index it named
  CHECK(st["errors"].empty());
  CHECK(second.metric("bulwark_unchanged_tags_total") == 3);
  // One HEAD per tag; a GET only for the tag that moved.
  CHECK(reg.requests("HEAD", "/v2/pass/", "/manifests/") - heads_before == 4);
  CHECK(reg.requests("GET", "/v2/pass/", "/manifests/") - gets_before == 1);
  // Retention holds: one finished scan per reference, the moved tag's newest.
  json done = second.get_json("/v1/scans?status=done&limit=100")["scans"];
  std::map<std::string, int> per_image;
  for (auto& s : done) ++per_image[s["image"].get<std::string>()];
  for (auto& entry : per_image) CHECK_MESSAGE(entry.second == 1, entry.first);
  json b = second.get_json("/v1/scans?status=done&image=" + reg.host() + "/pass/b:1")["scans"];
  REQUIRE(b.size() == 1);
  CHECK(b[0]["manifest_digest"] == b2.manifest_digest);
  // Unchanged tags still count in today's trends: every reference, seen today.
  json today = second.get_json("/v1/trends?days=1")["days"][0];
  CHECK(today["images"] == 4);
  CHECK(today["scans"] == 8);  // four scans, then one scan and three tags seen unchanged
}

TEST_CASE("schedules of named repositories and tags, and of the newest tags only") {
  LocalRegistry reg;
  TestLayer l = make_layer(TarBuilder().file("etc/hostname", "h").build());
  for (auto repo : {"fleet/a", "fleet/b"})
    for (auto tag : {"1", "2"}) push_image(reg.host(), repo, tag, TestImage{{l}});
  // The first names its tags; the second takes every tag ("*") up to one per repository (the
  // first in order), and skips an image the first already has queued or running.
  Daemon d(json{{"schedules",
                 {{{"registry", reg.host()},
                   {"interval_minutes", 60},
                   {"repositories", {"fleet/a"}},
                   {"tags", {"1", "2"}}},
                  {{"registry", reg.host()},
                   {"interval_minutes", 60},
                   {"repositories", {"fleet/a", "fleet/b"}},
                   {"tags", {"*"}},
                   {"max_tags_per_repository", 1}}}}});
  std::set<std::string> images;
  for (int i = 0; i < 400; ++i) {
    json done = d.get_json("/v1/scans?status=done");
    images.clear();
    for (auto& s : done["scans"]) images.insert(s["image"]);
    if (images.size() >= 3 && d.get_json("/v1/scans?status=running")["scans"].empty() &&
        d.get_json("/v1/scans?status=queued")["scans"].empty())
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(images == std::set<std::string>{reg.host() + "/fleet/a:1", reg.host() + "/fleet/a:2",
                                        reg.host() + "/fleet/b:1"});
  json st = d.get_json("/v1/schedules");
  REQUIRE(st["schedules"].size() == 2);
  CHECK(st["schedules"][0]["scans_queued"] == 2);
  CHECK(st["schedules"][1]["errors"].empty());
}

TEST_CASE("scan on push: a real registry's notifications queue a scan of the pushed digest") {
  // API auth on: the registry's notification endpoint carries a token with the scan scope in
  // its headers, as an operator configures notifications.endpoints.
  Daemon d(json{{"api",
                 {{"tokens", json::array({{{"name", "registry"},
                                           {"token_env", "PUSH_TOKEN"},
                                           {"scopes", json::array({"scan"})}},
                                          {{"name", "dashboard"},
                                           {"token_env", "READ_TOKEN"},
                                           {"scopes", json::array({"read"})}}})}}}},
           "", {"PUSH_TOKEN=push-t0ken-s3cret", "READ_TOKEN=read-t0ken-s3cret"});
  auto reader = bw::cli::ApiClient::create(d.api().server(), "read-t0ken-s3cret");
  REQUIRE(reader);
  RegistrySetup setup;
  setup.notify_url = d.api().server() + "/v1/registry-events";
  setup.notify_token = "push-t0ken-s3cret";
  LocalRegistry reg(setup);
  TestLayer l = make_layer(TarBuilder().file("etc/hostname", "pushed").build());
  PushedImage pushed = push_image(reg.host(), "push/app", "1.0", TestImage{{l}});
  // No schedule and no POST /v1/scans: the scan comes from the registry's notification.
  const std::string image = reg.host() + "/push/app:1.0@" + pushed.manifest_digest;
  json done;
  bool scanned = eventually(
      [&] {
        auto r = reader->call("GET", "/v1/scans?status=done");
        if (!r || r->status != 200) return false;
        done = json::parse(r->body);
        return done["scans"].size() == 1;
      },
      std::chrono::seconds(60));
  REQUIRE_MESSAGE(scanned, d.log() << "\n" << reg.log());
  CHECK(done["scans"][0]["image"] == image);
  CHECK(done["scans"][0]["manifest_digest"] == pushed.manifest_digest);
  // The tag is recorded as naming the pushed digest.
  auto tags = reader->call("GET", "/v1/repositories/" + reg.host() + "/push/app/tags");
  REQUIRE(tags);
  REQUIRE(tags->status == 200);
  json t = json::parse(tags->body);
  REQUIRE(t["tags"].size() == 1);
  CHECK(t["tags"][0]["tag"] == "1.0");
  CHECK(t["tags"][0]["manifest_digest"] == pushed.manifest_digest);
  CHECK(reg.blob_gets(l.digest()) == 1);
  // Only callers with the scan scope may send events.
  json envelope = {
      {"events", json::array({{{"action", "push"},
                               {"target",
                                {{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                 {"repository", "push/app"},
                                 {"tag", "1.0"},
                                 {"digest", pushed.manifest_digest},
                                 {"url", "http://" + reg.host() + "/v2/push/app/manifests/" +
                                             pushed.manifest_digest}}}}})}};
  auto anonymous = d.api().call("POST", "/v1/registry-events", envelope.dump());
  REQUIRE(anonymous);
  CHECK(anonymous->status == 401);
  auto read_only = reader->call("POST", "/v1/registry-events", envelope.dump());
  REQUIRE(read_only);
  CHECK(read_only->status == 403);
  // The same push told again by hand queues it again (a rescan, answered from the report).
  auto pusher = bw::cli::ApiClient::create(d.api().server(), "push-t0ken-s3cret");
  REQUIRE(pusher);
  auto again = pusher->call("POST", "/v1/registry-events", envelope.dump());
  REQUIRE(again);
  CHECK(again->status == 202);
  json answer = json::parse(again->body);
  REQUIRE(answer["queued"].size() + answer["skipped"].size() == 1);
  auto junk = pusher->call("POST", "/v1/registry-events", R"({"hello": "world"})");
  REQUIRE(junk);
  CHECK(junk->status == 400);
}

TEST_CASE("finished scans are posted to webhooks, signed with HMAC-SHA256") {
  LocalRegistry reg;
  FaultServer hook([](const SeenRequest&) { return Reply{204, {}, ""}; });
  push_image(reg.host(), "hooked/app", "1",
             TestImage{{make_layer(TarBuilder().file("etc/motd", "hi").build())}});
  Daemon d(json{{"webhooks",
                 {{{"url", "http://" + hook.host() + "/bulwark"}, {"secret_env", "HOOK_SECRET"}}}}},
           "", {"HOOK_SECRET=s3cret-hmac-key"});
  json s = d.scan(reg.host() + "/hooked/app:1");
  REQUIRE(s["status"] == "done");
  json failed = d.scan(reg.host() + "/hooked/app:missing");
  // Delivery is at least once: on a loaded machine an attempt whose answer came late is sent
  // again, so the receiver keys what it got by event, as a real one keys by delivery.
  std::map<std::string, json> by_event;
  for (int i = 0; i < 800 && by_event.size() < 2; ++i) {
    for (auto& r : hook.requests()) {
      CHECK(r.method == "POST");
      CHECK(r.target == "/bulwark");
      CHECK(r.header("x-bulwark-signature") == bw::webhook_signature("s3cret-hmac-key", r.body));
      json body = json::parse(r.body);
      by_event[body["event"]] = body;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  REQUIRE(by_event.size() == 2);
  REQUIRE(by_event.count("scan.done"));
  CHECK(by_event["scan.done"]["scan"]["id"] == s["id"]);
  CHECK(by_event["scan.done"]["scan"].contains("score"));
  REQUIRE(by_event.count("scan.failed"));
  CHECK(by_event["scan.failed"]["scan"]["error"]["code"] == "manifest_unknown");
  CHECK(d.log().find("s3cret-hmac-key") == std::string::npos);
  // Counted once the receiver's answer is read, which can be after the receiver has the body.
  CHECK(eventually(
      [&] { return d.metric("bulwark_webhook_notifications_total{outcome=\"delivered\"}") == 2; },
      std::chrono::seconds(30)));
  CHECK(d.metric("bulwark_webhook_notifications_total{outcome=\"failed\"}") == 0);
}

TEST_CASE("webhooks go through the proxy the environment names, as registry traffic does") {
  LocalRegistry reg;
  TestProxy proxy;
  FaultServer hook([](const SeenRequest&) { return Reply{204, {}, ""}; });
  push_image(reg.host(), "hooked/app", "1",
             TestImage{{make_layer(TarBuilder().file("etc/motd", "hi").build())}});
  // The registry is bypassed (NO_PROXY lists its port's host by name only for the registry);
  // the hook's host is named "localhost" so that only it goes through the proxy.
  std::string hook_url = "http://localhost:" + std::to_string(hook.port()) + "/bulwark";
  Daemon d(json{{"webhooks", {{{"url", hook_url}}}}}, "",
           {"http_proxy=" + proxy.url(), "NO_PROXY=127.0.0.1", "no_proxy=127.0.0.1"});
  REQUIRE(d.scan(reg.host() + "/hooked/app:1")["status"] == "done");
  for (int i = 0; i < 400 && hook.requests().empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  REQUIRE(hook.requests().size() == 1);
  auto seen = proxy.seen();
  CHECK(std::find(seen.begin(), seen.end(), "POST " + hook_url) != seen.end());
}

TEST_CASE("a foreign layer (Windows base, URLs elsewhere) is recorded as skipped, never fetched") {
  // A Docker image whose bottom layer is foreign: the registry does not hold it, its descriptor
  // points at other hosts. Bulwark must not follow those URLs (they are not an allowed
  // registry), and must say the layer went unanalysed rather than score it as empty.
  TestImage img{{make_layer(TarBuilder().file("app/server", std::string(100, 'x'), 0755).build())}};
  img.docker_media_types = true;
  img.config = {{"User", "1000"}};
  BuiltImage built = build_image(img);
  const std::string foreign_digest = "sha256:" + std::string(64, 'f');
  json config = json::parse(built.blobs[0]);
  config["rootfs"]["diff_ids"].insert(config["rootfs"]["diff_ids"].begin(),
                                      "sha256:" + std::string(64, 'e'));
  built.blobs[0] = config.dump();
  json manifest = json::parse(built.manifest);
  manifest["config"]["digest"] = sha256(built.blobs[0]);
  manifest["config"]["size"] = built.blobs[0].size();
  manifest["layers"].insert(
      manifest["layers"].begin(),
      json{{"mediaType", "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"},
           {"digest", foreign_digest},
           {"size", 1234567},
           {"urls", json::array({"https://mcr.example/blobs/base"})}});
  built.manifest = manifest.dump();
  FaultServer reg([&](const SeenRequest& req) { return serve_built_image(built, req); });
  Daemon d;
  json s = d.scan(reg.host() + "/win/app:1");
  REQUIRE(s["status"] == "done");
  REQUIRE(s["progress"]["layers"].size() == 2);
  CHECK(s["progress"]["layers"][0]["state"] == "skipped");
  CHECK(s["progress"]["layers"][1]["state"] == "analyzed");
  for (auto& r : reg.requests()) CHECK(r.target.find(foreign_digest) == std::string::npos);
  std::string digest = s["manifest_digest"];
  json image = d.get_json("/v1/images/" + digest);
  CHECK(image["layers"][0]["status"] == "skipped");
  CHECK(image["layers"][1]["status"] == "complete");
  json report = d.get_json("/v1/images/" + digest + "/report");
  bool flagged = false;
  for (auto& f : report["findings"])
    if (f["rule_id"] == "BW-LAYER-UNANALYSED" && f["layer_digest"] == foreign_digest)
      flagged = true;
  CHECK(flagged);
  CHECK(d.metric("bulwark_layers_analyzed_total") == 1);
}
