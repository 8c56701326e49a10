// The scan service over an in-memory image source: no registry, no sockets.
#include "common/time_util.h"
#include "process.h"
#include "registry.h"
#include "scan/scan.h"
#include "score/reporter.h"
#include "source/source.h"
#include "store_checks.h"
#include "tar_builder.h"

#include <doctest/doctest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>

#include <set>

using namespace bw;
using namespace bw::test;
using nlohmann::json;

namespace {

// Runs the io loop in 10 ms slices until scan `id` finishes (at most 30 s); returns it.
std::map<std::string, std::string> blobs_of(const BuiltImage& image) {
  std::map<std::string, std::string> out;
  for (auto& b : image.blobs) out[sha256(b)] = b;
  return out;
}

ScanRecord until_finished(boost::asio::io_context& ioc, ScanService& scans, const std::string& id) {
  for (int i = 0; i < 3000; ++i) {
    ioc.restart();
    ioc.run_for(std::chrono::milliseconds(10));
    auto now = scans.get(id);
    REQUIRE(now);
    REQUIRE(*now);
    if (is_finished((*now)->status)) return **now;
  }
  FAIL("the scan did not finish");
  return {};
}

// An image served from memory whose config and manifest are given as written (not built).
struct HandMade {
  std::map<std::string, std::string> blobs;
  std::string manifest;
};

struct World {
  TempDir dir;
  boost::asio::io_context ioc;
  boost::asio::thread_pool workers{2};
  std::unique_ptr<Store> store = open_sqlite_store({dir.path() + "/b.db"}).value();
  RegistryOptions registry_options;
  RegistryClient registry{ioc.get_executor(), registry_options};
  Reporter reporter{*store, ReportOptions{}};
  ScanOptions options;
  bool reporting = true;  // false: a service without a reporter (no stored report is reused)
  ScanService scans{ioc.get_executor(), workers, *store,
                    registry,           options, reporting ? &reporter : nullptr};
  int opened = 0;
  // What the source serves: blobs by digest and the top document.
  std::map<std::string, std::string> blobs;
  std::string manifest;

  World(std::map<std::string, std::string> b, std::string m, ScanOptions o = {},
        bool with_reporter = true)
      : options(std::move(o)),
        reporting(with_reporter),
        blobs(std::move(b)),
        manifest(std::move(m)) {
    scans.set_source_opener([this](const SourceSpec&) -> Result<std::unique_ptr<ImageSource>> {
      ++opened;
      return memory_source(blobs, manifest);
    });
  }
  explicit World(const BuiltImage& image, ScanOptions o = {})
      : World(blobs_of(image), image.manifest, std::move(o)) {}
  explicit World(HandMade h) : World(std::move(h.blobs), std::move(h.manifest)) {}
  ~World() { workers.join(); }

  ScanRecord run(const std::string& image) {
    auto rec = scans.submit(ScanRequest{image, "", "", ""});
    REQUIRE(rec);
    return until_finished(ioc, scans, rec->id);
  }
};

}  // namespace

TEST_CASE(
    "a cold scan of a three-layer image from memory: each layer written once, none read "
    "back") {
  TestImage img({make_layer(TarBuilder()
                                .file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
                                .file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
                                .file("bin/sh", "ELF", 0755)
                                .build()),
                 make_layer(TarBuilder().file("usr/bin/sudo", "x", 04755).build()),
                 make_layer(TarBuilder().file("app/.env", "A=1\n").build())});
  img.config = {{"User", "root"}};
  BuiltImage built = build_image(img);
  World w(built);
  ScanRecord done = w.run("127.0.0.1:5000/mem/app:1");
  CHECK(done.status == ScanStatus::done);
  CHECK(done.manifest_digest == sha256(built.manifest));
  CHECK(w.opened == 1);
  auto counters = w.store->counters();
  CHECK(counters.layer_writes == 3);
  CHECK(counters.layer_reads == 0);  // the report came from the facts the scan produced
  auto report = w.reporter.get(done.manifest_digest);
  REQUIRE(report);
  REQUIRE(*report);
  std::set<std::string> rules;
  for (auto& f : (**report)["findings"]) rules.insert(f["rule_id"]);
  CHECK(rules.count("BW-USER-ROOT"));
  CHECK(rules.count("BW-SUID"));
  CHECK(rules.count("BW-SHELL"));

  // A second scan of the same image reuses every stored layer: nothing is written again.
  ScanRecord again = w.run("127.0.0.1:5000/mem/app:1");
  CHECK(again.status == ScanStatus::done);
  CHECK(w.store->counters().layer_writes == 3);
}

TEST_CASE("a source whose blob does not match its digest fails the scan and stores nothing") {
  TestImage img({make_layer(TarBuilder().file("etc/passwd", "root:x:0:0::/:/bin/sh\n").build())});
  BuiltImage built = build_image(img);
  built.blobs[1] += "tampered";  // served under the original digest
  TempDir dir;
  boost::asio::io_context ioc;
  boost::asio::thread_pool workers{1};
  auto store = open_sqlite_store({dir.path() + "/b.db"}).value();
  RegistryClient registry{ioc.get_executor(), RegistryOptions{}};
  ScanService scans{ioc.get_executor(), workers, *store, registry, ScanOptions{}, nullptr};
  std::string layer_digest = sha256(img.layers[0].blob);
  scans.set_source_opener([&](const SourceSpec&) -> Result<std::unique_ptr<ImageSource>> {
    std::map<std::string, std::string> blobs{{sha256(built.blobs[0]), built.blobs[0]},
                                             {layer_digest, built.blobs[1]}};
    return memory_source(std::move(blobs), built.manifest);
  });
  auto rec = scans.submit(ScanRequest{"127.0.0.1:5000/mem/bad:1", "", "", ""});
  REQUIRE(rec);
  std::optional<ScanRecord> now;
  for (int i = 0; i < 3000; ++i) {
    ioc.restart();
    ioc.run_for(std::chrono::milliseconds(10));
    now = *scans.get(rec->id);
    if (now && now->status != ScanStatus::queued && now->status != ScanStatus::running) break;
  }
  REQUIRE(now);
  CHECK(now->status == ScanStatus::failed);
  CHECK(now->error_code == "digest_mismatch");
  CHECK_FALSE(*store->get_layer_meta(layer_digest));
  workers.join();
}

