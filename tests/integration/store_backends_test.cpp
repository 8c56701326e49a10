// The PostgreSQL store on a real PostgreSQL 15 (Debian's postgresql-15, started here as an
// unprivileged user on a free loopback port): the store's contract checks that SQLite passes
// in the unit tests, then bulwarkd on it: scans through the real registry, a restart, several
// daemons migrating one database at once, and readiness following the database.
#include "daemon.h"
#include "fault_server.h"
#include "postgres.h"
#include "registry.h"
#include "store/detail/pg.h"
#include "store/detail/pg_layer_reads.h"
#include "store_checks.h"
#include "tar_builder.h"

#include <doctest/doctest.h>

#include <poll.h>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace bw;
using namespace bw::test;
using nlohmann::json;

namespace {

// One server for the whole file: starting PostgreSQL costs a second or two.
LocalPostgres* server() {
  static std::unique_ptr<LocalPostgres> pg = [] {
    std::unique_ptr<LocalPostgres> p;
    if (LocalPostgres::available()) p = std::make_unique<LocalPostgres>();
    return p;
  }();
  return pg.get();
}

#define REQUIRE_POSTGRES()                                                          \
  if (!server()) {                                                                  \
    MESSAGE(                                                                        \
        "skipped: Debian's postgresql-15 is not installed (deploy/install-deps.sh " \
        "--test installs it)");                                                     \
    return;                                                                         \
  }

// What a session's statements read, one value per line: each -c runs in order in one session.
std::vector<std::string> psql_session(const std::string& url, std::vector<std::string> sql) {
  std::vector<std::string> args{"psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", url};
  for (auto& s : sql) {
    args.push_back("-c");
    args.push_back(std::move(s));
  }
  std::string out;
  REQUIRE_MESSAGE(run_command(args, out) == 0, out);
  std::vector<std::string> lines;
  for (std::size_t at = 0, end; at < out.size(); at = end + 1) {
    end = out.find('\n', at);
    if (end == std::string::npos) end = out.size();
    lines.push_back(out.substr(at, end - at));
  }
  return lines;
}

// One value read with psql from outside the store.
std::string psql_value(const std::string& url, const std::string& sql) {
  auto lines = psql_session(url, {sql});
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) out += (i ? "\n" : "") + lines[i];
  return out;
}

std::unique_ptr<Store> postgres_at(const std::string& url) {
  auto s = open_postgres_store(url);
  REQUIRE_MESSAGE(s, (s ? "" : s.error().message));
  return std::move(*s);
}

TestImage app_image(const std::string& marker) {
  TestImage img{{make_layer(TarBuilder()
                                .file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
                                .file("bin/sh", std::string(2048, 's'), 0755)
                                .build()),
                 make_layer(TarBuilder().file("app/" + marker, "x", 0755).build())}};
  img.config = {{"User", "1000"}};
  return img;
}

}  // namespace

TEST_CASE("postgresql: the store's contract, as SQLite keeps it") {
  REQUIRE_POSTGRES();
  std::string url = server()->create_database();
  check_migrations([&] { return postgres_at(url); });
  {
    // Search's trigram index (pg_trgm ships with the server and is a trusted extension).
    CHECK(psql_value(url,
                     "SELECT indexname FROM pg_indexes WHERE indexname = "
                     "'image_summaries_by_name'") == "image_summaries_by_name");
  }
  check_layer_round_trip(*postgres_at(server()->create_database()));
  check_image_needs_its_layers(*postgres_at(server()->create_database()));
  check_scan_cursor(*postgres_at(server()->create_database()));
  check_scan_queue(*postgres_at(server()->create_database()));
  check_scan_end_with_findings(*postgres_at(server()->create_database()));
  check_queries(*postgres_at(server()->create_database()));
  {
    // Write transactions so far, from the transaction ids handed out: each transaction that
    // writes takes one, and so does this query (hence the - 1 per call made before).
    std::string db = server()->create_database();
    std::uint64_t asked = 0;
    check_fleet_reads(*postgres_at(db), [&] {
      return static_cast<std::uint64_t>(
                 std::stoull(psql_value(db, "SELECT pg_current_xact_id()"))) -
             asked++;
    });
  }
  check_fleet_trend(*postgres_at(server()->create_database()));
  check_list_rows(*postgres_at(server()->create_database()));
  check_deliveries(*postgres_at(server()->create_database()));
  {
    std::string db = server()->create_database();
    std::ifstream file(BULWARK_SOURCE_DIR "/schema/postgres/007_list_rows.sql");
    std::string migration((std::istreambuf_iterator<char>(file)), {});
    REQUIRE_FALSE(migration.empty());
    check_list_rows_backfill(
        *postgres_at(db), [&](const std::string& sql) { psql_exec(db, sql); }, migration);
  }
  std::string broken = server()->create_database();
  check_errors_surface(*postgres_at(broken), [&] {
    std::string out;
    REQUIRE_MESSAGE(run_command({"psql", "-X", "-q", broken, "-c",
                                 "DROP SCHEMA public CASCADE; CREATE SCHEMA public;"},
                                out) == 0,
                    out);
  });
}

namespace {

LayerRecord counted_layer(char c) {
  LayerRecord rec{"sha256:" + std::string(64, c),
                  "application/vnd.oci.image.layer.v1.tar+gzip",
                  1,
                  "2026-01-01T00:00:00Z",
                  {}};
  rec.facts.compressed_size = 10;
  rec.facts.uncompressed_size = 20;
  return rec;
}

}  // namespace

