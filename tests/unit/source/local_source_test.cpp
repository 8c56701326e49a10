// Local image sources read directly (no daemon): `docker save` manifests of the wrong shape,
// tags named as Docker 25 writes them, index chains too deep, documents over the limit, a
// consumer that stops a transfer, and the PATH:TAG syntax where a directory has a colon.
#include "process.h"
#include "registry.h"
#include "source/source.h"
#include "tar_builder.h"

#include <doctest/doctest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <filesystem>

using namespace bw;
using namespace bw::test;
using nlohmann::json;

namespace {

template <typename T>
T run(boost::asio::awaitable<T> a) {
  boost::asio::io_context io;
  auto fut = boost::asio::co_spawn(io, std::move(a), boost::asio::use_future);
  io.run();
  return fut.get();
}

Result<std::unique_ptr<ImageSource>> open(const std::string& text,
                                          std::uint64_t max_doc = 8 << 20) {
  auto spec = parse_source(text, true);
  REQUIRE(spec);
  return open_local_source(*spec, max_doc);
}

Error open_error(const std::string& text) {
  auto src = open(text);
  REQUIRE_FALSE(src);
  return src.error();
}

TestImage small_image(const std::string& name) {
  TestImage im({make_layer(TarBuilder().file("app/" + name, name, 0755).build())});
  im.config = {{"User", "1000"}};
  return im;
}

}  // namespace

TEST_CASE("docker save manifests: layer names, missing files, and one that reads") {
  TempDir dir;
  auto bad = [&](const std::string& name, const std::string& tar) {
    write_file(dir.path() + "/" + name, tar);
    return open_error("docker-archive:" + dir.path() + "/" + name);
  };
  auto numbers =
      bad("numbers.tar", TarBuilder()
                             .file("manifest.json", R"([{"Config":"c.json","Layers":[1]}])")
                             .file("c.json", "{}")
                             .build());
  CHECK(numbers.code == Errc::invalid_image);
  CHECK(numbers.message == "Layers must be file names");
  CHECK(bad("noconfig.tar",
            TarBuilder().file("manifest.json", R"([{"Config":"c.json","Layers":[]}])").build())
            .code == Errc::not_found);
  CHECK(bad("nolayer.tar", TarBuilder()
                               .file("manifest.json", R"([{"Config":"c.json","Layers":["l.tar"]}])")
                               .file("c.json", "{}")
                               .build())
            .code == Errc::not_found);
  CHECK(bad("config-number.tar",
            TarBuilder().file("manifest.json", R"([{"Config":1,"Layers":[]}])").build())
            .code == Errc::invalid_image);
  CHECK(bad("empty-list.tar", TarBuilder().file("manifest.json", "[]").build()).code ==
        Errc::invalid_image);
  CHECK(bad("no-manifest.tar", TarBuilder().file("other", "x").build()).code == Errc::not_found);

  // A classic archive that reads: one platform, its layer streamed and verified.
  TestImage im = small_image("classic");
  BuiltImage built = build_image(im);
  std::string layer_tar = TarBuilder().file("app/classic", "classic", 0755).build();
  std::string config = built.blobs[0];
  write_file(dir.path() + "/ok.tar",
             TarBuilder()
                 .file("manifest.json", R"([{"Config":"c.json","Layers":["l/layer.tar"]}])")
                 .file("c.json", config)
                 .file("l/layer.tar", layer_tar)
                 .build());
  auto src = open("docker-archive:" + dir.path() + "/ok.tar");
  REQUIRE(src);
  auto platforms = run((*src)->platforms());
  REQUIRE(platforms);
  CHECK(platforms->first.empty());
  REQUIRE(platforms->second.size() == 1);
  CHECK(platforms->second[0].architecture == "amd64");
  auto image = run((*src)->resolve(Platform{}, {}));
  REQUIRE(image);
  REQUIRE(image->manifest.layers.size() == 1);
  std::string got;
  auto fetched = run((*src)->fetch_blob(*image, image->manifest.layers[0],
                                        [&](std::string chunk) -> boost::asio::awaitable<bool> {
                                          got += chunk;
                                          co_return true;
                                        }));
  REQUIRE(fetched);
  CHECK(got == layer_tar);
  // A consumer that stops the transfer: cancelled, not a digest error.
  auto stopped =
      run((*src)->fetch_blob(*image, image->manifest.layers[0],
                             [](std::string) -> boost::asio::awaitable<bool> { co_return false; }));
  REQUIRE_FALSE(stopped);
  CHECK(stopped.error().code == Errc::cancelled);
}