namespace {
class MarkerAnalyzer : public Analyzer {
 public:
  explicit MarkerAnalyzer(int v) : v_(v) {}
  std::string_view name() const override { return "marker"; }
  int version() const override { return v_; }
  std::size_t wants(const EntryView&, const AnalyzeOptions&) const override { return 0; }
  void analyze(const EntryView&, std::string_view, bool, const AnalyzeOptions&,
               FileInfo&) const override {}

 private:
  int v_;
};
}  // namespace

TEST_CASE("stored layers are analysed again only when an analyser in use is newer") {
  TestImage img({make_layer(TarBuilder().file("etc/passwd", "root:x:0:0::/:/bin/sh\n").build()),
                 make_layer(TarBuilder().file("app/run", "#!/bin/sh\n", 0755).build())});
  BuiltImage built = build_image(img);
  TempDir dir;
  std::string db = dir.path() + "/b.db";
  auto scan_with = [&](std::vector<const Analyzer*> analyzers) {
    boost::asio::io_context ioc;
    boost::asio::thread_pool workers{1};
    auto store = open_sqlite_store({db}).value();
    RegistryClient registry{ioc.get_executor(), RegistryOptions{}};
    ScanOptions options;
    options.analysis.analyzers = std::move(analyzers);
    ScanService scans{ioc.get_executor(), workers, *store, registry, options, nullptr};
    scans.set_source_opener([&](const SourceSpec&) -> Result<std::unique_ptr<ImageSource>> {
      std::map<std::string, std::string> blobs;
      for (auto& b : built.blobs) blobs[sha256(b)] = b;
      return memory_source(std::move(blobs), built.manifest);
    });
    auto rec = scans.submit(ScanRequest{"127.0.0.1:5000/mem/v:1", "", "", ""});
    REQUIRE(rec);
    for (int i = 0; i < 3000; ++i) {
      ioc.restart();
      ioc.run_for(std::chrono::milliseconds(10));
      auto now = *scans.get(rec->id);
      if (now && now->status != ScanStatus::queued && now->status != ScanStatus::running) break;
    }
    auto writes = store->counters().layer_writes;
    workers.join();
    return writes;
  };
  MarkerAnalyzer v1(1), v2(2);
  auto with = [&](const Analyzer* extra) {
    auto list = builtin_analyzers();
    if (extra) list.push_back(extra);
    return list;
  };
  CHECK(scan_with(with(&v1)) == 2);      // cold: both layers analysed
  CHECK(scan_with(with(&v1)) == 0);      // same analysers: reused
  CHECK(scan_with(with(nullptr)) == 0);  // one fewer: what is stored is still current
  CHECK(scan_with(with(&v2)) == 2);      // "marker" is newer: analysed again
}

TEST_CASE("a store refusing one table's writes fails the scan with its error; repaired, it scans") {
  TestImage img({make_layer(TarBuilder()
                                .file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
                                .file("app/run", "x", 0755)
                                .build())});
  BuiltImage built = build_image(img);
  for (std::string table :
       {"layers", "images", "image_layers", "tags", "reports", "reference_images"}) {
    CAPTURE(table);
    ScanOptions options;
    options.reference_images = {"127.0.0.1:5000/mem/app:1"};
    World w(built, options);
    const std::string db = w.dir.path() + "/b.db";
    auto sql = [&](const std::string& text) { sqlite_exec(db, text); };
    sql("CREATE TRIGGER refuse_i BEFORE INSERT ON " + table +
        " BEGIN SELECT RAISE(ABORT, 'injected'); END; CREATE TRIGGER refuse_u BEFORE UPDATE ON " +
        table + " BEGIN SELECT RAISE(ABORT, 'injected'); END;");
    // A reference image: the scan also records it as one.
    auto rec = w.scans.submit(ScanRequest{"127.0.0.1:5000/mem/app:1", "", "", "reference-images"});
    REQUIRE(rec);
    ScanRecord failed = until_finished(w.ioc, w.scans, rec->id);
    CHECK(failed.status == ScanStatus::failed);
    CHECK(failed.error_message.find("injected") != std::string::npos);
    sql("DROP TRIGGER refuse_i; DROP TRIGGER refuse_u;");
    ScanRecord again = w.run("127.0.0.1:5000/mem/app:1");
    CHECK(again.status == ScanStatus::done);
    // Once known, a rescan by tag still records the tag: refused, it fails too.
    if (table == "tags") {
      sql("CREATE TRIGGER refuse_i BEFORE INSERT ON tags BEGIN SELECT RAISE(ABORT, 'x'); END;"
          "CREATE TRIGGER refuse_u BEFORE UPDATE ON tags BEGIN SELECT RAISE(ABORT, 'x'); END;");
      CHECK(w.run("127.0.0.1:5000/mem/app:1").status == ScanStatus::failed);
    }
  }
}

