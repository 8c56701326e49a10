#include "registry/manifest.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using namespace bw;
using nlohmann::json;

namespace {
std::string d(char c) {
  return "sha256:" + std::string(64, c);
}

json entry(char c, const char* os, const char* arch, const char* variant = nullptr) {
  json p = {{"os", os}, {"architecture", arch}};
  if (variant) p["variant"] = variant;
  return {{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
          {"digest", d(c)},
          {"size", 100},
          {"platform", p}};
}
}  // namespace

TEST_CASE("platform strings parse and normalise") {
  auto p = parse_platform("linux/arm64/v8");
  REQUIRE(p);
  CHECK(p->str() == "linux/arm64/v8");
  CHECK(parse_platform("linux/x86_64")->architecture == "amd64");
  CHECK(parse_platform("linux/aarch64")->architecture == "arm64");
  for (auto bad : {"linux", "linux/", "/amd64", "a/b/c/d", "linux/amd 64"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_platform(bad));
  }
}

TEST_CASE("platform matching: arm64 v8 equals no variant; a wanted variant must match") {
  Platform arm64{"linux", "arm64", ""}, arm64v8{"linux", "arm64", "v8"},
      armv7{"linux", "arm", "v7"};
  CHECK(platform_matches(arm64, arm64v8));
  CHECK(platform_matches(arm64v8, arm64));
  CHECK(platform_matches(Platform{"linux", "arm", ""}, armv7));
  CHECK_FALSE(platform_matches(Platform{"linux", "arm", "v6"}, armv7));
  CHECK_FALSE(platform_matches(Platform{"windows", "amd64", ""}, Platform{"linux", "amd64", ""}));
}

TEST_CASE("an OCI image manifest parses") {
  json m = {{"schemaVersion", 2},
            {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
            {"config",
             {{"mediaType", "application/vnd.oci.image.config.v1+json"},
              {"digest", d('c')},
              {"size", 10}}},
            {"layers",
             {{{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"},
               {"digest", d('1')},
               {"size", 20}}}},
            {"annotations", {{"org.opencontainers.image.base.name", "debian:12"}}}};
  auto r = parse_manifest(m.dump(), "application/vnd.oci.image.manifest.v1+json");
  REQUIRE(r);
  CHECK(r->kind == ManifestKind::image);
  CHECK(r->config.digest == d('c'));
  REQUIRE(r->layers.size() == 1);
  CHECK(r->layers[0].size == 20);
  CHECK(r->annotations.at("org.opencontainers.image.base.name") == "debian:12");
}

TEST_CASE("media type from the body, the Content-Type, or the shape") {
  json m = {{"schemaVersion", 2}, {"manifests", json::array({entry('a', "linux", "amd64")})}};
  auto by_shape = parse_manifest(m.dump(), "application/json");
  REQUIRE(by_shape);
  CHECK(by_shape->media_type == media_type::kOciIndex);
  auto by_header =
      parse_manifest(m.dump(), "application/vnd.docker.distribution.manifest.list.v2+json");
  REQUIRE(by_header);
  CHECK(by_header->kind == ManifestKind::index);
  m["mediaType"] = "application/vnd.oci.image.index.v1+json";
  auto clash = parse_manifest(m.dump(), "application/vnd.docker.distribution.manifest.v2+json");
  REQUIRE_FALSE(clash);
  CHECK(clash.error().code == Errc::unsupported_media_type);
}

TEST_CASE("schema 1, unknown types and malformed JSON are refused clearly") {
  auto s1 = parse_manifest(R"({"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]})", "");
  REQUIRE_FALSE(s1);
  CHECK(s1.error().message.find("legacy") != std::string::npos);
  auto unknown = parse_manifest(R"({"schemaVersion":2,"mediaType":"application/x-thing"})", "");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().message.find("application/x-thing") != std::string::npos);
  CHECK_FALSE(parse_manifest("{not json", ""));
  CHECK_FALSE(parse_manifest("[]", ""));
  CHECK_FALSE(parse_manifest(
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:zz","size":1},"layers":[]})",
      ""));
  CHECK_FALSE(parse_manifest(
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":")" +
          d('a') + R"(","size":-1},"layers":[]})",
      ""));
}

TEST_CASE("index platform selection skips attestations and names what exists") {
  json att = entry('f', "unknown", "unknown");
  att["annotations"] = {{"vnd.docker.reference.type", "attestation-manifest"}};
  json idx = {{"schemaVersion", 2},
              {"mediaType", "application/vnd.oci.image.index.v1+json"},
              {"manifests",
               {att, entry('a', "linux", "amd64"), entry('b', "linux", "arm64", "v8"),
                entry('c', "linux", "arm", "v7")}}};
  auto m = parse_manifest(idx.dump(), "");
  REQUIRE(m);
  CHECK(select_platform(*m, default_platform())->digest == d('a'));
  CHECK(select_platform(*m, *parse_platform("linux/arm64"))->digest == d('b'));
  CHECK(select_platform(*m, *parse_platform("linux/arm/v7"))->digest == d('c'));
  CHECK(platform_entries(*m).size() == 3);
  auto miss = select_platform(*m, *parse_platform("linux/s390x"));
  REQUIRE_FALSE(miss);
  CHECK(miss.error().code == Errc::platform_not_found);
  CHECK(miss.error().message.find("linux/amd64, linux/arm64/v8, linux/arm/v7") !=
        std::string::npos);
}

