// Scan on push: the envelopes registries send, read into references to scan.
#include "api/registry_events.h"

#include <doctest/doctest.h>

using namespace bw;
using nlohmann::json;

namespace {

const std::string kDigest = "sha256:" + std::string(64, 'a');
const std::string kOther = "sha256:" + std::string(64, 'b');

json distribution_event(const std::string& action, const std::string& media_type,
                        const std::string& tag, const std::string& digest = kDigest) {
  json target = {{"mediaType", media_type},
                 {"repository", "team/app"},
                 {"digest", digest},
                 {"url", "http://registry.example:5000/v2/team/app/manifests/" + digest}};
  if (!tag.empty()) target["tag"] = tag;
  return {{"action", action}, {"target", target}, {"request", {{"host", "alias.example"}}}};
}

}  // namespace

TEST_CASE("distribution envelopes: tagged manifest pushes, once each; the rest ignored") {
  const std::string oci = "application/vnd.oci.image.manifest.v1+json";
  json body = {{"events", json::array({
                              distribution_event("push", oci, "1.0"),
                              distribution_event("push", oci, "1.0"),  // told twice
                              distribution_event("pull", oci, "1.0"),
                              distribution_event("push", "application/octet-stream", ""),
                              distribution_event("push", oci, ""),  // an index's child
                              distribution_event("push", "application/vnd.oci.image.index.v1+json",
                                                 "multi", kOther),
                              distribution_event("push", oci, "bad", "sha256:12"),
                              "not an object",
                          })}};
  auto e = parse_registry_events(body);
  REQUIRE(e);
  REQUIRE(e->pushes.size() == 2);
  CHECK(e->pushes[0].image == "registry.example:5000/team/app:1.0@" + kDigest);
  CHECK(e->pushes[1].image == "registry.example:5000/team/app:multi@" + kOther);
  CHECK(e->ignored == 5);
  // Without the target's URL, the Host the pushing client used names the registry.
  json no_url = distribution_event("push", oci, "2");
  no_url["target"].erase("url");
  auto h = parse_registry_events(json{{"events", json::array({no_url})}});
  REQUIRE(h);
  REQUIRE(h->pushes.size() == 1);
  CHECK(h->pushes[0].image == "alias.example/team/app:2@" + kDigest);
  CHECK(parse_registry_events(json{{"events", json::array()}})->pushes.empty());
}

TEST_CASE("Harbor's push webhook: each resource with its tag; other event types ignored") {
  json body = {
      {"type", "PUSH_ARTIFACT"},
      {"occur_at", 1700000000},
      {"operator", "admin"},
      {"event_data",
       {{"resources", json::array({{{"digest", kDigest},
                                    {"tag", "v1"},
                                    {"resource_url", "harbor.example/library/app:v1"}},
                                   {{"digest", kOther},
                                    {"tag", ""},
                                    {"resource_url", "harbor.example/library/app@" + kOther}},
                                   {{"digest", "nope"}, {"tag", "x"}}})},
        {"repository",
         {{"name", "app"}, {"namespace", "library"}, {"repo_full_name", "library/app"}}}}}};
  auto e = parse_registry_events(body);
  REQUIRE(e);
  REQUIRE(e->pushes.size() == 2);
  CHECK(e->pushes[0].image == "harbor.example/library/app:v1@" + kDigest);
  CHECK(e->pushes[1].image == "harbor.example/library/app@" + kOther);
  CHECK(e->ignored == 1);
  body["type"] = "DELETE_ARTIFACT";
  auto deleted = parse_registry_events(body);
  REQUIRE(deleted);
  CHECK(deleted->pushes.empty());
  CHECK(deleted->ignored == 1);
}

TEST_CASE("what is no registry envelope is a bad request") {
  for (json body : {json::array(), json{{"hello", "world"}}, json{{"events", "x"}},
                    json{{"event_data", "x"}}, json("text")}) {
    CAPTURE(body.dump());
    auto e = parse_registry_events(body);
    REQUIRE_FALSE(e);
    CHECK(e.error().code == Errc::bad_request);
  }
}