namespace {

// A source that looks the image up as a registry source does. After the look it runs `during`,
// waits while `*hold` is set, then fails before any layer when `fails` (as a config past its
// limit would) or answers; it counts the blobs fetched through it by digest in `*fetched`.
struct AfterLook {
  std::function<void()> during = [] {};
  std::shared_ptr<bool> hold;
  bool fails = false;
  std::map<std::string, int>* fetched = nullptr;
};
class AfterLookSource : public ImageSource {
 public:
  AfterLookSource(std::unique_ptr<ImageSource> inner, AfterLook after)
      : inner_(std::move(inner)), after_(std::move(after)) {}
  boost::asio::awaitable<Result<std::pair<std::string, std::vector<Platform>>>> platforms()
      override {
    return inner_->platforms();
  }
  boost::asio::awaitable<Result<ResolvedImage>> resolve(const Platform& platform,
                                                        const KnownImage& known) override {
    auto r = co_await inner_->resolve(platform, {});
    if (!r) co_return r.error();
    if (known) r->known = co_await known(*r);
    after_.during();
    boost::asio::steady_timer pause(co_await boost::asio::this_coro::executor);
    while (after_.hold && *after_.hold) {
      pause.expires_after(std::chrono::milliseconds(5));
      co_await pause.async_wait(boost::asio::use_awaitable);
    }
    if (after_.fails) co_return make_error(Errc::unsupported_media_type, "config past its limit");
    co_return r;
  }
  boost::asio::awaitable<Result<void>> fetch_blob(const ResolvedImage& image, const Descriptor& d,
                                                  BlobSink sink) override {
    if (after_.fetched) ++(*after_.fetched)[d.digest];
    return inner_->fetch_blob(image, d, std::move(sink));
  }

 private:
  std::unique_ptr<ImageSource> inner_;
  AfterLook after_;
};

}  // namespace

TEST_CASE("the layer a scan's first look leased is let go when the scan ends before fetching it") {
  TestImage img({make_layer(TarBuilder().file("app/run", "x", 0755).build())});
  BuiltImage built = build_image(img);
  World w(built);
  const std::string lease = "layer:" + sha256(img.layers[0].blob);
  bool held_during = false;
  AfterLook after;
  after.during = [&] {
    held_during = !*w.store->acquire_lease(lease, "another-replica", std::chrono::seconds(60));
  };
  after.fails = true;
  w.scans.set_source_opener([&](const SourceSpec&) -> Result<std::unique_ptr<ImageSource>> {
    return std::unique_ptr<ImageSource>(
        std::make_unique<AfterLookSource>(memory_source(w.blobs, w.manifest), after));
  });
  ScanRecord failed = w.run("127.0.0.1:5000/mem/app:1");
  CHECK(failed.status == ScanStatus::failed);
  CHECK(failed.error_code == "unsupported_media_type");
  CHECK(held_during);  // the look leased the layer it would fetch first
  CHECK(*w.store->acquire_lease(lease, "another-replica", std::chrono::seconds(60)));
}

