#include "store/store.h"

#include "process.h"

#include <doctest/doctest.h>

using namespace bw;

TEST_CASE("migrations apply once, in order, and a second open applies nothing") {
  test::TempDir dir;
  StoreOptions opt{dir.path() + "/sub/bulwark.db"};
  std::vector<int> first;
  {
    auto s = open_sqlite_store(opt);
    REQUIRE(s);
    auto v = (*s)->schema_versions();
    REQUIRE(v);
    REQUIRE_FALSE(v->empty());
    CHECK(v->front() == 1);
    CHECK(std::is_sorted(v->begin(), v->end()));
    first = *v;
  }
  auto again = open_sqlite_store(opt);
  REQUIRE(again);
  CHECK(*(*again)->schema_versions() == first);
  CHECK(*(*again)->integrity_check() == "ok");
}

TEST_CASE("layer facts round-trip by digest and replace on re-analysis") {
  test::TempDir dir;
  auto s = open_sqlite_store({dir.path() + "/b.db"});
  REQUIRE(s);
  Store& store = **s;
  LayerRecord rec{"sha256:" + std::string(64, '1'),
                  "application/vnd.oci.image.layer.v1.tar+gzip",
                  1,
                  "2026-01-01T00:00:00Z",
                  {}};
  rec.facts.compression = "gzip";
  rec.facts.compressed_size = 10;
  rec.facts.uncompressed_size = 20;
  rec.facts.diff_id = "sha256:" + std::string(64, '2');
  rec.facts.entry_count = 3;
  rec.facts.files.push_back({"usr/bin/su", 'f', 04755, 0, 0, 100, "", {}, {}});
  rec.facts.files.push_back({"bin/sh", 'l', 0777, 0, 0, 0, "dash", {}, {}});
  rec.facts.whiteouts.push_back({"etc/old", false});
  rec.facts.whiteouts.push_back({"var/cache", true});
  REQUIRE(store.put_layer(rec));
  auto got = store.get_layer(rec.digest);
  REQUIRE(got);
  REQUIRE(*got);
  CHECK((*got)->facts.diff_id == rec.facts.diff_id);
  REQUIRE((*got)->facts.files.size() == 2);
  CHECK((*got)->facts.files[0].mode == 04755);
  CHECK((*got)->facts.files[1].link == "dash");
  CHECK((*got)->facts.whiteouts[1].opaque);
  rec.analyzer_version = 2;
  rec.facts.files.pop_back();
  REQUIRE(store.put_layer(rec));
  CHECK((*store.get_layer(rec.digest))->analyzer_version == 2);
  CHECK((*store.get_layer(rec.digest))->facts.files.size() == 1);
  CHECK_FALSE(*store.get_layer("sha256:" + std::string(64, '9')));
  CHECK(*store.integrity_check() == "ok");
}

TEST_CASE("images need their layers stored first; the foreign key holds") {
  test::TempDir dir;
  auto s = open_sqlite_store({dir.path() + "/b.db"});
  REQUIRE(s);
  ImageRecord im;
  im.manifest_digest = "sha256:" + std::string(64, 'a');
  im.media_type = "application/vnd.oci.image.manifest.v1+json";
  im.config_digest = "sha256:" + std::string(64, 'c');
  im.os = "linux";
  im.architecture = "amd64";
  im.config = "{}";
  im.manifest = "{}";
  im.layers.push_back({"sha256:" + std::string(64, 'f'), "x", 1, ""});
  CHECK_FALSE((*s)->put_image(im, std::nullopt));  // no such layer: rolled back
  CHECK_FALSE(*(*s)->get_image(im.manifest_digest));
  CHECK(*(*s)->integrity_check() == "ok");
}

TEST_CASE("scans list newest first with a cursor") {
  test::TempDir dir;
  auto s = open_sqlite_store({dir.path() + "/b.db"});
  REQUIRE(s);
  for (int i = 0; i < 5; ++i) {
    ScanRecord r;
    r.id = "scan_" + std::to_string(i);
    r.image = "x";
    r.platform = "linux/amd64";
    r.status = i % 2 ? ScanStatus::done : ScanStatus::failed;
    r.created_at = "t";
    REQUIRE((*s)->put_scan(r));
  }
  auto page = (*s)->list_scans({std::nullopt, "", 2, ""});
  REQUIRE(page);
  REQUIRE(page->size() == 2);
  CHECK((*page)[0].id == "scan_4");
  auto next = (*s)->list_scans({std::nullopt, "", 2, (*page)[1].id});
  CHECK((*next)[0].id == "scan_2");
  CHECK((*s)->list_scans({ScanStatus::done, "", 10, ""})->size() == 2);
}