TEST_CASE("image configs are validated field by field before anything reads them") {
  using nlohmann::json;
  auto err = [](const json& j) {
    auto r = validate_image_config(j);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::invalid_image);
    return r.error().message;
  };
  CHECK(validate_image_config(json::object()));
  CHECK(validate_image_config(json{{"config", nullptr}, {"history", nullptr}}));
  CHECK(validate_image_config(json{
      {"config", {{"User", "1"}, {"Cmd", nullptr}, {"Env", {"A=1"}}, {"Labels", {{"a", "b"}}}}},
      {"history", {{{"created_by", "x"}, {"empty_layer", true}}}},
      {"rootfs", {{"type", "layers"}, {"diff_ids", {"sha256:" + std::string(64, 'a')}}}}}));
  CHECK(err(json::array()).find("JSON object") != std::string::npos);
  CHECK(err(json{{"history", {{{"created_by", 5}}}}})
            .find("history[0].created_by must be a string") != std::string::npos);
  CHECK(err(json{{"history", {{{"created_by", "x"}}, {{"empty_layer", "no"}}}}})
            .find("history[1].empty_layer must be a boolean") != std::string::npos);
  CHECK(err(json{{"config", {{"User", 0}}}}).find("config.User must be a string") !=
        std::string::npos);
  CHECK(err(json{{"config", {{"Env", {"A=1", 2}}}}}).find("config.Env[1]") != std::string::npos);
  CHECK(err(json{{"config", {{"ExposedPorts", {"22/tcp"}}}}}).find("ExposedPorts") !=
        std::string::npos);
  CHECK(err(json{{"config", {{"Labels", {{"a", 1}}}}}}).find("Labels") != std::string::npos);
  CHECK(err(json{{"created", 1}}).find("created") != std::string::npos);
  CHECK(err(json{{"rootfs", {{"diff_ids", {"nope"}}}}}).find("diff_ids[0]") != std::string::npos);
  CHECK(err(json{{"config", "x"}}).find("config must be an object") != std::string::npos);
}

TEST_CASE("documents that name absurdly many layers or entries are refused") {
  json layer = {{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"},
                {"digest", "sha256:" + std::string(64, 'b')},
                {"size", 1}};
  json m = {{"schemaVersion", 2},
            {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
            {"config",
             {{"mediaType", "application/vnd.oci.image.config.v1+json"},
              {"digest", "sha256:" + std::string(64, 'a')},
              {"size", 2}}},
            {"layers", json::array()}};
  for (std::size_t i = 0; i < kMaxManifestLayers + 1; ++i) m["layers"].push_back(layer);
  auto r = parse_manifest(m.dump(), "");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::invalid_image);
  m["layers"].erase(m["layers"].begin());
  CHECK(parse_manifest(m.dump(), ""));
}

TEST_CASE("image configs: each field's wrong shape, named") {
  auto err = [](const json& j) {
    auto r = validate_image_config(j);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::invalid_image);
    return r.error().message;
  };
  struct Case {
    json config;
    const char* says;
  };
  std::vector<std::string> many(1001, "x");
  for (auto& c : std::vector<Case>{
           {{{"config", {{"Volumes", {"/data"}}}}}, "config.Volumes must be an object"},
           {{{"config", {{"Healthcheck", "CMD true"}}}}, "config.Healthcheck must be an object"},
           {{{"config", {{"Healthcheck", {{"Test", "CMD true"}}}}}},
            "config.Healthcheck.Test must be an array"},
           {{{"config", {{"Healthcheck", {{"Test", many}}}}}}, "has more than 1000 entries"},
           {{{"os.features", "sse4"}}, "os.features must be an array"},
           {{{"container_config", {{"Cmd", "sh"}}}}, "container_config.Cmd"},
           {{{"rootfs", "layers"}}, "rootfs must be an object"},
           {{{"rootfs", {{"type", 1}}}}, "rootfs.type must be a string"},
           {{{"rootfs", {{"diff_ids", "sha256:x"}}}}, "rootfs.diff_ids must be an array"},
           {{{"history", json::array({"x"})}}, "history[0] must be an object"},
           {{{"history", "x"}}, "history must be an array"},
           {{{"history", {{{"comment", 1}}}}}, "history[0].comment must be a string"}}) {
    CAPTURE(c.config.dump());
    CHECK(err(c.config).find(c.says) != std::string::npos);
  }
  // Healthcheck and history shapes that are fine.
  CHECK(validate_image_config(json{{"config", {{"Healthcheck", nullptr}}}}));
  CHECK(validate_image_config(json{{"config", {{"Healthcheck", {{"Interval", 1}}}}}}));
  CHECK(validate_image_config(json{{"history", {{{"empty_layer", nullptr}}}}}));
  CHECK(validate_image_config(json{{"rootfs", {{"type", "layers"}}}}));
  auto p = config_platform(R"({"os":"linux","architecture":"x86-64"})");
  REQUIRE(p);
  CHECK(p->architecture == "amd64");
  CHECK_FALSE(config_platform("[1]"));
}

