#include "layer/image_summary.h"
#include "score/score.h"

#include <doctest/doctest.h>

using namespace bw;
using nlohmann::json;

namespace {
json summary_with(json executables, json runtimes = json::array(), bool ca = false) {
  json s = summarize_image({}, {});
  s["executables"] = std::move(executables);
  s["runtimes"] = std::move(runtimes);
  s["ca_certificates"] = ca;
  return s;
}
json exe(const std::string& path, const std::string& layer, json elf) {
  return json{{"path", path}, {"layer_digest", layer}, {"elf", elf}};
}
std::vector<std::string> ids(const json& recs) {
  std::vector<std::string> out;
  for (auto& r : recs) out.push_back(r.value("id", r.value("action", "")));
  return out;
}
}  // namespace

TEST_CASE("base detection: annotations, reference layer chains, history") {
  json manifest = {{"annotations",
                    {{"org.opencontainers.image.base.name", "docker.io/library/alpine:3.22"},
                     {"org.opencontainers.image.base.digest", "sha256:ref"}}}};
  std::vector<ReferenceImage> refs = {{"alpine", "sha256:ref", {"l0"}},
                                      {"longer", "sha256:x", {"l0", "l1"}}};
  auto a = detect_base(manifest, json::object(), summarize_image({}, {}), {"l0", "l1", "l2"}, refs);
  CHECK(a.method == "annotation");
  CHECK(a.name == "docker.io/library/alpine:3.22");
  CHECK(a.layers == 1);
  auto m = detect_base(json::object(), json::object(), summarize_image({}, {}), {"l0", "l1", "l2"},
                       refs);
  CHECK(m.method == "layer-match");
  CHECK(m.name == "longer");  // the longest chain wins
  CHECK(m.layers == 2);
  CHECK(detect_base(json::object(), json::object(), summarize_image({}, {}), {"l0", "l1"},
                    {{"same", "d", {"l0", "l1"}}})
            .method == "none");  // an image is not its own base
  json config = {{"history",
                  {{{"created_by", "/bin/sh -c #(nop) ADD file:x in /"}},
                   {{"created_by", "/bin/sh -c #(nop)  CMD [\"sh\"]"}, {"empty_layer", true}},
                   {{"created_by", "/bin/sh -c make"}}}}};
  auto h = detect_base(json::object(), config, summarize_image({}, {}), {"l0", "l1"}, {});
  CHECK(h.method == "history");
  CHECK(h.layers == 1);
}

TEST_CASE("recommendations follow what the app needs") {
  auto catalog = RuleCatalog::builtin();
  BaseInfo base{"debian:13", "os-release", "medium", 1};
  json config = {{"config", {{"Entrypoint", {"/app/run"}}}}};
  json glibc = {{"kind", "executable"}, {"static", false}, {"libc", "glibc"}, {"pie", true}};
  json musl = {{"kind", "executable"}, {"static", false}, {"libc", "musl"}, {"pie", true}};
  json statik = {{"kind", "executable"}, {"static", true}};
  auto recs = [&](json s, json cfg = json()) {
    return recommend_bases(*catalog, {}, s, cfg.is_null() ? config : cfg, base, {"base", "app"}, 40,
                           100'000'000);
  };
  auto st = ids(recs(summary_with(json::array({exe("app/run", "app", statik)}))));
  CHECK(st.front() != "keep");
  CHECK(std::find(st.begin(), st.end(), "scratch") != st.end());
  auto withca =
      ids(recs(summary_with(json::array({exe("app/run", "app", statik)}), json::array(), true)));
  CHECK(std::find(withca.begin(), withca.end(), "scratch") == withca.end());
  auto ml = ids(recs(summary_with(json::array({exe("app/run", "app", musl)}))));
  CHECK(ml == std::vector<std::string>{"alpine"});
  auto py = ids(recs(summary_with(json::array({exe("usr/bin/python3.11", "base", glibc)}),
                                  json::array({"python"}))));
  CHECK(py.front() == "distroless-python3");
  // A base tool says nothing of the app: a musl busybox in the base does not make the app musl.
  auto mixed = ids(recs(
      summary_with(json::array({exe("bin/busybox", "base", musl), exe("app/run", "app", glibc)}))));
  CHECK(std::find(mixed.begin(), mixed.end(), "alpine") == mixed.end());
  json script = {{"config", {{"Entrypoint", {"/app/start.sh"}}}}};
  for (auto& id : ids(recs(summary_with(json::array({exe("app/run", "app", glibc)})), script)))
    CHECK((id == "wolfi-base" || id == "debian-slim" || id == "ubuntu" || id == "keep"));
  BaseInfo minimal{"distroless/static", "os-release", "medium", 1};
  auto keep =
      recommend_bases(*catalog, {}, summary_with(json::array({exe("app/run", "app", statik)})),
                      config, minimal, {"base", "app"}, 95, 0);
  REQUIRE(keep.size() == 1);
  CHECK(keep[0]["action"] == "keep");
}
