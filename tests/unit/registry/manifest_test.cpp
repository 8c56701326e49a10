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