TEST_CASE("postgresql: counters are appended to a log that a scan's end folds into the totals") {
  REQUIRE_POSTGRES();
  std::string url = server()->create_database();
  auto store = postgres_at(url);
  auto scan = [](int i) {
    ScanRecord s;
    s.id = "scan_" + std::to_string(i);
    s.image = "reg.example/app:" + std::to_string(i);
    s.platform = "linux/amd64";
    s.created_at = "2026-01-01T00:00:00Z";
    return s;
  };
  auto ended = [&](int i) {
    ScanRecord s = scan(i);
    s.status = ScanStatus::failed;
    s.finished_at = "2026-01-01T00:00:01Z";
    s.error_code = "registry_unreachable";
    return s;
  };
  for (int i = 0; i < 4; ++i) REQUIRE(store->put_scan(scan(i)));
  REQUIRE(store->put_layer(counted_layer('a')));
  // Appended, not folded (only a scan's end folds): readers count the log. One row per counted
  // write: a scan's one delta, the layer's three.
  CHECK(psql_value(url, "SELECT count(*) FROM fleet_count_log") == "5");
  CHECK(psql_value(url, "SELECT sum(cardinality(names)) FROM fleet_count_log") == "7");
  CHECK((*store->stats("rs"))["scans"] == json{{"queued", 4}});
  // The first scan's end folds what was logged, its own deltas included.
  REQUIRE(store->finish_scan(ended(0), 20, "me"));
  CHECK(psql_value(url, "SELECT count(*) FROM fleet_count_log") == "0");
  CHECK(psql_value(url, "SELECT value FROM fleet_count_totals WHERE name = 'scans|queued'") == "3");
  CHECK(psql_value(url, "SELECT value FROM fleet_count_totals WHERE name = 'layers'") == "1");
  CHECK(*store->count_scans(ScanStatus::queued) == 3);
  CHECK(*store->count_scans(ScanStatus::failed) == 1);
  // Folded or still in the log (a fold is due a tenth of a second after the last), the figures
  // are the same.
  REQUIRE(store->put_layer(counted_layer('b')));
  REQUIRE(store->finish_scan(ended(1), 20, "me"));
  auto stats = store->stats("rs");
  REQUIRE(stats);
  CHECK((*stats)["layers"] == 2);
  CHECK((*stats)["uncompressed_bytes_analyzed"] == 40);
  CHECK((*stats)["compressed_bytes_fetched"] == 20);
  CHECK((*stats)["scans"] == json{{"queued", 2}, {"failed", 2}});
  // A fold from elsewhere (another replica) changes no figure.
  CHECK(psql_value(url, "SELECT bulwark_fold_counts()") == "t");
  CHECK(psql_value(url, "SELECT count(*) FROM fleet_count_log") == "0");
  CHECK(*store->stats("rs") == *stats);
  // While another replica folds, this one's scan end does not wait for it: it folds nothing and
  // leaves the log to the next fold.
  auto folding = std::async(std::launch::async, [&] {
    return psql_value(url,
                      "BEGIN; SELECT pg_advisory_xact_lock(hashtext('bulwark_fold_counts')); "
                      "SELECT pg_sleep(3); COMMIT;");
  });
  while (psql_value(url,
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database())") != "1")
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // the store's fold is due
  REQUIRE(store->finish_scan(ended(2), 20, "me"));
  CHECK(psql_value(url, "SELECT count(*) FROM fleet_count_log") == "1");
  CHECK((*store->stats("rs"))["scans"] == json{{"queued", 1}, {"failed", 3}});
  // Nor does a queue-depth read: it sums the log.
  CHECK(*store->count_scans(ScanStatus::failed) == 3);
  CHECK(psql_value(url, "SELECT count(*) FROM fleet_count_log") == "1");
  folding.get();
  // Folds are due a tenth of a second after the last fold of any replica: with the last one
  // "later" than now, a scan's end folds nothing. A queue-depth read folds whatever the time,
  // then reads the total alone.
  psql_exec(url, "UPDATE fleet_count_folds SET folded_at = now() + interval '1 hour'");
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // the store's own wait is over
  REQUIRE(store->finish_scan(ended(3), 20, "me"));
  CHECK(psql_value(url, "SELECT count(*) FROM fleet_count_log") == "2");
  CHECK(*store->count_scans(ScanStatus::failed) == 4);
  CHECK(psql_value(url, "SELECT count(*) FROM fleet_count_log") == "0");
  CHECK(psql_value(url, "SELECT value FROM fleet_count_totals WHERE name = 'scans|failed'") == "4");
  CHECK((*store->stats("rs"))["scans"] == json{{"failed", 4}});
}

TEST_CASE("postgresql: a scan's reads of one key read by index on tables of a few rows") {
  REQUIRE_POSTGRES();
  std::string url = server()->create_database();
  (void)postgres_at(url);  // migrated
  // Tables of a few rows, where the planner prices a whole-table read below an index probe.
  psql_exec(url,
            "INSERT INTO images(manifest_digest, media_type, config_digest, os, architecture, "
            "config, manifest, first_seen, last_scanned) SELECT 'sha256:' || i, 'm', 'c', "
            "'linux', 'amd64', '{}', '{}', 't', 't' FROM generate_series(1, 3) i; "
            "INSERT INTO tags SELECT 'reg.example', 'app' || i, 'v1', 'sha256:' || i, 't', 't' "
            "FROM generate_series(1, 3) i; "
            "INSERT INTO latest_results SELECT 'reg.example/app' || i || ':v1', 50, 'C', 't' "
            "FROM generate_series(1, 3) i; "
            "INSERT INTO scans(id, image, platform, status, created_at) SELECT 's' || i, "
            "'reg.example/app:v1', 'linux/amd64', CASE WHEN i < 4 THEN 'queued' ELSE 'done' END, "
            "'t' FROM generate_series(1, 8) i; "
            "INSERT INTO leases SELECT 'layer:' || i, 'o', now() FROM generate_series(1, 3) i; "
            // As autovacuum leaves them: a table never analyzed is priced as ten pages.
            "ANALYZE images, tags, latest_results, scans, leases");
  // A scan's claim, report context and result count, the end of its leases and a new tag's
  // repository counter, in one transaction whose own counters say how each table was read.
  // Plans made for any parameters, as a prepared statement keeps after its fifth run.
  auto probes = [&](const std::string& before) {
    auto out = psql_session(
        url,
        {"BEGIN", before, "SET plan_cache_mode = force_generic_plan",
         "SELECT count(*) FROM bulwark_claim_scans('me', 30, 4, 't')",
         "SELECT count(*) FROM bulwark_digest_tags('sha256:1', 100)",
         // The same result again (50, C): the image's latest result read and its time moved.
         "SELECT count(*) FROM (SELECT bulwark_count_result('reg.example/app1:v1', 50, 'C', "
         "'t2')) counted",
         "SELECT count(*) FROM (SELECT bulwark_end_lease('layer:1', NULL), "
         "bulwark_end_lease('scan:s1', 'me')) ended",
         "INSERT INTO tags VALUES ('reg.example', 'app1', 'v2', 'sha256:2', 't', 't')",
         "SELECT string_agg(relname || ' ' || seq_scan || ' ' || (idx_scan > 0), ', ' ORDER BY "
         "relname) FROM pg_stat_xact_user_tables WHERE relname IN ('tags', "
         "'latest_results', 'scans', 'leases')",
         "SELECT count(*) FROM leases", "ROLLBACK"});
    REQUIRE(out.size() == 6);
    CHECK(out[0] == "3");
    CHECK(out[1] == "1");
    CHECK(out[2] == "1");
    CHECK(out[3] == "1");
    CHECK(out[5] == "4");  // three layers' and three claimed scans' leases, one of each ended
    return out[4];
  };
  CHECK(probes("SELECT 1 WHERE false") ==
        "latest_results 0 true, leases 0 true, scans 0 true, tags 0 true");
  // The same reads with the functions' setting taken back (in the transaction only): the
  // planner reads these tables whole, which is what the setting prevents. (The claim's leases
  // are written through their key's index whatever the plan. The claim reads scans twice a
  // row asked for: three rows claimed, then a fourth run that finds none.)
  CHECK(probes("ALTER FUNCTION bulwark_digest_tags(text, integer) RESET enable_seqscan; "
               "ALTER FUNCTION bulwark_count_result(text, integer, text, text) RESET "
               "enable_seqscan; "
               "ALTER FUNCTION bulwark_claim_scans(text, integer, bigint, text) RESET "
               "enable_seqscan; "
               "ALTER FUNCTION bulwark_end_lease(text, text) RESET enable_seqscan; "
               "ALTER FUNCTION bulwark_count_repository() RESET enable_seqscan") ==
        "latest_results 2 false, leases 2 true, scans 8 false, tags 2 false");

  // The claim's walk (its statement, in bulwark_claim_scans, priced as there): the queue read
  // in its order from the index of queued scans, the only one in that order, nothing sorted;
  // not the walk of every pending scan, sorted, that the bench caught.
  auto plan_of = [&](const std::string& sql) {
    auto lines =
        psql_session(url, {"SET plan_cache_mode = force_generic_plan", "SET enable_seqscan = off",
                           "PREPARE q(bigint) AS " + sql, "EXPLAIN EXECUTE q(4)"});
    std::string text;
    for (auto& line : lines) text += line + "\n";
    return text;
  };
  std::string claim = plan_of(
      "SELECT seq FROM scans WHERE status = 'queued' ORDER BY seq LIMIT 1 FOR UPDATE SKIP "
      "LOCKED");
  CAPTURE(claim);
  CHECK(claim.find("Index Scan using scans_queued on scans") != std::string::npos);
  CHECK(claim.find("Sort") == std::string::npos);
  // A list by status (list_scans: the status a constant) still reads a page in its order from
  // an index, whichever the status.
  for (const char* status : {"queued", "running", "done", "failed", "cancelled"}) {
    std::string list = plan_of("SELECT id FROM scans WHERE true AND status = '" +
                               std::string(status) + "' ORDER BY seq DESC LIMIT $1");
    CAPTURE(list);
    CHECK(list.find(status == std::string("queued")
                        ? "Index Scan Backward using scans_queued on scans"
                        : "Index Scan Backward using scans_by_status_past_queue on scans") !=
          std::string::npos);
    CHECK(list.find("Sort") == std::string::npos);
  }
}

TEST_CASE("postgresql: a scan's statements are planned once per session, whatever its layers") {
  REQUIRE_POSTGRES();
  std::string url = server()->create_database();
  (void)postgres_at(url);  // migrated
  // The bench's store: 450 images, their layers and reports.
  psql_exec(url,
            "INSERT INTO layers(digest, media_type, compression, compressed_size, "
            "uncompressed_size, diff_id, entry_count, status, analyzer_version, analyzed_at, "
            "facts) SELECT 'sha256:' || i, 'm', 'gzip', 1, 1, 'sha256:d' || i, 1, 'complete', 1, "
            "'t', '{}' FROM generate_series(1, 450) i; "
            "INSERT INTO reports(manifest_digest, ruleset_version, image_ref, score, grade, "
            "report, created_at) SELECT 'sha256:' || i, 'v1', 'r', 50, 'C', '{}', 't' FROM "
            "generate_series(1, 450) i; ANALYZE layers, reports");
  // The store's statement on one session, as the store runs it (prepared on its first run),
  // for images of one to ten layers, one of them named twice; then how the server planned it.
  auto planned = [&](const std::string& sql) {
    auto c = pg::Connection::open(url);
    REQUIRE(c);
    for (int n = 1; n <= 10; ++n) {
      std::vector<std::string> digests;
      for (int i = 1; i <= n; ++i) digests.push_back("sha256:" + std::to_string(i));
      digests.push_back("sha256:1");
      auto r = c->exec(sql, {"sha256:" + std::to_string(n), "v1", pg::distinct_array(digests)});
      REQUIRE(r);
      CHECK(r->size() == n + 1);  // the report, each layer once
    }
    auto plans = c->exec(
        "SELECT generic_plans || ' generic, ' || custom_plans || ' custom' FROM "
        "pg_prepared_statements WHERE statement = $1",
        {sql});
    REQUIRE(plans);
    REQUIRE(plans->size() == 1);
    return plans->text(0, 0);
  };
  // Five plans for its first values, then the session's one plan for every value.
  CHECK(planned(pg::lookup_statement()) == "5 generic, 5 custom");
  // With unnest, whose estimate counts an array value and not a parameter, a plan for each run:
  // what the bench caught.
  std::string with_unnest = pg::lookup_statement();
  with_unnest.replace(with_unnest.find("bulwark_elements("), 17, "unnest(");
  CHECK(planned(with_unnest) == "0 generic, 10 custom");
  // The counters' function keeps its statement's plan: PL/pgSQL, where a SQL function's
  // statement is planned at each call.
  CHECK(psql_value(url,
                   "SELECT l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang "
                   "WHERE p.proname = 'bulwark_count'") == "plpgsql");
}

TEST_CASE("postgresql: a claim keeps its plan for the session, however many rows it takes") {
  REQUIRE_POSTGRES();
  std::string url = server()->create_database();
  auto store = postgres_at(url);
  // A queue behind a history, as in the bench (300 images submitted at once): the scans
  // finished, then those waiting.
  psql_exec(url,
            "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; "
            "INSERT INTO scans(id, image, platform, status, created_at) SELECT 'd' || i, "
            "'reg.example/app:' || i, 'linux/amd64', 'done', 't' FROM generate_series(1, 2000) i; "
            "INSERT INTO scans(id, image, platform, status, created_at) SELECT 'q' || i, "
            "'reg.example/app:' || i, 'linux/amd64', 'queued', 't' FROM generate_series(1, 300) i; "
            "ANALYZE scans; SELECT pg_stat_statements_reset()");
  // Twenty claims on the store's one session, of one row and of two: each takes the first
  // rows still queued, in order, leased to the claimer.
  std::vector<std::string> claimed;
  for (int i = 0; i < 20; ++i) {
    std::size_t rows = i % 2 ? 2 : 1;
    auto c = store->claim_queued_scans("me", std::chrono::seconds(30), rows, "t1");
    REQUIRE(c);
    REQUIRE(c->size() == rows);
    for (auto& s : *c) {
      CHECK(s.status == ScanStatus::running);
      CHECK(s.started_at == "t1");
      claimed.push_back(s.id);
    }
  }
  REQUIRE(claimed.size() == 30);
  for (std::size_t i = 0; i < claimed.size(); ++i) CHECK(claimed[i] == "q" + std::to_string(i + 1));
  CHECK(psql_value(url, "SELECT count(*) FROM leases WHERE key LIKE 'scan:q%' AND owner = 'me'") ==
        "30");
  // Its statement was planned for its first five runs and once more for the session's plan
  // (6; a few more if something invalidated it meanwhile), not at every run (30 with a
  // parameter's LIMIT, whose generic plan read the table whole).
  auto counted = psql_value(url,
                            "SELECT sum(calls) || ' ' || sum(plans) FROM pg_stat_statements WHERE "
                            "query LIKE 'WITH picked AS%' AND dbid = (SELECT oid FROM "
                            "pg_database WHERE datname = current_database())");
  CAPTURE(counted);
  std::istringstream in(counted);
  int runs = 0, plans = 0;
  in >> runs >> plans;
  CHECK(runs == 30);
  CHECK(plans >= 6);
  CHECK(plans <= 10);
}

TEST_CASE("postgresql: a scan's end is announced to other processes' feeds as it commits") {
  REQUIRE_POSTGRES();
  std::string url = server()->create_database();
  auto here = postgres_at(url);
  auto other = postgres_at(url);  // another replica
  auto feed = here->open_scan_end_feed();
  REQUIRE(feed);
  REQUIRE(*feed);
  // A scan queued, one claimed and ended done, one cancelled while queued: the two ends are
  // announced, in the order they committed; the queuing is not.
  ScanRecord done = queued_scan("s_done", "reg.example/app:1", "t0");
  ScanRecord cancelled = queued_scan("s_cancelled", "reg.example/app:2", "t0");
  REQUIRE(other->put_scan(queued_scan("s_queued", "reg.example/app:3", "t0")));
  REQUIRE(other->put_scan(done));
  REQUIRE(other->put_scan(cancelled));
  REQUIRE(other->claim_queued_scans("other", std::chrono::seconds(30), 1, "t1")->size() == 1);
  done.status = ScanStatus::done;
  done.finished_at = "t2";
  REQUIRE(other->finish_scan(done, 5, "other"));
  REQUIRE(*other->cancel_scan("s_cancelled", "t3") == ScanStatus::queued);
  std::vector<Store::ScanEnd> ends;
  for (int tries = 0; tries < 100 && ends.size() < 2; ++tries) {
    pollfd p{(*feed)->socket(), POLLIN, 0};
    ::poll(&p, 1, 100);
    auto taken = (*feed)->take();
    REQUIRE(taken);
    ends.insert(ends.end(), taken->begin(), taken->end());
  }
  REQUIRE(ends.size() == 2);
  CHECK(ends[0].id == "s_done");
  CHECK(ends[1].id == "s_cancelled");
  // The end a replica wrote comes with the scan as it ended, as a read of it would return it;
  // a cancel of a queued scan, by its id alone.
  REQUIRE(ends[0].record);
  auto stored = here->get_scan("s_done");
  REQUIRE(stored);
  REQUIRE(*stored);
  const ScanRecord& announced = *ends[0].record;
  CHECK(announced.status == ScanStatus::done);
  CHECK(announced.image == (*stored)->image);
  CHECK(announced.platform == (*stored)->platform);
  CHECK(announced.created_at == (*stored)->created_at);
  CHECK(announced.started_at == (*stored)->started_at);
  CHECK(announced.finished_at == "t2");
  CHECK(announced.finished_at == (*stored)->finished_at);
  CHECK(announced.progress == (*stored)->progress);
  CHECK(announced.request_id == (*stored)->request_id);
  CHECK_FALSE(ends[1].record);
  // A write of a scan that is not an end, and a repeated end (a finished scan is final), say
  // nothing.
  REQUIRE(other->put_scan(queued_scan("s_more", "reg.example/app:4", "t4")));
  REQUIRE(other->finish_scan(done, 5, "other"));
  pollfd p{(*feed)->socket(), POLLIN, 0};
  ::poll(&p, 1, 500);
  CHECK((*feed)->take()->empty());
  // The SQLite store has no other process to hear from.
  TempDir dir;
  auto sqlite = open_sqlite_store({dir.path() + "/bulwark.db"});
  REQUIRE(sqlite);
  auto none = (*sqlite)->open_scan_end_feed();
  REQUIRE(none);
  CHECK_FALSE(*none);
}

TEST_CASE("postgresql: the store's sessions and its index-priced functions run without JIT") {
  REQUIRE_POSTGRES();
  std::string url = server()->create_database();
  (void)postgres_at(url);  // migrated
  // A whole-table read priced out (the count log, read whole on purpose, inside
  // bulwark_count_now) costs 10^10, above every JIT threshold: a session with JIT compiles the
  // statement at each run.
  const std::string explain =
      "EXPLAIN ANALYZE SELECT value FROM fleet_counts WHERE name = 'scans|queued'";
  auto jit = [](const std::vector<std::string>& plan) {
    return std::any_of(plan.begin(), plan.end(),
                       [](const std::string& l) { return l.starts_with("JIT:"); });
  };
  if (psql_value(url, "SELECT pg_jit_available()") == "t") {
    CHECK(jit(psql_session(url, {"SET enable_seqscan = off", explain})));
    CHECK_FALSE(jit(psql_session(url, {"SET enable_seqscan = off", "SET jit = off", explain})));
  }
  // The store's own sessions have JIT off, unless their connection string says otherwise.
  auto c = pg::Connection::open(url);
  REQUIRE(c);
  auto shown = c->exec("SHOW jit");
  REQUIRE(shown);
  CHECK(shown->text(0, 0) == "off");
  auto told = pg::Connection::open(url + "?options=-c%20jit%3Don");  // url has no query yet
  REQUIRE(told);
  CHECK(told->exec("SHOW jit")->text(0, 0) == "on");
  // Every function that prices whole-table reads out turns JIT off with it.
  CHECK(std::stoi(psql_value(url,
                             "SELECT count(*) FROM pg_proc WHERE proconfig @> "
                             "'{enable_seqscan=off}' AND proconfig @> '{jit=off}'")) >= 6);
  CHECK(psql_value(url,
                   "SELECT string_agg(proname, ', ') FROM pg_proc WHERE proconfig @> "
                   "'{enable_seqscan=off}' AND NOT proconfig @> '{jit=off}'") == "");
}

TEST_CASE("postgresql: the count log's move to arrays (014) folds what the old log held") {
  REQUIRE_POSTGRES();
  std::string url = server()->create_database();
  // The database as an older bulwarkd left it: the migrations before 014 applied, deltas still in
  // the log of one delta per row.
  psql_exec(url,
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
            "applied_at TEXT NOT NULL)");
  std::vector<std::filesystem::path> older;
  for (const auto& f : std::filesystem::directory_iterator(BULWARK_SOURCE_DIR "/schema/postgres"))
    if (f.path().filename().string() < "014") older.push_back(f.path());
  std::sort(older.begin(), older.end());
  REQUIRE(older.size() == 13);
  for (std::size_t i = 0; i < older.size(); ++i) {
    std::ifstream file(older[i]);
    psql_exec(url, std::string((std::istreambuf_iterator<char>(file)), {}));
    psql_exec(url, "INSERT INTO schema_migrations VALUES (" + std::to_string(i + 1) + ", '" +
                       older[i].filename().string() + "', '2026-01-01T00:00:00Z')");
  }
  psql_exec(url,
            "INSERT INTO scans(id, image, platform, status, created_at) VALUES ('s1', "
            "'reg.example/app:1', 'linux/amd64', 'queued', '2026-01-01T00:00:00Z'), ('s2', "
            "'reg.example/app:2', 'linux/amd64', 'queued', '2026-01-01T00:00:00Z')");
  REQUIRE(psql_value(url, "SELECT count(*) FROM fleet_count_log") == "2");
  auto store = postgres_at(url);  // applies 014
  CHECK(psql_value(url, "SELECT count(*) FROM fleet_count_log") == "0");
  CHECK(psql_value(url, "SELECT value FROM fleet_count_totals WHERE name = 'scans|queued'") == "2");
  CHECK(*store->count_scans(ScanStatus::queued) == 2);
  // New writes append one row of arrays, which the readers count with the totals.
  REQUIRE(store->put_layer(counted_layer('a')));
  CHECK(psql_value(url, "SELECT array_to_string(names, ',') FROM fleet_count_log") ==
        "layers,uncompressed_bytes_analyzed,compressed_bytes_fetched");
  auto stats = store->stats("rs");
  REQUIRE(stats);
  CHECK((*stats)["layers"] == 1);
  CHECK((*stats)["uncompressed_bytes_analyzed"] == 20);
  CHECK((*stats)["scans"] == json{{"queued", 2}});
}

TEST_CASE(
    "postgresql: a layer read again unchanged comes from memory; one rewritten anywhere is read") {
  REQUIRE_POSTGRES();
  std::string url = server()->create_database();
  check_layer_cache(*postgres_at(url), *postgres_at(url));
}

TEST_CASE("postgresql: statements are prepared once per session; a session that loses them stops") {
  REQUIRE_POSTGRES();
  std::string url = server()->create_database();
  auto c = pg::Connection::open(url);
  REQUIRE(c);
  auto prepared = [&] {
    auto r = c->exec("SELECT count(*) FROM pg_prepared_statements");
    REQUIRE(r);
    return r->integer(0, 0);
  };
  for (int i = 0; i < 3; ++i) {
    auto r = c->exec("SELECT $1::int + 1", {std::to_string(i)});
    REQUIRE(r);
    CHECK(r->integer(0, 0) == i + 1);
  }
  CHECK(prepared() == 1);
  {
    // Names of each connection's own, so that a pooler's shared session never runs another
    // connection's text under a name both used.
    auto other = pg::Connection::open(url);
    REQUIRE(other);
    REQUIRE(other->exec("SELECT $1::int", {"1"}));
    auto name_on = [](pg::Connection& conn) {
      auto r = conn.exec("SELECT name FROM pg_prepared_statements");
      REQUIRE(r);
      REQUIRE(r->size() == 1);
      return r->text(0, 0);
    };
    CHECK(name_on(*c).starts_with("bw_"));
    CHECK(name_on(*other).starts_with("bw_"));
    CHECK(name_on(*c) != name_on(*other));
  }
  // A statement that ran prepared on a session that lost it (DEALLOCATE ALL, or a pooler
  // handing the connection another server session) runs again unprepared, and the connection
  // prepares no more until it reconnects.
  REQUIRE(c->exec("DEALLOCATE ALL"));
  auto again = c->exec("SELECT $1::int + 1", {"41"});
  REQUIRE_MESSAGE(again, (again ? "" : again.error().message));
  CHECK(again->integer(0, 0) == 42);
  CHECK(c->exec("SELECT $1::int * 2", {"2"}));
  CHECK(prepared() == 0);
  // A transaction's first statement goes in one pipeline with its BEGIN: nothing of the
  // transaction has run when it fails, so it is tried again.
  auto fresh = pg::Connection::open(url);
  REQUIRE(fresh);
  c = std::move(fresh);
  REQUIRE(c->exec("SELECT $1::int + 1", {"1"}));
  REQUIRE(c->exec("DEALLOCATE ALL"));
  std::int64_t got = 0;
  auto first = c->transaction([&]() -> Result<void> {
    auto r = c->exec("SELECT $1::int + 1", {"1"});
    if (!r) return r.error();
    got = r->integer(0, 0);
    return {};
  });
  CHECK_MESSAGE(first, (first ? "" : first.error().message));
  CHECK(got == 2);
  CHECK(prepared() == 0);
  // A later statement of the transaction cannot be tried again: that call fails, and the
  // connection goes on unprepared.
  fresh = pg::Connection::open(url);
  REQUIRE(fresh);
  c = std::move(fresh);
  REQUIRE(c->exec("SELECT $1::int + 1", {"1"}));
  REQUIRE(c->exec("DEALLOCATE ALL"));
  auto in_tx = c->transaction([&]() -> Result<void> {
    if (auto r = c->exec("SELECT 1"); !r) return r.error();
    auto r = c->exec("SELECT $1::int + 1", {"1"});
    if (!r) return r.error();
    return {};
  });
  CHECK_FALSE(in_tx);
  CHECK(c->exec("SELECT $1::int + 1", {"1"}));
  CHECK(prepared() == 0);
  // On a connection that keeps them,
  fresh = pg::Connection::open(url);
  REQUIRE(fresh);
  c = std::move(fresh);
  // A statement the server refuses says why, as it would unprepared.
  auto refused = c->exec("SELECT * FROM no_such_table WHERE x = $1", {"1"});
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.find("no_such_table") != std::string::npos);
  // Texts made from numbers stop being kept at the cap, and still run.
  for (int i = 0; i < 300; ++i) {
    auto r = c->exec("SELECT $1::int + " + std::to_string(i), {"1"});
    REQUIRE(r);
    CHECK(r->integer(0, 0) == 1 + i);
  }
  CHECK(prepared() == 256);
}

