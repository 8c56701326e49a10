#include "store_checks.h"

#include "common/time_util.h"
#include "process.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>
#include <thread>

namespace bw::test {
namespace {

std::string digest_of(char c) {
  return "sha256:" + std::string(64, c);
}

LayerRecord layer(char c) {
  LayerRecord rec{
      digest_of(c), "application/vnd.oci.image.layer.v1.tar+gzip", 1, "2026-01-01T00:00:00Z", {}};
  rec.facts.compression = "gzip";
  rec.facts.compressed_size = 10;
  rec.facts.uncompressed_size = 20;
  rec.facts.diff_id = digest_of('d');
  rec.facts.entry_count = 3;
  return rec;
}

ImageRecord image(char c, const std::vector<char>& layers) {
  ImageRecord im;
  im.manifest_digest = digest_of(c);
  im.media_type = "application/vnd.oci.image.manifest.v1+json";
  im.config_digest = digest_of('c');
  im.os = "linux";
  im.architecture = "amd64";
  im.user = "1000";
  im.config = "{}";
  im.manifest = "{}";
  for (char l : layers) im.layers.push_back({digest_of(l), "x", 10, digest_of('d')});
  return im;
}

ReportRecord report(char c, const std::string& version, int score, const std::string& grade,
                    const std::string& base, bool eol) {
  nlohmann::json findings = nlohmann::json::array();
  if (eol) findings.push_back({{"rule_id", "BW-OS-EOL"}, {"suppressed", false}});
  findings.push_back({{"rule_id", "BW-SHELL"}, {"suppressed", false}});
  nlohmann::json r = {{"score", score}, {"base", {{"name", base}}}, {"findings", findings}};
  return {digest_of(c), version, "reg.example/app:1", score, grade, r.dump(), base, eol, "", ""};
}

}  // namespace

ScanRecord queued_scan(std::string id, std::string image, std::string created_at) {
  ScanRecord r;
  r.id = std::move(id);
  r.image = std::move(image);
  r.platform = "linux/amd64";
  r.created_at = std::move(created_at);
  return r;
}

void sqlite_exec(const std::string& path, const std::string& sql) {
  std::string out;
  REQUIRE_MESSAGE(run_command({"sqlite3", path, sql}, out) == 0, out);
}

void psql_exec(const std::string& url, const std::string& sql) {
  std::string out;
  REQUIRE_MESSAGE(
      run_command({"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql}, out) == 0, out);
}

std::string sqlite_failing_reads(const std::string& table) {
  return "ALTER TABLE " + table + " RENAME TO " + table + "_real; CREATE VIEW " + table +
         " AS SELECT * FROM " + table + "_real WHERE abs(-9223372036854775808) IS NOT NULL;";
}

void check_migrations(const StoreFactory& open) {
  std::vector<int> first;
  {
    auto s = open();
    REQUIRE(s);
    auto v = s->schema_versions();
    REQUIRE(v);
    REQUIRE_FALSE(v->empty());
    CHECK(v->front() == 1);
    CHECK(std::is_sorted(v->begin(), v->end()));
    first = *v;
  }
  auto again = open();
  REQUIRE(again);
  CHECK(*again->schema_versions() == first);
  CHECK(*again->integrity_check() == "ok");
}

void check_layer_cache(Store& here, Store& elsewhere) {
  LayerRecord rec = layer('c');
  rec.facts.entry_count = 7;
  rec.facts.path_hashes = {1, 2, 3};
  REQUIRE(here.put_layer(rec));
  const auto base = here.counters();
  auto read = [&] {
    auto got = here.get_layers({rec.digest, digest_of('f')});
    REQUIRE(got);
    REQUIRE(got->size() == 2);
    CHECK_FALSE((*got)[1]);
    REQUIRE((*got)[0]);
    return (*got)[0];
  };
  const SharedLayerRecord first = read();
  CHECK(first->facts.entry_count == 7);
  CHECK(here.counters().layer_reads == base.layer_reads + 1);
  CHECK(here.counters().layer_cache_hits == base.layer_cache_hits);
  // Unchanged: the row is read, its facts are neither sent nor parsed, nor copied: the record
  // read first is shared.
  const SharedLayerRecord again = read();
  CHECK(again == first);
  CHECK(again->facts.entry_count == 7);
  CHECK(again->facts.path_hashes == std::vector<std::uint64_t>{1, 2, 3});
  CHECK(again->analyzed_at == rec.analyzed_at);
  CHECK(here.counters().layer_reads == base.layer_reads + 1);
  CHECK(here.counters().layer_cache_hits == base.layer_cache_hits + 1);
  // The report's sources read through the same cache.
  auto sources = here.report_sources(digest_of('e'), {rec.digest});
  REQUIRE(sources);
  REQUIRE(sources->layers.size() == 1);
  REQUIRE(sources->layers[0]);
  CHECK(sources->layers[0] == first);
  CHECK(sources->layers[0]->facts.entry_count == 7);
  CHECK(here.counters().layer_cache_hits == base.layer_cache_hits + 2);
  // So does a new image's first look, for the report it will build.
  LookupAsk ask;
  ask.sources = true;
  auto look = here.lookup_image(digest_of('d'), "rs", {rec.digest}, ask);
  REQUIRE(look);
  REQUIRE(look->sources);
  REQUIRE(look->sources->layers.size() == 1);
  REQUIRE(look->sources->layers[0]);
  CHECK(look->sources->layers[0] == first);
  CHECK(look->sources->layers[0]->facts.path_hashes == std::vector<std::uint64_t>{1, 2, 3});
  CHECK(here.counters().layer_cache_hits == base.layer_cache_hits + 3);
  // Rewritten elsewhere (analysed again, in the same second): this store reads the new facts,
  // and the record the readers before hold stays as they read it.
  rec.facts.entry_count = 9;
  rec.facts.path_hashes = {4};
  REQUIRE(elsewhere.put_layer(rec));
  const SharedLayerRecord changed = read();
  CHECK(changed != first);
  CHECK(changed->facts.entry_count == 9);
  CHECK(changed->facts.path_hashes == std::vector<std::uint64_t>{4});
  CHECK(first->facts.entry_count == 7);
  CHECK(here.counters().layer_reads == base.layer_reads + 2);
  CHECK(read()->facts.entry_count == 9);
  CHECK(here.counters().layer_cache_hits == base.layer_cache_hits + 4);
  // Written here too: the next read is of the stored row, not of what was kept.
  rec.facts.entry_count = 11;
  REQUIRE(here.put_layer(rec));
  CHECK(read()->facts.entry_count == 11);
}

void check_layer_round_trip(Store& store) {
  LayerRecord rec = layer('1');
  rec.facts.files.push_back({"usr/bin/su", 'f', 04755, 0, 0, 100, "", {}, {}});
  rec.facts.files.push_back({"bin/sh", 'l', 0777, 0, 0, 0, "dash", {}, {}});
  rec.facts.whiteouts.push_back({"etc/old", false});
  rec.facts.whiteouts.push_back({"var/cache", true});
  rec.facts.path_hashes = {1, 0xfedcba9876543210ull, 42};
  rec.facts.analyzer_versions = {{"elf", 2}, {"secrets", 1}};
  REQUIRE(store.put_layer(rec));
  auto got = store.get_layer(rec.digest);
  REQUIRE(got);
  REQUIRE(*got);
  CHECK((*got)->facts.diff_id == rec.facts.diff_id);
  REQUIRE((*got)->facts.files.size() == 2);
  CHECK((*got)->facts.files[0].mode == 04755);
  CHECK((*got)->facts.files[1].link == "dash");
  CHECK((*got)->facts.whiteouts[1].opaque);
  CHECK((*got)->facts.path_hashes == rec.facts.path_hashes);
  auto meta = store.get_layer_meta(rec.digest);
  REQUIRE(meta);
  REQUIRE(*meta);
  CHECK((*meta)->analyzer_versions == rec.facts.analyzer_versions);
  CHECK((*meta)->status == LayerStatus::complete);
  rec.analyzer_version = 2;
  rec.facts.files.pop_back();
  rec.facts.status = LayerStatus::limit_exceeded;
  rec.facts.status_reason = "too many entries";
  REQUIRE(store.put_layer(rec));
  CHECK((*store.get_layer(rec.digest))->analyzer_version == 2);
  CHECK((*store.get_layer(rec.digest))->facts.files.size() == 1);
  CHECK((*store.get_layer_meta(rec.digest))->status == LayerStatus::limit_exceeded);
  CHECK_FALSE(*store.get_layer(digest_of('9')));
  CHECK_FALSE(*store.get_layer_meta(digest_of('9')));
  // Batched reads: in the order asked, a missing layer as nullopt, one named twice twice.
  REQUIRE(store.put_layer(layer('2')));
  const std::vector<std::string> asked = {digest_of('2'), digest_of('9'), rec.digest,
                                          digest_of('2')};
  auto metas = store.get_layer_metas(asked);
  REQUIRE(metas);
  REQUIRE(metas->size() == 4);
  CHECK((*metas)[0]->diff_id == layer('2').facts.diff_id);
  CHECK_FALSE((*metas)[1]);
  CHECK((*metas)[2]->status == LayerStatus::limit_exceeded);
  CHECK((*metas)[3]->diff_id == layer('2').facts.diff_id);
  auto layers = store.get_layers(asked);
  REQUIRE(layers);
  REQUIRE(layers->size() == 4);
  CHECK((*layers)[0]->digest == digest_of('2'));
  CHECK_FALSE((*layers)[1]);
  CHECK((*layers)[2]->facts.files.size() == 1);
  CHECK((*layers)[2]->facts.path_hashes == rec.facts.path_hashes);
  CHECK((*layers)[3]->digest == digest_of('2'));
  CHECK(store.get_layer_metas({})->empty());
  CHECK(store.get_layers({})->empty());
  // Storing a layer's facts ends its fetch lease, whoever held it.
  REQUIRE(*store.acquire_lease("layer:" + rec.digest, "replica-a", std::chrono::seconds(60)));
  CHECK_FALSE(*store.acquire_lease("layer:" + rec.digest, "replica-b", std::chrono::seconds(60)));
  REQUIRE(store.put_layer(rec));
  CHECK(*store.acquire_lease("layer:" + rec.digest, "replica-b", std::chrono::seconds(60)));
  REQUIRE(store.release_lease("layer:" + rec.digest, "replica-b"));
  // A scan's first look: no report for a manifest never stored, its layers as get_layer_metas.
  auto look = store.lookup_image(digest_of('e'), "r1", asked);
  REQUIRE(look);
  CHECK_FALSE(look->report);
  REQUIRE(look->layers.size() == 4);
  CHECK(look->layers[0]->diff_id == layer('2').facts.diff_id);
  CHECK_FALSE(look->layers[1]);
  CHECK(look->layers[2]->status == LayerStatus::limit_exceeded);
  CHECK(look->layers[3]->diff_id == layer('2').facts.diff_id);
  CHECK_FALSE(look->leased_index);
  CHECK_FALSE(look->sources);
  // A new image's first look with its asks: the first layer to fetch leased, and the stored
  // layers' records and the report's context read for its report.
  // The lease a look answered: of layer `index`, taken or refused.
  auto check_lease = [](const Result<ImageLookup>& found, std::size_t index, bool leased) {
    REQUIRE(found);
    REQUIRE(found->leased_index);
    CHECK(*found->leased_index == index);
    CHECK(found->lease.leased == leased);
  };
  LookupAsk ask;
  ask.owner = "replica-a";
  ask.ttl = std::chrono::seconds(60);
  ask.fetchable = {true, true, true, true};
  ask.sources = true;
  auto asked_look = store.lookup_image(digest_of('e'), "r1", asked, ask);
  check_lease(asked_look, 1, true);
  CHECK_FALSE(asked_look->lease.stored);
  REQUIRE(asked_look->sources);
  REQUIRE(asked_look->sources->layers.size() == 4);
  CHECK(asked_look->sources->layers[0]->digest == digest_of('2'));
  CHECK_FALSE(asked_look->sources->layers[1]);
  CHECK(asked_look->sources->layers[2]->facts.files.size() == 1);
  CHECK(asked_look->sources->layers[3]->digest == digest_of('2'));
  // Held: another owner's ask is refused it; a layer not current is the one to fetch when
  // the missing one may not be fetched, its lease read with the layer as stored after it.
  ask.owner = "replica-b";
  check_lease(store.lookup_image(digest_of('e'), "r1", asked, ask), 1, false);
  ask.fetchable = {true, false, true, true};
  ask.current = [](const LayerMeta& m) { return m.status != LayerStatus::limit_exceeded; };
  ask.sources = false;
  auto outdated_look = store.lookup_image(digest_of('e'), "r1", asked, ask);
  check_lease(outdated_look, 2, true);
  REQUIRE(outdated_look->lease.stored);
  CHECK(outdated_look->lease.stored->status == LayerStatus::limit_exceeded);
  CHECK_FALSE(outdated_look->sources);
  ask.fetchable = {true, false, false, true};
  CHECK_FALSE(store.lookup_image(digest_of('e'), "r1", asked, ask)->leased_index);
  REQUIRE(store.release_lease("layer:" + digest_of('9'), "replica-a"));
  REQUIRE(store.release_lease("layer:" + rec.digest, "replica-b"));
  // A layer's lease asked for: taken with the layer as stored read after it; refused to
  // another owner, with nothing read; a layer never stored reads as nullopt.
  auto held = store.lease_layer(rec.digest, "replica-a", std::chrono::seconds(60));
  REQUIRE(held);
  CHECK(held->leased);
  REQUIRE(held->stored);
  CHECK(held->stored->status == LayerStatus::limit_exceeded);
  auto refused = store.lease_layer(rec.digest, "replica-b", std::chrono::seconds(60));
  REQUIRE(refused);
  CHECK_FALSE(refused->leased);
  CHECK_FALSE(refused->stored);
  auto fresh = store.lease_layer(digest_of('9'), "replica-b", std::chrono::seconds(60));
  REQUIRE(fresh);
  CHECK(fresh->leased);
  CHECK_FALSE(fresh->stored);
  REQUIRE(store.release_lease("layer:" + rec.digest, "replica-a"));
  REQUIRE(store.release_lease("layer:" + digest_of('9'), "replica-b"));
  CHECK(*store.integrity_check() == "ok");
  CHECK(store.counters().layer_writes >= 2);
}

void check_image_needs_its_layers(Store& store) {
  ImageRecord im = image('a', {'f'});
  CHECK_FALSE(store.put_image(im, std::nullopt));  // no such layer: rolled back
  CHECK_FALSE(*store.get_image(im.manifest_digest));
  REQUIRE(store.put_layer(layer('f')));
  REQUIRE(store.put_image(im, TagRecord{"reg.example", "app", "1", im.manifest_digest}));
  auto got = store.get_image(im.manifest_digest);
  REQUIRE(got);
  REQUIRE(*got);
  CHECK((*got)->user == "1000");
  REQUIRE((*got)->layers.size() == 1);
  CHECK((*got)->layers[0].digest == digest_of('f'));
  CHECK(*store.integrity_check() == "ok");
}

void check_scan_cursor(Store& store) {
  for (int i = 0; i < 5; ++i) {
    ScanRecord r;
    r.id = "scan_" + std::to_string(i);
    r.image = "x";
    r.platform = "linux/amd64";
    r.status = i % 2 ? ScanStatus::done : ScanStatus::failed;
    r.created_at = "t";
    REQUIRE(store.put_scan(r));
  }
  auto page = store.list_scans({std::nullopt, "", 2, ""});
  REQUIRE(page);
  REQUIRE(page->size() == 2);
  CHECK((*page)[0].id == "scan_4");
  auto next = store.list_scans({std::nullopt, "", 2, (*page)[1].id});
  CHECK((*next)[0].id == "scan_2");
  CHECK(store.list_scans({ScanStatus::done, "", 10, ""})->size() == 2);
  CHECK(*store.count_scans(ScanStatus::done) == 2);
  CHECK(*store.count_scans(ScanStatus::failed) == 3);
  CHECK(*store.count_scans(ScanStatus::queued) == 0);
  ScanRecord running = *(*store.get_scan("scan_0"));
  running.id = "scan_r";
  running.status = ScanStatus::running;
  running.request_id = "ci-7";
  REQUIRE(store.put_scan(running));
  ScanRecord updated = running;
  updated.status = ScanStatus::done;
  updated.result = R"({"score":77,"grade":"C"})";
  updated.finished_at = "2026-03-01T10:00:00Z";
  REQUIRE(store.put_scan(updated));
  CHECK((*store.get_scan("scan_r"))->status == ScanStatus::done);
  CHECK((*store.get_scan("scan_r"))->request_id == "ci-7");
  // A finished scan never changes again: a late write from another replica is ignored.
  updated.status = ScanStatus::queued;
  updated.result.clear();
  REQUIRE(store.put_scan(updated));
  CHECK((*store.get_scan("scan_r"))->status == ScanStatus::done);
  CHECK((*store.get_scan("scan_r"))->result == R"({"score":77,"grade":"C"})");
  CHECK_FALSE(*store.get_scan("scan_none"));
}

void check_scan_queue(Store& store) {
  for (int i = 0; i < 5; ++i) {
    ScanRecord r = queued_scan("scan_q" + std::to_string(i), "reg.example/app:" + std::to_string(i),
                               "2026-03-01T10:00:00Z");
    r.request_id = "req-" + std::to_string(i);
    REQUIRE(store.put_scan(r));
  }
  // Oldest first, marked running and leased to the claimant.
  auto first = store.claim_queued_scans("replica-a", std::chrono::seconds(30), 2, "t1");
  REQUIRE(first);
  REQUIRE(first->size() == 2);
  CHECK((*first)[0].id == "scan_q0");
  CHECK((*first)[1].id == "scan_q1");
  CHECK((*first)[0].status == ScanStatus::running);
  CHECK((*first)[0].started_at == "t1");
  CHECK((*first)[0].request_id == "req-0");
  CHECK((*store.get_scan("scan_q0"))->status == ScanStatus::running);
  CHECK_FALSE(*store.acquire_lease("scan:scan_q0", "replica-b", std::chrono::seconds(30)));
  CHECK(*store.count_scans(ScanStatus::queued) == 3);
  // Leases: renewed by their holder, not released by another, taken over once they lapse.
  CHECK(*store.acquire_lease("k", "replica-a", std::chrono::seconds(30)));
  CHECK(*store.acquire_lease("k", "replica-a", std::chrono::seconds(30)));
  REQUIRE(store.release_lease("k", "replica-b"));
  CHECK_FALSE(*store.acquire_lease("k", "replica-b", std::chrono::seconds(30)));
  REQUIRE(store.release_lease("k", "replica-a"));
  CHECK(*store.acquire_lease("k", "replica-b", std::chrono::seconds(1)));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  CHECK(*store.acquire_lease("k", "replica-a", std::chrono::seconds(30)));
  REQUIRE(store.release_lease("k", "replica-a"));

  // Cancelling: a queued scan, a running one (its replica notices), a finished or unknown one.
  auto was = store.cancel_scan("scan_q2", "t2");
  REQUIRE(was);
  CHECK(*was == ScanStatus::queued);
  auto cancelled = *store.get_scan("scan_q2");
  CHECK(cancelled->status == ScanStatus::cancelled);
  CHECK(cancelled->error_code == "cancelled");
  CHECK(cancelled->finished_at == "t2");
  was = store.cancel_scan("scan_q1", "t2");
  REQUIRE(was);
  CHECK(*was == ScanStatus::running);
  CHECK_FALSE(*store.cancel_scan("scan_q1", "t3"));
  CHECK((*store.get_scan("scan_q1"))->finished_at == "t2");
  CHECK_FALSE(*store.cancel_scan("scan_nope", "t3"));

  // A submit with room claims in the same commit, oldest first: an older scan before it.
  ScanRecord submitted = queued_scan("scan_q5", "reg.example/app:5", "2026-03-01T10:00:01Z");
  auto with_claim =
      store.submit_scan(submitted, "replica-b", ClaimNext{1, std::chrono::seconds(30), "t4"});
  REQUIRE(with_claim);
  REQUIRE(with_claim->size() == 1);
  CHECK((*with_claim)[0].id == "scan_q3");
  CHECK((*with_claim)[0].status == ScanStatus::running);
  CHECK_FALSE(*store.acquire_lease("scan:scan_q3", "replica-a", std::chrono::seconds(30)));
  CHECK((*store.get_scan("scan_q5"))->status == ScanStatus::queued);
  // Without room, it only queues.
  submitted.id = "scan_q6";
  CHECK(store.submit_scan(submitted, "replica-b", {})->empty());

  // The rest, in order; then nothing.
  auto rest = store.claim_queued_scans("replica-b", std::chrono::seconds(30), 10, "t4");
  REQUIRE(rest);
  REQUIRE(rest->size() == 3);
  CHECK((*rest)[0].id == "scan_q4");
  CHECK((*rest)[1].id == "scan_q5");
  CHECK((*rest)[2].id == "scan_q6");
  CHECK(store.claim_queued_scans("replica-a", std::chrono::seconds(30), 10, "t5")->empty());
  CHECK(*store.count_scans(ScanStatus::queued) == 0);

  // A scan's end: its row, the image's older finished scans pruned to `keep` and its lease
  // released, together.
  ScanRecord older = (*rest)[0];
  older.id = "scan_older";
  older.image = "reg.example/app:end";
  older.status = ScanStatus::failed;
  older.finished_at = "t5";
  REQUIRE(store.put_scan(older));
  ScanRecord end = older;
  end.id = "scan_end";
  end.status = ScanStatus::queued;
  end.finished_at.clear();
  REQUIRE(store.put_scan(end));
  REQUIRE(store.claim_queued_scans("replica-b", std::chrono::seconds(30), 10, "t6")->size() == 1);
  end.status = ScanStatus::done;
  end.finished_at = "t7";
  end.manifest_digest = digest_of('a');
  end.result = R"({"score":80,"grade":"B"})";
  CHECK_FALSE(*store.acquire_lease("scan:scan_end", "replica-a", std::chrono::seconds(30)));
  REQUIRE(store.finish_scan(end, 1, "replica-b"));
  auto ended = *store.get_scan("scan_end");
  REQUIRE(ended);
  CHECK(ended->status == ScanStatus::done);
  CHECK(ended->finished_at == "t7");
  CHECK_FALSE(*store.get_scan("scan_older"));
  CHECK(*store.get_scan("scan_q4"));
  CHECK(*store.acquire_lease("scan:scan_end", "replica-a", std::chrono::seconds(30)));
  REQUIRE(store.release_lease("scan:scan_end", "replica-a"));
  // Finished is final: a second end changes nothing.
  end.status = ScanStatus::failed;
  REQUIRE(store.finish_scan(end, 1, "replica-b"));
  CHECK((*store.get_scan("scan_end"))->status == ScanStatus::done);
}

// A scan of reg.example/team/app:1 queued and claimed by replica-a, and its end: done, image
// 'a' (layers '1' and '2') tagged 1, scored 60 (C), named as reference `reference`.
static std::pair<ScanRecord, ScannedImage> ending_scan(Store& store, const std::string& id,
                                                       const std::string& reference) {
  ScanRecord scan = queued_scan(id, "reg.example/team/app:1", "2026-03-01T10:00:00Z");
  REQUIRE(store.put_scan(scan));
  REQUIRE(store.claim_queued_scans("replica-a", std::chrono::seconds(30), 1, "t1")->size() == 1);
  scan.status = ScanStatus::done;
  scan.finished_at = "2026-03-01T10:00:05Z";
  scan.manifest_digest = digest_of('a');
  scan.result = R"({"score":60,"grade":"C"})";
  ScannedImage found{image('a', {'1', '2'}), TagRecord{"reg.example", "team/app", "1", ""},
                     report('a', "rs-1", 60, "C", "debian:12", false), reference};
  found.tag->manifest_digest = digest_of('a');
  return {std::move(scan), std::move(found)};
}

void check_end_whose_claim_fails(Store& store, const std::function<void(bool)>& refuse_leases) {
  REQUIRE(store.put_layer(layer('1')));
  REQUIRE(store.put_layer(layer('2')));
  auto [scan, found] = ending_scan(store, "scan_ending", "");
  REQUIRE(
      store.put_scan(queued_scan("scan_next", "reg.example/team/app:2", "2026-03-01T10:00:01Z")));
  const ClaimNext next{1, std::chrono::seconds(30), "t2"};

  refuse_leases(true);
  CHECK_FALSE(store.finish_image_scan(found, scan, 5, "replica-a", next));
  CHECK((*store.get_scan("scan_ending"))->status == ScanStatus::running);
  CHECK((*store.get_scan("scan_next"))->status == ScanStatus::queued);
  CHECK_FALSE(*store.get_image(digest_of('a')));
  CHECK_FALSE(*store.get_report(digest_of('a'), "rs-1"));
  CHECK(store.list_scan_results("2026-03-01", "")->empty());
  CHECK(store.fleet_days("2026-03-01")->empty());

  refuse_leases(false);
  auto claimed = store.finish_image_scan(found, scan, 5, "replica-a", next);
  REQUIRE(claimed);
  REQUIRE(claimed->size() == 1);
  CHECK((*claimed)[0].id == "scan_next");
  CHECK((*store.get_scan("scan_next"))->status == ScanStatus::running);
  CHECK((*store.get_scan("scan_ending"))->status == ScanStatus::done);
  CHECK(*store.get_image(digest_of('a')));
  CHECK(*store.get_report(digest_of('a'), "rs-1"));
  CHECK(store.list_scan_results("2026-03-01", "")->size() == 1);
  auto days = store.fleet_days("2026-03-01");
  REQUIRE(days);
  REQUIRE(days->size() == 1);
  CHECK((*days)[0].images == 1);
  CHECK((*days)[0].score_sum == 60);
  // Ended once: a second end of it changes nothing, and is not counted again.
  REQUIRE(store.finish_image_scan(found, scan, 5, "replica-a", {}));
  CHECK(store.list_scan_results("2026-03-01", "")->size() == 1);
  CHECK((*store.fleet_days("2026-03-01"))[0].scans == 1);
}

void check_scan_end_with_findings(Store& store) {
  REQUIRE(store.put_layer(layer('1')));
  auto [scan, found] = ending_scan(store, "scan_found", "reg.example/team/app:1");
  found.report->severity_counts = R"({"critical":0,"high":0,"medium":1,"low":0,"info":0})";
  found.report->top_finding = R"({"rule_id":"BW-SHELL","title":"shell","severity":"medium"})";

  // A layer not stored: nothing of it is written, the scan still runs and keeps its lease.
  CHECK_FALSE(store.finish_image_scan(found, scan, 5, "replica-a", {}));
  CHECK_FALSE(*store.get_image(digest_of('a')));
  CHECK_FALSE(*store.get_report(digest_of('a'), "rs-1"));
  CHECK(store.list_reference_images()->empty());
  CHECK((*store.get_scan("scan_found"))->status == ScanStatus::running);
  CHECK_FALSE(*store.acquire_lease("scan:scan_found", "replica-b", std::chrono::seconds(30)));

  // Whole: the image with its tag, the report, the reference, the scan's end and its lease;
  // and the queue's next scan claimed by the same transaction, leased to the same owner.
  REQUIRE(store.put_layer(layer('2')));
  ScanRecord after = scan;
  after.id = "scan_after";
  after.status = ScanStatus::queued;
  after.finished_at.clear();
  after.manifest_digest.clear();
  after.result.clear();
  REQUIRE(store.put_scan(after));
  auto claimed = store.finish_image_scan(found, scan, 5, "replica-a",
                                         ClaimNext{2, std::chrono::seconds(30), "t2"});
  REQUIRE(claimed);
  REQUIRE(claimed->size() == 1);
  CHECK((*claimed)[0].id == "scan_after");
  CHECK((*claimed)[0].status == ScanStatus::running);
  CHECK((*store.get_scan("scan_after"))->started_at == "t2");
  CHECK_FALSE(*store.acquire_lease("scan:scan_after", "replica-b", std::chrono::seconds(30)));
  auto im = *store.get_image(digest_of('a'));
  REQUIRE(im);
  CHECK(im->layers.size() == 2);
  CHECK(im->layers[1].digest == digest_of('2'));
  CHECK(im->layers[1].diff_id == found.image.layers[1].diff_id);
  auto rep = *store.get_report(digest_of('a'), "rs-1");
  REQUIRE(rep);
  CHECK(rep->score == 60);
  // The image's summary row holds the report's figures, and the fleet's counters count them.
  ImageQuery listed;
  listed.ruleset_version = "rs-1";
  auto rows = *store.list_images(listed);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].score == 60);
  CHECK(rows[0].grade == "C");
  CHECK(rows[0].tag == "1");
  CHECK(rows[0].platform == "linux/amd64");
  CHECK(rows[0].severity_counts == found.report->severity_counts);
  CHECK(rows[0].top_finding == found.report->top_finding);
  auto stats = *store.stats("rs-1");
  CHECK(stats["images"] == 1);
  CHECK(stats["grades"] == nlohmann::json{{"C", 1}});
  CHECK(stats["bases"] == nlohmann::json::array({{{"base", "debian:12"}, {"images", 1}}}));
  CHECK(*store.image_tags(digest_of('a')) == std::vector<std::string>{"reg.example/team/app:1"});
  auto refs = *store.list_reference_images();
  REQUIRE(refs.size() == 1);
  CHECK(refs[0].second == digest_of('a'));
  auto ended = *store.get_scan("scan_found");
  CHECK(ended->status == ScanStatus::done);
  CHECK(ended->finished_at == "2026-03-01T10:00:05Z");
  CHECK(*store.acquire_lease("scan:scan_found", "replica-b", std::chrono::seconds(30)));
  auto known = *store.known_result(scan.image, "linux/amd64", "rs-1");
  REQUIRE(known);
  CHECK(known->manifest_digest == digest_of('a'));

  // What a report reads, from one snapshot: the layers asked for, in order, and the context.
  auto sources =
      store.report_sources(digest_of('a'), {digest_of('2'), digest_of('9'), digest_of('1')});
  REQUIRE(sources);
  REQUIRE(sources->layers.size() == 3);
  REQUIRE(sources->layers[0]);
  CHECK(sources->layers[0]->digest == digest_of('2'));
  CHECK(sources->layers[0]->facts.compression == "gzip");
  CHECK_FALSE(sources->layers[1]);
  REQUIRE(sources->layers[2]);
  CHECK(sources->layers[2]->digest == digest_of('1'));
  CHECK(sources->context.tags == std::vector<std::string>{"reg.example/team/app:1"});
  CHECK(sources->context.reference_images.size() == 1);
  CHECK(store.report_sources(digest_of('a'), {})->layers.empty());
  CHECK(*store.integrity_check() == "ok");
}

void check_queries(Store& store) {
  const std::string v = "rs-1";
  for (char c : {'1', '2', '3'}) REQUIRE(store.put_layer(layer(c)));
  REQUIRE(store.put_image(image('a', {'1', '2'}), TagRecord{"reg.example", "team/app", "1", ""}));
  REQUIRE(store.put_image(image('b', {'1', '3'}), TagRecord{"reg.example", "team/app", "2", ""}));
  REQUIRE(store.put_image(image('e', {'1'}), TagRecord{"other.example", "db", "7", ""}));
  REQUIRE(store.put_report(report('a', v, 40, "D", "debian:12", true)));
  REQUIRE(store.put_report(report('b', v, 95, "A", "debian:12", false)));
  // An older ruleset's report first: an image's summary follows its newest report.
  REQUIRE(store.put_report(report('e', "rs-0", 10, "F", "", false)));
  REQUIRE(store.put_report(report('e', v, 70, "C", "", false)));

  ImageQuery q;
  q.ruleset_version = v;
  q.sort = "score";
  auto rows = store.list_images(q);
  REQUIRE(rows);
  REQUIRE(rows->size() == 3);
  CHECK((*rows)[0].manifest_digest == digest_of('a'));
  CHECK((*rows)[0].score == 40);
  CHECK((*rows)[0].platform == "linux/amd64");
  CHECK((*rows)[2].grade == "A");
  q.registry = "reg.example";
  q.min_score = 50;
  rows = store.list_images(q);
  REQUIRE(rows->size() == 1);
  CHECK((*rows)[0].repository == "team/app");
  CHECK((*rows)[0].tag == "2");
  q = ImageQuery{};
  q.ruleset_version = v;
  q.grade = "C";
  CHECK(store.list_images(q)->size() == 1);
  q.grade.clear();
  // Keyset pages, in every sort: each row once, in order, then an empty page.
  for (const char* sort : {"-last_scanned", "last_scanned", "-score", "score"}) {
    CAPTURE(sort);
    q.sort = sort;
    q.limit = 1;
    q.after_key.clear();
    q.after_digest.clear();
    std::vector<std::string> seen;
    for (int page = 0; page < 5; ++page) {
      auto one = store.list_images(q);
      REQUIRE(one);
      if (one->empty()) break;
      REQUIRE(one->size() == 1);
      seen.push_back((*one)[0].manifest_digest);
      REQUIRE(parse_image_cursor(image_cursor((*one)[0], q.sort), q.sort, q));
    }
    CHECK(seen.size() == 3);
    CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == 3);
    if (q.sort == "score")
      CHECK(seen == std::vector<std::string>{digest_of('a'), digest_of('e'), digest_of('b')});
  }
  q = ImageQuery{};
  q.ruleset_version = v;
  CHECK_FALSE(parse_image_cursor("nonsense", "-score", q));
  CHECK_FALSE(parse_image_cursor("101," + digest_of('a'), "score", q));
  CHECK_FALSE(parse_image_cursor("2026-01-01T00:00:00Z,sha256:12", "last_scanned", q));

  auto repos = store.list_repositories("", 10, 0);
  REQUIRE(repos);
  REQUIRE(repos->size() == 2);
  CHECK((*repos)[1].repository == "team/app");
  CHECK((*repos)[1].tags == 2);
  CHECK(store.list_repositories("other.example", 10, 0)->size() == 1);
  auto tags = store.list_tags("reg.example", "team/app", v);
  REQUIRE(tags);
  REQUIRE(tags->size() == 2);
  CHECK((*tags)[0].score == 40);

  auto stats = store.stats(v);
  REQUIRE(stats);
  CHECK((*stats)["images"] == 3);
  CHECK((*stats)["layers"] == 3);
  CHECK((*stats)["repositories"] == 2);
  CHECK((*stats)["grades"]["A"] == 1);
  CHECK((*stats)["eol_os_images"] == 1);
  REQUIRE((*stats)["bases"].size() == 2);
  CHECK((*stats)["bases"][0]["base"] == "debian:12");
  CHECK((*stats)["bases"][0]["images"] == 2);

  CHECK((*store.get_report(digest_of('e'), "rs-0"))->score == 10);
  {
    // The first look reads the report under the ruleset asked, as get_report does.
    auto look = store.lookup_image(digest_of('e'), "rs-0", {});
    REQUIRE(look);
    REQUIRE(look->report);
    CHECK(look->report->score == 10);
    CHECK(look->report->grade == "F");
    CHECK(look->report->ruleset_version == "rs-0");
    CHECK(look->report->report == (*store.get_report(digest_of('e'), "rs-0"))->report);
    CHECK(look->layers.empty());
    CHECK_FALSE(store.lookup_image(digest_of('e'), "rs-9", {})->report);
    // A report under the ruleset is all a known image needs: its sources are not read.
    LookupAsk ask;
    ask.sources = true;
    CHECK_FALSE(store.lookup_image(digest_of('e'), "rs-0", {}, ask)->sources);
    auto unknown = store.lookup_image(digest_of('e'), "rs-9", {}, ask);
    REQUIRE(unknown->sources);
    CHECK(unknown->sources->layers.empty());
  }
  CHECK((*store.latest_report(digest_of('a')))->grade == "D");
  CHECK_FALSE(*store.get_report(digest_of('a'), "rs-0"));
  auto digests = store.list_image_digests("");
  REQUIRE(digests);
  CHECK(digests->size() == 3);
  auto unreported = store.list_image_digests("rs-0");  // only e has a report under rs-0
  REQUIRE(unreported);
  CHECK(unreported->size() == 2);
  CHECK(std::find(unreported->begin(), unreported->end(), digest_of('e')) == unreported->end());

  ScanRecord s;
  s.id = "scan_t1";
  s.image = "reg.example/team/app:1";
  s.platform = "linux/amd64";
  s.status = ScanStatus::done;
  s.created_at = s.finished_at = "2026-03-02T09:00:00Z";
  s.manifest_digest = digest_of('a');
  s.result = R"({"score":40,"grade":"D","verdict":"pass"})";
  REQUIRE(store.put_scan(s));
  s.id = "scan_t2";
  s.image = "other.example/db:7";
  s.finished_at = "2026-03-03T09:00:00Z";
  REQUIRE(store.put_scan(s));
  // A second scan the same day: one trend row, counting both, with the day's last result.
  s.id = "scan_t3";
  s.image = "reg.example/team/app:1";
  s.finished_at = "2026-03-02T10:00:00Z";
  s.result = R"({"score":45,"grade":"D","verdict":"pass"})";
  REQUIRE(store.put_scan(s));
  REQUIRE(store.put_scan(s));  // written again: finished rows never change, nor count twice
  auto results = store.list_scan_results("2026-03-01", "reg.example/");
  REQUIRE(results);
  REQUIRE(results->size() == 1);
  CHECK((*results)[0].score == 45);
  CHECK((*results)[0].grade == "D");
  CHECK((*results)[0].scans == 2);
  CHECK(store.list_scan_results("2026-03-01", "")->size() == 2);
  CHECK(store.list_scan_results("2026-03-03", "")->size() == 1);

  REQUIRE(store.replace_suppressions({{"BW-SHELL", "bin/sh", "", "debug image", "", "", ""}}));
  auto sups = store.list_suppressions();
  REQUIRE(sups);
  REQUIRE(sups->size() == 1);
  CHECK((*sups)[0].reason == "debug image");
  CHECK_FALSE((*sups)[0].created_at.empty());
  // Suppressions change scores: the reports go and are rebuilt on demand.
  CHECK_FALSE(*store.get_report(digest_of('a'), v));
  REQUIRE(store.put_report(report('a', v, 60, "D", "debian:12", true)));
  REQUIRE(store.clear_reports());
  CHECK_FALSE(*store.get_report(digest_of('a'), v));

  REQUIRE(store.put_reference_image("debian:12", digest_of('a')));
  REQUIRE(store.put_reference_image("debian:12", digest_of('b')));
  auto refs = store.list_reference_images();
  REQUIRE(refs);
  REQUIRE(refs->size() == 1);
  CHECK((*refs)[0].second == digest_of('b'));
}

void check_fleet_reads(Store& store, const std::function<std::uint64_t()>& writes) {
  const std::string v = "rs-1";
  REQUIRE(store.put_layer(layer('1')));
  REQUIRE(store.put_image(image('a', {'1'}), TagRecord{"reg.example", "team/app", "1", ""}));
  REQUIRE(store.put_report(report('a', v, 40, "D", "debian:12", false)));

  // Pending: queued or running scans of a reference, and only those.
  auto scan = [&](const std::string& id, const std::string& image, ScanStatus status) {
    ScanRecord s;
    s.id = id;
    s.image = image;
    s.platform = "linux/amd64";
    s.status = status;
    s.created_at = "2026-03-02T09:00:00Z";
    if (is_finished(status)) s.finished_at = s.created_at;
    REQUIRE(store.put_scan(s));
  };
  scan("scan_q", "reg.example/team/app:1", ScanStatus::queued);
  scan("scan_d", "reg.example/team/app:2", ScanStatus::done);
  CHECK(*store.has_pending_scan("reg.example/team/app:1"));
  CHECK_FALSE(*store.has_pending_scan("reg.example/team/app:2"));
  CHECK_FALSE(*store.has_pending_scan("reg.example/team/app"));

  // Retention: the newest finished scans stay, queued ones are never pruned.
  for (int i = 0; i < 5; ++i)
    scan("scan_h" + std::to_string(i), "reg.example/team/app:1",
         i % 2 ? ScanStatus::failed : ScanStatus::done);
  auto pruned = store.prune_scans("reg.example/team/app:1", 2);
  REQUIRE(pruned);
  CHECK(*pruned == 3);
  auto left = store.list_scans(ScanQuery{std::nullopt, "reg.example/team/app:1", 50, ""});
  REQUIRE(left);
  std::vector<std::string> ids;
  for (auto& s : *left) ids.push_back(s.id);
  CHECK(ids == std::vector<std::string>{"scan_h4", "scan_h3", "scan_q"});
  CHECK(*store.prune_scans("reg.example/team/app:1", 2) == 0);
  CHECK(*store.prune_scans("reg.example/none:1", 2) == 0);
  CHECK(store.list_scans(ScanQuery{std::nullopt, "reg.example/team/app:2", 50, ""})->size() == 1);

  // A known image seen again under another tag: the list names that tag now, its layers stay.
  auto before = store.generation();
  auto touched =
      store.touch_image(digest_of('a'), TagRecord{"reg.example", "team/app", "prod", ""});
  REQUIRE(touched);
  CHECK(*touched);
  if (before) CHECK(store.generation() != before);
  CHECK_FALSE(*store.touch_image(digest_of('z'), std::nullopt));
  ImageQuery q;
  q.ruleset_version = v;
  auto rows = store.list_images(q);
  REQUIRE(rows);
  REQUIRE(rows->size() == 1);
  CHECK((*rows)[0].tag == "prod");
  CHECK((*rows)[0].score == 40);
  CHECK((*store.get_image(digest_of('a')))->layers.size() == 1);
  CHECK(store.list_tags("reg.example", "team/app", v)->size() == 2);
  // A registry pass's check: the newest done scan of a reference on its platform, when a report
  // under the rules stands for its manifest.
  CHECK_FALSE(*store.known_result("reg.example/team/app:1", "linux/amd64", v));  // no digest
  CHECK_FALSE(*store.known_result("reg.example/team/app:2", "linux/amd64", v));
  ScanRecord judged;
  judged.id = "scan_k";
  judged.image = "reg.example/team/app:2";
  judged.platform = "linux/amd64";
  judged.status = ScanStatus::done;
  judged.created_at = judged.finished_at = "2026-03-02T10:00:00Z";
  judged.manifest_digest = digest_of('a');
  judged.index_digest = digest_of('i');
  judged.result = R"({"score":40,"grade":"D"})";
  REQUIRE(store.put_scan(judged));
  auto known = store.known_result("reg.example/team/app:2", "linux/amd64", v);
  REQUIRE(known);
  REQUIRE(*known);
  CHECK((*known)->manifest_digest == digest_of('a'));
  CHECK((*known)->index_digest == digest_of('i'));
  CHECK((*known)->layers == std::vector<std::string>{digest_of('1')});
  CHECK_FALSE(*store.known_result("reg.example/team/app:2", "linux/arm64", v));
  CHECK_FALSE(*store.known_result("reg.example/team/app:2", "linux/amd64", "rs-2"));
  // Seen unchanged: touched, counted in today's trend row with its summary's result, and no
  // scan row written.
  auto scans_before = store.list_scans(ScanQuery{std::nullopt, "", 100, ""})->size();
  auto gen = store.generation();
  auto unchanged =
      store.record_unchanged("reg.example/team/app:2", digest_of('a'),
                             TagRecord{"reg.example", "team/app", "2", digest_of('a')});
  REQUIRE(unchanged);
  CHECK(*unchanged);
  if (gen) CHECK(store.generation() != gen);
  CHECK(store.list_scans(ScanQuery{std::nullopt, "", 100, ""})->size() == scans_before);
  CHECK((*store.list_images(q))[0].tag == "2");
  auto today = store.list_scan_results(now_rfc3339().substr(0, 10), "reg.example/team/app:2");
  REQUIRE(today);
  REQUIRE(today->size() == 1);
  CHECK((*today)[0].score == 40);
  CHECK((*today)[0].grade == "D");
  CHECK(*store.record_unchanged("reg.example/team/app:2", digest_of('a'), std::nullopt));
  CHECK(
      (*store.list_scan_results(now_rfc3339().substr(0, 10), "reg.example/team/app:2"))[0].scans ==
      2);
  CHECK_FALSE(*store.record_unchanged("reg.example/team/app:9", digest_of('z'), std::nullopt));
  // A registry pass's batch of tags, one call for every state a tag can be in.
  {
    ScanRecord waiting =
        queued_scan("scan_waiting", "reg.example/team/waiting:1", "2026-03-02T11:00:00Z");
    REQUIRE(store.put_scan(waiting));
    const std::vector<TagCheck> batch{
        // The index its last scan found: unchanged, recorded with its tag.
        {"reg.example/team/app:2", digest_of('i'), TagRecord{"reg.example", "team/app", "2", ""}},
        // Its manifest's digest, where the tag named an index: moved.
        {"reg.example/team/app:2", digest_of('a'), std::nullopt},
        {"reg.example/team/waiting:1", digest_of('a'), std::nullopt},  // a scan of it is queued
        {"reg.example/team/new:1", digest_of('n'), std::nullopt},      // never scanned
        {"reg.example/team/app:2", "", std::nullopt},                  // its HEAD failed
    };
    auto states = store.check_tags(batch, "linux/amd64", v, nullptr);
    REQUIRE(states);
    CHECK(*states == std::vector<TagState>{TagState::unchanged, TagState::changed,
                                           TagState::pending, TagState::changed,
                                           TagState::changed});
    auto counted = [&] {
      return (*store.list_scan_results(now_rfc3339().substr(0, 10), "reg.example/team/app:2"))[0]
          .scans;
    };
    CHECK(counted() == 3);
    CHECK(store.list_scans(ScanQuery{std::nullopt, "", 100, ""})->size() == scans_before + 1);
    // Layers the analysers in use would analyse again: a scan is due, nothing recorded.
    auto stale =
        store.check_tags({batch[0]}, "linux/amd64", v, [](const LayerMeta&) { return false; });
    REQUIRE(stale);
    CHECK((*stale)[0] == TagState::changed);
    CHECK(counted() == 3);
    // Two unchanged tags in one batch: recorded in one write transaction.
    if (writes) {
      const std::uint64_t before = writes();
      auto twice = store.check_tags({batch[0], batch[0]}, "linux/amd64", v, nullptr);
      REQUIRE(twice);
      CHECK(*twice == std::vector<TagState>{TagState::unchanged, TagState::unchanged});
      CHECK(writes() == before + 1);
      CHECK(counted() == 5);
    }
    waiting.status = ScanStatus::cancelled;
    waiting.finished_at = "2026-03-02T11:01:00Z";
    REQUIRE(store.put_scan(waiting));
  }

  // The counters /v1/stats reads follow every write: scans by status after retention, a layer
  // written again (counted once), an image re-scored under other rules.
  {
    auto before_stats = store.stats(v);
    REQUIRE(before_stats);
    REQUIRE(store.put_layer(layer('1')));
    auto all = store.list_scans(ScanQuery{std::nullopt, "", 1000, ""});
    REQUIRE(all);
    nlohmann::json by_status = nlohmann::json::object();
    for (auto& s : *all) {
      std::string name(scan_status_name(s.status));
      by_status[name] = by_status.value(name, 0) + 1;
    }
    auto after_stats = store.stats(v);
    REQUIRE(after_stats);
    CHECK((*after_stats)["scans"] == by_status);
    CHECK((*after_stats)["layers"] == 1);
    CHECK((*after_stats)["compressed_bytes_fetched"] ==
          (*before_stats)["compressed_bytes_fetched"]);
    CHECK((*after_stats)["images"] == 1);
    CHECK((*after_stats)["repositories"] == 1);
    CHECK((*after_stats)["grades"] == nlohmann::json{{"D", 1}});
    REQUIRE(store.put_report(report('a', "rs-2", 90, "A", "", false)));
    CHECK((*store.stats(v))["grades"] == nlohmann::json::object());
    CHECK((*store.stats("rs-2"))["grades"] == nlohmann::json{{"A", 1}});
    CHECK((*store.stats("rs-2"))["bases"] ==
          nlohmann::json::array({{{"base", ""}, {"images", 1}}}));
    REQUIRE(store.put_report(report('a', v, 40, "D", "debian:12", false)));
    CHECK((*store.stats(v))["grades"] == nlohmann::json{{"D", 1}});
  }

  // Reads leave the generation as it is.
  auto now = store.generation();
  (void)store.stats(v);
  CHECK(store.generation() == now);

  auto plans = store.dashboard_query_plans(v);
  REQUIRE(plans);
  REQUIRE_FALSE(plans->empty());
  // SQLite (its plans say "SCAN"/"SEARCH") runs the search from the trigram index.
  const bool sqlite_plans = std::any_of(plans->begin(), plans->end(), [](const std::string& l) {
    return l.starts_with("SEARCH ") || l.starts_with("SCAN ");
  });
  if (sqlite_plans)
    CHECK(std::any_of(plans->begin(), plans->end(), [](const std::string& l) {
      return l.starts_with("SCAN f VIRTUAL TABLE INDEX 0:L");
    }));
  // PostgreSQL runs its statements prepared, so each is planned for any parameters as well
  // (the plan it may keep after five runs), and held to the same indexes.
  else
    CHECK(std::count_if(plans->begin(), plans->end(), [](const std::string& l) {
            return l.starts_with("-- generic plan: ");
          }) == std::count_if(plans->begin(), plans->end(), [](const std::string& l) {
            return l.starts_with("-- ") && !l.starts_with("-- generic plan: ");
          }));
  std::string statement;
  for (auto& line : *plans) {
    if (line.starts_with("-- ")) {
      statement = line;
      continue;
    }
    CAPTURE(statement);
    CAPTURE(line);
    // SQLite: "SCAN t" alone reads the table; "SCAN t USING (COVERING) INDEX …" an index.
    // PostgreSQL (sequential scans priced out): "Seq Scan on t" has no index to use. Tags are
    // keyed by repository (the distinct count walks that key), so only these tables count.
    for (std::string table : {"scans", "images", "image_summaries", "reports", "daily_results",
                              "fleet_days", "fleet_day_grades", "fleet_day_scores"}) {
      CHECK(line != "SCAN " + table);
      CHECK(line.find("Seq Scan on " + table + " ") == std::string::npos);
      CHECK_FALSE(line.ends_with("Seq Scan on " + table));
    }
    // SQLite's search starts from the names' trigram index, which serves the LIKE itself
    // ("INDEX 0:L0"), never from a walk of every summary.
    if (line.starts_with("SCAN f VIRTUAL TABLE")) CHECK(line.find(":L") != std::string::npos);
    // A page sorts nothing: its order is the index's.
    if (statement.find("FROM image_summaries WHERE 1 = 1 AND score") != std::string::npos ||
        statement.find("FROM image_summaries WHERE 1 = 1 ORDER") != std::string::npos ||
        statement.find("FROM image_summaries WHERE 1 = 1 AND (") != std::string::npos)
      CHECK(line.find("TEMP B-TREE") == std::string::npos);
  }
}

void check_list_rows(Store& store) {
  const std::string v = "rs-1";
  REQUIRE(store.put_layer(layer('1')));
  REQUIRE(store.put_image(image('a', {'1'}), TagRecord{"reg.example", "team/app", "prod", ""}));
  ReportRecord r = report('a', v, 55, "D", "", false);
  r.severity_counts = R"({"critical":0,"high":2,"medium":1,"low":0,"info":3})";
  r.top_finding = R"({"rule_id":"BW-SUID","title":"setuid file","severity":"high"})";
  REQUIRE(store.put_report(r));
  ImageQuery q;
  q.ruleset_version = v;
  auto rows = store.list_images(q);
  REQUIRE(rows);
  REQUIRE(rows->size() == 1);
  CHECK((*rows)[0].severity_counts == r.severity_counts);
  CHECK((*rows)[0].top_finding == r.top_finding);
  CHECK((*rows)[0].tag == "prod");
  // Under other rules the row has no score, so none of the report's figures either.
  q.ruleset_version = "rs-2";
  CHECK((*store.list_images(q))[0].severity_counts.empty());
  CHECK((*store.list_images(q))[0].top_finding.empty());
  q.ruleset_version = v;

  // prod moves to b (same platform): a's row no longer borrows the name. An arm64 image under
  // the same tag (an index's other platform) leaves b's name alone.
  REQUIRE(store.put_image(image('b', {'1'}), TagRecord{"reg.example", "team/app", "prod", ""}));
  ImageRecord arm = image('c', {'1'});
  arm.architecture = "arm64";
  REQUIRE(store.put_image(arm, TagRecord{"reg.example", "team/app", "prod", ""}));
  std::map<std::string, std::string> tag_of;
  for (auto& row : *store.list_images(q)) tag_of[row.manifest_digest] = row.tag;
  CHECK(tag_of[digest_of('a')].empty());
  CHECK(tag_of[digest_of('b')] == "prod");
  CHECK(tag_of[digest_of('c')] == "prod");
  // Seen again under the tag (a rescan of the old digest by tag), a takes the name back.
  REQUIRE(*store.touch_image(digest_of('a'), TagRecord{"reg.example", "team/app", "prod", ""}));
  tag_of.clear();
  for (auto& row : *store.list_images(q)) tag_of[row.manifest_digest] = row.tag;
  CHECK(tag_of[digest_of('a')] == "prod");
  CHECK(tag_of[digest_of('b')].empty());
  CHECK(tag_of[digest_of('c')] == "prod");

  // Every name a digest was tagged as, newest first; the summary's name.
  auto names = store.image_tags(digest_of('a'));
  REQUIRE(names);
  CHECK(*names == std::vector<std::string>{"reg.example/team/app:prod"});
  CHECK(*store.image_name(digest_of('a')) == "reg.example/team/app:prod");
  CHECK(*store.image_name(digest_of('b')) == "reg.example/team/app@" + digest_of('b'));
  CHECK(store.image_name(digest_of('z'))->empty());

  // Search: any part of registry/repository:tag, case-insensitive; LIKE's own characters are
  // literal.
  REQUIRE(store.put_image(image('d', {'1'}), TagRecord{"reg.example", "other/svc_1", "v2", ""}));
  auto found = [&](const std::string& text) {
    ImageQuery s = q;
    s.search = text;
    std::set<std::string> out;
    for (auto& row : *store.list_images(s)) out.insert(row.manifest_digest);
    return out;
  };
  CHECK(found("TEAM/APP") == std::set<std::string>{digest_of('a'), digest_of('b'), digest_of('c')});
  CHECK(found("app:prod") == std::set<std::string>{digest_of('a'), digest_of('c')});
  CHECK(found("svc_1:v2") == std::set<std::string>{digest_of('d')});
  CHECK(found("svc%").empty());
  CHECK(found("svc_").size() == 1);
  CHECK(found("team_app").empty());
  CHECK(found("nothing-like-it").empty());
  ImageQuery paged = q;
  paged.search = "team/";
  paged.limit = 1;
  paged.sort = "-last_scanned";
  auto first = store.list_images(paged);
  REQUIRE(first);
  REQUIRE(first->size() == 1);
  REQUIRE(parse_image_cursor(image_cursor(first->back(), paged.sort), paged.sort, paged));
  auto second = store.list_images(paged);
  REQUIRE(second);
  REQUIRE(second->size() == 1);
  CHECK((*second)[0].manifest_digest != (*first)[0].manifest_digest);

  // Suppressions keep their scope and expiry.
  REQUIRE(store.replace_suppressions(
      {{"BW-SUID", "usr/bin/su", "", "audited", "", "reg.example/team/app", "2026-12-31"},
       {"BW-SHELL", "", "", "", "", "", ""}}));
  auto sups = store.list_suppressions();
  REQUIRE(sups);
  REQUIRE(sups->size() == 2);
  CHECK((*sups)[0].image == "reg.example/team/app");
  CHECK((*sups)[0].expires == "2026-12-31");
  CHECK((*sups)[1].image.empty());
  CHECK((*sups)[1].expires.empty());
  // Replacing them dropped the reports, so the rows lost their figures with their scores.
  auto after = store.list_images(q);
  REQUIRE(after);
  for (auto& row : *after) {
    CHECK(row.score == -1);
    CHECK(row.severity_counts.empty());
    CHECK(row.top_finding.empty());
  }
  // What a report reads besides its layers, in one go, is what the three reads give.
  REQUIRE(store.put_reference_image("reg.example/team/app:prod", digest_of('a')));
  REQUIRE(store.put_reference_image("alpine:3", digest_of('b')));
  auto context = store.report_context(digest_of('a'));
  REQUIRE(context);
  CHECK(context->tags == *store.image_tags(digest_of('a')));
  CHECK(context->reference_images == *store.list_reference_images());
  REQUIRE(context->suppressions.size() == 2);
  CHECK(context->suppressions[0].rule_id == "BW-SUID");
  CHECK(context->suppressions[0].reason == "audited");
  CHECK(context->suppressions[0].image == "reg.example/team/app");
  CHECK(context->suppressions[0].expires == "2026-12-31");
  CHECK(context->suppressions[1].rule_id == "BW-SHELL");
  CHECK(store.report_context(digest_of('z'))->tags.empty());
}

void check_list_rows_backfill(Store& store, const std::function<void(const std::string&)>& exec,
                              std::string_view migration) {
  REQUIRE(store.put_layer(layer('1')));
  auto put = [&](char c, const std::string& seen) {
    REQUIRE(store.put_image(image(c, {'1'}), TagRecord{"reg.example", "team/app", "prod", ""}));
    exec("UPDATE tags SET last_seen = '" + seen + "' WHERE manifest_digest = '" + digest_of(c) +
         "'");
    return digest_of(c);
  };
  auto a = put('a', "2026-01-01T00:00:00Z"), b = put('b', "2026-02-01T00:00:00Z");
  nlohmann::json findings = nlohmann::json::array(
      {{{"rule_id", "BW-SHELL"}, {"title", "shell"}, {"severity", "low"}, {"suppressed", false}},
       {{"rule_id", "BW-SUID"}, {"title", "setuid"}, {"severity", "high"}, {"suppressed", false}},
       {{"rule_id", "BW-USER-ROOT"},
        {"title", "root"},
        {"severity", "high"},
        {"suppressed", false}},
       {{"rule_id", "BW-SECRET"},
        {"title", "key"},
        {"severity", "critical"},
        {"suppressed", true}}});
  REQUIRE(store.put_report({a, "rs-1", "reg.example/team/app:prod", 60, "D",
                            nlohmann::json{{"findings", findings}}.dump(), "", false, "", ""}));
  REQUIRE(store.put_report({b, "rs-1", "x", 60, "D", "not json", "", false, "", ""}));
  // As a database written before the migration holds them: no figures, a's name still prod.
  exec("UPDATE image_summaries SET severity_counts = '', top_finding = '', tag = 'prod'");
  std::string text(migration);
  // PostgreSQL's backfill opens with the helper function it drops again.
  auto from = std::min(text.find("CREATE FUNCTION"), text.find("UPDATE image_summaries"));
  REQUIRE(from != std::string::npos);
  exec(text.substr(from, text.find("CREATE INDEX", from) - from));
  ImageQuery q;
  q.ruleset_version = "rs-1";
  std::map<std::string, ImageRow> rows;
  for (auto& r : *store.list_images(q)) rows[r.manifest_digest] = r;
  CHECK(nlohmann::json::parse(rows[a].severity_counts) ==
        nlohmann::json{{"critical", 0}, {"high", 2}, {"medium", 0}, {"low", 1}, {"info", 0}});
  CHECK(nlohmann::json::parse(rows[a].top_finding) ==
        nlohmann::json{{"rule_id", "BW-SUID"}, {"title", "setuid"}, {"severity", "high"}});
  CHECK(nlohmann::json::parse(rows[b].severity_counts)["high"] == 0);
  CHECK(rows[b].top_finding.empty());
  CHECK(rows[a].tag.empty());
  CHECK(rows[b].tag == "prod");
}

void check_fleet_trend(Store& store) {
  for (char c : {'a', 'b', 'c'}) {
    REQUIRE(store.put_layer(layer(c == 'a' ? '1' : c == 'b' ? '2' : '3')));
    REQUIRE(store.put_image(image(c, {c == 'a' ? '1' : c == 'b' ? '2' : '3'}), std::nullopt));
  }
  int n = 0;
  auto result = [&](const std::string& image, char digest, const std::string& at, int score,
                    const std::string& grade) {
    ScanRecord s;
    s.id = "scan_t" + std::to_string(++n);
    s.image = image;
    s.platform = "linux/amd64";
    s.status = ScanStatus::done;
    s.created_at = s.finished_at = at;
    s.manifest_digest = digest_of(digest);
    s.result = nlohmann::json{{"score", score}, {"grade", grade}}.dump();
    REQUIRE(store.put_scan(s));
  };
  CHECK(store.fleet_days("2026-03-01")->empty());
  result("reg.example/x:1", 'a', "2026-03-01T08:00:00Z", 80, "B");
  result("reg.example/x:2", 'b', "2026-03-01T09:00:00Z", 50, "D");
  result("reg.example/x:1", 'a', "2026-03-03T08:00:00Z", 30, "F");
  // Late: an older result of x:2 than the one counted, and x:3 on a day before the newest row.
  result("reg.example/x:2", 'b', "2026-02-28T09:00:00Z", 10, "F");
  result("reg.example/x:3", 'c', "2026-03-02T12:00:00Z", 70, "C");
  using Grades = std::map<std::string, std::size_t>;
  auto days = store.fleet_days("2026-03-01");
  REQUIRE(days);
  REQUIRE(days->size() == 3);
  const FleetDay& d1 = (*days)[0];
  const FleetDay& d2 = (*days)[1];
  const FleetDay& d3 = (*days)[2];
  CHECK(d1.day == "2026-03-01");
  CHECK(d1.images == 2);
  CHECK(d1.scans == 2);
  CHECK(d1.score_sum == 130);
  CHECK(d1.min_score == 50);
  CHECK(d1.grades == Grades{{"B", 1}, {"D", 1}});
  CHECK(d2.day == "2026-03-02");
  CHECK(d2.images == 3);
  CHECK(d2.scans == 1);
  CHECK(d2.score_sum == 200);
  CHECK(d2.min_score == 50);
  CHECK(d2.grades == Grades{{"B", 1}, {"C", 1}, {"D", 1}});
  CHECK(d3.day == "2026-03-03");
  CHECK(d3.images == 3);
  CHECK(d3.scans == 1);
  CHECK(d3.score_sum == 150);
  CHECK(d3.min_score == 30);
  CHECK(d3.grades == Grades{{"C", 1}, {"D", 1}, {"F", 1}});
  // A window opening after the last row starts from it; one opening between rows, from the
  // row before it.
  auto later = store.fleet_days("2026-04-01");
  REQUIRE(later);
  REQUIRE(later->size() == 1);
  CHECK((*later)[0].day == "2026-03-03");
  auto mid = store.fleet_days("2026-03-02T00:00:00Z");
  REQUIRE(mid);
  REQUIRE(mid->size() == 3);
  CHECK((*mid)[0].day == "2026-03-01");
  // A reference seen unchanged counts as a result of its summary's on its day.
  REQUIRE(store.put_report(report('a', "rs", 30, "F", "", false)));
  REQUIRE(*store.record_unchanged("reg.example/x:1", digest_of('a'), std::nullopt));
  auto today = store.fleet_days(now_rfc3339());
  REQUIRE(today);
  REQUIRE(today->size() == 2);
  CHECK(today->back().day == now_rfc3339().substr(0, 10));
  CHECK(today->back().images == 3);
  CHECK(today->back().scans == 1);
  CHECK(today->back().score_sum == 150);
  // Seen unchanged again the same day, with the same result: one more scan, the counts by
  // grade and score as they were.
  REQUIRE(*store.record_unchanged("reg.example/x:1", digest_of('a'), std::nullopt));
  auto again = store.fleet_days(now_rfc3339());
  REQUIRE(again);
  REQUIRE(again->size() == 2);
  CHECK(again->back().scans == 2);
  CHECK(again->back().images == 3);
  CHECK(again->back().score_sum == 150);
  CHECK(again->back().min_score == 30);
  CHECK(again->back().grades == Grades{{"C", 1}, {"D", 1}, {"F", 1}});
}

void check_errors_surface(Store& store, const std::function<void()>& break_store) {
  // Something to read first, so that reads fail for the broken store and not for want of rows.
  REQUIRE(store.put_layer(layer('1')));
  REQUIRE(store.put_image(image('a', {'1'}), TagRecord{"reg.example", "app", "1", ""}));
  break_store();
  ScanRecord scan;
  scan.id = "scan_broken";
  scan.image = "reg.example/app:1";
  scan.platform = "linux/amd64";
  scan.created_at = "t";
  ImageQuery q;
  q.ruleset_version = "rs";
  // Every call answers with an error; none throws or crashes.
  CHECK_FALSE(store.get_layer_meta(digest_of('1')));
  CHECK_FALSE(store.get_layer(digest_of('1')));
  CHECK_FALSE(store.put_layer(layer('2')));
  CHECK_FALSE(store.put_image(image('b', {'1'}), std::nullopt));
  CHECK_FALSE(store.get_image(digest_of('a')));
  CHECK_FALSE(store.put_scan(scan));
  CHECK_FALSE(store.get_scan(scan.id));
  CHECK_FALSE(store.list_scans({}));
  CHECK_FALSE(store.list_scan_results("2026-01-01", ""));
  CHECK_FALSE(store.list_image_digests(""));
  CHECK_FALSE(store.count_scans(ScanStatus::queued));
  CHECK_FALSE(store.list_images(q));
  CHECK_FALSE(store.list_repositories("", 10, 0));
  CHECK_FALSE(store.list_tags("reg.example", "app", "rs"));
  CHECK_FALSE(store.stats("rs"));
  CHECK_FALSE(store.put_report(report('a', "rs", 50, "D", "", false)));
  CHECK_FALSE(store.get_report(digest_of('a'), "rs"));
  CHECK_FALSE(store.latest_report(digest_of('a')));
  CHECK_FALSE(store.image_name(digest_of('a')));
  CHECK_FALSE(store.image_tags(digest_of('a')));
  CHECK_FALSE(store.report_context(digest_of('a')));
  CHECK_FALSE(store.get_layer_metas({digest_of('1')}));
  CHECK_FALSE(store.get_layers({digest_of('1')}));
  CHECK_FALSE(store.clear_reports());
  CHECK_FALSE(store.list_suppressions());
  CHECK_FALSE(store.replace_suppressions({{"BW-SHELL", "bin/sh", "", "", "", "", ""}}));
  CHECK_FALSE(store.put_reference_image("debian:12", digest_of('a')));
  CHECK_FALSE(store.list_reference_images());
  CHECK_FALSE(store.claim_queued_scans("r", std::chrono::seconds(30), 4, "t"));
  CHECK_FALSE(store.cancel_scan(scan.id, "t"));
  CHECK_FALSE(store.schema_versions());
  CHECK_FALSE(store.has_pending_scan(scan.image));
  CHECK_FALSE(store.prune_scans(scan.image, 1));
  ScanRecord ended = scan;
  ended.status = ScanStatus::failed;
  ended.finished_at = "t";
  CHECK_FALSE(store.finish_scan(ended, 1, "r"));
  CHECK_FALSE(store.touch_image(digest_of('a'), std::nullopt));
  CHECK_FALSE(store.known_result(scan.image, scan.platform, "rs"));
  CHECK_FALSE(store.record_unchanged(scan.image, digest_of('a'), std::nullopt));
  CHECK_FALSE(
      store.check_tags({{scan.image, digest_of('a'), std::nullopt}}, scan.platform, "rs", nullptr));
  CHECK_FALSE(store.fleet_days("2026-01-01"));
  CHECK_FALSE(store.dashboard_query_plans("rs"));
}

int call_everything(Store& store, const std::string& tag, const std::string& fresh,
                    const std::string& fresh_layer, const std::string& scan_id) {
  const char* hex = tag.c_str();
  int failures = 0;
  auto count = [&](bool ok) { failures += ok ? 0 : 1; };
  LayerRecord l = layer('3');
  l.digest = fresh_layer;
  count(static_cast<bool>(store.put_layer(l)));
  ImageRecord im = image('b', {'1', '2'});
  im.manifest_digest = fresh;
  im.layers.push_back({fresh_layer, "x", 10, digest_of('d')});
  count(static_cast<bool>(store.put_image(im, TagRecord{"reg.example", "app", hex, ""})));
  // By digest: no tag to record.
  ImageRecord by_digest = im;
  by_digest.manifest_digest = "sha256:" + std::string(62, '9') + tag;
  count(static_cast<bool>(store.put_image(by_digest, TagRecord{"reg.example", "app", "", ""})));
  count(static_cast<bool>(store.put_report({fresh, "rs", "reg.example/app:new", 70, "C",
                                            R"({"score":70,"findings":[]})", "", false, "", ""})));
  count(static_cast<bool>(
      store.replace_suppressions({{"BW-SHELL", "bin/sh", "", "new", "", "", ""},
                                  {"BW-SUID", "", "", "new", "2026-01-01T00:00:00Z", "", ""}})));
  count(static_cast<bool>(store.put_reference_image("alpine:3", fresh)));
  count(static_cast<bool>(store.lookup_image(fresh, "rs", {fresh_layer, digest_of('1')})));
  LookupAsk ask;
  ask.owner = "replica";
  ask.ttl = std::chrono::seconds(30);
  ask.fetchable = {true, true};
  ask.sources = true;
  count(static_cast<bool>(store.lookup_image(fresh, "rs-9", {fresh_layer, digest_of('1')}, ask)));
  count(static_cast<bool>(store.lease_layer(fresh_layer, "replica", std::chrono::seconds(30))));
  count(static_cast<bool>(
      store.claim_queued_scans("replica", std::chrono::seconds(30), 10, "2026-01-01T00:02:00Z")));
  ScanRecord submitted;
  submitted.id = "scan_submitted";
  submitted.image = "reg.example/app:1";
  submitted.created_at = "2026-01-01T00:03:00Z";
  count(static_cast<bool>(store.submit_scan(
      submitted, "replica", ClaimNext{2, std::chrono::seconds(30), "2026-01-01T00:03:00Z"})));
  count(static_cast<bool>(store.cancel_scan(scan_id, "2026-01-01T00:03:00Z")));
  count(static_cast<bool>(store.cancel_scan("scan_done", "2026-01-01T00:03:00Z")));
  // A scan that ends judged: its row and its day's trend result.
  ScanRecord judged;
  judged.id = "scan_j" + tag;
  judged.image = "reg.example/app:" + tag;
  judged.platform = "linux/amd64";
  judged.status = ScanStatus::done;
  judged.created_at = judged.finished_at = "2026-01-01T00:04:00Z";
  judged.manifest_digest = digest_of('a');
  judged.result = R"({"score":50,"grade":"D"})";
  count(static_cast<bool>(store.put_scan(judged)));
  judged.id = "scan_f" + tag;
  count(static_cast<bool>(store.finish_scan(judged, 5, "replica")));
  count(static_cast<bool>(store.acquire_lease("k", "replica", std::chrono::seconds(30))));
  count(static_cast<bool>(store.release_lease("k", "replica")));
  count(static_cast<bool>(store.get_layer(digest_of('1'))));
  count(static_cast<bool>(store.get_layer_meta(digest_of('2'))));
  count(static_cast<bool>(store.get_layers({digest_of('1'), digest_of('2')})));
  count(static_cast<bool>(store.get_layer_metas({digest_of('1'), digest_of('2')})));
  count(static_cast<bool>(store.report_context(digest_of('a'))));
  count(static_cast<bool>(store.report_sources(digest_of('a'), {digest_of('1')})));
  // A scan's end with its findings: all of it or none (the roll-back check below).
  ScanRecord found_scan = judged;
  found_scan.id = "scan_i" + tag;
  ImageRecord found_image = im;
  found_image.manifest_digest = "sha256:" + std::string(62, '8') + tag;
  count(static_cast<bool>(store.finish_image_scan(
      {found_image, TagRecord{"reg.example", "found", hex, found_image.manifest_digest},
       ReportRecord{found_image.manifest_digest, "rs", "reg.example/found:" + tag, 40, "D",
                    R"({"score":40,"findings":[]})", "", false, "", ""},
       "reg.example/found:" + tag},
      found_scan, 5, "replica", {})));
  count(static_cast<bool>(store.get_image(digest_of('a'))));
  count(static_cast<bool>(store.get_scan("scan_done")));
  count(static_cast<bool>(store.list_scans({})));
  count(static_cast<bool>(store.list_scan_results("2025-01-01", "")));
  count(static_cast<bool>(store.list_image_digests("rs")));
  count(static_cast<bool>(store.count_scans(ScanStatus::done)));
  ImageQuery q;
  q.ruleset_version = "rs";
  count(static_cast<bool>(store.list_images(q)));
  for (const char* sort : {"last_scanned", "score", "-score"}) {
    q.sort = sort;
    count(static_cast<bool>(store.list_images(q)));
  }
  count(static_cast<bool>(store.list_repositories("", 10, 0)));
  count(static_cast<bool>(store.list_tags("reg.example", "app", "rs")));
  count(static_cast<bool>(store.stats("rs")));
  count(static_cast<bool>(store.get_report(digest_of('a'), "rs")));
  count(static_cast<bool>(store.latest_report(digest_of('a'))));
  count(static_cast<bool>(store.image_name(digest_of('a'))));
  count(static_cast<bool>(store.image_tags(digest_of('a'))));
  count(static_cast<bool>(store.list_suppressions()));
  count(static_cast<bool>(store.list_reference_images()));
  count(static_cast<bool>(store.has_pending_scan("reg.example/app:1")));
  count(static_cast<bool>(store.touch_image(fresh, TagRecord{"reg.example", "app", hex, ""})));
  count(static_cast<bool>(store.prune_scans("reg.example/app:1", 1000)));
  count(static_cast<bool>(store.known_result("reg.example/app:" + tag, "linux/amd64", "rs")));
  count(static_cast<bool>(store.record_unchanged("reg.example/seen:" + tag, digest_of('a'),
                                                 TagRecord{"reg.example", "app", hex, ""})));
  count(static_cast<bool>(store.check_tags(
      {{"reg.example/app:1", digest_of('a'), TagRecord{"reg.example", "app", "1", ""}}},
      "linux/amd64", "rs", nullptr)));
  count(static_cast<bool>(store.fleet_days("2025-01-01")));
  count(static_cast<bool>(store.dashboard_query_plans("rs")));
  return failures;
}

void check_failures_roll_back(Store& store, const std::vector<std::string>& tables,
                              const std::function<void(const std::string&)>& break_table,
                              const std::function<void(const std::string&)>& repair_table) {
  REQUIRE(store.put_layer(layer('1')));
  REQUIRE(store.put_layer(layer('2')));
  REQUIRE(store.put_image(image('a', {'1', '2'}), TagRecord{"reg.example", "app", "1", ""}));
  REQUIRE(store.put_report(report('a', "rs", 50, "D", "debian:12", true)));
  REQUIRE(store.replace_suppressions({{"BW-SHELL", "bin/sh", "", "old", "", "", ""}}));
  REQUIRE(store.put_reference_image("debian:12", digest_of('a')));
  ScanRecord done = queued_scan("scan_done", "reg.example/app:1", "2026-01-01T00:00:00Z");
  REQUIRE(store.put_scan(done));
  done.status = ScanStatus::done;
  done.manifest_digest = digest_of('a');
  done.finished_at = "2026-01-01T00:01:00Z";
  done.result = R"({"score":50})";
  REQUIRE(store.put_scan(done));

  int round = 0;
  for (const std::string& table : tables) {
    CAPTURE(table);
    ++round;
    char hex[3];
    std::snprintf(hex, sizeof hex, "%02x", round);
    const std::string fresh = "sha256:" + std::string(62, 'e') + hex;
    const std::string fresh_layer = "sha256:" + std::string(62, 'f') + hex;
    const std::string scan_id = std::string("scan_r") + hex;
    // Queued before the break, so that claiming and cancelling have something to change.
    ScanRecord queued = done;
    queued.id = scan_id;
    queued.status = ScanStatus::queued;
    queued.manifest_digest.clear();
    queued.finished_at.clear();
    queued.result.clear();
    REQUIRE(store.put_scan(queued));
    break_table(table);

    int failures = call_everything(store, hex, fresh, fresh_layer, scan_id);
    CHECK(failures > 0);
    repair_table(table);

    // What was there before is there still.
    auto a = store.get_image(digest_of('a'));
    REQUIRE(a);
    REQUIRE(*a);
    CHECK((*a)->layers.size() == 2);
    auto got_layer = store.get_layer(digest_of('1'));
    REQUIRE(got_layer);
    CHECK(*got_layer != nullptr);
    auto old_scan = store.get_scan("scan_done");
    REQUIRE(old_scan);
    REQUIRE(*old_scan);
    CHECK((*old_scan)->status == ScanStatus::done);
    // Writes of several statements: whole or not at all.
    auto b = store.get_image(fresh);
    REQUIRE(b);
    if (*b) {
      CHECK((*b)->layers.size() == 3);
      auto tags = store.list_tags("reg.example", "app", "rs");
      REQUIRE(tags);
      CHECK(std::any_of(tags->begin(), tags->end(), [&](const TagRow& t) { return t.tag == hex; }));
    }
    // A scan's end with its findings: the image, its report, its reference and the scan's row,
    // all or none.
    const std::string found_digest = "sha256:" + std::string(62, '8') + hex;
    auto found_image = store.get_image(found_digest);
    auto found_report = store.get_report(found_digest, "rs");
    auto found_scan = store.get_scan(std::string("scan_i") + hex);
    auto found_refs = store.list_reference_images();
    REQUIRE(found_image);
    REQUIRE(found_report);
    REQUIRE(found_scan);
    REQUIRE(found_refs);
    const bool whole = found_image->has_value();
    CHECK(found_report->has_value() == whole);
    CHECK(found_scan->has_value() == whole);
    CHECK(std::any_of(found_refs->begin(), found_refs->end(),
                      [&](auto& r) { return r.second == found_digest; }) == whole);
    auto sup = store.list_suppressions();
    REQUIRE(sup);
    CHECK((sup->size() == 1 || sup->size() == 2));
    if (sup->size() == 1) CHECK((*sup)[0].reason == "old");
    // The report of image a goes with the suppressions it was built under, or not at all.
    auto rep = store.get_report(digest_of('a'), "rs");
    REQUIRE(rep);
    if (sup->size() == 1) CHECK(rep->has_value());
    // Put back the old suppressions (and the report they drop) for the next round.
    REQUIRE(store.replace_suppressions({{"BW-SHELL", "bin/sh", "", "old", "", "", ""}}));
    REQUIRE(store.put_report(report('a', "rs", 50, "D", "debian:12", true)));
    auto q2 = store.get_scan(scan_id);
    REQUIRE(q2);
    REQUIRE(*q2);
    // A judged scan and its trend row: both or neither.
    auto judged = store.get_scan(std::string("scan_j") + hex);
    auto trend = store.list_scan_results("2026-01-01", std::string("reg.example/app:") + hex);
    REQUIRE(judged);
    REQUIRE(trend);
    CHECK(judged->has_value() == (trend->size() == 1));
  }
}

void check_deliveries(Store& store) {
  DeliveryRecord d;
  d.event_key = "scan_c/scan.failed";
  d.event = "scan.failed";
  d.url = "http://127.0.0.1:9/h";
  d.body = "{}";
  d.created_at_ms = 1000;
  REQUIRE(store.enqueue_delivery(d).value());
  CHECK_FALSE(store.enqueue_delivery(d).value());  // the same event to the same URL: once
  CHECK(store.claim_deliveries("a", 999, 5000, 10).value().empty());  // not due yet
  CHECK(store.claim_deliveries("a", 1000, 5000, 10).value().size() == 1);
  // a's attempt is under way: a's next pass does not send it a second time.
  CHECK(store.claim_deliveries("a", 2000, 5000, 10).value().empty());
  CHECK(store.claim_deliveries("b", 2000, 5000, 10).value().empty());  // a's claim stands
  auto taken = store.claim_deliveries("b", 7000, 5000, 10).value();    // a's has lapsed
  REQUIRE(taken.size() == 1);
  // a's late outcome does not overwrite b's claim.
  taken[0].state = "delivered";
  taken[0].attempts = 1;
  REQUIRE(store.finish_delivery(taken[0], "a", 0));
  CHECK(store.list_deliveries("pending", 0, 10).value().size() == 1);
  REQUIRE(store.finish_delivery(taken[0], "b", 0));
  CHECK(store.list_deliveries("delivered", 0, 10).value().size() == 1);
  // Ended rows past the retention go.
  REQUIRE(store.finish_delivery(taken[0], "b", taken[0].updated_at_ms + 1));
  CHECK(store.list_deliveries("", 0, 10).value().empty());
}

}  // namespace bw::test