namespace {

HandMade hand_made(const json& config, const std::vector<TestLayer>& layers,
                   const std::function<void(json&)>& edit_manifest = {}) {
  HandMade h;
  std::string cfg = config.dump();
  h.blobs[sha256(cfg)] = cfg;
  json m = {{"schemaVersion", 2},
            {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
            {"config",
             {{"mediaType", "application/vnd.oci.image.config.v1+json"},
              {"digest", sha256(cfg)},
              {"size", cfg.size()}}},
            {"layers", json::array()}};
  for (auto& l : layers) {
    h.blobs[l.digest()] = l.blob;
    m["layers"].push_back({{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"},
                           {"digest", l.digest()},
                           {"size", l.blob.size()}});
  }
  if (edit_manifest) edit_manifest(m);
  h.manifest = m.dump();
  return h;
}

}  // namespace

TEST_CASE("a layer fetched here after another scan's first look is not fetched again by it") {
  // Two images sharing one layer. The first scan looks (the layer is not stored; its lease,
  // this process's, is taken with the look) and is held there; the second fetches and stores
  // the layer meanwhile. Trusting its look, the first would fetch the layer a second time.
  TestLayer shared = make_layer(TarBuilder().file("usr/bin/tool", "x", 0755).build());
  TestImage a({shared}), b({shared});
  a.config = {{"User", "1000"}};
  b.config = {{"User", "2000"}};
  BuiltImage built_a = build_image(a), built_b = build_image(b);
  World w(built_a);
  for (auto& [digest, blob] : blobs_of(built_b)) w.blobs[digest] = blob;
  std::string many_manifest;  // tag "many": an image of other layers, when a subcase adds one
  std::map<std::string, int> fetched;
  AfterLook held_after{.hold = std::make_shared<bool>(true), .fetched = &fetched};
  bool leased_by_look = false;
  held_after.during = [&] {
    leased_by_look = !*w.store->acquire_lease("layer:" + shared.digest(), "another-replica",
                                              std::chrono::seconds(60));
  };
  w.scans.set_source_opener([&](const SourceSpec& spec) -> Result<std::unique_ptr<ImageSource>> {
    const bool held = spec.ref.tag == "held";
    const std::string& manifest = held                     ? built_b.manifest
                                  : spec.ref.tag == "many" ? many_manifest
                                                           : built_a.manifest;
    return std::unique_ptr<ImageSource>(std::make_unique<AfterLookSource>(
        memory_source(w.blobs, manifest), held ? held_after : AfterLook{.fetched = &fetched}));
  });
  auto first = w.scans.submit(ScanRequest{"127.0.0.1:5000/mem/app:held", "", "", ""});
  REQUIRE(first);
  w.ioc.restart();
  w.ioc.run_for(std::chrono::milliseconds(200));
  REQUIRE(leased_by_look);  // the look leased the layer, as the first to fetch it
  REQUIRE(w.store->get_layer_meta(shared.digest()).value() == std::nullopt);
  // The second scan, while the first waits after its look: it fetches the layer and stores it.
  CHECK(w.run("127.0.0.1:5000/mem/app:other").status == ScanStatus::done);
  CHECK(fetched[shared.digest()] == 1);
  SUBCASE("the fetch is among those this process remembers") {}
  SUBCASE("more fetches than this process remembers end after it") {
    // The shared layer's fetch is no longer remembered: the look is taken as stale all the same.
    std::vector<TestLayer> layers;
    for (std::size_t i = 0; i < ScanService::kEndedJobsKept; ++i)
      layers.push_back(make_layer(TarBuilder().file("app/f" + std::to_string(i), "x").build()));
    BuiltImage built_many = build_image(TestImage(layers));
    for (auto& [digest, blob] : blobs_of(built_many)) w.blobs[digest] = blob;
    many_manifest = built_many.manifest;
    CHECK(w.run("127.0.0.1:5000/mem/app:many").status == ScanStatus::done);
    CHECK(fetched.size() == ScanService::kEndedJobsKept + 1);
  }
  *held_after.hold = false;
  CHECK(until_finished(w.ioc, w.scans, first->id).status == ScanStatus::done);
  CHECK(fetched[shared.digest()] == 1);
  CHECK(w.store->counters().layer_writes == fetched.size());  // each layer stored once
}

TEST_CASE("configs without config, rootfs or enough diff_ids still scan; by digest, no tag") {
  TestLayer a = make_layer(TarBuilder().file("app/a", "a", 0755).build());
  TestLayer b = make_layer(TarBuilder().file("app/b", "b", 0755).build());
  // No "config", and rootfs names one diff_id for two layers.
  World w(hand_made({{"architecture", "amd64"},
                     {"os", "linux"},
                     {"rootfs", {{"type", "layers"}, {"diff_ids", {a.diff_id}}}}},
                    {a, b}));
  std::string digest = sha256(w.manifest);
  ScanRecord done = w.run("127.0.0.1:5000/mem/app@" + digest);
  CHECK(done.status == ScanStatus::done);
  auto tags = w.store->list_tags("127.0.0.1:5000", "mem/app", w.reporter.rules().version());
  REQUIRE(tags);
  CHECK(tags->empty());  // scanned by digest: no tag recorded
  // No rootfs at all.
  World bare(hand_made({{"architecture", "amd64"}, {"os", "linux"}}, {a}));
  CHECK(bare.run("127.0.0.1:5000/mem/bare:1").status == ScanStatus::done);
}

TEST_CASE("foreign and non-distributable layers are skipped, never fetched, and flagged") {
  TestLayer base = make_layer(TarBuilder().file("Windows/x", "x").build());
  TestLayer app = make_layer(TarBuilder().file("app/run", "x", 0755).build());
  World w(hand_made({{"architecture", "amd64"}, {"os", "linux"}}, {base, app}, [&](json& m) {
    m["layers"][0]["urls"] = {"https://foreign.example/layer"};
    m["layers"][1]["mediaType"] = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
  }));
  w.blobs.clear();  // nothing but the config can be fetched
  std::string cfg = json{{"architecture", "amd64"}, {"os", "linux"}}.dump();
  w.blobs[sha256(cfg)] = cfg;
  ScanRecord done = w.run("127.0.0.1:5000/mem/foreign:1");
  REQUIRE(done.status == ScanStatus::done);
  auto report = w.reporter.get(done.manifest_digest);
  REQUIRE(report);
  REQUIRE(*report);
  int unanalysed = 0;
  for (auto& f : (**report)["findings"])
    if (f["rule_id"] == "BW-LAYER-UNANALYSED") {
      ++unanalysed;
      CHECK_MESSAGE(f["evidence"]["detail"].get<std::string>().find(
                        "foreign or non-distributable layer: not fetched") != std::string::npos,
                    f.dump());
    }
  CHECK(unanalysed == 2);
}

TEST_CASE("a layer stored by an older analyser set is analysed again; scan ids are checked") {
  TestLayer a = make_layer(TarBuilder().file("app/a", "a", 0755).build());
  World w(hand_made({{"architecture", "amd64"}, {"os", "linux"}}, {a}));
  REQUIRE(w.run("127.0.0.1:5000/mem/app:1").status == ScanStatus::done);
  CHECK(w.store->counters().layer_writes == 1);
  std::string out;
  const std::string db = w.dir.path() + "/b.db";
  // Stored before per-analyser versions were kept; then by an older overall version.
  for (const char* sql : {"UPDATE layers SET analyzer_versions = NULL",
                          "UPDATE layers SET analyzer_versions = '{\"elf\": 1}'",
                          "UPDATE layers SET analyzer_version = 0"}) {
    CAPTURE(sql);
    auto before = w.store->counters().layer_writes;
    REQUIRE(run_command({"sqlite3", db, sql}, out) == 0);
    REQUIRE(w.run("127.0.0.1:5000/mem/app:1").status == ScanStatus::done);
    CHECK(w.store->counters().layer_writes == before + 1);
  }
  for (std::string id :
       std::vector<std::string>{"scan_short", "nope", "scan_" + std::string(32, 'z')}) {
    auto got = w.scans.get(id);
    REQUIRE(got);
    CHECK_FALSE(*got);
  }
}

namespace {

template <typename T>
T run_on(boost::asio::io_context& ioc, boost::asio::awaitable<T> a) {
  auto fut = boost::asio::co_spawn(ioc, std::move(a), boost::asio::use_future);
  ioc.restart();
  ioc.run_for(std::chrono::seconds(10));
  REQUIRE(fut.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
  return fut.get();
}

// Tag checks made together, as a registry pass's visits make them: (tag of mem/app, head
// digest) each, answered in order (unset for a check not answered within 10 s).
std::vector<std::optional<Result<TagState>>> check_tags_together(
    boost::asio::io_context& ioc, ScanService& scans,
    const std::vector<std::pair<std::string, std::string>>& asked) {
  std::vector<std::optional<Result<TagState>>> got(asked.size());
  for (std::size_t i = 0; i < asked.size(); ++i) {
    auto ref = parse_reference("127.0.0.1:5000/mem/app:" + asked[i].first);
    REQUIRE(ref);
    boost::asio::co_spawn(ioc, scans.async_check_tag(*ref, asked[i].second),
                          [&got, i](std::exception_ptr, Result<TagState> r) { got[i] = r; });
  }
  ioc.restart();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::any_of(got.begin(), got.end(), [](auto& g) { return !g; }) &&
         std::chrono::steady_clock::now() < deadline)
    ioc.run_one_for(std::chrono::milliseconds(100));
  return got;
}

}  // namespace

TEST_CASE("a registry pass's tag checks made meanwhile reach the store as one batch") {
  TestImage img({make_layer(TarBuilder().file("app/a", "a", 0755).build())});
  BuiltImage built = build_image(img);
  World w(built);
  const std::string digest = sha256(built.manifest);
  for (const char* tag : {"1", "2", "3"})
    REQUIRE(w.run(std::string("127.0.0.1:5000/mem/app:") + tag).status == ScanStatus::done);
  // The store's generation, which every write moves on by one (SQLite's "<nonce>-<count>").
  auto writes = [&] {
    std::string g = w.store->generation().value();
    return std::stoull(g.substr(g.rfind('-') + 1));
  };
  // What the scans left to write after their end (pruning, leases) is written first.
  w.ioc.restart();
  w.ioc.run_for(std::chrono::milliseconds(300));
  const auto before = writes();
  const std::vector<std::pair<std::string, std::string>> asked{
      {"1", digest},
      {"2", digest},
      {"3", digest},
      {"4", digest},
      {"1", "sha256:" + std::string(64, 'b')}};
  auto got = check_tags_together(w.ioc, w.scans, asked);
  std::vector<TagState> states;
  for (auto& g : got) {
    REQUIRE(g);
    REQUIRE(*g);
    states.push_back(**g);
  }
  CHECK(states == std::vector<TagState>{TagState::unchanged, TagState::unchanged,
                                        TagState::unchanged, TagState::changed, TagState::changed});
  // Three tags recorded as seen in one write.
  CHECK(writes() == before + 1);
  CHECK(w.scans.metrics().unchanged_tags == 3);

  // A repository's tags checked by one caller, as a visit checks them once each was HEADed:
  // answered in the order asked, in one write.
  std::vector<ScanService::TagHead> heads;
  for (auto [tag, head] : std::vector<std::pair<std::string, std::string>>{
           {"3", "sha256:" + std::string(64, 'c')}, {"2", digest}, {"5", digest}, {"1", digest}}) {
    auto ref = parse_reference("127.0.0.1:5000/mem/app:" + tag);
    REQUIRE(ref);
    heads.push_back({*ref, head});
  }
  const auto before_together = writes();
  auto together = run_on(w.ioc, w.scans.async_check_tags(heads));
  REQUIRE(together.size() == 4);
  states.clear();
  for (auto& g : together) {
    REQUIRE(g);
    states.push_back(*g);
  }
  CHECK(states == std::vector<TagState>{TagState::changed, TagState::unchanged, TagState::changed,
                                        TagState::unchanged});
  CHECK(writes() == before_together + 1);
  CHECK(w.scans.metrics().unchanged_tags == 5);
}

TEST_CASE("a tag check batch the store refuses answers every waiter with the error") {
  TestImage img({make_layer(TarBuilder().file("app/a", "a", 0755).build())});
  BuiltImage built = build_image(img);
  World w(built);
  const std::string digest = sha256(built.manifest);
  REQUIRE(w.run("127.0.0.1:5000/mem/app:1").status == ScanStatus::done);
  w.ioc.restart();
  w.ioc.run_for(std::chrono::milliseconds(300));
  // The reports table moved away under the daemon: the batch's store call fails.
  std::string out;
  const std::string db = w.dir.path() + "/b.db";
  REQUIRE(run_command({"sqlite3", db, "ALTER TABLE reports RENAME TO reports_away"}, out) == 0);
  auto got = check_tags_together(w.ioc, w.scans, {{"1", digest}, {"2", digest}, {"3", digest}});
  // Every waiter is answered (none hangs), with the store's error rather than a guess: the
  // scheduler then queues a scan, which says what went wrong.
  for (auto& g : got) {
    REQUIRE(g);
    REQUIRE_FALSE(*g);
    CHECK(g->error().message.find("reports") != std::string::npos);
  }
  CHECK(w.scans.metrics().unchanged_tags == 0);
  // Once the table is back, the next check is sent and answered: the sender was not left
  // marked as busy.
  REQUIRE(run_command({"sqlite3", db, "ALTER TABLE reports_away RENAME TO reports"}, out) == 0);
  auto ref = parse_reference("127.0.0.1:5000/mem/app:1");
  REQUIRE(ref);
  auto again = run_on(w.ioc, w.scans.async_check_tag(*ref, digest));
  REQUIRE(again);
  CHECK(*again == TagState::unchanged);
  CHECK(w.scans.metrics().unchanged_tags == 1);
}

TEST_CASE("a wait on a scan running here, and a read after it, return its end from memory") {
  // The end's row is deleted as the end is told: a wait that read the scan back from the store
  // after its end would find none.
  TestImage img({make_layer(TarBuilder().file("app/a", "a", 0755).build())});
  World w(build_image(img));
  const std::string db = w.dir.path() + "/b.db";
  std::string told;
  w.scans.on_finished([&](const ScanRecord& r) {
    told = r.id;
    sqlite_exec(db, "DELETE FROM scans WHERE id = '" + r.id + "'");
  });
  auto rec = w.scans.submit(ScanRequest{"127.0.0.1:5000/mem/app:1", "", "", ""});
  REQUIRE(rec);
  auto ended = run_on(w.ioc, w.scans.wait(rec->id, std::chrono::seconds(30)));
  REQUIRE(ended);
  REQUIRE(*ended);
  CHECK((*ended)->status == ScanStatus::done);
  CHECK_FALSE((*ended)->result.empty());
  CHECK(told == rec->id);
  // So is a read after its end, until kEndsKept later ends have taken its place.
  auto again = w.scans.get(rec->id);
  REQUIRE(again);
  REQUIRE(*again);
  CHECK((*again)->status == ScanStatus::done);
  for (std::size_t i = 0; i < ScanService::kEndsKept; ++i)
    REQUIRE(w.run("127.0.0.1:5000/mem/app:1").status == ScanStatus::done);
  again = w.scans.get(rec->id);
  REQUIRE(again);
  CHECK_FALSE(*again);  // read from the store, which has no such scan
}

namespace {

// A queued scan's row as another replica sharing the store writes it; its id is made of `c`.
ScanRecord queued_elsewhere(char c, const std::string& image) {
  ScanRecord s;
  s.id = "scan_" + std::string(32, c);
  s.image = image;
  s.platform = "linux/amd64";
  s.created_at = "2026-01-01T00:00:00Z";
  return s;
}

}  // namespace

TEST_CASE("an idle replica's poll claims only when the queue's counter says a scan is queued") {
  // A scan queued in the store, as another replica queues one, with the queue's counter set to
  // 0 behind the store's back: a poll that trusts the counter leaves the scan alone; once the
  // counter says 1, the next poll claims it and it runs.
  TestImage img({make_layer(TarBuilder().file("app/a", "a", 0755).build())});
  World w(build_image(img));
  boost::asio::thread_pool store_pool{1};
  w.scans.set_store_pool(&store_pool);
  ScanRecord queued = queued_elsewhere('7', "127.0.0.1:5000/mem/app:1");
  REQUIRE(w.store->put_scan(queued));
  const std::string db = w.dir.path() + "/b.db";
  sqlite_exec(db, "UPDATE fleet_counts SET value = 0 WHERE name = 'scans|queued'");
  boost::asio::co_spawn(w.ioc, w.scans.keep_leases(), boost::asio::detached);
  w.ioc.restart();
  w.ioc.run_for(std::chrono::milliseconds(2500));  // two polls
  CHECK((*w.store->get_scan(queued.id))->status == ScanStatus::queued);
  sqlite_exec(db, "UPDATE fleet_counts SET value = 1 WHERE name = 'scans|queued'");
  CHECK(until_finished(w.ioc, w.scans, queued.id).status == ScanStatus::done);
  run_on(w.ioc, w.scans.shutdown());
  store_pool.join();
}

TEST_CASE("waits, pending images and cancels at their edges") {
  TestImage img({make_layer(TarBuilder().file("app/a", "a", 0755).build())});
  World w(build_image(img));
  ScanRecord done = w.run("127.0.0.1:5000/mem/app:1");
  // No time to wait, a finished scan, an unknown one: each returns at once, with what it read.
  for (auto timeout : {std::chrono::milliseconds(0), std::chrono::milliseconds(30'000)}) {
    auto at_once = run_on(w.ioc, w.scans.wait(done.id, timeout));
    REQUIRE(at_once);
    REQUIRE(*at_once);
    CHECK((*at_once)->status == ScanStatus::done);
  }
  auto never =
      run_on(w.ioc, w.scans.wait("scan_" + std::string(32, '0'), std::chrono::seconds(30)));
  REQUIRE(never);
  CHECK_FALSE(*never);
  CHECK_FALSE(w.scans.pending("127.0.0.1:5000/mem/app:1"));
  // Queued by another replica sharing the store: pending here too; cancelled from here, which
  // tells on_finished (no replica will run it).
  std::vector<std::string> told;
  w.scans.on_finished([&](const ScanRecord& r) { told.push_back(r.id); });
  ScanRecord queued = queued_elsewhere('2', "127.0.0.1:5000/mem/other:1");
  REQUIRE(w.store->put_scan(queued));
  CHECK(w.scans.pending("127.0.0.1:5000/mem/other:1"));
  // Followed in the store until the time is up; still queued.
  auto still = run_on(w.ioc, w.scans.wait(queued.id, std::chrono::milliseconds(300)));
  REQUIRE(still);
  REQUIRE(*still);
  CHECK((*still)->status == ScanStatus::queued);
  auto cancelled = w.scans.cancel(queued.id);
  REQUIRE(cancelled);
  CHECK(cancelled->status == ScanStatus::cancelled);
  CHECK(told == std::vector<std::string>{queued.id});
  // Running here: cancelled at its next step.
  auto live = w.scans.submit(ScanRequest{"127.0.0.1:5000/mem/third:1", "", "", ""});
  REQUIRE(live);
  CHECK(w.scans.pending("127.0.0.1:5000/mem/third:1"));
  REQUIRE(w.scans.cancel(live->id));
  CHECK(until_finished(w.ioc, w.scans, live->id).status == ScanStatus::cancelled);
  CHECK(told.size() == 2);
  auto unknown = w.scans.cancel("scan_" + std::string(32, '1'));
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().code == Errc::not_found);
  // A finished scan is not cancelled again, and nobody is told twice.
  auto again = w.scans.cancel(done.id);
  REQUIRE(again);
  CHECK(again->status == ScanStatus::done);
  CHECK(told.size() == 2);
}

TEST_CASE("every platform of an image that cannot be opened or listed fails with the reason") {
  TestImage img({make_layer(TarBuilder().file("app/a", "a", 0755).build())});
  BuiltImage built = build_image(img);
  World w(built);
  auto all = [&] {
    auto rec = w.scans.submit(ScanRequest{"127.0.0.1:5000/mem/app:1", "all", "", ""});
    REQUIRE(rec);
    return until_finished(w.ioc, w.scans, rec->id);
  };
  w.scans.set_source_opener([](const SourceSpec&) -> Result<std::unique_ptr<ImageSource>> {
    return make_error(Errc::registry_unreachable, "no route to the registry");
  });
  ScanRecord unopened = all();
  CHECK(unopened.status == ScanStatus::failed);
  CHECK(unopened.error_code == "registry_unreachable");
  w.scans.set_source_opener([](const SourceSpec&) -> Result<std::unique_ptr<ImageSource>> {
    return memory_source({}, "{\"schemaVersion\": 2}");
  });
  ScanRecord unlisted = all();
  CHECK(unlisted.status == ScanStatus::failed);
  CHECK(unlisted.error_code == "unsupported_media_type");
  // Two platforms listed, neither there: both named in the failure.
  TestImage arm({make_layer(TarBuilder().file("app/arm", "r", 0755).build())});
  arm.architecture = "arm64";
  std::string index = index_document({{built, img}, {build_image(arm), arm}}, false);
  w.scans.set_source_opener([&](const SourceSpec&) -> Result<std::unique_ptr<ImageSource>> {
    return memory_source({}, index);
  });
  ScanRecord lost = all();
  CHECK(lost.status == ScanStatus::failed);
  CHECK(lost.error_message.find("linux/amd64: ") != std::string::npos);
  CHECK(lost.error_message.find("; linux/arm64: ") != std::string::npos);
}

TEST_CASE(
    "without a reporter every scan reads its layers; a layer table that fails to read "
    "fails the scan") {
  TestImage img({make_layer(TarBuilder().file("app/a", "a", 0755).build())});
  BuiltImage built = build_image(img);
  World w(blobs_of(built), built.manifest, ScanOptions{}, /*with_reporter=*/false);
  CHECK(w.run("127.0.0.1:5000/mem/app:1").status == ScanStatus::done);
  // No report to reuse: the layer's facts, read back.
  CHECK(w.run("127.0.0.1:5000/mem/app:1").status == ScanStatus::done);
  CHECK(w.store->counters().layer_writes == 1);
  sqlite_exec(w.dir.path() + "/b.db", sqlite_failing_reads("layers"));
  ScanRecord failed = w.run("127.0.0.1:5000/mem/app:1");
  CHECK(failed.status == ScanStatus::failed);
  // The read that failed is named: the row's (integer overflow), or the index the layer's
  // metadata is read from, which the broken table no longer has.
  CHECK_MESSAGE((failed.error_message.find("overflow") != std::string::npos ||
                 failed.error_message.find("layers_meta") != std::string::npos),
                failed.error_message);
}

TEST_CASE("a queued scan whose stored reference or platform does not parse fails, named") {
  TestImage img({make_layer(TarBuilder().file("app/a", "a", 0755).build())});
  World w(build_image(img));
  // Rows as another (older, or damaged) replica could have left them.
  ScanRecord bad_ref, bad_platform;
  bad_ref.id = "scan_" + std::string(32, '3');
  bad_ref.image = "Not A Reference";
  bad_ref.platform = "linux/amd64";
  bad_ref.created_at = "2026-01-01T00:00:00Z";
  bad_platform = bad_ref;
  bad_platform.id = "scan_" + std::string(32, '4');
  bad_platform.image = "127.0.0.1:5000/mem/app:1";
  bad_platform.platform = "linux";
  REQUIRE(w.store->put_scan(bad_ref));
  REQUIRE(w.store->put_scan(bad_platform));
  // A scan submitted now claims the queue oldest first: the two rows, then itself.
  CHECK(w.run("127.0.0.1:5000/mem/app:1").status == ScanStatus::done);
  for (auto& id : {bad_ref.id, bad_platform.id}) {
    auto got = w.scans.get(id);
    REQUIRE(got);
    REQUIRE(*got);
    CHECK((*got)->status == ScanStatus::failed);
    CHECK((*got)->error_code == "bad_reference");
  }
}

TEST_CASE(
    "scan states the store refuses are kept, served, retried, and written once it takes "
    "them; a claim it refuses leaves the scan queued") {
  TestImage img({make_layer(TarBuilder().file("app/a", "a", 0755).build())});
  World w(build_image(img));
  const std::string db = w.dir.path() + "/b.db";
  auto sql = [&](const std::string& text) { sqlite_exec(db, text); };
  auto spin = [&](std::chrono::milliseconds total) {
    for (auto t = std::chrono::milliseconds(0); t < total; t += std::chrono::milliseconds(10)) {
      w.ioc.restart();
      w.ioc.run_for(std::chrono::milliseconds(10));
    }
  };
  auto rec = w.scans.submit(ScanRequest{"127.0.0.1:5000/mem/app:1", "", "", ""});
  REQUIRE(rec);
  sql("CREATE TRIGGER refuse BEFORE UPDATE ON scans BEGIN SELECT RAISE(ABORT, 'full'); END;");
  CHECK(until_finished(w.ioc, w.scans, rec->id).status == ScanStatus::done);  // from memory
  auto stored = w.store->get_scan(rec->id);
  REQUIRE(stored);
  CHECK((*stored)->status == ScanStatus::running);  // not written yet
  spin(std::chrono::milliseconds(700));             // a retry, refused again
  CHECK((*w.store->get_scan(rec->id))->status == ScanStatus::running);
  sql("DROP TRIGGER refuse;");
  for (int i = 0; i < 300 && (*w.store->get_scan(rec->id))->status != ScanStatus::done; ++i)
    spin(std::chrono::milliseconds(50));
  CHECK((*w.store->get_scan(rec->id))->status == ScanStatus::done);
  // What it found was kept with it and written with its end.
  const std::string digest = (*w.store->get_scan(rec->id))->manifest_digest;
  CHECK(*w.store->get_image(digest));
  CHECK(w.store->known_result(rec->image, "linux/amd64", w.reporter.rules().version()).value());

  // The claim itself refused: the scan stays queued for a later claim.
  sql("CREATE TRIGGER refuse BEFORE UPDATE ON scans BEGIN SELECT RAISE(ABORT, 'full'); END;");
  auto waiting = w.scans.submit(ScanRequest{"127.0.0.1:5000/mem/app:2", "", "", ""});
  REQUIRE(waiting);
  spin(std::chrono::milliseconds(100));
  CHECK((*w.scans.get(waiting->id))->status == ScanStatus::queued);
  sql("DROP TRIGGER refuse;");
}

TEST_CASE("an every-platform scan cancelled at once ends cancelled") {
  TestImage amd({make_layer(TarBuilder().file("app/amd", "a", 0755).build())});
  TestImage arm({make_layer(TarBuilder().file("app/arm", "r", 0755).build())});
  arm.architecture = "arm64";
  BuiltImage amd_built = build_image(amd), arm_built = build_image(arm);
  std::string index = index_document({{amd_built, amd}, {arm_built, arm}}, false);
  World w(amd_built);
  w.scans.set_source_opener([&](const SourceSpec&) -> Result<std::unique_ptr<ImageSource>> {
    std::map<std::string, std::string> blobs;
    for (auto* b : {&amd_built, &arm_built}) {
      for (auto& blob : b->blobs) blobs[sha256(blob)] = blob;
      blobs[sha256(b->manifest)] = b->manifest;
    }
    return memory_source(std::move(blobs), index);
  });
  auto parent = w.scans.submit(ScanRequest{"127.0.0.1:5000/mem/multi:1", "all", "", ""});
  REQUIRE(parent);
  REQUIRE(w.scans.cancel(parent->id));
  CHECK(until_finished(w.ioc, w.scans, parent->id).status == ScanStatus::cancelled);
}

TEST_CASE("adoption leaves a scan this process claimed and has not started yet") {
  TestImage img({make_layer(TarBuilder().file("app/a", "a", 0755).build())});
  World w(build_image(img));
  // Two running rows: one claimed by this process a moment ago (its lease is this replica's;
  // its start waits for the io thread), one whose replica is gone (no lease).
  auto running = [&](char c) {
    ScanRecord r;
    r.id = "scan_" + std::string(32, c);
    r.image = "127.0.0.1:5000/mem/app:1";
    r.platform = "linux/amd64";
    r.status = ScanStatus::running;
    r.created_at = r.started_at = now_rfc3339();
    REQUIRE(w.store->put_scan(r));
    return r.id;
  };
  const std::string claimed = running('7'), orphan = running('8');
  REQUIRE(w.store->acquire_lease("scan:" + claimed, w.scans.replica_id(), std::chrono::seconds(30))
              .value());
  REQUIRE(w.scans.recover());
  // Taken for an orphan, this process's own claim would be queued again, claimed and run a
  // second time (here to done) while its first start is still to come.
  auto kept = w.store->get_scan(claimed);
  REQUIRE(kept);
  REQUIRE(*kept);
  CHECK((*kept)->status == ScanStatus::running);
  // The orphan was queued again and runs here.
  CHECK(until_finished(w.ioc, w.scans, orphan).status == ScanStatus::done);
  kept = w.store->get_scan(claimed);
  REQUIRE(kept);
  REQUIRE(*kept);
  CHECK((*kept)->status == ScanStatus::running);
}

TEST_CASE("after shutdown nothing new is taken; recovery reports a store it cannot read") {
  TestImage img({make_layer(TarBuilder().file("app/a", "a", 0755).build())});
  World w(build_image(img));
  REQUIRE(w.run("127.0.0.1:5000/mem/app:1").status == ScanStatus::done);
  run_on(w.ioc, w.scans.shutdown());
  auto late = w.scans.submit(ScanRequest{"127.0.0.1:5000/mem/app:2", "", "", ""});
  REQUIRE_FALSE(late);
  CHECK(late.error().code == Errc::unavailable);
  CHECK(run_on(w.ioc, w.scans.wait("scan_" + std::string(32, '5'), std::chrono::seconds(30))));

  World broken(build_image(img));
  sqlite_exec(broken.dir.path() + "/b.db",
              sqlite_failing_reads("scans") +
                  "INSERT INTO scans_real(id, image, platform, status, created_at) VALUES "
                  "('scan_" +
                  std::string(32, '6') + "', 'x', 'linux/amd64', 'running', 't');");
  auto r = broken.scans.recover();
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("overflow") != std::string::npos);
  // A wait on a scan not known here reads the store, and answers with its error.
  auto unread = run_on(broken.ioc,
                       broken.scans.wait("scan_" + std::string(32, '6'), std::chrono::seconds(30)));
  REQUIRE_FALSE(unread);
  CHECK(unread.error().message.find("overflow") != std::string::npos);
}
