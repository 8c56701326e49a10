#include "layer/layer.h"
#include "layer/tar_walk.h"

#include "tar_builder.h"

#include <doctest/doctest.h>

using namespace bw;
using namespace bw::test;

namespace {

Result<LayerFacts> analyze(const std::string& blob, LayerLimits limits = {}) {
  MemorySource src(blob);
  return analyze_layer(src, limits);
}

const FileEntry* find(const LayerFacts& f, const std::string& path) {
  for (auto& e : f.files)
    if (e.path == path) return &e;
  return nullptr;
}

// Fails after `ok_bytes`, as a dropped connection or digest mismatch does.
class FailingSource : public ByteSource {
 public:
  FailingSource(std::string data, std::size_t ok_bytes) : data_(std::move(data)), ok_(ok_bytes) {}
  Result<std::size_t> read(char* buf, std::size_t n) override {
    if (pos_ >= ok_) return make_error(Errc::digest_mismatch, "blob hashes to something else");
    std::size_t k = std::min({n, ok_ - pos_, data_.size() - pos_});
    std::memcpy(buf, data_.data() + pos_, k);
    pos_ += k;
    return k;
  }

 private:
  std::string data_;
  std::size_t ok_, pos_ = 0;
};

std::string sample_tar() {
  return TarBuilder()
      .dir("etc")
      .file("etc/os-release", "ID=alpine\n")
      .file("usr/bin/sudo", "s", 04755)
      .file("usr/bin/wall", "w", 02755)
      .file("opt/data/shared", "x", 0666)
      .dir("opt/open", 0777)
      .dir("tmp", 01777)
      .symlink("bin/sh", "/bin/busybox")
      .hardlink("usr/bin/sudoedit", "usr/bin/sudo")
      .file("home/app/.aws/credentials", "[default]")
      .file("usr/share/man/page", "boring")
      .build();
}

}  // namespace

TEST_CASE("gzip, zstd and plain tar give the same facts and diff_id") {
  std::string tar = sample_tar();
  for (auto& kind : {std::pair<std::string, std::string>{"gzip", gzip(tar)},
                     {"zstd", zstd(tar)},
                     {"none", tar}}) {
    const std::string& name = kind.first;
    const std::string& blob = kind.second;
    CAPTURE(name);
    auto f = analyze(blob);
    REQUIRE(f);
    CHECK(f->status == LayerStatus::complete);
    CHECK(f->compression == name);
    CHECK(f->diff_id == sha256(tar));
    CHECK(f->uncompressed_size == tar.size());
    CHECK(f->compressed_size == blob.size());
    CHECK(f->entry_count == 11);
    REQUIRE(find(*f, "usr/bin/sudo"));
    CHECK(find(*f, "usr/bin/sudo")->mode == 04755);
    CHECK(find(*f, "usr/bin/wall")->mode == 02755);
    CHECK(find(*f, "opt/data/shared"));  // world-writable file
    CHECK(find(*f, "opt/open"));         // world-writable dir without sticky
    CHECK_FALSE(find(*f, "tmp"));        // sticky: fine
    CHECK(find(*f, "bin/sh")->link == "/bin/busybox");
    CHECK(find(*f, "bin/sh")->kind == 'l');
    CHECK(find(*f, "usr/bin/sudoedit")->kind == 'h');
    CHECK(find(*f, "usr/bin/sudoedit")->link == "usr/bin/sudo");
    CHECK(find(*f, "home/app/.aws/credentials"));
    CHECK_FALSE(find(*f, "usr/share/man/page"));
  }
}

TEST_CASE("whiteouts and opaque directories are recorded, not listed as files") {
  std::string tar = TarBuilder()
                        .file("etc/.wh.shadow", "")
                        .file("var/cache/apt/.wh..wh..opq", "")
                        .file(".wh.root-file", "")
                        .build();
  auto f = analyze(gzip(tar));
  REQUIRE(f);
  REQUIRE(f->whiteouts.size() == 3);
  CHECK(f->whiteouts[0].path == "etc/shadow");
  CHECK_FALSE(f->whiteouts[0].opaque);
  CHECK(f->whiteouts[1].path == "var/cache/apt");
  CHECK(f->whiteouts[1].opaque);
  CHECK(f->whiteouts[2].path == "root-file");
  CHECK(f->files.empty());
}

TEST_CASE("pax long names survive; over-long paths are skipped and counted") {
  std::string deep = "etc/" + std::string(200, 'd') + "/" + std::string(150, 'f');
  std::string tar = TarBuilder().file(deep, "x").file("etc/" + std::string(5000, 'x'), "y").build();
  auto f = analyze(tar);
  REQUIRE(f);
  CHECK(find(*f, deep));
  CHECK(f->skipped_entries == 1);
  CHECK(f->entry_count == 2);
}