TEST_CASE(
    "postgresql: deferred writes go with the next statement, in order; one failing fails "
    "the transaction") {
  REQUIRE_POSTGRES();
  std::string url = server()->create_database();
  auto c = pg::Connection::open(url);
  REQUIRE(c);
  REQUIRE(c->exec("CREATE TABLE t(k int PRIMARY KEY, v text)"));
  auto rows = [&] {
    auto r = c->exec("SELECT count(*) FROM t");
    REQUIRE(r);
    return r->integer(0, 0);
  };
  // Statements run in the order given: the read sees the writes deferred before it, and a
  // write deferred after it is sent with COMMIT.
  std::int64_t seen = -1;
  auto ok = c->transaction([&]() -> Result<void> {
    for (int k = 0; k < 3; ++k)
      if (auto d = c->defer("INSERT INTO t VALUES ($1::int, $2)", {std::to_string(k), "a"}); !d)
        return d;
    auto r = c->exec("SELECT count(*) FROM t WHERE v = $1", {"a"});
    if (!r) return r.error();
    seen = r->integer(0, 0);
    return c->defer("UPDATE t SET v = $1 WHERE k = $2::int", {"b", "0"});
  });
  REQUIRE_MESSAGE(ok, (ok ? "" : ok.error().message));
  CHECK(seen == 3);
  auto b = c->exec("SELECT v FROM t WHERE k = $1::int", {"0"});
  REQUIRE(b);
  CHECK(b->text(0, 0) == "b");
  // A deferred write that fails (a duplicate key) fails the statement it was sent with, here
  // COMMIT: nothing of the transaction stays, and the connection goes on.
  auto dup = c->transaction([&]() -> Result<void> {
    if (auto d = c->defer("INSERT INTO t VALUES ($1::int, $2)", {"7", "c"}); !d) return d;
    return c->defer("INSERT INTO t VALUES ($1::int, $2)", {"0", "c"});
  });
  REQUIRE_FALSE(dup);
  CHECK(dup.error().message.find("duplicate key") != std::string::npos);
  CHECK(rows() == 3);
  // The same when the statement waited for is a read: it fails with the write's error.
  auto before_read = c->transaction([&]() -> Result<void> {
    if (auto d = c->defer("INSERT INTO t VALUES ($1::int, $2)", {"1", "c"}); !d) return d;
    auto r = c->exec("SELECT count(*) FROM t WHERE v = $1", {"c"});
    if (!r) return r.error();
    return {};
  });
  REQUIRE_FALSE(before_read);
  CHECK(before_read.error().message.find("duplicate key") != std::string::npos);
  CHECK(rows() == 3);
  // A deferred statement the server refuses to prepare fails the statement it goes with,
  // saying why, before anything of the pipeline is sent.
  auto refused = c->transaction([&]() -> Result<void> {
    if (auto d = c->defer("INSERT INTO t VALUES ($1::int, $2)", {"8", "c"}); !d) return d;
    return c->defer("INSERT INTO no_such_table VALUES ($1::int)", {"1"});
  });
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.find("no_such_table") != std::string::npos);
  CHECK(rows() == 3);
  // A body that throws leaves nothing for the next transaction to send.
  CHECK_THROWS_AS(c->transaction([&]() -> Result<void> {
    if (auto d = c->defer("INSERT INTO t VALUES ($1::int, $2)", {"20", "e"}); !d) return d;
    throw std::runtime_error("the body failed");
  }),
                  std::runtime_error);
  REQUIRE(c->transaction([&]() -> Result<void> {
    return c->defer("INSERT INTO t VALUES ($1::int, $2)", {"21", "e"});
  }));
  auto thrown = c->exec("SELECT count(*) FROM t WHERE v = $1", {"e"});
  REQUIRE(thrown);
  CHECK(thrown->integer(0, 0) == 1);
  REQUIRE(c->exec("DELETE FROM t WHERE v = $1", {"e"}));
  // Outside a transaction a deferred statement runs at once.
  REQUIRE(c->defer("DELETE FROM t WHERE k = $1::int", {"2"}));
  CHECK(rows() == 2);
  // A connection the server dropped while idle: the next transaction's first pipeline (its
  // BEGIN with it) goes on a new session, as a statement outside a transaction would.
  auto killer = pg::Connection::open(url);
  REQUIRE(killer);
  auto pid = c->exec("SELECT pg_backend_pid()");
  REQUIRE(pid);
  REQUIRE(killer->exec("SELECT pg_terminate_backend($1::int)", {pid->text(0, 0)}));
  auto after = c->transaction([&]() -> Result<void> {
    if (auto d = c->defer("INSERT INTO t VALUES ($1::int, $2)", {"9", "d"}); !d) return d;
    auto r = c->exec("SELECT count(*) FROM t WHERE v = $1", {"d"});
    if (!r) return r.error();
    seen = r->integer(0, 0);
    return {};
  });
  REQUIRE_MESSAGE(after, (after ? "" : after.error().message));
  CHECK(seen == 1);
  CHECK(rows() == 3);
}