TEST_CASE("manifests: schema versions, media types and shapes that are refused") {
  auto refused = [](const std::string& body, std::string_view ct = "") {
    auto r = parse_manifest(body, ct);
    REQUIRE_FALSE(r);
    return r.error().message;
  };
  const std::string cfg =
      R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" + d('a') +
      R"(","size":2})";
  CHECK(refused(R"({"schemaVersion":"2"})").find("schemaVersion must be 2") != std::string::npos);
  CHECK(refused(R"({"schemaVersion":3})").find("schemaVersion must be 2") != std::string::npos);
  CHECK(refused(R"({"schemaVersion":2,"layers":[]})").find("no config") != std::string::npos);
  CHECK(refused(R"({"schemaVersion":2,)" + cfg + "}").find("no layers array") != std::string::npos);
  CHECK(refused(R"({"schemaVersion":2,)" + cfg + R"(,"layers":{}})").find("no layers array") !=
        std::string::npos);
  CHECK(refused(R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"})")
            .find("no manifests array") != std::string::npos);
  CHECK(refused(R"({"schemaVersion":2,"manifests":[{"digest":"x"}]})").find("index entry") !=
        std::string::npos);
  CHECK(refused(R"({"schemaVersion":2})", "application/vnd.docker.distribution.manifest.v1+json")
            .find("schema 1") != std::string::npos);
  CHECK(refused(R"({"schemaVersion":2,)" + cfg + R"(,"layers":[]})", "application/x-unknown")
            .find("unsupported manifest media type") != std::string::npos);
  // Generic Content-Types defer to the body; parameters and spaces are ignored.
  for (auto ct : {"application/json", "text/plain", "application/octet-stream",
                  "application/vnd.oci.image.manifest.v1+json ; charset=utf-8  "}) {
    CAPTURE(ct);
    CHECK(parse_manifest(R"({"schemaVersion":2,)" + cfg + R"(,"layers":[]})", ct));
  }
  // A layer with foreign URLs, annotations that are not all strings.
  auto m = parse_manifest(
      R"({"schemaVersion":2,)" + cfg +
          R"(,"layers":[{"mediaType":"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip","digest":")" +
          d('b') + R"(","size":3,"urls":["https://x/y",7]}],"annotations":{"a":"b","n":1}})",
      "");
  REQUIRE(m);
  CHECK(m->layers[0].urls == std::vector<std::string>{"https://x/y"});
  CHECK(m->annotations == std::map<std::string, std::string>{{"a", "b"}});
}

TEST_CASE("platform selection: entries without platforms, unknown/unknown, arm variants") {
  json idx = {{"schemaVersion", 2},
              {"mediaType", "application/vnd.oci.image.index.v1+json"},
              {"manifests",
               {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                 {"digest", d('1')},
                 {"size", 1}},
                entry('2', "unknown", "unknown"),
                entry('3', "linux", "arm", "v7"),
                entry('4', "linux", "arm64", "v8")}}};
  auto m = parse_manifest(idx.dump(), "");
  REQUIRE(m);
  CHECK(platform_entries(*m).size() == 3);  // unknown/unknown is an attestation
  auto v7 = select_platform(*m, Platform{"linux", "arm", "v7"});
  REQUIRE(v7);
  CHECK(v7->digest == d('3'));
  CHECK_FALSE(select_platform(*m, Platform{"linux", "arm", "v6"}));
  CHECK(select_platform(*m, Platform{"linux", "arm64", ""})->digest == d('4'));
  auto none = select_platform(*m, Platform{"linux", "arm64", "v9"});
  REQUIRE_FALSE(none);
  CHECK(none.error().message.find("available: linux/arm/v7, linux/arm64/v8") != std::string::npos);
  json empty = {{"schemaVersion", 2},
                {"mediaType", "application/vnd.oci.image.index.v1+json"},
                {"manifests", json::array()}};
  auto e = select_platform(*parse_manifest(empty.dump(), ""), default_platform());
  REQUIRE_FALSE(e);
  CHECK(e.error().message.ends_with("available: none"));
  CHECK_FALSE(parse_platform("linux/" + std::string(65, 'a')));
}