TEST_CASE("paths are normalised: leading ./ and / and doubled slashes") {
  CHECK(normalize_entry_path("./usr//bin/") == "usr/bin");
  CHECK(normalize_entry_path("/etc/passwd") == "etc/passwd");
  CHECK(normalize_entry_path("./") == "");
  CHECK(normalize_entry_path("a/../../etc") == "a/../../etc");
}

TEST_CASE("a decompression bomb stops at max_uncompressed_bytes with the blob still drained") {
  std::string bomb = gzip_bomb(32ull << 20);
  LayerLimits lim;
  lim.max_uncompressed_bytes = 4 << 20;
  auto f = analyze(bomb, lim);
  REQUIRE(f);
  CHECK(f->status == LayerStatus::limit_exceeded);
  CHECK(f->status_reason.find("max_uncompressed_bytes") != std::string::npos);
  CHECK(f->compressed_size == bomb.size());
  CHECK(f->diff_id.empty());
}

TEST_CASE("entry count limit") {
  TarBuilder b;
  for (int i = 0; i < 20; ++i) b.file("f" + std::to_string(i), "x");
  LayerLimits lim;
  lim.max_entries = 5;
  std::string blob = gzip(b.build());
  auto f = analyze(blob, lim);
  REQUIRE(f);
  CHECK(f->status == LayerStatus::limit_exceeded);
  CHECK(f->entry_count == 5);
  CHECK(f->compressed_size == blob.size());
}

TEST_CASE("corrupt and truncated streams are invalid layers, not errors") {
  std::string gz = gzip(sample_tar());
  auto truncated = analyze(gz.substr(0, gz.size() / 2));
  REQUIRE(truncated);
  CHECK(truncated->status == LayerStatus::invalid);
  std::string flipped = gz;
  flipped[flipped.size() / 2] ^= 0x5a;
  auto corrupt = analyze(flipped);
  REQUIRE(corrupt);
  CHECK(corrupt->status == LayerStatus::invalid);
  auto not_tar = analyze(std::string(4096, 'z'));
  REQUIRE(not_tar);
  CHECK(not_tar->status == LayerStatus::invalid);
  auto bad_zstd = analyze(std::string("\x28\xb5\x2f\xfd", 4) + std::string(100, '\x01'));
  REQUIRE(bad_zstd);
  CHECK(bad_zstd->status == LayerStatus::invalid);
}

TEST_CASE("an empty layer and concatenated gzip members") {
  auto empty = analyze(gzip(TarBuilder().build()));
  REQUIRE(empty);
  CHECK(empty->status == LayerStatus::complete);
  CHECK(empty->entry_count == 0);
  std::string tar = sample_tar();
  std::string half = tar.substr(0, 1024), rest = tar.substr(1024);
  auto multi = analyze(gzip(half) + gzip(rest));
  REQUIRE(multi);
  CHECK(multi->status == LayerStatus::complete);
  CHECK(multi->diff_id == sha256(tar));
}

TEST_CASE("a failing source is an error, whatever the layer held") {
  std::string gz = gzip(sample_tar());
  FailingSource src(gz, gz.size() / 2);
  auto f = analyze_layer(src, {});
  REQUIRE_FALSE(f);
  CHECK(f.error().code == Errc::digest_mismatch);
  FailingSource at_end(gz, gz.size());
  auto g = analyze_layer(at_end, {});
  REQUIRE_FALSE(g);
}

TEST_CASE("facts survive their JSON form") {
  auto f = analyze(gzip(sample_tar()));
  REQUIRE(f);
  auto back = layer_facts_from_json(to_json(*f));
  REQUIRE(back);
  CHECK(back->diff_id == f->diff_id);
  CHECK(back->files.size() == f->files.size());
  CHECK(back->files[0].path == f->files[0].path);
  CHECK_FALSE(layer_facts_from_json(nlohmann::json::object()));
}

TEST_CASE("hostile entries: path tricks, symlink loops, device nodes, a huge pax header") {
  TarBuilder b;
  b.file("../../../etc/shadow", "root::0:0:::::\n", 0640)
      .file("/abs/etc/passwd", "x")
      .symlink("loop/a", "b")
      .symlink("loop/b", "a")
      .symlink("etc/escape", "../../../../../../etc/shadow")
      .hardlink("etc/hl", "../../outside")
      .file("etc/" + std::string(1 << 20, 'p'), "big name");
  std::string tar = b.build();
  auto f = analyze(gzip(tar));
  REQUIRE(f);
  // libarchive refuses the 1 MiB pax header: the layer ends invalid there, with what came before.
  CHECK(f->status == LayerStatus::invalid);
  CHECK_FALSE(f->status_reason.empty());
  CHECK(f->entry_count == 6);
  CHECK(f->compressed_size == gzip(tar).size());
  CHECK(find(*f, "../../../etc/shadow"));  // recorded as written, never resolved or followed
  CHECK(std::binary_search(f->path_hashes.begin(), f->path_hashes.end(),
                           path_hash("abs/etc/passwd")));
  CHECK(find(*f, "etc/escape")->link == "../../../../../../etc/shadow");
}