// A trigger function refusing every row it is fired for, for the checks that inject failures.
constexpr const char* kFailRow =
    "CREATE FUNCTION bw_fail_row() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'injected'; END $$;";
// Lease writes refused, and so every claim (a claim leases what it takes).
constexpr const char* kRefuseLeaseWrites =
    "CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON leases FOR EACH ROW EXECUTE FUNCTION "
    "bw_fail_row();";

// The tables the store writes, for the checks that break them one at a time.
const std::vector<std::string> kTables = {"layers",          "images",
                                          "image_layers",    "tags",
                                          "reports",         "scans",
                                          "suppressions",    "reference_images",
                                          "leases",          "image_summaries",
                                          "daily_results",   "latest_results",
                                          "fleet_days",      "fleet_day_grades",
                                          "fleet_day_scores"};

TEST_CASE("postgresql: a table failing part-way fails the call; earlier statements roll back") {
  REQUIRE_POSTGRES();
  std::string url = server()->create_database();
  auto store = postgres_at(url);
  auto sql = [&](const std::string& text) { psql_exec(url, text); };
  // Reads of the view fail on their first row; writes reach INSTEAD OF triggers that raise.
  sql("CREATE FUNCTION bw_fail() RETURNS boolean LANGUAGE plpgsql VOLATILE AS "
      "$$ BEGIN RAISE EXCEPTION 'injected'; END $$;");
  sql(kFailRow);
  check_failures_roll_back(
      *store, kTables,
      [&](const std::string& t) {
        sql("ALTER TABLE " + t + " RENAME TO " + t + "_real; CREATE VIEW " + t +
            " AS SELECT * FROM " + t + "_real WHERE bw_fail(); CREATE TRIGGER " + t +
            "_w INSTEAD OF INSERT OR UPDATE OR DELETE ON " + t +
            " FOR EACH ROW EXECUTE FUNCTION bw_fail_row();");
      },
      [&](const std::string& t) {
        sql("DROP VIEW " + t + "; ALTER TABLE " + t + "_real RENAME TO " + t + ";");
      });
  // Writes refused by a trigger on the table while reads of it work.
  std::string url3 = server()->create_database();
  auto store3 = postgres_at(url3);
  auto sql3 = [&](const std::string& text) { psql_exec(url3, text); };
  sql3(kFailRow);
  check_failures_roll_back(
      *store3, kTables,
      [&](const std::string& t) {
        sql3("CREATE TRIGGER refuse BEFORE INSERT OR UPDATE OR DELETE ON " + t +
             " FOR EACH ROW EXECUTE FUNCTION bw_fail_row();");
      },
      [&](const std::string& t) { sql3("DROP TRIGGER refuse ON " + t + ";"); });
  // A table gone (renamed away) while the others work.
  std::string url2 = server()->create_database();
  auto store2 = postgres_at(url2);
  auto sql2 = [&](const std::string& text) { psql_exec(url2, text); };
  check_failures_roll_back(
      *store2, kTables,
      [&](const std::string& t) { sql2("ALTER TABLE " + t + " RENAME TO " + t + "_gone;"); },
      [&](const std::string& t) { sql2("ALTER TABLE " + t + "_gone RENAME TO " + t + ";"); });
}