TEST_CASE("OCI layouts: tags as Docker writes them, deep index chains, documents over the limit") {
  TempDir dir;
  TestImage im = small_image("oci");
  BuiltImage built = build_image(im);
  // Docker 25 names the image "docker.io/library/app:v1"; ":v1" picks it.
  const std::string named = dir.path() + "/named";
  write_oci_layout(named, {built}, built.manifest, built.media_type, {"docker.io/library/app:v1"});
  auto src = open("oci:" + named + ":v1");
  REQUIRE(src);
  CHECK(run((*src)->resolve(Platform{}, {})));
  CHECK(open_error("oci:" + named + ":v2").code == Errc::manifest_unknown);
  CHECK(open_error("oci:" + dir.path() + "/none:v1").code == Errc::not_found);

  // index → index → index → index → manifest: one level deeper than the three allowed.
  std::string top = built.manifest;
  std::string media = built.media_type;
  std::vector<BuiltImage> chain = {built};
  for (int i = 0; i < 4; ++i) {
    json entry = {{"mediaType", media},
                  {"digest", sha256(top)},
                  {"size", top.size()},
                  {"platform", {{"os", "linux"}, {"architecture", "amd64"}}}};
    std::string index = json{
        {"schemaVersion", 2},
        {"mediaType", "application/vnd.oci.image.index.v1+json"},
        {"manifests",
         {entry}}}.dump();
    BuiltImage holder;
    holder.manifest = top;
    chain.push_back(holder);
    top = index;
    media = "application/vnd.oci.image.index.v1+json";
  }
  const std::string deep = dir.path() + "/deep";
  write_oci_layout(deep, chain, top, media, {"v1"});
  auto deep_src = open("oci:" + deep + ":v1");
  REQUIRE(deep_src);
  auto too_deep = run((*deep_src)->resolve(Platform{}, {}));
  REQUIRE_FALSE(too_deep);
  CHECK(too_deep.error().message == "index nesting too deep");
  // A platform the index does not have.
  TestImage arm = small_image("arm");
  arm.architecture = "arm64";
  BuiltImage arm_built = build_image(arm);
  std::string index = index_document({{arm_built, arm}}, false);
  const std::string arm_only = dir.path() + "/arm";
  write_oci_layout(arm_only, {arm_built}, index, "application/vnd.oci.image.index.v1+json", {"v1"});
  auto arm_src = open("oci:" + arm_only + ":v1");
  REQUIRE(arm_src);
  auto amd = run((*arm_src)->resolve(Platform{"linux", "amd64", ""}, {}));
  REQUIRE_FALSE(amd);
  CHECK(amd.error().code == Errc::platform_not_found);
  auto platforms = run((*arm_src)->platforms());
  REQUIRE(platforms);
  CHECK(platforms->first == sha256(index));
  CHECK(platforms->second.size() == 1);

  // Documents larger than the limit are refused before they are read: index.json at open, a
  // config (here with a limit the manifest fits) at resolve.
  auto tiny = open("oci:" + named + ":v1", 64);
  REQUIRE_FALSE(tiny);
  CHECK(tiny.error().message.find("larger than") != std::string::npos);
  TestImage wordy = small_image("wordy");
  wordy.config["Env"] = {"NOTE=" + std::string(4000, 'x')};
  BuiltImage wordy_built = build_image(wordy);
  const std::string big_config = dir.path() + "/big-config";
  write_oci_layout(big_config, {wordy_built}, wordy_built.manifest, wordy_built.media_type, {"v1"});
  std::uint64_t limit = std::max<std::uint64_t>(read_file(big_config + "/index.json").size(),
                                                wordy_built.manifest.size());
  REQUIRE(wordy_built.blobs[0].size() > limit);
  auto fits = open("oci:" + big_config + ":v1", limit);
  REQUIRE(fits);
  auto over = run((*fits)->resolve(Platform{}, {}));
  REQUIRE_FALSE(over);
  CHECK(over.error().code == Errc::invalid_image);
  CHECK(over.error().message.ends_with("is larger than the document limit"));
}

TEST_CASE("local source syntax: directories with colons, empty paths, refusal") {
  TempDir dir;
  const std::string colon_dir = dir.path() + "/with:colon";
  std::filesystem::create_directories(colon_dir);
  auto whole = parse_source("oci:" + colon_dir, true);
  REQUIRE(whole);
  CHECK(whole->path == colon_dir);
  CHECK(whole->tag.empty());
  auto tagged = parse_source("oci-archive:./x.tar:v1", true);
  REQUIRE(tagged);
  CHECK(tagged->tag == "v1");
  CHECK(tagged->path.ends_with("/x.tar"));
  auto docker = parse_source("docker-archive:./x.tar:v1", true);
  REQUIRE(docker);
  CHECK(docker->tag.empty());  // docker archives have no tag syntax
  auto empty = parse_source("oci:", true);
  REQUIRE_FALSE(empty);
  CHECK(empty.error().code == Errc::bad_reference);
  auto refused = parse_source("oci:/x", false);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == Errc::bad_request);
  SourceSpec registry;
  CHECK_FALSE(open_local_source(registry));
}

