#include "layer/merge.h"

#include <doctest/doctest.h>

using namespace bw;

namespace {
FileEntry f(const std::string& p, std::uint32_t mode = 0644) {
  return FileEntry{p, 'f', mode, 0, 0, 1, "", {}, {}};
}
}  // namespace

TEST_CASE("later layers override, whiteouts delete, opaque dirs hide lower contents") {
  LayerFacts base, mid, top;
  base.files = {f("etc/passwd"), f("etc/shadow"), f("usr/bin/su", 04755), f("var/cache/a"),
                f("root/.ssh/id_rsa")};
  mid.whiteouts = {{"etc/shadow", false}, {"var/cache", true}, {"root/.ssh", false}};
  mid.files = {f("var/cache/b"), f("etc/passwd", 0600)};
  top.files = {f("usr/bin/su", 0755)};
  auto merged = merge_layers({&base, &mid, &top});
  std::map<std::string, MergedFile> by;
  for (auto& m : merged) by[m.entry->path] = m;
  CHECK(by.size() == 3);
  CHECK(by.at("etc/passwd").layer_index == 1);
  CHECK(by.at("etc/passwd").entry->mode == 0600);
  CHECK(by.count("etc/shadow") == 0);
  CHECK(by.count("var/cache/a") == 0);
  CHECK(by.at("var/cache/b").layer_index == 1);
  CHECK(by.at("usr/bin/su").layer_index == 2);
  CHECK(by.at("usr/bin/su").entry->mode == 0755);
  // Each points at its layer's entry: merged for every image on a base, never copied.
  CHECK(by.at("usr/bin/su").entry == &top.files[0]);
  CHECK(by.at("etc/passwd").entry == &mid.files[1]);
  CHECK(by.count("root/.ssh/id_rsa") == 0);
}

TEST_CASE("a whiteout of a directory removes what is below it but not siblings sharing a prefix") {
  LayerFacts a, b;
  a.files = {f("opt/app/x"), f("opt/app2/y")};
  b.whiteouts = {{"opt/app", false}};
  auto merged = merge_layers({&a, &b});
  REQUIRE(merged.size() == 1);
  CHECK(merged[0].entry->path == "opt/app2/y");
}