TEST_CASE("postgresql: a submit whose claim fails is queued alone, for a later claim") {
  REQUIRE_POSTGRES();
  std::string url = server()->create_database();
  auto store = postgres_at(url);
  // The claim leases what it takes: with lease writes refused, it fails and its submit's
  // transaction rolls back; the scan is then queued on its own.
  psql_exec(url, std::string(kFailRow) + kRefuseLeaseWrites);
  ScanRecord s;
  s.id = "scan_alone";
  s.image = "reg.example/app:1";
  s.platform = "linux/amd64";
  s.created_at = "2026-01-01T00:00:00Z";
  auto claimed = store->submit_scan(s, "replica-a", ClaimNext{2, std::chrono::seconds(30), "t1"});
  REQUIRE(claimed);
  CHECK(claimed->empty());
  auto stored = store->get_scan("scan_alone");
  REQUIRE(stored);
  REQUIRE(*stored);
  CHECK((*stored)->status == ScanStatus::queued);
  psql_exec(url, "DROP TRIGGER refuse ON leases;");
  auto later = store->claim_queued_scans("replica-a", std::chrono::seconds(30), 2, "t2");
  REQUIRE(later);
  REQUIRE(later->size() == 1);
  CHECK((*later)[0].id == "scan_alone");
}

TEST_CASE("postgresql: a scan's end and the claim sent with its COMMIT commit together or not") {
  REQUIRE_POSTGRES();
  std::string url = server()->create_database();
  auto store = postgres_at(url);
  psql_exec(url, kFailRow);
  check_end_whose_claim_fails(*store, [&](bool refuse) {
    psql_exec(url, refuse ? kRefuseLeaseWrites : "DROP TRIGGER refuse ON leases;");
  });
}