namespace {

// A tar of the directory `dir`, entries named "./…" as `tar -C dir .` writes them, with
// `extra` files added.
std::string tar_of(const std::string& dir,
                   const std::vector<std::pair<std::string, std::string>>& extra = {}) {
  TarBuilder t;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file())
      t.file("./" + std::filesystem::relative(e.path(), dir).string(), read_file(e.path()));
  for (auto& [name, content] : extra) t.file(name, content);
  return t.build();
}

}  // namespace

TEST_CASE(
    "archives with ./ names, Docker 25 docker-archives, layouts that name what is not there") {
  TempDir dir;
  TestImage im = small_image("tarred");
  BuiltImage built = build_image(im);
  const std::string layout = dir.path() + "/layout";
  write_oci_layout(layout, {built}, built.manifest, built.media_type, {"v1"});
  // Docker 25+: an OCI layout in a docker save tarball, manifest.json beside it.
  write_file(dir.path() + "/docker25.tar",
             tar_of(layout, {{"manifest.json", R"([{"Config":"x","Layers":[]}])"}}));
  auto d25 = open("docker-archive:" + dir.path() + "/docker25.tar");
  REQUIRE(d25);
  auto image = run((*d25)->resolve(Platform{}, {}));
  REQUIRE(image);
  CHECK(image->manifest_digest == sha256(built.manifest));
  write_file(dir.path() + "/layout.tar", tar_of(layout));
  CHECK(open("oci-archive:" + dir.path() + "/layout.tar:v1"));

  // index.json that is an image manifest; one naming a manifest that is not there; a layer
  // path that is a directory.
  const std::string wrong = dir.path() + "/wrong";
  write_oci_layout(wrong, {built}, built.manifest, built.media_type, {"v1"});
  write_file(wrong + "/index.json", built.manifest);
  CHECK(open_error("oci:" + wrong + ":v1").code == Errc::invalid_image);
  const std::string gone = dir.path() + "/gone";
  write_oci_layout(gone, {built}, built.manifest, built.media_type, {"v1"});
  std::filesystem::remove(gone + "/blobs/sha256/" + sha256(built.manifest).substr(7));
  CHECK(open_error("oci:" + gone + ":v1").code == Errc::not_found);
  const std::string dir_blob = dir.path() + "/dir-blob";
  write_oci_layout(dir_blob, {built}, built.manifest, built.media_type, {"v1"});
  std::string layer = dir_blob + "/blobs/sha256/" + sha256(im.layers[0].blob).substr(7);
  std::filesystem::remove(layer);
  std::filesystem::create_directories(layer);
  auto src = open("oci:" + dir_blob + ":v1");
  REQUIRE(src);
  auto resolved = run((*src)->resolve(Platform{}, {}));
  REQUIRE(resolved);
  auto fetched =
      run((*src)->fetch_blob(*resolved, resolved->manifest.layers[0],
                             [](std::string) -> boost::asio::awaitable<bool> { co_return true; }));
  REQUIRE_FALSE(fetched);
  CHECK(fetched.error().code == Errc::not_found);

  // A manifest whose config is missing: no platforms to list.
  const std::string no_config = dir.path() + "/no-config";
  write_oci_layout(no_config, {built}, built.manifest, built.media_type, {"v1"});
  std::filesystem::remove(no_config + "/blobs/sha256/" + sha256(built.blobs[0]).substr(7));
  auto nc = open("oci:" + no_config + ":v1");
  REQUIRE(nc);
  auto platforms = run((*nc)->platforms());
  REQUIRE_FALSE(platforms);
  CHECK(platforms.error().code == Errc::not_found);

  // An index whose platform manifest is missing.
  std::string index = index_document({{built, im}}, false);
  const std::string no_child = dir.path() + "/no-child";
  write_oci_layout(no_child, {built}, index, "application/vnd.oci.image.index.v1+json", {"v1"});
  std::filesystem::remove(no_child + "/blobs/sha256/" + sha256(built.manifest).substr(7));
  auto ncs = open("oci:" + no_child + ":v1");
  REQUIRE(ncs);
  auto child = run((*ncs)->resolve(Platform{}, {}));
  REQUIRE_FALSE(child);
  CHECK(child.error().code == Errc::not_found);

  // docker save manifests: a list of non-objects, Layers not a list.
  write_file(dir.path() + "/ints.tar", TarBuilder().file("manifest.json", "[1]").build());
  CHECK(open_error("docker-archive:" + dir.path() + "/ints.tar").code == Errc::invalid_image);
  write_file(dir.path() + "/layers-string.tar",
             TarBuilder().file("manifest.json", R"([{"Config":"c","Layers":"l"}])").build());
  CHECK(open_error("docker-archive:" + dir.path() + "/layers-string.tar").code ==
        Errc::invalid_image);
}