TEST_CASE("a tar header promising more than the stream holds is an invalid layer") {
  std::string tar = TarBuilder().file("etc/big", std::string(4096, 'x')).build();
  auto f = analyze(gzip(tar.substr(0, 1024)));
  REQUIRE(f);
  CHECK(f->status == LayerStatus::invalid);
}

TEST_CASE("recorded facts are bounded in bytes, and a cancelled analysis stops") {
  TarBuilder b;
  for (int i = 0; i < 200; ++i) b.file("etc/" + std::string(1000, 'p') + std::to_string(i), "");
  std::string tar = b.build();
  LayerLimits limits;
  limits.max_notable_bytes = 50'000;
  MemorySource src(tar);
  auto facts = analyze_layer(src, limits);
  REQUIRE(facts);
  CHECK(facts->status == LayerStatus::limit_exceeded);
  CHECK(facts->status_reason.find("max_notable_bytes") != std::string::npos);
  CHECK(facts->files.size() < 50);
  CHECK(facts->notable_dropped == 200 - facts->files.size());
  CHECK(facts->entry_count == 200);
  CHECK_FALSE(facts->diff_id.empty());  // the stream was still read and hashed to its end

  std::atomic<bool> cancel{true};
  MemorySource again(tar);
  auto stopped = analyze_layer(again, LayerLimits{}, AnalyzeOptions{}, &cancel);
  REQUIRE_FALSE(stopped);
  CHECK(stopped.error().code == Errc::cancelled);
}

TEST_CASE("a layer that uses up its CPU time is limit_exceeded, and its blob is still read") {
  TarBuilder b;
  for (int i = 0; i < 5000; ++i) b.file("usr/bin/t" + std::to_string(i), "#!/bin/sh\n", 0755);
  std::string blob = gzip(b.build());
  LayerLimits limits;
  limits.max_cpu_seconds = 1e-6;
  MemorySource src(blob);
  auto facts = analyze_layer(src, limits);
  REQUIRE(facts);
  CHECK(facts->status == LayerStatus::limit_exceeded);
  CHECK(facts->status_reason.find("max_layer_cpu_s") != std::string::npos);
  CHECK(facts->entry_count < 5000);
  CHECK(facts->compressed_size == blob.size());  // read to its end: the digest is verified
}

namespace {
// An analyser written for this test only: it needs nothing but itself and a place in the list.
class LicenseAnalyzer : public Analyzer {
 public:
  std::string_view name() const override { return "license"; }
  int version() const override { return 3; }
  std::size_t wants(const EntryView& e, const AnalyzeOptions&) const override {
    return e.kind == 'f' && e.path.ends_with("LICENSE") ? 64 : 0;
  }
  void analyze(const EntryView&, std::string_view head, bool truncated, const AnalyzeOptions&,
               FileInfo& facts) const override {
    facts.extra["license"] = {{"first_line", std::string(head.substr(0, head.find('\n')))},
                              {"truncated", truncated}};
  }
};
}  // namespace

TEST_CASE("a new analyser plugs in by being listed; its version is recorded with the facts") {
  LicenseAnalyzer license;
  AnalyzeOptions options;
  options.analyzers = builtin_analyzers();
  options.analyzers.push_back(&license);
  std::string tar = TarBuilder()
                        .file("app/LICENSE", "MIT License\n" + std::string(200, 'x'))
                        .file("etc/passwd", "root:x:0:0::/root:/bin/sh\n")
                        .build();
  MemorySource src(tar);
  auto facts = analyze_layer(src, LayerLimits{}, options);
  REQUIRE(facts);
  CHECK(facts->analyzer_versions.at("license") == 3);
  CHECK(facts->analyzer_versions.at("accounts") == 1);
  bool seen = false;
  for (auto& f : facts->files)
    if (f.path == "app/LICENSE") {
      seen = true;
      CHECK(f.info.extra["license"]["first_line"] == "MIT License");
      CHECK(f.info.extra["license"]["truncated"] == true);  // it asked for 64 bytes only
    }
  CHECK(seen);
  // The built-in ones still ran.
  bool accounts = false;
  for (auto& f : facts->files)
    if (f.path == "etc/passwd") accounts = f.info.accounts.has_value();
  CHECK(accounts);
  auto back = layer_facts_from_json(to_json(*facts));
  REQUIRE(back);
  CHECK(back->analyzer_versions == facts->analyzer_versions);
  // What it learned is stored and read back with the facts.
  for (auto& f : back->files)
    if (f.path == "app/LICENSE") CHECK(f.info.extra["license"]["first_line"] == "MIT License");
}