TEST_CASE("postgresql: replicas claiming the queue at once each take different scans") {
  REQUIRE_POSTGRES();
  std::string url = server()->create_database();
  constexpr int kScans = 60;
  {
    auto store = postgres_at(url);
    for (int i = 0; i < kScans; ++i) {
      ScanRecord r;
      r.id = "scan_c" + std::to_string(i);
      r.image = "reg.example/app:" + std::to_string(i);
      r.platform = "linux/amd64";
      r.created_at = "2026-03-01T10:00:00Z";
      REQUIRE(store->put_scan(r));
    }
  }
  // Four replicas, each on its own connection, claiming one or two at a time until the queue
  // is empty: SKIP LOCKED must hand every scan to exactly one of them.
  std::vector<std::vector<std::string>> taken(4);
  std::vector<std::string> errors(4);
  {
    std::vector<std::jthread> replicas;
    for (int r = 0; r < 4; ++r)
      replicas.emplace_back([&, r] {
        auto store = open_postgres_store(url);
        if (!store) {
          errors[r] = store.error().message;
          return;
        }
        for (;;) {
          auto got = (*store)->claim_queued_scans("replica-" + std::to_string(r),
                                                  std::chrono::seconds(30), 1 + r % 2, "t");
          if (!got) {
            errors[r] = got.error().message;
            return;
          }
          if (got->empty()) return;
          for (auto& s : *got) taken[r].push_back(s.id);
        }
      });
  }
  std::map<std::string, int> claims;
  for (int r = 0; r < 4; ++r) {
    CHECK_MESSAGE(errors[r].empty(), errors[r]);
    for (auto& id : taken[r]) ++claims[id];
  }
  CHECK(claims.size() == kScans);
  for (auto& claim : claims)
    CHECK_MESSAGE(claim.second == 1, claim.first << " claimed " << claim.second << " times");
  CHECK(*postgres_at(url)->count_scans(ScanStatus::running) == kScans);
}

TEST_CASE("postgresql: bulwarkd scans into it, and a restarted daemon serves what it stored") {
  REQUIRE_POSTGRES();
  LocalRegistry reg;
  std::string url = server()->create_database();
  auto pushed = push_image(reg.host(), "pg/app", "1", app_image("one"));
  std::string digest;
  {
    Daemon d(json{{"store", url}});
    json s = d.scan(reg.host() + "/pg/app:1");
    REQUIRE(s["status"] == "done");
    digest = s["manifest_digest"];
    CHECK(d.get_json("/v1/stats")["images"] == 1);
    CHECK(d.get_json("/v1/images/" + digest + "/report")["findings"].size() > 0);
    CHECK(d.get_json("/readyz")["status"] == "ready");
    // The log names the store without a password, and no SQLite file was made.
    CHECK(d.log().find("store=postgresql://bulwark@127.0.0.1:") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(d.data_dir() + "/bulwark.db"));
  }
  Daemon again(json{{"store", url}});
  CHECK(again.get_json("/v1/images/" + digest)["manifest_digest"] == digest);
  json rescan = again.scan(reg.host() + "/pg/app:1");
  CHECK(rescan["status"] == "done");
  CHECK(again.metric("bulwark_layers_analyzed_total") == 0);  // facts came from PostgreSQL
  auto tags = again.get_json("/v1/repositories/" + reg.host() + "/pg/app/tags");
  CHECK(tags["tags"].size() == 1);
}

TEST_CASE("postgresql: three daemons starting at once on an empty database migrate it once") {
  REQUIRE_POSTGRES();
  std::string url = server()->create_database();
  std::vector<std::future<std::unique_ptr<Daemon>>> starting;
  for (int i = 0; i < 3; ++i)
    starting.push_back(std::async(std::launch::async, [&] {
      return std::make_unique<Daemon>(json{{"store", url}});
    }));
  std::vector<std::unique_ptr<Daemon>> daemons;
  for (auto& f : starting) REQUIRE_NOTHROW(daemons.push_back(f.get()));
  int version = daemons[0]->get_json("/readyz")["schema_version"];
  CHECK(version >= 2);
  for (auto& d : daemons) CHECK(d->get_json("/readyz")["schema_version"] == version);
  // Each migration applied once: one row per version, none twice.
  CHECK(psql_value(url, "SELECT COUNT(*) FROM schema_migrations") == std::to_string(version));
  // What one replica stores, the others serve.
  LocalRegistry reg;
  push_image(reg.host(), "pg/shared", "1", app_image("shared"));
  json s = daemons[0]->scan(reg.host() + "/pg/shared:1");
  REQUIRE(s["status"] == "done");
  std::string digest = s["manifest_digest"];
  CHECK(daemons[1]->get_json("/v1/images/" + digest + "/report")["manifest_digest"] == digest);
  CHECK(daemons[2]->get_json("/v1/scans/" + s["id"].get<std::string>())["status"] == "done");
}

TEST_CASE("postgresql: /readyz follows the database, and the store reconnects") {
  REQUIRE_POSTGRES();
  // A server of its own: this case stops it.
  LocalPostgres pg;
  std::string url = pg.create_database();
  Daemon d(json{{"store", url}});
  CHECK(d.get_json("/readyz")["status"] == "ready");
  pg.stop();
  CHECK(d.get_json("/readyz", 503)["error"]["code"] == "unavailable");
  // Down long enough for the feed of scan ends (below) to fail to reopen twice, once a second.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  pg.start();
  bool ready = false;
  for (int i = 0; i < 50 && !ready; ++i) {
    try {
      ready = d.get_json("/readyz")["status"] == "ready";
    } catch (const std::exception&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  CHECK(ready);
  CHECK(d.get_json("/v1/stats")["images"] == 0);
  // Its feed of scan ends opens again, and an end another process writes reaches it. The outage
  // is told once, however many times the feed failed to reopen.
  for (int i = 0; i < 50 && d.log().find("following scan ends again") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::string log = d.log();
  REQUIRE_MESSAGE(log.find("following scan ends again") != std::string::npos, log);
  std::size_t told = 0;
  for (auto at = log.find("following scan ends failed"); at != std::string::npos;
       at = log.find("following scan ends failed", at + 1))
    ++told;
  CHECK(told == 1);
  auto other = postgres_at(url);
  const std::string id = "scan_" + std::string(32, 'e');
  ScanRecord scan = queued_scan(id, "reg.example/app:1", "t0");
  REQUIRE(other->put_scan(scan));
  scan.status = ScanStatus::done;
  scan.finished_at = "t1";
  scan.result = R"({"score":90,"grade":"A","verdict":"pass","reasons":[]})";
  REQUIRE(other->finish_scan(scan, 5, "other"));
  std::uint64_t notices = 0;
  for (int i = 0; i < 50 && (notices = d.metric("bulwark_scan_end_notices_total")) < 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(notices == 1);
  // The end came with the scan as it ended: a read and a wait on this replica answer from it,
  // with no read of the database, which is down now.
  pg.stop();
  json read = d.get_json("/v1/scans/" + id);
  CHECK(read["status"] == "done");
  CHECK(read["finished_at"] == "t1");
  CHECK(read["score"] == 90);
  CHECK(d.get_json("/v1/scans/" + id + "?wait=5")["status"] == "done");
}

TEST_CASE("postgresql: replicas share work: 30 images on one base, each layer fetched once") {
  REQUIRE_POSTGRES();
  LocalRegistry reg;
  std::string url = server()->create_database();
  std::vector<std::unique_ptr<Daemon>> replicas;
  for (int i = 0; i < 3; ++i) replicas.push_back(std::make_unique<Daemon>(json{{"store", url}}));
  TestLayer base = make_layer(TarBuilder()
                                  .file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
                                  .file("bin/sh", std::string(300000, 's'), 0755)
                                  .build());
  std::vector<TestLayer> apps;
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) {
    apps.push_back(
        make_layer(TarBuilder()
                       .file("app/server-" + std::to_string(i), std::string(1000, 'a'), 0755)
                       .build()));
    TestImage img{{base, apps.back()}};
    img.config = {{"User", "1000"}};
    push_image(reg.host(), "fleet/app" + std::to_string(i), "1", img);
  }
  // Submitted at once, round-robin over the replicas: they race for the shared base.
  for (int i = 0; i < 30; ++i) {
    auto r = replicas[i % 3]->api().call(
        "POST", "/v1/scans",
        json{{"image", reg.host() + "/fleet/app" + std::to_string(i) + ":1"}}.dump());
    REQUIRE(r);
    REQUIRE(r->status == 202);
    ids.push_back(json::parse(r->body)["id"]);
  }
  // Long polls answer whichever replica runs the scan.
  for (std::size_t i = 0; i < ids.size(); ++i) {
    json s = replicas[(i + 1) % 3]->get_json("/v1/scans/" + ids[i] + "?wait=120");
    CHECK_MESSAGE(s["status"] == "done", s.dump());
  }
  CHECK(reg.blob_gets(base.digest()) == 1);
  for (auto& app : apps) CHECK(reg.blob_gets(app.digest()) == 1);
  std::uint64_t analysed = 0;
  for (auto& d : replicas) analysed += d->metric("bulwark_layers_analyzed_total");
  CHECK(analysed == 31);
  CHECK(replicas[2]->get_json("/v1/stats")["images"] == 30);
  // Each end was announced to the two replicas that did not run it (their waits woken by it).
  std::uint64_t notices = 0;
  for (int tries = 0; tries < 100 && notices < 60; ++tries) {
    if (tries) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    notices = 0;
    for (auto& d : replicas) notices += d->metric("bulwark_scan_end_notices_total");
  }
  CHECK(notices == 60);
}

TEST_CASE("postgresql: one replica runs the schedules; when it dies another takes over") {
  REQUIRE_POSTGRES();
  LocalRegistry reg;
  std::string url = server()->create_database();
  TestImage img{{make_layer(TarBuilder().file("app/x", "x", 0755).build())}};
  push_image(reg.host(), "sched/app", "1", img);
  json config = {{"store", url},
                 {"schedules", json::array({{{"registry", reg.host()},
                                             {"repositories", json::array({"sched/app"})},
                                             {"interval_minutes", 600}}})}};
  auto first = std::make_unique<Daemon>(config);
  auto leads = [](Daemon& d) {
    json s = d.get_json("/v1/schedules")["schedules"];
    return s.size() == 1 && s[0]["leader"] == true && s[0]["runs"].get<int>() >= 1;
  };
  bool led = false;
  for (int i = 0; i < 100 && !led; ++i) {
    led = leads(*first);
    if (!led) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(led);
  Daemon second(config);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  CHECK_FALSE(leads(second));  // the lease is held: the second replica waits
  first->kill();
  // The lease lapses (30 s) and the next check (every 5 s) takes it.
  bool moved = false;
  for (int i = 0; i < 600 && !moved; ++i) {
    moved = leads(second);
    if (!moved) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(moved);
  CHECK(second.log().find("scheduler leadership taken") != std::string::npos);
}

TEST_CASE("postgresql: a replica killed mid-scan has its scan finished by another") {
  REQUIRE_POSTGRES();
  // A registry that drips the layer (2 ms a byte), so that the scan is caught mid-transfer.
  std::string noise = incompressible(2500, 2463534242u);
  TestImage img{{make_layer(TarBuilder().file("app/blob", noise).build())}};
  img.config = {{"User", "1000"}};
  BuiltImage built = build_image(img);
  FaultServer reg([&](const SeenRequest& req) {
    return serve_built_image(built, req, [&](const std::string& blob) {
      return std::chrono::milliseconds(blob == img.layers[0].blob ? 2 : 0);
    });
  });
  std::string url = server()->create_database();
  auto first = std::make_unique<Daemon>(json{{"store", url}});
  Daemon second(json{{"store", url}});
  auto r =
      first->api().call("POST", "/v1/scans", json{{"image", reg.host() + "/slow/app:1"}}.dump());
  REQUIRE(r);
  REQUIRE(r->status == 202);
  std::string id = json::parse(r->body)["id"];
  bool transferring = false;
  for (int i = 0; i < 200 && !transferring; ++i) {
    json s = first->get_json("/v1/scans/" + id);
    // Fetching: the layer's request is out and its body drips for ~5 s.
    auto& layers = s["progress"]["layers"];
    transferring = s["status"] == "running" && !layers.empty() && layers[0]["state"] == "fetching";
    if (!transferring) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(transferring);
  first->kill();
  // The first replica's lease lapses (30 s); the second adopts the scan at its next check.
  json s = json::object();
  for (int i = 0; i < 4 && s.value("status", "") != "done"; ++i)
    s = second.get_json("/v1/scans/" + id + "?wait=40");
  CHECK(s["status"] == "done");
  CHECK(second.log().find("scan recovered scan=" + id) != std::string::npos);
  CHECK(
      second.get_json("/v1/images/" + s["manifest_digest"].get<std::string>() + "/report")["grade"]
          .is_string());
}

TEST_CASE("postgresql: queued scans go to whichever replica has room; cancels reach the runner") {
  REQUIRE_POSTGRES();
  // Two images whose layers drip (2 ms a byte, ~5 s a layer, so that scans overlap; 20 ms for
  // the one cancelled, ~54 s).
  auto slow_image = [](std::uint32_t seed) {
    TestImage img{{make_layer(TarBuilder().file("app/blob", incompressible(2500, seed)).build())}};
    img.config = {{"User", "1000"}};
    return img;
  };
  TestImage shared = slow_image(2463534242u), other = slow_image(88172645u);
  BuiltImage shared_built = build_image(shared), other_built = build_image(other);
  FaultServer reg([&](const SeenRequest& req) {
    bool is_other = req.target.find("/other/") != std::string::npos;
    std::string slow_blob = (is_other ? other : shared).layers[0].blob;
    return serve_built_image(
        is_other ? other_built : shared_built, req, [slow_blob, is_other](const std::string& blob) {
          return std::chrono::milliseconds(blob != slow_blob ? 0 : is_other ? 20 : 2);
        });
  });
  std::string url = server()->create_database();
  json config = {{"store", url}, {"scans", {{"max_concurrent", 1}}}};
  std::vector<std::unique_ptr<Daemon>> replicas;
  for (int i = 0; i < 3; ++i) replicas.push_back(std::make_unique<Daemon>(config));

  // Six scans, all through the first replica, which runs one at a time: the idle replicas
  // claim the rest from the database instead of leaving them queued behind it.
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    auto r = replicas[0]->api().call("POST", "/v1/scans",
                                     json{{"image", reg.host() + "/shared/app:1"}}.dump());
    REQUIRE(r);
    REQUIRE(r->status == 202);
    ids.push_back(json::parse(r->body)["id"]);
  }
  for (auto& id : ids)
    CHECK(replicas[0]->get_json("/v1/scans/" + id + "?wait=120")["status"] == "done");
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < replicas.size(); ++i) {
    auto ran = replicas[i]->metric(R"(bulwark_scans_finished_total{outcome="done"})");
    CHECK_MESSAGE(ran >= 1, "replica " << i << " ran no scan");
    total += ran;
  }
  CHECK(total == 6);  // each scan ran once
  std::size_t layer_gets = 0;
  for (auto& req : reg.requests())
    if (req.method == "GET" && req.target.ends_with(shared.layers[0].digest())) ++layer_gets;
  CHECK(layer_gets == 1);  // and the shared layer was fetched once across the three

  // A scan running on one replica, cancelled through another: the runner stops it.
  auto r = replicas[0]->api().call("POST", "/v1/scans",
                                   json{{"image", reg.host() + "/other/app:1"}}.dump());
  REQUIRE(r);
  REQUIRE(r->status == 202);
  std::string id = json::parse(r->body)["id"];
  // Whichever replica claims it first runs it (claims are made off the io thread, so the
  // submitting one has no head start): found by the replica whose gauge shows it running.
  std::size_t runner = 0;
  bool transferring = false;
  for (int i = 0; i < 200 && !transferring; ++i) {
    for (std::size_t k = 0; k < replicas.size(); ++k)
      if (replicas[k]->metric("bulwark_scans_running") == 1) runner = k;
    json s = replicas[runner]->get_json("/v1/scans/" + id);
    auto& layers = s["progress"]["layers"];
    transferring = s["status"] == "running" && !layers.empty() && layers[0]["state"] == "fetching";
    if (!transferring) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(transferring);
  REQUIRE(replicas[runner]->metric("bulwark_scans_running") == 1);  // it runs there
  auto cancelled =
      replicas[(runner + 1) % replicas.size()]->api().call("DELETE", "/v1/scans/" + id);
  REQUIRE(cancelled);
  CHECK(cancelled->status == 200);
  CHECK(json::parse(cancelled->body)["status"] == "cancelled");
  bool stopped = false;
  for (int i = 0; i < 250 && !stopped; ++i) {
    stopped = replicas[runner]->metric(R"(bulwark_scans_finished_total{outcome="cancelled"})") == 1;
    if (!stopped) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(
      stopped);  // within seconds (25 s allowed for a loaded machine), not after the ~54 s transfer
  CHECK(replicas[runner]->log().find("scan cancelled through another replica scan=" + id) !=
        std::string::npos);
  json final = replicas[(runner + 2) % replicas.size()]->get_json("/v1/scans/" + id);
  CHECK(final["status"] == "cancelled");
  CHECK(final["error"]["code"] == "cancelled");
}

TEST_CASE("postgresql: bulwarkd migrate-store copies a SQLite store into an empty database") {
  REQUIRE_POSTGRES();
  TempDir dir;
  std::string path = dir.path() + "/bulwark.db";
  {
    auto sqlite = open_sqlite_store({path});
    REQUIRE(sqlite);
    check_queries(**sqlite);
    check_layer_round_trip(**sqlite);  // layer 1 again, with path hashes
  }
  std::string url = server()->create_database(), out;
  int rc =
      run_command({BULWARKD_PATH, "migrate-store", "--from", "sqlite:" + path, "--to", url}, out);
  INFO(out);
  REQUIRE(rc == 0);
  CHECK(out.find("images: 3 rows") != std::string::npos);
  CHECK(out.find("scans: 3 rows") != std::string::npos);
  CHECK(out.find("image_summaries: 3 rows") != std::string::npos);
  CHECK(out.find("daily_results: 2 rows") != std::string::npos);
  auto pg = postgres_at(url);
  auto stats = pg->stats("rs-1");
  REQUIRE(stats);
  CHECK((*stats)["images"] == 3);
  CHECK((*stats)["layers"] == 3);
  auto layer = pg->get_layer("sha256:" + std::string(64, '1'));
  REQUIRE(layer);
  REQUIRE(*layer);
  CHECK((*layer)->facts.path_hashes.size() == 3);
  CHECK(pg->list_suppressions()->at(0).reason == "debug image");
  CHECK(pg->list_reference_images()->size() == 1);
  CHECK(pg->list_tags("reg.example", "team/app", "rs-1")->size() == 2);
  // The scans keep their order: the cursor pages as before.
  auto scans = pg->list_scans({std::nullopt, "", 10, ""});
  REQUIRE(scans);
  REQUIRE(scans->size() == 3);
  CHECK((*scans)[0].id == "scan_t3");
  CHECK(pg->list_scan_results("2026-03-01", "")->size() == 2);
  // A second copy into the same database is refused: nothing is merged or overwritten.
  CHECK(run_command({BULWARKD_PATH, "migrate-store", "--from", "sqlite:" + path, "--to", url},
                    out) == 1);
  CHECK(out.find("not empty") != std::string::npos);
}

TEST_CASE("postgresql: reference images are scanned by one replica per period") {
  REQUIRE_POSTGRES();
  LocalRegistry reg;
  push_image(reg.host(), "ref/base", "1", app_image("base"));
  std::string url = server()->create_database();
  json config = {{"store", url}, {"reference_images", json::array({reg.host() + "/ref/base:1"})}};
  Daemon first(config);
  Daemon second(config);
  std::string image = reg.host() + "/ref/base:1";
  json scans;
  for (int i = 0; i < 100; ++i) {
    scans = second.get_json("/v1/scans?image=" + image)["scans"];
    if (!scans.empty() && scans[0]["status"] == "done") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(scans.size() == 1);
  CHECK(second.log().find("reference images are scanned by another replica") != std::string::npos);
}
